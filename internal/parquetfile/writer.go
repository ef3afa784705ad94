// Package parquetfile encodes Arrow record batches as Parquet files the way
// RDS exports write them: GZIP compression, format v1 data pages, every
// column OPTIONAL (spec §8.3). Writer is a pure encoder onto an io.Writer;
// Series rolls a read over into files of a bounded size and stores them
// through a Put function it is handed. The package does no I/O of its own.
//
// The types the sources produce are encoded by pageEncoder, straight from
// the Arrow arrays into Parquet pages (definition levels, PLAIN values or
// dictionary indexes, GZIP, statistics once per page) with parquet-go's
// format structs, thrift protocol, RLE encoder and codecs, and with the
// physical and logical types pqarrow gives them; a schema with any other
// type goes through pqarrow. Each column is PLAIN or dictionary encoded
// from its first page (dictionaryPays). The encoder that went through
// parquet-go's column writers stays for BenchmarkEncoders: the page encoder
// takes about a quarter less CPU per row (BENCHMARKS.md).
package parquetfile

import (
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// CreatedBy is written into each file's footer.
const CreatedBy = "rdsexport"

// WriterParams configure a Writer and bound the memory it uses: a row
// group is buffered in memory (compressed) until it reaches either limit.
type WriterParams struct {
	// MaxRowGroupRows closes a row group at this many rows (default 131072).
	MaxRowGroupRows int64
	// MaxRowGroupBytes closes a row group once its compressed size reaches
	// this many bytes (default 16 MiB).
	MaxRowGroupBytes int64
	// Codec is GZIP (the zero value: what exports write) or ZSTD.
	Codec Codec
	// CompressionLevel is the codec's level (GZIP: 1 fastest to 9
	// smallest), or -1 for the codec's default; 0 means
	// DefaultCompressionLevel.
	CompressionLevel int
	// StoreSchema keeps the Arrow schema in the file's metadata, so that a
	// reader gets back the exact Arrow types (Int16, Decimal128, time
	// zones); snapshot copies need it, exports do not carry it.
	StoreSchema bool
	// MaxDictionaryBytes is the dictionary size at which a column chunk
	// falls back from dictionary to plain encoding; 0 means
	// DefaultMaxDictionaryBytes.
	MaxDictionaryBytes int64
	// Alloc allocates encoder memory; nil means memory.DefaultAllocator.
	Alloc memory.Allocator
}

// Codec is a Parquet compression codec.
type Codec int

const (
	// GZIP is the codec of RDS exports (spec §8.2).
	GZIP Codec = iota
	// ZSTD compresses better and faster; snapshot copies use it.
	ZSTD
)

// DefaultMaxDictionaryBytes is used when WriterParams leave MaxDictionaryBytes 0.
// Columns predicted to repeat get a dictionary (dictionaryPays); this is
// the size at which one that does not falls back to PLAIN. 64 KiB instead of Parquet's usual 1 MiB: low-cardinality columns (flags,
// codes, dates) still get a dictionary, while high-cardinality ones (keys,
// prices, comments) give up after a few thousand values instead of hashing
// up to a whole row group into a dictionary that gets discarded. On a
// lineitem-like export that cut the server's CPU time by a quarter, its
// peak RSS by a quarter and the files by 18% (BENCHMARKS.md): plain pages
// of distinct values compress better with GZIP than dictionary indexes.
const DefaultMaxDictionaryBytes = 64 << 10

// DefaultCompressionLevel is the GZIP level used when WriterParams leave it 0.
// Level 1 rather than the codec's default: compression is the largest
// single cost of an export, and on lineitem-like data level 1 takes about
// 17% less CPU for files 3-5% larger (BENCHMARKS.md). It is still GZIP,
// as the .gz.parquet names promise (spec §8.2).
const DefaultCompressionLevel = 1

func (o WriterParams) withDefaults() WriterParams {
	if o.MaxRowGroupRows <= 0 {
		o.MaxRowGroupRows = 1 << 17
	}
	if o.MaxRowGroupBytes <= 0 {
		o.MaxRowGroupBytes = 16 << 20
	}
	if o.MaxDictionaryBytes <= 0 {
		o.MaxDictionaryBytes = DefaultMaxDictionaryBytes
	}
	if o.CompressionLevel == 0 {
		o.CompressionLevel = DefaultCompressionLevel
	}
	if o.Alloc == nil {
		o.Alloc = memory.DefaultAllocator
	}
	return o
}

// Writer writes one Parquet file.
type Writer struct {
	enc  rowEncoder          // for the types the sources produce
	fw   *pqarrow.FileWriter // pqarrow, for any other schema
	cw   *countingWriter
	opts WriterParams
}

// NewWriter starts a Parquet file with the given schema on w. Decimals are
// stored as INT32/INT64 when their precision allows (spec §9.1); timestamps
// keep their unit and time zone (TIMESTAMP_MICROS, isAdjustedToUTC when the
// Arrow type has a zone).
func NewWriter(w io.Writer, schema *arrow.Schema, opts WriterParams) (*Writer, error) {
	return newWriter(w, schema, opts, nil)
}

// newWriter is NewWriter with the columns' encodings given (dict[c]: column
// c is dictionary encoded) instead of predicted from the first batch, when
// dict is not nil.
func newWriter(w io.Writer, schema *arrow.Schema, opts WriterParams, dict []bool) (*Writer, error) {
	opts = opts.withDefaults()
	cw := &countingWriter{w: w}
	if supported(schema) {
		var enc rowEncoder = newPageEncoder(cw, schema, opts, dict)
		if !directPages {
			enc = &encoder{out: cw, schema: schema, opts: opts, dict: dict}
		}
		return &Writer{enc: enc, cw: cw, opts: opts}, nil
	}
	codec := compress.Codecs.Gzip
	if opts.Codec == ZSTD {
		codec = compress.Codecs.Zstd
	}
	props := parquet.NewWriterProperties(
		parquet.WithAllocator(opts.Alloc),
		parquet.WithCompression(codec),
		parquet.WithCompressionLevel(opts.CompressionLevel),
		parquet.WithDictionaryPageSizeLimit(opts.MaxDictionaryBytes),
		parquet.WithDataPageVersion(parquet.DataPageV1),
		parquet.WithCreatedBy(CreatedBy),
		parquet.WithMaxRowGroupLength(opts.MaxRowGroupRows),
		parquet.WithStoreDecimalAsInteger(true),
	)
	arrowOpts := []pqarrow.WriterOption{pqarrow.WithAllocator(opts.Alloc)}
	if opts.StoreSchema {
		arrowOpts = append(arrowOpts, pqarrow.WithStoreSchema())
	}
	arrowProps := pqarrow.NewArrowWriterProperties(arrowOpts...)
	fw, err := pqarrow.NewFileWriter(schema, cw, props, arrowProps)
	if err != nil {
		return nil, fmt.Errorf("new parquet writer: %w", err)
	}
	return &Writer{fw: fw, cw: cw, opts: opts}, nil
}

// Write appends the rows of rec. It does not keep rec. After an error of
// the underlying writer it returns that error; call Close to release memory.
func (w *Writer) Write(rec arrow.RecordBatch) error {
	if w.cw.err != nil {
		return fmt.Errorf("write parquet rows: %w", w.cw.err)
	}
	if w.enc != nil {
		if err := w.enc.write(rec); err != nil {
			return fmt.Errorf("write parquet rows: %w", err)
		}
		return nil
	}
	if err := w.fw.WriteBuffered(rec); err != nil {
		return fmt.Errorf("write parquet rows: %w", err)
	}
	if w.fw.RowGroupTotalCompressedBytes() >= w.opts.MaxRowGroupBytes {
		if err := w.fw.NewBufferedRowGroupChecked(); err != nil {
			return fmt.Errorf("close parquet row group: %w", err)
		}
	}
	return nil
}

// Size is the compressed size of the file so far: bytes already written
// plus the row group still buffered.
func (w *Writer) Size() int64 {
	if w.enc != nil {
		return w.enc.size()
	}
	return w.cw.n + w.fw.RowGroupTotalCompressedBytes()
}

// Rows is the number of rows written so far.
func (w *Writer) Rows() int {
	if w.enc != nil {
		return w.enc.numRows()
	}
	return w.fw.NumRows()
}

// Close flushes the last row group and the footer and releases the
// encoder's memory, also after an error. It returns the first error of the
// underlying writer, which is not closed.
func (w *Writer) Close() error {
	var err error
	if w.enc != nil {
		err = w.enc.close()
	} else {
		err = w.fw.Close()
	}
	if err != nil {
		return fmt.Errorf("close parquet file: %w", err)
	}
	if w.cw.err != nil {
		return fmt.Errorf("close parquet file: %w", w.cw.err)
	}
	return nil
}

// rowEncoder writes the record batches of one file.
type rowEncoder interface {
	write(rec arrow.RecordBatch) error
	// size is the file's compressed size so far.
	size() int64
	numRows() int
	close() error
	// encodings is whether each column is dictionary encoded, once the
	// first batch was written.
	encodings() []bool
}

// directPages selects pageEncoder, which encodes Arrow arrays straight
// into pages, over encoder, which goes through parquet-go's column
// writers; BenchmarkEncoders compares them.
var directPages = true

// countingWriter counts bytes and absorbs the first write error: after it,
// writes are discarded and reported as successful, so that the encoder can
// still run its Close and release its memory (it keeps buffers when its
// sink fails). Writer reports the error itself.
type countingWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return len(p), nil
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	if err != nil {
		c.err = err
	}
	return len(p), nil
}
