package pgtaskstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/rdsexport/rdsexport/internal/export"
)

// TaskCounts returns how many export tasks of all accounts are in each
// status (statuses without tasks are absent). It counts every row, once
// per scrape of the metrics.
func (s *Store) TaskCounts(ctx context.Context) (map[export.Status]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT status, count(*) FROM rdsexport_export_tasks GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("pgtaskstore: count tasks: %w", err)
	}
	counts := map[export.Status]int64{}
	var st string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&st, &n}, func() error {
		counts[export.Status(st)] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pgtaskstore: count tasks: %w", err)
	}
	return counts, nil
}

// SnapshotCounts returns how many snapshots of all accounts there are of
// each kind and status (kinds and statuses without snapshots are absent).
func (s *Store) SnapshotCounts(ctx context.Context) (map[export.SnapshotKind]map[string]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT kind, status, count(*) FROM rdsexport_snapshots GROUP BY kind, status`)
	if err != nil {
		return nil, fmt.Errorf("pgtaskstore: count snapshots: %w", err)
	}
	counts := map[export.SnapshotKind]map[string]int64{}
	var kind, st string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&kind, &st, &n}, func() error {
		k := export.SnapshotKind(kind)
		if counts[k] == nil {
			counts[k] = map[string]int64{}
		}
		counts[k][st] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pgtaskstore: count snapshots: %w", err)
	}
	return counts, nil
}
