package parquetfile_test

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/rdsexport/rdsexport/internal/parquetfile"
)

// lineitem builds a record batch shaped like TPC-H lineitem as pgsource
// decodes it: integers as integers, numeric, char and date columns as
// PostgreSQL's output text.
func lineitem(alloc memory.Allocator, rows int) (arrow.RecordBatch, int64) {
	str := arrow.BinaryTypes.String
	i64, i32 := arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Int32
	names := []string{"l_orderkey", "l_partkey", "l_suppkey", "l_linenumber", "l_quantity",
		"l_extendedprice", "l_discount", "l_tax", "l_returnflag", "l_linestatus", "l_shipdate",
		"l_commitdate", "l_receiptdate", "l_shipinstruct", "l_shipmode", "l_comment"}
	types := []arrow.DataType{i64, i32, i32, i32, str, str, str, str, str, str, str, str, str, str, str, str}
	fields := make([]arrow.Field, len(names))
	for i := range names {
		fields[i] = arrow.Field{Name: names[i], Type: types[i], Nullable: true}
	}
	b := array.NewRecordBuilder(alloc, arrow.NewSchema(fields, nil))
	defer b.Release()
	instr := []string{"DELIVER IN PERSON", "COLLECT COD", "NONE", "TAKE BACK RETURN"}
	modes := []string{"REG AIR", "AIR", "RAIL", "SHIP", "TRUCK", "MAIL", "FOB"}
	base := time.Date(1992, 1, 2, 0, 0, 0, 0, time.UTC)
	var size int64
	for i := range rows {
		day := base.AddDate(0, 0, i%2526)
		vals := []string{
			fmt.Sprintf("%d.00", 1+i%50), fmt.Sprintf("%d.%02d", 900+(i*7919)%100000, i%100),
			fmt.Sprintf("0.%02d", i%11), fmt.Sprintf("0.%02d", i%9), "RAN"[i%3 : i%3+1], "OF"[i%2 : i%2+1],
			day.Format(time.DateOnly), day.AddDate(0, 0, 30+i%60).Format(time.DateOnly),
			day.AddDate(0, 0, 1+i%30).Format(time.DateOnly), instr[i%4], modes[i%7],
			fmt.Sprintf("%016x carefully final deposits haggle", i*2654435761)[:10+i%34],
		}
		b.Field(0).(*array.Int64Builder).Append(int64(i/4*32 + i%7))
		b.Field(1).(*array.Int32Builder).Append(int32(1 + (i*7919)%200000))
		b.Field(2).(*array.Int32Builder).Append(int32(1 + (i*104729)%10000))
		b.Field(3).(*array.Int32Builder).Append(int32(1 + i%7))
		size += 8 + 3*4
		for j, v := range vals {
			b.Field(4 + j).(*array.StringBuilder).Append(v)
			size += int64(len(v))
		}
	}
	return b.NewRecordBatch(), size
}

// BenchmarkWriter measures Arrow → GZIP Parquet for lineitem-like rows;
// SetBytes is the rows' value bytes, so MB/s is of Arrow data.
func BenchmarkWriter(b *testing.B) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(b, 0)
	rec, size := lineitem(alloc, 64<<10)
	defer rec.Release()
	cases := []struct {
		name string
		opts parquetfile.WriterParams
	}{
		{"defaults", parquetfile.WriterParams{}},
		{"gzip=codec-default", parquetfile.WriterParams{CompressionLevel: -1}},
		{"dict=1MiB", parquetfile.WriterParams{MaxDictionaryBytes: 1 << 20}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			opts := c.opts
			opts.Alloc = alloc
			b.SetBytes(size)
			b.ReportAllocs()
			var n int64
			for b.Loop() {
				cw := &countWriter{}
				w, err := parquetfile.NewWriter(cw, rec.Schema(), opts)
				if err != nil {
					b.Fatal(err)
				}
				if err := w.Write(rec); err != nil {
					b.Fatal(err)
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
				n = cw.n
			}
			// Compressed size over value bytes.
			b.ReportMetric(float64(n)/float64(size), "ratio")
		})
	}
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

var _ io.Writer = (*countWriter)(nil)
