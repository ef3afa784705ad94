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
	var starting []river.InsertManyParams
	for _, t := range tasks {
		key := runKey{t.AccountID, t.Identifier}
		r, hasRun := runs[key]
		delete(runs, key)
		switch t.Status {
		case export.StatusStarting:
			starting = append(starting, river.InsertManyParams{Args: exportArgs{AccountID: t.AccountID, Identifier: t.Identifier}})
		case export.StatusInProgress:
			switch {
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
	_, err = n.p.Pool.Exec(ctx, `DELETE FROM rdsexport_nodes WHERE heartbeat_at < now() - interval '1 day'`)
	return err
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
