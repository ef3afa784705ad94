package exporttest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/rdsexport/rdsexport/internal/engine"
)

// SourceFixture gives SourceSuite a fresh database on one engine's server.
type SourceFixture struct {
	// New returns a Source for the server, the name of a new empty
	// database (dropped when the test ends) and a function that runs one
	// SQL statement in that database, failing the test on error.
	New func(t *testing.T) (src engine.Source, db string, exec func(sql string))
	// Ranged, when set, is New with a Source that splits a table of at
	// least 2×minBytes into ranged reads (engine.RangeReader); Analyze is
	// the statement, with %s for the table, that updates the size the
	// Source plans ranges from.
	Ranged  func(t *testing.T, minBytes int64) (src engine.Source, db string, exec func(sql string))
	Analyze string
}

// SourceSuite checks an engine.Source against the contract every engine
// shares, with SQL common to PostgreSQL and MySQL: INT and VARCHAR map to
// Int32 and String, NULLs survive, empty tables emit nothing, a snapshot
// ignores writes committed after Open (also with two readers at once),
// the ranges of a ranged table read at once return each row of the
// snapshot exactly once, and a cancelled read returns promptly with the
// context's error. Every
// case reads with a checked allocator that must end empty. The cases run
// one after the other (the cancellation case fills a large table).
func SourceSuite(t *testing.T, f SourceFixture) {
	t.Run("NullsAndValues", func(t *testing.T) {
		src, db, exec := f.New(t)
		exec("CREATE TABLE t (id INT, s VARCHAR(20))")
		exec("INSERT INTO t VALUES (1, 'a'), (2, NULL), (NULL, 'c'), (-2147483648, ''), (2147483647, 'é😀')")
		alloc := checkedAllocator(t)
		snap := openSnapshot(t, src, db, 1, alloc)
		tb := findTable(t, snap, "t")
		want := arrow.NewSchema([]arrow.Field{
			{Name: "id", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
			{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		}, nil)
		if !tb.Schema.Equal(want) {
			t.Errorf("schema %v, want %v", tb.Schema, want)
		}
		if tb.Batches != 1 || tb.Database != db {
			t.Errorf("table %+v", tb)
		}
		got := readAll(t, snap, tb)
		wantRows := []string{"-2147483648,", "1,a", "2,<nil>", "2147483647,é😀", "<nil>,c"}
		if !slices.Equal(got, wantRows) {
			t.Errorf("rows %q, want %q", got, wantRows)
		}
	})

	t.Run("Empty", func(t *testing.T) {
		src, db, exec := f.New(t)
		exec("CREATE TABLE e (id INT, s VARCHAR(20))")
		alloc := checkedAllocator(t)
		snap := openSnapshot(t, src, db, 1, alloc)
		tb := findTable(t, snap, "e")
		calls := 0
		err := snap.ReadBatch(t.Context(), tb, 0, func(arrow.RecordBatch) error { calls++; return nil }, nil)
		if err != nil || calls != 0 {
			t.Errorf("ReadBatch: %v, %d record batches", err, calls)
		}
	})

	t.Run("Consistency", func(t *testing.T) {
		src, db, exec := f.New(t)
		exec("CREATE TABLE a (id INT, s VARCHAR(20))")
		exec("CREATE TABLE b (id INT, s VARCHAR(20))")
		exec("INSERT INTO a VALUES (1, 'old'), (2, 'old')")
		exec("INSERT INTO b VALUES (1, 'old')")
		alloc := checkedAllocator(t)
		snap := openSnapshot(t, src, db, 2, alloc)
		ta, tb := findTable(t, snap, "a"), findTable(t, snap, "b")
		exec("INSERT INTO a VALUES (3, 'new')")
		exec("UPDATE a SET s = 'new' WHERE id = 1")
		exec("DELETE FROM b")
		exec("INSERT INTO b VALUES (2, 'new')")
		var (
			wg   sync.WaitGroup
			rows [2][]string
		)
		for i, tbl := range []engine.Table{ta, tb} {
			wg.Go(func() { rows[i] = readAll(t, snap, tbl) })
		}
		wg.Wait()
		if got := fmt.Sprint(rows); got != "[[1,old 2,old] [1,old]]" {
			t.Errorf("rows %s, want the state at Open", got)
		}
	})

	t.Run("Ranges", func(t *testing.T) {
		if f.Ranged == nil {
			t.Skip("the source has no ranged reads")
		}
		src, db, exec := f.Ranged(t, 64<<10)
		exec("CREATE TABLE d (n INT)")
		exec("INSERT INTO d VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)")
		exec("CREATE TABLE r (id INT PRIMARY KEY, s VARCHAR(20))")
		// 10,000 rows with gaps and negative keys, a few hundred KB.
		exec("INSERT INTO r SELECT 3 * (a.n + 10 * b.n + 100 * c.n + 1000 * d4.n) - 5000, 'old' " +
			"FROM d a CROSS JOIN d b CROSS JOIN d c CROSS JOIN d d4")
		exec(fmt.Sprintf(f.Analyze, "r"))
		alloc := checkedAllocator(t)
		snap := openSnapshot(t, src, db, 2, alloc)
		tb := findTable(t, snap, "r")
		rr, ok := snap.(engine.RangeReader)
		if !ok || tb.Ranges < 2 {
			t.Fatalf("table r: %d ranges, RangeReader %v; want a ranged table", tb.Ranges, ok)
		}
		exec("INSERT INTO r VALUES (100000, 'new'), (-100000, 'new')")
		exec("UPDATE r SET s = 'new' WHERE id = -5000 OR id = 24997")
		exec("DELETE FROM r WHERE id = 1")
		ranges := make([][]string, tb.Ranges)
		var wg sync.WaitGroup
		for rng := range tb.Ranges {
			wg.Go(func() {
				err := rr.ReadRange(t.Context(), tb, 0, rng, func(rec arrow.RecordBatch) error {
					ids := rec.Column(0).(*array.Int32)
					ss := rec.Column(1).(*array.String)
					for i := range int(rec.NumRows()) {
						ranges[rng] = append(ranges[rng], fmt.Sprintf("%d,%s", ids.Value(i), ss.Value(i)))
					}
					return nil
				}, nil)
				if err != nil {
					t.Errorf("ReadRange %d: %v", rng, err)
				}
			})
		}
		wg.Wait()
		var got []string
		for _, r := range ranges {
			got = append(got, r...)
		}
		slices.Sort(got)
		var want []string
		for i := range 10_000 {
			want = append(want, fmt.Sprintf("%d,old", 3*i-5000))
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("ranges returned %d rows (%v per range), want the 10,000 rows of the snapshot once each", len(got), lens(ranges))
		}
		if err := rr.ReadRange(t.Context(), tb, 0, tb.Ranges, func(arrow.RecordBatch) error { return nil }, nil); err == nil {
			t.Errorf("ReadRange %d of %d ranges: no error", tb.Ranges, tb.Ranges)
		}
	})

	t.Run("Cancel", func(t *testing.T) {
		src, db, exec := f.New(t)
		exec("CREATE TABLE d (n INT)")
		exec("INSERT INTO d VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)")
		exec("CREATE TABLE big (id INT, s VARCHAR(20))")
		// 100,000 rows: more than one record batch of any source.
		exec("INSERT INTO big SELECT a.n + 10 * b.n + 100 * c.n + 1000 * d4.n + 10000 * e.n, 'row' " +
			"FROM d a CROSS JOIN d b CROSS JOIN d c CROSS JOIN d d4 CROSS JOIN d e")
		alloc := checkedAllocator(t)
		snap := openSnapshot(t, src, db, 1, alloc)
		tb := findTable(t, snap, "big")
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var (
			rows       int64
			canceledAt time.Time
		)
		err := snap.ReadBatch(ctx, tb, 0, func(rec arrow.RecordBatch) error {
			rows += rec.NumRows()
			if canceledAt.IsZero() {
				cancel()
				canceledAt = time.Now()
			}
			return nil
		}, nil)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("ReadBatch: %v, want context.Canceled", err)
		}
		if d := time.Since(canceledAt); d > time.Second {
			t.Errorf("ReadBatch returned %v after the cancel", d)
		}
		if rows >= 100_000 {
			t.Errorf("read all %d rows despite the cancel", rows)
		}
	})
}

func lens(s [][]string) []int {
	var n []int
	for _, r := range s {
		n = append(n, len(r))
	}
	return n
}

func checkedAllocator(t *testing.T) *memory.CheckedAllocator {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { alloc.AssertSize(t, 0) })
	return alloc
}

// openSnapshot opens a snapshot of database db only; it is closed when
// the test ends (before the allocator is checked).
func openSnapshot(t *testing.T, src engine.Source, db string, conns int, alloc memory.Allocator) engine.Snapshot {
	t.Helper()
	snap, err := src.Open(t.Context(), engine.OpenParams{ExportOnly: []string{db}, Connections: conns, Alloc: alloc})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = snap.Close() })
	return snap
}

// findTable returns the listed table whose Target ends in "."+name.
func findTable(t *testing.T, snap engine.Snapshot, name string) engine.Table {
	t.Helper()
	tables, _, err := snap.Tables(t.Context())
	if err != nil {
		t.Fatalf("Tables: %v", err)
	}
	for _, tb := range tables {
		if strings.HasSuffix(tb.Target, "."+name) {
			return tb
		}
	}
	t.Fatalf("table %s not listed", name)
	return engine.Table{}
}

// readAll reads every batch of tb and returns its rows of an INT and a
// VARCHAR column as sorted "id,s" strings.
func readAll(t *testing.T, snap engine.Snapshot, tb engine.Table) []string {
	t.Helper()
	var rows []string
	for b := range tb.Batches {
		err := snap.ReadBatch(t.Context(), tb, b, func(rec arrow.RecordBatch) error {
			if !rec.Schema().Equal(tb.Schema) {
				t.Errorf("record schema %v, want %v", rec.Schema(), tb.Schema)
			}
			ids, ok1 := rec.Column(0).(*array.Int32)
			ss, ok2 := rec.Column(1).(*array.String)
			if !ok1 || !ok2 {
				return fmt.Errorf("columns %T, %T", rec.Column(0), rec.Column(1))
			}
			for i := range int(rec.NumRows()) {
				var id, s any
				if ids.IsValid(i) {
					id = ids.Value(i)
				}
				if ss.IsValid(i) {
					s = ss.Value(i)
				}
				rows = append(rows, fmt.Sprintf("%v,%v", id, s))
			}
			return nil
		}, nil)
		if err != nil {
			t.Errorf("ReadBatch %s/%d: %v", tb.Target, b, err)
		}
	}
	slices.Sort(rows)
	return rows
}
