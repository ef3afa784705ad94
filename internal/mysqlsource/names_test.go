package mysqlsource_test

import (
	"slices"
	"testing"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/mysqlsource"
)

// TestSnapshot_UnsafeNames: databases named "..", "." or with a "/" would
// climb out of the export's folder; they are skipped with a warning, and
// a table named ".." of a plain database is exported (its folder is
// "db...").
func TestSnapshot_UnsafeNames(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, "CREATE TABLE `..` (a INT)", "INSERT INTO `..` VALUES (1)", "CREATE TABLE `a/b` (a INT)")
	slash := db.Name + "/x"
	names := []string{"..", ".", slash}
	for _, n := range names {
		q := "CREATE DATABASE IF NOT EXISTS " + quote(n)
		db.exec(t, q)
		db.exec(t, "CREATE TABLE IF NOT EXISTS "+quote(n)+".t (a INT)")
		t.Cleanup(func() { _, _ = db.SQL.Exec("DROP DATABASE IF EXISTS " + quote(n)) })
	}
	src := mysqlsource.New(db.URL, mysqlsource.Params{Databases: append([]string{db.Name}, names...)})
	snap, err := src.Open(t.Context(), engine.OpenParams{Connections: 2, Alloc: checkedAlloc(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	byTarget, ts, warn := tables(t, snap)
	if len(ts) != 1 || ts[0].Database != db.Name || ts[0].Folder != db.Name+"..." {
		t.Errorf("tables %+v, want %s.. only", ts, db.Name)
	}
	if rows := readRows(t, snap, byTarget[db.Name+"..."], 0); len(rows) != 1 {
		t.Errorf("rows %v", rows)
	}
	var skippedDBs []string
	for _, g := range warn.General {
		if g.Reason == engine.ReasonUnsupportedDatabaseName {
			skippedDBs = append(skippedDBs, g.Detail)
		}
	}
	slices.Sort(skippedDBs)
	if want := []string{".", "..", slash}; !slices.Equal(skippedDBs, want) {
		t.Errorf("databases skipped %q, want %q (warnings %s)", skippedDBs, want, warn)
	}
	if !slices.Contains(warn.SkippedTables, engine.Skipped{Target: db.Name + ".a/b", Reason: engine.ReasonUnsupportedTableName}) {
		t.Errorf("a/b not skipped: %s", warn)
	}
}

func quote(name string) string { return "`" + name + "`" }
