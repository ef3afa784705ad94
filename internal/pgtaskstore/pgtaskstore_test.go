package pgtaskstore

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/exporttest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newTestStore opens a store on a database of its own, dropped at the end.
func newTestStore(t testing.TB) (*Store, *exporttest.PostgresDB) {
	t.Helper()
	db := exporttest.NewPostgresDB(t, "")
	s, err := New(t.Context(), Params{URL: db.URL, MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	// Registered after the database's cleanup, so it runs before it.
	t.Cleanup(func() { _ = s.Close() })
	return s, db
}

func TestStore(t *testing.T) {
	exporttest.StoreSuite(t, func(t *testing.T) export.Store { s, _ := newTestStore(t); return s })
}

func TestSnapshotStore(t *testing.T) {
	exporttest.SnapshotStoreSuite(t, func(t *testing.T) export.SnapshotStore { s, _ := newTestStore(t); return s })
}

func TestEventStore(t *testing.T) {
	exporttest.EventStoreSuite(t, func(t *testing.T, now func() time.Time) exporttest.EventfulStore {
		db := exporttest.NewPostgresDB(t, "")
		s, err := New(t.Context(), Params{URL: db.URL, MaxConns: 8, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func TestCounts(t *testing.T) {
	exporttest.CountsSuite(t, func(t *testing.T) exporttest.CountingStore { s, _ := newTestStore(t); return s })
}

// TestNew_Concurrent starts several nodes on a fresh database at once:
// every New succeeds and the schema is created once.
func TestNew_Concurrent(t *testing.T) {
	db := exporttest.NewPostgresDB(t, "")
	const nodes = 8
	stores := make([]*Store, nodes)
	errs := make([]error, nodes)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = New(t.Context(), Params{URL: db.URL, MaxConns: 2})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	names, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	var applied, tables int
	err = stores[0].pool.QueryRow(t.Context(), `SELECT (SELECT count(*) FROM `+versionTable+`),
		(SELECT count(*) FROM pg_tables WHERE tablename LIKE 'rdsexport\_%')`).Scan(&applied, &tables)
	if err != nil {
		t.Fatal(err)
	}
	if applied != len(names) || tables != 4 {
		t.Fatalf("%d migrations recorded, %d tables; want %d and 4", applied, tables, len(names))
	}
	// Every node works on the one schema.
	task := &export.Task{Identifier: "exp-1", AccountID: "123456789012", SourceArn: "arn:aws:rds:us-east-1:123456789012:cluster:c",
		SourceType: export.SourceTypeCluster, TaskStartTime: time.Now()}
	if err := stores[1].CreateTask(t.Context(), task); err != nil {
		t.Fatal(err)
	}
	if _, err := stores[nodes-1].GetTask(t.Context(), task.AccountID, task.Identifier); err != nil {
		t.Fatal(err)
	}
}

// TestNew_OtherTables: the store shares its database with the tables of
// others and leaves them alone.
func TestNew_OtherTables(t *testing.T) {
	db := exporttest.NewPostgresDB(t, `CREATE TABLE river_job (id bigint PRIMARY KEY); CREATE TABLE export_tasks (x int);
		INSERT INTO river_job VALUES (1);`)
	s, err := New(t.Context(), Params{URL: db.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var n int
	if err := s.pool.QueryRow(t.Context(), `SELECT count(*) FROM river_job`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("river_job: %d rows, %v", n, err)
	}
}

func TestNew_Reopen(t *testing.T) {
	ctx := t.Context()
	s, db := newTestStore(t)
	task := &export.Task{Identifier: "exp-reopen", AccountID: "123456789012", SourceArn: "arn:aws:rds:us-east-1:123456789012:snapshot:s",
		SourceType: export.SourceTypeSnapshot, ExportOnly: []string{}, TaskStartTime: time.Date(2024, 1, 2, 3, 4, 5, 6000, time.UTC)}
	if err := s.CreateTask(ctx, task); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err := New(ctx, Params{URL: db.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.GetTask(ctx, task.AccountID, task.Identifier)
	if err != nil {
		t.Fatal(err)
	}
	if got.Seq != task.Seq || !got.TaskStartTime.Equal(task.TaskStartTime) || got.ExportOnly == nil {
		t.Fatalf("after reopen: %+v, want %+v", got, task)
	}
	r, err := Check(ctx, Params{URL: db.URL})
	if err != nil {
		t.Fatal(err)
	}
	if r.SchemaVersion != r.KnownVersion || r.Tasks != 1 || r.Snapshots != 0 {
		t.Fatalf("Check = %+v", r)
	}
}

func TestNew_ErrNewerSchema(t *testing.T) {
	ctx := t.Context()
	s, db := newTestStore(t)
	if _, err := s.pool.Exec(ctx, `INSERT INTO `+versionTable+` (version, name) VALUES (99, '0099_future.sql')`); err != nil {
		t.Fatal(err)
	}
	if s, err := New(ctx, Params{URL: db.URL}); !errors.Is(err, ErrNewerSchema) {
		if err == nil {
			s.Close()
		}
		t.Fatalf("New on a newer schema: %v, want ErrNewerSchema", err)
	}
	if _, err := Check(ctx, Params{URL: db.URL}); !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("Check on a newer schema: %v, want ErrNewerSchema", err)
	}
}

func TestCheck_ErrNoSchema(t *testing.T) {
	db := exporttest.NewPostgresDB(t, "")
	if _, err := Check(t.Context(), Params{URL: db.URL}); !errors.Is(err, ErrNoSchema) {
		t.Fatalf("Check on an empty database: %v, want ErrNoSchema", err)
	}
}

// TestNew_ErrURL: a URL that does not parse or a refused login is an error
// that does not quote the password.
func TestNew_ErrURL(t *testing.T) {
	db := exporttest.NewPostgresDB(t, "")
	const secret = "s3cr3t-Pa55"
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for _, u := range []string{
		"postgres://postgres:" + secret + "@127.0.0.1:notaport/x",
		"postgres://nosuchuser:" + secret + "@127.0.0.1:1/" + db.Name,
		"host=127.0.0.1 port=1 password=" + secret,
	} {
		s, err := New(ctx, Params{URL: u})
		if err == nil {
			s.Close()
			t.Fatalf("New succeeded")
		}
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("error quotes the password: %v", err)
		}
	}
}

// TestPool_Settings: the pool's connections run with the lock and idle
// transaction timeouts and the pool size given.
func TestPool_Settings(t *testing.T) {
	db := exporttest.NewPostgresDB(t, "")
	s, err := New(t.Context(), Params{URL: db.URL, MaxConns: 3, LockTimeout: 1500 * time.Millisecond, IdleInTransactionTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var lock, idle, app string
	if err := s.pool.QueryRow(t.Context(), `SELECT current_setting('lock_timeout'), current_setting('idle_in_transaction_session_timeout'),
		current_setting('application_name')`).Scan(&lock, &idle, &app); err != nil {
		t.Fatal(err)
	}
	if lock != "1500ms" || idle != "2s" || app != "rdsexport" {
		t.Fatalf("lock_timeout %s, idle_in_transaction_session_timeout %s, application_name %s", lock, idle, app)
	}
	if n := s.pool.Config().MaxConns; n != 3 {
		t.Fatalf("MaxConns = %d, want 3", n)
	}
}

// TestTransition_LockTimeout: a statement that waits on a row another
// session keeps locked gives up after lock_timeout instead of hanging.
func TestTransition_LockTimeout(t *testing.T) {
	ctx := t.Context()
	db := exporttest.NewPostgresDB(t, "")
	s, err := New(ctx, Params{URL: db.URL, LockTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	task := &export.Task{Identifier: "exp-l", AccountID: "123456789012", SourceArn: "arn:aws:rds:us-east-1:123456789012:cluster:c",
		SourceType: export.SourceTypeCluster, TaskStartTime: time.Now()}
	if err := s.CreateTask(ctx, task); err != nil {
		t.Fatal(err)
	}
	other, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(context.Background())
	tx, err := other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, `SELECT 1 FROM rdsexport_export_tasks WHERE identifier = 'exp-l' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	_, err = s.Transition(ctx, task.AccountID, task.Identifier, []export.Status{export.StatusStarting}, export.StatusInProgress, export.TaskUpdate{})
	if err == nil || time.Since(begin) > 5*time.Second {
		t.Fatalf("Transition on a locked row: %v after %s, want a lock timeout", err, time.Since(begin))
	}
}

// TestNew_SearchPath: a search_path in the URL puts the tables in a schema
// of their own, apart from same-named tables elsewhere in the database.
func TestNew_SearchPath(t *testing.T) {
	db := exporttest.NewPostgresDB(t, `CREATE SCHEMA rdsexport; CREATE SCHEMA other;`)
	for _, schema := range []string{"rdsexport", "other"} {
		s, err := New(t.Context(), Params{URL: db.URL + "?search_path=" + schema})
		if err != nil {
			t.Fatal(err)
		}
		task := &export.Task{Identifier: "exp-1", AccountID: "123456789012", SourceArn: "arn:aws:rds:us-east-1:123456789012:cluster:c",
			SourceType: export.SourceTypeCluster, TaskStartTime: time.Now()}
		err = s.CreateTask(t.Context(), task)
		s.Close()
		if err != nil {
			t.Fatalf("%s: %v", schema, err)
		}
	}
	s, err := New(t.Context(), Params{URL: db.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var schemas []string
	rows, err := s.pool.Query(t.Context(), `SELECT schemaname FROM pg_tables WHERE tablename = 'rdsexport_export_tasks' ORDER BY 1`)
	if err == nil {
		schemas, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil || strings.Join(schemas, ",") != "other,public,rdsexport" {
		t.Fatalf("schemas holding the tasks table: %v %v", schemas, err)
	}
}

// TestCreateTask_Messages: the identifier conflict is reported before the
// source conflict whichever index PostgreSQL checks first, and the source
// conflict names the task that holds the source.
func TestCreateTask_Messages(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := t.Context()
	// PostgreSQL checks unique indexes in the order they were created:
	// make the identifier's the last.
	if _, err := s.pool.Exec(ctx, `DROP INDEX `+indexTaskIdentifier+`;
		CREATE UNIQUE INDEX `+indexTaskIdentifier+` ON rdsexport_export_tasks (account_id, identifier)`); err != nil {
		t.Fatal(err)
	}
	arn := "arn:aws:rds:us-east-1:123456789012:cluster:c"
	first := &export.Task{Identifier: "exp-1", AccountID: "123456789012", SourceArn: arn, SourceType: export.SourceTypeCluster, TaskStartTime: time.Now()}
	if err := s.CreateTask(ctx, first); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ id, arn, want string }{
		{"exp-1", arn, export.TaskAlreadyExists("exp-1").Message},
		{"exp-2", "arn:aws:rds:eu-west-1:123456789012:cluster:C", "export task exp-1 is exporting " + arn + "."},
	} {
		err := s.CreateTask(ctx, &export.Task{Identifier: c.id, AccountID: "123456789012", SourceArn: c.arn, SourceType: export.SourceTypeCluster})
		var e *export.Error
		if !errors.As(err, &e) || e.Code != export.CodeExportTaskAlreadyExists || !strings.HasSuffix(e.Message, c.want) {
			t.Errorf("CreateTask(%s, %s) = %v, want ExportTaskAlreadyExists ending %q", c.id, c.arn, err, c.want)
		}
	}
}
