package pgsource_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/jackc/pgx/v5"
)

// typeCase is one §9.2 type: a table t_<name>(id int, v <typ>) holding the
// literals (NULL is always added).
type typeCase struct {
	name   string
	typ    string
	values []string
	arrow  arrow.DataType
	// originalType etc. are the expected manifest column info.
	originalType string
	expected     string
}

var typeCases = []typeCase{
	{"smallint", "smallint", []string{"-32768", "32767", "0"}, arrow.PrimitiveTypes.Int16, "smallint", "int32"},
	{"smallserial", "smallserial", []string{"1", "32767"}, arrow.PrimitiveTypes.Int16, "smallint", "int32"},
	{"integer", "integer", []string{"-2147483648", "2147483647", "0"}, arrow.PrimitiveTypes.Int32, "integer", "int32"},
	{"serial", "serial", []string{"1", "2147483647"}, arrow.PrimitiveTypes.Int32, "integer", "int32"},
	{"bigint", "bigint", []string{"-9223372036854775808", "9223372036854775807", "0", "-1"}, arrow.PrimitiveTypes.Int64, "bigint", "int64"},
	{"real", "real", []string{"'NaN'", "'Infinity'", "'-Infinity'", "3.4028235e38", "-3.4028235e38", "1.4e-45", "'-0'", "0.1"}, arrow.PrimitiveTypes.Float32, "real", "float"},
	{"double", "double precision", []string{"'NaN'", "'Infinity'", "'-Infinity'", "1.7976931348623157e308", "5e-324", "'-0'", "0.1", "-123.456"}, arrow.PrimitiveTypes.Float64, "double precision", "double"},
	{"boolean", "boolean", []string{"true", "false"}, arrow.FixedWidthTypes.Boolean, "boolean", "boolean"},
	{"bytea", "bytea", []string{
		`(SELECT decode(string_agg(lpad(to_hex(i), 2, '0'), '' ORDER BY i), 'hex') FROM generate_series(0, 255) i)`,
		`'\x'::bytea`, `'\x5c4e'::bytea`, `'\x0a09'::bytea`,
	}, arrow.BinaryTypes.Binary, "bytea", "binary"},
	{"numeric", "numeric", []string{"'NaN'", "'Infinity'", "'-Infinity'", "123456789012345678901234567890.123456789", "1e-100", "-0.5", "repeat('9', 1000)::numeric", "0"}, arrow.BinaryTypes.String, "numeric", "binary (UTF8)"},
	{"numeric_ps", "numeric(10,3)", []string{"1234567.891", "-0.001"}, arrow.BinaryTypes.String, "numeric", "binary (UTF8)"},
	{"money", "money", []string{"12.34", "'-92233720368547758.08'", "'92233720368547758.07'"}, arrow.BinaryTypes.String, "money", "binary (UTF8)"},
	{"text", "text", []string{
		"''", "'plain'", `E'tab\there\nnewline\\backslash\r cr \b \f \v'`, "'😀 4-byte 𝄞 ünï'",
		`E'\\N'`, `'\N'`, `E'\\\\x41'`, `E'\x01\x7f ctrl'`, "repeat('long ', 100000)", `E'trailing\\'`, `E'\t'`,
	}, arrow.BinaryTypes.String, "text", "binary (UTF8)"},
	{"varchar", "varchar(10)", []string{"'abc'", "''"}, arrow.BinaryTypes.String, "character varying", "binary (UTF8)"},
	{"char", "char(5)", []string{"'ab'", "'abcde'"}, arrow.BinaryTypes.String, "character", "binary (UTF8)"},
	{"qchar", `"char"`, []string{"'a'", `'\'`}, arrow.BinaryTypes.String, `"char"`, "binary (UTF8)"},
	{"name", "name", []string{"'pg_class'", "'With Space'"}, arrow.BinaryTypes.String, "name", "binary (UTF8)"},
	{"enum", "mood", []string{"'sad'", "'very \"happy\"'", "'tab\tlabel'"}, arrow.BinaryTypes.String, "USER-DEFINED", "binary (UTF8)"},
	{"intarray", "integer[]", []string{"'{1,NULL,3}'", "'{}'", "'{{1,2},{3,4}}'", "'[0:1]={7,8}'"}, arrow.BinaryTypes.String, "ARRAY", "binary (UTF8)"},
	{"textarray", "text[]", []string{`ARRAY['a"b', NULL, 'c,d', E'back\\slash', '', 'NULL', E'new\nline', '{}']`}, arrow.BinaryTypes.String, "ARRAY", "binary (UTF8)"},
	{"bit", "bit(8)", []string{"B'10101010'", "B'00000000'"}, arrow.BinaryTypes.String, "bit", "binary (UTF8)"},
	{"varbit", "bit varying", []string{"B'1'", "B''"}, arrow.BinaryTypes.String, "bit varying", "binary (UTF8)"},
	{"json", "json", []string{`'{"a": [1, 2, null],   "s": "x\ny\u00e9", "b": "\\"}'`, `'[]'`, `'"s"'`}, arrow.BinaryTypes.String, "json", "binary (UTF8)"},
	{"jsonb", "jsonb", []string{`'{"a": [1, 2, null], "s": "x\ny\u00e9", "n": 1.50}'`, `'null'`}, arrow.BinaryTypes.String, "jsonb", "binary (UTF8)"},
	{"xml", "xml", []string{"'<a x=\"1\">b &amp; c</a>'", "'text only'"}, arrow.BinaryTypes.String, "xml", "binary (UTF8)"},
	{"uuid", "uuid", []string{"'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "'00000000-0000-0000-0000-000000000000'"}, arrow.BinaryTypes.String, "uuid", "binary (UTF8)"},
	{"inet", "inet", []string{"'192.168.0.1/24'", "'::1'", "'10.0.0.1'"}, arrow.BinaryTypes.String, "inet", "binary (UTF8)"},
	{"cidr", "cidr", []string{"'10.0.0.0/8'", "'2001:db8::/32'"}, arrow.BinaryTypes.String, "cidr", "binary (UTF8)"},
	{"macaddr", "macaddr", []string{"'08:00:2b:01:02:03'"}, arrow.BinaryTypes.String, "macaddr", "binary (UTF8)"},
	{"macaddr8", "macaddr8", []string{"'08:00:2b:01:02:03:04:05'"}, arrow.BinaryTypes.String, "macaddr8", "binary (UTF8)"},
	{"date", "date", []string{"'4713-01-01 BC'", "'5874897-12-31'", "'infinity'", "'-infinity'", "'2024-02-29'"}, arrow.BinaryTypes.String, "date", "binary (UTF8)"},
	{"time", "time(3)", []string{"'00:00'", "'23:59:59.999'", "'24:00:00'"}, arrow.BinaryTypes.String, "time without time zone", "binary (UTF8)"},
	{"timetz", "time with time zone", []string{"'12:34:56.789+05:30'", "'00:00-12'"}, arrow.BinaryTypes.String, "time with time zone", "binary (UTF8)"},
	{"timestamp", "timestamp", []string{"'4713-01-01 00:00:00 BC'", "'294276-12-31 23:59:59.999999'", "'infinity'", "'2024-01-02 03:04:05.123456'"}, arrow.BinaryTypes.String, "timestamp without time zone", "binary (UTF8)"},
	{"timestamptz", "timestamptz", []string{"'2024-01-02 03:04:05.123456+02'", "'-infinity'", "'1970-01-01 00:00:00+00'", "'4713-01-01 00:00:00+00 BC'"}, arrow.BinaryTypes.String, "timestamp with time zone", "binary (UTF8)"},
	{"interval", "interval", []string{"'1 year 2 mons 3 days 04:05:06.789'", "'-178000000 years'", "'0'", "'-1 day +02:03'"}, arrow.BinaryTypes.String, "interval", "binary (UTF8)"},
	{"point", "point", []string{"'(1.5,-2)'", "'(NaN,Infinity)'"}, arrow.BinaryTypes.String, "point", "binary (UTF8)"},
	{"line", "line", []string{"'{1,-1,0}'"}, arrow.BinaryTypes.String, "line", "binary (UTF8)"},
	{"lseg", "lseg", []string{"'[(0,0),(1,1)]'"}, arrow.BinaryTypes.String, "lseg", "binary (UTF8)"},
	{"box", "box", []string{"'(1,1),(0,0)'"}, arrow.BinaryTypes.String, "box", "binary (UTF8)"},
	{"path", "path", []string{"'[(0,0),(1,1),(2,0)]'", "'((0,0),(1,1))'"}, arrow.BinaryTypes.String, "path", "binary (UTF8)"},
	{"polygon", "polygon", []string{"'((0,0),(1,1),(1,0))'"}, arrow.BinaryTypes.String, "polygon", "binary (UTF8)"},
	{"circle", "circle", []string{"'<(0,0),1.5>'"}, arrow.BinaryTypes.String, "circle", "binary (UTF8)"},
	{"tsvector", "tsvector", []string{"to_tsvector('english', 'The quick brown foxes')", `'a:1 ''b c'':2'`}, arrow.BinaryTypes.String, "tsvector", "binary (UTF8)"},
	{"tsquery", "tsquery", []string{"to_tsquery('english', 'fox & !dog')"}, arrow.BinaryTypes.String, "tsquery", "binary (UTF8)"},
	{"int4range", "int4range", []string{"'[1,10)'", "'empty'", "'(,5]'"}, arrow.BinaryTypes.String, "int4range", "binary (UTF8)"},
	{"numrange", "numrange", []string{"'[1.5,2.5]'"}, arrow.BinaryTypes.String, "numrange", "binary (UTF8)"},
	{"tstzrange", "tstzrange", []string{"'[2024-01-01 00:00+00,2024-02-01 00:00+00)'"}, arrow.BinaryTypes.String, "tstzrange", "binary (UTF8)"},
	{"daterange", "daterange", []string{"'[2024-01-01,2024-01-31]'"}, arrow.BinaryTypes.String, "daterange", "binary (UTF8)"},
	{"multirange", "int4multirange", []string{"'{[1,3),[5,7)}'"}, arrow.BinaryTypes.String, "int4multirange", "binary (UTF8)"},
	{"composite", "pair", []string{`ROW(1, 'x "y", z')::pair`, `ROW(NULL, NULL)::pair`, `ROW(2, E'back\\slash')::pair`}, arrow.BinaryTypes.String, "USER-DEFINED", "binary (UTF8)"},
	{"domain_int", "posint", []string{"1", "2147483647"}, arrow.BinaryTypes.String, "integer", "binary (UTF8)"},
	{"domain_text", "shorttext", []string{"'abc'", `E'a\tb'`}, arrow.BinaryTypes.String, "text", "binary (UTF8)"},
	{"pg_lsn", "pg_lsn", []string{"'16/B374D848'", "'0/0'"}, arrow.BinaryTypes.String, "pg_lsn", "binary (UTF8)"},
	{"citext_like", "varchar", []string{"'no length'"}, arrow.BinaryTypes.String, "character varying", "binary (UTF8)"},
}

func typesSetup() []string {
	setup := []string{
		`CREATE TYPE mood AS ENUM ('sad', 'very "happy"', E'tab\tlabel')`,
		`CREATE TYPE pair AS (a int, b text)`,
		`CREATE DOMAIN posint AS integer CHECK (VALUE > 0)`,
		`CREATE DOMAIN shorttext AS text CHECK (length(VALUE) < 10)`,
	}
	for _, c := range typeCases {
		setup = append(setup, fmt.Sprintf("CREATE TABLE t_%s (id int, v %s)", c.name, c.typ))
		for i, v := range c.values {
			setup = append(setup, fmt.Sprintf("INSERT INTO t_%s VALUES (%d, %s)", c.name, i+1, v))
		}
		if !strings.Contains(c.typ, "serial") {
			setup = append(setup, fmt.Sprintf("INSERT INTO t_%s VALUES (%d, NULL)", c.name, len(c.values)+1))
		}
	}
	return setup
}

// TestSnapshot_Types reads one table per §9.2 type and compares every
// value with what PostgreSQL's ::text (or the typed value) gives.
func TestSnapshot_Types(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, typesSetup()...)
	alloc := checkedAlloc(t)
	snap := open(t, db, 2, alloc)
	byTarget, _, warn := tables(t, snap)
	if !warn.Empty() {
		t.Errorf("warnings: %s", warn)
	}
	ctx := context.Background()
	for _, c := range typeCases {
		t.Run(c.name, func(t *testing.T) {
			tb, ok := byTarget[db.Name+".public.t_"+c.name]
			if !ok {
				t.Fatalf("table t_%s not listed", c.name)
			}
			if got := tb.Schema.Field(1); !arrow.TypeEqual(got.Type, c.arrow) || !got.Nullable || got.Name != "v" {
				t.Errorf("field %v, want nullable v %v", got, c.arrow)
			}
			if col := tb.Columns[1]; col.OriginalType != c.originalType || col.ExpectedExportedType != c.expected {
				t.Errorf("column %+v, want originalType %q expected %q", col, c.originalType, c.expected)
			}
			if tb.Batches != 1 || tb.Folder != "public.t_"+c.name || tb.Database != db.Name {
				t.Errorf("table %+v", tb)
			}
			got := readRows(t, snap, tb, 0)
			byID := make(map[int32]any)
			for _, r := range got {
				byID[r[0].(int32)] = r[1]
			}
			if len(byID) != len(got) {
				t.Fatalf("duplicate ids in %d rows", len(got))
			}

			// The reference is the type's output function, as a text-format
			// result gives it. It equals v::text except where the cast
			// differs from the output function (char(n) trims its padding,
			// inet adds the mask), and the export follows the output
			// function, as COPY does.
			text := make(map[int32]*string)
			rows, err := db.Conn.Query(ctx, fmt.Sprintf("SELECT id, v FROM t_%s ORDER BY id", c.name), pgx.QueryExecModeSimpleProtocol)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				raw := rows.RawValues()
				id, err := strconv.Atoi(string(raw[0]))
				if err != nil {
					t.Fatal(err)
				}
				if raw[1] == nil {
					text[int32(id)] = nil
				} else {
					s := string(raw[1])
					text[int32(id)] = &s
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			typed := make(map[int32]any)
			if c.arrow.ID() != arrow.STRING {
				rows, err := db.Conn.Query(ctx, fmt.Sprintf("SELECT id, v FROM t_%s ORDER BY id", c.name))
				if err != nil {
					t.Fatal(err)
				}
				for rows.Next() {
					vals, err := rows.Values()
					if err != nil {
						t.Fatal(err)
					}
					typed[vals[0].(int32)] = vals[1]
				}
				if err := rows.Err(); err != nil {
					t.Fatal(err)
				}
			}
			n := len(text)
			for id, want := range text {
				gotV, ok := byID[id]
				if !ok {
					t.Errorf("id %d missing", id)
					continue
				}
				if want == nil {
					if gotV != nil {
						t.Errorf("id %d: got %v, want NULL", id, gotV)
					}
					continue
				}
				checkValue(t, id, c, gotV, *want, typed[id])
			}
			if n != len(got) {
				t.Errorf("read %d rows, want %d", len(got), n)
			}
		})
	}
}

func checkValue(t *testing.T, id int32, c typeCase, got any, text string, typed any) {
	t.Helper()
	switch c.arrow.ID() {
	case arrow.STRING:
		if got != text {
			g, _ := got.(string)
			t.Errorf("id %d: got %q, want %q", id, trunc(g), trunc(text))
		}
	case arrow.BINARY:
		if !bytes.Equal(got.([]byte), typed.([]byte)) {
			t.Errorf("id %d: got %x, want %x", id, got, typed)
		}
	case arrow.INT16:
		if got != typed.(int16) {
			t.Errorf("id %d: got %v, want %v", id, got, typed)
		}
	case arrow.INT32:
		if got != typed.(int32) {
			t.Errorf("id %d: got %v, want %v", id, got, typed)
		}
	case arrow.INT64:
		if got != typed.(int64) {
			t.Errorf("id %d: got %v, want %v", id, got, typed)
		}
	case arrow.BOOL:
		if got != typed.(bool) {
			t.Errorf("id %d: got %v, want %v", id, got, typed)
		}
	case arrow.FLOAT32:
		g, w := got.(float32), typed.(float32)
		if math.Float32bits(g) != math.Float32bits(w) && !(g != g && w != w) {
			t.Errorf("id %d: got %v, want %v (%s)", id, g, w, text)
		}
	case arrow.FLOAT64:
		g, w := got.(float64), typed.(float64)
		if math.Float64bits(g) != math.Float64bits(w) && !(math.IsNaN(g) && math.IsNaN(w)) {
			t.Errorf("id %d: got %v, want %v (%s)", id, g, w, text)
		}
	default:
		t.Fatalf("unexpected type %v", c.arrow)
	}
}

func trunc(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// TestSnapshot_ColumnInfo checks the manifest column information of
// spec §8.4 and that object-identifier columns are omitted.
func TestSnapshot_ColumnInfo(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, `CREATE TABLE info (
		id bigint, n numeric(12,4), v varchar(20), c char(3), ts timestamp(3), tz timestamptz,
		d date, f real, o oid, rc regclass, x xid, i interval(2), arr text[], nn numeric)`)
	alloc := checkedAlloc(t)
	snap := open(t, db, 1, alloc)
	byTarget, _, _ := tables(t, snap)
	tb := byTarget[db.Name+".public.info"]
	type info struct {
		name, orig, exp  string
		chars, num, prec int64
	}
	want := []info{
		{"id", "bigint", "int64", 0, 64, 0},
		{"n", "numeric", "binary (UTF8)", 0, 12, 0},
		{"v", "character varying", "binary (UTF8)", 20, 0, 0},
		{"c", "character", "binary (UTF8)", 3, 0, 0},
		{"ts", "timestamp without time zone", "binary (UTF8)", 0, 0, 3},
		{"tz", "timestamp with time zone", "binary (UTF8)", 0, 0, 6},
		{"d", "date", "binary (UTF8)", 0, 0, 0},
		{"f", "real", "float", 0, 24, 0},
		{"i", "interval", "binary (UTF8)", 0, 0, 2},
		{"arr", "ARRAY", "binary (UTF8)", 0, 0, 0},
		{"nn", "numeric", "binary (UTF8)", 0, 0, 0},
	}
	if len(tb.Columns) != len(want) || tb.Schema.NumFields() != len(want) {
		t.Fatalf("columns %+v, want %d (oid, regclass, xid omitted)", tb.Columns, len(want))
	}
	for i, w := range want {
		c := tb.Columns[i]
		got := info{c.Name, c.OriginalType, c.ExpectedExportedType, c.CharMaxLength, c.NumPrecision, c.DateTimePrecision}
		if got != w {
			t.Errorf("column %d: %+v, want %+v", i, got, w)
		}
		if tb.Schema.Field(i).Name != w.name {
			t.Errorf("field %d: %s, want %s", i, tb.Schema.Field(i).Name, w.name)
		}
	}
	// information_schema agrees (the catalog query mirrors the view).
	var dt string
	var prec *int64
	if err := db.Conn.QueryRow(context.Background(), `SELECT data_type, datetime_precision FROM information_schema.columns WHERE table_name = 'info' AND column_name = 'ts'`).Scan(&dt, &prec); err != nil {
		t.Fatal(err)
	}
	if dt != "timestamp without time zone" || prec == nil || *prec != 3 {
		t.Errorf("information_schema: %s %v", dt, prec)
	}
	if rows := readRows(t, snap, tb, 0); len(rows) != 0 {
		t.Errorf("rows %v", rows)
	}
}
