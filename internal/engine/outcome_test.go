package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/exporttest"
)

// goneSource reads through a real source, except that batch `batch` of the
// table whose Target ends with `target` is reported gone, as when a table
// or partition is dropped during the export.
type goneSource struct {
	engine.Source
	target string
	batch  int
}

func (s goneSource) Open(ctx context.Context, p engine.OpenParams) (engine.Snapshot, error) {
	snap, err := s.Source.Open(ctx, p)
	if err != nil {
		return nil, err
	}
	return goneSnapshot{Snapshot: snap, src: s}, nil
}

// goneSnapshot hides the source's ranged reads: every batch is one read.
type goneSnapshot struct {
	engine.Snapshot
	src goneSource
}

func (s goneSnapshot) ReadBatch(ctx context.Context, t engine.Table, batch int, emit func(arrow.RecordBatch) error, progress func(int64)) error {
	if strings.HasSuffix(t.Target, s.src.target) && batch == s.src.batch {
		return fmt.Errorf("relation %s does not exist: %w", t.Target, engine.ErrTableGone)
	}
	return s.Snapshot.ReadBatch(ctx, t, batch, emit, progress)
}

// TestEngine_TableGone: a table gone before any of it was read is skipped
// with a warning and no folder; one gone after a batch of it was written
// fails the export, since its files are in S3 already.
func TestEngine_TableGone(t *testing.T) {
	db := exporttest.NewPostgresDB(t, fixture)
	b := setup(t, nil)
	src := b.addSource(t, "pg", db)
	first := "arn:aws:rds:us-east-1:" + account + ":cluster:gone-first"
	later := "arn:aws:rds:us-east-1:" + account + ":cluster:gone-later"
	b.sources[first] = goneSource{Source: b.sources[src], target: ".public.p", batch: 0}
	b.sources[later] = goneSource{Source: b.sources[src], target: ".public.p", batch: 1}
	b.start(t)

	b.create(t, "first", first, db.Name+".public")
	task := b.wait(t, "first", time.Minute, export.StatusComplete)
	if !strings.Contains(task.WarningMessage, "public.p") {
		t.Errorf("warning %q does not name public.p", task.WarningMessage)
	}
	if keys, err := b.objects.List(t.Context(), bucket, "first/"+db.Name+"/public.p/"); err != nil || len(keys) != 0 {
		t.Errorf("skipped table has objects %v (%v)", keys, err)
	}

	b.create(t, "later", later, db.Name+".public")
	task = b.wait(t, "later", time.Minute, export.StatusFailed)
	if !strings.Contains(task.FailureCause, "public.p") {
		t.Errorf("failure cause %q does not name public.p", task.FailureCause)
	}
}

// blockingSource lists no tables, once released: a cancel can be recorded
// while the task runs.
type blockingSource struct {
	engine.Source
	listing  chan struct{} // closed when Tables is called
	release  chan struct{}
	listOnce atomic.Bool
}

func (s *blockingSource) Open(ctx context.Context, p engine.OpenParams) (engine.Snapshot, error) {
	snap, err := s.Source.Open(ctx, p)
	if err != nil {
		return nil, err
	}
	return blockingSnapshot{Snapshot: snap, src: s}, nil
}

type blockingSnapshot struct {
	engine.Snapshot
	src *blockingSource
}

func (s blockingSnapshot) Tables(ctx context.Context) ([]engine.Table, engine.Warnings, error) {
	if s.src.listOnce.CompareAndSwap(false, true) {
		close(s.src.listing)
	}
	select {
	case <-s.src.release:
	case <-ctx.Done():
		return nil, engine.Warnings{}, ctx.Err()
	}
	return nil, engine.Warnings{}, nil
}

// TestEngine_CancelBeforeManifests: a cancel recorded in the store (by
// another process, say) while the task runs wins over completion: no
// manifests are written, and the task ends CANCELED short of 100%.
func TestEngine_CancelBeforeManifests(t *testing.T) {
	db := exporttest.NewPostgresDB(t, fixture)
	b := setup(t, nil)
	src := b.addSource(t, "pg", db)
	arn := "arn:aws:rds:us-east-1:" + account + ":cluster:blocking"
	bs := &blockingSource{Source: b.sources[src], listing: make(chan struct{}), release: make(chan struct{})}
	b.sources[arn] = bs
	b.start(t)
	// Its own database only: the server's other databases come and go
	// with other tests.
	b.create(t, "cx", arn, db.Name)
	for deadline := time.Now().Add(time.Minute); ; {
		select {
		case <-bs.listing:
		case <-time.After(20 * time.Millisecond):
			task, err := b.store.GetTask(t.Context(), account, "cx")
			if err != nil {
				t.Fatal(err)
			}
			if task.Status.Terminal() || time.Now().After(deadline) {
				t.Fatalf("the export did not list its tables: %s %q", task.Status, task.FailureCause)
			}
			continue
		}
		break
	}
	if _, err := b.store.Transition(t.Context(), account, "cx", []export.Status{export.StatusInProgress}, export.StatusCanceling, export.TaskUpdate{}); err != nil {
		t.Fatal(err)
	}
	close(bs.release)
	task := b.wait(t, "cx", time.Minute, export.StatusCanceled)
	if task.PercentProgress == 100 {
		t.Errorf("canceled task at 100%%: %+v", task)
	}
	if keys, err := b.objects.List(t.Context(), bucket, "cx/"); err != nil || len(keys) != 0 {
		t.Errorf("canceled task left %v (%v)", keys, err)
	}
}

// flakyStore fails the first `fails` transitions to COMPLETE, like a
// database that is briefly locked or out of space.
type flakyStore struct {
	export.Store
	fails atomic.Int32
}

func (s *flakyStore) Transition(ctx context.Context, accountID, identifier string, from []export.Status, to export.Status, u export.TaskUpdate) (*export.Task, error) {
	if to == export.StatusComplete && s.fails.Add(-1) >= 0 {
		return nil, errors.New("database is locked")
	}
	return s.Store.Transition(ctx, accountID, identifier, from, to, u)
}

// TestEngine_OutcomeRetried: a store that fails to record COMPLETE for a
// moment does not leave the task IN_PROGRESS.
func TestEngine_OutcomeRetried(t *testing.T) {
	db := exporttest.NewPostgresDB(t, fixture)
	fs := &flakyStore{}
	fs.fails.Store(2)
	b := setup(t, func(p *engine.Params) {
		fs.Store = p.Store
		p.Store = fs
	})
	arn := b.addSource(t, "pg", db)
	b.start(t)
	b.create(t, "retried", arn, db.Name+".public.e")
	b.wait(t, "retried", time.Minute, export.StatusComplete)
	if n := fs.fails.Load(); n >= 0 {
		t.Errorf("the failing transitions were not all tried (%d left)", n)
	}
}
