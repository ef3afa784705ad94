package parquetfile_test

import (
	"bytes"
	"database/sql"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	pgo "github.com/parquet-go/parquet-go"

	"github.com/rdsexport/rdsexport/internal/parquetfile"
)

// TestPages_HugeValue: a value of tens of MB is read back by DuckDB and
// by arrow-go's page reader, which rejects page headers over 16 MiB.
func TestPages_HugeValue(t *testing.T) {
	alloc := memory.NewGoAllocator()
	schema := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	b := array.NewRecordBuilder(alloc, schema)
	defer b.Release()
	big := strings.Repeat("x", 20<<20)
	sb := b.Field(0).(*array.StringBuilder)
	sb.Append("a")
	sb.Append(big)
	sb.AppendNull()
	rec := b.NewRecordBatch()
	defer rec.Release()
	path := filepath.Join(t.TempDir(), "big.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := parquetfile.NewWriter(f, schema, parquetfile.WriterParams{Alloc: alloc})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// The value compresses to a few KiB: it is not copied into the
	// page header, the column index or the footer.
	if st, err := os.Stat(path); err != nil || st.Size() > 1<<20 {
		t.Errorf("file of %d bytes (%v)", st.Size(), err)
	}

	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n, l int
	if err := db.QueryRow(`SELECT count(*), max(length(s)) FROM read_parquet(?)`, path).Scan(&n, &l); err != nil {
		t.Fatal(err)
	}
	if n != 3 || l != len(big) {
		t.Errorf("DuckDB: %d rows, longest %d", n, l)
	}
	r, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	pr, err := r.RowGroup(0).GetColumnPageReader(0)
	if err != nil {
		t.Fatal(err)
	}
	for pr.Next() {
	}
	if err := pr.Err(); err != nil {
		t.Errorf("arrow-go page reader: %v", err)
	}
}

// TestPages_NaNColumnIndex: a page of NaNs has no bounds; its column
// index, if any, must not call it a page of NULLs (readers skip such
// pages for IS NOT NULL and comparisons).
func TestPages_NaNColumnIndex(t *testing.T) {
	alloc := memory.NewGoAllocator()
	schema := arrow.NewSchema([]arrow.Field{{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true}}, nil)
	b := array.NewRecordBuilder(alloc, schema)
	defer b.Release()
	fb := b.Field(0).(*array.Float64Builder)
	for range 3 {
		fb.Append(math.NaN())
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	var buf bytes.Buffer
	w, err := parquetfile.NewWriter(&buf, schema, parquetfile.WriterParams{Alloc: alloc})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := pgo.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	cc := f.Metadata().RowGroups[0].Columns[0]
	if cc.ColumnIndexOffset == 0 {
		return
	}
	for _, ci := range f.ColumnIndexes() {
		for i, null := range ci.NullPages {
			if null && ci.NullCounts[i] == 0 {
				t.Errorf("page %d of NaNs is a null page in the column index", i)
			}
		}
	}
}
