package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/export"
)

// rangeQueue is the River queue of range jobs.
const rangeQueue = "rdsexport_ranges"

// rangeArgs is the job of reading one range of an export's shared snapshot.
// Its row in rdsexport_ranges holds the rest (the share, the outcome).
type rangeArgs struct {
	AccountID  string `json:"account_id"`
	Identifier string `json:"identifier"`
	RunAttempt int    `json:"run_attempt"`
	Table      string `json:"table"`
	Batch      int    `json:"batch"`
	Range      int    `json:"range"`
	// Attempt counts the reads of the range: a read whose node died is
	// queued again with the next one.
	Attempt int `json:"attempt"`
}

func (rangeArgs) Kind() string { return "rdsexport_range" }

func (rangeArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: rangeQueue, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// Range states in rdsexport_ranges.
const (
	rangeQueued  = "queued"
	rangeRunning = "running"
	rangeDone    = "done"
	rangeFailed  = "failed"
)

// rangePoll is how often the node running an export looks at the ranges
// it waits for; progress and outcomes reach it within that time.
const rangePoll = 200 * time.Millisecond

// rangeFlush is how often a range's reader records its progress.
const rangeFlush = 500 * time.Millisecond

const rangeKeyWhere = `account_id = $1 AND identifier = $2 AND run_attempt = $3 AND target = $4 AND batch = $5 AND rng = $6`

var _ engine.RangeRunner = (*Node)(nil)

// ReadRange queues range j of the export run in ctx as a job and waits for
// whichever node reads it (engine.RangeRunner). A range of a snapshot
// export that an earlier run of the task stored is not read again: a
// stored copy does not change, and its files were kept at the takeover
// (see storedRanges).
func (n *Node) ReadRange(ctx context.Context, t *export.Task, j engine.RangeJob, progress func(bytes, rows int64)) (engine.RangeRead, error) {
	f, ok := fenceOf(ctx)
	if !ok {
		return engine.RangeRead{}, errors.New("read range: not in a run of the cluster")
	}
	a := rangeArgs{AccountID: t.AccountID, Identifier: t.Identifier, RunAttempt: f.attempt,
		Table: j.Table, Batch: j.Batch, Range: j.Range, Attempt: 1}
	if rr, ok := n.storedRange(t, j); ok {
		n.keep(f, rr)
		progress(rr.SourceBytes, rr.Rows)
		return rr, nil
	}
	err := pgx.BeginFunc(ctx, n.p.Pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO rdsexport_ranges (account_id, identifier, run_attempt, target, batch, rng, ranges, share, state)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
			a.AccountID, a.Identifier, a.RunAttempt, a.Table, a.Batch, a.Range, j.Ranges, j.Share, rangeQueued)
		if err != nil || tag.RowsAffected() == 0 {
			return err // already queued by this run: wait for it
		}
		_, err = n.river.InsertTx(ctx, tx, a, nil)
		return err
	})
	if err != nil {
		return engine.RangeRead{}, fmt.Errorf("queue range: %w", err)
	}
	return n.awaitRange(ctx, f, a, progress)
}

// awaitRange follows the range's row until it ends, passing its progress
// on. When ctx ends first, the range's job is cancelled wherever it runs.
func (n *Node) awaitRange(ctx context.Context, f fence, a rangeArgs, progress func(bytes, rows int64)) (engine.RangeRead, error) {
	tick := time.NewTicker(rangePoll)
	defer tick.Stop()
	var seenBytes, seenRows int64
	for {
		select {
		case <-ctx.Done():
			n.cancelRange(a)
			return engine.RangeRead{}, context.Cause(ctx)
		case <-tick.C:
		}
		var (
			state       string
			bytes, rows int64
			result      []byte
		)
		err := n.p.Pool.QueryRow(ctx, `SELECT state, bytes, rows, result FROM rdsexport_ranges WHERE `+rangeKeyWhere,
			a.AccountID, a.Identifier, a.RunAttempt, a.Table, a.Batch, a.Range).Scan(&state, &bytes, &rows, &result)
		if err != nil {
			if ctx.Err() != nil {
				continue
			}
			return engine.RangeRead{}, fmt.Errorf("follow range: %w", err)
		}
		var rr engine.RangeRead
		if state == rangeDone {
			if err := json.Unmarshal(result, &rr); err != nil {
				return engine.RangeRead{}, fmt.Errorf("range result: %w", err)
			}
			bytes, rows = rr.SourceBytes, rr.Rows
		}
		// A range read again (its reader died) starts from nothing: what
		// was passed on stays, and counts again once passed.
		if bytes > seenBytes || rows > seenRows {
			progress(max(bytes-seenBytes, 0), max(rows-seenRows, 0))
			seenBytes, seenRows = max(bytes, seenBytes), max(rows, seenRows)
		}
		switch state {
		case rangeDone:
			n.keep(f, rr)
			return rr, nil
		case rangeFailed:
			var fl engine.RangeFailure
			if err := json.Unmarshal(result, &fl); err != nil {
				return engine.RangeRead{}, fmt.Errorf("range failure: %w", err)
			}
			return engine.RangeRead{}, fl.Err()
		}
	}
}

// keep counts the files of rr as written by run f, so that the sweep
// before the manifests leaves them.
func (n *Node) keep(f fence, rr engine.RangeRead) {
	for _, file := range rr.Files {
		n.wrote(f, file.Key)
	}
}

// rangeID names a range of an export across its runs.
type rangeID struct {
	table         string
	batch, rng, n int // n: the table's number of ranges
}

// storedRanges returns the ranges earlier runs of t stored, with their
// files, which a takeover of a snapshot export keeps and does not read
// again. Read after the takeover's claim: a reader of an earlier run
// cannot store anything since (its writes check the run's attempt), so
// what is kept is exactly what is reused.
func (n *Node) storedRanges(ctx context.Context, t *export.Task) (map[rangeID]engine.RangeRead, map[string]bool, error) {
	rows, err := n.p.Pool.Query(ctx, `SELECT DISTINCT ON (target, batch, rng, ranges) target, batch, rng, ranges, result
		FROM rdsexport_ranges WHERE account_id = $1 AND identifier = $2 AND state = $3
		ORDER BY target, batch, rng, ranges, run_attempt DESC`, t.AccountID, t.Identifier, rangeDone)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	stored, keys := map[rangeID]engine.RangeRead{}, map[string]bool{}
	for rows.Next() {
		var (
			id     rangeID
			result []byte
			rr     engine.RangeRead
		)
		if err := rows.Scan(&id.table, &id.batch, &id.rng, &id.n, &result); err != nil {
			return nil, nil, err
		}
		if err := json.Unmarshal(result, &rr); err != nil {
			return nil, nil, fmt.Errorf("stored range: %w", err)
		}
		stored[id] = rr
		for _, f := range rr.Files {
			keys[f.Key] = true
		}
	}
	return stored, keys, rows.Err()
}

// storedRange returns the range j of t's run that the takeover kept.
func (n *Node) storedRange(t *export.Task, j engine.RangeJob) (engine.RangeRead, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	r := n.runs[runKey{t.AccountID, t.Identifier}]
	if r == nil {
		return engine.RangeRead{}, false
	}
	rr, ok := r.stored[rangeID{j.Table, j.Batch, j.Range, j.Ranges}]
	return rr, ok
}

// cancelRange stops the range's read wherever it runs.
func (n *Node) cancelRange(a rangeArgs) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var jobID *int64
	err := n.p.Pool.QueryRow(ctx, `UPDATE rdsexport_ranges SET state = $7 WHERE `+rangeKeyWhere+` AND state IN ('queued', 'running')
		RETURNING job_id`, a.AccountID, a.Identifier, a.RunAttempt, a.Table, a.Batch, a.Range, rangeFailed).Scan(&jobID)
	if err != nil || jobID == nil {
		return // ended, or not fetched yet: its worker finds it failed
	}
	if _, err := n.river.JobCancel(ctx, *jobID); err != nil {
		n.logger.Warn("cancel range job", "job_id", *jobID, "err", err)
	}
}

type rangeWorker struct {
	river.WorkerDefaults[rangeArgs]
	n *Node
}

func (w *rangeWorker) Work(ctx context.Context, job *river.Job[rangeArgs]) error {
	n, a := w.n, job.Args
	inst, _ := n.lease.current()
	if !n.lease.valid(inst) {
		return river.JobSnooze(busyWait)
	}
	var (
		share  []byte
		ranges int
	)
	err := n.p.Pool.QueryRow(ctx, `UPDATE rdsexport_ranges SET state = $9, instance = $8, job_id = $10
		WHERE `+rangeKeyWhere+` AND attempt = $7 AND state = 'queued'
		RETURNING share, ranges`,
		a.AccountID, a.Identifier, a.RunAttempt, a.Table, a.Batch, a.Range, a.Attempt, inst, rangeRunning, job.ID).Scan(&share, &ranges)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // read by another job, or no longer wanted
	}
	if err != nil {
		return err
	}
	t, err := n.p.Store.GetTask(ctx, a.AccountID, a.Identifier)
	if err != nil {
		n.endRange(ctx, a, inst, engine.RangeRead{}, err)
		return nil
	}
	rctx, cancelRead := context.WithCancelCause(withRangeFence(ctx, rangeFence{args: a, instance: inst}))
	defer cancelRead(nil)
	n.mu.Lock()
	n.reads[a] = cancelRead
	if n.stopping {
		cancelRead(export.ErrHandedOff)
	}
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		delete(n.reads, a)
		n.mu.Unlock()
	}()
	var bytes, rows atomic.Int64
	flushed := make(chan struct{})
	fctx, stopFlush := context.WithCancel(ctx)
	go func() {
		defer close(flushed)
		tick := time.NewTicker(rangeFlush)
		defer tick.Stop()
		for {
			select {
			case <-fctx.Done():
				return
			case <-tick.C:
			}
			_, _ = n.p.Pool.Exec(fctx, `UPDATE rdsexport_ranges SET bytes = $9, rows = $10
				WHERE `+rangeKeyWhere+` AND attempt = $7 AND instance = $8 AND state = 'running'`,
				a.AccountID, a.Identifier, a.RunAttempt, a.Table, a.Batch, a.Range, a.Attempt, inst, bytes.Load(), rows.Load())
		}
	}()
	j := engine.RangeJob{Table: a.Table, Batch: a.Batch, Range: a.Range, Ranges: ranges, Share: share}
	rr, err := n.eng.ReadShared(rctx, t, j, func(b, r int64) {
		bytes.Add(b)
		rows.Add(r)
	})
	stopFlush()
	<-flushed
	if errors.Is(context.Cause(rctx), export.ErrHandedOff) {
		// This node leaves: another reads the range at once.
		if err := n.requeueRange(context.WithoutCancel(ctx), a, inst, "range handed back to the cluster"); err != nil {
			n.logger.Warn("hand the range back", "task_id", a.Identifier, "err", err)
		}
		return nil
	}
	n.endRange(context.WithoutCancel(ctx), a, inst, rr, err)
	return nil
}

// endRange records the outcome of this node's read of a range, unless the
// range was taken from it.
func (n *Node) endRange(ctx context.Context, a rangeArgs, inst string, rr engine.RangeRead, readErr error) {
	state, outcome := rangeDone, any(rr)
	if readErr != nil {
		state, outcome = rangeFailed, engine.FailureOf(readErr)
	}
	result, _ := json.Marshal(outcome)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := n.p.Pool.Exec(ctx, `UPDATE rdsexport_ranges SET state = $9, result = $10, bytes = $11, rows = $12
		WHERE `+rangeKeyWhere+` AND attempt = $7 AND instance = $8 AND state = 'running'`,
		a.AccountID, a.Identifier, a.RunAttempt, a.Table, a.Batch, a.Range, a.Attempt, inst, state, result, rr.SourceBytes, rr.Rows); err != nil {
		n.logger.Warn("record range", "task_id", a.Identifier, "table", a.Table, "range", a.Range, "err", err)
	}
}

// rangeFence names one read of a range; it travels in the read's context.
// The read's object writes happen only while this node's lease holds, the
// export's run is still the one that queued the range, and the range is
// still this read's.
type rangeFence struct {
	args     rangeArgs
	instance string
}

type rangeFenceKey struct{}

func withRangeFence(ctx context.Context, f rangeFence) context.Context {
	return context.WithValue(ctx, rangeFenceKey{}, f)
}

// checkRange reports errFenced when the read in ctx may no longer write.
func (n *Node) checkRange(ctx context.Context) error {
	f, ok := ctx.Value(rangeFenceKey{}).(rangeFence)
	if !ok {
		return nil
	}
	if !n.lease.valid(f.instance) {
		return errFenced
	}
	a := f.args
	var one int
	err := n.p.Pool.QueryRow(ctx, `SELECT 1 FROM rdsexport_ranges rg JOIN rdsexport_runs r
			ON r.account_id = rg.account_id AND r.identifier = rg.identifier AND r.attempt = rg.run_attempt
		WHERE rg.account_id = $1 AND rg.identifier = $2 AND rg.run_attempt = $3 AND rg.target = $4 AND rg.batch = $5 AND rg.rng = $6
			AND rg.attempt = $7 AND rg.instance = $8 AND rg.state = 'running'`,
		a.AccountID, a.Identifier, a.RunAttempt, a.Table, a.Batch, a.Range, a.Attempt, f.instance).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return errFenced
	}
	return err
}

// reapRanges queues again the ranges whose reader's lease lapsed, and
// forgets the ranges of tasks that ended.
func (n *Node) reapRanges(ctx context.Context) error {
	rows, err := n.p.Pool.Query(ctx, `SELECT account_id, identifier, run_attempt, target, batch, rng, attempt, instance
		FROM rdsexport_ranges rg WHERE state = 'running' AND NOT EXISTS (SELECT 1 FROM rdsexport_nodes nd
			WHERE nd.instance = rg.instance AND nd.heartbeat_at > now() - make_interval(secs => $1))
		-- Only for a run that goes on: the ranges of a run whose node
		-- died too are left to the run that takes it over.
		AND EXISTS (SELECT 1 FROM rdsexport_runs r JOIN rdsexport_nodes nd ON nd.instance = r.instance
			WHERE r.account_id = rg.account_id AND r.identifier = rg.identifier AND r.attempt = rg.run_attempt
				AND nd.heartbeat_at > now() - make_interval(secs => $1))`, n.p.LeaseTTL.Seconds())
	if err != nil {
		return err
	}
	type lost struct {
		a    rangeArgs
		inst string
	}
	var all []lost
	for rows.Next() {
		var l lost
		if err := rows.Scan(&l.a.AccountID, &l.a.Identifier, &l.a.RunAttempt, &l.a.Table, &l.a.Batch, &l.a.Range, &l.a.Attempt, &l.inst); err != nil {
			rows.Close()
			return err
		}
		all = append(all, l)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, l := range all {
		err := n.requeueRange(ctx, l.a, l.inst, "reading again a range of a lost node")
		if err != nil {
			return err
		}
	}
	return nil
}

// requeueRange takes range a from reader inst, if it still reads it, and
// queues its next read, logging why.
func (n *Node) requeueRange(ctx context.Context, a rangeArgs, inst, why string) error {
	return pgx.BeginFunc(ctx, n.p.Pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE rdsexport_ranges SET state = 'queued', attempt = attempt + 1, instance = NULL, job_id = NULL,
			bytes = 0, rows = 0 WHERE `+rangeKeyWhere+` AND attempt = $7 AND instance = $8 AND state = 'running'`,
			a.AccountID, a.Identifier, a.RunAttempt, a.Table, a.Batch, a.Range, a.Attempt, inst)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		next := a
		next.Attempt++
		if _, err := n.river.InsertTx(ctx, tx, next, nil); err != nil {
			return err
		}
		n.logger.Warn(why, "task_id", a.Identifier, "table", a.Table, "batch", a.Batch, "range", a.Range, "attempt", next.Attempt)
		return nil
	})
}
