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
	writeFile(t, path, rec, parquetfile.WriterParams{Alloc: alloc})
	// The value compresses to a few KiB: it is not copied into the
	// page header, the column index or the footer.
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > 1<<20 {
		t.Errorf("file of %d bytes", st.Size())
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
	path := filepath.Join(t.TempDir(), "nan.parquet")
	writeFile(t, path, rec, parquetfile.WriterParams{Alloc: alloc})
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := pgo.OpenFile(bytes.NewReader(data), int64(len(data)))
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

// TestPages_EmptyStringBound: an empty string is a column chunk's and a
// page's minimum; DuckDB, which prunes row groups by the chunk
// statistics, finds its rows and reads it as the minimum.
func TestPages_EmptyStringBound(t *testing.T) {
	alloc := memory.NewGoAllocator()
	schema := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	b := array.NewRecordBuilder(alloc, schema)
	defer b.Release()
	sb := b.Field(0).(*array.StringBuilder)
	for i := range 100 {
		sb.Append([]string{"", "b", "c"}[i%3])
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	path := filepath.Join(t.TempDir(), "empty.parquet")
	writeFile(t, path, rec, parquetfile.WriterParams{Alloc: alloc})
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM read_parquet(?) WHERE s = ''`, path).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 34 {
		t.Errorf("%d empty strings, want 34", n)
	}
	var mn, mx sql.NullString
	if err := db.QueryRow(`SELECT stats_min_value, stats_max_value FROM parquet_metadata(?)`, path).Scan(&mn, &mx); err != nil {
		t.Fatal(err)
	}
	if !mn.Valid || mn.String != "" || mx.String != "c" {
		t.Errorf("chunk bounds %v, %v, want \"\" and c", mn, mx)
	}
}

// TestPages_PageIndex: arrow-go reads each column chunk's offset index as
// the chunk's data pages end to end, from its first data page (after a
// dictionary) to its end, one location per page its page reader finds,
// with each page's first row; and a column index, where there is one,
// with a null page only for a page of NULLs and the pages' null counts,
// also after a dictionary fell back to PLAIN.
func TestPages_PageIndex(t *testing.T) {
	cols := pageColumns()
	path, _ := writePagesFile(t, cols)
	r, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	md := r.MetaData()
	for g := range md.NumRowGroups() {
		rgIdx, err := r.GetPageIndexReader().RowGroup(g)
		if err != nil {
			t.Fatal(err)
		}
		rg := r.RowGroup(g)
		for c := range md.Schema.NumColumns() {
			cc, err := rg.MetaData().ColumnChunk(c)
			if err != nil {
				t.Fatal(err)
			}
			oi, err := rgIdx.GetOffsetIndex(c)
			if err != nil || oi == nil {
				t.Fatalf("%s, row group %d: offset index %v", cols[c].name, g, err)
			}
			ci, err := rgIdx.GetColumnIndex(c)
			if err != nil {
				t.Fatal(err)
			}
			pr, err := rg.GetColumnPageReader(c)
			if err != nil {
				t.Fatal(err)
			}
			locs := oi.GetPageLocations()
			next, end := cc.DataPageOffset(), cc.DataPageOffset()+cc.TotalCompressedSize()
			if cc.HasDictionaryPage() {
				end = cc.DictionaryPageOffset() + cc.TotalCompressedSize()
			}
			var p int
			var row int64
			for pr.Next() {
				dp, ok := pr.Page().(file.DataPage)
				if !ok {
					continue
				}
				if p >= len(locs) {
					t.Fatalf("%s, row group %d: more pages than %d locations", cols[c].name, g, len(locs))
				}
				l := locs[p]
				if l.Offset != next || l.FirstRowIndex != row {
					t.Errorf("%s, row group %d, page %d: offset %d first row %d, want %d %d", cols[c].name, g, p, l.Offset, l.FirstRowIndex, next, row)
				}
				if ci != nil {
					nulls := dp.Statistics().NullCount
					if ci.GetNullCounts()[p] != nulls || ci.GetNullPages()[p] != (nulls == int64(dp.NumValues())) {
						t.Errorf("%s, row group %d, page %d: column index null page %v count %d, page %d of %d NULL", cols[c].name, g, p, ci.GetNullPages()[p], ci.GetNullCounts()[p], nulls, dp.NumValues())
					}
				}
				next += int64(l.CompressedPageSize)
				row += int64(dp.NumValues())
				p++
			}
			if err := pr.Err(); err != nil {
				t.Fatal(err)
			}
			if p != len(locs) || next != end {
				t.Errorf("%s, row group %d: %d pages, %d locations, ending at %d, chunk ends at %d", cols[c].name, g, p, len(locs), next, end)
			}
		}
	}
}

// TestPages_ZerosAndNaNs: -0, +0 and NaN come back bit for bit from
// dictionary and PLAIN pages, and a query DuckDB prunes by statistics
// finds the zeros and the negatives.
func TestPages_ZerosAndNaNs(t *testing.T) {
	alloc := memory.NewGoAllocator()
	schema := arrow.NewSchema([]arrow.Field{{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true}}, nil)
	vals := []float64{math.Copysign(0, -1), 0, math.NaN(), 1, -1}
	for _, dict := range []bool{true, false} {
		b := array.NewRecordBuilder(alloc, schema)
		fb := b.Field(0).(*array.Float64Builder)
		n := 5000
		for i := range n {
			if dict {
				fb.Append(vals[i%len(vals)])
			} else if i%3 == 0 {
				fb.Append(vals[i%len(vals)])
			} else {
				fb.Append(float64(i) + 0.5)
			}
		}
		rec := b.NewRecordBatch()
		b.Release()
		path := filepath.Join(t.TempDir(), "f.parquet")
		writeFile(t, path, rec, parquetfile.WriterParams{Alloc: alloc})
		db, err := sql.Open("duckdb", "")
		if err != nil {
			t.Fatal(err)
		}
		rows, err := db.Query(`SELECT f FROM read_parquet(?)`, path)
		if err != nil {
			t.Fatal(err)
		}
		a := rec.Column(0).(*array.Float64)
		i := 0
		for rows.Next() {
			var v float64
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			if math.Float64bits(v) != math.Float64bits(a.Value(i)) {
				t.Errorf("dict %v, row %d: %v, want %v", dict, i, v, a.Value(i))
			}
			i++
		}
		rows.Close()
		var zeros, neg int
		if err := db.QueryRow(`SELECT count(*) FROM read_parquet(?) WHERE f = 0`, path).Scan(&zeros); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow(`SELECT count(*) FROM read_parquet(?) WHERE f < 0`, path).Scan(&neg); err != nil {
			t.Fatal(err)
		}
		want, wantNeg := 0, 0
		for j := range n {
			if a.Value(j) == 0 {
				want++
			} else if a.Value(j) < 0 {
				wantNeg++
			}
		}
		if zeros != want || neg != wantNeg {
			t.Errorf("dict %v: %d zeros, %d negative, want %d and %d", dict, zeros, neg, want, wantNeg)
		}
		db.Close()
		rec.Release()
	}
}
