package sqlitetaskstore

import (
	"context"
	"fmt"

	"github.com/rdsexport/rdsexport/internal/export"
)

// TaskCounts returns how many export tasks of all accounts are in each
// status (statuses without tasks are absent). It reads the status index.
func (s *Store) TaskCounts(ctx context.Context) (map[export.Status]int64, error) {
	rows, err := s.read.QueryContext(ctx, "SELECT status, count(*) FROM export_tasks GROUP BY status")
	if err != nil {
		return nil, fmt.Errorf("sqlitetaskstore: count tasks: %w", err)
	}
	defer rows.Close()
	counts := map[export.Status]int64{}
	for rows.Next() {
		var st string
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("sqlitetaskstore: count tasks: %w", err)
		}
		counts[export.Status(st)] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitetaskstore: count tasks: %w", err)
	}
	return counts, nil
}

// SnapshotCounts returns how many snapshots of all accounts there are of
// each kind and status (kinds and statuses without snapshots are absent).
func (s *Store) SnapshotCounts(ctx context.Context) (map[export.SnapshotKind]map[string]int64, error) {
	rows, err := s.read.QueryContext(ctx, "SELECT kind, status, count(*) FROM snapshots GROUP BY kind, status")
	if err != nil {
		return nil, fmt.Errorf("sqlitetaskstore: count snapshots: %w", err)
	}
	defer rows.Close()
	counts := map[export.SnapshotKind]map[string]int64{}
	for rows.Next() {
		var kind, st string
		var n int64
		if err := rows.Scan(&kind, &st, &n); err != nil {
			return nil, fmt.Errorf("sqlitetaskstore: count snapshots: %w", err)
		}
		k := export.SnapshotKind(kind)
		if counts[k] == nil {
			counts[k] = map[string]int64{}
		}
		counts[k][st] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitetaskstore: count snapshots: %w", err)
	}
	return counts, nil
}
