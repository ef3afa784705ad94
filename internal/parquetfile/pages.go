package parquetfile

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/bits"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/gzip"
	"github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/parquet-go/parquet-go/encoding/rle"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// pageEncoder writes record batches straight from Arrow arrays into
// Parquet pages: per column it buffers one page of definition levels and
// PLAIN values or dictionary indexes, and cuts it at pageBytes into a
// GZIP-compressed data page with its statistics (for a dictionary page,
// from the dictionary entries the page uses). The pieces of the format are
// parquet-go's: its thrift structs and compact protocol for page headers
// and the footer, its RLE/bit-packing hybrid for levels and indexes, and
// its codecs. Each row group's compressed pages are buffered per column
// until the row group is cut, as parquet-go's writer does.
type pageEncoder struct {
	out    *countingWriter
	schema *arrow.Schema
	opts   WriterParams
	codec  compress.Codec

	started   bool
	cols      []*column
	rows      int
	groupRows int64
	groupBase int64 // size() when the current row group started
	groups    []format.RowGroup
	indexes   [][]pageIndex // per row group, per column
	proto     thrift.CompactProtocol
	buf       bytes.Buffer // page header scratch
	page      []byte       // uncompressed page scratch
	comp      []byte       // compressed page scratch
	dict      []bool
}

// pageIndex is a column chunk's page index, written after the row groups.
type pageIndex struct {
	column format.ColumnIndex
	offset format.OffsetIndex
	// noColumn: a page with values has no bounds (NaNs only, or bounds
	// over maxStatsBytes), which a column index cannot say: null_pages
	// would tell readers its values are NULL.
	noColumn bool
}

// maxStatsBytes bounds a min or max value kept in statistics, as Arrow
// and parquet-mr do: readers reject page headers past a few MiB, and a
// long value would be copied into the header, the column index and the
// footer.
const maxStatsBytes = 4096

func newPageEncoder(out *countingWriter, schema *arrow.Schema, opts WriterParams, dict []bool) *pageEncoder {
	e := &pageEncoder{out: out, schema: schema, opts: opts, dict: dict}
	switch opts.Codec {
	case ZSTD:
		c := &zstd.Codec{}
		if opts.CompressionLevel > 0 {
			c.Level = zstd.Level(opts.CompressionLevel)
		}
		e.codec = c
	default:
		c := &gzip.Codec{Level: gzip.DefaultCompression}
		if opts.CompressionLevel > 0 {
			c.Level = opts.CompressionLevel
		}
		e.codec = c
	}
	return e
}

func (e *pageEncoder) numRows() int      { return e.rows }
func (e *pageEncoder) encodings() []bool { return e.dict }
func (e *pageEncoder) magic() error      { _, err := e.out.Write([]byte("PAR1")); return err }
func (e *pageEncoder) groupSize() int64  { return e.size() - e.groupBase }

func (e *pageEncoder) start(first arrow.RecordBatch) error {
	e.started = true
	n := e.schema.NumFields()
	if len(e.dict) != n {
		e.dict = make([]bool, n)
		for i := range n {
			e.dict[i] = first != nil && dictionaryPolicy(first.Column(i))
		}
	}
	e.cols = make([]*column, n)
	for i, f := range e.schema.Fields() {
		leaf, _ := leafNode(f.Type)
		vals := newColumnValues(f.Type)
		_, isBool := vals.(*booleans)
		e.cols[i] = &column{name: f.Name, leaf: leaf, vals: vals, predicted: e.dict[i] && !isBool}
		e.cols[i].reset()
	}
	return e.magic()
}

func (e *pageEncoder) write(rec arrow.RecordBatch) error {
	if !e.started {
		if err := e.start(rec); err != nil {
			return err
		}
	}
	n := int(rec.NumRows())
	for lo := 0; lo < n; {
		hi := min(n, lo+int(e.opts.MaxRowGroupRows-e.groupRows))
		for c, col := range e.cols {
			arr := rec.Column(c)
			for i := lo; i < hi; i += valueChunk {
				j := min(hi, i+valueChunk)
				col.add(arr, i, j)
				if col.pageBytes() >= int64(pageBytes) || col.dict && col.vals.dictBytes() > e.opts.MaxDictionaryBytes {
					if err := e.cutPage(col); err != nil {
						return fmt.Errorf("column %s: %w", col.name, err)
					}
				}
			}
		}
		e.rows += hi - lo
		e.groupRows += int64(hi - lo)
		lo = hi
		if e.groupRows >= e.opts.MaxRowGroupRows || e.groupSize() >= e.opts.MaxRowGroupBytes {
			if err := e.flushRowGroup(); err != nil {
				return err
			}
		}
	}
	return nil
}

// size is the file's compressed size so far: bytes written, the row
// group's compressed pages and its dictionaries (uncompressed), without
// the values buffered for the next pages.
func (e *pageEncoder) size() int64 {
	n := e.out.n
	for _, c := range e.cols {
		n += int64(len(c.chunk))
		if c.hasDict {
			n += c.vals.dictBytes()
		}
	}
	return n
}

func (e *pageEncoder) close() error {
	if !e.started {
		if err := e.start(nil); err != nil {
			return err
		}
	}
	if e.groupRows > 0 {
		if err := e.flushRowGroup(); err != nil {
			return err
		}
	}
	return e.footer()
}

// column is one leaf column's state: its page being buffered and the
// compressed pages of the row group.
type column struct {
	name      string
	leaf      parquet.Node
	vals      columnValues
	predicted bool // dictionary encoded at the start of each row group

	// the page being buffered
	dict   bool    // this chunk's pages are dictionary encoded (until a fallback)
	n      int     // values, NULLs included
	nulls  int     // NULLs
	levels []byte  // definition levels, only once the page has a NULL
	values []byte  // PLAIN values
	idx    []int32 // dictionary indexes

	// the row group's column chunk
	hasDict      bool   // a dictionary page precedes the data pages
	chunk        []byte // data pages: headers and compressed bodies
	uncompressed int64  // data pages: headers and uncompressed bodies
	numValues    int64
	nullCount    int64
	rows         int64
	dictPages    int32 // data pages with dictionary indexes
	plainPages   int32
	index        pageIndex
}

func (c *column) reset() {
	c.dict, c.hasDict = c.predicted, c.predicted
	c.chunk, c.uncompressed, c.numValues, c.nullCount, c.rows = c.chunk[:0], 0, 0, 0, 0
	c.dictPages, c.plainPages = 0, 0
	c.index = pageIndex{}
	c.vals.resetDict()
}

func (c *column) pageBytes() int64 {
	return int64(len(c.values) + 4*len(c.idx) + len(c.levels))
}

// add buffers the values of arr[lo:hi].
func (c *column) add(arr arrow.Array, lo, hi int) {
	var levels []byte
	if arr.NullN() > 0 {
		if c.levels == nil || len(c.levels) < c.n {
			c.levels = c.levels[:0]
			for range c.n {
				c.levels = append(c.levels, 1)
			}
		}
		start := len(c.levels)
		for i := lo; i < hi; i++ {
			if arr.IsNull(i) {
				c.levels = append(c.levels, 0)
				c.nulls++
			} else {
				c.levels = append(c.levels, 1)
			}
		}
		levels = c.levels[start:]
	} else if len(c.levels) == c.n && c.nulls > 0 {
		for range hi - lo {
			c.levels = append(c.levels, 1)
		}
	}
	c.n += hi - lo
	if c.dict && c.idx == nil {
		c.idx = make([]int32, 0, pageBytes/4+valueChunk)
	} else if !c.dict && c.values == nil {
		c.values = make([]byte, 0, pageBytes+8*valueChunk)
	}
	if c.dict {
		c.idx = c.vals.addIndexes(c.idx, arr, lo, hi, levels)
	} else {
		c.values = c.vals.addPlain(c.values, arr, lo, hi, levels)
	}
}

// cutPage encodes, compresses and appends the buffered page to the chunk,
// and falls back to PLAIN for the rest of the row group when the
// dictionary outgrew MaxDictionaryBytes.
func (e *pageEncoder) cutPage(c *column) error {
	if c.n > 0 {
		if err := e.writeDataPage(c); err != nil {
			return err
		}
	}
	if c.dict && c.vals.dictBytes() > e.opts.MaxDictionaryBytes {
		c.dict = false
	}
	return nil
}

func (e *pageEncoder) writeDataPage(c *column) error {
	page := e.page[:0]
	// Definition levels (v1: with a 4-byte length), then the values.
	page = append(page, 0, 0, 0, 0)
	if c.nulls == 0 {
		page = binary.AppendUvarint(page, uint64(c.n)<<1)
		page = append(page, 1)
	} else {
		var err error
		page, err = appendEncoded(page, len(c.levels)/8+16, func(dst []byte) ([]byte, error) {
			return levelEncoding.EncodeLevels(dst, c.levels)
		})
		if err != nil {
			return err
		}
	}
	binary.LittleEndian.PutUint32(page, uint32(len(page)-4))
	enc := format.Plain
	if c.dict {
		enc = format.RLEDictionary
		width := max(1, bits.Len(uint(max(c.vals.dictLen()-1, 0))))
		page = append(page, byte(width))
		indexes := rle.Encoding{BitWidth: width}
		var err error
		page, err = appendEncoded(page, 4*len(c.idx)+64, func(dst []byte) ([]byte, error) {
			return indexes.EncodeInt32(dst, c.idx)
		})
		if err != nil {
			return err
		}
	} else {
		page = append(page, c.values...)
	}
	e.page = page
	minV, maxV, ok := c.vals.pageBounds(c.dict, c.idx)
	if ok && (len(minV) > maxStatsBytes || len(maxV) > maxStatsBytes) {
		ok = false
	}
	if !ok && c.nulls < c.n {
		c.index.noColumn = true
	}
	stats := format.Statistics{NullCount: int64(c.nulls)}
	if ok {
		stats.Min, stats.Max, stats.MinValue, stats.MaxValue = minV, maxV, minV, maxV
	}
	h := format.PageHeader{Type: format.DataPage}
	h.DataPageHeader.Set(format.DataPageHeader{
		NumValues:               int32(c.n),
		Encoding:                enc,
		DefinitionLevelEncoding: format.RLE,
		RepetitionLevelEncoding: format.RLE,
		Statistics:              stats,
	})
	offset := len(c.chunk)
	hlen, clen, err := e.appendPage(&c.chunk, &h, page)
	if err != nil {
		return err
	}
	c.uncompressed += int64(hlen + len(page))
	ci := &c.index.column
	ci.NullPages = append(ci.NullPages, !ok)
	if !ok {
		minV, maxV = []byte{}, []byte{}
	}
	ci.MinValues = append(ci.MinValues, minV)
	ci.MaxValues = append(ci.MaxValues, maxV)
	ci.NullCounts = append(ci.NullCounts, int64(c.nulls))
	c.index.offset.PageLocations = append(c.index.offset.PageLocations, format.PageLocation{
		Offset:             int64(offset), // within the chunk's data pages until the chunk is written
		CompressedPageSize: int32(hlen + clen),
		FirstRowIndex:      c.rows,
	})
	if c.dict {
		c.dictPages++
	} else {
		c.plainPages++
	}
	c.numValues += int64(c.n)
	c.nullCount += int64(c.nulls)
	c.rows += int64(c.n)
	c.n, c.nulls = 0, 0
	c.levels, c.values, c.idx = c.levels[:0], c.values[:0], c.idx[:0]
	return nil
}

// appendEncoded appends what encode writes at the end of dst (parquet-go's
// encoders write into dst[:0]).
func appendEncoded(dst []byte, need int, encode func([]byte) ([]byte, error)) ([]byte, error) {
	if cap(dst)-len(dst) < need {
		dst = append(make([]byte, 0, 2*len(dst)+need), dst...)
	}
	enc, err := encode(dst[len(dst):])
	if err != nil {
		return dst, err
	}
	if len(enc) > 0 && &enc[0] != &dst[:len(dst)+1][len(dst)] {
		return append(dst, enc...), nil
	}
	return dst[:len(dst)+len(enc)], nil
}

var levelEncoding = &rle.Encoding{BitWidth: 1}

// appendPage compresses body and appends header and body to dst; it
// returns the header's and the compressed body's lengths.
func (e *pageEncoder) appendPage(dst *[]byte, h *format.PageHeader, body []byte) (int, int, error) {
	var err error
	e.comp, err = e.codec.Encode(e.comp[:0], body)
	if err != nil {
		return 0, 0, err
	}
	h.UncompressedPageSize = int32(len(body))
	h.CompressedPageSize = int32(len(e.comp))
	h.CRC = int32(crc32.ChecksumIEEE(e.comp))
	e.buf.Reset()
	if err := thrift.NewEncoder(e.proto.NewWriter(&e.buf)).Encode(h); err != nil {
		return 0, 0, err
	}
	*dst = append(append(*dst, e.buf.Bytes()...), e.comp...)
	return e.buf.Len(), len(e.comp), nil
}

func (e *pageEncoder) flushRowGroup() error {
	for _, c := range e.cols {
		if c.n > 0 {
			if err := e.writeDataPage(c); err != nil {
				return fmt.Errorf("column %s: %w", c.name, err)
			}
		}
	}
	rg := format.RowGroup{NumRows: e.groupRows, FileOffset: e.out.n, Ordinal: int16(len(e.groups))}
	idx := make([]pageIndex, len(e.cols))
	var dictPage []byte
	for i, c := range e.cols {
		start := e.out.n
		md := format.ColumnMetaData{
			Type:         *c.leaf.Type().PhysicalType(),
			PathInSchema: []string{c.name},
			Codec:        e.codec.CompressionCodec(),
			NumValues:    c.numValues,
		}
		var dictLen int64
		if c.hasDict {
			dictPage = dictPage[:0]
			h := format.PageHeader{Type: format.DictionaryPage}
			body := c.vals.appendDict(e.page[:0])
			e.page = body
			h.DictionaryPageHeader.Set(format.DictionaryPageHeader{NumValues: int32(c.vals.dictLen()), Encoding: format.Plain})
			hlen, _, err := e.appendPage(&dictPage, &h, body)
			if err != nil {
				return fmt.Errorf("column %s: %w", c.name, err)
			}
			md.DictionaryPageOffset = start
			dictLen = int64(len(dictPage))
			md.TotalUncompressedSize += int64(hlen + len(body))
			md.EncodingStats = append(md.EncodingStats, format.PageEncodingStats{PageType: format.DictionaryPage, Encoding: format.Plain, Count: 1})
			if _, err := e.out.Write(dictPage); err != nil {
				return err
			}
		}
		md.DataPageOffset = start + dictLen
		if _, err := e.out.Write(c.chunk); err != nil {
			return err
		}
		md.TotalUncompressedSize += c.uncompressed
		md.TotalCompressedSize = e.out.n - start
		md.Encoding = append(md.Encoding, format.Plain, format.RLE)
		if c.hasDict {
			md.Encoding = append(md.Encoding, format.RLEDictionary)
		}
		if c.dictPages > 0 {
			md.EncodingStats = append(md.EncodingStats, format.PageEncodingStats{PageType: format.DataPage, Encoding: format.RLEDictionary, Count: c.dictPages})
		}
		if c.plainPages > 0 {
			md.EncodingStats = append(md.EncodingStats, format.PageEncodingStats{PageType: format.DataPage, Encoding: format.Plain, Count: c.plainPages})
		}
		md.Statistics.NullCount = c.nullCount
		if minV, maxV, ok := c.vals.chunkBounds(); ok && len(minV) <= maxStatsBytes && len(maxV) <= maxStatsBytes {
			md.Statistics.MinValue, md.Statistics.MaxValue = minV, maxV
		}
		for j := range c.index.offset.PageLocations {
			c.index.offset.PageLocations[j].Offset += md.DataPageOffset
		}
		idx[i] = c.index
		rg.Columns = append(rg.Columns, format.ColumnChunk{FileOffset: start, MetaData: md})
		rg.TotalByteSize += md.TotalUncompressedSize
		rg.TotalCompressedSize += md.TotalCompressedSize
		c.reset()
	}
	e.groups = append(e.groups, rg)
	e.indexes = append(e.indexes, idx)
	e.groupRows, e.groupBase = 0, e.size()
	return nil
}

func (e *pageEncoder) footer() error {
	enc := thrift.NewEncoder(e.proto.NewWriter(e.out))
	for i := range e.groups {
		for j := range e.groups[i].Columns {
			cc := &e.groups[i].Columns[j]
			if e.indexes[i][j].noColumn {
				continue
			}
			cc.ColumnIndexOffset = e.out.n
			if err := enc.Encode(&e.indexes[i][j].column); err != nil {
				return err
			}
			cc.ColumnIndexLength = int32(e.out.n - cc.ColumnIndexOffset)
		}
	}
	for i := range e.groups {
		for j := range e.groups[i].Columns {
			cc := &e.groups[i].Columns[j]
			cc.OffsetIndexOffset = e.out.n
			if err := enc.Encode(&e.indexes[i][j].offset); err != nil {
				return err
			}
			cc.OffsetIndexLength = int32(e.out.n - cc.OffsetIndexOffset)
		}
	}
	md := format.FileMetaData{
		Version:   2,
		NumRows:   int64(e.rows),
		RowGroups: e.groups,
		CreatedBy: CreatedBy,
	}
	md.Schema = append(md.Schema, format.SchemaElement{Name: "schema"})
	md.Schema[0].NumChildren.Set(int32(len(e.cols)))
	for _, c := range e.cols {
		md.Schema = append(md.Schema, schemaElement(c.name, c.leaf))
		md.ColumnOrders = append(md.ColumnOrders, *c.leaf.Type().ColumnOrder())
	}
	if e.opts.StoreSchema {
		meta := flight.SerializeSchema(e.schema, e.opts.Alloc)
		md.KeyValueMetadata = []format.KeyValue{{Key: "ARROW:schema", Value: base64.StdEncoding.EncodeToString(meta)}}
	}
	start := e.out.n
	if err := enc.Encode(&md); err != nil {
		return err
	}
	var tail [8]byte
	binary.LittleEndian.PutUint32(tail[:4], uint32(e.out.n-start))
	copy(tail[4:], "PAR1")
	_, err := e.out.Write(tail[:])
	return err
}

// schemaElement is the OPTIONAL leaf of the file schema, filled in as
// parquet-go's writer fills it.
func schemaElement(name string, node parquet.Node) format.SchemaElement {
	t := node.Type()
	el := format.SchemaElement{Name: name}
	el.RepetitionType.Set(format.Optional)
	if lt := t.LogicalType(); lt != nil {
		el.LogicalType = *lt
		if d, ok := lt.Value.(*format.DecimalType); ok {
			el.Scale.Set(d.Scale)
			el.Precision.Set(d.Precision)
		}
	}
	if n := int32(t.Length()); n > 0 {
		el.TypeLength.Set(n)
	}
	if p := t.PhysicalType(); p != nil {
		el.Type.Set(*p)
	}
	if ct := t.ConvertedType(); ct != nil {
		el.ConvertedType.Set(*ct)
	}
	return el
}
