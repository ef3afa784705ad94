package pgsource_test

import (
	"context"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/pgsource"
)

// TestSnapshot_UnsafeNames: a database or schema name with a "/" would
// climb out of the export's folder; the database is skipped with a
// General warning and the schema's tables with UNSUPPORTED_SCHEMA_NAME. A
// schema and table both named ".." make the folder "....." and are
// exported.
func TestSnapshot_UnsafeNames(t *testing.T) {
	t.Parallel()
	db := newTestDB(t,
		`CREATE SCHEMA "../../../../tmp/x"`,
		`CREATE TABLE "../../../../tmp/x".t (a int)`,
		`CREATE SCHEMA ".."`,
		`CREATE TABLE "..".".." (a int)`,
		`INSERT INTO "..".".." VALUES (1)`,
		`CREATE TABLE "a/b" (a int)`,
	)
	slash := db.Name + "/x"
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, db.Admin)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{slash}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), db.Admin)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{slash}.Sanitize()+" WITH (FORCE)")
	})

	src := pgsource.New(db.Admin, pgsource.Params{Databases: []string{db.Name, slash}})
	snap, err := src.Open(ctx, engine.OpenParams{Connections: 2, Alloc: checkedAlloc(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	byTarget, ts, warn := tables(t, snap)
	if len(ts) != 1 || ts[0].Target != db.Name+"......" || ts[0].Database != db.Name || ts[0].Folder != "....." {
		t.Errorf("tables %+v, want %s...... only", ts, db.Name)
	}
	if rows := readRows(t, snap, byTarget[db.Name+"......"], 0); len(rows) != 1 {
		t.Errorf("rows %v", rows)
	}
	if want := (engine.General{Reason: engine.ReasonUnsupportedDatabaseName, Detail: slash}); !slices.Contains(warn.General, want) {
		t.Errorf("database %s not skipped: %s", slash, warn)
	}
	for _, want := range []engine.Skipped{
		{Target: db.Name + ".../../../../tmp/x.t", Reason: engine.ReasonUnsupportedSchemaName},
		{Target: db.Name + ".public.a/b", Reason: engine.ReasonUnsupportedTableName},
	} {
		if !slices.Contains(warn.SkippedTables, want) {
			t.Errorf("%s not skipped with %s: %s", want.Target, want.Reason, warn)
		}
	}
}
