package engine_test

import (
	"bytes"
	"context"
	"io"
	"maps"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"go.uber.org/goleak"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/exporttest"
	"github.com/rdsexport/rdsexport/internal/pgsource"
	"github.com/rdsexport/rdsexport/internal/s3objects"
	"github.com/rdsexport/rdsexport/internal/s3server"
	"github.com/rdsexport/rdsexport/internal/sqlitetaskstore"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

const (
	account = "000000000000"
	bucket  = "exports"
)

// bundle is an engine wired to real parts: PostgreSQL, the embedded S3
// server on httptest, and a SQLite store.
type bundle struct {
	engine  *engine.Engine
	store   *sqlitetaskstore.Store
	objects *s3objects.Store
	alloc   *memory.CheckedAllocator
	sources map[string]engine.Source
}

func setup(t testing.TB, mod func(*engine.Params)) *bundle {
	t.Helper()
	dir := t.TempDir()
	store, err := sqlitetaskstore.New(t.Context(), filepath.Join(dir, "tasks.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	srv, err := s3server.New(filepath.Join(dir, "s3"), s3server.Params{AccountID: "000000000000"})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(exporttest.SigV4S3(srv, map[string]exporttest.S3Key{"k": {Secret: "s", Account: "000000000000"}}))
	t.Cleanup(hs.Close)
	objects, err := s3objects.New(s3objects.Params{Endpoint: hs.URL, AccessKeyID: "k", SecretAccessKey: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if err := objects.CreateBucket(t.Context(), bucket); err != nil {
		t.Fatal(err)
	}
	b := &bundle{store: store, objects: objects, alloc: memory.NewCheckedAllocator(memory.NewGoAllocator()), sources: map[string]engine.Source{}}
	p := engine.Params{
		Store:   store,
		Objects: objects,
		Resolve: func(_ context.Context, task *export.Task) (engine.Source, error) {
			src, ok := b.sources[task.SourceArn]
			if !ok {
				return nil, export.Errorf(export.CodeDBClusterNotFound, "DBCluster %s not found.", task.SourceArn)
			}
			return src, nil
		},
		Alloc:            b.alloc,
		ProgressInterval: 50 * time.Millisecond,
		PollInterval:     50 * time.Millisecond,
	}
	if mod != nil {
		mod(&p)
	}
	b.engine = engine.New(p)
	return b
}

func (b *bundle) start(t testing.TB) {
	t.Helper()
	if err := b.engine.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.engine.Stop)
}

func (b *bundle) addSource(t testing.TB, id string, db *exporttest.PostgresDB) string {
	arn := "arn:aws:rds:us-east-1:" + account + ":cluster:" + id
	b.sources[arn] = pgsource.New(db.URL, pgsource.Params{})
	return arn
}

func (b *bundle) create(t testing.TB, id, arn string, exportOnly ...string) {
	t.Helper()
	now := time.Now().UTC()
	task := &export.Task{
		Identifier: id, AccountID: account, Region: "us-east-1", SourceArn: arn, SourceType: export.SourceTypeCluster,
		ExportOnly: exportOnly, S3Bucket: bucket, IamRoleArn: "arn:aws:iam::000000000000:role/r", KmsKeyID: "k",
		Status: export.StatusStarting, SnapshotTime: now, TaskStartTime: now,
	}
	if err := b.store.CreateTask(t.Context(), task); err != nil {
		t.Fatal(err)
	}
	b.engine.Wake()
}

// wait polls the task until it is in one of want.
func (b *bundle) wait(t testing.TB, id string, timeout time.Duration, want ...export.Status) *export.Task {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		task, err := b.store.GetTask(t.Context(), account, id)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(want, task.Status) {
			return task
		}
		if task.Status.Terminal() {
			t.Fatalf("task %s ended %s (%q), want %v", id, task.Status, task.FailureCause, want)
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s still %s after %s", id, task.Status, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

const fixture = `
CREATE TABLE t (id bigint, s text, f real, b bytea, ok boolean);
INSERT INTO t SELECT i, 'row ' || i, i / 3.0, decode(md5(i::text), 'hex'), i % 2 = 0 FROM generate_series(1, 50000) i;
CREATE TABLE p (id int, d date) PARTITION BY RANGE (d);
CREATE TABLE p1 PARTITION OF p FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
CREATE TABLE p2 PARTITION OF p FOR VALUES FROM ('2021-01-01') TO ('2022-01-01');
INSERT INTO p SELECT i, date '2020-01-01' + i % 700 FROM generate_series(1, 1000) i;
CREATE TABLE e (id int);
`

// TestEngine_Export runs a whole export with small files and row groups
// and checks the objects, the final task, and that every Arrow buffer was
// released.
func TestEngine_Export(t *testing.T) {
	db := exporttest.NewPostgresDB(t, fixture)
	b := setup(t, func(p *engine.Params) {
		p.FileBytes = 256 << 10
		p.Parquet.MaxRowGroupRows = 10000
	})
	arn := b.addSource(t, "pg", db)
	b.start(t)
	b.create(t, "exp", arn, db.Name+".public")
	task := b.wait(t, "exp", time.Minute, export.StatusComplete)
	if task.PercentProgress != 100 || task.TaskEndTime.IsZero() || task.ExtractedBytes == 0 || task.FailureCause != "" {
		t.Errorf("complete task: %+v", task)
	}
	keys, err := b.objects.List(t.Context(), bucket, "exp/")
	if err != nil {
		t.Fatal(err)
	}
	count := func(prefix string) (files, successes int) {
		for _, k := range keys {
			if len(k) > len(prefix) && k[:len(prefix)] == prefix {
				if filepath.Base(k) == "_SUCCESS" {
					successes++
				} else {
					files++
				}
			}
		}
		return
	}
	if files, ok := count("exp/" + db.Name + "/public.t/1/"); files < 2 || ok != 1 {
		t.Errorf("public.t: %d files %d _SUCCESS, want several files (rollover) and one marker", files, ok)
	}
	for _, batch := range []string{"1", "2"} {
		if files, ok := count("exp/" + db.Name + "/public.p/" + batch + "/"); files != 1 || ok != 1 {
			t.Errorf("public.p batch %s: %d files %d _SUCCESS", batch, files, ok)
		}
	}
	if files, ok := count("exp/" + db.Name + "/public.e/1/"); files != 0 || ok != 1 {
		t.Errorf("empty table: %d files %d _SUCCESS", files, ok)
	}
	if files, _ := count("exp/export_"); files != 2 {
		t.Errorf("%d manifests, want 2", files)
	}
	b.engine.Stop()
	b.alloc.AssertSize(t, 0)
}

// TestEngine_ExportRanges: a table split into ranged reads is written as
// one file series per range in batch folder 1 (spec §8.2), every row once.
func TestEngine_ExportRanges(t *testing.T) {
	db := exporttest.NewPostgresDB(t, fixture)
	b := setup(t, func(p *engine.Params) { p.Connections = 2 })
	arn := "arn:aws:rds:us-east-1:" + account + ":cluster:ranges"
	// 256 KiB ranges: table t (about 3 MB of heap) gets 2 × Connections.
	b.sources[arn] = pgsource.New(db.URL, pgsource.Params{MinRangeBytes: 256 << 10})
	b.start(t)
	b.create(t, "ranges", arn, db.Name+".public.t")
	b.wait(t, "ranges", time.Minute, export.StatusComplete)
	prefix := "ranges/" + db.Name + "/public.t/"
	keys, err := b.objects.List(t.Context(), bucket, prefix)
	if err != nil {
		t.Fatal(err)
	}
	var (
		parts    []string
		rows     int64
		success  int
		pattern  = regexp.MustCompile(`^1/part-(\d{5})-[0-9a-f-]{36}-c000\.gz\.parquet$`)
		partsSet = map[string]bool{}
	)
	for _, k := range keys {
		name := strings.TrimPrefix(k, prefix)
		if name == "1/_SUCCESS" {
			success++
			continue
		}
		m := pattern.FindStringSubmatch(name)
		if m == nil {
			t.Errorf("unexpected key %s", k)
			continue
		}
		partsSet[m[1]] = true
		parts = append(parts, m[1])
		rows += parquetRows(t, b.objects, k)
	}
	if want := []string{"00000", "00001", "00002", "00003"}; !slices.Equal(slices.Sorted(maps.Keys(partsSet)), want) || len(parts) != 4 {
		t.Errorf("partitions %v, want one file for each of %v", parts, want)
	}
	if success != 1 || rows != 50000 {
		t.Errorf("%d _SUCCESS, %d rows; want 1 and 50000", success, rows)
	}
	b.engine.Stop()
	b.alloc.AssertSize(t, 0)
}

// parquetRows returns the row count in the footer of one object.
func parquetRows(t *testing.T, objects *s3objects.Store, key string) int64 {
	t.Helper()
	rc, err := objects.Get(t.Context(), bucket, key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	r, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	defer r.Close()
	return r.NumRows()
}

// TestEngine_ConcurrencyLimit: with a limit of one, a second task waits in
// STARTING until the first ends, then runs.
func TestEngine_ConcurrencyLimit(t *testing.T) {
	db1 := exporttest.NewPostgresDB(t, fixture)
	db2 := exporttest.NewPostgresDB(t, fixture)
	b := setup(t, func(p *engine.Params) { p.MaxConcurrentExports = 1 })
	arn1, arn2 := b.addSource(t, "one", db1), b.addSource(t, "two", db2)
	b.start(t)
	// ExportOnly keeps other databases of the server (benchmark data)
	// out of the export.
	b.create(t, "first", arn1, db1.Name)
	b.create(t, "second", arn2, db2.Name)
	deadline := time.Now().Add(time.Minute)
	for {
		tasks, err := b.store.ListTasks(t.Context(), export.TaskFilter{AccountID: account})
		if err != nil {
			t.Fatal(err)
		}
		running := 0
		for _, task := range tasks {
			if task.Status == export.StatusInProgress {
				running++
			}
		}
		if running > 1 {
			t.Fatalf("%d tasks IN_PROGRESS with a limit of 1", running)
		}
		if tasks[0].Status == export.StatusComplete && tasks[1].Status == export.StatusComplete {
			if !tasks[1].TaskEndTime.After(tasks[0].TaskEndTime) {
				t.Errorf("second ended %s, before first %s", tasks[1].TaskEndTime, tasks[0].TaskEndTime)
			}
			break
		}
		if tasks[0].Status.Terminal() && tasks[0].Status != export.StatusComplete {
			t.Fatalf("first ended %s: %s", tasks[0].Status, tasks[0].FailureCause)
		}
		if time.Now().After(deadline) {
			t.Fatalf("not both complete: %s %s", tasks[0].Status, tasks[1].Status)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestEngine_Recover ends what a previous process left running.
func TestEngine_Recover(t *testing.T) {
	db := exporttest.NewPostgresDB(t, "CREATE TABLE t (id int); INSERT INTO t VALUES (1);")
	b := setup(t, nil)
	arn := b.addSource(t, "pg", db)
	for _, id := range []string{"was-running", "was-canceling", "was-waiting"} {
		b.create(t, id, arn+"-"+id, db.Name) // distinct sources: one active export each
	}
	b.sources[arn+"-was-waiting"] = b.sources[arn]
	move := func(id string, to ...export.Status) {
		from := export.StatusStarting
		for _, s := range to {
			if _, err := b.store.Transition(t.Context(), account, id, []export.Status{from}, s, export.TaskUpdate{}); err != nil {
				t.Fatal(err)
			}
			from = s
		}
	}
	move("was-running", export.StatusInProgress)
	move("was-canceling", export.StatusInProgress, export.StatusCanceling)
	b.start(t)

	task := b.wait(t, "was-running", time.Second, export.StatusFailed)
	if task.FailureCause != "An unknown internal error occurred." || task.TaskEndTime.IsZero() {
		t.Errorf("was-running: %+v", task)
	}
	if task := b.wait(t, "was-canceling", time.Second, export.StatusCanceled); task.TaskEndTime.IsZero() {
		t.Errorf("was-canceling has no end time")
	}
	b.wait(t, "was-waiting", time.Minute, export.StatusComplete)
}

// TestEngine_StopMidExport: a server shutdown ends a running export FAILED
// with a cause, and leaves no multipart upload.
func TestEngine_StopMidExport(t *testing.T) {
	db := exporttest.NewPostgresDB(t, `CREATE TABLE big AS SELECT i AS id, md5(i::text) AS s FROM generate_series(1, 1000000) i;`)
	b := setup(t, func(p *engine.Params) { p.FileBytes = 512 << 10 })
	arn := b.addSource(t, "pg", db)
	b.start(t)
	b.create(t, "stopped", arn, db.Name)
	b.wait(t, "stopped", time.Minute, export.StatusInProgress)
	for {
		keys, err := b.objects.List(t.Context(), bucket, "stopped/")
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) > 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.engine.Stop()
	task, err := b.store.GetTask(t.Context(), account, "stopped")
	if err != nil {
		t.Fatal(err)
	}
	if task.Status != export.StatusFailed || task.FailureCause == "" {
		t.Errorf("after Stop: %s %q", task.Status, task.FailureCause)
	}
	uploads, err := b.objects.ListMultipartUploads(t.Context(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	if len(uploads) != 0 {
		t.Errorf("uploads left: %v", uploads)
	}
	b.alloc.AssertSize(t, 0)
}
