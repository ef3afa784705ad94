package parquetfile

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

// columnValues encodes the non-NULL values of one column: PLAIN, or as
// indexes into a dictionary it keeps for the row group, and keeps their
// bounds per page and per column chunk. levels, when not nil, are the
// definition levels of the rows lo..hi (0: NULL, skipped).
type columnValues interface {
	addPlain(dst []byte, arr arrow.Array, lo, hi int, levels []byte) []byte
	addIndexes(dst []int32, arr arrow.Array, lo, hi int, levels []byte) []int32
	// pageBounds returns the PLAIN-encoded min and max of the page just
	// buffered (for a dictionary page, of the entries it used), ok=false
	// when it has no non-NULL value, and starts the next page.
	pageBounds(dict bool, idx []int32) (lo, hi []byte, ok bool)
	// chunkBounds returns the bounds of the pages of the column chunk.
	chunkBounds() (lo, hi []byte, ok bool)
	dictLen() int
	dictBytes() int64 // the PLAIN size of the dictionary
	appendDict(dst []byte) []byte
	// resetDict empties the dictionary and the chunk's bounds.
	resetDict()
}

func newColumnValues(dt arrow.DataType) columnValues {
	switch t := dt.(type) {
	case *arrow.StringType, *arrow.BinaryType:
		return &byteArrays{}
	case *arrow.BooleanType:
		return &booleans{}
	case *arrow.Int16Type:
		return newNumbers(func(arr arrow.Array, lo, hi int, buf []int32) []int32 {
			for _, v := range arr.(*array.Int16).Int16Values()[lo:hi] {
				buf = append(buf, int32(v))
			}
			return buf
		})
	case *arrow.Int32Type:
		return newNumbers(func(arr arrow.Array, lo, hi int, _ []int32) []int32 {
			return arr.(*array.Int32).Int32Values()[lo:hi]
		})
	case *arrow.Int64Type:
		return newNumbers(func(arr arrow.Array, lo, hi int, _ []int64) []int64 {
			return arr.(*array.Int64).Int64Values()[lo:hi]
		})
	case *arrow.Float32Type:
		return newNumbers(func(arr arrow.Array, lo, hi int, _ []float32) []float32 {
			return arr.(*array.Float32).Float32Values()[lo:hi]
		})
	case *arrow.Float64Type:
		return newNumbers(func(arr arrow.Array, lo, hi int, _ []float64) []float64 {
			return arr.(*array.Float64).Float64Values()[lo:hi]
		})
	case *arrow.TimestampType:
		return newNumbers(func(arr arrow.Array, lo, hi int, _ []int64) []int64 {
			ts := arr.(*array.Timestamp).TimestampValues()[lo:hi]
			return unsafe.Slice((*int64)(unsafe.SliceData(ts)), len(ts))
		})
	case *arrow.Decimal128Type:
		switch p := int(t.Precision); {
		case p <= 9:
			return newNumbers(func(arr arrow.Array, lo, hi int, buf []int32) []int32 {
				for _, v := range arr.(*array.Decimal128).Values()[lo:hi] {
					buf = append(buf, int32(v.LowBits()))
				}
				return buf
			})
		case p <= 18:
			return newNumbers(func(arr arrow.Array, lo, hi int, buf []int64) []int64 {
				for _, v := range arr.(*array.Decimal128).Values()[lo:hi] {
					buf = append(buf, int64(v.LowBits()))
				}
				return buf
			})
		default:
			return &wideDecimals{size: decimalBytes(p), m: map[decimal128.Num]int32{}}
		}
	}
	panic(fmt.Sprintf("parquetfile: no column encoder for %s", dt))
}

type number interface {
	~int32 | ~int64 | ~float32 | ~float64
}

// numbers are the fixed-width values whose PLAIN encoding is their
// little-endian memory: INT32, INT64, FLOAT and DOUBLE.
type numbers[T number] struct {
	get     func(arr arrow.Array, lo, hi int, buf []T) []T
	buf, nn []T // converted and non-NULL values
	m       map[T]int32
	bits    map[uint64]int32 // zeros and NaNs (see special)
	entries []T
	stamp   []uint32 // the last page that used entry i
	page    uint32

	pmin, pmax T
	phas       bool
	cmin, cmax T
	chas       bool
}

func newNumbers[T number](get func(arr arrow.Array, lo, hi int, buf []T) []T) *numbers[T] {
	return &numbers[T]{get: get, m: map[T]int32{}, page: 1}
}

// values returns the non-NULL values of arr[lo:hi].
func (n *numbers[T]) values(arr arrow.Array, lo, hi int, levels []byte) []T {
	if cap(n.buf) < hi-lo {
		n.buf, n.nn = make([]T, 0, hi-lo), make([]T, 0, hi-lo)
	}
	vals := n.get(arr, lo, hi, n.buf[:0])
	if levels == nil {
		return vals
	}
	nn := n.nn[:0]
	for i, v := range vals {
		if levels[i] != 0 {
			nn = append(nn, v)
		}
	}
	return nn
}

func (n *numbers[T]) addPlain(dst []byte, arr arrow.Array, lo, hi int, levels []byte) []byte {
	vals := n.values(arr, lo, hi, levels)
	if len(vals) == 0 {
		return dst
	}
	var zero T
	dst = append(dst, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(vals))), len(vals)*int(unsafe.Sizeof(zero)))...)
	i := 0
	if !n.phas {
		for i < len(vals) && vals[i] != vals[i] { // NaN
			i++
		}
		if i == len(vals) {
			return dst
		}
		n.pmin, n.pmax, n.phas = vals[i], vals[i], true
	}
	mn, mx := n.pmin, n.pmax
	for _, v := range vals[i:] {
		// NaN compares false: it is never a bound.
		if v < mn {
			mn = v
		}
		if v > mx {
			mx = v
		}
	}
	n.pmin, n.pmax = mn, mx
	return dst
}

func (n *numbers[T]) addIndexes(dst []int32, arr arrow.Array, lo, hi int, levels []byte) []int32 {
	vals := n.values(arr, lo, hi, levels)
	page := n.page
	for _, v := range vals {
		var id int32
		if v == 0 || v != v {
			id = n.special(v)
		} else {
			var ok bool
			if id, ok = n.m[v]; !ok {
				id = n.insert(v)
				n.m[v] = id
			}
		}
		n.stamp[id] = page
		dst = append(dst, id)
	}
	return dst
}

func (n *numbers[T]) insert(v T) int32 {
	id := int32(len(n.entries))
	n.entries = append(n.entries, v)
	n.stamp = append(n.stamp, 0)
	return id
}

// special is the index of a zero or NaN, by bit pattern: a map keyed by
// float values would merge -0 into +0 and give every NaN its own entry.
func (n *numbers[T]) special(v T) int32 {
	var bits uint64
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&bits)), 8), unsafe.Slice((*byte)(unsafe.Pointer(&v)), unsafe.Sizeof(v)))
	id, ok := n.bits[bits]
	if !ok {
		if n.bits == nil {
			n.bits = map[uint64]int32{}
		}
		id = n.insert(v)
		n.bits[bits] = id
	}
	return id
}

func (n *numbers[T]) pageBounds(dict bool, _ []int32) ([]byte, []byte, bool) {
	if dict {
		for i, s := range n.stamp {
			if v := n.entries[i]; s == n.page && v == v {
				if !n.phas {
					n.pmin, n.pmax, n.phas = v, v, true
				}
				n.pmin, n.pmax = min(n.pmin, v), max(n.pmax, v)
			}
		}
		n.page++
	}
	if !n.phas {
		return nil, nil, false
	}
	mn, mx := n.pmin, n.pmax
	n.phas = false
	if !n.chas {
		n.cmin, n.cmax, n.chas = mn, mx, true
	}
	n.cmin, n.cmax = min(n.cmin, mn), max(n.cmax, mx)
	return numberBytes(mn, true), numberBytes(mx, false), true
}

// numberBytes is v's PLAIN encoding; a float zero bound is -0 as a
// minimum and +0 as a maximum (the Parquet spec's rule for statistics).
func numberBytes[T number](v T, isMin bool) []byte {
	if v == 0 {
		v = 0
		if isMin {
			switch p := any(&v).(type) {
			case *float32:
				*p = float32(negZero)
			case *float64:
				*p = negZero
			}
		}
	}
	return append([]byte(nil), unsafe.Slice((*byte)(unsafe.Pointer(&v)), unsafe.Sizeof(v))...)
}

var negZero = func() float64 { z := 0.0; return -z }()

func (n *numbers[T]) chunkBounds() ([]byte, []byte, bool) {
	if !n.chas {
		return nil, nil, false
	}
	return numberBytes(n.cmin, true), numberBytes(n.cmax, false), true
}

func (n *numbers[T]) dictLen() int { return len(n.entries) }

func (n *numbers[T]) dictBytes() int64 {
	var zero T
	return int64(len(n.entries)) * int64(unsafe.Sizeof(zero))
}

func (n *numbers[T]) appendDict(dst []byte) []byte {
	if len(n.entries) == 0 {
		return dst
	}
	var zero T
	return append(dst, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(n.entries))), len(n.entries)*int(unsafe.Sizeof(zero)))...)
}

func (n *numbers[T]) resetDict() {
	clear(n.m)
	clear(n.bits)
	n.entries, n.stamp, n.page = n.entries[:0], n.stamp[:0], 1
	n.chas, n.phas = false, false
}

// byteArrays are String and Binary values: BYTE_ARRAY, PLAIN-encoded as a
// 4-byte length and the bytes. Bounds compare bytes unsigned.
type byteArrays struct {
	m       map[string]int32
	entries []string
	arena   []byte // the bytes of the entries, in blocks that never move
	size    int64
	stamp   []uint32
	page    uint32

	pmin, pmax []byte // copies: the arrays are not kept
	phas       bool
	cmin, cmax []byte
	chas       bool
}

func offsetsAndData(arr arrow.Array) ([]int32, []byte) {
	switch a := arr.(type) {
	case *array.String:
		return a.ValueOffsets(), a.ValueBytes()
	case *array.Binary:
		return a.ValueOffsets(), a.ValueBytes()
	}
	panic(fmt.Sprintf("parquetfile: not a byte array: %s", arr.DataType()))
}

func (b *byteArrays) addPlain(dst []byte, arr arrow.Array, lo, hi int, levels []byte) []byte {
	offs, data := offsetsAndData(arr)
	base := offs[0]
	if levels == nil {
		// lengths and bytes: at most 4 bytes more per value than the data
		dst = growBytes(dst, int(offs[hi]-offs[lo])+4*(hi-lo))
	}
	for i := lo; i < hi; i++ {
		if levels != nil && levels[i-lo] == 0 {
			continue
		}
		v := data[offs[i]-base : offs[i+1]-base]
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(v)))
		dst = append(dst, v...)
		if !b.phas {
			b.pmin, b.pmax, b.phas = append(b.pmin[:0], v...), append(b.pmax[:0], v...), true
		} else if bytes.Compare(v, b.pmin) < 0 {
			b.pmin = append(b.pmin[:0], v...)
		} else if bytes.Compare(v, b.pmax) > 0 {
			b.pmax = append(b.pmax[:0], v...)
		}
	}
	return dst
}

func growBytes(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		b = append(make([]byte, 0, 2*cap(b)+n), b...)
	}
	return b
}

func (b *byteArrays) addIndexes(dst []int32, arr arrow.Array, lo, hi int, levels []byte) []int32 {
	if b.m == nil {
		b.m, b.page = map[string]int32{}, 1
	}
	offs, data := offsetsAndData(arr)
	base := offs[0]
	page := b.page
	for i := lo; i < hi; i++ {
		if levels != nil && levels[i-lo] == 0 {
			continue
		}
		v := data[offs[i]-base : offs[i+1]-base]
		id, ok := b.m[string(v)]
		if !ok {
			id = int32(len(b.entries))
			s := b.intern(v)
			b.m[s] = id
			b.entries = append(b.entries, s)
			b.stamp = append(b.stamp, 0)
			b.size += 4 + int64(len(v))
		}
		b.stamp[id] = page
		dst = append(dst, id)
	}
	return dst
}

// arenaBlock is the size of a block of dictionary strings.
const arenaBlock = 32 << 10

// intern returns v as a string stored in the arena.
func (b *byteArrays) intern(v []byte) string {
	if len(v) == 0 {
		return ""
	}
	if cap(b.arena)-len(b.arena) < len(v) {
		b.arena = make([]byte, 0, max(arenaBlock, len(v)))
	}
	start := len(b.arena)
	b.arena = append(b.arena, v...)
	return unsafe.String(&b.arena[start], len(v))
}

func (b *byteArrays) pageBounds(dict bool, _ []int32) ([]byte, []byte, bool) {
	if dict {
		var mn, mx string
		has := false
		for i, s := range b.stamp {
			if s != b.page {
				continue
			}
			v := b.entries[i]
			if !has {
				mn, mx, has = v, v, true
			} else if v < mn {
				mn = v
			} else if v > mx {
				mx = v
			}
		}
		b.page++
		if has {
			b.pmin, b.pmax, b.phas = append(b.pmin[:0], mn...), append(b.pmax[:0], mx...), true
		}
	}
	if !b.phas {
		return nil, nil, false
	}
	b.phas = false
	if !b.chas {
		b.cmin, b.cmax, b.chas = append(b.cmin[:0], b.pmin...), append(b.cmax[:0], b.pmax...), true
	} else {
		if bytes.Compare(b.pmin, b.cmin) < 0 {
			b.cmin = append(b.cmin[:0], b.pmin...)
		}
		if bytes.Compare(b.pmax, b.cmax) > 0 {
			b.cmax = append(b.cmax[:0], b.pmax...)
		}
	}
	return append([]byte{}, b.pmin...), append([]byte{}, b.pmax...), true
}

func (b *byteArrays) chunkBounds() ([]byte, []byte, bool) {
	if !b.chas {
		return nil, nil, false
	}
	return append([]byte{}, b.cmin...), append([]byte{}, b.cmax...), true
}

func (b *byteArrays) dictLen() int     { return len(b.entries) }
func (b *byteArrays) dictBytes() int64 { return b.size }

func (b *byteArrays) appendDict(dst []byte) []byte {
	dst = growBytes(dst, int(b.size))
	for _, v := range b.entries {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(v)))
		dst = append(dst, v...)
	}
	return dst
}

func (b *byteArrays) resetDict() {
	clear(b.m)
	// The entries are gone: the last block is reused.
	b.entries, b.stamp, b.page, b.size, b.arena = b.entries[:0], b.stamp[:0], 1, 0, b.arena[:0]
	b.chas, b.phas = false, false
}

// booleans are BOOLEAN values, PLAIN-encoded one bit each; they get no
// dictionary.
type booleans struct {
	nbits         int
	pTrue, pFalse bool
	cTrue, cFalse bool
}

func (b *booleans) addPlain(dst []byte, arr arrow.Array, lo, hi int, levels []byte) []byte {
	a := arr.(*array.Boolean)
	for i := lo; i < hi; i++ {
		if levels != nil && levels[i-lo] == 0 {
			continue
		}
		if b.nbits%8 == 0 {
			dst = append(dst, 0)
		}
		if a.Value(i) {
			dst[len(dst)-1] |= 1 << (b.nbits % 8)
			b.pTrue = true
		} else {
			b.pFalse = true
		}
		b.nbits++
	}
	return dst
}

func (b *booleans) addIndexes([]int32, arrow.Array, int, int, []byte) []int32 {
	panic("parquetfile: booleans have no dictionary")
}

func boolBounds(t, f bool) ([]byte, []byte, bool) {
	if !t && !f {
		return nil, nil, false
	}
	mn, mx := byte(0), byte(1)
	if !f {
		mn = 1
	}
	if !t {
		mx = 0
	}
	return []byte{mn}, []byte{mx}, true
}

func (b *booleans) pageBounds(bool, []int32) ([]byte, []byte, bool) {
	t, f := b.pTrue, b.pFalse
	b.cTrue, b.cFalse = b.cTrue || t, b.cFalse || f
	b.nbits, b.pTrue, b.pFalse = 0, false, false
	return boolBounds(t, f)
}

func (b *booleans) chunkBounds() ([]byte, []byte, bool) { return boolBounds(b.cTrue, b.cFalse) }
func (b *booleans) dictLen() int                        { return 0 }
func (b *booleans) dictBytes() int64                    { return 0 }
func (b *booleans) appendDict(dst []byte) []byte        { return dst }
func (b *booleans) resetDict()                          { b.cTrue, b.cFalse = false, false }

// wideDecimals are decimals of precision 19 to 38: FIXED_LEN_BYTE_ARRAY of
// size bytes, big-endian two's complement; bounds compare signed.
type wideDecimals struct {
	size    int
	m       map[decimal128.Num]int32
	entries []decimal128.Num
	stamp   []uint32
	page    uint32

	pmin, pmax decimal128.Num
	phas       bool
	cmin, cmax decimal128.Num
	chas       bool
}

func (d *wideDecimals) put(dst []byte, v decimal128.Num) []byte {
	var be [16]byte
	binary.BigEndian.PutUint64(be[:8], uint64(v.HighBits()))
	binary.BigEndian.PutUint64(be[8:], v.LowBits())
	return append(dst, be[16-d.size:]...)
}

func (d *wideDecimals) addPlain(dst []byte, arr arrow.Array, lo, hi int, levels []byte) []byte {
	for i, v := range arr.(*array.Decimal128).Values()[lo:hi] {
		if levels != nil && levels[i] == 0 {
			continue
		}
		dst = d.put(dst, v)
		d.bound(v)
	}
	return dst
}

func (d *wideDecimals) bound(v decimal128.Num) {
	if !d.phas {
		d.pmin, d.pmax, d.phas = v, v, true
	} else if v.Less(d.pmin) {
		d.pmin = v
	} else if d.pmax.Less(v) {
		d.pmax = v
	}
}

func (d *wideDecimals) addIndexes(dst []int32, arr arrow.Array, lo, hi int, levels []byte) []int32 {
	if d.page == 0 {
		d.page = 1
	}
	for i, v := range arr.(*array.Decimal128).Values()[lo:hi] {
		if levels != nil && levels[i] == 0 {
			continue
		}
		id, ok := d.m[v]
		if !ok {
			id = int32(len(d.entries))
			d.m[v] = id
			d.entries = append(d.entries, v)
			d.stamp = append(d.stamp, 0)
		}
		d.stamp[id] = d.page
		dst = append(dst, id)
	}
	return dst
}

func (d *wideDecimals) pageBounds(dict bool, _ []int32) ([]byte, []byte, bool) {
	if dict {
		for i, s := range d.stamp {
			if s == d.page {
				d.bound(d.entries[i])
			}
		}
		d.page++
	}
	if !d.phas {
		return nil, nil, false
	}
	d.phas = false
	if !d.chas {
		d.cmin, d.cmax, d.chas = d.pmin, d.pmax, true
	}
	if d.pmin.Less(d.cmin) {
		d.cmin = d.pmin
	}
	if d.cmax.Less(d.pmax) {
		d.cmax = d.pmax
	}
	return d.put(nil, d.pmin), d.put(nil, d.pmax), true
}

func (d *wideDecimals) chunkBounds() ([]byte, []byte, bool) {
	if !d.chas {
		return nil, nil, false
	}
	return d.put(nil, d.cmin), d.put(nil, d.cmax), true
}

func (d *wideDecimals) dictLen() int     { return len(d.entries) }
func (d *wideDecimals) dictBytes() int64 { return int64(len(d.entries) * d.size) }

func (d *wideDecimals) appendDict(dst []byte) []byte {
	for _, v := range d.entries {
		dst = d.put(dst, v)
	}
	return dst
}

func (d *wideDecimals) resetDict() {
	clear(d.m)
	d.entries, d.stamp, d.page = d.entries[:0], d.stamp[:0], 1
	d.chas, d.phas = false, false
}
