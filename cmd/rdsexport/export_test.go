package main

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/jackc/pgx/v5"

	"github.com/rdsexport/rdsexport/internal/exporttest"
)

// typeCase is one table of the fixture: column v of one PostgreSQL type,
// the Parquet type §9.2 gives it, and how values are compared.
type typeCase struct {
	table    string
	pgType   string
	values   []string // SQL literals; NULL is always added
	physical string   // Parquet physical type
	logical  string   // substring of DuckDB's logical_type; "" = none
	compare  string   // text | int | float | bool | bytea
}

var typeCases = []typeCase{
	{"t_smallint", "smallint", []string{"-32768", "32767", "0"}, "INT32", "isSigned=1", "int"},
	{"t_integer", "integer", []string{"-2147483648", "2147483647"}, "INT32", "", "int"},
	{"t_bigint", "bigint", []string{"-9223372036854775808", "9223372036854775807"}, "INT64", "", "int"},
	{"t_serial", "serial", []string{"1", "2147483647"}, "INT32", "", "int"},
	{"t_bigserial", "bigserial", []string{"9223372036854775807"}, "INT64", "", "int"},
	{"t_real", "real", []string{"'NaN'", "'Infinity'", "'-Infinity'", "3.4028235e38", "1.4e-45", "-0.1"}, "FLOAT", "", "float"},
	{"t_double", "double precision", []string{"'NaN'", "'-Infinity'", "1.7976931348623157e308", "5e-324", "0.1"}, "DOUBLE", "", "float"},
	{"t_numeric", "numeric", []string{"'NaN'", "'Infinity'", "123456789012345678901234567890.123456789012345", "-0.000000001", "0"}, "BYTE_ARRAY", "StringType", "text"},
	{"t_decimal", "decimal(10,2)", []string{"-99999999.99", "12.5"}, "BYTE_ARRAY", "StringType", "text"},
	{"t_money", "money", []string{"'-92233720368547758.08'", "'12.34'"}, "BYTE_ARRAY", "StringType", "text"},
	{"t_int_array", "integer[]", []string{"'{1,NULL,3}'", "'{}'", "'{{1,2},{3,4}}'"}, "BYTE_ARRAY", "StringType", "text"},
	{"t_text_array", "text[]", []string{`'{"a b","c\"d",NULL,"é"}'`}, "BYTE_ARRAY", "StringType", "text"},
	{"t_bit", "bit(8)", []string{"B'10101010'"}, "BYTE_ARRAY", "StringType", "text"},
	{"t_varbit", "bit varying(20)", []string{"B'1'", "B''"}, "BYTE_ARRAY", "StringType", "text"},
	{"t_bytea", "bytea", []string{"(SELECT decode(string_agg(lpad(to_hex(i), 2, '0'), ''), 'hex') FROM generate_series(0, 255) i)", "''::bytea"}, "BYTE_ARRAY", "", "bytea"},
	{"t_char", "char(5)", []string{"'ab'", "''"}, "BYTE_ARRAY", "StringType", "text"},
	{"t_varchar", "varchar(10)", []string{"'héllo'", "''"}, "BYTE_ARRAY", "StringType", "text"},
	{"t_text", "text", []string{"''", "'héllo 🌍 日本'", `E'tab\there\nnew line\\back\\slash\r'`, "repeat('x', 100000)"}, "BYTE_ARRAY", "StringType", "text"},
	{"t_name", "name", []string{"'pg_name'"}, "BYTE_ARRAY", "StringType", "text"},
	{"t_enum", "mood", []string{"'sad'", "'happy'"}, "BYTE_ARRAY", "StringType", "text"},
	{"t_tsvector", "tsvector", []string{"'a fat cat'"}, "BYTE_ARRAY", "StringType", "text"},
	{"t_tsquery", "tsquery", []string{"'fat & rat'"}, "BYTE_ARRAY", "StringType", "text"},
	{"t_xml", "xml", []string{"'<a x=\"1\">t</a>'"}, "BYTE_ARRAY", "StringType", "text"},
	{"t_date", "date", []string{"'2024-02-29'", "'infinity'", "'4713-01-01 BC'", "'5874897-12-31'"}, "BYTE_ARRAY", "StringType", "text"},
	{"t_interval", "interval", []string{"'1 year 2 mons 3 days 04:05:06.789'", "'-1 day'"}, "BYTE_ARRAY", "StringType", "text"},
	{"t_time", "time", []string{"'23:59:59.999999'", "'00:00'"}, "BYTE_ARRAY", "StringType", "text"},
	{"t_timetz", "time with time zone", []string{"'12:34:56+05:30'"}, "BYTE_ARRAY", "StringType", "text"},
	{"t_timestamp", "timestamp", []string{"'2024-01-02 03:04:05.123456'", "'-infinity'", "'0001-01-01 00:00:00 BC'"}, "BYTE_ARRAY", "StringType", "text"},
	{"t_timestamptz", "timestamptz", []string{"'2024-01-02 03:04:05.123456+02'", "'infinity'"}, "BYTE_ARRAY", "StringType", "text"},
	{"t_box", "box", []string{"'((0,0),(1,1))'"}, "BYTE_ARRAY", "StringType", "text"},
	{"t_circle", "circle", []string{"'<(1,2),3>'"}, "BYTE_ARRAY", "StringType", "text"},
	{"t_line", "line", []string{"'{1,-1,0}'"}, "BYTE_ARRAY", "StringType", "text"},
	{"t_lseg", "lseg", []string{"'[(0,0),(1,1)]'"}, "BYTE_ARRAY", "StringType", "text"},
	{"t_path", "path", []string{"'[(0,0),(1,1),(2,0)]'"}, "BYTE_ARRAY", "StringType", "text"},
	{"t_point", "point", []string{"'(1.5,-2.5)'"}, "BYTE_ARRAY", "StringType", "text"},
	{"t_polygon", "polygon", []string{"'((0,0),(1,0),(1,1))'"}, "BYTE_ARRAY", "StringType", "text"},
	{"t_json", "json", []string{`'{"a": [1, 2.5, "x"], "b": null}'`}, "BYTE_ARRAY", "StringType", "text"},
	{"t_jsonb", "jsonb", []string{`'{"a": [1, 2.5, "x"], "b": null, "c": "\u00e9"}'`}, "BYTE_ARRAY", "StringType", "text"},
	{"t_boolean", "boolean", []string{"true", "false"}, "BOOLEAN", "", "bool"},
	{"t_cidr", "cidr", []string{"'10.0.0.0/8'", "'2001:db8::/32'"}, "BYTE_ARRAY", "StringType", "text"},
	{"t_inet", "inet", []string{"'192.168.1.1/24'", "'::1'"}, "BYTE_ARRAY", "StringType", "text"},
	{"t_macaddr", "macaddr", []string{"'08:00:2b:01:02:03'"}, "BYTE_ARRAY", "StringType", "text"},
	{"t_composite", "pair", []string{"ROW(1, 'a,b')::pair"}, "BYTE_ARRAY", "StringType", "text"},
	{"t_domain", "positive", []string{"42"}, "BYTE_ARRAY", "StringType", "text"},
	{"t_range", "int4range", []string{"'[1,10)'", "'empty'"}, "BYTE_ARRAY", "StringType", "text"},
	{"t_pg_lsn", "pg_lsn", []string{"'16/B374D848'"}, "BYTE_ARRAY", "StringType", "text"},
	{"t_uuid", "uuid", []string{"'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"}, "BYTE_ARRAY", "StringType", "text"},
}

// fixtureSQL builds the test database: one table per type in schema
// "types", a partitioned table, an empty table, tables AWS skips, and a
// second schema.
func fixtureSQL() string {
	var b strings.Builder
	b.WriteString(`CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE TYPE pair AS (n int, s text);
CREATE DOMAIN positive AS integer CHECK (VALUE > 0);
CREATE SCHEMA types;
`)
	for _, c := range typeCases {
		fmt.Fprintf(&b, "CREATE TABLE types.%s (id int, v %s);\n", c.table, c.pgType)
		for i, v := range c.values {
			fmt.Fprintf(&b, "INSERT INTO types.%s VALUES (%d, %s);\n", c.table, i+1, v)
		}
		if strings.Contains(c.pgType, "serial") {
			// serial columns are NOT NULL by definition.
			continue
		}
		fmt.Fprintf(&b, "INSERT INTO types.%s VALUES (%d, NULL);\n", c.table, len(c.values)+1)
	}
	b.WriteString(`
CREATE TABLE types.t_oid (id int, o oid, r regclass, v text);
INSERT INTO types.t_oid VALUES (1, 1259, 'pg_class', 'kept');
CREATE SCHEMA sales;
CREATE TABLE sales.orders (id bigint, placed date, amount numeric(12,2)) PARTITION BY RANGE (placed);
CREATE TABLE sales.orders_2023 PARTITION OF sales.orders FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE sales.orders_2024 PARTITION OF sales.orders FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE sales.orders_2025 PARTITION OF sales.orders FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
INSERT INTO sales.orders SELECT i, date '2023-01-01' + (i % 1000), i / 100.0 FROM generate_series(1, 3000) i;
CREATE TABLE sales.empty (id int, note text);
CREATE TABLE sales."bad columns" ("first name" text, id int);
CREATE UNLOGGED TABLE sales.scratch (id int);
CREATE VIEW sales.order_view AS SELECT * FROM sales.orders;
`)
	return b.String()
}

var partRe = regexp.MustCompile(`^part-\d{5}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-c\d{3}\.gz\.parquet$`)

func TestExport_PostgresEndToEnd(t *testing.T) {
	db := exporttest.NewPostgresDB(t, fixtureSQL())
	s := startServer(t, db.URL, nil)
	runEndToEnd(t, s, db)
}

// TestExport_VersityGW writes the same export to a real third-party S3
// server instead of the embedded one.
func TestExport_VersityGW(t *testing.T) {
	gw := exporttest.StartVersityGW(t)
	db := exporttest.NewPostgresDB(t, fixtureSQL())
	s := startServer(t, db.URL, func(c *Config) {
		c.S3 = S3Config{Endpoint: gw.Endpoint, AccessKeyID: gw.AccessKeyID, SecretAccessKey: gw.SecretAccessKey, Region: "us-east-1"}
	})
	runEndToEnd(t, s, db)
}

func runEndToEnd(t *testing.T, s *testServer, db *exporttest.PostgresDB) {
	started := s.startExport(t, "e2e-export", db.Name)
	if aws.ToString(started.Status) != "STARTING" || started.SourceType != "CLUSTER" {
		t.Errorf("started: status %s source type %s", aws.ToString(started.Status), started.SourceType)
	}
	task := s.waitStatus(t, "e2e-export", 2*time.Minute, "COMPLETE")
	if aws.ToInt32(task.PercentProgress) != 100 || task.TaskEndTime == nil || task.SnapshotTime == nil {
		t.Errorf("complete task: %+v", task)
	}

	// Skipped tables are reported (spec §10, §11.2).
	var warn struct {
		SkippedTables []struct{ Target, Reason string } `json:"skippedTables"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(task.WarningMessage)), &warn); err != nil {
		t.Fatalf("WarningMessage %q: %v", aws.ToString(task.WarningMessage), err)
	}
	skipped := map[string]string{}
	for _, w := range warn.SkippedTables {
		skipped[w.Target] = w.Reason
	}
	for target, reason := range map[string]string{
		db.Name + ".sales.bad columns": "UNSUPPORTED_COLUMN_NAME",
		db.Name + ".sales.scratch":     "TEMPORARY_OR_UNLOGGED_TABLE",
	} {
		if skipped[target] != reason {
			t.Errorf("skipped %s: reason %q, want %q (all: %v)", target, skipped[target], reason, skipped)
		}
	}

	dir, keys := s.download(t, "e2e-export/")
	root := filepath.Join(dir, "e2e-export")

	t.Run("Layout", func(t *testing.T) {
		tables := map[string]map[string]int{} // folder -> batch -> parquet files
		var successes int
		for _, k := range keys {
			parts := strings.Split(k, "/")
			switch {
			case len(parts) == 2:
				continue // manifests, checked below
			case len(parts) != 5 || parts[1] != db.Name:
				t.Errorf("unexpected key %s", k)
				continue
			}
			folder, batch, file := parts[2], parts[3], parts[4]
			if tables[folder] == nil {
				tables[folder] = map[string]int{}
			}
			if file == "_SUCCESS" {
				successes++
				tables[folder][batch] += 0
				continue
			}
			if !partRe.MatchString(file) {
				t.Errorf("file name %s does not match %s", file, partRe)
			}
			tables[folder][batch]++
		}
		for _, c := range typeCases {
			if tables["types."+c.table]["1"] != 1 {
				t.Errorf("types.%s: batches %v, want one file in batch 1", c.table, tables["types."+c.table])
			}
		}
		if got := tables["sales.orders"]; len(got) != 3 || got["1"] != 1 || got["2"] != 1 || got["3"] != 1 {
			t.Errorf("partitioned sales.orders: batches %v, want 1, 2, 3 with one file each", got)
		}
		if got, ok := tables["sales.empty"]; !ok || got["1"] != 0 {
			t.Errorf("empty table: %v (present %v), want batch 1 with _SUCCESS only", got, ok)
		}
		for _, f := range []string{"sales.bad columns", "sales.bad_columns", "sales.scratch", "sales.order_view", "sales.orders_2023"} {
			if _, ok := tables[f]; ok {
				t.Errorf("%s exported, want skipped", f)
			}
		}
		if want := len(typeCases) + 1 + 3 + 1; successes != want {
			t.Errorf("%d _SUCCESS markers, want %d", successes, want)
		}
	})

	t.Run("Manifests", func(t *testing.T) {
		var info map[string]any
		readJSON(t, filepath.Join(root, "export_info_e2e-export.json"), &info)
		if info["exportTaskIdentifier"] != "e2e-export" || info["status"] != "COMPLETE" || info["s3Bucket"] != s.Bucket ||
			info["exportedFilesPath"] != "e2e-export" || info["percentProgress"] != float64(100) {
			t.Errorf("export_info: %v", info)
		}
		if _, ok := info["totalExportedDataInGB"].(float64); !ok {
			t.Errorf("totalExportedDataInGB: %v", info["totalExportedDataInGB"])
		}
		matches, _ := filepath.Glob(filepath.Join(root, "export_tables_info_e2e-export_from_1_to_*.json"))
		if len(matches) != 1 {
			t.Fatalf("tables manifests: %v", matches)
		}
		var tables struct {
			PerTableStatus []struct {
				Target         string
				Status         string
				SchemaMetadata struct {
					OriginalTypeMappings []struct {
						ColumnName, OriginalType, ExpectedExportedType string
					}
				}
			}
		}
		readJSON(t, matches[0], &tables)
		byTarget := map[string]int{}
		for i, p := range tables.PerTableStatus {
			byTarget[p.Target] = i
		}
		want := fmt.Sprintf("_from_1_to_%d.json", len(tables.PerTableStatus))
		if !strings.HasSuffix(matches[0], want) {
			t.Errorf("manifest %s, want suffix %s", matches[0], want)
		}
		i, ok := byTarget[db.Name+".types.t_bigint"]
		if !ok {
			t.Fatalf("no entry for t_bigint in %v", byTarget)
		}
		m := tables.PerTableStatus[i]
		if m.Status != "COMPLETE" || len(m.SchemaMetadata.OriginalTypeMappings) != 2 ||
			m.SchemaMetadata.OriginalTypeMappings[1].OriginalType != "bigint" || m.SchemaMetadata.OriginalTypeMappings[1].ExpectedExportedType != "int64" {
			t.Errorf("t_bigint entry: %+v", m)
		}
		// oid columns are not exported (spec §9.2).
		if i, ok := byTarget[db.Name+".types.t_oid"]; !ok || len(tables.PerTableStatus[i].SchemaMetadata.OriginalTypeMappings) != 2 {
			t.Errorf("t_oid entry: %+v", tables.PerTableStatus)
		}
	})

	duck, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer duck.Close()
	pg, err := pgx.Connect(t.Context(), db.URL+"?timezone=UTC&datestyle=ISO&intervalstyle=postgres&extra_float_digits=3")
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(context.Background())

	t.Run("Types", func(t *testing.T) {
		for _, c := range typeCases {
			t.Run(c.table, func(t *testing.T) {
				glob := filepath.Join(root, db.Name, "types."+c.table, "*", "*.parquet")
				checkParquetType(t, duck, glob, c)
				compareValues(t, pg, duck, glob, c)
			})
		}
	})

	t.Run("Partitioned", func(t *testing.T) {
		var n, sum int64
		glob := filepath.Join(root, db.Name, "sales.orders", "*", "*.parquet")
		if err := duck.QueryRow(`SELECT count(*), sum(id) FROM read_parquet(?)`, glob).Scan(&n, &sum); err != nil {
			t.Fatal(err)
		}
		if n != 3000 || sum != 3000*3001/2 {
			t.Errorf("orders: %d rows, sum %d", n, sum)
		}
	})
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// checkParquetType reads the file schema with DuckDB.
func checkParquetType(t *testing.T, duck *sql.DB, glob string, c typeCase) {
	t.Helper()
	var physical, repetition string
	var logical sql.NullString
	err := duck.QueryRow(`SELECT type, repetition_type, logical_type::VARCHAR FROM parquet_schema(?) WHERE name = 'v' LIMIT 1`, glob).
		Scan(&physical, &repetition, &logical)
	if err != nil {
		t.Fatal(err)
	}
	if physical != c.physical || repetition != "OPTIONAL" {
		t.Errorf("%s: parquet %s %s, want %s OPTIONAL", c.pgType, physical, repetition, c.physical)
	}
	switch {
	case c.logical == "" && c.physical == "BYTE_ARRAY" && logical.String != "":
		t.Errorf("%s: logical type %q, want none", c.pgType, logical.String)
	case c.logical != "" && !strings.Contains(logical.String, c.logical):
		t.Errorf("%s: logical type %q, want %q", c.pgType, logical.String, c.logical)
	}
}

// compareValues compares every row of the Parquet output, read by DuckDB,
// with the source row read by pgx.
func compareValues(t *testing.T, pg *pgx.Conn, duck *sql.DB, glob string, c typeCase) {
	t.Helper()
	// concat() renders through the type's output function, as COPY does
	// (v::text differs for char(n) padding and inet masks).
	pgExpr := "CASE WHEN v IS NULL THEN NULL ELSE concat(v) END"
	switch c.compare {
	case "int", "bool":
		pgExpr = "v"
	case "float":
		pgExpr = "v::float8"
	case "bytea":
		pgExpr = "v"
	}
	rows, err := pg.Query(t.Context(), fmt.Sprintf("SELECT id, %s FROM types.%s ORDER BY id", pgExpr, c.table))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for rows.Next() {
		var id int32
		var v any
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprintf("%d=%s", id, normalize(v)))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}

	drows, err := duck.Query(`SELECT id, v FROM read_parquet(?) ORDER BY id`, glob)
	if err != nil {
		t.Fatal(err)
	}
	defer drows.Close()
	var got []string
	for drows.Next() {
		var id int32
		var v any
		if err := drows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		if c.compare == "float" {
			// REAL is FLOAT in Parquet: widen exactly as PostgreSQL does.
			if f, ok := v.(float32); ok {
				v = float64(f)
			}
		}
		got = append(got, fmt.Sprintf("%d=%s", id, normalize(v)))
	}
	if err := drows.Err(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s values differ\n got %q\nwant %q", c.pgType, got, want)
	}
}

// normalize renders a value from either reader the same way.
func normalize(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return `\x` + hex.EncodeToString(x)
	case float64:
		switch {
		case math.IsNaN(x):
			return "NaN"
		case math.IsInf(x, 1):
			return "Infinity"
		case math.IsInf(x, -1):
			return "-Infinity"
		}
		return fmt.Sprintf("%b", x) // exact bits
	case int16, int32, int64, int8, int:
		return fmt.Sprint(x)
	case bool:
		return fmt.Sprint(x)
	case string:
		return fmt.Sprintf("%q", x)
	}
	return fmt.Sprintf("%T(%v)", v, v)
}

// TestExport_UnreachableSource: a source that cannot be reached ends the
// task FAILED with a cause that names the source and not the password.
func TestExport_UnreachableSource(t *testing.T) {
	const secret = "s3cretpw"
	for _, c := range []SourceConfig{
		{Identifier: "pg", Engine: "postgres", URL: "postgres://postgres:" + secret + "@127.0.0.1:1/postgres?connect_timeout=2"},
		{Identifier: "pg", Engine: "mariadb", URL: "mysql://root:" + secret + "@127.0.0.1:1/?timeout=2s"},
	} {
		t.Run(c.Engine, func(t *testing.T) {
			s := startServer(t, "", func(cfg *Config) { cfg.Clusters = []SourceConfig{c} })
			s.startExport(t, "unreachable")
			task := s.waitStatus(t, "unreachable", time.Minute, "FAILED")
			cause := aws.ToString(task.FailureCause)
			if !strings.Contains(cause, clusterArn("pg")) || strings.Contains(cause, secret) {
				t.Errorf("FailureCause %q: want the source named and no password", cause)
			}
			t.Logf("FailureCause: %s", cause)
		})
	}
}
