package engine_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/exporttest"
	"github.com/rdsexport/rdsexport/internal/pgsource"
)

// BenchmarkExport measures a whole export of one PostgreSQL table into the
// embedded S3 on httptest: snapshot, COPY, Arrow, GZIP Parquet, upload,
// manifests. SetBytes is the COPY text size (ExtractedBytes), so MB/s is of
// source data. Small tables keep a -benchtime=1x pass fast; scripts/bench.sh
// measures large ones against psql COPY.
func BenchmarkExport(b *testing.B) {
	for _, rows := range []int{20_000, 100_000} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			db := exporttest.NewPostgresDB(b, fmt.Sprintf(`CREATE TABLE t AS SELECT i::bigint AS id, i %% 1000 AS qty,
				i * 0.25 AS price, md5(i::text) || ' some text' AS note, date '2020-01-01' + i %% 2000 AS day
				FROM generate_series(1, %d) i`, rows))
			bn := setup(b, func(p *engine.Params) { p.Connections = 2 })
			arn := "arn:aws:rds:us-east-1:" + account + ":cluster:bench"
			// Small ranges so that the parallel ranged reads are measured.
			bn.sources[arn] = pgsource.New(db.URL, pgsource.Params{MinRangeBytes: 1 << 20})
			bn.start(b)
			var bytes int64
			n := 0
			b.ReportAllocs()
			for b.Loop() {
				n++
				id := fmt.Sprintf("bench-%d", n)
				bn.create(b, id, arn, db.Name)
				bytes = bn.wait(b, id, 5*time.Minute, export.StatusComplete).ExtractedBytes
			}
			b.SetBytes(bytes)
		})
	}
}
