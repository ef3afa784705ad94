package pgsource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/rdsexport/rdsexport/internal/engine"
)

var (
	_ engine.Sharer = (*snapshot)(nil)
	_ engine.Joiner = (*Source)(nil)
)

// share is what another process needs to read one table of a snapshot at
// its moment: the database's exported snapshot, which the coordinator's
// transaction keeps alive, and the table's ranges as planned here (the
// heap may have grown since, so a new plan could split it differently).
type share struct {
	Database string    `json:"database"`
	Snapshot string    `json:"snapshot"`
	Schema   string    `json:"schema"`
	Table    string    `json:"table"`
	Bounds   []int64   `json:"bounds"`
	At       time.Time `json:"at"`
}

// snapshotID matches what pg_export_snapshot returns ("00000003-0000001B-1").
var snapshotID = regexp.MustCompile(`^[0-9A-F]+(-[0-9A-F]+){1,2}$`)

// Share returns the share of t, one of the tables Tables returned.
func (s *snapshot) Share(t engine.Table) ([]byte, error) {
	s.mu.Lock()
	plan := s.plans[t.Target]
	s.mu.Unlock()
	if plan == nil {
		return nil, fmt.Errorf("share %s: %w", t.Target, ErrUnknownTable)
	}
	db := s.byName[plan.db]
	return json.Marshal(share{Database: db.name, Snapshot: db.snapshotID, Schema: plan.rel[0], Table: plan.rel[1],
		Bounds: plan.bounds, At: s.at})
}

// Join opens the snapshot of another process's Share: one connection to
// the shared table's database imports its exported snapshot (SET
// TRANSACTION SNAPSHOT), so Tables lists that table, with the sharer's
// ranges, as the sharer saw it, and reads see the sharer's moment. The
// sharer's snapshot must still be open: once its transaction ends, Join
// fails (the server no longer knows the snapshot).
//
// Errors: a share that does not parse, connection and server errors
// (without the password), ctx's error.
func (s *Source) Join(ctx context.Context, b []byte, p engine.OpenParams) (_ engine.Snapshot, err error) {
	var sh share
	if err := json.Unmarshal(b, &sh); err != nil {
		return nil, fmt.Errorf("join snapshot: %w", err)
	}
	if !snapshotID.MatchString(sh.Snapshot) || sh.Database == "" || sh.Table == "" {
		return nil, errors.New("join snapshot: not a snapshot share")
	}
	snap := &snapshot{
		src:        s,
		alloc:      p.Alloc,
		maxReaders: max(p.Connections, 1),
		at:         sh.At,
		byName:     make(map[string]*database),
		plans:      make(map[string]*tablePlan),
	}
	if snap.alloc == nil {
		snap.alloc = memory.DefaultAllocator
	}
	snap.readers = make(chan struct{}, snap.maxReaders)
	defer func() {
		if err != nil {
			_ = snap.Close()
		}
	}()
	rel := [2]string{sh.Schema, sh.Table}
	db := &database{
		name:       sh.Database,
		sel:        &selection{db: sh.Database, tables: map[[2]string]bool{rel: true}},
		snapshotID: sh.Snapshot,
		bounds:     map[[2]string][]int64{rel: sh.Bounds},
	}
	if db.coord, err = snap.openReader(ctx, db); err != nil {
		return nil, err
	}
	// As on the sharer's coordinator: catalog queries only, no parallel plans.
	if err := db.coord.PgConn().Exec(ctx, "SET LOCAL max_parallel_workers_per_gather = 0").Close(); err != nil {
		closeConn(db.coord)
		return nil, fmt.Errorf("join snapshot of database %s: %w", db.name, s.redact(err))
	}
	snap.dbs = append(snap.dbs, db)
	snap.byName[db.name] = db
	return snap, nil
}
