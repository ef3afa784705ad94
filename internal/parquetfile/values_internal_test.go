package parquetfile

import (
	"math"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestNumbers_ZerosAndNaNs: a float dictionary keeps -0 apart from +0 and
// gives one entry per NaN bit pattern, so that the indexes decode to the
// values' bits; bounds skip NaN and widen zeros to -0 and +0.
func TestNumbers_ZerosAndNaNs(t *testing.T) {
	b := array.NewFloat64Builder(memory.NewGoAllocator())
	defer b.Release()
	negZero := math.Copysign(0, -1)
	in := []float64{0, negZero, math.NaN(), math.NaN(), 0, 1.5, negZero}
	b.AppendValues(in, nil)
	arr := b.NewArray()
	defer arr.Release()

	n := newColumnValues(arrow.PrimitiveTypes.Float64).(*numbers[float64])
	idx := n.addIndexes(nil, arr, 0, len(in), nil)
	if want := []int32{0, 1, 2, 2, 0, 3, 1}; !slices.Equal(idx, want) {
		t.Errorf("indexes %v, want %v", idx, want)
	}
	for i, id := range idx {
		if got := n.entries[id]; math.Float64bits(got) != math.Float64bits(in[i]) {
			t.Errorf("value %d: entry %v (%x), want %v (%x)", i, got, math.Float64bits(got), in[i], math.Float64bits(in[i]))
		}
	}
	lo, hi, ok := n.pageBounds(true, idx)
	if !ok || math.Float64frombits(le64(lo)) != 0 || !math.Signbit(math.Float64frombits(le64(lo))) || math.Float64frombits(le64(hi)) != 1.5 {
		t.Errorf("bounds %x %x %v, want -0 and 1.5", lo, hi, ok)
	}
}

func le64(b []byte) uint64 {
	var u uint64
	for i := range 8 {
		u |= uint64(b[i]) << (8 * i)
	}
	return u
}
