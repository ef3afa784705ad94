package parquetfile

import (
	"encoding/base64"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/gzip"
	"github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/parquet-go/parquet-go/encoding"
)

// encoder writes record batches column by column through parquet-go's
// column writers, converting each value into a parquet.Value. It was the
// encoder before pageEncoder and is kept as its baseline in
// BenchmarkEncoders (directPages). Its column encodings are chosen from
// the first batch (see dictionaryPays) unless the Series gave them, so the
// parquet-go writer starts at the first Write.
type encoder struct {
	out    *countingWriter
	schema *arrow.Schema
	opts   WriterParams

	//lint:ignore SA1019 the schema is built at run time from the source's columns, so there is no row type for GenericWriter
	w         *parquet.Writer
	rows      int
	groupRows int64
	groupBase int64 // w.Size() when the current row group started
	vals      []parquet.Value
	scratch   []byte
	dict      []bool  // column c is dictionary encoded; given, or predicted from the first batch
	pending   []int64 // estimated bytes column c has buffered for its next page
}

// supported reports whether the encoder writes every field of schema.
func supported(schema *arrow.Schema) bool {
	for _, f := range schema.Fields() {
		if _, ok := leafNode(f.Type); !ok {
			return false
		}
	}
	return true
}

// valueChunk is how many values go to a column writer per call.
const valueChunk = 1024

func (e *encoder) start(first arrow.RecordBatch) {
	fields := make(group, e.schema.NumFields())
	if len(e.dict) != len(fields) {
		e.dict = make([]bool, len(fields))
		for i := range fields {
			e.dict[i] = first != nil && dictionaryPolicy(first.Column(i))
		}
	}
	e.pending = make([]int64, len(fields))
	for i, f := range e.schema.Fields() {
		leaf, _ := leafNode(f.Type)
		var enc encoding.Encoding = &parquet.Plain
		if e.dict[i] {
			enc = &parquet.RLEDictionary
		}
		fields[i] = field{Node: parquet.Optional(parquet.Encoded(leaf, enc)), name: f.Name}
	}
	var codec compress.Codec
	switch e.opts.Codec {
	case ZSTD:
		c := &zstd.Codec{}
		if e.opts.CompressionLevel > 0 {
			c.Level = zstd.Level(e.opts.CompressionLevel)
		}
		codec = c
	default:
		c := &gzip.Codec{Level: gzip.DefaultCompression}
		if e.opts.CompressionLevel > 0 {
			c.Level = e.opts.CompressionLevel
		}
		codec = c
	}
	opts := []parquet.WriterOption{
		parquet.NewSchema("schema", fields),
		parquet.Compression(codec),
		parquet.DataPageVersion(1),
		// Pages are cut by write at pageBytes; parquet-go's own limit is
		// a bound above it (it also sizes the buffer of a column that
		// falls back from its dictionary).
		parquet.PageBufferSize(2 * pageBytes),
		parquet.DictionaryMaxBytes(e.opts.MaxDictionaryBytes),
		createdBy(CreatedBy),
	}
	if e.opts.StoreSchema {
		meta := flight.SerializeSchema(e.schema, e.opts.Alloc)
		opts = append(opts, parquet.KeyValueMetadata("ARROW:schema", base64.StdEncoding.EncodeToString(meta)))
	}
	e.w = parquet.NewWriter(e.out, opts...)
}

func (e *encoder) write(rec arrow.RecordBatch) error {
	if e.w == nil {
		e.start(rec)
	}
	n := int(rec.NumRows())
	cols := e.w.ColumnWriters()
	for lo := 0; lo < n; {
		hi := min(n, lo+int(e.opts.MaxRowGroupRows-e.groupRows))
		for c := range cols {
			arr := rec.Column(c)
			for i := lo; i < hi; i += valueChunk {
				j := min(hi, i+valueChunk)
				e.vals, e.scratch = appendValues(e.vals[:0], e.scratch, arr, i, j, c)
				if _, err := cols[c].WriteRowValues(e.vals); err != nil {
					return fmt.Errorf("column %s: %w", e.schema.Field(c).Name, err)
				}
				if e.pending[c] += bufferedBytes(arr, i, j, e.dict[c]); e.pending[c] >= int64(pageBytes) {
					if err := cols[c].Flush(); err != nil {
						return fmt.Errorf("column %s: %w", e.schema.Field(c).Name, err)
					}
					e.pending[c] = 0
				}
			}
		}
		e.rows += hi - lo
		e.groupRows += int64(hi - lo)
		lo = hi
		if e.groupRows >= e.opts.MaxRowGroupRows || e.size()-e.groupBase >= e.opts.MaxRowGroupBytes {
			if err := e.w.Flush(); err != nil {
				return err
			}
			clear(e.pending)
			e.groupRows, e.groupBase = 0, e.size()
		}
	}
	return nil
}

// size is the file's compressed size so far: bytes written, the row
// group's encoded pages and its dictionaries, without the values buffered
// for the next pages (parquet-go's Size counts them uncompressed).
func (e *encoder) size() int64 {
	if e.w == nil {
		return 0
	}
	n := e.w.Size()
	for _, p := range e.pending {
		n -= p
	}
	return max(n, e.out.n)
}

// bufferedBytes is what arr[lo:hi] adds to a column's page buffer as
// parquet-go counts it: per row a row index and a definition level (5
// bytes, the OPTIONAL column), plus the values (PLAIN) or their int32
// indexes (dictionary).
func bufferedBytes(arr arrow.Array, lo, hi int, dict bool) int64 {
	n := int64(hi - lo)
	return 5*n + valueBytes(arr, lo, hi, dict)
}

func valueBytes(arr arrow.Array, lo, hi int, dict bool) int64 {
	n := int64(hi - lo)
	if dict {
		return 4 * n
	}
	switch a := arr.(type) {
	case *array.String:
		return int64(a.ValueOffset(hi-1)+a.ValueLen(hi-1)-a.ValueOffset(lo)) + 4*n
	case *array.Binary:
		return int64(a.ValueOffset(hi-1)+a.ValueLen(hi-1)-a.ValueOffset(lo)) + 4*n
	case *array.Boolean:
		return n / 8
	case *array.Int16, *array.Int32, *array.Float32:
		return 4 * n
	case *array.Decimal128:
		if p := int(a.DataType().(*arrow.Decimal128Type).Precision); p > 18 {
			return int64(decimalBytes(p)) * n
		} else if p <= 9 {
			return 4 * n
		}
	}
	return 8 * n
}

func (e *encoder) numRows() int      { return e.rows }
func (e *encoder) encodings() []bool { return e.dict }

func (e *encoder) close() error {
	if e.w == nil {
		e.start(nil)
	}
	return e.w.Close()
}

// dictionaryPays predicts from a batch whether dictionary encoding shrinks
// a column: it does when values repeat (flags, codes, dates, a key with a
// few thousand values), and only costs hashing when they do not (keys,
// prices, comments), since GZIP compresses plain pages of distinct values
// as well as their indexes. Up to dictSample values decide: a dictionary
// when their second half adds fewer than half as many new values as the
// first half had (the distinct values level off). Booleans never get one.
func dictionaryPays(arr arrow.Array) bool {
	n := min(arr.Len(), dictSample)
	switch a := arr.(type) {
	case *array.Boolean:
		return false
	case *array.String:
		return levelsOff(n, arr, newDistinct[string](), a.Value)
	case *array.Binary:
		return levelsOff(n, arr, newDistinct[string](), a.ValueString)
	case *array.Int16:
		return levelsOff(n, arr, newDistinct[int16](), a.Value)
	case *array.Int32:
		return levelsOff(n, arr, newDistinct[int32](), a.Value)
	case *array.Int64:
		return levelsOff(n, arr, newDistinct[int64](), a.Value)
	case *array.Float32:
		return levelsOff(n, arr, newDistinct[float32](), a.Value)
	case *array.Float64:
		return levelsOff(n, arr, newDistinct[float64](), a.Value)
	case *array.Timestamp:
		return levelsOff(n, arr, newDistinct[arrow.Timestamp](), a.Value)
	case *array.Decimal128:
		return levelsOff(n, arr, newDistinct[decimal128.Num](), a.Value)
	}
	return false
}

type distinct[K comparable] map[K]struct{}

func newDistinct[K comparable]() distinct[K] { return make(distinct[K]) }

// levelsOff reports whether the distinct non-NULL values of arr[:n] level
// off: the second half adds fewer than half as many new ones as the first
// half had.
func levelsOff[K comparable](n int, arr arrow.Array, seen distinct[K], value func(int) K) bool {
	var half int
	nulls := arr.NullN() > 0
	for i := range n {
		if i == n/2 {
			half = len(seen)
		}
		if nulls && arr.IsNull(i) {
			continue
		}
		seen[value(i)] = struct{}{}
	}
	return 2*(len(seen)-half) < half
}

var dictSample = 16384

// dictionaryPolicy decides a column's encoding from the first batch.
var dictionaryPolicy = dictionaryPays

// pageBytes is the size of a column's buffered values (as parquet-go counts
// them) at which they are encoded and compressed as one data page. Larger
// pages compress better with GZIP (a fresh stream per page) but each
// column buffers up to one page: at 1 MiB the files of BenchmarkEncoders
// were 4% smaller, the server's peak RSS 90 MiB higher.
var pageBytes = 256 << 10

// createdBy sets the footer's created_by as given (parquet.CreatedBy
// formats "app version v (build b)").
type createdBy string

func (c createdBy) ConfigureWriter(cfg *parquet.WriterConfig) { cfg.CreatedBy = string(c) }
