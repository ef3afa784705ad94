package parquetfile

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"slices"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding"
)

// leafNode returns the Parquet leaf of an Arrow type, the same physical and
// logical types pqarrow writes (decimals as INT32/INT64 when the precision
// allows, Int16 as INT32 annotated INT(16, true)), or ok=false for a type
// this encoder does not write.
func leafNode(dt arrow.DataType) (n parquet.Node, ok bool) {
	switch t := dt.(type) {
	case *arrow.StringType:
		return parquet.String(), true
	case *arrow.BinaryType:
		return parquet.Leaf(parquet.ByteArrayType), true
	case *arrow.BooleanType:
		return parquet.Leaf(parquet.BooleanType), true
	case *arrow.Int16Type:
		return parquet.Int(16), true
	case *arrow.Int32Type:
		return parquet.Int(32), true
	case *arrow.Int64Type:
		return parquet.Int(64), true
	case *arrow.Float32Type:
		return parquet.Leaf(parquet.FloatType), true
	case *arrow.Float64Type:
		return parquet.Leaf(parquet.DoubleType), true
	case *arrow.Decimal128Type:
		p, s := int(t.Precision), int(t.Scale)
		switch {
		case p < 1 || p > 38:
			return nil, false
		case p <= 9:
			return parquet.Decimal(s, p, parquet.Int32Type), true
		case p <= 18:
			return parquet.Decimal(s, p, parquet.Int64Type), true
		}
		return parquet.Decimal(s, p, parquet.FixedLenByteArrayType(decimalBytes(p))), true
	case *arrow.TimestampType:
		if t.Unit != arrow.Microsecond {
			return nil, false
		}
		return parquet.TimestampAdjusted(parquet.Microsecond, t.TimeZone != ""), true
	}
	return nil, false
}

// decimalBytes is the fewest bytes that hold every two's complement value
// of precision p, as Parquet's FIXED_LEN_BYTE_ARRAY decimals are sized.
func decimalBytes(p int) int {
	for n := 1; ; n++ {
		// 2^(8n-1) > 10^p ⇔ (8n-1)·log10(2) > p
		if float64(8*n-1)*0.30102999566398120 > float64(p) {
			return n
		}
	}
}

// appendValues appends the values of arr[lo:hi] for leaf column col to dst:
// definition level 1 for a value, 0 for a NULL. Byte values alias arr's
// buffers; the column buffers copy them. scratch holds the big-endian bytes
// of wide decimals and is returned grown.
func appendValues(dst []parquet.Value, scratch []byte, arr arrow.Array, lo, hi, col int) ([]parquet.Value, []byte) {
	null := parquet.NullValue().Level(0, 0, col)
	nulls := arr.NullN() > 0
	switch a := arr.(type) {
	case *array.String:
		dst = appendByteArrays(dst, arr, a.ValueOffsets(), a.ValueBytes(), lo, hi, col)
	case *array.Binary:
		dst = appendByteArrays(dst, arr, a.ValueOffsets(), a.ValueBytes(), lo, hi, col)
	case *array.Boolean:
		for i := lo; i < hi; i++ {
			if nulls && arr.IsNull(i) {
				dst = append(dst, null)
				continue
			}
			dst = append(dst, parquet.BooleanValue(a.Value(i)).Level(0, 1, col))
		}
	case *array.Int16:
		v := a.Int16Values()
		tmpl := parquet.Int32Value(0).Level(0, 1, col)
		for i := lo; i < hi; i++ {
			if nulls && arr.IsNull(i) {
				dst = append(dst, null)
				continue
			}
			dst = append(dst, withBits(tmpl, uint64(v[i])))
		}
	case *array.Int32:
		v := a.Int32Values()
		tmpl := parquet.Int32Value(0).Level(0, 1, col)
		for i := lo; i < hi; i++ {
			if nulls && arr.IsNull(i) {
				dst = append(dst, null)
				continue
			}
			dst = append(dst, withBits(tmpl, uint64(v[i])))
		}
	case *array.Int64:
		v := a.Int64Values()
		tmpl := parquet.Int64Value(0).Level(0, 1, col)
		for i := lo; i < hi; i++ {
			if nulls && arr.IsNull(i) {
				dst = append(dst, null)
				continue
			}
			dst = append(dst, withBits(tmpl, uint64(v[i])))
		}
	case *array.Float32:
		v := a.Float32Values()
		tmpl := parquet.FloatValue(0).Level(0, 1, col)
		for i := lo; i < hi; i++ {
			if nulls && arr.IsNull(i) {
				dst = append(dst, null)
				continue
			}
			dst = append(dst, withBits(tmpl, uint64(math.Float32bits(v[i]))))
		}
	case *array.Float64:
		v := a.Float64Values()
		tmpl := parquet.DoubleValue(0).Level(0, 1, col)
		for i := lo; i < hi; i++ {
			if nulls && arr.IsNull(i) {
				dst = append(dst, null)
				continue
			}
			dst = append(dst, withBits(tmpl, math.Float64bits(v[i])))
		}
	case *array.Timestamp:
		v := a.TimestampValues()
		tmpl := parquet.Int64Value(0).Level(0, 1, col)
		for i := lo; i < hi; i++ {
			if nulls && arr.IsNull(i) {
				dst = append(dst, null)
				continue
			}
			dst = append(dst, withBits(tmpl, uint64(v[i])))
		}
	case *array.Decimal128:
		p := int(a.DataType().(*arrow.Decimal128Type).Precision)
		if p <= 18 {
			for i := lo; i < hi; i++ {
				if nulls && arr.IsNull(i) {
					dst = append(dst, null)
					continue
				}
				v := int64(a.Value(i).LowBits())
				if p <= 9 {
					dst = append(dst, parquet.Int32Value(int32(v)).Level(0, 1, col))
				} else {
					dst = append(dst, parquet.Int64Value(v).Level(0, 1, col))
				}
			}
			break
		}
		n := decimalBytes(p)
		scratch = scratch[:0]
		if need := n * (hi - lo); cap(scratch) < need {
			scratch = make([]byte, 0, need)
		}
		var be [16]byte
		for i := lo; i < hi; i++ {
			if nulls && arr.IsNull(i) {
				dst = append(dst, null)
				continue
			}
			v := a.Value(i)
			binary.BigEndian.PutUint64(be[:8], uint64(v.HighBits()))
			binary.BigEndian.PutUint64(be[8:], v.LowBits())
			start := len(scratch)
			scratch = append(scratch, be[16-n:]...)
			dst = append(dst, parquet.FixedLenByteArrayValue(scratch[start:]).Level(0, 1, col))
		}
	default:
		panic(fmt.Sprintf("parquetfile: no column encoder for %s", arr.DataType()))
	}
	return dst, scratch
}

// appendByteArrays appends the values of a String or Binary array.
func appendByteArrays(dst []parquet.Value, arr arrow.Array, offs []int32, data []byte, lo, hi, col int) []parquet.Value {
	null := parquet.NullValue().Level(0, 0, col)
	tmpl := parquet.ByteArrayValue(nil).Level(0, 1, col)
	nulls := arr.NullN() > 0
	base := offs[0]
	n := len(dst)
	dst = slices.Grow(dst, hi-lo)[:n+hi-lo]
	out := dst[n:]
	for i := lo; i < hi; i++ {
		if nulls && arr.IsNull(i) {
			out[i-lo] = null
			continue
		}
		out[i-lo] = withBytes(tmpl, data[offs[i]-base:offs[i+1]-base])
	}
	return dst
}

// value mirrors the layout of parquet.Value (checked by checkValueLayout)
// so that a value can be made from a template that already carries its
// levels: parquet.Value.Level is not inlined and costs more than the rest
// of a value's construction.
type value struct {
	ptr             *byte
	u64             uint64
	kind            int8
	definitionLevel byte
	repetitionLevel byte
	columnIndex     uint16
}

func withBytes(t parquet.Value, b []byte) parquet.Value {
	v := (*value)(unsafe.Pointer(&t))
	v.ptr, v.u64 = unsafe.SliceData(b), uint64(len(b))
	return t
}

func withBits(t parquet.Value, u uint64) parquet.Value {
	(*value)(unsafe.Pointer(&t)).u64 = u
	return t
}

// group is the root of a file's schema: the Arrow fields in their order
// (parquet.Group would sort them by name).
type group []parquet.Field

func (g group) ID() int                     { return 0 }
func (g group) String() string              { return "group" }
func (g group) Type() parquet.Type          { return parquet.Group{}.Type() }
func (g group) Optional() bool              { return false }
func (g group) Repeated() bool              { return false }
func (g group) Required() bool              { return true }
func (g group) Leaf() bool                  { return false }
func (g group) Fields() []parquet.Field     { return g }
func (g group) Encoding() encoding.Encoding { return nil }
func (g group) Compression() compress.Codec { return nil }
func (g group) GoType() reflect.Type        { return reflect.TypeOf(map[string]any{}) }

// field is one named column of a group.
type field struct {
	parquet.Node
	name string
}

func (f field) Name() string { return f.name }
func (f field) Value(base reflect.Value) reflect.Value {
	return base.MapIndex(reflect.ValueOf(&f.name).Elem())
}
