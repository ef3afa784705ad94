package parquetfile_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"

	"github.com/rdsexport/rdsexport/internal/parquetfile"
)

// objects is an in-memory Put target: an object exists only once its body
// was read to its end.
type objects struct {
	mu   sync.Mutex
	m    map[string][]byte
	fail error // returned by Put after reading the body
}

func (o *objects) put(_ context.Context, key string, body io.Reader) error {
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail != nil {
		return o.fail
	}
	o.m[key] = b
	return nil
}

func intBatch(alloc memory.Allocator, from, n int) arrow.RecordBatch {
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	b := array.NewRecordBuilder(alloc, schema)
	defer b.Release()
	for i := range n {
		// Distinct values compress poorly, so files roll over quickly.
		b.Field(0).(*array.Int64Builder).Append(int64(from+i) * 2654435761)
	}
	return b.NewRecordBatch()
}

func newSeries(o *objects, alloc memory.Allocator, fileBytes int64) *parquetfile.Series {
	return parquetfile.NewSeries(parquetfile.SeriesParams{
		Schema:    intBatch(alloc, 0, 0).Schema(),
		Writer:    parquetfile.WriterParams{MaxRowGroupRows: 4096, Alloc: alloc},
		FileBytes: fileBytes,
		Key:       func(i int) string { return fmt.Sprintf("f-%03d.parquet", i) },
		Put:       o.put,
	})
}

func TestSeries_RollsOver(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	o := &objects{m: map[string][]byte{}}
	s := newSeries(o, alloc, 32<<10)
	const rows = 100_000
	// One large batch (sliced inside), then small ones and an empty one.
	rec := intBatch(alloc, 0, rows/2)
	if err := s.Write(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	rec.Release()
	for from := rows / 2; from < rows; from += 5000 {
		rec := intBatch(alloc, from, 5000)
		s.AddSourceBytes(10)
		if err := s.Write(t.Context(), rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}
	empty := intBatch(alloc, 0, 0)
	if err := s.Write(t.Context(), empty); err != nil {
		t.Fatal(err)
	}
	empty.Release()
	s.AddSourceBytes(5)
	files, err := s.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 || len(files) != len(o.m) {
		t.Fatalf("%d files, %d objects; want at least 3 of each", len(files), len(o.m))
	}
	var total, source int64
	for i, f := range files {
		if want := fmt.Sprintf("f-%03d.parquet", i); f.Key != want {
			t.Errorf("file %d: key %s, want %s", i, f.Key, want)
		}
		body := o.m[f.Key]
		if f.Bytes <= 0 {
			t.Errorf("%s: File says %d bytes", f.Key, f.Bytes)
		}
		r, err := file.NewParquetReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s: %v", f.Key, err)
		}
		if r.NumRows() != f.Rows {
			t.Errorf("%s: %d rows, File says %d", f.Key, r.NumRows(), f.Rows)
		}
		r.Close()
		total += f.Rows
		source += f.SourceBytes
	}
	if total != rows || source != 10*10+5 {
		t.Errorf("rows %d, source bytes %d; want %d, %d", total, source, rows, 10*10+5)
	}
}

func TestSeries_NoRowsNoFile(t *testing.T) {
	o := &objects{m: map[string][]byte{}}
	files, err := newSeries(o, memory.DefaultAllocator, 1<<20).Close()
	if err != nil || len(files) != 0 || len(o.m) != 0 {
		t.Fatalf("files %v, objects %d, err %v", files, len(o.m), err)
	}
}

func TestSeries_AbortStoresNothing(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	o := &objects{m: map[string][]byte{}}
	s := newSeries(o, alloc, 1<<30)
	rec := intBatch(alloc, 0, 1000)
	defer rec.Release()
	if err := s.Write(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	s.Abort()
	if len(o.m) != 0 {
		t.Fatalf("aborted series stored %d objects", len(o.m))
	}
}

func TestSeries_PutFails(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	boom := errors.New("boom")
	o := &objects{m: map[string][]byte{}, fail: boom}
	s := newSeries(o, alloc, 1<<30)
	rec := intBatch(alloc, 0, 1000)
	defer rec.Release()
	if err := s.Write(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Close(); !errors.Is(err, boom) {
		t.Fatalf("Close: %v, want %v", err, boom)
	}
}

// TestSeries_KeepsEncodings: the files after the first take the column
// encodings the first one predicted, even where their own first rows
// would predict others.
func TestSeries_KeepsEncodings(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	o := &objects{m: map[string][]byte{}}
	first := lowHigh(t, alloc, 16000) // flag repeats, id does not; one slice
	defer first.Release()
	s := parquetfile.NewSeries(parquetfile.SeriesParams{
		Schema:    first.Schema(),
		Writer:    parquetfile.WriterParams{Alloc: alloc},
		FileBytes: 1, // one file per Write
		Key:       func(i int) string { return fmt.Sprintf("f-%03d.parquet", i) },
		Put:       o.put,
	})
	// The same columns with their values swapped: flag distinct, id repeating.
	swapped := array.NewRecordBatch(first.Schema(), []arrow.Array{first.Column(1), first.Column(0)}, first.NumRows())
	defer swapped.Release()
	for _, rec := range []arrow.RecordBatch{first, swapped} {
		if err := s.Write(t.Context(), rec); err != nil {
			t.Fatal(err)
		}
	}
	files, err := s.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 {
		t.Fatalf("%d files, want 2", len(files))
	}
	for _, f := range files {
		r, err := file.NewParquetReader(bytes.NewReader(o.m[f.Key]))
		if err != nil {
			t.Fatal(err)
		}
		for c, dict := range []bool{true, false} {
			cc, err := r.MetaData().RowGroup(0).ColumnChunk(c)
			if err != nil {
				t.Fatal(err)
			}
			got := false
			for _, e := range cc.Encodings() {
				got = got || e.String() == "RLE_DICTIONARY" || e.String() == "PLAIN_DICTIONARY"
			}
			if got != dict {
				t.Errorf("%s column %d: encodings %v, dictionary %v, want %v", f.Key, c, cc.Encodings(), got, dict)
			}
		}
		_ = r.Close()
	}
}
