package pgsource_test

import (
	"errors"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

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
