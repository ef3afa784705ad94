package mysqlsource_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/go-sql-driver/mysql"
	"go.uber.org/goleak"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/mysqlsource"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const defaultMySQLURL = "mysql://root@127.0.0.1:3306/"

// serverURL returns TEST_MYSQL_URL (or the local default) after checking
// the server answers; it skips the test when it does not, unless CI=true.
func serverURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("TEST_MYSQL_URL")
	if u == "" {
		u = defaultMySQLURL
	}
	db := openSQL(t, u, "")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("MySQL unreachable (TEST_MYSQL_URL): %v", err)
		}
		t.Skipf("MySQL unreachable, set TEST_MYSQL_URL: %v", err)
	}
	return u
}

// openSQL opens a database/sql handle on u (a mysql:// URL) and database
// db, with the export's session settings and an empty sql_mode (so zero
// dates can be inserted). It is closed when the test ends.
func openSQL(t testing.TB, u, db string) *sql.DB {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	cfg := mysql.NewConfig()
	cfg.User = p.User.Username()
	cfg.Passwd, _ = p.User.Password()
	port := p.Port()
	if port == "" {
		port = "3306"
	}
	cfg.Net, cfg.Addr, cfg.DBName = "tcp", net.JoinHostPort(p.Hostname(), port), db
	cfg.Params = map[string]string{"time_zone": "'+00:00'", "sql_mode": "''"}
	if err := cfg.Apply(mysql.Charset("utf8mb4", "utf8mb4_general_ci")); err != nil {
		t.Fatal(err)
	}
	cfg.Logger = &mysql.NopLogger{}
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := sql.OpenDB(c)
	t.Cleanup(func() { _ = h.Close() })
	return h
}

func randomSuffix() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// testDB is a fresh database for one test.
type testDB struct {
	Name string
	URL  string // server URL
	SQL  *sql.DB
}

// newTestDB creates database rdsexport_mysql_<random>, runs setup in it
// and drops it when the test ends.
func newTestDB(t testing.TB, setup ...string) *testDB {
	t.Helper()
	u := serverURL(t)
	name := "rdsexport_mysql_" + randomSuffix()
	admin := openSQL(t, u, "")
	if _, err := admin.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	db := &testDB{Name: name, URL: u, SQL: openSQL(t, u, name)}
	for _, s := range setup {
		db.exec(t, s)
	}
	return db
}

func (db *testDB) exec(t testing.TB, q string, args ...any) {
	t.Helper()
	if _, err := db.SQL.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// open opens a snapshot narrowed to the test database (so tests never
// touch other databases of the server) unless exportOnly says otherwise.
func open(t testing.TB, db *testDB, conns int, alloc memory.Allocator, exportOnly ...string) engine.Snapshot {
	t.Helper()
	return openWith(t, db, mysqlsource.Params{}, conns, alloc, exportOnly...)
}

// openWith is open with Source options.
func openWith(t testing.TB, db *testDB, opts mysqlsource.Params, conns int, alloc memory.Allocator, exportOnly ...string) engine.Snapshot {
	t.Helper()
	if len(exportOnly) == 0 {
		exportOnly = []string{db.Name}
	}
	src := mysqlsource.New(db.URL, opts)
	snap, err := src.Open(t.Context(), engine.OpenParams{ExportOnly: exportOnly, Connections: conns, Alloc: alloc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = snap.Close() })
	return snap
}

func tables(t testing.TB, snap engine.Snapshot) (map[string]engine.Table, []engine.Table, engine.Warnings) {
	t.Helper()
	ts, w, err := snap.Tables(t.Context())
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
// string, []byte, int16, int32, int64, float64, decimal text (string
// prefixed "dec:"), or time.Time for timestamps.
func readRows(t testing.TB, snap engine.Snapshot, tb engine.Table, batch int) [][]any {
	t.Helper()
	rows, err := collectRows(t, tb, func(emit func(arrow.RecordBatch) error) error {
		return snap.ReadBatch(t.Context(), tb, batch, emit, func(int64) {})
	})
	if err != nil {
		t.Fatalf("ReadBatch %s/%d: %v", tb.Target, batch, err)
	}
	return rows
}

// readRange is readRows of range rng of batch 0; it may run in any
// goroutine.
func readRange(t testing.TB, snap engine.Snapshot, tb engine.Table, rng int) ([][]any, error) {
	return collectRows(t, tb, func(emit func(arrow.RecordBatch) error) error {
		return snap.(engine.RangeReader).ReadRange(t.Context(), tb, 0, rng, emit, func(int64) {})
	})
}

// collectRows runs read and returns the rows it emits (see readRows).
func collectRows(t testing.TB, tb engine.Table, read func(emit func(arrow.RecordBatch) error) error) ([][]any, error) {
	var (
		mu   sync.Mutex
		rows [][]any
	)
	err := read(func(rec arrow.RecordBatch) error {
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
	})
	return rows, err
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
	case *array.Int16:
		return a.Value(i)
	case *array.Int32:
		return a.Value(i)
	case *array.Int64:
		return a.Value(i)
	case *array.Float64:
		return a.Value(i)
	case *array.Decimal128:
		return "dec:" + a.Value(i).ToString(a.DataType().(*arrow.Decimal128Type).Scale)
	case *array.Timestamp:
		return time.UnixMicro(int64(a.Value(i))).UTC()
	}
	panic("unexpected array type " + col.DataType().String())
}

func checkedAlloc(t testing.TB) *memory.CheckedAllocator {
	t.Helper()
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { alloc.AssertSize(t, 0) })
	return alloc
}
