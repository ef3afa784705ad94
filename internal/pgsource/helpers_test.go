package pgsource_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/pgsource"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const defaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres"

// adminURL returns TEST_POSTGRES_URL (or the local default) after checking
// the server answers; it skips the test when it does not, unless CI=true.
func adminURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("TEST_POSTGRES_URL")
	if u == "" {
		u = defaultPostgresURL
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL unreachable (TEST_POSTGRES_URL): %v", err)
		}
		t.Skipf("PostgreSQL unreachable, set TEST_POSTGRES_URL: %v", err)
	}
	_ = conn.Close(ctx)
	return u
}

// withDatabase returns u pointing at database db.
func withDatabase(t testing.TB, u, db string) string {
	t.Helper()
	if strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://") {
		p, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		p.Path = "/" + db
		return p.String()
	}
	return u + " dbname=" + db
}

func randomSuffix() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// testDB is a fresh database for one test.
type testDB struct {
	Name  string
	URL   string // URL of the database itself
	Admin string // URL of the server's maintenance database
	Conn  *pgx.Conn
}

// newTestDB creates database rdsexport_pgsource_<random>, runs setup in
// it and drops it (forcefully) when the test ends.
func newTestDB(t testing.TB, setup ...string) *testDB {
	t.Helper()
	admin := adminURL(t)
	name := "rdsexport_pgsource_" + randomSuffix()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("drop %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	db := &testDB{Name: name, URL: withDatabase(t, admin, name), Admin: admin}
	db.Conn = db.connect(t)
	for _, s := range setup {
		db.exec(t, s)
	}
	return db
}

// connect opens a connection to the database with the export session
// settings; it is closed when the test ends.
func (db *testDB) connect(t testing.TB) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"DateStyle": "ISO", "IntervalStyle": "postgres", "extra_float_digits": "3", "TimeZone": "UTC"} {
		cfg.RuntimeParams[k] = v
	}
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func (db *testDB) exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	if _, err := db.Conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// open opens a snapshot of the test database (always narrowed by
// ExportOnly, so tests never touch other databases of the server).
func open(t testing.TB, db *testDB, conns int, alloc memory.Allocator, exportOnly ...string) engine.Snapshot {
	t.Helper()
	if len(exportOnly) == 0 {
		exportOnly = []string{db.Name}
	}
	src := pgsource.New(db.Admin, pgsource.Params{})
	snap, err := src.Open(context.Background(), engine.OpenParams{ExportOnly: exportOnly, Connections: conns, Alloc: alloc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = snap.Close() })
	return snap
}

func tables(t testing.TB, snap engine.Snapshot) (map[string]engine.Table, []engine.Table, engine.Warnings) {
	t.Helper()
	ts, w, err := snap.Tables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]engine.Table)
	for _, tb := range ts {
		m[tb.Target] = tb
	}
	return m, ts, w
}

// readRows reads one batch and returns its rows with Go values: nil,
// string, []byte, bool, int16, int32, int64, float32, float64.
func readRows(t testing.TB, snap engine.Snapshot, tb engine.Table, batch int) [][]any {
	t.Helper()
	var (
		mu   sync.Mutex
		rows [][]any
	)
	err := snap.ReadBatch(context.Background(), tb, batch, func(rec arrow.RecordBatch) error {
		if !rec.Schema().Equal(tb.Schema) {
			t.Errorf("batch schema %v, want %v", rec.Schema(), tb.Schema)
		}
		mu.Lock()
		defer mu.Unlock()
		for r := 0; r < int(rec.NumRows()); r++ {
			row := make([]any, rec.NumCols())
			for c, col := range rec.Columns() {
				row[c] = value(col, r)
			}
			rows = append(rows, row)
		}
		return nil
	}, func(int64) {})
	if err != nil {
		t.Fatalf("ReadBatch %s/%d: %v", tb.Target, batch, err)
	}
	return rows
}

func value(col arrow.Array, i int) any {
	if col.IsNull(i) {
		return nil
	}
	switch a := col.(type) {
	case *array.String:
		return a.Value(i)
	case *array.Binary:
		return append([]byte{}, a.Value(i)...)
	case *array.Boolean:
		return a.Value(i)
	case *array.Int16:
		return a.Value(i)
	case *array.Int32:
		return a.Value(i)
	case *array.Int64:
		return a.Value(i)
	case *array.Float32:
		return a.Value(i)
	case *array.Float64:
		return a.Value(i)
	}
	panic("unexpected array type " + col.DataType().String())
}

func checkedAlloc(t testing.TB) *memory.CheckedAllocator {
	t.Helper()
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { alloc.AssertSize(t, 0) })
	return alloc
}
