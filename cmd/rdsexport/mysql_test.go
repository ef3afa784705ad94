package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/rdsexport/rdsexport/internal/exporttest"
)

// mysqlColumn is one column of the MySQL fixture: its type, the Parquet
// type §9.1 gives it, and how values are compared.
type mysqlColumn struct {
	name, sqlType string
	physical      string // Parquet physical type
	typeLen       int64  // FIXED_LEN_BYTE_ARRAY length, 0 otherwise
	logical       string // substring of DuckDB's logical_type; "" = none
	compare       string // text | float | hex | micros
	row1, row2    string // SQL literals; row 3 is all NULL
}

var mysqlColumns = []mysqlColumn{
	{"c_bigint", "BIGINT", "INT64", 0, "", "text", "9223372036854775807", "-9223372036854775808"},
	{"c_bigint_u", "BIGINT UNSIGNED", "FIXED_LEN_BYTE_ARRAY", 9, "precision=20", "text", "18446744073709551615", "0"},
	{"c_bit1", "BIT(1)", "BYTE_ARRAY", 0, "", "hex", "b'1'", "b'0'"},
	{"c_bit64", "BIT(64)", "BYTE_ARRAY", 0, "", "hex", "b'1111111111111111111111111111111111111111111111111111111111111111'", "b'101'"},
	{"c_dec9", "DECIMAL(9,2)", "INT32", 0, "precision=9", "text", "9999999.99", "-9999999.99"},
	{"c_dec18", "DECIMAL(18,4)", "INT64", 0, "precision=18", "text", "99999999999999.9999", "-0.0001"},
	{"c_dec38", "DECIMAL(38,10)", "FIXED_LEN_BYTE_ARRAY", 16, "precision=38", "text", "9999999999999999999999999999.9999999999", "-0.0000000001"},
	{"c_dec65", "DECIMAL(65,30)", "BYTE_ARRAY", 0, "StringType", "text", "99999999999999999999999999999999999.999999999999999999999999999999", "-0.000000000000000000000000000001"},
	{"c_numeric", "NUMERIC(5,0)", "INT32", 0, "precision=5", "text", "99999", "-99999"},
	{"c_double", "DOUBLE", "DOUBLE", 0, "", "float", "1.7976931348623157e308", "-2.2250738585072014e-308"},
	{"c_float", "FLOAT", "DOUBLE", 0, "", "float", "3.40282e38", "-0.1"},
	{"c_int", "INT", "INT32", 0, "", "text", "2147483647", "-2147483648"},
	{"c_int_u", "INT UNSIGNED", "INT64", 0, "", "text", "4294967295", "0"},
	{"c_mediumint", "MEDIUMINT", "INT32", 0, "", "text", "8388607", "-8388608"},
	{"c_mediumint_u", "MEDIUMINT UNSIGNED", "INT64", 0, "", "text", "16777215", "0"},
	{"c_smallint", "SMALLINT", "INT32", 0, "", "text", "32767", "-32768"},
	{"c_smallint_u", "SMALLINT UNSIGNED", "INT32", 0, "", "text", "65535", "0"},
	{"c_tinyint", "TINYINT", "INT32", 0, "", "text", "127", "-128"},
	{"c_tinyint_u", "TINYINT UNSIGNED", "INT32", 0, "bitWidth=", "text", "255", "0"},
	{"c_binary", "BINARY(4)", "BYTE_ARRAY", 0, "", "hex", "x'00FF1234'", "x''"},
	{"c_varbinary", "VARBINARY(10)", "BYTE_ARRAY", 0, "", "hex", "x'DEADBEEF'", "x''"},
	{"c_blob", "BLOB", "BYTE_ARRAY", 0, "", "hex", "x'00'", "x''"},
	{"c_tinyblob", "TINYBLOB", "BYTE_ARRAY", 0, "", "hex", "x'01'", "x''"},
	{"c_mediumblob", "MEDIUMBLOB", "BYTE_ARRAY", 0, "", "hex", "x'02'", "x''"},
	{"c_longblob", "LONGBLOB", "BYTE_ARRAY", 0, "", "hex", "x'03'", "x''"},
	{"c_char", "CHAR(5)", "BYTE_ARRAY", 0, "StringType", "text", "'ab'", "''"},
	{"c_varchar", "VARCHAR(20)", "BYTE_ARRAY", 0, "StringType", "text", "'héllo 🌍'", "''"},
	{"c_text", "TEXT", "BYTE_ARRAY", 0, "StringType", "text", "'tab\\there\\nnewline'", "''"},
	{"c_tinytext", "TINYTEXT", "BYTE_ARRAY", 0, "StringType", "text", "'tiny'", "''"},
	{"c_mediumtext", "MEDIUMTEXT", "BYTE_ARRAY", 0, "StringType", "text", "'medium'", "''"},
	{"c_longtext", "LONGTEXT", "BYTE_ARRAY", 0, "StringType", "text", "REPEAT('x', 100000)", "''"},
	{"c_enum", "ENUM('a','b c')", "BYTE_ARRAY", 0, "StringType", "text", "'b c'", "'a'"},
	{"c_set", "SET('x','y','z')", "BYTE_ARRAY", 0, "StringType", "text", "'x,z'", "''"},
	{"c_point", "POINT", "BYTE_ARRAY", 0, "", "hex", "ST_GeomFromText('POINT(1 2)')", "NULL"},
	{"c_linestring", "LINESTRING", "BYTE_ARRAY", 0, "", "hex", "ST_GeomFromText('LINESTRING(0 0,1 1)')", "NULL"},
	{"c_polygon", "POLYGON", "BYTE_ARRAY", 0, "", "hex", "ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))')", "NULL"},
	{"c_geometry", "GEOMETRY", "BYTE_ARRAY", 0, "", "hex", "ST_GeomFromText('POINT(3 4)')", "NULL"},
	{"c_multipoint", "MULTIPOINT", "BYTE_ARRAY", 0, "", "hex", "ST_GeomFromText('MULTIPOINT(0 0,1 1)')", "NULL"},
	{"c_multilinestring", "MULTILINESTRING", "BYTE_ARRAY", 0, "", "hex", "ST_GeomFromText('MULTILINESTRING((0 0,1 1))')", "NULL"},
	{"c_multipolygon", "MULTIPOLYGON", "BYTE_ARRAY", 0, "", "hex", "ST_GeomFromText('MULTIPOLYGON(((0 0,1 0,1 1,0 0)))')", "NULL"},
	{"c_geomcollection", "GEOMETRYCOLLECTION", "BYTE_ARRAY", 0, "", "hex", "ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 1))')", "NULL"},
	{"c_date", "DATE", "BYTE_ARRAY", 0, "StringType", "text", "'9999-12-31'", "'1000-01-01'"},
	{"c_datetime", "DATETIME(6)", "INT64", 0, "isAdjustedToUTC=0", "micros", "'9999-12-31 23:59:59.999999'", "'1000-01-01 00:00:00.000001'"},
	{"c_time", "TIME(6)", "BYTE_ARRAY", 0, "StringType", "text", "'838:59:59.000000'", "'-838:59:59.000000'"},
	{"c_timestamp", "TIMESTAMP(6) NULL", "INT64", 0, "isAdjustedToUTC=1", "micros", "'2038-01-19 03:14:07.999999'", "'1970-01-01 00:00:01.000000'"},
	{"c_year", "YEAR", "INT32", 0, "", "text", "2155", "1901"},
	{"c_json", "JSON", "BYTE_ARRAY", 0, "StringType", "text", `'{"a": [1, 2.5, "x"], "b": null}'`, "'[]'"},
}

func mysqlFixture() string {
	var b strings.Builder
	b.WriteString("SET time_zone = '+00:00';\nCREATE TABLE types (id INT PRIMARY KEY")
	for _, c := range mysqlColumns {
		fmt.Fprintf(&b, ", %s %s", c.name, c.sqlType)
	}
	b.WriteString(");\n")
	for i, row := range [][]string{rowValues(1), rowValues(2)} {
		fmt.Fprintf(&b, "INSERT INTO types VALUES (%d, %s);\n", i+1, strings.Join(row, ", "))
	}
	b.WriteString("INSERT INTO types (id) VALUES (3);\n")
	b.WriteString(`
CREATE TABLE latin (id INT, s VARCHAR(20)) CHARACTER SET latin1;
INSERT INTO latin VALUES (1, 'café crème'), (2, NULL);
SET SESSION sql_mode = '';
CREATE TABLE zero_dates (id INT, d DATE, dt DATETIME);
INSERT INTO zero_dates VALUES (1, '0000-00-00', '0000-00-00 00:00:00'), (2, '2024-02-29', '2024-02-29 12:00:00');
CREATE TABLE empty_t (id INT);
CREATE TABLE skipme (` + "`first name`" + ` TEXT);
CREATE TABLE parts (id INT) PARTITION BY RANGE (id) (
	PARTITION p0 VALUES LESS THAN (100), PARTITION p1 VALUES LESS THAN (200), PARTITION p2 VALUES LESS THAN MAXVALUE);
INSERT INTO parts SELECT seq FROM seq_1_to_300;
CREATE VIEW v AS SELECT * FROM parts;
`)
	return b.String()
}

func rowValues(n int) []string {
	var out []string
	for _, c := range mysqlColumns {
		if n == 1 {
			out = append(out, c.row1)
		} else {
			out = append(out, c.row2)
		}
	}
	return out
}

func TestExport_MariaDBEndToEnd(t *testing.T) {
	my := exporttest.NewMySQLDB(t, mysqlFixture())
	s := startServer(t, "", func(c *Config) {
		c.Clusters = []SourceConfig{{Identifier: "pg", Engine: "mariadb", URL: my.URL}}
	})
	started := s.startExport(t, "my-export", my.Name)
	if started.SourceType != "CLUSTER" {
		t.Errorf("source type %s", started.SourceType)
	}
	task := s.waitStatus(t, "my-export", 2*time.Minute, "COMPLETE")

	var warn struct {
		SkippedTables []struct{ Target, Reason string } `json:"skippedTables"`
		General       []struct{ Reason, Detail string } `json:"general"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(task.WarningMessage)), &warn); err != nil {
		t.Fatalf("WarningMessage %q: %v", aws.ToString(task.WarningMessage), err)
	}
	if len(warn.SkippedTables) != 1 || warn.SkippedTables[0].Target != my.Name+".skipme" || warn.SkippedTables[0].Reason != "UNSUPPORTED_COLUMN_NAME" {
		t.Errorf("skipped tables: %+v", warn.SkippedTables)
	}
	if !strings.Contains(aws.ToString(task.WarningMessage), "zero_dates") {
		t.Errorf("no warning about zero dates: %s", aws.ToString(task.WarningMessage))
	}

	dir, keys := s.download(t, "my-export/")
	folders := map[string]int{}
	for _, k := range keys {
		parts := strings.Split(k, "/")
		if len(parts) == 5 && strings.HasSuffix(k, ".gz.parquet") {
			if parts[1] != my.Name || !partRe.MatchString(parts[4]) {
				t.Errorf("unexpected key %s", k)
			}
			folders[parts[2]+"/"+parts[3]]++
		}
	}
	for _, f := range []string{"types/1", "latin/1", "zero_dates/1", "parts/1", "parts/2", "parts/3"} {
		if folders[my.Name+"."+f] != 1 {
			t.Errorf("folder %s.%s: %d files (all: %v)", my.Name, f, folders[my.Name+"."+f], folders)
		}
	}
	for f := range folders {
		if strings.Contains(f, "skipme") || strings.Contains(f, ".v/") || strings.Contains(f, "empty_t") {
			t.Errorf("unexpected folder %s", f)
		}
	}
	if !slices.Contains(keys, "my-export/"+my.Name+"/"+my.Name+".empty_t/1/_SUCCESS") {
		t.Errorf("empty table has no _SUCCESS")
	}

	duck, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer duck.Close()
	glob := func(table string) string {
		return filepath.Join(dir, "my-export", my.Name, my.Name+"."+table, "*", "*.parquet")
	}
	my.Exec(t, "SET time_zone = '+00:00'")
	my.DB.SetMaxOpenConns(1) // keep the session time zone

	for _, c := range mysqlColumns {
		t.Run(c.name, func(t *testing.T) {
			checkMySQLType(t, duck, glob("types"), c)
			var myExpr, duckExpr string
			switch c.compare {
			case "text":
				myExpr, duckExpr = "CAST(%s AS CHAR)", "CAST(%s AS VARCHAR)"
			case "float":
				myExpr, duckExpr = "CAST(CAST(%s AS DOUBLE) AS CHAR)", "CAST(%s AS VARCHAR)"
			case "hex":
				myExpr, duckExpr = "HEX(CAST(%s AS BINARY))", "hex(%s)"
			case "micros":
				myExpr, duckExpr = "CAST(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', %s) AS CHAR)", "CAST(epoch_us(%s) AS VARCHAR)"
			}
			want := queryStrings(t, my.DB, fmt.Sprintf("SELECT id, "+myExpr+" FROM types ORDER BY id", c.name))
			got := queryStrings(t, duck, fmt.Sprintf("SELECT id, "+duckExpr+" FROM read_parquet('%s') ORDER BY id", c.name, glob("types")))
			if c.compare == "float" {
				got = canonicalFloats(t, got)
				want = canonicalFloats(t, want)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s values differ\n got %q\nwant %q", c.sqlType, got, want)
			}
		})
	}
	t.Run("latin1", func(t *testing.T) {
		got := queryStrings(t, duck, fmt.Sprintf("SELECT id, s FROM read_parquet('%s') ORDER BY id", glob("latin")))
		if want := []string{"1=café crème", "2=NULL"}; !slices.Equal(got, want) {
			t.Errorf("latin1 table: %q, want %q", got, want)
		}
	})
	t.Run("ZeroDates", func(t *testing.T) {
		got := queryStrings(t, duck, fmt.Sprintf("SELECT id, CAST(d AS VARCHAR) || ' ' || CAST(dt AS VARCHAR) FROM read_parquet('%s') ORDER BY id", glob("zero_dates")))
		if want := []string{"1=NULL", "2=2024-02-29 2024-02-29 12:00:00"}; !slices.Equal(got, want) {
			t.Errorf("zero dates: %q, want %q", got, want)
		}
	})
	t.Run("Partitions", func(t *testing.T) {
		for i, want := range []string{"99 1 99", "100 100 199", "101 200 300"} {
			p := filepath.Join(dir, "my-export", my.Name, my.Name+".parts", fmt.Sprint(i+1), "*.parquet")
			got := queryStrings(t, duck, fmt.Sprintf("SELECT 0, count(*) || ' ' || min(id) || ' ' || max(id) FROM read_parquet('%s')", p))
			if got[0] != "0="+want {
				t.Errorf("batch %d: %s, want %s", i+1, got[0], want)
			}
		}
	})
}

func checkMySQLType(t *testing.T, duck *sql.DB, glob string, c mysqlColumn) {
	t.Helper()
	var physical, repetition string
	var typeLen sql.NullInt64
	var logical sql.NullString
	err := duck.QueryRow(`SELECT type, type_length, repetition_type, logical_type::VARCHAR FROM parquet_schema(?) WHERE name = ? LIMIT 1`, glob, c.name).
		Scan(&physical, &typeLen, &repetition, &logical)
	if err != nil {
		t.Fatal(err)
	}
	if physical != c.physical || repetition != "OPTIONAL" || (c.typeLen != 0 && typeLen.Int64 != c.typeLen) {
		t.Errorf("%s: parquet %s(%d) %s, want %s(%d) OPTIONAL", c.sqlType, physical, typeLen.Int64, repetition, c.physical, c.typeLen)
	}
	switch {
	case c.logical == "" && c.physical == "BYTE_ARRAY" && logical.String != "":
		t.Errorf("%s: logical type %q, want none", c.sqlType, logical.String)
	case c.logical != "" && !strings.Contains(logical.String, c.logical):
		t.Errorf("%s: logical type %q, want %q", c.sqlType, logical.String, c.logical)
	}
}

// queryStrings runs a query of (id, text) and renders the rows "id=text".
func queryStrings(t *testing.T, db *sql.DB, query string) []string {
	t.Helper()
	rows, err := db.Query(query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id int64
		var v sql.NullString
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		if !v.Valid {
			v.String = "NULL"
		}
		out = append(out, fmt.Sprintf("%d=%s", id, v.String))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// canonicalFloats reparses "id=float" rows so both readers' spellings of
// the same double compare equal.
func canonicalFloats(t *testing.T, rows []string) []string {
	t.Helper()
	out := make([]string, len(rows))
	for i, r := range rows {
		id, v, _ := strings.Cut(r, "=")
		if v != "NULL" {
			var f float64
			if _, err := fmt.Sscan(v, &f); err != nil {
				t.Fatalf("float %q: %v", v, err)
			}
			v = fmt.Sprintf("%b", f)
		}
		out[i] = id + "=" + v
	}
	return out
}

// TestExport_MariaDBCancel cancels an export of a 2M-row MariaDB table.
func TestExport_MariaDBCancel(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a 2M-row table")
	}
	my := exporttest.NewMySQLDB(t, `
CREATE TABLE big (id BIGINT, qty INT, price DOUBLE, note VARCHAR(64), day DATE);
INSERT INTO big SELECT seq, seq % 1000, seq * 0.25, MD5(seq), '2020-01-01' + INTERVAL (seq % 2000) DAY FROM seq_1_to_2000000;`)
	s := startServer(t, "", func(c *Config) {
		c.Clusters = []SourceConfig{{Identifier: "pg", Engine: "mariadb", URL: my.URL}}
		c.ExportConnections = 1
		c.ExportFileBytes = 1 << 20
	})
	s.startExport(t, "my-cancel", my.Name)
	s.waitStatus(t, "my-cancel", time.Minute, "IN_PROGRESS")
	deadline := time.Now().Add(time.Minute)
	for {
		keys, err := s.Objects.List(t.Context(), s.Bucket, "my-cancel/")
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no object written after a minute")
		}
		time.Sleep(10 * time.Millisecond)
	}
	begin := time.Now()
	if _, err := s.RDS.CancelExportTask(t.Context(), &rds.CancelExportTaskInput{ExportTaskIdentifier: aws.String("my-cancel")}); err != nil {
		t.Fatal(err)
	}
	s.waitStatus(t, "my-cancel", time.Second, "CANCELED")
	t.Logf("cancel latency: %s", time.Since(begin))
	uploads, err := s.Objects.ListMultipartUploads(t.Context(), s.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	if len(uploads) != 0 {
		t.Errorf("multipart uploads left: %v", uploads)
	}
}

// TestSnapshot_MariaDB: a cluster snapshot of a MariaDB server keeps the rows
// of its moment after the source changes.
func TestSnapshot_MariaDB(t *testing.T) {
	my := exporttest.NewMySQLDB(t, `
CREATE TABLE t (id INT PRIMARY KEY, d DECIMAL(12,2), ts DATETIME(6), s VARCHAR(20));
INSERT INTO t SELECT seq, seq / 4, '2024-01-01' + INTERVAL seq SECOND, CONCAT('row ', seq) FROM seq_1_to_1000;`)
	s := startServer(t, "", func(c *Config) {
		c.Clusters = []SourceConfig{{Identifier: "pg", Engine: "mariadb", URL: my.URL, Databases: []string{my.Name}}}
	})
	s.startExport(t, "my-live", my.Name)
	s.waitStatus(t, "my-live", time.Minute, "COMPLETE")
	s.createClusterSnapshot(t, "my-snap")
	my.Exec(t, "DELETE FROM t WHERE id > 500")
	my.Exec(t, "UPDATE t SET s = 'changed'")
	s.exportFrom(t, "my-from-snap", fmt.Sprintf("arn:aws:rds:%s:%s:cluster-snapshot:my-snap", testRegion, testAccount))

	dir, _ := s.download(t, "")
	duck, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer duck.Close()
	live := tableRows(t, duck, dir, "my-live", my.Name, my.Name+".t")
	snap := tableRows(t, duck, dir, "my-from-snap", my.Name, my.Name+".t")
	if len(live) != 1000 || !slices.Equal(live, snap) {
		t.Errorf("snapshot export: %d rows, live export %d rows; equal %v", len(snap), len(live), slices.Equal(live, snap))
	}
}
