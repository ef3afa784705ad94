package pgsource_test

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// BenchmarkReadBatch measures COPY → Arrow for a table of mixed columns;
// SetBytes is the COPY text size, so MB/s is of source data.
func BenchmarkReadBatch(b *testing.B) {
	db := newTestDB(b, `CREATE TABLE mixed (
		id int, big bigint, small smallint, f double precision, r real, ok boolean,
		name text, note varchar(100), amount numeric(12,2), at timestamptz, raw bytea, tags text[])`)
	for _, rows := range []int{10_000, 100_000} {
		table := fmt.Sprintf("mixed_%d", rows)
		db.exec(b, fmt.Sprintf(`CREATE TABLE %s AS SELECT
			i AS id, i::bigint * 1000003 AS big, (i %% 30000)::smallint AS small, i / 7.0::float8 AS f,
			(i / 3.0)::real AS r, i %% 2 = 0 AS ok, md5(i::text) AS name,
			CASE WHEN i %% 10 = 0 THEN NULL ELSE 'note ' || i || E'\twith tab' END AS note,
			(i * 1.25)::numeric(12,2) AS amount, '2024-01-01'::timestamptz + i * interval '1 second' AS at,
			decode(md5(i::text), 'hex') AS raw, ARRAY['a', i::text] AS tags
			FROM generate_series(1, %d) i`, table, rows))
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
			snap := open(b, db, 1, alloc)
			byTarget, _, _ := tables(b, snap)
			tb := byTarget[db.Name+".public."+table]
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

// lineitemSQL creates TPC-H lineitem's columns with the value shapes of
// scripts/bench.sh (deterministic functions of the row number).
func lineitemSQL(rows int) []string {
	return []string{`CREATE TABLE lineitem (
		l_orderkey bigint NOT NULL, l_partkey integer NOT NULL, l_suppkey integer NOT NULL,
		l_linenumber integer NOT NULL, l_quantity numeric(15,2) NOT NULL,
		l_extendedprice numeric(15,2) NOT NULL, l_discount numeric(15,2) NOT NULL,
		l_tax numeric(15,2) NOT NULL, l_returnflag char(1) NOT NULL, l_linestatus char(1) NOT NULL,
		l_shipdate date NOT NULL, l_commitdate date NOT NULL, l_receiptdate date NOT NULL,
		l_shipinstruct char(25) NOT NULL, l_shipmode char(10) NOT NULL, l_comment varchar(44) NOT NULL)`,
		fmt.Sprintf(`INSERT INTO lineitem SELECT
		(i / 4) * 32 + i %% 7, 1 + (i * 7919) %% 200000, 1 + (i * 104729) %% 10000, 1 + i %% 7,
		1 + i %% 50, ((1 + i %% 50) * (900 + (i * 7919) %% 100000 / 100.0))::numeric(15,2),
		(i %% 11) / 100.0, (i %% 9) / 100.0,
		(ARRAY['R','A','N'])[1 + i %% 3], (ARRAY['O','F'])[1 + i %% 2],
		d, d + (30 + i %% 60)::int, d + (1 + i %% 30)::int,
		(ARRAY['DELIVER IN PERSON','COLLECT COD','NONE','TAKE BACK RETURN'])[1 + i %% 4],
		(ARRAY['REG AIR','AIR','RAIL','SHIP','TRUCK','MAIL','FOB'])[1 + i %% 7],
		left(md5(i::text) || ' carefully final deposits', (10 + i %% 34)::int)
		FROM generate_series(1::bigint, %d) i, LATERAL (SELECT date '1992-01-02' + (i %% 2526)::int AS d) x`, rows),
		"VACUUM ANALYZE lineitem"}
}

// BenchmarkReadLineitem reads 100,000 rows of TPC-H lineitem's columns
// (the table of scripts/bench.sh target 1) in one ReadBatch. cpu-ns/row is
// this process's CPU time (user + system); backend-cpu-ns/row is that of
// the PostgreSQL backends of the test database (the COPY's, read from
// /proc), which share the machine's cores with the export; ns/row is wall
// time.
func BenchmarkReadLineitem(b *testing.B) {
	const rows = 100_000
	db := newTestDB(b, lineitemSQL(rows)...)
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	snap := open(b, db, 1, alloc)
	byTarget, _, _ := tables(b, snap)
	tb := byTarget[db.Name+".public.lineitem"]
	// A first read opens the reader connection.
	if err := snap.ReadBatch(b.Context(), tb, 0, func(arrow.RecordBatch) error { return nil }, func(int64) {}); err != nil {
		b.Fatal(err)
	}
	var pids []int
	r, err := db.Conn.Query(b.Context(), `SELECT pid FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`)
	if err != nil {
		b.Fatal(err)
	}
	for r.Next() {
		var pid int
		if err := r.Scan(&pid); err != nil {
			b.Fatal(err)
		}
		pids = append(pids, pid)
	}
	if err := r.Err(); err != nil {
		b.Fatal(err)
	}
	if len(pids) == 0 {
		b.Fatal("no backend of the snapshot found")
	}
	var size, n int64
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, back0 := cpuTime(), backendCPU(b, pids)
	for b.Loop() {
		size, n = 0, 0
		err := snap.ReadBatch(b.Context(), tb, 0, func(rec arrow.RecordBatch) error { n += rec.NumRows(); return nil },
			func(m int64) { size += m })
		if err != nil {
			b.Fatal(err)
		}
	}
	cpu, back := cpuTime()-cpu0, backendCPU(b, pids)-back0
	if n != rows {
		b.Fatalf("%d rows", n)
	}
	b.SetBytes(size)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/rows, "ns/row")
	b.ReportMetric(float64(cpu)/float64(b.N)/rows, "cpu-ns/row")
	b.ReportMetric(float64(back)/float64(b.N)/rows, "backend-cpu-ns/row")
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

// backendCPU is the user and system CPU time in ns of the processes pids
// (PostgreSQL backends on this machine), from /proc/<pid>/stat.
func backendCPU(b *testing.B, pids []int) int64 {
	var ticks int64
	for _, pid := range pids {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			b.Fatal(err)
		}
		// Fields after the command (which may hold spaces): state is
		// field 3, utime 14 and stime 15.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		for _, s := range f[11:13] {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			ticks += v
		}
	}
	return ticks * int64(time.Second) / 100 // USER_HZ
}
