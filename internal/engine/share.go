package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/parquetfile"
)

// Sharer is implemented by a Snapshot whose tables other processes can read
// at the snapshot's moment: a PostgreSQL snapshot (exported with
// pg_export_snapshot and kept alive by its coordinator) or a stored
// snapshot copy. MySQL and MariaDB cannot share a consistent snapshot
// between connections opened at different times, so their snapshots do not
// implement it and their ranges are read where the export runs.
type Sharer interface {
	// Share returns what Joiner.Join needs to read t, one of the tables
	// Tables returned, elsewhere.
	Share(t Table) ([]byte, error)
}

// Joiner is implemented by a Source whose snapshots can be joined.
type Joiner interface {
	// Join opens the snapshot described by share (from Sharer.Share):
	// its Tables lists the shared table, with the sharer's ranges, and its
	// reads see the sharer's moment. Errors: a share that is not valid,
	// a snapshot that no longer exists, connection errors, ctx's error.
	Join(ctx context.Context, share []byte, p OpenParams) (Snapshot, error)
}

// RangeJob is one range of a table of a shared snapshot, for ReadShared.
type RangeJob struct {
	Table  string // Table.Target
	Batch  int
	Range  int
	Ranges int // RangeCount of the table when it was shared
	Share  []byte
}

// RangeRunner has the ranges of shared snapshots read, in this process or
// in others (Params.Ranges).
type RangeRunner interface {
	// ReadRange has j, a range of task t's export, read by
	// Engine.ReadShared and returns what was stored. progress receives
	// the source bytes and rows read since its previous call. Errors are
	// those of ReadShared as RangeFailure.Err rebuilds them, or ctx's.
	ReadRange(ctx context.Context, t *export.Task, j RangeJob, progress func(bytes, rows int64)) (RangeRead, error)
}

// ReadShared reads range j of task t's export from the snapshot j.Share
// describes and stores it as the export's own read of that range would:
// the same part-<range>-<uuid>-c<n> files in the table's batch folder. What
// an earlier read of the range stored is removed first. progress receives
// the source bytes and rows read since its previous call.
func (e *Engine) ReadShared(ctx context.Context, t *export.Task, j RangeJob, progress func(bytes, rows int64)) (RangeRead, error) {
	ctx = export.WithCaller(ctx, export.Caller{AccountID: t.AccountID, Region: t.Region})
	r := &taskRun{e: e, task: t, logger: e.logger.With("task_id", t.Identifier), root: exportRoot(t.S3Prefix, t.Identifier)}
	src, err := e.p.Resolve(ctx, t)
	if err != nil {
		return RangeRead{}, fmt.Errorf("resolve source: %w", err)
	}
	jn, ok := src.(Joiner)
	if !ok {
		return RangeRead{}, errors.New("the source cannot join a shared snapshot")
	}
	snap, err := jn.Join(ctx, j.Share, OpenParams{ExportOnly: t.ExportOnly, Connections: 1, Alloc: e.p.Alloc})
	if err != nil {
		if ctx.Err() == nil {
			err = &readError{err: err}
		}
		return RangeRead{}, err
	}
	defer func() {
		if err := snap.Close(); err != nil {
			r.logger.Warn("close joined snapshot", "err", err)
		}
	}()
	tables, _, err := snap.Tables(ctx)
	if err != nil {
		return RangeRead{}, fmt.Errorf("list tables: %w", err)
	}
	var tb Table
	for _, c := range tables {
		if c.Target == j.Table {
			tb = c
		}
	}
	switch {
	case tb.Target == "":
		return RangeRead{}, fmt.Errorf("read %s: %w", j.Table, ErrTableGone)
	case RangeCount(snap, tb) != j.Ranges || j.Batch < 0 || j.Batch >= tb.Batches || j.Range < 0 || j.Range >= j.Ranges:
		return RangeRead{}, fmt.Errorf("read %s: batch %d range %d of %d is not in the joined snapshot", j.Table, j.Batch, j.Range, j.Ranges)
	}
	dir, err := r.tableDir(tb)
	if err != nil {
		return RangeRead{}, err
	}
	if err := r.removePrefix(ctx, rangeStem(dir, j.Batch, j.Range)); err != nil {
		return RangeRead{}, err
	}
	return readOne(ctx, snap, tb, j.Batch, j.Range, ReadParams{
		Series:   func(batch, rng int) *parquetfile.Series { return r.series(dir, tb, batch, rng, nil) },
		Progress: func(n int64) { progress(n, 0) },
		Emitted:  func(rows int64, _ time.Duration) { progress(0, rows) },
	})
}

// removePrefix deletes the objects whose keys begin with prefix.
func (r *taskRun) removePrefix(ctx context.Context, prefix string) error {
	keys, err := r.e.p.Objects.List(ctx, r.task.S3Bucket, prefix)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := r.e.p.Objects.Delete(ctx, r.task.S3Bucket, k); err != nil {
			return err
		}
	}
	return nil
}

// RangeFailure is a ReadShared error as another process can rebuild it:
// what FailureCause needs (a table gone, a source read, an S3 write) and
// the text.
type RangeFailure struct {
	Kind    string `json:"kind"`           // "gone", "read", "objects", or "" for others
	Code    string `json:"code,omitempty"` // the S3 error code of "objects"
	Message string `json:"message"`
}

// FailureOf describes err for another process.
func FailureOf(err error) RangeFailure {
	f := RangeFailure{Message: err.Error()}
	var (
		re *readError
		oe *ObjectStoreError
	)
	switch {
	case errors.Is(err, ErrTableGone):
		f.Kind = "gone"
	case errors.As(err, &oe):
		f.Kind, f.Code = "objects", oe.Code
	case errors.As(err, &re):
		f.Kind, f.Message = "read", re.err.Error()
	}
	return f
}

// Err rebuilds the error FailureOf described.
func (f RangeFailure) Err() error {
	msg := errors.New(f.Message)
	switch f.Kind {
	case "gone":
		return fmt.Errorf("%w (%v)", ErrTableGone, msg)
	case "objects":
		return &ObjectStoreError{Code: f.Code, Err: msg}
	case "read":
		return &readError{err: msg}
	}
	return msg
}
