package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/jackc/pgx/v5"

	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/exporttest"
	"github.com/rdsexport/rdsexport/internal/pgtaskstore"
)

// storeSecret is the password of the store URLs of these tests; the local
// server trusts loopback, so any password connects.
const storeSecret = "St0re-pa55word"

// withPassword returns the URL of db with storeSecret as password.
func withPassword(t *testing.T, db *exporttest.PostgresDB) string {
	t.Helper()
	u, err := url.Parse(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), storeSecret)
	return u.String()
}

// TestConfig_PostgresStore: a PostgreSQL store is refused without an
// external S3 and a snapshots bucket, with a message that says why, and
// neither a bad URL nor any message quotes its password.
func TestConfig_PostgresStore(t *testing.T) {
	valid := func(mod func(*Config)) Config {
		c := DefaultConfig()
		c.Store = "postgres://rds:" + storeSecret + "@db.example:5432/rdsexport"
		c.S3.Endpoint = "http://s3.example:9000"
		c.Snapshots.Bucket = "snapshots"
		if mod != nil {
			mod(&c)
		}
		return c
	}
	c := valid(nil)
	if err := c.Validate(); err != nil {
		t.Fatalf("valid PostgreSQL store refused: %v", err)
	}
	for _, tt := range []struct {
		name string
		mod  func(*Config)
		want []string
	}{
		{"EmbeddedS3", func(c *Config) { c.S3.Endpoint = "" }, []string{"store is PostgreSQL", "s3.endpoint must name an external S3-compatible server"}},
		{"NoSnapshotsBucket", func(c *Config) { c.Snapshots.Bucket = "" }, []string{"store is PostgreSQL", "snapshots.bucket must be set"}},
		{"Both", func(c *Config) { c.S3.Endpoint, c.Snapshots.Bucket = "", "" }, []string{"s3.endpoint", "snapshots.bucket"}},
		{"NotPostgres", func(c *Config) { c.Store = "mysql://rds:" + storeSecret + "@db.example/x" }, []string{"store: must be empty (SQLite in data_dir) or a PostgreSQL URL"}},
		{"BadURL", func(c *Config) { c.Store = "postgres://rds:" + storeSecret + "@db.example:port/x" }, []string{"store: not a PostgreSQL connection string"}},
		{"NodeID", func(c *Config) { c.NodeID = "node one" }, []string{"node_id"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := valid(tt.mod)
			err := c.Validate()
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), storeSecret) {
				t.Errorf("error quotes the password: %v", err)
			}
		})
	}

	// rdsexport serve refuses to start on such a configuration.
	env := map[string]string{"RDSEXPORT_STORE": valid(nil).Store, "RDSEXPORT_DATA_DIR": t.TempDir()}
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"serve", "--listen", "127.0.0.1:0"}, func(k string) string { return env[k] }, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "s3.endpoint must name an external S3-compatible server") ||
		!strings.Contains(err.Error(), "snapshots.bucket must be set") {
		t.Fatalf("serve with a PostgreSQL store and the embedded S3: %v", err)
	}
	if strings.Contains(err.Error()+stdout.String()+stderr.String(), storeSecret) {
		t.Fatalf("serve's output quotes the password: %v %s %s", err, stdout.String(), stderr.String())
	}
}

// TestConfig_StoreEnv: RDSEXPORT_STORE and RDSEXPORT_NODE_ID set store and
// node_id as the other RDSEXPORT_* variables set theirs.
func TestConfig_StoreEnv(t *testing.T) {
	c := DefaultConfig()
	env := map[string]string{"RDSEXPORT_STORE": "postgres://u@h/db", "RDSEXPORT_NODE_ID": "node-7"}
	if err := c.LoadEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if c.Store != env["RDSEXPORT_STORE"] || c.NodeID != "node-7" {
		t.Fatalf("store %q node_id %q", c.Store, c.NodeID)
	}
}

// lockedWriter is a log sink shared by the server's goroutines.
type lockedWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestServe_PostgresStore runs one node on a PostgreSQL store with
// versitygw as S3: an export completes, a blocked one is cancelled, and
// after a restart on another data_dir the tasks are there and a task a
// dead node left IN_PROGRESS is taken over (and FAILED: its source is gone).
// DescribeEvents and the gauges of /metrics read the store. The store's
// password appears in no log line.
func TestServe_PostgresStore(t *testing.T) {
	gw := exporttest.StartVersityGW(t)
	src := exporttest.NewPostgresDB(t, `CREATE TABLE small (id int, note text); INSERT INTO small VALUES (1, 'a'), (2, 'b');
		CREATE TABLE held (id int); INSERT INTO held VALUES (1);`)
	storeDB := exporttest.NewPostgresDB(t, "")
	logs := &lockedWriter{}

	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.LogLevel = "debug"
	cfg.Store = withPassword(t, storeDB)
	cfg.NodeID = "node-a"
	cfg.S3 = S3Config{Endpoint: gw.Endpoint, AccessKeyID: gw.AccessKeyID, SecretAccessKey: gw.SecretAccessKey, Region: "us-east-1"}
	cfg.Snapshots.Bucket = "snapshots"
	// Snapshots copy whole servers: keep other tests' databases out.
	cfg.Clusters = []SourceConfig{{Identifier: "pg", Engine: "aurora-postgresql", URL: src.URL, Databases: []string{src.Name}}}
	open := func() *testServer {
		t.Helper()
		c := cfg
		c.DataDir = t.TempDir() // nothing of the records is in data_dir
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		m := &Main{Config: c, Logger: newLogger(c, io.MultiWriter(logs, testLogWriter{t})), CreateBuckets: []string{testBucket, "snapshots"}}
		if err := m.Open(t.Context()); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(c.DataDir, storeFile)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a SQLite store was created beside the PostgreSQL one: %v", err)
		}
		return &testServer{Main: m, Bucket: testBucket, RDS: rdsClient(m.URL(), cfg.Credentials[0]), Objects: m.objects}
	}
	s := open()
	if s.NodeID() != "node-a" {
		t.Errorf("NodeID = %q", s.NodeID())
	}

	s.startExport(t, "pg-done", src.Name+".public.small")
	s.waitStatus(t, "pg-done", time.Minute, "COMPLETE")
	if keys, err := s.Objects.List(t.Context(), testBucket, "pg-done/"); err != nil || len(keys) == 0 {
		t.Fatalf("objects of the export in versitygw: %v %v", keys, err)
	}

	// An export that waits on a table another session holds locked is
	// cancelled.
	lock, err := pgx.Connect(t.Context(), src.URL)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := lock.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(t.Context(), "LOCK TABLE held IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	s.startExport(t, "pg-cancel", src.Name+".public.held")
	s.waitStatus(t, "pg-cancel", time.Minute, "IN_PROGRESS")
	out, err := s.RDS.CancelExportTask(t.Context(), &rds.CancelExportTaskInput{ExportTaskIdentifier: aws.String("pg-cancel")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Status) != "CANCELING" {
		t.Errorf("CancelExportTask: %s, want CANCELING", aws.ToString(out.Status))
	}
	s.waitStatus(t, "pg-cancel", 30*time.Second, "CANCELED")
	_ = tx.Rollback(t.Context())
	lock.Close(t.Context())

	// The store records events and counts records: DescribeEvents and the
	// gauges of /metrics work as with the SQLite store.
	s.createClusterSnapshot(t, "pg-snap")
	checkEvents := func(s *testServer) {
		t.Helper()
		for _, c := range []struct {
			typ  types.SourceType
			id   string
			want []string
		}{
			{types.SourceTypeDbCluster, "pg", []string{"DB cluster snapshot export task completed. Export task: pg-done.",
				"DB cluster snapshot export task canceled. Export task: pg-cancel."}},
			{types.SourceTypeDbClusterSnapshot, "pg-snap", []string{"Creating manual DB cluster snapshot.", "Manual DB cluster snapshot created."}},
		} {
			if got := s.eventMessages(t, c.typ, c.id); strings.Join(got, "|") != strings.Join(c.want, "|") {
				t.Errorf("%s %s: events %q, want %q", c.typ, c.id, got, c.want)
			}
		}
	}
	checkEvents(s)
	code, body := getMetrics(t, s.URL(), cfg.Credentials[0].AccessKeyID, cfg.Credentials[0].SecretAccessKey)
	if code != http.StatusOK {
		t.Fatalf("GET /metrics = %d", code)
	}
	m := samples(t, body)
	for series, want := range map[string]float64{
		`rdsexport_export_tasks{status="COMPLETE"}`:              1,
		`rdsexport_export_tasks{status="CANCELED"}`:              1,
		`rdsexport_export_tasks{status="IN_PROGRESS"}`:           0,
		`rdsexport_snapshots{kind="cluster",status="available"}`: 1,
		`rdsexport_snapshots{kind="cluster",status="creating"}`:  0,
	} {
		if got, ok := m[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}

	// The records are in the PostgreSQL store.
	var n int
	conn, err := pgx.Connect(t.Context(), storeDB.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM rdsexport_export_tasks").Scan(&n); err != nil || n != 2 {
		t.Fatalf("rdsexport_export_tasks: %d rows, %v", n, err)
	}
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM rdsexport_events").Scan(&n); err != nil || n != 4 {
		t.Fatalf("rdsexport_events: %d rows, %v", n, err)
	}
	var app string
	if err := conn.QueryRow(t.Context(), "SELECT application_name FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'rdsexport%' LIMIT 1",
		storeDB.Name).Scan(&app); err != nil || app != "rdsexport node-a" {
		t.Errorf("application_name of the store's connections: %q %v", app, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A node died with a task IN_PROGRESS.
	st, err := pgtaskstore.New(t.Context(), pgtaskstore.Params{URL: storeDB.URL})
	if err != nil {
		t.Fatal(err)
	}
	orphan := &export.Task{Identifier: "pg-orphan", AccountID: testAccount, Region: testRegion, SourceArn: clusterArn("other"),
		SourceType: export.SourceTypeCluster, S3Bucket: testBucket, IamRoleArn: roleArn, KmsKeyID: "k", TaskStartTime: time.Now()}
	if err := st.CreateTask(t.Context(), orphan); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Transition(t.Context(), testAccount, "pg-orphan", []export.Status{export.StatusStarting}, export.StatusInProgress, export.TaskUpdate{}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	s = open()
	defer s.Close()
	// The orphan is taken over and run again; its source is not
	// configured, so it fails.
	s.waitStatus(t, "pg-orphan", time.Minute, "FAILED")
	for id, want := range map[string]string{"pg-done": "COMPLETE", "pg-cancel": "CANCELED"} {
		if got := aws.ToString(s.describe(t, id).Status); got != want {
			t.Errorf("after restart: %s is %s, want %s", id, got, want)
		}
	}
	all, err := s.RDS.DescribeExportTasks(t.Context(), &rds.DescribeExportTasksInput{})
	if err != nil || len(all.ExportTasks) != 3 {
		t.Fatalf("after restart: %v tasks, %v", len(all.ExportTasks), err)
	}
	// The events are in the store, and the takeover's failure is one.
	checkEvents(s)
	if got := s.eventMessages(t, types.SourceTypeDbCluster, "other"); len(got) != 1 ||
		!strings.HasPrefix(got[0], "DB cluster snapshot export task failed. Export task: pg-orphan.") {
		t.Errorf("events of the orphan's cluster: %q", got)
	}
	// The source is free again: a new export of it runs.
	s.startExport(t, "pg-again", src.Name+".public.small")
	s.waitStatus(t, "pg-again", time.Minute, "COMPLETE")

	text := logs.String()
	if strings.Contains(text, storeSecret) {
		t.Error("a log line shows the store's password")
	}
	if want := "store=" + storeName(cfg); !strings.Contains(text, want) || strings.Contains(storeName(cfg), storeSecret) {
		t.Errorf("start-up log does not name the store as %s", want)
	}
}

// TestStoreCheck_Postgres: store check connects to a PostgreSQL store and
// compares its schema version; it never prints the password.
func TestStoreCheck_Postgres(t *testing.T) {
	db := exporttest.NewPostgresDB(t, "")
	raw := withPassword(t, db)
	check := func(args ...string) (string, error) {
		var stdout, stderr bytes.Buffer
		err := run(t.Context(), append([]string{"store", "check"}, args...), func(string) string { return "" }, &stdout, &stderr)
		out := stdout.String() + stderr.String()
		if strings.Contains(out, storeSecret) || (err != nil && strings.Contains(err.Error(), storeSecret)) {
			t.Fatalf("store check shows the password: %s %v", out, err)
		}
		return out, err
	}
	out, err := check("--store", raw)
	if exitCode(err) != 1 || !strings.Contains(out, "no rdsexport tables yet") {
		t.Fatalf("empty database: %v (exit %d) %s", err, exitCode(err), out)
	}

	st, err := pgtaskstore.New(t.Context(), pgtaskstore.Params{URL: db.URL})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	// From the config file, as the server reads it.
	config := writeConfig(t, "store: \""+raw+"\"\n")
	out, err = check("--config", config)
	if err != nil || !strings.Contains(out, ": ok: schema version 3 (this rdsexport knows 3), 0 tasks, 0 snapshots") {
		t.Fatalf("migrated database: %v %s", err, out)
	}
	if !strings.Contains(out, "postgres://postgres@127.0.0.1:5432/"+db.Name) {
		t.Errorf("store check does not name the store: %s", out)
	}

	// backup and init are SQLite's and say so.
	var stdout, stderr bytes.Buffer
	err = run(t.Context(), []string{"store", "backup", "--config", config, "--to", filepath.Join(t.TempDir(), "b.db")},
		func(string) string { return "" }, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "this store is PostgreSQL") || strings.Contains(err.Error(), storeSecret) {
		t.Fatalf("store backup of a PostgreSQL store: %v", err)
	}
}
