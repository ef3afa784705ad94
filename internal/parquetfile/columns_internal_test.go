package parquetfile

import (
	"math"
	"reflect"
	"testing"
	"unsafe"

	"github.com/parquet-go/parquet-go"
)

// TestValueLayout checks that value mirrors parquet.Value field by field,
// and that values made from templates equal those of parquet-go's
// constructors, so that a parquet-go upgrade that changes Value fails here.
func TestValueLayout(t *testing.T) {
	pt, vt := reflect.TypeFor[parquet.Value](), reflect.TypeFor[value]()
	if pt.Size() != vt.Size() || pt.NumField() != vt.NumField() {
		t.Fatalf("parquet.Value: %d bytes, %d fields; mirror: %d bytes, %d fields", pt.Size(), pt.NumField(), vt.Size(), vt.NumField())
	}
	for i := range pt.NumField() {
		p, v := pt.Field(i), vt.Field(i)
		if p.Name != v.Name || p.Type != v.Type || p.Offset != v.Offset {
			t.Errorf("field %d: parquet.Value has %s %s at %d, the mirror %s %s at %d", i, p.Name, p.Type, p.Offset, v.Name, v.Type, v.Offset)
		}
	}
	for _, col := range []int{0, 3, 1000} {
		for _, b := range [][]byte{nil, {}, []byte("x"), []byte("some longer value")} {
			want := parquet.ByteArrayValue(b).Level(0, 1, col)
			got := withBytes(parquet.ByteArrayValue(nil).Level(0, 1, col), b)
			if !reflect.DeepEqual(got, want) || unsafe.SliceData(got.ByteArray()) != unsafe.SliceData(b) {
				t.Errorf("withBytes(%q) = %#v, want %#v", b, got, want)
			}
		}
		for _, n := range []int64{0, 1, -1, math.MaxInt32, math.MinInt32, math.MaxInt64, math.MinInt64} {
			cases := []struct{ got, want parquet.Value }{
				{withBits(parquet.Int64Value(0).Level(0, 1, col), uint64(n)), parquet.Int64Value(n).Level(0, 1, col)},
				{withBits(parquet.Int32Value(0).Level(0, 1, col), uint64(int32(n))), parquet.Int32Value(int32(n)).Level(0, 1, col)},
				{withBits(parquet.Int32Value(0).Level(0, 1, col), uint64(int16(n))), parquet.Int32Value(int32(int16(n))).Level(0, 1, col)},
				{withBits(parquet.FloatValue(0).Level(0, 1, col), uint64(math.Float32bits(float32(n)))), parquet.FloatValue(float32(n)).Level(0, 1, col)},
				{withBits(parquet.DoubleValue(0).Level(0, 1, col), math.Float64bits(float64(n))), parquet.DoubleValue(float64(n)).Level(0, 1, col)},
			}
			for _, c := range cases {
				if !reflect.DeepEqual(c.got, c.want) {
					t.Errorf("%d: got %#v, want %#v", n, c.got, c.want)
				}
			}
		}
	}
}
