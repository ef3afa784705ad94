package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/parquetfile"
)

// Resolver finds the Source a task reads. Errors are *export.Error when the
// source no longer exists.
type Resolver func(ctx context.Context, t *export.Task) (Source, error)

// Params configures New.
type Params struct {
	Store   export.Store
	Objects ObjectStore
	Resolve Resolver
	Logger  *slog.Logger
	Now     func() time.Time
	// MaxConcurrentExports per account (spec §6.5); further tasks wait in
	// STARTING in order. Default 5.
	MaxConcurrentExports int
	// Connections is the number of source connections (and tables read at
	// once) per export. Default 2.
	Connections int
	// FileBytes is the compressed size at which a Parquet file is closed
	// and the next one begun (spec §8.2: about 8 MB). Default 8 MiB.
	FileBytes int64
	// Parquet bounds the row groups of each file.
	Parquet parquetfile.WriterParams
	// ProgressInterval is how often progress is saved. Default 1s.
	ProgressInterval time.Duration
	// PollInterval is how often the store is scanned for work without a
	// Wake. Default 1s.
	PollInterval time.Duration
	// Alloc allocates Arrow memory; nil means memory.DefaultAllocator.
	Alloc memory.Allocator
	// Dispatched means another component (the cluster's job queue) claims
	// tasks and hands them to Run: Start then neither recovers orphans nor
	// schedules, since other processes may be running those tasks.
	Dispatched bool
	// Ranges, when set, reads the ranges of the tables of snapshots that
	// can be shared (Sharer), when the table is split into ranges
	// (RangeCount above 1) or large enough to be worth a job of its own
	// (16 MiB): in the cluster, as jobs that any node may run. Nil reads
	// everything here.
	Ranges RangeRunner
	// Observer, when set, watches each export: its start, the batches its
	// sources deliver, and the progress of each of its tables.
	Observer Observer
}

// Engine runs export tasks. Create it with New, then Start; Stop waits for
// every goroutine it started.
type Engine struct {
	p      Params
	logger *slog.Logger
	wake   chan struct{}

	mu      sync.Mutex
	running map[taskKey]context.CancelCauseFunc
	wg      sync.WaitGroup
	cancel  context.CancelCauseFunc
	done    chan struct{}
}

type taskKey struct{ account, id string }

// New returns an Engine with defaults filled in.
func New(p Params) *Engine {
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.MaxConcurrentExports <= 0 {
		p.MaxConcurrentExports = 5
	}
	if p.Connections <= 0 {
		p.Connections = 2
	}
	if p.FileBytes <= 0 {
		p.FileBytes = 8 << 20
	}
	if p.ProgressInterval <= 0 {
		p.ProgressInterval = time.Second
	}
	if p.PollInterval <= 0 {
		p.PollInterval = time.Second
	}
	if p.Alloc == nil {
		p.Alloc = memory.DefaultAllocator
	}
	if p.Observer == nil {
		p.Observer = nopObserver{}
	}
	p.Parquet.Alloc = p.Alloc
	return &Engine{
		p:       p,
		logger:  p.Logger,
		wake:    make(chan struct{}, 1),
		running: map[taskKey]context.CancelCauseFunc{},
	}
}

// Start recovers tasks left behind by a previous process (spec §6.2) and
// begins scheduling. Exports run on a context derived from ctx, not from
// any request.
func (e *Engine) Start(ctx context.Context) error {
	e.done = make(chan struct{})
	if e.p.Dispatched {
		_, e.cancel = context.WithCancelCause(ctx)
		close(e.done)
		return nil
	}
	if err := e.recover(ctx); err != nil {
		return err
	}
	ctx, e.cancel = context.WithCancelCause(ctx)
	go func() {
		defer close(e.done)
		e.loop(ctx)
	}()
	return nil
}

// Run executes t, which the caller has claimed (IN_PROGRESS), to its end and
// records the outcome, unless ctx ends with export.ErrHandedOff. CancelTask
// reaches it like a scheduled run.
func (e *Engine) Run(ctx context.Context, t *export.Task) {
	key := taskKey{t.AccountID, t.Identifier}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	e.mu.Lock()
	e.running[key] = cancel
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.running, key)
		e.mu.Unlock()
	}()
	e.run(ctx, t)
}

// EndOrphan records the end of an IN_PROGRESS or CANCELING task that no
// runner will finish (see endOrphan) and returns the status it moved to.
func (e *Engine) EndOrphan(ctx context.Context, t *export.Task) (export.Status, error) {
	return e.endOrphan(ctx, t)
}

// RemoveObjects deletes every object under the task's export root but
// those in keep: the files of an earlier run of the task that did not
// finish. It returns how many it deleted.
func (e *Engine) RemoveObjects(ctx context.Context, t *export.Task, keep map[string]bool) (int, error) {
	ctx = export.WithCaller(ctx, export.Caller{AccountID: t.AccountID, Region: t.Region})
	keys, err := e.p.Objects.List(ctx, t.S3Bucket, exportRoot(t.S3Prefix, t.Identifier)+"/")
	if err != nil {
		return 0, err
	}
	keys = slices.DeleteFunc(keys, func(k string) bool { return keep[k] })
	for i, k := range keys {
		if err := e.p.Objects.Delete(ctx, t.S3Bucket, k); err != nil {
			return i, err
		}
	}
	if a, ok := e.p.Objects.(UploadAborter); ok {
		if _, err := a.AbortUploads(ctx, t.S3Bucket, exportRoot(t.S3Prefix, t.Identifier)+"/"); err != nil {
			return len(keys), err
		}
	}
	return len(keys), nil
}

// Stop cancels running exports with cause export.ErrShutdown and waits for
// them to record their outcome.
func (e *Engine) Stop() {
	if e.cancel == nil {
		return
	}
	e.cancel(export.ErrShutdown)
	<-e.done
	e.wg.Wait()
}

// Wake asks the engine to look for STARTING tasks now.
func (e *Engine) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// CancelTask stops the running export of the task, if this engine runs it.
// The caller has already moved the task to CANCELING.
func (e *Engine) CancelTask(accountID, identifier string) {
	e.mu.Lock()
	cancel := e.running[taskKey{accountID, identifier}]
	e.mu.Unlock()
	if cancel != nil {
		cancel(export.ErrTaskCanceled)
	}
	e.Wake()
}

// recover ends tasks that a previous process left running: IN_PROGRESS
// becomes FAILED, CANCELING becomes CANCELED, and manifests the dead
// process may have written before it recorded COMPLETE are removed.
// STARTING tasks never began and simply wait for their turn again.
func (e *Engine) recover(ctx context.Context) error {
	tasks, err := e.p.Store.ListTasks(ctx, export.TaskFilter{
		Statuses: []export.Status{export.StatusInProgress, export.StatusCanceling},
	})
	if err != nil {
		return fmt.Errorf("list unfinished tasks: %w", err)
	}
	for _, t := range tasks {
		to, err := e.endOrphan(ctx, t)
		if err != nil {
			return fmt.Errorf("recover task %s: %w", t.Identifier, err)
		}
		e.logger.Info("recovered task", "task_id", t.Identifier, "from", t.Status, "to", to)
		// Uploads the dead process had open will never complete.
		if a, ok := e.p.Objects.(UploadAborter); ok {
			if n, err := a.AbortUploads(ctx, t.S3Bucket, exportRoot(t.S3Prefix, t.Identifier)+"/"); err != nil {
				e.logger.Warn("abort uploads of recovered task", "task_id", t.Identifier, "err", err)
			} else if n > 0 {
				e.logger.Info("aborted uploads of recovered task", "task_id", t.Identifier, "uploads", n)
			}
		}
	}
	return nil
}

// endOrphan records the end of t, an IN_PROGRESS or CANCELING task that no
// runner will finish: CANCELING becomes CANCELED, IN_PROGRESS becomes
// FAILED. It returns the status it moved t to. A status conflict (another
// process ended t first) is not an error.
//
// A runner that died between writing the manifests and recording COMPLETE
// left manifests that say COMPLETE; they are removed once the store says
// the task cannot complete: before CANCELED (a CANCELING task never
// completes, and a crash before CANCELED finds it CANCELING again), after
// FAILED (until then a runner elsewhere may still record COMPLETE, and then
// this transition fails and its manifests stay).
func (e *Engine) endOrphan(ctx context.Context, t *export.Task) (export.Status, error) {
	// The manifests are in the task's bucket: act for its account, as the
	// runner does.
	ctx = export.WithCaller(ctx, export.Caller{AccountID: t.AccountID, Region: t.Region})
	now := e.p.Now().UTC()
	u := export.TaskUpdate{TaskEndTime: &now}
	to := export.StatusFailed
	if t.Status == export.StatusCanceling {
		to = export.StatusCanceled
		e.removeManifests(ctx, t)
	} else {
		cause := causeUnknown
		u.FailureCause = &cause
	}
	_, err := e.p.Store.Transition(ctx, t.AccountID, t.Identifier, []export.Status{t.Status}, to, u)
	switch {
	case errors.Is(err, export.ErrStatusConflict):
		return to, nil
	case err != nil:
		return to, err
	}
	if to == export.StatusFailed {
		e.removeManifests(ctx, t)
	}
	return to, nil
}

func (e *Engine) loop(ctx context.Context) {
	tick := time.NewTicker(e.p.PollInterval)
	defer tick.Stop()
	for {
		if err := e.schedule(ctx); err != nil && ctx.Err() == nil {
			e.logger.Error("schedule exports", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-e.wake:
		case <-tick.C:
		}
	}
}

// schedule ends CANCELING tasks that never started and claims STARTING tasks
// in order while their account has a free slot.
func (e *Engine) schedule(ctx context.Context) error {
	tasks, err := e.p.Store.ListTasks(ctx, export.TaskFilter{Statuses: export.ActiveStatuses()})
	if err != nil {
		return fmt.Errorf("list active tasks: %w", err)
	}
	active := map[string]int{}
	for _, t := range tasks {
		if t.Status != export.StatusStarting {
			active[t.AccountID]++
		}
	}
	for _, t := range tasks {
		if e.isRunning(t) {
			continue
		}
		switch t.Status {
		case export.StatusCanceling:
			// Cancelled before it started, or its runner is gone.
			if _, err := e.endOrphan(ctx, t); err != nil {
				return fmt.Errorf("finish canceled task %s: %w", t.Identifier, err)
			}
		case export.StatusInProgress:
			// Its runner ended without recording the outcome (the store
			// failed for longer than it retried): fail it, as recovery
			// would at the next start, so that it frees its slot.
			if _, err := e.endOrphan(ctx, t); err != nil {
				return fmt.Errorf("fail orphaned task %s: %w", t.Identifier, err)
			}
			active[t.AccountID]--
			e.logger.Error("export failed: its outcome was not recorded", "task_id", t.Identifier)
		case export.StatusStarting:
			if active[t.AccountID] >= e.p.MaxConcurrentExports {
				continue
			}
			claimed, err := e.p.Store.Transition(ctx, t.AccountID, t.Identifier, []export.Status{export.StatusStarting}, export.StatusInProgress, export.TaskUpdate{})
			if errors.Is(err, export.ErrStatusConflict) {
				continue
			}
			if err != nil {
				return fmt.Errorf("claim task %s: %w", t.Identifier, err)
			}
			active[t.AccountID]++
			e.launch(ctx, claimed)
		}
	}
	return nil
}

func (e *Engine) isRunning(t *export.Task) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.running[taskKey{t.AccountID, t.Identifier}]
	return ok
}

func (e *Engine) launch(ctx context.Context, t *export.Task) {
	key := taskKey{t.AccountID, t.Identifier}
	ctx, cancel := context.WithCancelCause(ctx)
	e.mu.Lock()
	e.running[key] = cancel
	e.mu.Unlock()
	e.wg.Go(func() {
		defer func() {
			e.mu.Lock()
			delete(e.running, key)
			e.mu.Unlock()
			cancel(nil)
			e.Wake() // a slot is free
		}()
		e.run(ctx, t)
	})
}

// Running returns the number of exports this engine is running.
func (e *Engine) Running() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.running)
}
