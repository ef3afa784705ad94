package pgsource

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func TestUnescape(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{``, ``},
		{`plain`, `plain`},
		{`a\tb\nc\\d\re\bf\fg\vh`, "a\tb\nc\\d\re\bf\fg\vh"},
		{`\101\60\0x`, "A0\x00x"},
		{`\1012`, "A2"},
		{`\x41\x4g\xz`, "A\x04gxz"},
		{`\q\.`, `q.`},
		{`end\`, `end\`},
		{`\N`, `N`},
	} {
		if got := string(unescape(nil, []byte(c.in))); got != c.want {
			t.Errorf("unescape(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestParseInt(t *testing.T) {
	for _, c := range []struct {
		in   string
		bits int
		want int64
		err  bool
	}{
		{"0", 16, 0, false},
		{"-32768", 16, -32768, false},
		{"32768", 16, 0, true},
		{"-2147483648", 32, math.MinInt32, false},
		{"2147483648", 32, 0, true},
		{"-9223372036854775808", 64, math.MinInt64, false},
		{"9223372036854775807", 64, math.MaxInt64, false},
		{"9223372036854775808", 64, 0, true},
		{"", 32, 0, true},
		{"-", 32, 0, true},
		{"1.5", 32, 0, true},
	} {
		got, err := parseInt([]byte(c.in), c.bits)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("parseInt(%q, %d) = %d, %v", c.in, c.bits, got, err)
		}
	}
}

// TestDecoder feeds COPY text in every split and checks the values.
func TestDecoder(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "b", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "i", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "t", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "h", Type: arrow.PrimitiveTypes.Int16, Nullable: true},
	}, nil)
	kinds := []colKind{kindString, kindBinary, kindInt32, kindFloat64, kindBool, kindInt16}
	data := "a\\tb\\\\\t\\\\x00ff5c\t-7\tNaN\tt\t-32768\n" +
		"\\N\t\\N\t\\N\t\\N\t\\N\t\\N\n" +
		"\t\\\\x\t0\t-Infinity\tf\t1\n" +
		"\\\\N\t\\\\001\\\\\\\\z\t1\t1e-300\tt\t2\n"
	for split := 0; split <= len(data); split++ {
		alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
		var recs []arrow.RecordBatch
		var progress int64
		d := newDecoder(alloc, schema, kinds, func(r arrow.RecordBatch) error {
			r.Retain()
			recs = append(recs, r)
			return nil
		}, func(n int64) { progress += n })
		// Split at split, then byte by byte for the rest when split is odd.
		parts := [][]byte{[]byte(data[:split])}
		if split%2 == 1 {
			for i := split; i < len(data); i++ {
				parts = append(parts, []byte{data[i]})
			}
		} else {
			parts = append(parts, []byte(data[split:]))
		}
		for _, p := range parts {
			if _, err := d.Write(p); err != nil {
				t.Fatal(err)
			}
		}
		if err := d.finish(); err != nil {
			t.Fatal(err)
		}
		d.release()
		if len(recs) != 1 || recs[0].NumRows() != 4 || progress != int64(len(data)) {
			t.Fatalf("split %d: %d batches, progress %d", split, len(recs), progress)
		}
		r := recs[0]
		s := r.Column(0).(*array.String)
		if s.Value(0) != "a\tb\\" || !s.IsNull(1) || s.Value(2) != "" || s.Value(3) != `\N` {
			t.Errorf("split %d: strings %v", split, s)
		}
		b := r.Column(1).(*array.Binary)
		if !bytes.Equal(b.Value(0), []byte{0, 0xff, 0x5c}) || !b.IsNull(1) || len(b.Value(2)) != 0 || b.IsNull(2) ||
			!bytes.Equal(b.Value(3), []byte{1, '\\', 'z'}) {
			t.Errorf("split %d: bytes %v", split, b)
		}
		i := r.Column(2).(*array.Int32)
		f := r.Column(3).(*array.Float64)
		bl := r.Column(4).(*array.Boolean)
		h := r.Column(5).(*array.Int16)
		if i.Value(0) != -7 || !i.IsNull(1) || !math.IsNaN(f.Value(0)) || !math.IsInf(f.Value(2), -1) ||
			f.Value(3) != 1e-300 || !bl.Value(0) || bl.Value(2) || h.Value(0) != -32768 || !h.IsNull(1) {
			t.Errorf("split %d: %v %v %v %v", split, i, f, bl, h)
		}
		r.Release()
		alloc.AssertSize(t, 0)
	}
}

func TestDecoder_Errors(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "i", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	kinds := []colKind{kindInt32, kindString}
	errEmit := errors.New("emit")
	for _, c := range []struct {
		name, data string
		emitErr    error
	}{
		{"TooFewFields", "1\n", nil},
		{"BadInt", "x\ty\n", nil},
		{"Unterminated", "1\ty", nil},
		{"Emit", "1\ty\n", errEmit},
	} {
		t.Run(c.name, func(t *testing.T) {
			alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer alloc.AssertSize(t, 0)
			d := newDecoder(alloc, schema, kinds, func(arrow.RecordBatch) error { return c.emitErr }, nil)
			defer d.release()
			_, err := d.Write([]byte(c.data))
			if err == nil {
				err = d.finish()
			}
			if err == nil || (c.emitErr != nil && !errors.Is(err, c.emitErr)) {
				t.Errorf("err %v", err)
			}
			if bytes.Contains([]byte(errString(err)), []byte("y")) && c.name == "BadInt" {
				t.Errorf("error shows row data: %v", err)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestCleanVersion(t *testing.T) {
	for in, want := range map[string]string{
		"15.19 (Debian 15.19-0+deb12u1)":     "15.19",
		"16.4":                               "16.4",
		" 17.0 ":                             "17.0",
		"14.11 (Ubuntu 14.11-1.pgdg22.04+1)": "14.11",
	} {
		if got := cleanVersion(in); got != want {
			t.Errorf("cleanVersion(%q) = %q", in, got)
		}
	}
}

func TestFolderName(t *testing.T) {
	if got := folderName("my schema.ta`b\\le\"x"); got != "my_schema.ta_b_le_x" {
		t.Errorf("folderName = %q", got)
	}
	for _, n := range []string{"a b", "a,b", "a;b", "a{b", "a}b", "a(b", "a)b", "a\nb", "a\tb", "a=b"} {
		if !badColumnName(n) {
			t.Errorf("badColumnName(%q) = false", n)
		}
	}
	if badColumnName("a_b$c.d") {
		t.Error("badColumnName(a_b$c.d) = true")
	}
}
