package parquetfile_test

import (
	"io"
	"syscall"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/rdsexport/rdsexport/internal/parquetfile"
)

// pqarrowWrite writes rec with pqarrow and the writer properties the
// package used before parquet-go, plus extra.
func pqarrowWrite(b *testing.B, rec arrow.RecordBatch, extra ...parquet.WriterProperty) int64 {
	cw := &countWriter{}
	pqarrowWriteTo(b, cw, rec, extra...)
	return cw.n
}

func pqarrowWriteTo(b testing.TB, cw io.Writer, rec arrow.RecordBatch, extra ...parquet.WriterProperty) {
	opts := append([]parquet.WriterProperty{
		parquet.WithCompression(compress.Codecs.Gzip),
		parquet.WithCompressionLevel(1),
		parquet.WithDictionaryPageSizeLimit(64 << 10),
		parquet.WithDataPageVersion(parquet.DataPageV1),
		parquet.WithMaxRowGroupLength(1 << 17),
		parquet.WithStoreDecimalAsInteger(true),
	}, extra...)
	fw, err := pqarrow.NewFileWriter(rec.Schema(), cw, parquet.NewWriterProperties(opts...), pqarrow.DefaultWriterProps())
	if err != nil {
		b.Fatal(err)
	}
	if err := fw.WriteBuffered(rec); err != nil {
		b.Fatal(err)
	}
	if err := fw.Close(); err != nil {
		b.Fatal(err)
	}
}

// cpuTime is the process's user and system CPU time in ns: on a shared
// machine it moves less than wall time.
func cpuTime() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// pqgo writes benchRec with the package's parquet-go column writers under
// another dictionary policy (nil: the default), sample size, page size and
// level.
func pqgo(policy func(arrow.Array) bool, sample, page, level int) func(b *testing.B) int64 {
	return func(b *testing.B) int64 {
		defer parquetfile.SetDirectPages(false)()
		defer parquetfile.SetEncoding(policy, sample, page)()
		cw := &countWriter{}
		pqgoTo(b, cw, parquetfile.WriterParams{CompressionLevel: level})
		return cw.n
	}
}

// pages writes benchRec with the package's page encoder (the default)
// under another dictionary policy (nil: the default), page size and level.
func pages(policy func(arrow.Array) bool, page, level int) func(b *testing.B) int64 {
	return func(b *testing.B) int64 {
		defer parquetfile.SetEncoding(policy, 0, page)()
		cw := &countWriter{}
		pqgoTo(b, cw, parquetfile.WriterParams{CompressionLevel: level})
		return cw.n
	}
}

func pqgoTo(b testing.TB, cw io.Writer, opts parquetfile.WriterParams) {
	w, err := parquetfile.NewWriter(cw, benchRec.Schema(), opts)
	if err != nil {
		b.Fatal(err)
	}
	if err := w.Write(benchRec); err != nil {
		b.Fatal(err)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}

var benchRec arrow.RecordBatch

// BenchmarkEncoders compares encoders and encodings on the same lineitem
// batch: pqarrow (the encoder before parquet-go) with its dictionary and
// statistics variants, this package's parquet-go column writers with other
// dictionary policies, page sizes and GZIP levels, and its page encoder
// (the default). cpu-ns/row is the
// process's CPU time per row (steadier than wall time on a shared
// machine); bytes is the file size. BENCHMARKS.md has a run.
func BenchmarkEncoders(b *testing.B) {
	rec, size := lineitem(memory.NewGoAllocator(), 64<<10)
	defer rec.Release()
	benchRec = rec
	rows := float64(rec.NumRows())
	highCard := []string{"l_extendedprice", "l_comment"}
	cases := []struct {
		name  string
		write func(b *testing.B) int64
	}{
		{"pqarrow", func(b *testing.B) int64 { return pqarrowWrite(b, rec) }},
		{"parquet-go-predicted-gzip1", pqgo(nil, 0, 0, 1)},
		{"pages-predicted-gzip1", pages(nil, 0, 1)},
		{"pages-predicted-gzip1-page128k", pages(nil, 128<<10, 1)},
		{"pages-predicted-gzip1-page512k", pages(nil, 512<<10, 1)},
		{"pages-dict-none-gzip1", pages(func(a arrow.Array) bool { return false }, 0, 1)},
		{"parquet-go-predicted-gzip2", pqgo(nil, 0, 0, 2)},
		{"parquet-go-predicted-gzip3", pqgo(nil, 0, 0, 3)},
		{"parquet-go-predicted-gzip6", pqgo(nil, 0, 0, 6)},
		{"parquet-go-predicted-gzip1-page1m", pqgo(nil, 0, 1<<20, 1)},
		{"parquet-go-predicted-gzip3-page1m", pqgo(nil, 0, 1<<20, 3)},
		{"parquet-go-predicted-gzip3-page64k", pqgo(nil, 0, 64<<10, 3)},
		{"parquet-go-predicted-sample4k-gzip1", pqgo(nil, 4096, 0, 1)},
		{"parquet-go-dict-all-gzip1", pqgo(func(a arrow.Array) bool { return a.DataType().ID() != arrow.BOOL }, 0, 0, 1)},
		{"parquet-go-dict-none-gzip1", pqgo(func(a arrow.Array) bool { return false }, 0, 0, 1)},
		{"pqarrow-nodict", func(b *testing.B) int64 { return pqarrowWrite(b, rec, parquet.WithDictionaryDefault(false)) }},
		{"pqarrow-nostats", func(b *testing.B) int64 { return pqarrowWrite(b, rec, parquet.WithStats(false)) }},
		{"pqarrow-nodict-nostats", func(b *testing.B) int64 {
			return pqarrowWrite(b, rec, parquet.WithDictionaryDefault(false), parquet.WithStats(false))
		}},
		{"pqarrow-dict-predicted", func(b *testing.B) int64 {
			var o []parquet.WriterProperty
			for _, c := range highCard {
				o = append(o, parquet.WithDictionaryFor(c, false))
			}
			return pqarrowWrite(b, rec, o...)
		}},
		{"pqarrow-dict-predicted-int-nodict", func(b *testing.B) int64 {
			var o []parquet.WriterProperty
			for _, c := range append(highCard, "l_orderkey", "l_partkey", "l_suppkey") {
				o = append(o, parquet.WithDictionaryFor(c, false))
			}
			return pqarrowWrite(b, rec, o...)
		}},
		{"pqarrow-uncompressed", func(b *testing.B) int64 {
			return pqarrowWrite(b, rec, parquet.WithCompression(compress.Codecs.Uncompressed))
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(size)
			var n int64
			cpu0 := cpuTime()
			for b.Loop() {
				n = c.write(b)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/rows, "ns/row")
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/rows, "cpu-ns/row")
			b.ReportMetric(float64(n), "bytes")
		})
	}
}
