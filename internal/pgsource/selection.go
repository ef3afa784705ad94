package pgsource

import (
	"slices"
	"strings"

	"github.com/rdsexport/rdsexport/internal/engine"
)

// objective is one ExportOnly entry below the database level (spec §7.4):
// "db.schema" (table == "") or "db.schema.table".
type objective struct {
	raw    string
	schema string
	table  string
}

// selection is what ExportOnly asks of one database.
type selection struct {
	db    string
	whole bool
	// schemas and tables hold the narrower entries; tables are keyed by
	// [schema, table].
	schemas map[string]bool
	tables  map[[2]string]bool
	// objectives are the entries naming this database, in input order,
	// for NOT_FOUND reporting; the database-level entry has schema "".
	objectives []objective
}

// wants reports whether the selection includes schema.table.
func (s *selection) wants(schema, table string) bool {
	return s.whole || s.schemas[schema] || s.tables[[2]string{schema, table}]
}

// selectDatabases narrows the server's databases (names) by exportOnly.
// Matching is exact and case-sensitive; repeated entries count once.
// Entries naming a missing database are returned as NOT_FOUND; entries
// below the database level are checked later against the catalog.
func selectDatabases(names []string, exportOnly []string) ([]*selection, []engine.Skipped) {
	if len(exportOnly) == 0 {
		sels := make([]*selection, len(names))
		for i, n := range names {
			sels[i] = &selection{db: n, whole: true}
		}
		return sels, nil
	}
	byDB := make(map[string]*selection)
	var notFound []engine.Skipped
	seen := make(map[string]bool)
	for _, raw := range exportOnly {
		if seen[raw] {
			continue
		}
		seen[raw] = true
		parts := strings.Split(raw, ".")
		if len(parts) > 3 || slices.Contains(parts, "") || !slices.Contains(names, parts[0]) {
			notFound = append(notFound, engine.Skipped{Target: raw, Reason: engine.ReasonNotFound})
			continue
		}
		sel := byDB[parts[0]]
		if sel == nil {
			sel = &selection{db: parts[0], schemas: map[string]bool{}, tables: map[[2]string]bool{}}
			byDB[parts[0]] = sel
		}
		o := objective{raw: raw}
		switch len(parts) {
		case 1:
			sel.whole = true
		case 2:
			o.schema = parts[1]
			sel.schemas[o.schema] = true
		case 3:
			o.schema, o.table = parts[1], parts[2]
			sel.tables[[2]string{o.schema, o.table}] = true
		}
		sel.objectives = append(sel.objectives, o)
	}
	var sels []*selection
	for _, n := range names {
		if sel := byDB[n]; sel != nil {
			sels = append(sels, sel)
		}
	}
	return sels, notFound
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
