package mysqlsource

import (
	"cmp"
	"context"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/go-sql-driver/mysql"

	"github.com/rdsexport/rdsexport/internal/engine"
)

// systemDatabases are never exported.
var systemDatabases = map[string]bool{
	"mysql": true, "sys": true, "information_schema": true, "performance_schema": true,
}

// tablePlan is what ReadBatch and ReadRange need to read one exported
// table.
type tablePlan struct {
	from   string   // quoted `db`.`table`
	parts  []string // quoted partition per batch; nil for one whole-table batch
	key    string   // quoted integer primary key column of a ranged table
	bounds []int64  // first key of each range; nil when read in one piece
	cols   string   // quoted SELECT list
	schema *arrow.Schema
	kinds  []colKind
	scales []int32 // decimal scale per column
}

// baseTable is one row of information_schema.TABLES.
type baseTable struct {
	db, name string
	size     int64
	innodb   bool
}

// columnInfo is one row of information_schema.COLUMNS.
type columnInfo struct {
	name    string
	typ     mysqlType
	charMax int64
	dtPrec  int64
}

// Tables lists the base tables of every non-system database (mysql, sys,
// information_schema and performance_schema are never exported) narrowed
// by ExportOnly, in database and table name order (byte order), with the
// skipped tables (spec §10), the ExportOnly entries that matched nothing
// and the warnings of Open. A plain InnoDB table of at least twice
// Params.MinRangeBytes whose primary key starts with an integer column
// (not BIGINT UNSIGNED) is split into Ranges of that column, at most two
// per reader, for ReadRange. Errors are server errors or ctx's error;
// ErrClosed after Close.
func (s *snapshot) Tables(ctx context.Context) ([]engine.Table, engine.Warnings, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, engine.Warnings{}, ErrClosed
	}
	var (
		tables []engine.Table
		warn   engine.Warnings
		plans  map[string]*tablePlan
	)
	err := s.withMeta(func(c *conn) error {
		var err error
		lim := rangeLimits{maxRanges: rangesPerReader * s.readers, minBytes: s.src.opts.MinRangeBytes}
		tables, warn, plans, err = listTables(ctx, c, s.exportOnly, s.src.opts.Databases, lim, s.before)
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, engine.Warnings{}, fmt.Errorf("list tables on %s: %w", s.src.addr, s.src.redact(err))
	}
	w := s.warnings
	w.General = slices.Clone(w.General)
	w.Merge(warn)
	s.mu.Lock()
	for k, v := range plans {
		s.plans[k] = v
	}
	s.mu.Unlock()
	return tables, w, nil
}

// rangeLimits are the bounds on splitting a table into ranged reads.
type rangeLimits struct {
	maxRanges int
	minBytes  int64
}

// ranges is how many ranges a table of size bytes may be split into;
// below 2 it is read in one piece.
func (lim rangeLimits) ranges(size int64) int {
	return int(min(size/max(lim.minBytes, 1), int64(lim.maxRanges)))
}

// tableKey is [database, table].
type tableKey = [2]string

// selectDatabases returns the databases of the server to export, in byte
// order, with the selection they were chosen by. A database whose name
// cannot be a folder of the export (a "/" in it, or "." or "..") is left
// out with a General warning ReasonUnsupportedDatabaseName.
func selectDatabases(ctx context.Context, c *conn, exportOnly, only []string) ([]string, *selection, engine.Warnings, error) {
	var warn engine.Warnings
	var lctn int64
	err := c.query(ctx, "SELECT @@lower_case_table_names", func(row []driver.Value) error {
		lctn = asInt64(row[0])
		return nil
	})
	if err != nil {
		return nil, nil, warn, err
	}
	var dbs []string
	err = c.query(ctx, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA", func(row []driver.Value) error {
		if n := asString(row[0]); !systemDatabases[strings.ToLower(n)] && (len(only) == 0 || slices.Contains(only, n)) {
			dbs = append(dbs, n)
		}
		return nil
	})
	if err != nil {
		return nil, nil, warn, err
	}
	sel := newSelection(exportOnly, lctn != 0)
	dbs = slices.DeleteFunc(dbs, func(db string) bool { return !sel.wantsDB(db) })
	slices.Sort(dbs)
	dbs = slices.DeleteFunc(dbs, func(db string) bool {
		if engine.SafeFolderName(db) {
			return false
		}
		warn.General = append(warn.General, engine.General{Reason: engine.ReasonUnsupportedDatabaseName, Detail: db})
		return true
	})
	return dbs, sel, warn, nil
}

// readColumns returns the columns of every table of the databases in
// (an inList), in ordinal order.
func readColumns(ctx context.Context, c *conn, in string) (map[tableKey][]columnInfo, error) {
	cols := make(map[tableKey][]columnInfo)
	q := "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, CHARACTER_MAXIMUM_LENGTH, " +
		"NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION FROM information_schema.COLUMNS " +
		"WHERE TABLE_SCHEMA IN (" + in + ") ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION"
	err := c.query(ctx, q, func(row []driver.Value) error {
		k := tableKey{asString(row[0]), asString(row[1])}
		cols[k] = append(cols[k], columnInfo{
			name: asString(row[2]),
			typ: mysqlType{
				dataType:   strings.ToLower(asString(row[3])),
				columnType: asString(row[4]),
				precision:  asInt64(row[6]),
				scale:      asInt64(row[7]),
			},
			charMax: asInt64(row[5]),
			dtPrec:  asInt64(row[8]),
		})
		return nil
	})
	return cols, err
}

// columnsBefore reads the columns of the tables the snapshot may export,
// before its transactions start; see listTables.
func columnsBefore(ctx context.Context, c *conn, exportOnly, only []string) (map[tableKey][]columnInfo, error) {
	dbs, _, _, err := selectDatabases(ctx, c, exportOnly, only)
	if err != nil || len(dbs) == 0 {
		return nil, err
	}
	return readColumns(ctx, c, inList(dbs))
}

// sameColumns reports whether two column lists have the same names and
// types in the same order.
func sameColumns(a, b []columnInfo) bool {
	return slices.EqualFunc(a, b, func(x, y columnInfo) bool {
		return x.name == y.name && x.typ.columnType == y.typ.columnType
	})
}

// listTables lists the tables to export with their plans.
//
// The definitions come from information_schema, which is not versioned,
// and an instant ALTER TABLE (DROP or ADD COLUMN) committed after the
// snapshot began does not make InnoDB refuse the snapshot's reads (MariaDB
// 10.11 returns the new columns without ER_TABLE_DEF_CHANGED): the rows of
// the snapshot would silently be read without a dropped column. before
// holds the columns read before the snapshot's transactions began; a
// table whose columns differ now changed around the snapshot's moment
// and is skipped with ReasonTableGone, as one rebuilt since. A column
// dropped or renamed after this listing makes its reads fail with
// erBadFieldError, as the columns are selected by name.
func listTables(ctx context.Context, c *conn, exportOnly, only []string, lim rangeLimits, before map[tableKey][]columnInfo) ([]engine.Table, engine.Warnings, map[string]*tablePlan, error) {
	dbs, sel, warn, err := selectDatabases(ctx, c, exportOnly, only)
	if err != nil {
		return nil, warn, nil, err
	}
	if len(dbs) == 0 {
		warn.SkippedObjectives = sel.notFound(nil, nil)
		return nil, warn, nil, nil
	}
	in := inList(dbs)

	var all []baseTable
	q := "SELECT TABLE_SCHEMA, TABLE_NAME, COALESCE(DATA_LENGTH, 0), ENGINE FROM information_schema.TABLES " +
		"WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') AND TABLE_SCHEMA IN (" + in + ")"
	err = c.query(ctx, q, func(row []driver.Value) error {
		all = append(all, baseTable{db: asString(row[0]), name: asString(row[1]), size: asInt64(row[2]),
			innodb: strings.EqualFold(asString(row[3]), "InnoDB")})
		return nil
	})
	if err != nil {
		return nil, warn, nil, err
	}
	// The IN list compares case-insensitively; keep the exact databases.
	all = slices.DeleteFunc(all, func(t baseTable) bool { _, ok := slices.BinarySearch(dbs, t.db); return !ok })
	slices.SortFunc(all, func(a, b baseTable) int {
		return cmp.Or(strings.Compare(a.db, b.db), strings.Compare(a.name, b.name))
	})
	warn.SkippedObjectives = sel.notFound(dbs, all)
	all = slices.DeleteFunc(all, func(t baseTable) bool { return !sel.wants(t.db, t.name) })
	if len(all) == 0 {
		return nil, warn, nil, nil
	}

	cols, err := readColumns(ctx, c, in)
	if err != nil {
		return nil, warn, nil, err
	}

	parts := make(map[[2]string][]string)
	q = "SELECT TABLE_SCHEMA, TABLE_NAME, PARTITION_NAME, SUBPARTITION_NAME FROM information_schema.PARTITIONS " +
		"WHERE PARTITION_NAME IS NOT NULL AND TABLE_SCHEMA IN (" + in + ") " +
		"ORDER BY TABLE_SCHEMA, TABLE_NAME, PARTITION_ORDINAL_POSITION, SUBPARTITION_ORDINAL_POSITION"
	err = c.query(ctx, q, func(row []driver.Value) error {
		k := [2]string{asString(row[0]), asString(row[1])}
		p := asString(row[2])
		if row[3] != nil {
			// Subpartitions are the leaves; PARTITION (sp) reads one.
			p = asString(row[3])
		}
		parts[k] = append(parts[k], quoteName(p))
		return nil
	})
	if err != nil {
		return nil, warn, nil, err
	}

	// Ranged reads need the primary key of big plain InnoDB tables. Only
	// InnoDB reads every range at the snapshot's moment; a single read of
	// another engine's table at least sees one state of it.
	rangeable := func(t baseTable) bool {
		return t.innodb && lim.ranges(t.size) >= 2 && parts[[2]string{t.db, t.name}] == nil
	}
	var pk map[[2]string]string // leading primary key column
	if slices.ContainsFunc(all, rangeable) {
		pk = make(map[[2]string]string)
		q = "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME FROM information_schema.STATISTICS " +
			"WHERE INDEX_NAME = 'PRIMARY' AND SEQ_IN_INDEX = 1 AND TABLE_SCHEMA IN (" + in + ")"
		err = c.query(ctx, q, func(row []driver.Value) error {
			k := [2]string{asString(row[0]), asString(row[1])}
			pk[k] = asString(row[2])
			return nil
		})
		if err != nil {
			return nil, warn, nil, err
		}
	}

	plans := make(map[string]*tablePlan)
	var tables []engine.Table
	for _, t := range all {
		target := t.db + "." + t.name
		skip := func(reason string) {
			warn.SkippedTables = append(warn.SkippedTables, engine.Skipped{Target: target, Reason: reason})
		}
		if strings.Contains(t.name, "/") {
			skip(engine.ReasonUnsupportedTableName)
			continue
		}
		k := [2]string{t.db, t.name}
		tc := cols[k]
		if len(tc) == 0 {
			// Dropped since it was listed, or no privilege on any column.
			continue
		}
		if !sameColumns(tc, before[k]) {
			skip(engine.ReasonTableGone)
			continue
		}
		if slices.ContainsFunc(tc, func(c columnInfo) bool { return badColumnName(c.name) }) {
			skip(engine.ReasonUnsupportedColumnName)
			continue
		}
		plan := &tablePlan{from: quoteName(t.db) + "." + quoteName(t.name), parts: parts[k]}
		fields := make([]arrow.Field, len(tc))
		columns := make([]engine.Column, len(tc))
		names := make([]string, len(tc))
		for i, c := range tc {
			kind, dt, expected := typeMapping(c.typ)
			fields[i] = arrow.Field{Name: c.name, Type: dt, Nullable: true}
			plan.kinds = append(plan.kinds, kind)
			plan.scales = append(plan.scales, int32(c.typ.scale))
			names[i] = quoteName(c.name)
			if c.typ.dataType == "float" {
				// The text protocol prints FLOAT with 6 digits, which loses
				// data (16777216 prints as 1.67772e+07); adding a DOUBLE zero
				// carries the exact stored value, widened as §9.1 says.
				// (CAST(... AS DOUBLE) would do too, but only from MySQL
				// 8.0.17: MySQL 5.7 and Aurora MySQL 2 refuse it.)
				names[i] = "(" + names[i] + " + 0e0)"
			}
			columns[i] = engine.Column{
				Name:                 c.name,
				OriginalType:         c.typ.dataType,
				ExpectedExportedType: expected,
				CharMaxLength:        c.charMax,
				NumPrecision:         c.typ.precision,
				DateTimePrecision:    c.dtPrec,
			}
		}
		plan.cols = strings.Join(names, ", ")
		plan.schema = arrow.NewSchema(fields, nil)
		if rangeable(t) {
			if err := planRanges(ctx, c, plan, tc, pk[k], lim.ranges(t.size)); err != nil {
				return nil, warn, nil, err
			}
		}
		plans[target] = plan
		tables = append(tables, engine.Table{
			Target:         target,
			Database:       folderName(t.db),
			Folder:         folderName(target),
			Schema:         plan.schema,
			Columns:        columns,
			Batches:        max(len(plan.parts), 1),
			Ranges:         max(len(plan.bounds), 1),
			EstimatedBytes: t.size,
		})
	}
	return tables, warn, plans, nil
}

// planRanges splits plan's table into at most n ranges of its primary key
// when the key starts with an integer column (lead names that column, ""
// for no primary key; cols are the table's). Bounds on the leading column
// alone are enough: InnoDB stores rows in primary key order, so each range is one
// scan of the clustered index, and rows sharing a leading value (a
// composite key such as TPC-H's (l_orderkey, l_linenumber)) fall in one
// range. The key's MIN and MAX are read now, outside the snapshot: the
// first range has no lower bound and the last no upper one, so rows outside
// them are still read. A server error (the table was dropped meanwhile, no
// privilege) leaves the table in one piece; ReadBatch reports what is left.
func planRanges(ctx context.Context, c *conn, plan *tablePlan, cols []columnInfo, lead string, n int) error {
	i := slices.IndexFunc(cols, func(c columnInfo) bool { return c.name == lead })
	if i < 0 || !int64Key(cols[i].typ) {
		return nil
	}
	key := quoteName(lead)
	var lo, hi driver.Value
	err := c.query(ctx, "SELECT MIN("+key+"), MAX("+key+") FROM "+plan.from, func(row []driver.Value) error {
		lo, hi = row[0], row[1]
		return nil
	})
	var serverErr *mysql.MySQLError
	switch {
	case errors.As(err, &serverErr):
		return nil
	case err != nil:
		return err
	case lo == nil || hi == nil:
		return nil // empty
	}
	plan.key, plan.bounds = key, rangeBounds(asInt64(lo), asInt64(hi), n)
	return nil
}

// int64Key reports an integer type whose values all fit int64, so that
// range bounds are plain int64 literals.
func int64Key(t mysqlType) bool {
	switch t.dataType {
	case "tinyint", "smallint", "mediumint", "int", "integer":
		return true
	case "bigint":
		return !strings.Contains(strings.ToLower(t.columnType), "unsigned")
	}
	return false
}

// rangeBounds cuts the keys lo..hi into at most n spans of equal width
// (within one key) and returns the first key of each, or nil when that
// makes fewer than two. Every span holds at least one key of lo..hi. The
// width is computed in unsigned arithmetic, since hi-lo may not fit int64.
func rangeBounds(lo, hi int64, n int) []int64 {
	if n < 2 || hi <= lo {
		return nil
	}
	span := uint64(hi) - uint64(lo)
	if span < uint64(n-1) {
		n = int(span) + 1
	}
	bounds := make([]int64, n)
	bounds[0] = lo
	for i := 1; i < n; i++ {
		// ceil(span*i/n) in 128 bits: span*i/n < span, so it fits.
		h, l := bits.Mul64(span, uint64(i))
		q, r := bits.Div64(h, l, uint64(n))
		if r != 0 {
			q++
		}
		bounds[i] = int64(uint64(lo) + q)
	}
	return bounds
}

// selection is the ExportOnly list (spec §7.4): "db" or "db.table".
// Names are compared exactly, or case-insensitively when the server's
// lower_case_table_names is 1 or 2.
type selection struct {
	all        bool
	foldCase   bool
	dbs        map[string]bool      // whole databases
	tables     map[[2]string]bool   // db.table entries
	dbTables   map[string]bool      // databases with db.table entries
	objectives []string             // distinct entries in input order
	keys       map[string][2]string // objective → normalised [db, table]
}

func newSelection(exportOnly []string, foldCase bool) *selection {
	s := &selection{
		all: len(exportOnly) == 0, foldCase: foldCase,
		dbs: map[string]bool{}, tables: map[[2]string]bool{}, dbTables: map[string]bool{},
		keys: map[string][2]string{},
	}
	seen := make(map[[2]string]bool)
	for _, raw := range exportOnly {
		db, table, _ := strings.Cut(raw, ".")
		k := [2]string{s.norm(db), s.norm(table)}
		if seen[k] {
			continue
		}
		seen[k] = true
		s.objectives = append(s.objectives, raw)
		s.keys[raw] = k
		if table == "" {
			s.dbs[k[0]] = true
		} else {
			s.tables[k] = true
			s.dbTables[k[0]] = true
		}
	}
	return s
}

func (s *selection) norm(name string) string {
	if s.foldCase {
		return strings.ToLower(name)
	}
	return name
}

func (s *selection) wantsDB(db string) bool {
	db = s.norm(db)
	return s.all || s.dbs[db] || s.dbTables[db]
}

func (s *selection) wants(db, table string) bool {
	db = s.norm(db)
	return s.all || s.dbs[db] || s.tables[[2]string{db, s.norm(table)}]
}

// notFound returns the entries that match none of databases (for "db")
// or no base table of all (for "db.table"), in input order.
func (s *selection) notFound(databases []string, all []baseTable) []engine.Skipped {
	dbs := make(map[string]bool)
	tables := make(map[[2]string]bool)
	for _, db := range databases {
		dbs[s.norm(db)] = true
	}
	for _, t := range all {
		tables[[2]string{s.norm(t.db), s.norm(t.name)}] = true
	}
	var out []engine.Skipped
	for _, raw := range s.objectives {
		k := s.keys[raw]
		found := tables[k]
		if k[1] == "" {
			found = dbs[k[0]]
		}
		if !found {
			out = append(out, engine.Skipped{Target: raw, Reason: engine.ReasonNotFound})
		}
	}
	return out
}

// inList renders names as a SQL list of string literals (hex, so that no
// quoting or sql_mode question arises).
func inList(names []string) string {
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("_utf8mb4 X'")
		b.WriteString(hex.EncodeToString([]byte(n)))
		b.WriteString("'")
	}
	return b.String()
}

// folderName applies spec §8.1: `\`, backtick, `"` and space become `_`
// in generated S3 paths.
func folderName(s string) string {
	return folderReplacer.Replace(s)
}

var folderReplacer = strings.NewReplacer(`\`, "_", "`", "_", `"`, "_", " ", "_")

// badColumnName reports a column name that spec §10 cannot export.
func badColumnName(name string) bool {
	return strings.ContainsAny(name, ",;{}()\n\t= ")
}

func asInt64(v driver.Value) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case uint64:
		return int64(min(x, 1<<63-1))
	case []byte:
		n, _ := strconv.ParseInt(string(x), 10, 64)
		return n
	}
	return 0
}
