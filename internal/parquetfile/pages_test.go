package parquetfile_test

import (
	"bytes"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/rdsexport/rdsexport/internal/parquetfile"
)

// pagesRows, pagesGroupRows and pagesBatch shape the file of the page
// encoder tests: several row groups of several pages, written in slices
// whose arrays start at odd offsets.
const (
	pagesRows      = 30000
	pagesGroupRows = 7000
	pagesBatch     = 3001
	pagesFirst     = 10000 // the "fallback" column repeats in these rows, then does not
)

// pageColumn is a column of the test file: its values by row, nil for NULL.
type pageColumn struct {
	name string
	typ  arrow.DataType
	val  func(i int) any
	dict bool // expect a dictionary in every row group
}

// pageColumns are, for every type the encoder writes, a column that
// repeats (dictionary) and one of distinct values (PLAIN), both with
// NULLs, plus a column of NULLs only, a dictionary column whose later row
// groups are NULL only, one that falls back from its dictionary, and the
// row number.
func pageColumns() []pageColumn {
	cols := []pageColumn{{name: "id", typ: arrow.PrimitiveTypes.Int64, val: func(i int) any { return int64(i) }}}
	base := time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC).UnixMicro()
	for n, c := range columns {
		for _, dict := range []bool{true, false} {
			key := func(i int) int64 {
				if dict {
					return int64(i%5 - 2)
				}
				return int64(i*7919%1000003 - 500000)
			}
			var val func(k int64) any
			switch t := c.typ.(type) {
			case *arrow.Int16Type:
				val = func(k int64) any { return int16(k) }
			case *arrow.Int32Type:
				val = func(k int64) any { return int32(k * 1000) }
			case *arrow.Int64Type:
				val = func(k int64) any { return k * 1e12 }
			case *arrow.Float32Type:
				val = func(k int64) any { return float32(k) / 4 }
			case *arrow.Float64Type:
				val = func(k int64) any { return float64(k) / 8 }
			case *arrow.BooleanType:
				val = func(k int64) any { return k%2 == 0 }
			case *arrow.BinaryType:
				val = func(k int64) any { return []byte{0xff, byte(k), byte(k >> 8), byte(k >> 16)} }
			case *arrow.StringType:
				val = func(k int64) any { return fmt.Sprintf("s%d", k) }
			case *arrow.TimestampType:
				val = func(k int64) any { return arrow.Timestamp(base + k*1e6) }
			case *arrow.Decimal128Type:
				scale := map[int32]int64{9: 1, 18: 1e9, 20: 1e12, 38: 1e18}[t.Precision]
				val = func(k int64) any {
					d := decimal128.FromI64(k).Mul(decimal128.FromI64(scale))
					if t.Precision == 38 {
						d = d.Mul(decimal128.FromI64(1000))
					}
					return d
				}
			default:
				panic(c.typ)
			}
			name := fmt.Sprintf("c%d_plain", n)
			if dict {
				name = fmt.Sprintf("c%d_dict", n)
			}
			_, isBool := c.typ.(*arrow.BooleanType)
			cols = append(cols, pageColumn{name: name, typ: c.typ, dict: dict && !isBool, val: func(i int) any {
				if i%7 == 3 {
					return nil
				}
				return val(key(i))
			}})
		}
	}
	cols = append(cols,
		pageColumn{name: "nulls", typ: arrow.BinaryTypes.String, val: func(int) any { return nil }},
		// Dictionary encoded from the first batch, then NULL only: the
		// later row groups have an empty dictionary.
		pageColumn{name: "sparse", typ: arrow.BinaryTypes.String, dict: true, val: func(i int) any {
			if i >= pagesGroupRows {
				return nil
			}
			return fmt.Sprintf("x%d", i%3)
		}},
		pageColumn{name: "fallback", typ: arrow.BinaryTypes.String, val: func(i int) any {
			if i%11 == 5 {
				return nil
			}
			if i < pagesFirst {
				return fmt.Sprintf("v%d", i%10)
			}
			return fmt.Sprintf("distinct value %07d", i*7919%1000003)
		}},
	)
	return cols
}

func appendValue(b array.Builder, v any) {
	if v == nil {
		b.AppendNull()
		return
	}
	switch b := b.(type) {
	case *array.Int16Builder:
		b.Append(v.(int16))
	case *array.Int32Builder:
		b.Append(v.(int32))
	case *array.Int64Builder:
		b.Append(v.(int64))
	case *array.Float32Builder:
		b.Append(v.(float32))
	case *array.Float64Builder:
		b.Append(v.(float64))
	case *array.BooleanBuilder:
		b.Append(v.(bool))
	case *array.BinaryBuilder:
		b.Append(v.([]byte))
	case *array.StringBuilder:
		b.Append(v.(string))
	case *array.TimestampBuilder:
		b.Append(v.(arrow.Timestamp))
	case *array.Decimal128Builder:
		b.Append(v.(decimal128.Num))
	default:
		panic(fmt.Sprintf("%T", b))
	}
}

// writePagesFile writes the rows of cols with the page encoder (in
// slices) and with pqarrow (at once, as a reference) and returns both
// paths.
func writePagesFile(t *testing.T, cols []pageColumn) (path, ref string) {
	t.Helper()
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = arrow.Field{Name: c.name, Type: c.typ, Nullable: true}
	}
	schema := arrow.NewSchema(fields, nil)
	b := array.NewRecordBuilder(alloc, schema)
	defer b.Release()
	for i := range pagesRows {
		for j, c := range cols {
			appendValue(b.Field(j), c.val(i))
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()

	dir := t.TempDir()
	path, ref = filepath.Join(dir, "pages.parquet"), filepath.Join(dir, "ref.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer parquetfile.SetEncoding(nil, 0, 8<<10)()
	w, err := parquetfile.NewWriter(f, schema, parquetfile.WriterParams{
		Alloc: alloc, MaxRowGroupRows: pagesGroupRows, MaxDictionaryBytes: 4 << 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	// The first slice decides the encodings: the "fallback" column repeats there.
	for lo := int64(0); lo < pagesRows; {
		hi := min(lo+pagesBatch, pagesRows)
		if lo == 0 {
			hi = pagesFirst
		}
		sl := rec.NewSlice(lo, hi)
		err := w.Write(sl)
		sl.Release()
		if err != nil {
			t.Fatal(err)
		}
		lo = hi
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	rf, err := os.Create(ref)
	if err != nil {
		t.Fatal(err)
	}
	pqarrowWriteTo(t, rf, rec) // closes rf
	return path, ref
}

// TestPages_DuckDB: DuckDB reads back from the page encoder's file what
// it reads from pqarrow's file of the same rows, for every type, with
// NULLs, in dictionary and PLAIN columns, over several pages and row
// groups, and with a column whose dictionary falls back to PLAIN.
func TestPages_DuckDB(t *testing.T) {
	cols := pageColumns()
	path, ref := writePagesFile(t, cols)
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	var n, diff int
	if err := db.QueryRow(`SELECT count(*) FROM read_parquet(?)`, path).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != pagesRows {
		t.Fatalf("%d rows, want %d", n, pagesRows)
	}
	for _, q := range []string{
		`SELECT count(*) FROM (SELECT * FROM read_parquet(?) EXCEPT ALL SELECT * FROM read_parquet(?))`,
	} {
		for _, args := range [][]any{{path, ref}, {ref, path}} {
			if err := db.QueryRow(q, args...).Scan(&diff); err != nil {
				t.Fatal(err)
			}
			if diff != 0 {
				t.Errorf("%d rows of %s are not in %s", diff, args[0], args[1])
			}
		}
	}
	// Each column on its own, so that a difference names its column.
	for _, c := range cols {
		q := fmt.Sprintf(`SELECT count(*) FROM (SELECT id, %[1]q FROM read_parquet(?) EXCEPT ALL SELECT id, %[1]q FROM read_parquet(?))`, c.name)
		if err := db.QueryRow(q, path, ref).Scan(&diff); err != nil {
			t.Fatal(err)
		}
		if diff != 0 {
			t.Errorf("%s: %d rows differ from pqarrow's", c.name, diff)
		}
	}

	var groups int
	if err := db.QueryRow(`SELECT count(DISTINCT row_group_id) FROM parquet_metadata(?)`, path).Scan(&groups); err != nil {
		t.Fatal(err)
	}
	if want := (pagesRows + pagesGroupRows - 1) / pagesGroupRows; groups != want {
		t.Errorf("%d row groups, want %d", groups, want)
	}
	for _, c := range cols {
		rows, err := db.Query(`SELECT row_group_id, encodings FROM parquet_metadata(?) WHERE path_in_schema = ? ORDER BY row_group_id`, path, c.name)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var g int
			var enc string
			if err := rows.Scan(&g, &enc); err != nil {
				t.Fatal(err)
			}
			dict := strings.Contains(enc, "DICTIONARY")
			switch {
			case c.name == "fallback":
				// Dictionary pages until the dictionary passed 4 KiB, then PLAIN.
				if !dict || !strings.Contains(enc, "PLAIN") {
					t.Errorf("fallback, row group %d: encodings %s, want dictionary and PLAIN", g, enc)
				}
			case c.name == "nulls":
			case dict != c.dict:
				t.Errorf("%s, row group %d: encodings %s, want dictionary %v", c.name, g, enc, c.dict)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
}

// TestPages_Statistics: the column chunk statistics DuckDB reads
// (parquet_metadata) are the minimum, maximum and NULL count of each row
// group's rows, and the statistics of each data page, read by arrow-go's
// page reader, are those of the page's rows.
func TestPages_Statistics(t *testing.T) {
	cols := pageColumns()
	path, _ := writePagesFile(t, cols)
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	for _, c := range cols {
		rows, err := db.Query(`SELECT row_group_id, COALESCE(stats_min_value, '<none>'), COALESCE(stats_max_value, '<none>'), stats_null_count
			FROM parquet_metadata(?) WHERE path_in_schema = ? ORDER BY row_group_id`, path, c.name)
		if err != nil {
			t.Fatal(err)
		}
		type chunk struct {
			g      int
			lo, hi string
			nulls  int64
		}
		var chunks []chunk
		for rows.Next() {
			var k chunk
			if err := rows.Scan(&k.g, &k.lo, &k.hi, &k.nulls); err != nil {
				t.Fatal(err)
			}
			chunks = append(chunks, k)
		}
		rows.Close()
		for _, k := range chunks {
			var lo, hi string
			var nulls int64
			err := db.QueryRow(fmt.Sprintf(`SELECT COALESCE(min(%[1]q)::VARCHAR, '<none>'), COALESCE(max(%[1]q)::VARCHAR, '<none>'), count(*) - count(%[1]q)
				FROM read_parquet(?) WHERE id >= ? AND id < ?`, c.name), path, k.g*pagesGroupRows, (k.g+1)*pagesGroupRows).Scan(&lo, &hi, &nulls)
			if err != nil {
				t.Fatal(err)
			}
			if k.lo != lo || k.hi != hi || k.nulls != nulls {
				t.Errorf("%s, row group %d: statistics min %s max %s nulls %d, rows have %s %s %d", c.name, k.g, k.lo, k.hi, k.nulls, lo, hi, nulls)
			}
		}
	}

	r, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	pages := 0
	for g := range r.NumRowGroups() {
		rg := r.RowGroup(g)
		for j, c := range cols {
			pr, err := rg.GetColumnPageReader(j)
			if err != nil {
				t.Fatal(err)
			}
			first := g * pagesGroupRows
			for pr.Next() {
				dp, ok := pr.Page().(file.DataPage)
				if !ok {
					continue
				}
				pages++
				n := int(dp.NumValues())
				st := dp.Statistics()
				lo, hi, nulls := plainBounds(c, first, first+n)
				if !st.HasNullCount || st.NullCount != nulls {
					t.Errorf("%s, row group %d, rows %d+%d: page NULL count %d (%v), want %d", c.name, g, first, n, st.NullCount, st.HasNullCount, nulls)
				}
				if !bytes.Equal(st.Min, lo) || !bytes.Equal(st.Max, hi) || st.HasMin != (lo != nil) {
					t.Errorf("%s, row group %d, rows %d+%d: page min %x max %x, want %x %x", c.name, g, first, n, st.Min, st.Max, lo, hi)
				}
				first += n
			}
			if err := pr.Err(); err != nil {
				t.Fatal(err)
			}
			if want := min((g+1)*pagesGroupRows, pagesRows); first != want {
				t.Errorf("%s, row group %d: pages end at row %d, want %d", c.name, g, first, want)
			}
		}
	}
	if pages < 4*len(cols) {
		t.Errorf("%d data pages for %d columns: want several per column", pages, len(cols))
	}
}

// plainBounds is the PLAIN encoding of the minimum and maximum non-NULL
// value of rows lo..hi of c (nil when there is none), and their NULLs.
func plainBounds(c pageColumn, lo, hi int) (mn, mx []byte, nulls int64) {
	var minV, maxV any
	for i := lo; i < hi; i++ {
		v := c.val(i)
		if v == nil {
			nulls++
			continue
		}
		if minV == nil || less(v, minV) {
			minV = v
		}
		if maxV == nil || less(maxV, v) {
			maxV = v
		}
	}
	if minV == nil {
		return nil, nil, nulls
	}
	return plain(c.typ, minV), plain(c.typ, maxV), nulls
}

func less(a, b any) bool {
	switch a := a.(type) {
	case int16:
		return a < b.(int16)
	case int32:
		return a < b.(int32)
	case int64:
		return a < b.(int64)
	case float32:
		return a < b.(float32)
	case float64:
		return a < b.(float64)
	case bool:
		return !a && b.(bool)
	case []byte:
		return bytes.Compare(a, b.([]byte)) < 0
	case string:
		return a < b.(string)
	case arrow.Timestamp:
		return a < b.(arrow.Timestamp)
	case decimal128.Num:
		return a.Less(b.(decimal128.Num))
	}
	panic(fmt.Sprintf("%T", a))
}

func plain(typ arrow.DataType, v any) []byte {
	switch v := v.(type) {
	case int16:
		return binary.LittleEndian.AppendUint32(nil, uint32(int32(v)))
	case int32:
		return binary.LittleEndian.AppendUint32(nil, uint32(v))
	case int64:
		return binary.LittleEndian.AppendUint64(nil, uint64(v))
	case float32:
		return binary.LittleEndian.AppendUint32(nil, math.Float32bits(v))
	case float64:
		return binary.LittleEndian.AppendUint64(nil, math.Float64bits(v))
	case bool:
		if v {
			return []byte{1}
		}
		return []byte{0}
	case []byte:
		return v
	case string:
		return []byte(v)
	case arrow.Timestamp:
		return binary.LittleEndian.AppendUint64(nil, uint64(v))
	case decimal128.Num:
		p := typ.(*arrow.Decimal128Type).Precision
		switch {
		case p <= 9:
			return binary.LittleEndian.AppendUint32(nil, uint32(int32(v.LowBits())))
		case p <= 18:
			return binary.LittleEndian.AppendUint64(nil, v.LowBits())
		}
		be := binary.BigEndian.AppendUint64(nil, uint64(v.HighBits()))
		be = binary.BigEndian.AppendUint64(be, v.LowBits())
		return be[16-map[int32]int{20: 9, 38: 16}[p]:]
	}
	panic(fmt.Sprintf("%T", v))
}

// TestPages_StoreSchema: with StoreSchema the file carries the Arrow
// schema, so that arrow-go's reader gets back the exact Arrow types
// (Int16, decimals, time zones) and DuckDB sees the ARROW:schema key.
func TestPages_StoreSchema(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	fields := make([]arrow.Field, len(columns))
	for i, c := range columns {
		fields[i] = arrow.Field{Name: fmt.Sprintf("c%d", i), Type: c.typ, Nullable: true}
	}
	schema := arrow.NewSchema(fields, nil)
	b := array.NewRecordBuilder(alloc, schema)
	defer b.Release()
	for i := range columns {
		b.Field(i).AppendNull()
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	path := filepath.Join(t.TempDir(), "f.parquet")
	writeFile(t, path, rec, parquetfile.WriterParams{Alloc: alloc, StoreSchema: true})

	r, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	fr, err := pqarrow.NewFileReader(r, pqarrow.ArrowReadProperties{}, alloc)
	if err != nil {
		t.Fatal(err)
	}
	got, err := fr.Schema()
	if err != nil {
		t.Fatal(err)
	}
	// The reader adds field ids to the fields' metadata; names and types
	// must be the ones written.
	for i, f := range schema.Fields() {
		if g := got.Field(i); g.Name != f.Name || !arrow.TypeEqual(g.Type, f.Type) || g.Nullable != f.Nullable {
			t.Errorf("field %d read back as %s, want %s", i, g, f)
		}
	}
	if by := r.MetaData().GetCreatedBy(); by != parquetfile.CreatedBy {
		t.Errorf("created_by %q, want %q", by, parquetfile.CreatedBy)
	}

	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM parquet_kv_metadata(?) WHERE decode(key) = 'ARROW:schema'`, path).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d ARROW:schema keys, want 1", n)
	}
}
