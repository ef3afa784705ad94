package pgsource

import (
	"fmt"
	"syscall"
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

// BenchmarkDecodeLineitem measures the decoder alone on 100,000 rows shaped
// like TPC-H lineitem's COPY text (scripts/bench.sh target 1): 4 integer
// columns and 12 text ones (numeric, char, date, varchar), no NULLs.
func BenchmarkDecodeLineitem(b *testing.B) {
	const rows = 100_000
	kinds := []colKind{kindInt64, kindInt32, kindInt32, kindInt32}
	fields := []arrow.Field{
		{Name: "l_orderkey", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "l_partkey", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "l_suppkey", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "l_linenumber", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	}
	for _, n := range []string{"l_quantity", "l_extendedprice", "l_discount", "l_tax", "l_returnflag", "l_linestatus",
		"l_shipdate", "l_commitdate", "l_receiptdate", "l_shipinstruct", "l_shipmode", "l_comment"} {
		kinds = append(kinds, kindString)
		fields = append(fields, arrow.Field{Name: n, Type: arrow.BinaryTypes.String, Nullable: true})
	}
	schema := arrow.NewSchema(fields, nil)
	instr := []string{"DELIVER IN PERSON", "COLLECT COD", "NONE", "TAKE BACK RETURN"}
	modes := []string{"REG AIR", "AIR", "RAIL", "SHIP", "TRUCK", "MAIL", "FOB"}
	var lines [][]byte
	size := 0
	for i := range rows {
		l := fmt.Appendf(nil, "%d\t%d\t%d\t%d\t%d.00\t%d.%02d\t0.%02d\t0.%02d\t%c\t%c\t1995-%02d-%02d\t1995-%02d-%02d\t1996-01-%02d\t%-25s\t%-10s\t%s\n",
			i/4*32+i%7, 1+(i*7919)%200000, 1+(i*104729)%10000, 1+i%7, 1+i%50, 900+(i*7919)%100000, i%100, i%11, i%9,
			"RAN"[i%3], "OF"[i%2], 1+i%12, 1+i%28, 1+(i+3)%12, 1+(i+5)%28, 1+i%31, instr[i%4], modes[i%7],
			fmt.Sprintf("%016x carefully final deposits haggle", i*2654435761)[:10+i%34])
		lines = append(lines, l)
		size += len(l)
	}
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	b.SetBytes(int64(size))
	b.ReportAllocs()
	cpu0 := processCPU()
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
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/rows, "ns/row")
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N)/rows, "cpu-ns/row")
	alloc.AssertSize(b, 0)
}

// processCPU is the process's user and system CPU time in ns: on a shared
// machine it moves less than wall time.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
