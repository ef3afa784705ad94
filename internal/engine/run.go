package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/rdsexport/rdsexport/internal/export"
)

// Failure causes of spec §11.1.
const (
	causeUnknown = "An unknown internal error occurred."
	causeMeta    = "An unknown internal error occurred writing the export task's metadata to the S3 bucket %s."
	causeBucket  = "The S3 bucket %s isn't valid. Either it isn't located in the current AWS Region or it doesn't exist. Review your S3 bucket name and retry the export."
	causeS3Check = "S3 credential check failed. Check the permissions on your S3 bucket and IAM policy."
	// causeForeign is §11.1's missing-permission text, for a bucket that
	// another account owns.
	causeForeign = "The IAM role %s isn't authorized to call s3:PutObject on the S3 bucket %s: the bucket belongs to another account. Review your permissions and retry the export."
	causeStopped = "The export was stopped because the server shut down."
	// causeData is ours (spec §11.1 [R]): the metadata template, for the
	// data files. With the S3 error code when S3 answered one, as in the
	// "Error code: [error code]" template.
	causeData     = "An unknown internal error occurred writing the exported data to the S3 bucket %s."
	causeDataCode = causeData + " Error code: %s"
	// causeSource is ours (spec §11.1 [R] allows a clearer text): the
	// source ARN, then the source's own one-line error, free of secrets.
	causeSource = "The export could not read the source %s: %s"
)

// cleanupTimeout bounds the work done after a task's context has ended.
const cleanupTimeout = 10 * time.Second

// taskRun is the state of one export while it runs.
type taskRun struct {
	e      *Engine
	task   *export.Task
	logger *slog.Logger
	root   string              // export root key prefix, without trailing slash
	reads  *semaphore.Weighted // one slot per source connection (Connections)

	extracted  atomic.Int64 // source bytes read
	total      int64        // estimated bytes of all tables
	tables     int
	tablesDone atomic.Int64
}

// run executes one claimed (IN_PROGRESS) task to its end and records the
// outcome. It never returns an error: every outcome is a status.
func (e *Engine) run(ctx context.Context, t *export.Task) {
	// The object store acts for the task's account: a store that knows
	// bucket owners (the embedded S3) refuses every write into a bucket the
	// account does not own.
	ctx = export.WithCaller(ctx, export.Caller{AccountID: t.AccountID, Region: t.Region})
	r := &taskRun{e: e, task: t, logger: e.logger.With("task_id", t.Identifier), root: exportRoot(t.S3Prefix, t.Identifier),
		reads: semaphore.NewWeighted(int64(e.p.Connections))}
	r.logger.Info("export started", "source_arn", t.SourceArn)
	start := e.p.Now()
	e.p.Observer.ExportStarted(t)
	defer e.p.Observer.ExportEnded(t)
	results, warnings, err := r.export(ctx)
	r.finish(ctx, results, warnings, err)
	r.logger.Info("export ended", "duration", e.p.Now().Sub(start), "bytes", r.extracted.Load())
}

// tableResult is what the tables manifest says of one table.
type tableResult struct {
	table      Table
	bytes      int64
	partitions int
}

func (r *taskRun) export(ctx context.Context) ([]tableResult, Warnings, error) {
	var warnings Warnings
	// An S3Prefix with "." or ".." segments or "//" would make every key
	// unsafe: fail before reading anything.
	if err := r.checkKey(r.root + "/"); err != nil {
		return nil, warnings, err
	}
	// StartExportTask checked the bucket; it may have been deleted, or
	// re-created by another account, since.
	if err := r.checkBucket(ctx); err != nil {
		return nil, warnings, err
	}
	src, err := r.e.p.Resolve(ctx, r.task)
	if err != nil {
		return nil, warnings, fmt.Errorf("resolve source: %w", err)
	}
	snap, err := src.Open(ctx, OpenParams{ExportOnly: r.task.ExportOnly, Connections: r.e.p.Connections, Alloc: r.e.p.Alloc})
	if err != nil {
		// Sources keep passwords out of their errors, so the user may see
		// why the source could not be read.
		return nil, warnings, &SourceError{Msg: fmt.Sprintf(causeSource, r.task.SourceArn, oneLine(err))}
	}
	defer func() {
		if err := snap.Close(); err != nil {
			r.logger.Warn("close source snapshot", "err", err)
		}
	}()
	if r.task.SourceType == export.SourceTypeCluster {
		st := snap.Time().UTC()
		if err := r.e.p.Store.UpdateProgress(ctx, r.task.AccountID, r.task.Identifier, export.TaskUpdate{SnapshotTime: &st}); err != nil {
			return nil, warnings, fmt.Errorf("record snapshot time: %w", err)
		}
	}
	tables, warnings, err := snap.Tables(ctx)
	if err != nil {
		return nil, warnings, fmt.Errorf("list tables: %w", err)
	}
	r.tables = len(tables)
	for _, t := range tables {
		r.total += t.EstimatedBytes
	}
	r.logger.Info("tables selected", "tables", len(tables), "estimated_bytes", r.total)

	stopProgress := r.reportProgress(ctx)
	defer stopProgress()

	results := make([]tableResult, len(tables))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.e.p.Connections)
	var (
		stopErr error
		gone    warningList
	)
	for i, t := range tables {
		if stopErr = r.checkCanceled(gctx); stopErr != nil {
			break
		}
		g.Go(func() error {
			res, err := r.exportTable(gctx, snap, t)
			if errors.Is(err, ErrTableGone) {
				r.logger.Warn("table gone during export", "table", t.Target, "err", err)
				gone.skip(t.Target, ReasonTableGone)
				r.tablesDone.Add(1)
				return nil
			}
			if err != nil {
				return fmt.Errorf("export table %s: %w", t.Target, err)
			}
			results[i] = res
			r.tablesDone.Add(1)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, warnings, err
	}
	if stopErr != nil {
		return nil, warnings, stopErr
	}
	if err := context.Cause(ctx); err != nil {
		return nil, warnings, err
	}
	warnings.Merge(gone.w)
	if rw, ok := snap.(ReadWarner); ok {
		warnings.Merge(rw.ReadWarnings())
	}
	// Tables that went away have no result.
	results = slices.DeleteFunc(results, func(res tableResult) bool { return res.table.Target == "" })
	return results, warnings, nil
}

// checkBucket fails the task, with a §11.1 cause, when its bucket is gone
// or not the task's account's.
func (r *taskRun) checkBucket(ctx context.Context) error {
	t := r.task
	exists, writable, err := r.e.p.Objects.BucketAccess(ctx, t.AccountID, t.S3Bucket)
	switch {
	case err != nil:
		return fmt.Errorf("check bucket %s: %w", t.S3Bucket, err)
	case !exists:
		return export.Errorf(export.CodeInvalidS3Bucket, causeBucket, t.S3Bucket)
	case !writable:
		return export.Errorf(export.CodeInvalidS3Bucket, causeForeign, t.IamRoleArn, t.S3Bucket)
	}
	return nil
}

// checkCanceled re-reads the task so that a cancel recorded by another
// process is honoured between tables.
func (r *taskRun) checkCanceled(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cur, err := r.e.p.Store.GetTask(ctx, r.task.AccountID, r.task.Identifier)
	if err != nil {
		return err
	}
	if cur.Status != export.StatusInProgress {
		r.e.CancelTask(r.task.AccountID, r.task.Identifier)
		return export.ErrTaskCanceled
	}
	return nil
}

// reportProgress saves progress every ProgressInterval until stopped.
func (r *taskRun) reportProgress(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(r.e.p.ProgressInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				pct, bytes := r.progress()
				if err := r.e.p.Store.UpdateProgress(ctx, r.task.AccountID, r.task.Identifier, export.TaskUpdate{PercentProgress: &pct, ExtractedBytes: &bytes}); err != nil && ctx.Err() == nil {
					r.logger.Warn("save progress", "err", err)
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

// progress is extracted bytes over the size estimate, or tables done over
// tables when sizes are unknown, clamped to 0..99 until COMPLETE (spec §6.3).
func (r *taskRun) progress() (int, int64) {
	bytes := r.extracted.Load()
	var pct int
	switch {
	case r.total > 0:
		pct = int(bytes * 100 / r.total)
	case r.tables > 0:
		pct = int(r.tablesDone.Load() * 100 / int64(r.tables))
	}
	return min(max(pct, 0), 99), bytes
}

// finish records the outcome: COMPLETE (with manifests), CANCELED or FAILED
// according to the error and the cause of ctx. Manifests written by a run
// that does not end COMPLETE are removed, once the store says the task can
// no longer complete.
func (r *taskRun) finish(ctx context.Context, results []tableResult, warnings Warnings, err error) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	warn := warnings.String()
	_, bytes := r.progress()
	u := export.TaskUpdate{ExtractedBytes: &bytes}
	if warn != "" {
		u.WarningMessage = &warn
	}

	cause := context.Cause(ctx)
	if errors.Is(cause, export.ErrHandedOff) {
		// Another run takes the task over: it records the outcome.
		r.logger.Info("export handed off", "err", err)
		return
	}
	manifests := false // whether manifests may be in the store
	if err == nil && cause == nil {
		end := r.e.p.Now().UTC()
		manifests = true
		merr := r.writeManifests(ctx, results, warnings, end)
		// A cancel or a shutdown may have come while they were written.
		cause = context.Cause(ctx)
		switch {
		case errors.Is(merr, export.ErrTaskCanceled):
			cause = export.ErrTaskCanceled
		case merr != nil:
			err = merr
		default:
			pct := 100
			u.PercentProgress, u.TaskEndTime = &pct, &end
			_, terr := r.transition(cctx, []export.Status{export.StatusInProgress}, export.StatusComplete, u)
			if terr == nil {
				return
			}
			if !errors.Is(terr, export.ErrStatusConflict) {
				// Left IN_PROGRESS: the scheduler (or the recovery at the
				// next start) fails it and removes the manifests.
				r.logger.Error("record completion", "err", terr)
				return
			}
			// Cancelled at the last moment: the cancel wins.
			cause, u.PercentProgress = export.ErrTaskCanceled, nil
		}
	}

	end := r.e.p.Now().UTC()
	u.TaskEndTime = &end
	if errors.Is(cause, export.ErrTaskCanceled) {
		r.endCanceled(cctx, u, manifests)
		return
	}
	msg := causeUnknown
	switch {
	case errors.Is(cause, export.ErrShutdown):
		msg = causeStopped
	case err != nil:
		msg = failureCause(r.task, err)
	}
	u.FailureCause = &msg
	cur, terr := r.transition(cctx, []export.Status{export.StatusInProgress, export.StatusStarting}, export.StatusFailed, u)
	switch {
	case terr == nil:
		r.logger.Error("export failed", "err", err, "cause", msg)
	case errors.Is(terr, export.ErrStatusConflict) && cur != nil && cur.Status == export.StatusCanceling:
		// A cancel arrived while failing: honour it.
		r.endCanceled(cctx, u, manifests)
		return
	case errors.Is(terr, export.ErrStatusConflict) && cur != nil:
		// Ended by another process (its recovery): not by us.
		r.logger.Warn("export ended elsewhere", "status", cur.Status, "err", err)
	default:
		// Left IN_PROGRESS: the scheduler fails it later.
		r.logger.Error("record failure", "err", terr)
		return
	}
	if manifests && cur.Status != export.StatusComplete {
		r.e.removeManifests(cctx, r.task)
	}
}

// endCanceled records CANCELED for a task that is CANCELING, without a
// FailureCause. Manifests this run may have written are removed first: a
// CANCELING task never becomes COMPLETE, and should the process die before
// CANCELED is recorded, the recovery removes them again.
func (r *taskRun) endCanceled(ctx context.Context, u export.TaskUpdate, manifests bool) {
	u.FailureCause = nil
	if manifests {
		r.e.removeManifests(ctx, r.task)
	}
	if _, err := r.transition(ctx, []export.Status{export.StatusCanceling}, export.StatusCanceled, u); err != nil {
		r.logger.Error("record cancel", "err", err)
		return
	}
	r.logger.Info("export canceled")
}

// transition records the task's outcome, retrying while the store fails
// (a busy database, a full disk being cleared) until ctx ends: a task left
// IN_PROGRESS with no runner would hold its slot and its source. A status
// conflict is returned at once.
func (r *taskRun) transition(ctx context.Context, from []export.Status, to export.Status, u export.TaskUpdate) (*export.Task, error) {
	wait := 50 * time.Millisecond
	for {
		t, err := r.e.p.Store.Transition(ctx, r.task.AccountID, r.task.Identifier, from, to, u)
		if err == nil || errors.Is(err, export.ErrStatusConflict) {
			return t, err
		}
		r.logger.Warn("record outcome, retrying", "to", to, "err", err)
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// failureCause turns an internal error into a FailureCause a user may see:
// an *export.Error's message, an S3 write problem, a source problem, or the
// generic text. Never secrets: source errors are written by sources without
// passwords, and of an S3 error only its code is shown.
//
// A manifest that could not be written gets the §11.1 metadata text. A
// data file that could not be written (an *ObjectStoreError outside the
// manifests) maps by its S3 error code: NoSuchBucket to the "bucket isn't
// valid" text, a refused request to the "S3 credential check failed" text,
// and anything else (server unreachable, connection reset, 5xx after the
// retries, a full disk) to a text that names the data and the bucket,
// with the S3 error code when there was one (InsufficientStorage for a
// full disk).
func failureCause(t *export.Task, err error) string {
	var ee *export.Error
	if errors.As(err, &ee) {
		return ee.Message
	}
	var me *manifestError
	if errors.As(err, &me) {
		return fmt.Sprintf(causeMeta, t.S3Bucket)
	}
	var oe *ObjectStoreError
	if errors.As(err, &oe) {
		switch oe.Code {
		case "NoSuchBucket":
			return fmt.Sprintf(causeBucket, t.S3Bucket)
		case "AccessDenied", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch":
			return causeS3Check
		}
		if s3Code.MatchString(oe.Code) {
			return fmt.Sprintf(causeDataCode, t.S3Bucket, oe.Code)
		}
		return fmt.Sprintf(causeData, t.S3Bucket)
	}
	var se *SourceError
	if errors.As(err, &se) {
		return se.Error()
	}
	var re *readError
	if errors.As(err, &re) {
		return fmt.Sprintf(causeSource, t.SourceArn, oneLine(re.err))
	}
	return causeUnknown
}

// s3Code matches what an S3 error code looks like. The code comes from
// the S3 server, which may be anyone's: other text is left out of a
// FailureCause.
var s3Code = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9.]{0,63}$`)

// oneLine is err's text on one line.
func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

// SourceError is an error a Source wants the user to see as FailureCause,
// e.g. "cannot connect to source db1: connection refused". Its text must not
// contain secrets.
type SourceError struct{ Msg string }

func (e *SourceError) Error() string { return e.Msg }

// readError is a read of the source that failed by itself, not because
// emit did: the server ended the query or the connection broke (e.g. a
// backend terminated by pg_terminate_backend or a MariaDB KILL). The task
// fails: a read cannot be resumed on a fresh connection and still see the
// same snapshot (MySQL cannot rejoin a consistent snapshot at all).
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// ObjectStoreError is returned (wrapped) by an ObjectStore when the store
// failed a request or could not be reached, after its own retries, as
// opposed to a cancelled ctx or a failing body reader. It lets the engine
// choose an S3 FailureCause (spec §11.1) without knowing the SDK.
type ObjectStoreError struct {
	Bucket string
	// Code is the S3 error code (NoSuchBucket, AccessDenied, SlowDown,
	// ...), or "" when there was no answer (refused, reset, timed out).
	Code string
	Err  error
}

func (e *ObjectStoreError) Error() string { return e.Err.Error() }
func (e *ObjectStoreError) Unwrap() error { return e.Err }

// exportRoot joins the S3 prefix (trimmed of slashes, spec §8.1) and the
// identifier.
func exportRoot(prefix, id string) string {
	prefix = strings.Trim(prefix, "/")
	if prefix == "" {
		return id
	}
	return prefix + "/" + id
}

// keyPart replaces the characters RDS replaces in generated S3 paths
// (spec §8.1).
func keyPart(s string) string {
	return strings.NewReplacer(`\`, "_", "`", "_", `"`, "_", " ", "_").Replace(s)
}
