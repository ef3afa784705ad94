package mysqlsource

import (
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// The decoder collects each column in Go slices and hands them to Arrow
// as the array's buffers (as pgsource does for text): an append is a
// slice append, where an Arrow builder checks and grows its buffers per
// value, and zeroes them with a memset on top of Go's own zeroing. Each
// batch gets new slices (the array keeps the old ones), sized like the
// last, so nothing is copied as a batch fills. The memory is Go's, not
// the snapshot's allocator's.

// builder is what every column does.
type builder interface {
	appendNull()
	newArray() arrow.Array
}

// validity is a column's validity bitmap, nil while no value is NULL.
type validity struct {
	bits  []byte
	nulls int
}

// valid marks row i valid once the bitmap exists.
func (v *validity) valid(i int) {
	if v.bits != nil {
		v.set(i)
	}
}

// null marks row i (the row after the last) NULL; the first NULL creates
// the bitmap with the rows before it valid.
func (v *validity) null(i, capacity int) {
	if v.bits == nil {
		v.bits = make([]byte, 0, capacity/8+1)
		for j := range i {
			v.set(j)
		}
	}
	v.grow(i)
	v.nulls++
}

func (v *validity) grow(i int) {
	for len(v.bits) <= i/8 {
		v.bits = append(v.bits, 0)
	}
}

func (v *validity) set(i int) {
	v.grow(i)
	v.bits[i/8] |= 1 << (i % 8)
}

// buffer returns the bitmap as an Arrow buffer (nil without NULLs) and
// starts a new one.
func (v *validity) buffer() (*memory.Buffer, int) {
	var b *memory.Buffer
	if v.bits != nil {
		b = memory.NewBufferBytes(v.bits)
	}
	nulls := v.nulls
	v.bits, v.nulls = nil, 0
	return b, nulls
}

// fixed is a Go type laid out in memory as Arrow lays out its type's
// values.
type fixed interface {
	int16 | int32 | int64 | float64 | arrow.Timestamp | decimal128.Num
}

// fixedColumn collects the values of a fixed-width Arrow type.
type fixedColumn[T fixed] struct {
	typ  arrow.DataType
	vals []T
	validity
}

func newFixedColumn[T fixed](typ arrow.DataType) *fixedColumn[T] {
	return &fixedColumn[T]{typ: typ, vals: make([]T, 0, 1024)}
}

func (c *fixedColumn[T]) append(x T) {
	c.valid(len(c.vals))
	c.vals = append(c.vals, x)
}

func (c *fixedColumn[T]) appendNull() {
	c.null(len(c.vals), cap(c.vals))
	var zero T
	c.vals = append(c.vals, zero)
}

func (c *fixedColumn[T]) newArray() arrow.Array {
	n := len(c.vals)
	valid, nulls := c.buffer()
	data := array.NewData(c.typ, n, []*memory.Buffer{valid, memory.NewBufferBytes(asBytes(c.vals))}, nil, nulls, 0)
	defer data.Release()
	c.vals = make([]T, 0, cap(c.vals))
	return array.MakeFromData(data)
}

// bytesColumn collects a string or binary column.
type bytesColumn struct {
	typ  arrow.DataType
	offs []int32 // len(offs) = values + 1
	data []byte
	validity
}

func newBytesColumn(typ arrow.DataType) *bytesColumn {
	return &bytesColumn{typ: typ, offs: make([]int32, 1, 1024)}
}

func (c *bytesColumn) append(b []byte) {
	c.valid(len(c.offs) - 1)
	c.data = append(c.data, b...)
	c.offs = append(c.offs, int32(len(c.data)))
}

func (c *bytesColumn) appendNull() {
	c.null(len(c.offs)-1, cap(c.offs))
	c.offs = append(c.offs, int32(len(c.data)))
}

func (c *bytesColumn) newArray() arrow.Array {
	n := len(c.offs) - 1
	valid, nulls := c.buffer()
	data := array.NewData(c.typ, n, []*memory.Buffer{valid, memory.NewBufferBytes(asBytes(c.offs)), memory.NewBufferBytes(c.data)}, nil, nulls, 0)
	defer data.Release()
	c.offs = append(make([]int32, 0, cap(c.offs)), 0)
	c.data = make([]byte, 0, cap(c.data))
	return array.MakeFromData(data)
}

// asBytes is the memory of s.
func asBytes[T fixed](s []T) []byte {
	var zero T
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*int(unsafe.Sizeof(zero)))
}
