package pgsource_test

import (
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/pgsource"
)

// TestJoin: another Source (another process in a cluster) joins one table
// of a snapshot from its share: it sees the table with the sharer's
// ranges, even after the table grew, and its ranges together return every
// row of the sharer's moment exactly once. Once the sharer closes, the
// share can no longer be joined.
func TestJoin(t *testing.T) {
	t.Parallel()
	db := newTestDB(t,
		`CREATE TABLE big AS SELECT i AS id, md5(i::text) AS s FROM generate_series(1, 30000) i`,
		`CREATE TABLE other (id int)`)
	alloc := checkedAlloc(t)
	sharer := pgsource.New(db.Admin, pgsource.Params{MinRangeBytes: 64 << 10})
	snap, err := sharer.Open(t.Context(), engine.OpenParams{ExportOnly: []string{db.Name}, Connections: 2, Alloc: alloc})
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	byTarget, _, _ := tables(t, snap)
	big := byTarget[db.Name+".public.big"]
	if big.Ranges != 4 {
		t.Fatalf("big: %d ranges, want 4", big.Ranges)
	}
	share, err := snap.(engine.Sharer).Share(big)
	if err != nil {
		t.Fatal(err)
	}
	// After the snapshot: the table doubles (a fresh plan would split it
	// differently) and loses rows.
	db.exec(t, `INSERT INTO big SELECT i, 'late' FROM generate_series(30001, 60000) i`)
	db.exec(t, `DELETE FROM big WHERE id <= 1000`)

	joiner := pgsource.New(db.Admin, pgsource.Params{MinRangeBytes: 1 << 10})
	var ids []int32
	for rng := range big.Ranges {
		joined, err := joiner.Join(t.Context(), share, engine.OpenParams{Connections: 1, Alloc: alloc})
		if err != nil {
			t.Fatal(err)
		}
		_, list, _ := tables(t, joined)
		if len(list) != 1 || list[0].Target != big.Target || list[0].Ranges != big.Ranges {
			t.Fatalf("joined tables: %+v, want only %s with %d ranges", list, big.Target, big.Ranges)
		}
		if !joined.Time().Equal(snap.Time()) {
			t.Errorf("joined time %s, sharer's %s", joined.Time(), snap.Time())
		}
		err = joined.(engine.RangeReader).ReadRange(t.Context(), list[0], 0, rng, func(rec arrow.RecordBatch) error {
			ids = append(ids, rec.Column(0).(*array.Int32).Int32Values()...)
			return nil
		}, func(int64) {})
		if err != nil {
			t.Fatalf("range %d: %v", rng, err)
		}
		if err := joined.Close(); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(ids)
	ok := len(ids) == 30000
	for i := 0; ok && i < len(ids); i++ {
		ok = ids[i] == int32(i+1)
	}
	if !ok {
		t.Errorf("%d ids, want 1..30000 once each", len(ids))
	}

	for _, bad := range []string{``, `{}`, `{"database":"x","snapshot":"1'; DROP TABLE big; --","table":"big"}`} {
		if j, err := joiner.Join(t.Context(), []byte(bad), engine.OpenParams{Connections: 1}); err == nil {
			j.Close()
			t.Errorf("Join(%q) succeeded", bad)
		}
	}
	if err := snap.Close(); err != nil {
		t.Fatal(err)
	}
	if j, err := joiner.Join(t.Context(), share, engine.OpenParams{Connections: 1}); err == nil {
		j.Close()
		t.Error("Join succeeded after the sharer closed")
	}
}
