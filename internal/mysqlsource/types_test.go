package mysqlsource_test

import (
	"bytes"
	"database/sql"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/mysqlsource"
)

// typeCase is one column of the types table: its SQL type, the Arrow type
// and manifest entries of spec §9.1/§8.4, and the values of rows 2..5
// (row 1 is all NULL) as SQL literals.
type typeCase struct {
	col, sqlType string
	arrow        arrow.DataType
	originalType string
	expected     string
	values       [4]string
}

var (
	tsUTC  = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	tsNoTZ = &arrow.TimestampType{Unit: arrow.Microsecond}
)

var typeCases = []typeCase{
	{"c_bigint", "BIGINT", arrow.PrimitiveTypes.Int64, "bigint", "int64",
		[4]string{"9223372036854775807", "-9223372036854775808", "0", "-1"}},
	{"c_ubigint", "BIGINT UNSIGNED", &arrow.Decimal128Type{Precision: 20, Scale: 0}, "bigint", "fixed_len_byte_array(9)",
		[4]string{"18446744073709551615", "0", "9223372036854775808", "1"}},
	{"c_int", "INT", arrow.PrimitiveTypes.Int32, "int", "int32",
		[4]string{"2147483647", "-2147483648", "0", "-1"}},
	{"c_uint", "INT UNSIGNED", arrow.PrimitiveTypes.Int64, "int", "int64",
		[4]string{"4294967295", "0", "2147483648", "1"}},
	{"c_mediumint", "MEDIUMINT", arrow.PrimitiveTypes.Int32, "mediumint", "int32",
		[4]string{"8388607", "-8388608", "0", "-1"}},
	{"c_umediumint", "MEDIUMINT UNSIGNED", arrow.PrimitiveTypes.Int64, "mediumint", "int64",
		[4]string{"16777215", "0", "1", "2"}},
	{"c_smallint", "SMALLINT", arrow.PrimitiveTypes.Int32, "smallint", "int32",
		[4]string{"32767", "-32768", "0", "-1"}},
	{"c_usmallint", "SMALLINT UNSIGNED", arrow.PrimitiveTypes.Int32, "smallint", "int32",
		[4]string{"65535", "0", "1", "2"}},
	{"c_tinyint", "TINYINT", arrow.PrimitiveTypes.Int32, "tinyint", "int32",
		[4]string{"127", "-128", "0", "-1"}},
	{"c_utinyint", "TINYINT UNSIGNED", arrow.PrimitiveTypes.Int16, "tinyint", "int32",
		[4]string{"255", "0", "1", "128"}},
	{"c_dec9", "DECIMAL(9,2)", &arrow.Decimal128Type{Precision: 9, Scale: 2}, "decimal", "int32",
		[4]string{"9999999.99", "-9999999.99", "0", "-0.01"}},
	{"c_dec18", "DECIMAL(18,4)", &arrow.Decimal128Type{Precision: 18, Scale: 4}, "decimal", "int64",
		[4]string{"99999999999999.9999", "-99999999999999.9999", "0.0001", "-12.5"}},
	{"c_dec38", "DECIMAL(38,10)", &arrow.Decimal128Type{Precision: 38, Scale: 10}, "decimal", "fixed_len_byte_array(16)",
		[4]string{"9999999999999999999999999999.9999999999", "-9999999999999999999999999999.9999999999", "0.0000000001", "-123456789012345678.0123456789"}},
	{"c_dec20", "DECIMAL(20,0)", &arrow.Decimal128Type{Precision: 20, Scale: 0}, "decimal", "fixed_len_byte_array(9)",
		[4]string{"99999999999999999999", "-99999999999999999999", "0", "1"}},
	{"c_dec65", "DECIMAL(65,30)", arrow.BinaryTypes.String, "decimal", "binary (UTF8)",
		[4]string{"99999999999999999999999999999999999.999999999999999999999999999999", "-99999999999999999999999999999999999.999999999999999999999999999999", "-0.000000000000000000000000000001", "0"}},
	{"c_numeric", "NUMERIC(5,0)", &arrow.Decimal128Type{Precision: 5, Scale: 0}, "decimal", "int32",
		[4]string{"99999", "-99999", "0", "1"}},
	{"c_float", "FLOAT", arrow.PrimitiveTypes.Float64, "float", "double",
		[4]string{"3.40282e38", "-1.17549e-38", "0.1", "-2.5"}},
	{"c_double", "DOUBLE", arrow.PrimitiveTypes.Float64, "double", "double",
		[4]string{"1.7976931348623157e308", "-2.2250738585072014e-308", "0.1", "-1e-300"}},
	{"c_bit1", "BIT(1)", arrow.BinaryTypes.Binary, "bit", "binary",
		[4]string{"b'1'", "b'0'", "b'1'", "b'0'"}},
	{"c_bit64", "BIT(64)", arrow.BinaryTypes.Binary, "bit", "binary",
		[4]string{"0xFFFFFFFFFFFFFFFF", "0", "b'101'", "0x8000000000000000"}},
	{"c_binary", "BINARY(4)", arrow.BinaryTypes.Binary, "binary", "binary",
		[4]string{"0x00FF0102", "''", "0xE9", "'ab'"}},
	{"c_varbinary", "VARBINARY(10)", arrow.BinaryTypes.Binary, "varbinary", "binary",
		[4]string{"0x00", "''", "0xE9E8", "0x0A0D09"}},
	{"c_blob", "BLOB", arrow.BinaryTypes.Binary, "blob", "binary",
		[4]string{"REPEAT(0xAB, 70000 DIV 2)", "''", "0x00", "'x'"}},
	{"c_tinyblob", "TINYBLOB", arrow.BinaryTypes.Binary, "tinyblob", "binary",
		[4]string{"0x01", "''", "0xFF", "'y'"}},
	{"c_mediumblob", "MEDIUMBLOB", arrow.BinaryTypes.Binary, "mediumblob", "binary",
		[4]string{"REPEAT(0xCD, 200000)", "''", "0x00", "'z'"}},
	{"c_longblob", "LONGBLOB", arrow.BinaryTypes.Binary, "longblob", "binary",
		[4]string{"0x0102", "''", "0x00", "'w'"}},
	{"c_char", "CHAR(5)", arrow.BinaryTypes.String, "char", "binary (UTF8)",
		[4]string{"'abcde'", "''", "'é'", "' x'"}},
	{"c_varchar", "VARCHAR(20)", arrow.BinaryTypes.String, "varchar", "binary (UTF8)",
		[4]string{"'emoji 😀 𝄞'", "''", "'tab\\tnl\\n'", "'日本語'"}},
	{"c_text", "TEXT", arrow.BinaryTypes.String, "text", "binary (UTF8)",
		[4]string{"REPEAT('é', 20000)", "''", "'a\\\\b'", "'\"q\"'"}},
	{"c_tinytext", "TINYTEXT", arrow.BinaryTypes.String, "tinytext", "binary (UTF8)",
		[4]string{"'t'", "''", "'😀'", "'u'"}},
	{"c_mediumtext", "MEDIUMTEXT", arrow.BinaryTypes.String, "mediumtext", "binary (UTF8)",
		[4]string{"'m'", "''", "'n'", "'o'"}},
	{"c_longtext", "LONGTEXT", arrow.BinaryTypes.String, "longtext", "binary (UTF8)",
		[4]string{"'l'", "''", "'k'", "'j'"}},
	{"c_enum", "ENUM('a','b','ü')", arrow.BinaryTypes.String, "enum", "binary (UTF8)",
		[4]string{"'b'", "'a'", "'ü'", "''"}},
	{"c_set", "SET('x','y','z')", arrow.BinaryTypes.String, "set", "binary (UTF8)",
		[4]string{"'x,z'", "''", "'y'", "'x,y,z'"}},
	// MariaDB's JSON is LONGTEXT with a JSON_VALID check.
	{"c_json", "JSON", arrow.BinaryTypes.String, "", "binary (UTF8)",
		[4]string{`'{"a": [1, 2.5, "😀"]}'`, "'null'", "'[]'", `'"s"'`}},
	{"c_date", "DATE", arrow.BinaryTypes.String, "date", "binary (UTF8)",
		[4]string{"'9999-12-31'", "'1000-01-01'", "'0000-00-00'", "'2024-00-15'"}},
	{"c_time", "TIME(6)", arrow.BinaryTypes.String, "time", "binary (UTF8)",
		[4]string{"'838:59:59.000000'", "'-838:59:59.000000'", "'-00:00:01.5'", "'25:00:00.000001'"}},
	{"c_time0", "TIME", arrow.BinaryTypes.String, "time", "binary (UTF8)",
		[4]string{"'100:00:00'", "'-1:02:03'", "'00:00:00'", "'23:59:59'"}},
	{"c_year", "YEAR", arrow.PrimitiveTypes.Int32, "year", "int32",
		[4]string{"2155", "1901", "0", "2024"}},
	{"c_datetime", "DATETIME(6)", tsNoTZ, "datetime", "int64",
		[4]string{"'9999-12-31 23:59:59.999999'", "'1000-01-01 00:00:00.000000'", "'0000-00-00 00:00:00'", "'2024-01-00 10:00:00'"}},
	{"c_datetime0", "DATETIME", tsNoTZ, "datetime", "int64",
		[4]string{"'2024-02-29 12:34:56'", "'1969-12-31 23:59:59'", "'0001-01-01 00:00:00'", "'1970-01-01 00:00:00'"}},
	{"c_timestamp", "TIMESTAMP(6) NULL DEFAULT NULL", tsUTC, "timestamp", "int64",
		[4]string{"'2038-01-19 03:14:07.999999'", "'1970-01-01 00:00:01.000000'", "'0000-00-00 00:00:00'", "'2024-06-01 12:00:00.5'"}},
	{"c_point", "POINT", arrow.BinaryTypes.Binary, "point", "binary",
		[4]string{"ST_GeomFromText('POINT(1 2)')", "ST_GeomFromText('POINT(-1.5 1e300)', 4326)", "ST_GeomFromText('POINT(0 0)')", "ST_GeomFromText('POINT(3 4)')"}},
	{"c_geometry", "GEOMETRY", arrow.BinaryTypes.Binary, "geometry", "binary",
		[4]string{"ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))')", "ST_GeomFromText('LINESTRING(0 0,1 1)')", "ST_GeomFromText('POINT(0 0)')", "ST_GeomFromText('MULTIPOINT(1 1,2 2)')"}},
}

// invalidValues is the number of zero or impossible dates in typeCases.
const invalidValues = 5

func TestSnapshot_Types(t *testing.T) {
	t.Parallel()
	var defs, names []string
	for _, c := range typeCases {
		defs = append(defs, c.col+" "+c.sqlType)
		names = append(names, c.col)
	}
	db := newTestDB(t, "CREATE TABLE types (id INT PRIMARY KEY, "+strings.Join(defs, ", ")+")")
	db.exec(t, "INSERT INTO types (id) VALUES (1)")
	for r := range 4 {
		var vals []string
		for _, c := range typeCases {
			vals = append(vals, c.values[r])
		}
		db.exec(t, fmt.Sprintf("INSERT INTO types (id, %s) VALUES (%d, %s)", strings.Join(names, ", "), r+2, strings.Join(vals, ", ")))
	}

	alloc := checkedAlloc(t)
	snap := open(t, db, 1, alloc)
	byTarget, _, warn := tables(t, snap)
	if !warn.Empty() {
		t.Errorf("warnings %s", warn)
	}
	tb, ok := byTarget[db.Name+".types"]
	if !ok {
		t.Fatalf("tables %v", byTarget)
	}
	if tb.Database != db.Name || tb.Folder != db.Name+".types" || tb.Batches != 1 {
		t.Errorf("table %+v", tb)
	}
	if len(tb.Columns) != len(typeCases)+1 || tb.Schema.NumFields() != len(typeCases)+1 {
		t.Fatalf("%d columns", len(tb.Columns))
	}
	for i, c := range typeCases {
		f, col := tb.Schema.Field(i+1), tb.Columns[i+1]
		if f.Name != c.col || !arrow.TypeEqual(f.Type, c.arrow) || !f.Nullable {
			t.Errorf("%s: field %v, want %v", c.col, f, c.arrow)
		}
		if col.Name != c.col || col.ExpectedExportedType != c.expected || (c.originalType != "" && col.OriginalType != c.originalType) {
			t.Errorf("%s: column %+v, want %s → %s", c.col, col, c.originalType, c.expected)
		}
	}
	if c := tb.Columns[slices.IndexFunc(tb.Columns, func(c engine.Column) bool { return c.Name == "c_varchar" })]; c.CharMaxLength != 20 {
		t.Errorf("c_varchar %+v", c)
	}
	if c := tb.Columns[slices.IndexFunc(tb.Columns, func(c engine.Column) bool { return c.Name == "c_dec38" })]; c.NumPrecision != 38 || c.DateTimePrecision != 0 {
		t.Errorf("c_dec38 %+v", c)
	}
	if c := tb.Columns[slices.IndexFunc(tb.Columns, func(c engine.Column) bool { return c.Name == "c_datetime" })]; c.DateTimePrecision != 6 {
		t.Errorf("c_datetime %+v", c)
	}

	got := readRows(t, snap, tb, 0)
	// FLOAT is compared with its exact value widened to DOUBLE: the
	// server's text of a FLOAT has only 6 digits.
	serverCols := slices.Clone(names)
	serverCols[slices.Index(names, "c_float")] = "CAST(c_float AS DOUBLE)"
	want := serverRows(t, db, "SELECT id, "+strings.Join(serverCols, ", ")+" FROM types")
	if len(got) != 5 || len(want) != 5 {
		t.Fatalf("%d rows, server has %d", len(got), len(want))
	}
	slices.SortFunc(got, func(a, b []any) int { return int(a[0].(int32) - b[0].(int32)) })
	for r := range got {
		for i, c := range typeCases {
			g, w := got[r][i+1], want[r][i+1]
			if err := sameValue(c, g, w); err != nil {
				t.Errorf("row %d %s: %v", r+1, c.col, err)
			}
		}
	}
	// TLS connections read through the driver: the same values.
	drv := open(t, db, 1, alloc)
	mysqlsource.ReadThroughDriver(drv)
	if !mysqlsource.ReadsOnWire(snap) || mysqlsource.ReadsOnWire(drv) {
		t.Fatal("both snapshots read the same way")
	}
	byDriver, _, _ := tables(t, drv)
	viaDriver := readRows(t, drv, byDriver[db.Name+".types"], 0)
	slices.SortFunc(viaDriver, func(a, b []any) int { return int(a[0].(int32) - b[0].(int32)) })
	if !reflect.DeepEqual(got, viaDriver) {
		t.Errorf("rows read through the driver differ:\n%v\n%v", got, viaDriver)
	}
	// Literal checks of the extremes, independent of the server's text.
	row2 := got[1]
	for col, v := range map[string]any{
		"c_ubigint":   "dec:18446744073709551615",
		"c_dec65":     "99999999999999999999999999999999999.999999999999999999999999999999",
		"c_bigint":    int64(math.MaxInt64),
		"c_utinyint":  int16(255),
		"c_bit64":     []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"c_varchar":   "emoji 😀 𝄞",
		"c_time":      "838:59:59.000000",
		"c_datetime":  time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC),
		"c_timestamp": time.Date(2038, 1, 19, 3, 14, 7, 999999000, time.UTC),
		"c_float":     float64(float32(3.40282e38)), // the stored float32, widened exactly
		"c_dec38":     "dec:9999999999999999999999999999.9999999999",
	} {
		i := slices.Index(names, col) + 1
		if g := row2[i]; fmt.Sprint(g) != fmt.Sprint(v) {
			t.Errorf("row 2 %s = %v, want %v", col, g, v)
		}
	}
	for _, col := range []string{"c_date", "c_datetime", "c_timestamp"} {
		if g := got[3][slices.Index(names, col)+1]; g != nil {
			t.Errorf("zero %s = %v, want NULL", col, g)
		}
	}
	if g := got[2][slices.Index(names, "c_time")+1]; g != "-838:59:59.000000" {
		t.Errorf("negative time %v", g)
	}
	for i := 1; i < len(got[0]); i++ {
		if got[0][i] != nil {
			t.Errorf("row 1 %s = %v, want NULL", names[i-1], got[0][i])
		}
	}

	rw, ok := snap.(interface{ ReadWarnings() engine.Warnings })
	if !ok {
		t.Fatal("snapshot has no ReadWarnings")
	}
	w := rw.ReadWarnings()
	wantW := []engine.General{{Reason: mysqlsource.ReasonInvalidValues, Detail: fmt.Sprintf("%s.types: %d values", db.Name, invalidValues)}}
	if !slices.Equal(w.General, wantW) {
		t.Errorf("read warnings %+v, want %+v", w.General, wantW)
	}
}

// serverRows returns the server's text protocol bytes of every value.
func serverRows(t *testing.T, db *testDB, q string) [][][]byte {
	t.Helper()
	rows, err := db.SQL.Query(q + " ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][][]byte
	for rows.Next() {
		raw := make([]sql.RawBytes, len(cols))
		dest := make([]any, len(cols))
		for i := range raw {
			dest[i] = &raw[i]
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		row := make([][]byte, len(cols))
		for i, b := range raw {
			if b != nil {
				row[i] = bytes.Clone(b)
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// sameValue compares an exported value with the server's text of it.
func sameValue(c typeCase, got any, server []byte) error {
	if server == nil {
		if got != nil {
			return fmt.Errorf("got %v, server NULL", got)
		}
		return nil
	}
	s := string(server)
	switch c.arrow.ID() {
	case arrow.INT16, arrow.INT32, arrow.INT64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || fmt.Sprint(got) != strconv.FormatInt(n, 10) {
			return fmt.Errorf("got %v, server %q", got, s)
		}
	case arrow.DECIMAL128:
		if got != "dec:"+s {
			return fmt.Errorf("got %v, server %q", got, s)
		}
	case arrow.FLOAT64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || got != f {
			return fmt.Errorf("got %v, server %q", got, s)
		}
	case arrow.BINARY:
		if !bytes.Equal(got.([]byte), server) {
			return fmt.Errorf("got %x, server %x", got, server)
		}
	case arrow.STRING:
		if c.col == "c_date" && (strings.HasPrefix(s, "0000-00-00") || strings.Contains(s, "-00")) {
			if got != nil {
				return fmt.Errorf("got %v for zero date %q, want NULL", got, s)
			}
			return nil
		}
		if got != s {
			return fmt.Errorf("got %q, server %q", got, s)
		}
	case arrow.TIMESTAMP:
		tm, err := time.Parse("2006-01-02 15:04:05.999999", s)
		if err != nil {
			// Zero or impossible dates have no timestamp.
			if got != nil {
				return fmt.Errorf("got %v for %q, want NULL", got, s)
			}
			return nil
		}
		if got == nil || !got.(time.Time).Equal(tm) {
			return fmt.Errorf("got %v, server %q", got, s)
		}
	default:
		return fmt.Errorf("no comparison for %v", c.arrow)
	}
	return nil
}
