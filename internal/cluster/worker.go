package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/export"
)

// exportArgs is the job of running one export task. Attempt is the run
// attempt the job follows: 0 for a new task, n to take over after run n.
type exportArgs struct {
	AccountID  string `json:"account_id"`
	Identifier string `json:"identifier"`
	Attempt    int    `json:"attempt"`
	// Retry tells apart a job queued again because the task's job was
	// lost (fetched by a node that never ran it); see reap.
	Retry int64 `json:"retry,omitempty"`
}

func (exportArgs) Kind() string { return "rdsexport_export" }

func (exportArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: queue, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

type exportWorker struct {
	river.WorkerDefaults[exportArgs]
	n *Node
}

// errNothing: the job has nothing to do (its run was taken, the task ended).
var errNothing = errors.New("nothing to run")

// errBusy: the account runs as many exports as it may.
var errBusy = errors.New("account at its export limit")

// busyWait is how long a job waits for a free slot of its account.
const busyWait = time.Second

func (w *exportWorker) Work(ctx context.Context, job *river.Job[exportArgs]) error {
	n, a := w.n, job.Args
	n.mu.Lock()
	stopping := n.stopping
	n.mu.Unlock()
	if stopping {
		return river.JobSnooze(0) // for another node
	}
	inst, _ := n.lease.current()
	if !n.lease.valid(inst) {
		return river.JobSnooze(busyWait)
	}
	t, attempt, err := n.claim(ctx, job.ID, a, inst)
	switch {
	case errors.Is(err, errNothing):
		return nil
	case errors.Is(err, errBusy):
		return river.JobSnooze(busyWait)
	case err != nil:
		return err
	}
	n.execute(ctx, t, attempt, inst)
	return nil
}

// execute runs the claimed task and then either forgets the run (the task
// ended) or gives it back to the cluster (this node left or lost its lease).
func (n *Node) execute(jobCtx context.Context, t *export.Task, attempt int, inst string) {
	key := runKey{t.AccountID, t.Identifier}
	logger := n.logger.With("task_id", t.Identifier, "attempt", attempt)
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(jobCtx))
	defer cancel(nil)
	// River cancels the job's context for a remote JobCancel; anything
	// else that ends it (the client stopping) hands the run back.
	stop := context.AfterFunc(jobCtx, func() {
		if errors.Is(context.Cause(jobCtx), river.ErrJobCancelledRemotely) {
			cancel(export.ErrTaskCanceled)
		} else {
			cancel(export.ErrHandedOff)
		}
	})
	defer stop()
	n.mu.Lock()
	n.runs[key] = &localRun{attempt: attempt, instance: inst, cancel: cancel}
	stopping := n.stopping
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		delete(n.runs, key)
		n.mu.Unlock()
	}()
	if stopping {
		cancel(export.ErrHandedOff)
	}
	f := fence{account: t.AccountID, id: t.Identifier, attempt: attempt, instance: inst}
	ctx = withFence(ctx, f)
	defer func() {
		n.mu.Lock()
		delete(n.keys, f)
		n.mu.Unlock()
	}()

	if attempt > 1 {
		// An earlier run died: its files go before this one reads the
		// source again, at a new point in time.
		// A stored copy does not change: the ranges earlier runs read
		// from it stay and are not read again.
		var (
			stored map[rangeID]engine.RangeRead
			keep   map[string]bool
			err    error
		)
		if t.SourceType == export.SourceTypeSnapshot {
			stored, keep, err = n.storedRanges(ctx, t)
			n.mu.Lock()
			n.runs[key].stored = stored
			n.mu.Unlock()
		}
		removed := 0
		if err == nil {
			removed, err = n.eng.RemoveObjects(ctx, t, keep)
		}
		if err != nil {
			logger.Warn("remove the objects of the earlier run", "err", err)
			cancel(export.ErrHandedOff)
		} else {
			logger.Info("took over export", "removed_objects", removed, "kept_ranges", len(stored), "kept_objects", len(keep))
		}
	}
	if context.Cause(ctx) == nil {
		n.eng.Run(ctx, t)
	}

	rctx, rcancel := context.WithTimeout(context.WithoutCancel(jobCtx), 10*time.Second)
	defer rcancel()
	if errors.Is(context.Cause(ctx), export.ErrHandedOff) {
		if err := n.release(rctx, t, attempt, inst); err != nil {
			logger.Warn("hand the export back", "err", err)
		}
		return
	}
	if _, err := n.p.Pool.Exec(rctx, `DELETE FROM rdsexport_runs WHERE account_id = $1 AND identifier = $2 AND attempt = $3 AND instance = $4`,
		t.AccountID, t.Identifier, attempt, inst); err != nil {
		// The reaper deletes it once the task is terminal.
		logger.Warn("forget the run", "err", err)
	}
}

// claim takes the task of job a for instance inst and returns it with the
// run's attempt number.
func (n *Node) claim(ctx context.Context, jobID int64, a exportArgs, inst string) (*export.Task, int, error) {
	tx, err := n.p.Pool.Begin(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit it is a no-op
	// Claims of one account's tasks go one at a time across the cluster:
	// the count of running tasks and the claim are one step.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, lockClaim, a.AccountID); err != nil {
		return nil, 0, err
	}
	t, err := n.p.Store.GetTask(ctx, a.AccountID, a.Identifier)
	if err != nil {
		if export.ErrorCode(err) == export.CodeExportTaskNotFound {
			return nil, 0, errNothing
		}
		return nil, 0, err
	}
	var attempt int
	var owner *string
	err = tx.QueryRow(ctx, `SELECT attempt, instance FROM rdsexport_runs WHERE account_id = $1 AND identifier = $2 FOR UPDATE`,
		a.AccountID, a.Identifier).Scan(&attempt, &owner)
	hasRun := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, 0, err
	}
	switch {
	case t.Status == export.StatusStarting && !hasRun && a.Attempt == 0:
		if err := n.admit(ctx, t); err != nil {
			return nil, 0, err
		}
		t, err = n.p.Store.Transition(ctx, t.AccountID, t.Identifier, []export.Status{export.StatusStarting}, export.StatusInProgress, export.TaskUpdate{})
		if errors.Is(err, export.ErrStatusConflict) {
			return nil, 0, errNothing
		}
		if err != nil {
			return nil, 0, err
		}
		attempt = 1
		// Were this transaction lost after the transition, the reaper
		// finds the task IN_PROGRESS without a run and queues it again.
		if _, err := tx.Exec(ctx, `INSERT INTO rdsexport_runs (account_id, identifier, attempt, instance, job_id) VALUES ($1, $2, 1, $3, $4)`,
			t.AccountID, t.Identifier, inst, jobID); err != nil {
			return nil, 0, err
		}
	case t.Status == export.StatusInProgress && hasRun && owner == nil && attempt == a.Attempt:
		attempt++
		if _, err := tx.Exec(ctx, `UPDATE rdsexport_runs SET attempt = $3, instance = $4, job_id = $5 WHERE account_id = $1 AND identifier = $2`,
			t.AccountID, t.Identifier, attempt, inst, jobID); err != nil {
			return nil, 0, err
		}
	default:
		return nil, 0, errNothing
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, 0, err
	}
	return t, attempt, nil
}

// admit reports errBusy while t must wait for a slot of its account: the
// account runs MaxConcurrentExports tasks, or older waiting tasks take the
// free slots first (spec §6.5: further tasks wait in order).
func (n *Node) admit(ctx context.Context, t *export.Task) error {
	limit := n.p.MaxConcurrentExports
	running, err := n.p.Store.ListTasks(ctx, export.TaskFilter{AccountID: t.AccountID,
		Statuses: []export.Status{export.StatusInProgress, export.StatusCanceling}, Limit: limit})
	if err != nil {
		return err
	}
	free := limit - len(running)
	if free <= 0 {
		return errBusy
	}
	older, err := n.p.Store.ListTasks(ctx, export.TaskFilter{AccountID: t.AccountID,
		Statuses: []export.Status{export.StatusStarting}, Limit: free})
	if err != nil {
		return err
	}
	for _, o := range older {
		if o.Seq >= t.Seq {
			return nil
		}
	}
	if len(older) >= free {
		return errBusy
	}
	return nil
}

// release gives the run back to the cluster: another node's worker claims
// it from the job queued in the same transaction.
func (n *Node) release(ctx context.Context, t *export.Task, attempt int, inst string) error {
	tx, err := n.p.Pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit it is a no-op
	tag, err := tx.Exec(ctx, `UPDATE rdsexport_runs SET instance = NULL, job_id = NULL
		WHERE account_id = $1 AND identifier = $2 AND attempt = $3 AND instance = $4`,
		t.AccountID, t.Identifier, attempt, inst)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return nil // already taken over
	}
	if _, err := n.river.InsertTx(ctx, tx, exportArgs{AccountID: t.AccountID, Identifier: t.Identifier, Attempt: attempt}, nil); err != nil {
		return fmt.Errorf("queue the export again: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	n.logger.Info("export handed back to the cluster", "task_id", t.Identifier, "attempt", attempt)
	return nil
}
