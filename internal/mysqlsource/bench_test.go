package mysqlsource_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"golang.org/x/sync/errgroup"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/mysqlsource"
)

// BenchmarkReadBatch measures text protocol rows → Arrow for a table of
// mixed columns; SetBytes is the row data read, so MB/s is of source data.
func BenchmarkReadBatch(b *testing.B) {
	db := newTestDB(b,
		"CREATE TABLE seq (n INT PRIMARY KEY)",
		"INSERT INTO seq WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 1000) SELECT n FROM r",
	)
	for _, rows := range []int{10_000, 100_000} {
		table := fmt.Sprintf("mixed_%d", rows)
		db.exec(b, fmt.Sprintf(`CREATE TABLE %s (id INT, big BIGINT, ubig BIGINT UNSIGNED, small SMALLINT, f DOUBLE, r FLOAT,
			name VARCHAR(40), note TEXT, amount DECIMAL(12,2), wide DECIMAL(30,4), at DATETIME(6), ts TIMESTAMP NULL, d DATE, raw VARBINARY(16))`, table))
		db.exec(b, fmt.Sprintf(`INSERT INTO %s SELECT i, i * 1000003, i * 7, i %% 30000, i / 7.0, i / 3.0, MD5(i),
			IF(i %% 10 = 0, NULL, CONCAT('note ', i)), i * 1.25, i * 12345.6789, '2024-01-01' + INTERVAL i SECOND,
			'2024-01-01' + INTERVAL i MINUTE, '2024-01-01' + INTERVAL i %% 1000 DAY, UNHEX(MD5(i))
			FROM (SELECT (x.n - 1) * 1000 + y.n AS i FROM seq x CROSS JOIN seq y WHERE x.n <= %d) g`, table, rows/1000))
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
			snap := open(b, db, 1, alloc)
			byTarget, _, _ := tables(b, snap)
			tb := byTarget[db.Name+"."+table]
			var size int64
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				size = 0
				err := snap.ReadBatch(b.Context(), tb, 0, func(arrow.RecordBatch) error { return nil },
					func(n int64) { size += n })
				if err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(size)
			b.StopTimer()
			_ = snap.Close()
			alloc.AssertSize(b, 0)
		})
	}
}

// BenchmarkReadRange reads a table of 100,000 mixed rows with an INT
// primary key through two readers: in one ReadBatch, and in four ranges
// read at once (two per reader, as Tables plans them).
func BenchmarkReadRange(b *testing.B) {
	db := newTestDB(b,
		"CREATE TABLE seq (n INT PRIMARY KEY)",
		"INSERT INTO seq WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 1000) SELECT n FROM r",
		`CREATE TABLE mixed (id INT PRIMARY KEY, big BIGINT, f DOUBLE, name VARCHAR(40), note TEXT, amount DECIMAL(12,2),
			at DATETIME(6), d DATE)`,
		`INSERT INTO mixed SELECT i, i * 1000003, i / 7.0, MD5(i), IF(i % 10 = 0, NULL, CONCAT('note ', i)), i * 1.25,
			'2024-01-01' + INTERVAL i SECOND, '2024-01-01' + INTERVAL i % 1000 DAY
			FROM (SELECT (x.n - 1) * 1000 + y.n AS i FROM seq x CROSS JOIN seq y WHERE x.n <= 100) g`,
		"ANALYZE TABLE mixed",
	)
	for _, ranged := range []bool{false, true} {
		b.Run(fmt.Sprintf("ranged=%v", ranged), func(b *testing.B) {
			alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
			snap := openWith(b, db, mysqlsource.Params{MinRangeBytes: 1 << 20}, 2, alloc)
			byTarget, _, _ := tables(b, snap)
			tb := byTarget[db.Name+".mixed"]
			if tb.Ranges != 4 {
				b.Fatalf("%d ranges (%d bytes), want 4", tb.Ranges, tb.EstimatedBytes)
			}
			read := snap.(engine.RangeReader).ReadRange
			if !ranged {
				tb.Ranges = 1
				read = func(ctx context.Context, tb engine.Table, batch, _ int, emit func(arrow.RecordBatch) error, progress func(int64)) error {
					return snap.ReadBatch(ctx, tb, batch, emit, progress)
				}
			}
			var size atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				size.Store(0)
				var g errgroup.Group
				for rng := range tb.Ranges {
					g.Go(func() error {
						return read(b.Context(), tb, 0, rng, func(arrow.RecordBatch) error { return nil },
							func(n int64) { size.Add(n) })
					})
				}
				if err := g.Wait(); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(size.Load())
			b.StopTimer()
			_ = snap.Close()
			alloc.AssertSize(b, 0)
		})
	}
}
