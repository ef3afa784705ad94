package pgsource

import (
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// BenchmarkDecode measures the COPY text decoder alone, one Write per row
// as PostgreSQL sends them.
func BenchmarkDecode(b *testing.B) {
	fields := []arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "big", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "ok", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "note", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "at", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "raw", Type: arrow.BinaryTypes.Binary, Nullable: true},
	}
	kinds := []colKind{kindInt32, kindInt64, kindFloat64, kindBool, kindString, kindString, kindString, kindBinary}
	schema := arrow.NewSchema(fields, nil)
	var lines [][]byte
	size := 0
	for i := range 100_000 {
		note := fmt.Sprintf(`note %d\twith tab`, i)
		if i%10 == 0 {
			note = `\N`
		}
		l := fmt.Appendf(nil, "%d\t%d\t%v\t%c\t%032x\t%s\t2024-01-01 00:00:%02d+00\t\\\\x%032x\n",
			i, int64(i)*1000003, float64(i)/7, "tf"[i%2], i*7919, note, i%60, i)
		lines = append(lines, l)
		size += len(l)
	}
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		d := newDecoder(alloc, schema, kinds, func(arrow.RecordBatch) error { return nil }, nil)
		for _, l := range lines {
			if _, err := d.Write(l); err != nil {
				b.Fatal(err)
			}
		}
		if err := d.finish(); err != nil {
			b.Fatal(err)
		}
		d.release()
	}
	alloc.AssertSize(b, 0)
}
