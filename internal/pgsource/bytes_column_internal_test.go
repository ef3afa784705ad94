package pgsource

import (
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestBytesColumn: values and NULLs in any order come out as the Arrow
// array a StringBuilder would make, batch after batch.
func TestBytesColumn(t *testing.T) {
	c := newBytesColumn(arrow.BinaryTypes.String)
	for _, pattern := range []string{"", "v", "n", "vvvvvvvvvn", "nvvvvvvvvvvvvvvvvn", "vnvnvn", "nnnnnnnnnnnnnnnnnn"} {
		want := array.NewStringBuilder(memory.NewGoAllocator())
		for i, p := range pattern {
			if p == 'n' {
				c.appendNull()
				want.AppendNull()
			} else {
				s := fmt.Sprintf("value %d", i)
				c.append([]byte(s))
				want.Append(s)
			}
		}
		got, w := c.newArray(), want.NewArray()
		if !array.Equal(got, w) || got.NullN() != w.NullN() {
			t.Errorf("%q: got %v (%d NULL), want %v (%d NULL)", pattern, got, got.NullN(), w, w.NullN())
		}
		got.Release()
		w.Release()
		want.Release()
	}
}
