package pgsource_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rdsexport/rdsexport/internal/engine"
)

// TestReadBatch_ErrTableGone: a table dropped after the snapshot began
// cannot be read at its moment; ReadBatch says so with engine.ErrTableGone
// so that the export goes on with a warning.
func TestReadBatch_ErrTableGone(t *testing.T) {
	db := newTestDB(t, "CREATE TABLE victim (id int)", "INSERT INTO victim VALUES (1)", "CREATE TABLE kept (id int)")
	alloc := checkedAlloc(t)
	snap := open(t, db, 1, alloc)
	byTarget, _, _ := tables(t, snap)
	db.exec(t, "DROP TABLE victim")
	err := snap.ReadBatch(t.Context(), byTarget[db.Name+".public.victim"], 0, func(arrow.RecordBatch) error { return nil }, func(int64) {})
	if !errors.Is(err, engine.ErrTableGone) {
		t.Fatalf("ReadBatch of a dropped table: %v, want ErrTableGone", err)
	}
	// The snapshot still serves the other tables.
	if err := snap.ReadBatch(t.Context(), byTarget[db.Name+".public.kept"], 0, func(arrow.RecordBatch) error { return nil }, func(int64) {}); err != nil {
		t.Errorf("ReadBatch after a dropped table: %v", err)
	}
}

// TestReadBatch_StorageChanged: TRUNCATE and table rewrites are not
// MVCC-safe. Committed after the snapshot began and before the table is
// read, they would leave the snapshot an empty table; a table dropped and
// created again under its name would show none of its rows. The read
// fails instead of returning no rows.
func TestReadBatch_StorageChanged(t *testing.T) {
	for name, change := range map[string]string{
		"Truncate": "TRUNCATE victim",
		"Rewrite":  "ALTER TABLE victim ALTER COLUMN id TYPE bigint",
		"Replaced": "BEGIN; DROP TABLE victim; CREATE TABLE victim AS SELECT generate_series(1, 5) AS id; COMMIT",
	} {
		t.Run(name, func(t *testing.T) {
			db := newTestDB(t, "CREATE TABLE victim (id int)", "INSERT INTO victim SELECT generate_series(1, 1000)", "CREATE TABLE kept (id int)")
			alloc := checkedAlloc(t)
			snap := open(t, db, 2, alloc)
			byTarget, _, _ := tables(t, snap)
			db.exec(t, change)
			rows := 0
			err := snap.ReadBatch(t.Context(), byTarget[db.Name+".public.victim"], 0, func(rec arrow.RecordBatch) error {
				rows += int(rec.NumRows())
				return nil
			}, func(int64) {})
			var se *engine.SourceError
			switch {
			case name == "Replaced" && !errors.Is(err, engine.ErrTableGone):
				t.Fatalf("ReadBatch after %q: %v (%d rows), want ErrTableGone", change, err, rows)
			case name != "Replaced" && !errors.As(err, &se):
				t.Fatalf("ReadBatch after %q: %v (%d rows), want an *engine.SourceError", change, err, rows)
			}
			// The snapshot still serves the other tables.
			if err := snap.ReadBatch(t.Context(), byTarget[db.Name+".public.kept"], 0, func(arrow.RecordBatch) error { return nil }, func(int64) {}); err != nil {
				t.Errorf("ReadBatch of another table: %v", err)
			}
		})
	}
}

// TestTables_DroppedBeforeListing: a table dropped after the snapshot began
// but before the tables are listed is skipped as gone, and the others are
// listed.
func TestTables_DroppedBeforeListing(t *testing.T) {
	db := newTestDB(t, "CREATE TABLE victim (id int)", "INSERT INTO victim VALUES (1)", "CREATE TABLE kept (id int)")
	snap := open(t, db, 1, checkedAlloc(t))
	db.exec(t, "DROP TABLE victim")
	byTarget, _, w := tables(t, snap)
	if _, ok := byTarget[db.Name+".public.kept"]; !ok || len(byTarget) != 1 {
		t.Errorf("tables %v, want kept only", byTarget)
	}
	want := []engine.Skipped{{Target: db.Name + ".public.victim", Reason: engine.ReasonTableGone}}
	if !slices.Equal(w.SkippedTables, want) {
		t.Errorf("skipped %v, want %v", w.SkippedTables, want)
	}
}

// TestTables_PartitionDetached: the partitions of a table are those of the
// snapshot. One detached after the snapshot began still holds rows of the
// table at the snapshot; a table attached since is not part of it.
func TestTables_PartitionDetached(t *testing.T) {
	db := newTestDB(t,
		"CREATE TABLE p (id int) PARTITION BY RANGE (id)",
		"CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (100)",
		"CREATE TABLE p2 PARTITION OF p FOR VALUES FROM (100) TO (200)",
		"INSERT INTO p SELECT generate_series(0, 199)",
		"CREATE TABLE p3 (id int)", "INSERT INTO p3 SELECT generate_series(200, 249)")
	snap := open(t, db, 1, checkedAlloc(t))
	db.exec(t, "ALTER TABLE p DETACH PARTITION p1")
	db.exec(t, "ALTER TABLE p ATTACH PARTITION p3 FOR VALUES FROM (200) TO (300)")
	byTarget, _, _ := tables(t, snap)
	tb, ok := byTarget[db.Name+".public.p"]
	if !ok {
		t.Fatalf("tables %v, want public.p", byTarget)
	}
	rows := 0
	for b := range tb.Batches {
		rows += len(readRows(t, snap, tb, b))
	}
	if rows != 200 {
		t.Errorf("public.p: %d rows in %d batches, want the snapshot's 200", rows, tb.Batches)
	}
	if p3, ok := byTarget[db.Name+".public.p3"]; !ok || len(readRows(t, snap, p3, 0)) != 50 {
		t.Errorf("public.p3, a table at the snapshot, is not exported on its own with its 50 rows")
	}
}

// TestReadBatch_LockHeld: once a table is read, the reader keeps its lock
// until the snapshot closes, so TRUNCATE and rewrites wait for the export.
func TestReadBatch_LockHeld(t *testing.T) {
	db := newTestDB(t, "CREATE TABLE a (id int)", "INSERT INTO a VALUES (1)")
	snap := open(t, db, 2, checkedAlloc(t))
	byTarget, _, _ := tables(t, snap)
	readRows(t, snap, byTarget[db.Name+".public.a"], 0)
	_, err := db.Conn.Exec(t.Context(), "SET lock_timeout = '300ms'; TRUNCATE a")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "55P03" { // lock_not_available
		t.Fatalf("TRUNCATE of a table the export has read: %v, want a lock timeout", err)
	}
}
