package parquetfile_test

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/rdsexport/rdsexport/internal/parquetfile"
)

// column is one Arrow type and the Parquet types an independent reader
// (DuckDB) must see for it (spec §9).
type column struct {
	typ       arrow.DataType
	physical  string
	typeLen   int64
	logical   string // substring of DuckDB's logical_type rendering; "" for none
	converted string // DuckDB's converted_type; "" for none
}

var columns = []column{
	// The Arrow writer annotates every integer with INT(bits, signed); for
	// 32 and 64 bits that is the plain physical type to every reader.
	{arrow.PrimitiveTypes.Int16, "INT32", 0, "isSigned=1", "INT_16"},
	{arrow.PrimitiveTypes.Int32, "INT32", 0, "isSigned=1", "INT_32"},
	{arrow.PrimitiveTypes.Int64, "INT64", 0, "isSigned=1", "INT_64"},
	{arrow.PrimitiveTypes.Float32, "FLOAT", 0, "", ""},
	{arrow.PrimitiveTypes.Float64, "DOUBLE", 0, "", ""},
	{arrow.FixedWidthTypes.Boolean, "BOOLEAN", 0, "", ""},
	{arrow.BinaryTypes.Binary, "BYTE_ARRAY", 0, "", ""},
	{arrow.BinaryTypes.String, "BYTE_ARRAY", 0, "StringType", "UTF8"},
	{&arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, "INT64", 0, "isAdjustedToUTC=1", "TIMESTAMP_MICROS"},
	{&arrow.TimestampType{Unit: arrow.Microsecond}, "INT64", 0, "isAdjustedToUTC=0", ""},
	{&arrow.Decimal128Type{Precision: 9, Scale: 2}, "INT32", 0, "precision=9", "DECIMAL"},
	{&arrow.Decimal128Type{Precision: 18, Scale: 4}, "INT64", 0, "precision=18", "DECIMAL"},
	{&arrow.Decimal128Type{Precision: 20, Scale: 0}, "FIXED_LEN_BYTE_ARRAY", 9, "precision=20", "DECIMAL"},
	{&arrow.Decimal128Type{Precision: 38, Scale: 10}, "FIXED_LEN_BYTE_ARRAY", 16, "precision=38", "DECIMAL"},
}

func TestWriter_Types(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)

	fields := make([]arrow.Field, len(columns))
	for i, c := range columns {
		fields[i] = arrow.Field{Name: fmt.Sprintf("c%d", i), Type: c.typ, Nullable: true}
	}
	schema := arrow.NewSchema(fields, nil)
	b := array.NewRecordBuilder(alloc, schema)
	defer b.Release()

	ts := time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC)
	maxU64, _ := decimal128.FromString("18446744073709551615", 20, 0)
	big38, _ := decimal128.FromString("-1234567890123456789012345678.0123456789", 38, 10)
	// Row 0: values; row 1: all NULL.
	b.Field(0).(*array.Int16Builder).AppendValues([]int16{-32768}, nil)
	b.Field(1).(*array.Int32Builder).AppendValues([]int32{2147483647}, nil)
	b.Field(2).(*array.Int64Builder).AppendValues([]int64{-9223372036854775808}, nil)
	b.Field(3).(*array.Float32Builder).AppendValues([]float32{1.5}, nil)
	b.Field(4).(*array.Float64Builder).AppendValues([]float64{-2.25}, nil)
	b.Field(5).(*array.BooleanBuilder).AppendValues([]bool{true}, nil)
	b.Field(6).(*array.BinaryBuilder).AppendValues([][]byte{{0, 1, 255}}, nil)
	b.Field(7).(*array.StringBuilder).AppendValues([]string{"héllo 🌍"}, nil)
	b.Field(8).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{arrow.Timestamp(ts.UnixMicro())}, nil)
	b.Field(9).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{arrow.Timestamp(ts.UnixMicro())}, nil)
	b.Field(10).(*array.Decimal128Builder).Append(decimal128.FromI64(-12345))
	b.Field(11).(*array.Decimal128Builder).Append(decimal128.FromI64(123456789012345678))
	b.Field(12).(*array.Decimal128Builder).Append(maxU64)
	b.Field(13).(*array.Decimal128Builder).Append(big38)
	for i := range columns {
		b.Field(i).AppendNull()
	}
	rec := b.NewRecordBatch()
	defer rec.Release()

	path := filepath.Join(t.TempDir(), "f.gz.parquet")
	writeFile(t, path, rec, parquetfile.WriterParams{Alloc: alloc})

	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	t.Run("Schema", func(t *testing.T) {
		for i, c := range columns {
			var physical, repetition string
			var typeLen sql.NullInt64
			var logical, converted sql.NullString
			err := db.QueryRow(`SELECT type, type_length, repetition_type, COALESCE(logical_type::VARCHAR, ''), converted_type
				FROM parquet_schema(?) WHERE name = ?`, path, fmt.Sprintf("c%d", i)).Scan(&physical, &typeLen, &repetition, &logical, &converted)
			if err != nil {
				t.Fatal(err)
			}
			if physical != c.physical || repetition != "OPTIONAL" {
				t.Errorf("c%d (%s): physical %s %s, want %s OPTIONAL", i, c.typ, physical, repetition, c.physical)
			}
			if c.typeLen != 0 && typeLen.Int64 != c.typeLen {
				t.Errorf("c%d (%s): type_length %d, want %d", i, c.typ, typeLen.Int64, c.typeLen)
			}
			if c.logical == "" && logical.String != "" {
				t.Errorf("c%d (%s): logical %q, want none", i, c.typ, logical.String)
			}
			if c.logical != "" && !strings.Contains(logical.String, c.logical) {
				t.Errorf("c%d (%s): logical %q, want it to contain %q", i, c.typ, logical.String, c.logical)
			}
			if c.converted != "" && converted.String != c.converted {
				t.Errorf("c%d (%s): converted %q, want %q", i, c.typ, converted.String, c.converted)
			}
		}
	})

	t.Run("Compression", func(t *testing.T) {
		var codecs []string
		rows, err := db.Query(`SELECT DISTINCT compression FROM parquet_metadata(?)`, path)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				t.Fatal(err)
			}
			codecs = append(codecs, c)
		}
		if len(codecs) != 1 || codecs[0] != "GZIP" {
			t.Errorf("codecs %v, want [GZIP]", codecs)
		}
	})

	t.Run("Values", func(t *testing.T) {
		var (
			c0, c1, c2 int64
			c3, c4     float64
			c5         bool
			c6         []byte
			c7         string
			c8, c9     time.Time
			c10, c11   string
			c12, c13   string
		)
		err := db.QueryRow(`SELECT c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10::VARCHAR, c11::VARCHAR, c12::VARCHAR, c13::VARCHAR
			FROM read_parquet(?) WHERE c0 IS NOT NULL`, path).
			Scan(&c0, &c1, &c2, &c3, &c4, &c5, &c6, &c7, &c8, &c9, &c10, &c11, &c12, &c13)
		if err != nil {
			t.Fatal(err)
		}
		got := fmt.Sprint(c0, c1, c2, c3, c4, c5, c6, c7, c8.UTC().Format(time.RFC3339Nano), c9.UTC().Format(time.RFC3339Nano), c10, c11, c12, c13)
		want := fmt.Sprint(int64(-32768), int64(2147483647), int64(-9223372036854775808), 1.5, -2.25, true, []byte{0, 1, 255}, "héllo 🌍",
			"2024-01-02T03:04:05.123456Z", "2024-01-02T03:04:05.123456Z", "-123.45", "12345678901234.5678", "18446744073709551615", "-1234567890123456789012345678.0123456789")
		if got != want {
			t.Errorf("values\n got %s\nwant %s", got, want)
		}
		var nulls int
		if err := db.QueryRow(`SELECT count(*) FROM read_parquet(?) WHERE COLUMNS(*) IS NULL`, path).Scan(&nulls); err != nil {
			t.Fatal(err)
		}
		if nulls != 1 {
			t.Errorf("all-NULL rows = %d, want 1", nulls)
		}
	})
}

// failingWriter fails every write after the first n bytes.
type failingWriter struct{ n int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, os.ErrClosed
	}
	f.n -= len(p)
	return len(p), nil
}

// TestWriter_SinkFails: when the sink fails, Write and Close report it and
// no Arrow memory is left behind.
func TestWriter_SinkFails(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	b := array.NewRecordBuilder(alloc, schema)
	defer b.Release()
	for i := range 50000 {
		b.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("value %d with some padding to fill pages", i))
	}
	rec := b.NewRecordBatch()
	defer rec.Release()

	w, err := parquetfile.NewWriter(&failingWriter{n: 100}, schema, parquetfile.WriterParams{Alloc: alloc, MaxRowGroupRows: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var werr error
	for range 5 {
		if werr = w.Write(rec); werr != nil {
			break
		}
	}
	if !errors.Is(werr, os.ErrClosed) {
		t.Errorf("Write: %v, want the sink's error", werr)
	}
	if err := w.Close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Close: %v, want the sink's error", err)
	}
}

// lowHigh is a batch of n rows: "flag", three values over and over, and
// "id", a distinct string per row.
func lowHigh(t testing.TB, alloc memory.Allocator, n int) arrow.RecordBatch {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "flag", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "id", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(alloc, schema)
	defer b.Release()
	for i := range n {
		b.Field(0).(*array.StringBuilder).Append("RAN"[i%3 : i%3+1])
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("order %09d", i*7919))
	}
	return b.NewRecordBatch()
}

// TestWriter_Encodings: a column whose values repeat is dictionary encoded,
// one of distinct values is PLAIN from its first page (no dictionary built
// and dropped), as DuckDB reads the file.
func TestWriter_Encodings(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	rec := lowHigh(t, alloc, 20000)
	defer rec.Release()
	path := filepath.Join(t.TempDir(), "f.gz.parquet")
	writeFile(t, path, rec, parquetfile.WriterParams{Alloc: alloc})
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for col, dict := range map[string]bool{"flag": true, "id": false} {
		var encodings string
		if err := db.QueryRow(`SELECT string_agg(encodings, ',') FROM parquet_metadata(?) WHERE path_in_schema = ?`, path, col).Scan(&encodings); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(encodings, "DICTIONARY"); got != dict {
			t.Errorf("%s: encodings %s, dictionary %v, want %v", col, encodings, got, dict)
		}
	}
}

// TestWriter_Size: before Close, Size is within 15% of the file's final
// size (the engine cuts files by it), also with values still buffered.
func TestWriter_Size(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	rec := lowHigh(t, alloc, 16384)
	defer rec.Release()
	cw := &countWriter{}
	w, err := parquetfile.NewWriter(cw, rec.Schema(), parquetfile.WriterParams{Alloc: alloc, MaxRowGroupRows: 100000})
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	size := w.Size()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if d := float64(size-cw.n) / float64(cw.n); d < -0.15 || d > 0.15 {
		t.Errorf("Size %d before Close, file %d bytes (%+.0f%%)", size, cw.n, 100*d)
	}
}

// writeFile writes rec into a new Parquet file at path with p.
func writeFile(t testing.TB, path string, rec arrow.RecordBatch, p parquetfile.WriterParams) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := parquetfile.NewWriter(f, rec.Schema(), p)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
