package engine_test

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/exporttest"
	"github.com/rdsexport/rdsexport/internal/s3server"
	"github.com/rdsexport/rdsexport/internal/sqlitetaskstore"
)

// manifestHook passes every call through to the object store, except the
// Puts of manifests (keys with "/export_" and no later "/"), which go
// through put: next writes the manifest.
type manifestHook struct {
	engine.ObjectStore
	put func(ctx context.Context, key string, next func() error) error
}

func (h *manifestHook) Put(ctx context.Context, bucket, key string, r io.Reader) error {
	i := strings.LastIndex(key, "/")
	if !strings.HasPrefix(key[i+1:], "export_") {
		return h.ObjectStore.Put(ctx, bucket, key, r)
	}
	return h.put(ctx, key, func() error { return h.ObjectStore.Put(ctx, bucket, key, r) })
}

// errKilled is what a Put of a process that is gone "returns": nothing
// more reaches the store.
var errKilled = errors.New("process killed")

// manifestsOf lists the objects directly under id/ whose names start with
// export_: the manifests.
func (b *bundle) manifestsOf(t *testing.T, id string) []string {
	t.Helper()
	keys, err := b.objects.List(t.Context(), bucket, id+"/export_")
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(keys, func(k string) bool { return strings.Contains(k[len(id)+1:], "/") })
}

// manifestsGone waits until the task has no manifests and returns those
// still there after 10s: a runner removes them just after it records
// FAILED, so they may outlive the status change by a moment.
func (b *bundle) manifestsGone(t *testing.T, id string) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := b.manifestsOf(t, id)
		if len(got) == 0 || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitClosed waits for ch, failing the test after a minute or when the
// task ends first.
func (b *bundle) waitClosed(t *testing.T, ch <-chan struct{}, id string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		select {
		case <-ch:
			return
		case <-time.After(10 * time.Millisecond):
		}
		task, err := b.store.GetTask(t.Context(), account, id)
		if err != nil {
			t.Fatal(err)
		}
		if task.Status.Terminal() || time.Now().After(deadline) {
			t.Fatalf("task %s is %s (%q) and did not reach the manifests", id, task.Status, task.FailureCause)
		}
	}
}

// restart starts a second engine on the same store and object store, as a
// new process (or another node) would: it recovers what is IN_PROGRESS.
func (b *bundle) restart(t *testing.T, store export.Store) *engine.Engine {
	t.Helper()
	e := engine.New(engine.Params{
		Store:   store,
		Objects: b.objects,
		Resolve: func(context.Context, *export.Task) (engine.Source, error) {
			return nil, errors.New("the second engine runs nothing")
		},
		PollInterval: 50 * time.Millisecond,
	})
	if err := e.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Stop)
	return e
}

// TestEngine_ManifestWindow: a task whose manifests were (partly) written
// but which did not reach COMPLETE keeps no manifest, whatever stopped it:
// the process died, a cancel came, the second manifest could not be
// written. A recovery never removes the manifests of a task that another
// process completes: the store's compare-and-set decides.
func TestEngine_ManifestWindow(t *testing.T) {
	db := exporttest.NewPostgresDB(t, "CREATE TABLE e (id int); INSERT INTO e VALUES (1);")

	// The process dies right after the first manifest is written: a new
	// process recovers the task as FAILED and removes that manifest.
	t.Run("KilledAfterFirstManifest", func(t *testing.T) {
		written, release := make(chan struct{}), make(chan struct{})
		var puts atomic.Int32
		b := setup(t, func(p *engine.Params) {
			p.Objects = &manifestHook{ObjectStore: p.Objects, put: func(_ context.Context, _ string, next func() error) error {
				if puts.Add(1) > 1 {
					return errKilled
				}
				if err := next(); err != nil {
					return err
				}
				close(written)
				<-release // the process is frozen, as if killed
				return errKilled
			}}
		})
		var once sync.Once
		unfreeze := func() { once.Do(func() { close(release) }) }
		defer unfreeze()
		arn := b.addSource(t, "pg", db)
		b.start(t)
		b.create(t, "killed", arn, db.Name+".public.e")
		b.waitClosed(t, written, "killed")
		if got := b.manifestsOf(t, "killed"); len(got) != 1 {
			t.Fatalf("manifests before the crash: %v, want one", got)
		}

		b.restart(t, b.store)
		task, err := b.store.GetTask(t.Context(), account, "killed")
		if err != nil {
			t.Fatal(err)
		}
		if task.Status != export.StatusFailed || task.FailureCause != "An unknown internal error occurred." {
			t.Errorf("after the restart: %s %q, want FAILED with the unknown-error cause", task.Status, task.FailureCause)
		}
		if got := b.manifestsOf(t, "killed"); len(got) != 0 {
			t.Errorf("task %s keeps manifests %v", task.Status, got)
		}

		// The frozen runner, should it wake (a node cut off, not dead),
		// cannot complete it either.
		unfreeze()
		b.engine.Stop()
		if task := b.wait(t, "killed", 0, export.StatusFailed); task.PercentProgress == 100 {
			t.Errorf("failed task at 100%%")
		}
		if got := b.manifestsOf(t, "killed"); len(got) != 0 {
			t.Errorf("manifests after the old runner ended: %v", got)
		}
	})

	// The recovery of another process reads the task IN_PROGRESS, but the
	// runner records COMPLETE before the recovery's transition: the
	// transition fails and the manifests stay.
	t.Run("RecoveryLosesToCompletion", func(t *testing.T) {
		written, release := make(chan struct{}), make(chan struct{})
		var first atomic.Bool
		b := setup(t, func(p *engine.Params) {
			p.Objects = &manifestHook{ObjectStore: p.Objects, put: func(_ context.Context, _ string, next func() error) error {
				if err := next(); err != nil || !first.CompareAndSwap(false, true) {
					return err
				}
				close(written)
				<-release
				return nil
			}}
		})
		var once sync.Once
		unfreeze := func() { once.Do(func() { close(release) }) }
		defer unfreeze()
		arn := b.addSource(t, "pg", db)
		b.start(t)
		b.create(t, "won", arn, db.Name+".public.e")
		b.waitClosed(t, written, "won")

		b.restart(t, &beforeTransition{Store: b.store, hook: func(to export.Status) {
			if to != export.StatusFailed {
				return
			}
			unfreeze()
			b.wait(t, "won", time.Minute, export.StatusComplete)
		}})
		task := b.wait(t, "won", 0, export.StatusComplete)
		if task.PercentProgress != 100 {
			t.Errorf("complete task at %d%%", task.PercentProgress)
		}
		if got := b.manifestsOf(t, "won"); len(got) != 2 {
			t.Errorf("COMPLETE task has manifests %v, want 2", got)
		}
	})

	// A cancel recorded (by another process) once the manifests are being
	// written wins over completion; the manifests go.
	t.Run("CanceledWhileWritingManifests", func(t *testing.T) {
		var b *bundle
		var puts atomic.Int32
		b = setup(t, func(p *engine.Params) {
			p.Objects = &manifestHook{ObjectStore: p.Objects, put: func(ctx context.Context, _ string, next func() error) error {
				if err := next(); err != nil || puts.Add(1) > 1 {
					return err
				}
				_, err := b.store.Transition(ctx, account, "canceled", []export.Status{export.StatusInProgress}, export.StatusCanceling, export.TaskUpdate{})
				return err
			}}
		})
		arn := b.addSource(t, "pg", db)
		b.start(t)
		b.create(t, "canceled", arn, db.Name+".public.e")
		task := b.wait(t, "canceled", time.Minute, export.StatusCanceled)
		if task.PercentProgress == 100 || task.FailureCause != "" {
			t.Errorf("canceled task: %d%% %q", task.PercentProgress, task.FailureCause)
		}
		if got := b.manifestsOf(t, "canceled"); len(got) != 0 {
			t.Errorf("CANCELED task keeps manifests %v", got)
		}
	})

	// The second manifest cannot be written: FAILED with the metadata
	// cause, and the first manifest goes.
	t.Run("SecondManifestFails", func(t *testing.T) {
		var puts atomic.Int32
		b := setup(t, func(p *engine.Params) {
			p.Objects = &manifestHook{ObjectStore: p.Objects, put: func(_ context.Context, key string, next func() error) error {
				if puts.Add(1) > 1 {
					return &engine.ObjectStoreError{Bucket: bucket, Code: "InternalError", Err: errors.New("put " + key + ": 500")}
				}
				return next()
			}}
		})
		arn := b.addSource(t, "pg", db)
		b.start(t)
		b.create(t, "meta", arn, db.Name+".public.e")
		task := b.wait(t, "meta", time.Minute, export.StatusFailed)
		if want := "An unknown internal error occurred writing the export task's metadata to the S3 bucket " + bucket + "."; task.FailureCause != want {
			t.Errorf("FailureCause %q, want %q", task.FailureCause, want)
		}
		if got := b.manifestsGone(t, "meta"); len(got) != 0 {
			t.Errorf("FAILED task keeps manifests %v", got)
		}
	})
}

// beforeTransition calls hook before each Transition.
type beforeTransition struct {
	export.Store
	hook func(to export.Status)
}

func (s *beforeTransition) Transition(ctx context.Context, accountID, identifier string, from []export.Status, to export.Status, u export.TaskUpdate) (*export.Task, error) {
	s.hook(to)
	return s.Store.Transition(ctx, accountID, identifier, from, to, u)
}

// TestEngine_RecoverRemovesManifests: what a process killed between the
// manifests and COMPLETE leaves (a task IN_PROGRESS or CANCELING with
// manifests in the bucket) is recovered without them. Objects of a
// database named like a manifest, and the manifests of a COMPLETE task,
// stay.
func TestEngine_RecoverRemovesManifests(t *testing.T) {
	b := setup(t, nil)
	put := func(key string) {
		t.Helper()
		if err := b.objects.Put(t.Context(), bucket, key, strings.NewReader("{}")); err != nil {
			t.Fatal(err)
		}
	}
	move := func(id string, to ...export.Status) {
		t.Helper()
		from := export.StatusStarting
		for _, s := range to {
			if _, err := b.store.Transition(t.Context(), account, id, []export.Status{from}, s, export.TaskUpdate{}); err != nil {
				t.Fatal(err)
			}
			from = s
		}
	}
	arn := "arn:aws:rds:us-east-1:" + account + ":cluster:"
	for _, id := range []string{"running", "canceling", "done"} {
		b.create(t, id, arn+id)
		put(id + "/export_tables_info_" + id + "_from_1_to_3.json")
		put(id + "/export_info_" + id + ".json")
	}
	// A database named like a manifest: its objects are data.
	data := []string{
		"running/export_info_running.json/public.t/1/part-00000-x-c000.gz.parquet",
		"running/export_tables_info_running_from_1_to_3.json/public.t/1/_SUCCESS",
	}
	for _, k := range data {
		put(k)
	}
	move("running", export.StatusInProgress)
	move("canceling", export.StatusInProgress, export.StatusCanceling)
	move("done", export.StatusInProgress, export.StatusComplete)

	b.start(t)
	for id, want := range map[string]export.Status{"running": export.StatusFailed, "canceling": export.StatusCanceled, "done": export.StatusComplete} {
		task := b.wait(t, id, 0, want)
		got := b.manifestsOf(t, id)
		if want == export.StatusComplete && len(got) != 2 || want != export.StatusComplete && len(got) != 0 {
			t.Errorf("%s is %s with manifests %v", id, task.Status, got)
		}
	}
	keys, err := b.objects.List(t.Context(), bucket, "running/export_")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, data) {
		t.Errorf("objects under running/export_: %v, want the database's %v", keys, data)
	}
}

// TestEngine_RecoverRemovesManifestsOfAnyAccount: recovery removes the
// manifests of a task whose bucket belongs to the task's account, not to
// the server's, in the embedded S3 written in-process (where every call
// acts for the account in its context).
func TestEngine_RecoverRemovesManifestsOfAnyAccount(t *testing.T) {
	const other, otherBucket = "111122223333", "team-exports"
	dir := t.TempDir()
	store, err := sqlitetaskstore.New(t.Context(), filepath.Join(dir, "tasks.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	srv, err := s3server.New(filepath.Join(dir, "s3"), s3server.Params{AccountID: account})
	if err != nil {
		t.Fatal(err)
	}
	objects := srv.Objects()
	octx := export.WithCaller(t.Context(), export.Caller{AccountID: other, Region: "us-east-1"})
	if err := objects.CreateBucket(octx, otherBucket); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	task := &export.Task{
		Identifier: "orphan", AccountID: other, Region: "us-east-1", SourceType: export.SourceTypeCluster,
		SourceArn: "arn:aws:rds:us-east-1:" + other + ":cluster:c", S3Bucket: otherBucket,
		IamRoleArn: "arn:aws:iam::" + other + ":role/r", KmsKeyID: "k",
		Status: export.StatusStarting, SnapshotTime: now, TaskStartTime: now,
	}
	if err := store.CreateTask(t.Context(), task); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Transition(t.Context(), other, "orphan", []export.Status{export.StatusStarting}, export.StatusInProgress, export.TaskUpdate{}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"orphan/export_info_orphan.json", "orphan/export_tables_info_orphan_from_1_to_1.json"} {
		if err := objects.Put(octx, otherBucket, k, strings.NewReader("{}")); err != nil {
			t.Fatal(err)
		}
	}
	e := engine.New(engine.Params{Store: store, Objects: objects, PollInterval: time.Hour,
		Resolve: func(context.Context, *export.Task) (engine.Source, error) { return nil, errors.New("no source") }})
	if err := e.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Stop)
	got, err := store.GetTask(t.Context(), other, "orphan")
	if err != nil || got.Status != export.StatusFailed {
		t.Fatalf("recovered task: %v %v, want FAILED", got, err)
	}
	keys, err := objects.List(octx, otherBucket, "orphan/")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Errorf("manifests left beside the FAILED task: %v", keys)
	}
}
