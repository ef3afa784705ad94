package mysqlsource_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/mysqlsource"
)

// rangeOpts makes a table of a few hundred KB big enough for ranges.
var rangeOpts = mysqlsource.Params{MinRangeBytes: 32 << 10}

// seqSQL fills table seq with 1..1000 (recursion stops at depth 1000 by
// default: cte_max_recursion_depth).
var seqSQL = []string{
	"CREATE TABLE seq (n INT PRIMARY KEY)",
	"INSERT INTO seq WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 1000) SELECT n FROM r",
}

// TestSnapshot_Ranges_Planned: only a big plain InnoDB table whose primary
// key starts with an integer column with int64 values is split, into at
// most two ranges per reader.
func TestSnapshot_Ranges_Planned(t *testing.T) {
	t.Parallel()
	pad := "REPEAT('x', 200)"
	db := newTestDB(t, append(seqSQL,
		"CREATE TABLE i32 (id INT PRIMARY KEY, s VARCHAR(300))",
		"INSERT INTO i32 SELECT n, "+pad+" FROM seq",
		"CREATE TABLE u32 (id INT UNSIGNED PRIMARY KEY, s VARCHAR(300))",
		"INSERT INTO u32 SELECT 4294967295 - n * 1000, "+pad+" FROM seq",
		"CREATE TABLE i8 (id TINYINT PRIMARY KEY, s VARCHAR(1000))",
		"INSERT INTO i8 SELECT n - 129, REPEAT('x', 800) FROM seq WHERE n <= 256",
		"CREATE TABLE u64 (id BIGINT UNSIGNED PRIMARY KEY, s VARCHAR(300))",
		"INSERT INTO u64 SELECT n, "+pad+" FROM seq",
		"CREATE TABLE comp (a INT, b INT, s VARCHAR(300), PRIMARY KEY (a, b))",
		"INSERT INTO comp SELECT n DIV 4, n, "+pad+" FROM seq",
		"CREATE TABLE vcomp (a VARCHAR(20), b INT, s VARCHAR(300), PRIMARY KEY (a, b))",
		"INSERT INTO vcomp SELECT n, n, "+pad+" FROM seq",
		"CREATE TABLE vpk (id VARCHAR(20) PRIMARY KEY, s VARCHAR(300))",
		"INSERT INTO vpk SELECT n, "+pad+" FROM seq",
		"CREATE TABLE nopk (id INT NOT NULL, s VARCHAR(300))",
		"INSERT INTO nopk SELECT n, "+pad+" FROM seq",
		"CREATE TABLE part (id INT PRIMARY KEY, s VARCHAR(300)) PARTITION BY HASH (id) PARTITIONS 2",
		"INSERT INTO part SELECT n, "+pad+" FROM seq",
		"CREATE TABLE myisam (id INT PRIMARY KEY, s VARCHAR(300)) ENGINE=MyISAM",
		"INSERT INTO myisam SELECT n, "+pad+" FROM seq",
		"CREATE TABLE small (id INT PRIMARY KEY, s VARCHAR(300))",
		"INSERT INTO small SELECT n, "+pad+" FROM seq WHERE n <= 10",
		"CREATE TABLE emptied (id INT PRIMARY KEY, s VARCHAR(300))",
		"INSERT INTO emptied SELECT n, "+pad+" FROM seq",
		"ANALYZE TABLE i32, u32, i8, u64, comp, vcomp, vpk, nopk, part, myisam, small, emptied",
		// InnoDB keeps the pages (and DATA_LENGTH) of deleted rows.
		"DELETE FROM emptied",
	)...)
	alloc := checkedAlloc(t)
	snap := openWith(t, db, rangeOpts, 2, alloc)
	byTarget, _, _ := tables(t, snap)
	for name, want := range map[string]int{
		"i32": 4, "u32": 4, "i8": 4, "comp": 4,
		"u64": 1, "vcomp": 1, "vpk": 1, "nopk": 1, "part": 1, "myisam": 1, "small": 1, "emptied": 1, "seq": 1,
	} {
		tb := byTarget[db.Name+"."+name]
		if tb.Ranges != want {
			t.Errorf("%s: %d ranges (%d bytes), want %d", name, tb.Ranges, tb.EstimatedBytes, want)
		}
	}
	// Every planned range holds rows of the dense keys.
	for _, name := range []string{"i32", "u32", "i8", "comp"} {
		tb := byTarget[db.Name+"."+name]
		total := 0
		for rng := range tb.Ranges {
			rows, err := readRange(t, snap, tb, rng)
			if err != nil || len(rows) == 0 {
				t.Errorf("%s range %d: %d rows, %v", name, rng, len(rows), err)
			}
			total += len(rows)
		}
		if want := len(readRows(t, snap, tb, 0)); total != want {
			t.Errorf("%s: %d rows in ranges, %d in the table", name, total, want)
		}
	}

	// One reader: two ranges. The default MinRangeBytes: none.
	byTarget, _, _ = tables(t, openWith(t, db, rangeOpts, 1, alloc))
	if n := byTarget[db.Name+".i32"].Ranges; n != 2 {
		t.Errorf("one reader: %d ranges, want 2", n)
	}
	byTarget, _, _ = tables(t, openWith(t, db, mysqlsource.Params{}, 2, alloc))
	if n := byTarget[db.Name+".i32"].Ranges; n != 1 {
		t.Errorf("default MinRangeBytes: %d ranges, want 1", n)
	}
}

// TestSnapshot_ReadRange: the ranges of a table, read at once, return the
// rows of the snapshot exactly once each, like ReadBatch: keys at both
// int64 limits, negative keys and gaps, while rows are inserted, deleted
// and moved between ranges after Open (before the ranges are planned).
func TestSnapshot_ReadRange(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, append(seqSQL,
		"CREATE TABLE big (id BIGINT PRIMARY KEY, s VARCHAR(300))",
		"INSERT INTO big SELECT n * 7919 - 4000000, REPEAT('x', 200) FROM seq",
		"INSERT INTO big VALUES (-9223372036854775808, 'min'), (-9223372036854775807, 'min+1'), "+
			"(9223372036854775806, 'max-1'), (9223372036854775807, 'max')",
		"CREATE TABLE small (id INT PRIMARY KEY)",
		"INSERT INTO small VALUES (1), (2)",
		"ANALYZE TABLE big",
	)...)
	want := make(map[string]bool)
	rows, err := db.SQL.Query("SELECT id FROM big")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		want[fmt.Sprint(id)] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}

	alloc := checkedAlloc(t)
	snap := openWith(t, db, rangeOpts, 2, alloc)
	db.exec(t, "INSERT INTO big VALUES (1, 'late'), (5000000000000000000, 'late')")
	db.exec(t, "DELETE FROM big WHERE id IN (-9223372036854775808, 9223372036854775807)")
	db.exec(t, "UPDATE big SET id = 3 WHERE id = -4000000 + 7919")
	byTarget, _, _ := tables(t, snap)
	big := byTarget[db.Name+".big"]
	if big.Ranges != 4 {
		t.Fatalf("big: %d ranges (%d bytes), want 4", big.Ranges, big.EstimatedBytes)
	}

	var (
		mu     sync.Mutex
		ids    []string
		counts = make([]int, big.Ranges)
		wg     sync.WaitGroup
	)
	for rng := range big.Ranges {
		wg.Go(func() {
			rows, err := readRange(t, snap, big, rng)
			if err != nil {
				t.Errorf("range %d: %v", rng, err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, r := range rows {
				ids = append(ids, fmt.Sprint(r[0]))
			}
			counts[rng] = len(rows)
		})
	}
	wg.Wait()
	var full []string
	for _, r := range readRows(t, snap, big, 0) {
		full = append(full, fmt.Sprint(r[0]))
	}
	slices.Sort(ids)
	slices.Sort(full)
	if !slices.Equal(ids, full) {
		t.Errorf("ranges: %d rows, ReadBatch: %d rows; not the same rows", len(ids), len(full))
	}
	seen := make(map[string]bool)
	for _, id := range ids {
		if !want[id] || seen[id] {
			t.Errorf("id %s: not in the snapshot, or read twice", id)
		}
		seen[id] = true
	}
	if len(seen) != len(want) {
		t.Errorf("%d ids read, want %d", len(seen), len(want))
	}
	// The int64 limits fall in the first and last ranges, the rest in the
	// two middle ones (split at 0).
	if want := []int{2, 505, 495, 2}; !slices.Equal(counts, want) {
		t.Errorf("rows per range %v, want %v", counts, want)
	}

	rr := snap.(engine.RangeReader)
	discard := func(arrow.RecordBatch) error { return nil }
	for _, c := range []struct {
		tb         engine.Table
		batch, rng int
	}{
		{big, 0, big.Ranges}, {big, 0, -1}, {big, 1, 0},
		{byTarget[db.Name+".small"], 0, 1},
		{engine.Table{Target: db.Name + ".nosuch"}, 0, 0},
	} {
		if err := rr.ReadRange(t.Context(), c.tb, c.batch, c.rng, discard, nil); !errors.Is(err, mysqlsource.ErrUnknownTable) {
			t.Errorf("%s batch %d range %d: %v, want ErrUnknownTable", c.tb.Target, c.batch, c.rng, err)
		}
	}
	// A table read in one piece has one range: all of it.
	small := byTarget[db.Name+".small"]
	if rows, err := readRange(t, snap, small, 0); err != nil || len(rows) != 2 {
		t.Errorf("small range 0: %d rows, %v", len(rows), err)
	}
	_ = snap.Close()
	if err := rr.ReadRange(t.Context(), big, 0, 0, discard, nil); !errors.Is(err, mysqlsource.ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}

// TestSnapshot_ReadRange_Cancel cancels the ranged reads of 400,000 rows
// after the first record batch: every read returns promptly with the
// context's error and releases its buffers. It is not parallel: its long
// INSERT would hold up the FLUSH TABLES WITH READ LOCK of other tests.
func TestSnapshot_ReadRange_Cancel(t *testing.T) {
	db := newTestDB(t, append(seqSQL,
		"CREATE TABLE big (id INT PRIMARY KEY, s VARCHAR(40))",
		"INSERT INTO big SELECT x.n * 1000 + y.n, CONCAT('row ', x.n, '-', y.n) FROM seq x CROSS JOIN seq y WHERE x.n <= 400",
		"ANALYZE TABLE big",
	)...)
	alloc := checkedAlloc(t)
	snap := openWith(t, db, mysqlsource.Params{MinRangeBytes: 1 << 20}, 2, alloc)
	byTarget, _, _ := tables(t, snap)
	big := byTarget[db.Name+".big"]
	if big.Ranges != 4 {
		t.Fatalf("big: %d ranges (%d bytes), want 4", big.Ranges, big.EstimatedBytes)
	}
	rr := snap.(engine.RangeReader)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var (
		mu         sync.Mutex
		canceledAt time.Time
		rows       int64
		errs       = make([]error, big.Ranges)
		wg         sync.WaitGroup
	)
	for rng := range big.Ranges {
		wg.Go(func() {
			errs[rng] = rr.ReadRange(ctx, big, 0, rng, func(rec arrow.RecordBatch) error {
				mu.Lock()
				defer mu.Unlock()
				rows += rec.NumRows()
				if canceledAt.IsZero() {
					cancel()
					canceledAt = time.Now()
				}
				return nil
			}, nil)
		})
	}
	wg.Wait()
	latency := time.Since(canceledAt)
	for rng, err := range errs {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("range %d: %v, want context.Canceled", rng, err)
		}
	}
	t.Logf("cancelled after %d rows; returned %v after cancel", rows, latency)
	if latency > time.Second {
		t.Errorf("ReadRange returned %v after cancel, want < 1s", latency)
	}
	if rows >= 400_000 {
		t.Errorf("read all %d rows", rows)
	}
}
