package mysqlsource_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
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

// BenchmarkReadLineitem reads 100,000 rows of TPC-H lineitem's columns
// (the table of scripts/bench.sh target 2) in one ReadBatch. cpu-ns/row is
// this process's CPU time (user + system), which the server's work on the
// same machine does not count in; ns/row is wall time and does.
func BenchmarkReadLineitem(b *testing.B) {
	const rows = 100_000
	db := newTestDB(b,
		"CREATE TABLE seq (n INT PRIMARY KEY)",
		"INSERT INTO seq WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 1000) SELECT n FROM r",
		`CREATE TABLE lineitem (
			l_orderkey BIGINT NOT NULL, l_partkey INT NOT NULL, l_suppkey INT NOT NULL,
			l_linenumber INT NOT NULL, l_quantity DECIMAL(15,2) NOT NULL,
			l_extendedprice DECIMAL(15,2) NOT NULL, l_discount DECIMAL(15,2) NOT NULL,
			l_tax DECIMAL(15,2) NOT NULL, l_returnflag CHAR(1) NOT NULL, l_linestatus CHAR(1) NOT NULL,
			l_shipdate DATE NOT NULL, l_commitdate DATE NOT NULL, l_receiptdate DATE NOT NULL,
			l_shipinstruct CHAR(25) NOT NULL, l_shipmode CHAR(10) NOT NULL, l_comment VARCHAR(44) NOT NULL,
			PRIMARY KEY (l_orderkey, l_linenumber))`,
		fmt.Sprintf(`INSERT INTO lineitem SELECT
			(seq DIV 4) * 32 + seq %% 7, 1 + (seq * 7919) %% 200000, 1 + (seq * 104729) %% 10000, 1 + seq %% 7,
			1 + seq %% 50, CAST((1 + seq %% 50) * (900 + (seq * 7919) %% 100000 / 100.0) AS DECIMAL(15,2)),
			(seq %% 11) / 100.0, (seq %% 9) / 100.0,
			ELT(1 + seq %% 3, 'R', 'A', 'N'), ELT(1 + seq %% 2, 'O', 'F'),
			d, d + INTERVAL (30 + seq %% 60) DAY, d + INTERVAL (1 + seq %% 30) DAY,
			ELT(1 + seq %% 4, 'DELIVER IN PERSON', 'COLLECT COD', 'NONE', 'TAKE BACK RETURN'),
			ELT(1 + seq %% 7, 'REG AIR', 'AIR', 'RAIL', 'SHIP', 'TRUCK', 'MAIL', 'FOB'),
			LEFT(CONCAT(MD5(seq), ' carefully final deposits'), 10 + seq %% 34)
			FROM (SELECT (x.n - 1) * 1000 + y.n AS seq, DATE '1992-01-02' + INTERVAL (((x.n - 1) * 1000 + y.n) %% 2526) DAY AS d
				FROM seq x CROSS JOIN seq y WHERE x.n <= %d) g`, rows/1000),
	)
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	snap := open(b, db, 1, alloc)
	byTarget, _, _ := tables(b, snap)
	tb := byTarget[db.Name+".lineitem"]
	var size, n int64
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		size, n = 0, 0
		err := snap.ReadBatch(b.Context(), tb, 0, func(rec arrow.RecordBatch) error { n += rec.NumRows(); return nil },
			func(m int64) { size += m })
		if err != nil {
			b.Fatal(err)
		}
	}
	cpu := cpuTime() - cpu0
	if n != rows {
		b.Fatalf("%d rows", n)
	}
	b.SetBytes(size)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/rows, "ns/row")
	b.ReportMetric(float64(cpu)/float64(b.N)/rows, "cpu-ns/row")
	b.StopTimer()
	_ = snap.Close()
	alloc.AssertSize(b, 0)
}

// cpuTime is the process's user and system CPU time in ns.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
