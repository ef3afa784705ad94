package mysqlsource

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

func TestParseDecimal(t *testing.T) {
	for _, c := range []struct {
		in    string
		scale int32
		want  string
	}{
		{"0", 0, "0"},
		{"-0.00", 2, "0.00"},
		{"123.45", 2, "123.45"},
		{"-123.4", 2, "-123.40"},
		{"12", 3, "12.000"},
		{"99999999999999999999", 0, "99999999999999999999"},
		{"9999999999999999999999999999.9999999999", 10, "9999999999999999999999999999.9999999999"},
		{"-99999999999999999999999999999999999999", 0, "-99999999999999999999999999999999999999"},
		{"123456789012345678.0123456789", 10, "123456789012345678.0123456789"},
		{"1", 30, "1.000000000000000000000000000000"},
	} {
		n, err := parseDecimal([]byte(c.in), c.scale)
		if err != nil || n.ToString(c.scale) != c.want {
			t.Errorf("parseDecimal(%q, %d) = %s, %v; want %s", c.in, c.scale, n.ToString(c.scale), err, c.want)
		}
	}
	for _, bad := range []string{"", "-", "1.2.3", "1e5", "abc", "1.234", "123456789012345678901234567890123456789"} {
		if _, err := parseDecimal([]byte(bad), 2); !errors.Is(err, errValue) {
			t.Errorf("parseDecimal(%q): %v", bad, err)
		}
	}
	_ = decimal128.Num{}
}

func TestParseDateTime(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"1970-01-01 00:00:00", time.Unix(0, 0), true},
		{"2024-02-29 12:34:56.5", time.Date(2024, 2, 29, 12, 34, 56, 500000000, time.UTC), true},
		{"9999-12-31 23:59:59.999999", time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC), true},
		{"0000-01-01 00:00:00", time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"1000-03-01 00:00:00.000001", time.Date(1000, 3, 1, 0, 0, 0, 1000, time.UTC), true},
		{"0000-00-00 00:00:00", time.Time{}, false},
		{"2024-01-00 10:00:00", time.Time{}, false},
		{"2023-02-29 00:00:00", time.Time{}, false},
		{"2024-13-01 00:00:00", time.Time{}, false},
		{"2024-01-01 24:00:00", time.Time{}, false},
		{"2024-01-01 00:00:00.", time.Time{}, false},
		{"2024-01-01 00:00:00.1234567", time.Time{}, false},
		{"2024-01-01", time.Time{}, false},
	} {
		us, ok := parseDateTime([]byte(c.in))
		if ok != c.ok || ok && us != c.want.UnixMicro() {
			t.Errorf("parseDateTime(%q) = %d, %v; want %d, %v", c.in, us, ok, c.want.UnixMicro(), c.ok)
		}
	}
	// Every day of four centuries against the standard library.
	for d := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() < 2300; d = d.AddDate(0, 0, 1) {
		days, ok := parseDate([]byte(d.Format("2006-01-02")))
		if !ok || days*86400 != d.Unix() {
			t.Fatalf("parseDate(%s) = %d, %v", d.Format("2006-01-02"), days, ok)
		}
	}
}

func TestCleanVersion(t *testing.T) {
	for in, want := range map[string]string{
		"10.11.9-MariaDB-0+deb12u1": "10.11.9",
		"8.0.39":                    "8.0.39",
		"8.0.39-log":                "8.0.39",
		"5.7.44-0ubuntu0.18.04.1":   "5.7.44",
		" 11.4.2-MariaDB-log ":      "11.4.2",
	} {
		if got := cleanVersion(in); got != want {
			t.Errorf("cleanVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDecimalExported(t *testing.T) {
	for p, want := range map[int32]string{
		1: "int32", 9: "int32", 10: "int64", 18: "int64", 19: "fixed_len_byte_array(9)",
		20: "fixed_len_byte_array(9)", 21: "fixed_len_byte_array(9)", 22: "fixed_len_byte_array(10)", 38: "fixed_len_byte_array(16)",
	} {
		if got := decimalExported(p); got != want {
			t.Errorf("decimalExported(%d) = %q, want %q", p, got, want)
		}
	}
	// The width the Parquet writer uses.
	for p := int32(19); p <= 38; p++ {
		if got, want := decimalBytes(p), int(pqarrow.DecimalSize(p)); got != want {
			t.Errorf("decimalBytes(%d) = %d, pqarrow %d", p, got, want)
		}
	}
}

func TestParseURL(t *testing.T) {
	cfg, err := parseURL("mysql://u%40x:p%2Fw@db.example:3307/ignored?tls=skip-verify&timeout=5s", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.User != "u@x" || cfg.Passwd != "p/w" || cfg.Addr != "db.example:3307" || cfg.TLSConfig != "skip-verify" ||
		cfg.Timeout != 5*time.Second || cfg.ParseTime || cfg.InterpolateParams || cfg.Params["time_zone"] != "'+00:00'" {
		t.Errorf("config %+v", cfg)
	}
	cfg, err = parseURL("mysql://root@[::1]/", time.Minute)
	if err != nil || cfg.Addr != "[::1]:3306" || cfg.TLSConfig != "" || cfg.Timeout != time.Minute {
		t.Errorf("config %+v, %v", cfg, err)
	}
}

func TestRangeBounds(t *testing.T) {
	const lo, hi = math.MinInt64, math.MaxInt64
	for _, c := range []struct {
		lo, hi int64
		n      int
		want   []int64
	}{
		{0, 99, 4, []int64{0, 25, 50, 75}},
		{1, 100, 2, []int64{1, 51}},
		{-128, 127, 4, []int64{-128, -64, 0, 64}},
		{lo, hi, 4, []int64{lo, -1 << 62, 0, 1 << 62}},
		{lo, hi, 2, []int64{lo, 0}},
		{lo, lo + 1, 8, []int64{lo, lo + 1}},
		{hi - 3, hi, 8, []int64{hi - 3, hi - 2, hi - 1, hi}},
		{3, 5, 8, []int64{3, 4, 5}},
		{-1, 0, 4, []int64{-1, 0}},
		{5, 5, 4, nil},
		{0, 100, 1, nil},
		{7, 3, 4, nil},
	} {
		if got := rangeBounds(c.lo, c.hi, c.n); !slices.Equal(got, c.want) {
			t.Errorf("rangeBounds(%d, %d, %d) = %v, want %v", c.lo, c.hi, c.n, got, c.want)
		}
	}
	// Bounds rise strictly from lo and stay within hi, so every range
	// holds keys.
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		a, b := int64(r.Uint64()), int64(r.Uint64()>>r.UintN(64))
		a, b = min(a, b), max(a, b)
		n := 2 + r.IntN(16)
		got := rangeBounds(a, b, n)
		if a == b {
			continue
		}
		if len(got) < 2 || len(got) > n || got[0] != a || got[len(got)-1] > b ||
			!slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
			t.Fatalf("rangeBounds(%d, %d, %d) = %v", a, b, n, got)
		}
	}
}

func TestInt64Key(t *testing.T) {
	for _, c := range []struct {
		dataType, columnType string
		want                 bool
	}{
		{"tinyint", "tinyint(4)", true},
		{"tinyint", "tinyint(3) unsigned", true},
		{"smallint", "smallint(5) unsigned", true},
		{"mediumint", "mediumint(8) unsigned", true},
		{"int", "int(10) unsigned zerofill", true},
		{"bigint", "bigint(20)", true},
		{"bigint", "bigint(20) unsigned", false},
		{"bigint", "BIGINT UNSIGNED", false},
		{"decimal", "decimal(10,0)", false},
		{"varchar", "varchar(10)", false},
		{"bit", "bit(8)", false},
		{"year", "year(4)", false},
	} {
		if got := int64Key(mysqlType{dataType: c.dataType, columnType: c.columnType}); got != c.want {
			t.Errorf("int64Key(%s) = %v, want %v", c.columnType, got, c.want)
		}
	}
}

func TestParseInt(t *testing.T) {
	for _, s := range []string{"0", "-0", "7", "-7", "00042", "-00042", "9223372036854775807", "-9223372036854775808",
		"0009223372036854775807", "9223372036854775808", "-9223372036854775809", "18446744073709551616",
		"99999999999999999999", "", "-", "+1", "1.5", "1e3", " 1", "12a"} {
		want, err := strconv.ParseInt(s, 10, 64)
		if s == "+1" {
			err = errValue // the server never sends a sign for positive numbers
		}
		got, ok := parseInt([]byte(s))
		if ok != (err == nil) || ok && got != want {
			t.Errorf("parseInt(%q) = %d, %v; want %d, %v", s, got, ok, want, err)
		}
	}
	for _, s := range []string{"0", "18446744073709551615", "00018446744073709551615", "18446744073709551616", "", "-1", "1x"} {
		want, err := strconv.ParseUint(s, 10, 64)
		got, ok := parseUint([]byte(s))
		if ok != (err == nil) || ok && got != want {
			t.Errorf("parseUint(%q) = %d, %v; want %d, %v", s, got, ok, want, err)
		}
	}
}

func TestNextValue(t *testing.T) {
	long := bytes.Repeat([]byte("y"), 300)
	row := slices.Concat([]byte{0xfb, 0}, []byte{3}, []byte("abc"), []byte{0xfc, 44, 1}, long,
		[]byte{0xfd, 2, 0, 0, 'h', 'i'}, []byte{0xfe, 1, 0, 0, 0, 0, 0, 0, 0, 'z'})
	// split cuts a packet into values like decoder.packet.
	split := func(data []byte) ([][]byte, bool) {
		var vals [][]byte
		for pos := 0; pos < len(data); {
			v, next, ok := nextValue(data, pos)
			if !ok {
				return vals, false
			}
			vals, pos = append(vals, v), next
		}
		return vals, true
	}
	vals, ok := split(row)
	want := [][]byte{nil, {}, []byte("abc"), long, []byte("hi"), []byte("z")}
	if !ok || len(vals) != len(want) {
		t.Fatalf("%d values, %v", len(vals), ok)
	}
	for i := range want {
		if (vals[i] == nil) != (want[i] == nil) || !bytes.Equal(vals[i], want[i]) {
			t.Errorf("value %d = %q, want %q", i, vals[i], want[i])
		}
	}
	for _, bad := range [][]byte{
		row[:len(row)-1],                       // truncated value
		{0xfc, 1},                              // truncated length
		{0xff},                                 // not a length
		{0xfe, 0, 0, 0, 0, 0, 0, 0, 0x80, 'x'}, // a length beyond the packet
	} {
		if _, ok := split(bad); ok {
			t.Errorf("split(% x) ok", bad)
		}
	}
}

// TestDecoderPacket checks that a row packet must hold one value per
// column, no more, no less.
func TestDecoderPacket(t *testing.T) {
	plan := &tablePlan{
		schema: arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.BinaryTypes.String, Nullable: true},
			{Name: "b", Type: arrow.PrimitiveTypes.Int32, Nullable: true}}, nil),
		kinds:  []colKind{kindString, kindInt32},
		scales: []int32{0, 0},
	}
	// Each case gets a new decoder: a failed row is left half appended
	// (the read then fails as a whole).
	newDec := func() *decoder { return newDecoder(plan, func(arrow.RecordBatch) error { return nil }, nil) }
	for _, c := range []struct {
		row []byte
		err error
	}{
		{[]byte{1, 'x', 2, '4', '2'}, nil},
		{[]byte{0xfb, 0xfb}, nil},
		{[]byte{1, 'x'}, errProtocol},               // one value short
		{[]byte{1, 'x', 1, '1', 0xfb}, errProtocol}, // one value too many
		{[]byte{1, 'x', 2, '4', 'z'}, errValue},     // not a number
		{[]byte{1, 'x', 3, '4', '2'}, errProtocol},  // a length beyond the packet
	} {
		d := newDec()
		if err := d.packet(c.row); !errors.Is(err, c.err) {
			t.Errorf("packet(% x) = %v, want %v", c.row, err, c.err)
		}
		if err := d.finish(); c.err == nil && (err != nil || d.rows != 0) {
			t.Errorf("finish: %v", err)
		}
		d.release()
	}
}
