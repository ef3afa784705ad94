package pgsource_test

import (
	"fmt"
	"testing"

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
