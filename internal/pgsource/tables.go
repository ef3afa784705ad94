package pgsource

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/jackc/pgx/v5"

	"github.com/rdsexport/rdsexport/internal/engine"
)

// tablePlan is what ReadBatch needs to read one exported table.
type tablePlan struct {
	db     string
	rel    [2]string // schema and name of the exported table (the root of a partitioned one)
	rels   []string  // quoted relation per batch (the leaves of a partitioned table)
	bounds []int64   // first heap block of each range of batch 0; nil: one range
	cols   string    // quoted SELECT list
	schema *arrow.Schema
	kinds  []colKind
}

// relation is one candidate row of pg_class.
type relation struct {
	oid         uint32
	schema      string
	name        string
	kind        string // "r" or "p"
	persistence string // "p", "u" or "t"
	isPartition bool
	root        uint32 // the partition root when isPartition
}

// attr is one column of a relation.
type attr struct {
	rel       uint32
	name      string
	typid     uint32
	canSelect bool
	dataType  string
	charMax   *int64
	numPrec   *int64
	dtPrec    *int64
}

// Tables lists the tables to export, by database, schema and table name
// (byte order), with the skipped tables and the ExportOnly entries that
// matched nothing (spec §10, §11.2). Errors are server errors or ctx's
// error; ErrClosed after Close.
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
	)
	warn.Merge(s.warnings)
	plans := make(map[string]*tablePlan)
	for _, db := range s.dbs {
		err := db.withCoord(func(conn *pgx.Conn) error {
			ts, w, err := listTables(ctx, conn, db, plans, s.rangeLimits())
			if err != nil {
				return err
			}
			tables = append(tables, ts...)
			warn.Merge(w)
			return nil
		})
		if err != nil {
			return nil, engine.Warnings{}, fmt.Errorf("list tables of database %s: %w", db.name, s.src.redact(err))
		}
	}
	s.mu.Lock()
	for k, v := range plans {
		s.plans[k] = v
	}
	s.mu.Unlock()
	return tables, warn, nil
}

const relationsSQL = `
SELECT c.oid, n.nspname, c.relname, c.relkind, c.relpersistence, c.relispartition,
       COALESCE(CASE WHEN c.relispartition THEN pg_catalog.pg_partition_root(c.oid)::oid END, 0::oid)
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%'
  AND n.nspname NOT LIKE 'pg\_temp\_%'
ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"`

const schemasSQL = `
SELECT nspname FROM pg_catalog.pg_namespace
WHERE nspname NOT IN ('pg_catalog', 'information_schema')
  AND nspname NOT LIKE 'pg\_toast%' AND nspname NOT LIKE 'pg\_temp\_%'`

// attrsSQL gives the information_schema.columns values without the
// view's privilege filter (the expressions are those of the view).
const attrsSQL = `
SELECT a.attrelid, a.attname, a.atttypid,
       pg_catalog.has_column_privilege(a.attrelid, a.attnum, 'SELECT'),
       (CASE WHEN t.typtype = 'd' THEN
            CASE WHEN bt.typelem <> 0 AND bt.typlen = -1 THEN 'ARRAY'
                 WHEN nbt.nspname = 'pg_catalog' THEN pg_catalog.format_type(t.typbasetype, null)
                 ELSE 'USER-DEFINED' END
        ELSE
            CASE WHEN t.typelem <> 0 AND t.typlen = -1 THEN 'ARRAY'
                 WHEN nt.nspname = 'pg_catalog' THEN pg_catalog.format_type(a.atttypid, null)
                 ELSE 'USER-DEFINED' END
        END)::text,
       information_schema._pg_char_max_length(information_schema._pg_truetypid(a.*, t.*), information_schema._pg_truetypmod(a.*, t.*))::int8,
       information_schema._pg_numeric_precision(information_schema._pg_truetypid(a.*, t.*), information_schema._pg_truetypmod(a.*, t.*))::int8,
       information_schema._pg_datetime_precision(information_schema._pg_truetypid(a.*, t.*), information_schema._pg_truetypmod(a.*, t.*))::int8
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
JOIN pg_catalog.pg_namespace nt ON nt.oid = t.typnamespace
LEFT JOIN (pg_catalog.pg_type bt JOIN pg_catalog.pg_namespace nbt ON nbt.oid = bt.typnamespace)
       ON t.typtype = 'd' AND t.typbasetype = bt.oid
WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum`

// leavesSQL lists the leaf partitions of $1 with whether the exported
// columns ($2) are readable in each and its size.
//
// The tree is walked in pg_inherits, which the snapshot sees, rather than
// with pg_partition_tree, which reads the current catalog: a partition
// detached since the snapshot began still holds rows of the table at the
// snapshot, and one attached since then is not part of it.
const leavesSQL = `
WITH RECURSIVE tree(relid) AS (
	SELECT $1::oid
	UNION ALL
	SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN tree ON i.inhparent = tree.relid
)
SELECT c.oid, n.nspname, c.relname, c.relpersistence,
       CASE WHEN cardinality($2::text[]) = 0 THEN pg_catalog.has_table_privilege(c.oid, 'SELECT')
            ELSE (SELECT bool_and(pg_catalog.has_column_privilege(c.oid, col, 'SELECT')) FROM unnest($2::text[]) col)
       END,
       coalesce(pg_catalog.pg_total_relation_size(c.oid), 0)
FROM tree
JOIN pg_catalog.pg_class c ON c.oid = tree.relid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind NOT IN ('p', 'I')`

// rangeLimits are the bounds on splitting a table into ranged reads.
type rangeLimits struct {
	maxRanges int
	minBytes  int64
}

func (s *snapshot) rangeLimits() rangeLimits {
	return rangeLimits{maxRanges: rangesPerReader * s.maxReaders, minBytes: s.src.opts.MinRangeBytes}
}

// tidRangeScanVersion is the first server_version_num with TID Range Scan;
// before it a ctid range would scan the whole table, so tables are read in
// one range.
const tidRangeScanVersion = 140000

// rangeBounds splits blocks heap blocks into at most lim.maxRanges ranges
// of at least lim.minBytes each and returns the first block of each, or
// nil when the table is read in one range.
func rangeBounds(blocks, blockSize int64, lim rangeLimits) []int64 {
	n := min(blocks*blockSize/max(lim.minBytes, 1), int64(lim.maxRanges))
	if n < 2 {
		return nil
	}
	bounds := make([]int64, n)
	for i := range bounds {
		bounds[i] = blocks * int64(i) / n
	}
	return bounds
}

// listTables lists one database's tables on its coordinator connection,
// so the catalog is read at the snapshot.
func listTables(ctx context.Context, conn *pgx.Conn, db *database, plans map[string]*tablePlan, lim rangeLimits) ([]engine.Table, engine.Warnings, error) {
	var warn engine.Warnings
	var version int
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		return nil, warn, err
	}
	if version < tidRangeScanVersion {
		lim.maxRanges = 1
	}
	var all []relation
	rows, _ := conn.Query(ctx, relationsSQL)
	for rows.Next() {
		var r relation
		if err := rows.Scan(&r.oid, &r.schema, &r.name, &r.kind, &r.persistence, &r.isPartition, &r.root); err != nil {
			rows.Close()
			return nil, warn, err
		}
		all = append(all, r)
	}
	if err := rows.Err(); err != nil {
		return nil, warn, err
	}

	sel := db.sel
	// A partition is exported on its own only when named explicitly and
	// its root is not exported (spec §8.2 exports partitions as batches of
	// their root).
	rootWanted := make(map[uint32]bool)
	for _, r := range all {
		if !r.isPartition && sel.wants(r.schema, r.name) {
			rootWanted[r.oid] = true
		}
	}
	var chosen []relation
	for _, r := range all {
		if r.isPartition {
			if sel.tables[[2]string{r.schema, r.name}] && !rootWanted[r.root] {
				chosen = append(chosen, r)
			}
			continue
		}
		if sel.wants(r.schema, r.name) {
			chosen = append(chosen, r)
		}
	}

	// Objectives below the database level that match nothing.
	if !sel.whole || len(sel.objectives) > 1 {
		schemas := make(map[string]bool)
		srows, _ := conn.Query(ctx, schemasSQL)
		names, err := pgx.CollectRows(srows, pgx.RowTo[string])
		if err != nil {
			return nil, warn, err
		}
		for _, n := range names {
			schemas[n] = true
		}
		rels := make(map[[2]string]bool)
		for _, r := range all {
			rels[[2]string{r.schema, r.name}] = true
		}
		for _, o := range sel.objectives {
			switch {
			case o.schema == "":
				continue
			case o.table == "" && schemas[o.schema]:
				continue
			case o.table != "" && rels[[2]string{o.schema, o.table}]:
				continue
			}
			warn.SkippedObjectives = append(warn.SkippedObjectives,
				engine.Skipped{Target: o.raw, Reason: engine.ReasonNotFound})
		}
	}
	if len(chosen) == 0 {
		return nil, warn, nil
	}

	// Tables dropped since the snapshot began are listed by its catalog
	// but can no longer be read; the privilege functions, which read the
	// current catalog, give NULL for them.
	oids := make([]uint32, len(chosen))
	for i, r := range chosen {
		oids[i] = r.oid
	}
	grows, _ := conn.Query(ctx, `SELECT o FROM unnest($1::oid[]) AS o
		WHERE pg_catalog.has_table_privilege(o, 'SELECT') IS NULL`, oids)
	dropped, err := pgx.CollectRows(grows, pgx.RowTo[uint32])
	if err != nil {
		return nil, warn, err
	}
	if len(dropped) > 0 {
		chosen = slices.DeleteFunc(chosen, func(r relation) bool {
			if slices.Contains(dropped, r.oid) {
				warn.SkippedTables = append(warn.SkippedTables,
					engine.Skipped{Target: db.name + "." + r.schema + "." + r.name, Reason: engine.ReasonTableGone})
				return true
			}
			return false
		})
		if len(chosen) == 0 {
			return nil, warn, nil
		}
		oids = oids[:0]
		for _, r := range chosen {
			oids = append(oids, r.oid)
		}
	}
	attrs := make(map[uint32][]attr)
	arows, _ := conn.Query(ctx, attrsSQL, oids)
	for arows.Next() {
		var a attr
		if err := arows.Scan(&a.rel, &a.name, &a.typid, &a.canSelect, &a.dataType, &a.charMax, &a.numPrec, &a.dtPrec); err != nil {
			arows.Close()
			return nil, warn, err
		}
		attrs[a.rel] = append(attrs[a.rel], a)
	}
	if err := arows.Err(); err != nil {
		return nil, warn, err
	}

	var tables []engine.Table
	for _, r := range chosen {
		target := db.name + "." + r.schema + "." + r.name
		skip := func(reason string) {
			warn.SkippedTables = append(warn.SkippedTables, engine.Skipped{Target: target, Reason: reason})
		}
		if r.persistence != "p" {
			skip(engine.ReasonTemporaryOrUnlogged)
			continue
		}
		if strings.Contains(r.schema, "/") {
			skip(engine.ReasonUnsupportedSchemaName)
			continue
		}
		if strings.Contains(r.name, "/") {
			skip(engine.ReasonUnsupportedTableName)
			continue
		}
		cols := attrs[r.oid]
		bad, allowed := false, true
		for _, a := range cols {
			bad = bad || badColumnName(a.name)
		}
		if bad {
			skip(engine.ReasonUnsupportedColumnName)
			continue
		}

		plan := &tablePlan{db: db.name, rel: [2]string{r.schema, r.name}}
		var (
			fields   []arrow.Field
			columns  []engine.Column
			selected []string
			names    []string
		)
		for _, a := range cols {
			kind, dt, expected, ok := typeMapping(a.typid)
			if !ok {
				continue
			}
			allowed = allowed && a.canSelect
			fields = append(fields, arrow.Field{Name: a.name, Type: dt, Nullable: true})
			plan.kinds = append(plan.kinds, kind)
			selected = append(selected, pgx.Identifier{a.name}.Sanitize())
			names = append(names, a.name)
			columns = append(columns, engine.Column{
				Name:                 a.name,
				OriginalType:         a.dataType,
				ExpectedExportedType: expected,
				CharMaxLength:        deref(a.charMax),
				NumPrecision:         deref(a.numPrec),
				DateTimePrecision:    deref(a.dtPrec),
			})
		}
		if len(selected) == 0 {
			var ok bool
			if err := conn.QueryRow(ctx, "SELECT pg_catalog.has_table_privilege($1::oid, 'SELECT')", r.oid).Scan(&ok); err != nil {
				return nil, warn, err
			}
			allowed = ok
		}
		if !allowed {
			skip(engine.ReasonPermissions)
			continue
		}
		plan.cols = strings.Join(selected, ", ")
		plan.schema = arrow.NewSchema(fields, nil)

		var size int64
		if r.kind == "p" {
			rels, sz, reason, err := partitionBatches(ctx, conn, r, names)
			if err != nil {
				return nil, warn, fmt.Errorf("partitions of %s.%s: %w", r.schema, r.name, err)
			}
			if reason != "" {
				skip(reason)
				continue
			}
			plan.rels, size = rels, sz
		} else {
			plan.rels = []string{pgx.Identifier{r.schema, r.name}.Sanitize()}
			// The heap's current size bounds the ranges; it can only be
			// larger than at the snapshot (VACUUM cannot truncate pages
			// holding rows the snapshot sees), and the last range is open.
			var heap, blockSize int64
			if err := conn.QueryRow(ctx, `SELECT pg_catalog.pg_total_relation_size($1::oid),
				pg_catalog.pg_relation_size($1::oid), current_setting('block_size')::int8`, r.oid).Scan(&size, &heap, &blockSize); err != nil {
				return nil, warn, err
			}
			plan.bounds = rangeBounds(heap/blockSize, blockSize, lim)
			if b, ok := db.bounds[plan.rel]; ok {
				// Joined: the ranges are the sharing snapshot's.
				plan.bounds = b
			}
		}

		plans[target] = plan
		tables = append(tables, engine.Table{
			Target:         target,
			Database:       folderName(db.name),
			Folder:         folderName(r.schema + "." + r.name),
			Schema:         plan.schema,
			Columns:        columns,
			Batches:        len(plan.rels),
			Ranges:         max(len(plan.bounds), 1),
			EstimatedBytes: size,
		})
	}
	return tables, warn, nil
}

// partitionBatches returns the leaves of partitioned table r in partition
// bound order, their total size, or a skip reason when a leaf is unlogged
// or unreadable (the table is exported whole or not at all).
func partitionBatches(ctx context.Context, conn *pgx.Conn, r relation, cols []string) ([]string, int64, string, error) {
	if cols == nil {
		cols = []string{}
	}
	type leaf struct {
		schema, name string
		persistence  string
		canSelect    bool
		size         int64
	}
	rows, _ := conn.Query(ctx, leavesSQL, r.oid, cols)
	var leaves []leaf
	for rows.Next() {
		var (
			l   leaf
			oid uint32
			can *bool
		)
		if err := rows.Scan(&oid, &l.schema, &l.name, &l.persistence, &can, &l.size); err != nil {
			rows.Close()
			return nil, 0, "", err
		}
		l.canSelect = can != nil && *can
		leaves = append(leaves, l)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, "", err
	}
	if len(leaves) == 0 {
		// No partitions yet: one empty batch read from the parent.
		return []string{pgx.Identifier{r.schema, r.name}.Sanitize()}, 0, "", nil
	}
	var size int64
	for _, l := range leaves {
		if l.persistence != "p" {
			return nil, 0, engine.ReasonTemporaryOrUnlogged, nil
		}
		if !l.canSelect {
			return nil, 0, engine.ReasonPermissions, nil
		}
		size += l.size
	}

	order, err := appendOrder(ctx, conn, pgx.Identifier{r.schema, r.name}.Sanitize())
	if err != nil {
		return nil, 0, "", err
	}
	rank := make(map[[2]string]int, len(order))
	for i, k := range order {
		if _, dup := rank[k]; !dup {
			rank[k] = i
		}
	}
	// Leaves missing from the plan (none expected) keep catalog order
	// after the others.
	pos := func(l leaf) int {
		if i, ok := rank[[2]string{l.schema, l.name}]; ok {
			return i
		}
		return len(order)
	}
	slices.SortStableFunc(leaves, func(a, b leaf) int { return cmp.Compare(pos(a), pos(b)) })
	rels := make([]string, len(leaves))
	for i, l := range leaves {
		rels[i] = pgx.Identifier{l.schema, l.name}.Sanitize()
	}
	return rels, size, "", nil
}

// appendOrder returns the relations scanned by a plain SELECT of a
// partitioned table, in plan order. The planner expands partitions in
// bound order (PartitionDesc order), which SQL exposes nowhere else;
// parallel plans, which reorder by cost, are off on the coordinator.
func appendOrder(ctx context.Context, conn *pgx.Conn, rel string) ([][2]string, error) {
	var plan string
	if err := conn.QueryRow(ctx, "EXPLAIN (FORMAT JSON, VERBOSE, COSTS OFF) SELECT 1 FROM "+rel).Scan(&plan); err != nil {
		return nil, err
	}
	var doc []struct {
		Plan json.RawMessage `json:"Plan"`
	}
	if err := json.Unmarshal([]byte(plan), &doc); err != nil {
		return nil, fmt.Errorf("decode plan: %w", err)
	}
	var out [][2]string
	var walk func(raw json.RawMessage) error
	walk = func(raw json.RawMessage) error {
		var n struct {
			Schema   string            `json:"Schema"`
			Relation string            `json:"Relation Name"`
			Plans    []json.RawMessage `json:"Plans"`
		}
		if err := json.Unmarshal(raw, &n); err != nil {
			return fmt.Errorf("decode plan: %w", err)
		}
		if n.Relation != "" {
			out = append(out, [2]string{n.Schema, n.Relation})
		}
		for _, p := range n.Plans {
			if err := walk(p); err != nil {
				return err
			}
		}
		return nil
	}
	for _, d := range doc {
		if err := walk(d.Plan); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
