package mysqlsource

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestColumns builds arrays with the Go slice columns and with Arrow's
// builders from the same values and NULLs, over two batches each.
func TestColumns(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, nullEvery := range []int{0, 1, 2, 7, 1000} {
		for _, n := range []int{0, 1, 8, 9, 1500, 3000} {
			t.Run(fmt.Sprintf("null every %d, %d rows", nullEvery, n), func(t *testing.T) {
				str, bin := newBytesColumn(arrow.BinaryTypes.String), newBytesColumn(arrow.BinaryTypes.Binary)
				i16 := newFixedColumn[int16](arrow.PrimitiveTypes.Int16)
				dtyp := &arrow.Decimal128Type{Precision: 38, Scale: 2}
				dec := newFixedColumn[decimal128.Num](dtyp)
				ts := newFixedColumn[arrow.Timestamp](&arrow.TimestampType{Unit: arrow.Microsecond})
				mine := []builder{str, bin, i16, dec, ts}
				for batch := range 2 {
					sb, bb := array.NewStringBuilder(memory.DefaultAllocator), array.NewBinaryBuilder(memory.DefaultAllocator, arrow.BinaryTypes.Binary)
					ib := array.NewInt16Builder(memory.DefaultAllocator)
					db := array.NewDecimal128Builder(memory.DefaultAllocator, dtyp)
					tb := array.NewTimestampBuilder(memory.DefaultAllocator, &arrow.TimestampType{Unit: arrow.Microsecond})
					theirs := []array.Builder{sb, bb, ib, db, tb}
					for i := range n + batch {
						if nullEvery > 0 && (i+batch)%nullEvery == 0 {
							for j := range mine {
								mine[j].appendNull()
								theirs[j].AppendNull()
							}
							continue
						}
						v := r.Int64()
						s := fmt.Sprint(v)[:r.IntN(10)]
						str.append([]byte(s))
						sb.Append(s)
						bin.append([]byte(s))
						bb.Append([]byte(s))
						i16.append(int16(v))
						ib.Append(int16(v))
						dec.append(decimal128.New(v, uint64(v)))
						db.Append(decimal128.New(v, uint64(v)))
						ts.append(arrow.Timestamp(v))
						tb.Append(arrow.Timestamp(v))
					}
					for j := range mine {
						got, want := mine[j].newArray(), theirs[j].NewArray()
						if err := array.ValidateFull(got); err != nil {
							t.Errorf("batch %d, %s: %v", batch, got.DataType(), err)
						}
						if !array.Equal(got, want) {
							t.Errorf("batch %d, %s:\n%v\nwant\n%v", batch, got.DataType(), got, want)
						}
						got.Release()
						want.Release()
						theirs[j].Release()
					}
				}
			})
		}
	}
}
