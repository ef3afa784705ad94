package mysqlsource_test

import (
	"testing"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/mysqlsource"
)

// TestSource_Databases: Params.Databases limits the server to the named
// databases; the others are not exported and are NOT_FOUND when named.
func TestSource_Databases(t *testing.T) {
	in := newTestDB(t, "CREATE TABLE kept (id int)")
	out := newTestDB(t, "CREATE TABLE hidden (id int)")
	src := mysqlsource.New(in.URL, mysqlsource.Params{Databases: []string{in.Name}})
	snap, err := src.Open(t.Context(), engine.OpenParams{Connections: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	byTarget, list, _ := tables(t, snap)
	if _, ok := byTarget[in.Name+".kept"]; !ok || len(list) != 1 {
		t.Errorf("tables %v, want only %s.kept", byTarget, in.Name)
	}

	snap2, err := src.Open(t.Context(), engine.OpenParams{Connections: 1, ExportOnly: []string{out.Name}})
	if err != nil {
		t.Fatal(err)
	}
	defer snap2.Close()
	_, list, w := tables(t, snap2)
	if len(list) != 0 || len(w.SkippedObjectives) != 1 || w.SkippedObjectives[0].Reason != engine.ReasonNotFound {
		t.Errorf("outside database: tables %v warnings %+v", list, w)
	}
}
