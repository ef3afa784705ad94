package pgsource

import (
	"slices"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// bytesColumn collects a string or bytea column in Go slices and hands them
// to Arrow as the array's buffers: an append is two slice appends, where an
// Arrow BinaryBuilder checks and grows three buffers per value. Each batch
// gets new slices (the array keeps the old ones), sized like the last.
type bytesColumn struct {
	typ   arrow.DataType
	offs  []int32 // len(offs) = values + 1
	data  []byte
	valid []byte // validity bitmap; nil while no value is NULL
	nulls int
}

func newBytesColumn(typ arrow.DataType) *bytesColumn {
	return &bytesColumn{typ: typ, offs: make([]int32, 1, 1024)}
}

func (c *bytesColumn) len() int { return len(c.offs) - 1 }

// append adds a value. The slices are re-sliced in place, not reassigned
// from append: storing a slice's pointer into the heap costs a GC write
// barrier, two per value while a collection runs (10% of the decoder's
// CPU in BenchmarkDecodeLineitem).
func (c *bytesColumn) append(b []byte) {
	if c.valid != nil {
		c.setValid(c.len())
	}
	n := len(c.data)
	if cap(c.data)-n < len(b) {
		c.data = slices.Grow(c.data, len(b))
	}
	c.data = c.data[:n+len(b)]
	copy(c.data[n:], b)
	m := len(c.offs)
	if m == cap(c.offs) {
		c.offs = slices.Grow(c.offs, 1)
	}
	c.offs = c.offs[:m+1]
	c.offs[m] = int32(n + len(b))
}

func (c *bytesColumn) appendNull() {
	n := c.len()
	if c.valid == nil {
		c.valid = make([]byte, 0, cap(c.offs)/8+1)
		for i := range n {
			c.setValid(i)
		}
	}
	c.grow(n)
	c.offs = append(c.offs, int32(len(c.data)))
	c.nulls++
}

// grow makes the bitmap cover row i.
func (c *bytesColumn) grow(i int) {
	for len(c.valid) <= i/8 {
		c.valid = append(c.valid, 0)
	}
}

func (c *bytesColumn) setValid(i int) {
	c.grow(i)
	c.valid[i/8] |= 1 << (i % 8)
}

// newArray returns the values as an array and starts new slices.
func (c *bytesColumn) newArray() arrow.Array {
	n := c.len()
	var valid *memory.Buffer
	if c.valid != nil {
		valid = memory.NewBufferBytes(c.valid)
	}
	offs := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(c.offs))), 4*len(c.offs))
	data := array.NewData(c.typ, n, []*memory.Buffer{valid, memory.NewBufferBytes(offs), memory.NewBufferBytes(c.data)}, nil, c.nulls, 0)
	defer data.Release()
	a := array.MakeFromData(data)
	c.offs = append(make([]int32, 0, cap(c.offs)), 0)
	c.data = make([]byte, 0, cap(c.data))
	c.valid, c.nulls = nil, 0
	return a
}
