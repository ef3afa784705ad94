package snapshotcopy_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/pgsource"
	"github.com/rdsexport/rdsexport/internal/snapshotcopy"
)

// rangesSQL has a plain table big enough to be split into ranges whose
// first range is empty (its rows are deleted; the heap keeps its size), a
// partitioned table and an empty one. Autovacuum is off
// on m so that its heap, and so its ranges, stay as they are.
const rangesSQL = `CREATE TABLE m (id bigint, name text, created timestamptz) WITH (autovacuum_enabled = false);
INSERT INTO m SELECT i, 'customer ' || (i % 5000), timestamptz '2024-01-01 00:00+00' + i * interval '17 seconds'
  FROM generate_series(1, 40000) i;
DELETE FROM m WHERE id <= 14000;
CREATE TABLE p (id int, day date) PARTITION BY RANGE (day);
CREATE TABLE p_1 PARTITION OF p FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE p_2 PARTITION OF p FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
INSERT INTO p SELECT i, date '2024-01-01' + i % 700 FROM generate_series(1, 2000) i;
CREATE TABLE e (id int);`

// rangeMinBytes splits m (about 2 MB of heap) into as many ranges as the
// snapshot allows: 2 per connection.
const rangeMinBytes = 64 << 10

// rangeRows is what one ReadRange or ReadBatch returned.
type rangeRows struct {
	rows     []string // each row's values, joined
	progress int64
	emits    int
}

func readRange(t *testing.T, snap engine.Snapshot, tb engine.Table, batch, rng int) rangeRows {
	t.Helper()
	var out rangeRows
	emit := func(rec arrow.RecordBatch) error {
		out.emits++
		if !rec.Schema().Equal(tb.Schema) {
			return fmt.Errorf("record schema %s, table schema %s", rec.Schema(), tb.Schema)
		}
		out.rows = append(out.rows, rowStrings(rec)...)
		return nil
	}
	progress := func(n int64) { out.progress += n }
	var err error
	if rng < 0 {
		err = snap.ReadBatch(t.Context(), tb, batch, emit, progress)
	} else {
		rr, ok := snap.(engine.RangeReader)
		if !ok {
			t.Fatalf("%T is not an engine.RangeReader", snap)
		}
		err = rr.ReadRange(t.Context(), tb, batch, rng, emit, progress)
	}
	if err != nil {
		t.Fatalf("read %s batch %d range %d: %v", tb.Target, batch, rng, err)
	}
	return out
}

func rowStrings(rec arrow.RecordBatch) []string {
	out := make([]string, rec.NumRows())
	for r := range out {
		vals := make([]string, rec.NumCols())
		for c, col := range rec.Columns() {
			vals[c] = col.ValueStr(r)
		}
		out[r] = strings.Join(vals, "|")
	}
	return out
}

func openTables(t *testing.T, src engine.Source, alloc memory.Allocator) (engine.Snapshot, map[string]engine.Table) {
	t.Helper()
	snap, err := src.Open(t.Context(), engine.OpenParams{Connections: 2, Alloc: alloc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = snap.Close() })
	tables, _, err := snap.Tables(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]engine.Table{}
	for _, tb := range tables {
		byName[tb.Folder] = tb
	}
	return snap, byName
}

// TestCopier_Ranges: a table the live snapshot splits into ranges is
// copied range by range; the copy reports the same Ranges and each of its
// ranges returns the rows (and progress) of the live range, so an export
// of the copy writes the part-<range> files of a live export.
func TestCopier_Ranges(t *testing.T) {
	e := newEnv(t, rangesSQL, envOpts{pg: pgsource.Params{MinRangeBytes: rangeMinBytes}, params: func(p *snapshotcopy.Params) {
		p.FileBytes = 1 // a file per slice: several files per range
	}})
	s := e.createAvailable(t, "ranges")
	copySrc := snapshotcopy.NewSource(e.blobs, s.Location)

	// Nothing changed since the copy, so the live snapshot opened now has
	// the data (and the heap, so the ranges) the copy saw.
	live, liveTables := openTables(t, e.source, e.alloc)
	cp, copyTables := openTables(t, copySrc, e.alloc)
	if len(copyTables) != len(liveTables) {
		t.Fatalf("copy tables %v, live %v", copyTables, liveTables)
	}
	m := liveTables["public.m"]
	if m.Ranges < 3 {
		t.Fatalf("live public.m has %d ranges, want at least 3", m.Ranges)
	}
	for name, lt := range liveTables {
		ct := copyTables[name]
		if ct.Ranges != lt.Ranges || ct.Batches != lt.Batches {
			t.Errorf("%s: copy Ranges %d Batches %d, live Ranges %d Batches %d", name, ct.Ranges, ct.Batches, lt.Ranges, lt.Batches)
		}
	}

	for name, lt := range liveTables {
		ct := copyTables[name]
		for b := range lt.Batches {
			var all []string
			for rng := range max(lt.Ranges, 1) {
				want := readRange(t, live, lt, b, rng)
				got := readRange(t, cp, ct, b, rng)
				if !slices.Equal(got.rows, want.rows) {
					t.Errorf("%s batch %d range %d: copy has %d rows, live %d, or they differ", name, b, rng, len(got.rows), len(want.rows))
				}
				if got.progress != want.progress {
					t.Errorf("%s batch %d range %d: progress %d, live %d", name, b, rng, got.progress, want.progress)
				}
				if len(want.rows) == 0 && got.emits != 0 {
					t.Errorf("%s batch %d range %d: empty range emitted %d batches", name, b, rng, got.emits)
				}
				all = append(all, got.rows...)
			}
			whole := readRange(t, cp, ct, b, -1)
			if !slices.Equal(whole.rows, all) {
				t.Errorf("%s batch %d: ReadBatch has %d rows, the ranges %d", name, b, len(whole.rows), len(all))
			}
			wantWhole := readRange(t, live, lt, b, -1)
			slices.Sort(all)
			slices.Sort(wantWhole.rows)
			if !slices.Equal(all, wantWhole.rows) || len(slices.Compact(all)) != len(all) {
				t.Errorf("%s batch %d: the ranges do not give every row once", name, b)
			}
		}
	}
	if first := readRange(t, live, m, 0, 0); len(first.rows) != 0 {
		t.Fatalf("fixture: first range of public.m has %d rows, want none", len(first.rows))
	}
	if n := readRange(t, cp, copyTables["public.m"], 0, -1); len(n.rows) != 26000 {
		t.Errorf("public.m: %d rows in the copy, want 26000", len(n.rows))
	}

	rr := cp.(engine.RangeReader)
	err := rr.ReadRange(t.Context(), copyTables["public.m"], 0, m.Ranges, func(arrow.RecordBatch) error { return nil }, nil)
	if !errors.Is(err, snapshotcopy.ErrUnknownTable) {
		t.Errorf("ReadRange past the last range: %v, want ErrUnknownTable", err)
	}
}

// TestSource_FormatVersion1: a copy whose manifest has the first layout
// (a file list per batch, no ranges) is still served, one range per batch.
func TestSource_FormatVersion1(t *testing.T) {
	e := newEnv(t, rangesSQL, envOpts{pg: pgsource.Params{MinRangeBytes: rangeMinBytes}})
	s := e.createAvailable(t, "v1")
	ctx := context.Background()
	key := s.Location + "/" + snapshotcopy.ManifestName
	body, err := e.blobs.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(body)
	body.Close()
	if err != nil {
		t.Fatal(err)
	}
	// Rewrite the manifest as the first layout: the files of a batch's
	// ranges in order, as one list.
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if v := m["formatVersion"]; v != float64(snapshotcopy.FormatVersion) {
		t.Fatalf("formatVersion %v", v)
	}
	m["formatVersion"] = 1
	for _, tb := range m["tables"].([]any) {
		tm := tb.(map[string]any)
		delete(tm, "ranges")
		for _, b := range tm["batches"].([]any) {
			bm := b.(map[string]any)
			files := []any{}
			for _, r := range bm["ranges"].([]any) {
				fs, _ := r.(map[string]any)["files"].([]any) // null when empty
				files = append(files, fs...)
			}
			bm["files"] = files
			delete(bm, "ranges")
		}
	}
	if data, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := e.blobs.Put(ctx, key, strings.NewReader(string(data))); err != nil {
		t.Fatal(err)
	}

	src := snapshotcopy.NewSource(e.blobs, s.Location)
	got := read(t, src, nil, e.alloc)
	want := read(t, e.source, nil, e.alloc)
	sameData(t, got, want)
	for _, tb := range got.tables {
		if tb.Ranges != 0 {
			t.Errorf("%s: Ranges %d from a version 1 manifest, want 0", tb.Target, tb.Ranges)
		}
	}
	// A version 1 batch is one range.
	snap, tables := openTables(t, src, e.alloc)
	if r := readRange(t, snap, tables["public.m"], 0, 0); len(r.rows) != 26000 {
		t.Errorf("range 0 of a version 1 batch: %d rows, want 26000", len(r.rows))
	}
}
