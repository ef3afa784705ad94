package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/rdsexport/rdsexport/internal/export"
)

// reapLoop runs reap every ReapInterval and on Wake. Every node reaps: each
// step is a compare-and-set, so nodes racing for the same work are harmless,
// and no election has to finish before a dead node's work moves on.
func (n *Node) reapLoop(ctx context.Context) {
	tick := time.NewTicker(n.p.ReapInterval)
	defer tick.Stop()
	for {
		if err := n.reap(ctx); err != nil && ctx.Err() == nil {
			n.logger.Warn("reap", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-n.wake:
		case <-tick.C:
		}
	}
}

type run struct {
	attempt  int
	instance *string
	alive    bool
}

// reap keeps every active task moving:
//   - a STARTING task has a job (a job lost with a node, or never queued
//     because the node died after creating the task, is queued again);
//   - the run of a dead instance is released and queued again;
//   - an IN_PROGRESS task without a run (its claim was lost) is queued;
//   - a CANCELING task that nothing runs becomes CANCELED;
//   - the runs of ended tasks are forgotten.
func (n *Node) reap(ctx context.Context) error {
	runs, err := n.loadRuns(ctx)
	if err != nil {
		return err
	}
	tasks, err := n.p.Store.ListTasks(ctx, export.TaskFilter{Statuses: export.ActiveStatuses()})
	if err != nil {
		return err
	}
	waiting, err := n.waitingJobs(ctx)
	if err != nil {
		return err
	}
	// A job fetched by a node that then lost the database stays "running"
	// in River's table until River rescues it (an hour later): a task
	// that has waited longer than lostJobAfter without a job waiting for
	// a worker gets one more, at most one per lostJobAfter.
	retry := time.Now().Unix() / int64(lostJobAfter.Seconds())
	var starting []river.InsertManyParams
	for _, t := range tasks {
		key := runKey{t.AccountID, t.Identifier}
		r, hasRun := runs[key]
		delete(runs, key)
		switch t.Status {
		case export.StatusStarting:
			args := exportArgs{AccountID: t.AccountID, Identifier: t.Identifier}
			if !waiting[key] && time.Since(t.TaskStartTime) > lostJobAfter {
				args.Retry = retry
			}
			starting = append(starting, river.InsertManyParams{Args: args})
		case export.StatusInProgress:
			switch {
			case hasRun && r.instance == nil && !waiting[key]:
				starting = append(starting, river.InsertManyParams{Args: exportArgs{
					AccountID: t.AccountID, Identifier: t.Identifier, Attempt: r.attempt, Retry: retry}})
			case !hasRun:
				n.requeue(ctx, t, 1, nil, `INSERT INTO rdsexport_runs (account_id, identifier, attempt) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`)
			case r.instance != nil && !r.alive:
				n.requeue(ctx, t, r.attempt, r.instance, `UPDATE rdsexport_runs SET instance = NULL, job_id = NULL
					WHERE account_id = $1 AND identifier = $2 AND attempt = $3 AND instance = $4`)
			}
		case export.StatusCanceling:
			if hasRun && r.instance != nil && r.alive {
				continue // its runner ends it
			}
			if _, err := n.eng.EndOrphan(ctx, t); err != nil {
				n.logger.Warn("end canceled export", "task_id", t.Identifier, "err", err)
			}
		}
	}
	if len(starting) > 0 {
		if _, err := n.river.InsertMany(ctx, starting); err != nil {
			return err
		}
	}
	// What is left are runs of tasks no longer active.
	for key, r := range runs {
		if _, err := n.p.Pool.Exec(ctx, `DELETE FROM rdsexport_runs WHERE account_id = $1 AND identifier = $2 AND attempt = $3`,
			key.account, key.id, r.attempt); err != nil {
			return err
		}
	}
	if err := n.reapRanges(ctx); err != nil {
		return err
	}
	if err := n.reapCopies(ctx); err != nil {
		return err
	}
	// The ranges of tasks without a run are of tasks that ended.
	if _, err := n.p.Pool.Exec(ctx, `DELETE FROM rdsexport_ranges rg WHERE NOT EXISTS (SELECT 1 FROM rdsexport_runs r
		WHERE r.account_id = rg.account_id AND r.identifier = rg.identifier)`); err != nil {
		return err
	}
	_, err = n.p.Pool.Exec(ctx, `DELETE FROM rdsexport_nodes WHERE heartbeat_at < now() - interval '1 day'`)
	return err
}

// lostJobAfter is how long a task may wait without a job that waits for
// a worker before it is given another.
const lostJobAfter = 30 * time.Second

// waitingJobs returns the tasks that have an export job waiting for a
// worker (not yet fetched, snoozed or to be retried).
func (n *Node) waitingJobs(ctx context.Context) (map[runKey]bool, error) {
	rows, err := n.p.Pool.Query(ctx, `SELECT args->>'account_id', args->>'identifier' FROM river_job
		WHERE kind = $1 AND state IN ('available', 'scheduled', 'retryable', 'pending')`, exportArgs{}.Kind())
	if err != nil {
		return nil, err
	}
	waiting := map[runKey]bool{}
	for rows.Next() {
		var k runKey
		if err := rows.Scan(&k.account, &k.id); err != nil {
			rows.Close()
			return nil, err
		}
		waiting[k] = true
	}
	return waiting, rows.Err()
}

// loadRuns reads every run, with whether its instance's lease holds by the
// database's clock.
func (n *Node) loadRuns(ctx context.Context) (map[runKey]run, error) {
	rows, err := n.p.Pool.Query(ctx, `
		SELECT r.account_id, r.identifier, r.attempt, r.instance,
		       EXISTS (SELECT 1 FROM rdsexport_nodes nd WHERE nd.instance = r.instance
		               AND nd.heartbeat_at > now() - make_interval(secs => $1))
		FROM rdsexport_runs r`, n.p.LeaseTTL.Seconds())
	if err != nil {
		return nil, err
	}
	runs := map[runKey]run{}
	for rows.Next() {
		var k runKey
		var r run
		if err := rows.Scan(&k.account, &k.id, &r.attempt, &r.instance, &r.alive); err != nil {
			rows.Close()
			return nil, err
		}
		runs[k] = r
	}
	return runs, rows.Err()
}

// requeue releases the run of t (the statement given, a compare-and-set)
// and queues a job to take it over, in one transaction.
func (n *Node) requeue(ctx context.Context, t *export.Task, attempt int, dead *string, stmt string) {
	err := pgx.BeginFunc(ctx, n.p.Pool, func(tx pgx.Tx) error {
		args := []any{t.AccountID, t.Identifier, attempt}
		if dead != nil {
			args = append(args, *dead)
		}
		tag, err := tx.Exec(ctx, stmt, args...)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		_, err = n.river.InsertTx(ctx, tx, exportArgs{AccountID: t.AccountID, Identifier: t.Identifier, Attempt: attempt}, nil)
		if err == nil {
			n.logger.Warn("taking over export of a lost node", "task_id", t.Identifier, "attempt", attempt)
		}
		return err
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		n.logger.Warn("requeue export", "task_id", t.Identifier, "err", err)
	}
}
