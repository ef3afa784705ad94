package pgtaskstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rdsexport/rdsexport/internal/export"
)

// taskColumns is the column list every task query returns, in scanTask
// order.
const taskColumns = `seq, account_id, identifier, region, source_arn, source_type, export_only,
	s3_bucket, s3_prefix, iam_role_arn, kms_key_id, status,
	snapshot_time, task_start_time, task_end_time,
	percent_progress, extracted_bytes, failure_cause, warning_message`

// Names of the unique indexes whose violation CreateTask reports.
const (
	indexTaskIdentifier   = "rdsexport_export_tasks_account_identifier"
	indexTaskActiveSource = "rdsexport_export_tasks_active_source"
)

// activeStatuses is export.ActiveStatuses as a query argument.
var activeStatuses = statusStrings(export.ActiveStatuses())

// maxAttempts bounds the retries of a compare-and-set whose outcome another
// node changed between its two statements.
const maxAttempts = 5

// CreateTask inserts t with status STARTING and sets t.Status and t.Seq.
// The unique indexes decide, in one INSERT, that no task of the account has
// t.Identifier (any status) and that no active task of the account reads
// the same source (export.SourceKey of its SourceArn, so ARNs that differ
// in region, partition or case are one source); either conflict returns an
// *export.Error with code ExportTaskAlreadyExists and leaves t unchanged.
// The INSERT runs under the account's lock (lockAccount), so the account's
// tasks commit in Seq order. Other errors come from PostgreSQL.
func (s *Store) CreateTask(ctx context.Context, t *export.Task) error {
	key := export.SourceKey(t.SourceArn)
	for range maxAttempts {
		// One statement, its own transaction: the CTE takes the account's
		// lock (a volatile function, so it is run, once, before the row it
		// yields is inserted and its seq drawn), and commit releases it.
		var seq int64
		err := s.pool.QueryRow(ctx, `WITH lock AS (SELECT pg_advisory_xact_lock($20, hashtext($1)))
			INSERT INTO rdsexport_export_tasks (
				account_id, identifier, region, source_arn, source_key, source_type, export_only,
				s3_bucket, s3_prefix, iam_role_arn, kms_key_id, status,
				snapshot_time, task_start_time, task_end_time,
				percent_progress, extracted_bytes, failure_cause, warning_message
			) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19 FROM lock
			RETURNING seq`,
			t.AccountID, t.Identifier, t.Region, t.SourceArn, key, string(t.SourceType), cloneStrings(t.ExportOnly),
			t.S3Bucket, t.S3Prefix, t.IamRoleArn, t.KmsKeyID, string(export.StatusStarting),
			encodeTime(t.SnapshotTime), encodeTime(t.TaskStartTime), encodeTime(t.TaskEndTime),
			t.PercentProgress, t.ExtractedBytes, t.FailureCause, t.WarningMessage, lockClassAccount,
		).Scan(&seq)
		if err == nil {
			t.Seq = seq
			t.Status = export.StatusStarting
			return nil
		}
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
			return fmt.Errorf("create task %s: %w", t.Identifier, err)
		}
		if pgErr.ConstraintName == indexTaskIdentifier {
			return export.TaskAlreadyExists(t.Identifier)
		}
		// The source is taken, and maybe the identifier too: PostgreSQL
		// reports the first index it checked. The identifier wins, as in
		// sqlitetaskstore; else name the task that holds the source. It
		// may have ended since; then insert again.
		var id, arn string
		err = s.pool.QueryRow(ctx, `SELECT identifier, source_arn FROM rdsexport_export_tasks
			WHERE account_id = $1 AND (identifier = $2 OR (source_key = $3 AND status = ANY($4)))
			ORDER BY identifier = $2 DESC LIMIT 1`,
			t.AccountID, t.Identifier, key, activeStatuses).Scan(&id, &arn)
		switch {
		case err == nil && id == t.Identifier:
			return export.TaskAlreadyExists(t.Identifier)
		case err == nil:
			// spec §6.5: one active export per source; the fault's model text.
			return export.Errorf(export.CodeExportTaskAlreadyExists,
				"You can't start an export task that's already running: export task %s is exporting %s.", id, arn)
		case !errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("create task %s: %w", t.Identifier, err)
		}
	}
	return fmt.Errorf("create task %s: the source's active task keeps changing", t.Identifier)
}

// GetTask returns the task, or an *export.Error with code ExportTaskNotFound
// when the account has no task with that identifier. Other errors come from
// PostgreSQL.
func (s *Store) GetTask(ctx context.Context, accountID, identifier string) (*export.Task, error) {
	t, err := scanTask(s.pool.QueryRow(ctx,
		`SELECT `+taskColumns+` FROM rdsexport_export_tasks WHERE account_id = $1 AND identifier = $2`,
		accountID, identifier))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, export.TaskNotFound(identifier)
	}
	if err != nil {
		return nil, fmt.Errorf("get task %s: %w", identifier, err)
	}
	return t, nil
}

// ListTasks returns the tasks of f.AccountID (every account when empty)
// matching f, ordered by Seq, after f.AfterSeq, at most f.Limit of them (no
// limit when f.Limit <= 0). Errors come from PostgreSQL.
func (s *Store) ListTasks(ctx context.Context, f export.TaskFilter) ([]*export.Task, error) {
	query, args := listQuery(f)
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*export.Task, error) { return scanTask(r) })
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	return out, nil
}

// listQuery builds the SELECT for ListTasks. A filter given as a list is
// one array parameter, so that the text of the query, and its prepared
// statement, depend only on which filters are set.
func listQuery(f export.TaskFilter) (string, []any) {
	var b strings.Builder
	args := []any{f.AfterSeq}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	b.WriteString(`SELECT ` + taskColumns + ` FROM rdsexport_export_tasks WHERE seq > $1`)
	if f.AccountID != "" {
		b.WriteString(` AND account_id = ` + arg(f.AccountID))
	}
	in := func(col string, values []string) {
		switch len(values) {
		case 0:
		case 1:
			b.WriteString(" AND " + col + " = " + arg(values[0]))
		default:
			b.WriteString(" AND " + col + " = ANY(" + arg(values) + ")")
		}
	}
	in("identifier", f.Identifiers)
	in("source_arn", f.SourceArns)
	in("s3_bucket", f.Buckets)
	if len(f.Statuses) > 0 && !slices.ContainsFunc(f.Statuses, func(st export.Status) bool { return !st.Active() }) {
		// Lets the planner use the partial index of active tasks.
		b.WriteString(" AND status IN ('STARTING', 'IN_PROGRESS', 'CANCELING')")
	}
	in("status", statusStrings(f.Statuses))
	if f.SourceType != nil {
		b.WriteString(" AND source_type = " + arg(string(*f.SourceType)))
	}
	b.WriteString(" ORDER BY seq")
	if f.Limit > 0 {
		b.WriteString(" LIMIT " + arg(f.Limit))
	}
	return b.String(), args
}

// Transition moves the task to status to if its status is one of from,
// applying u in the same UPDATE, and returns the updated task. A move to a
// terminal status records the task's event (export.TaskEvent, dated
// TaskEndTime or, without one, now) in the same transaction.
//
// When the task's status is not in from it returns the current task and an
// error wrapping export.ErrStatusConflict. It returns an *export.Error with
// code ExportTaskNotFound for an unknown task, and a plain error, touching
// nothing, when from is empty or some from -> to is not a legal move
// (export.CanTransition). Other errors come from PostgreSQL.
func (s *Store) Transition(ctx context.Context, accountID, identifier string, from []export.Status, to export.Status, u export.TaskUpdate) (*export.Task, error) {
	if len(from) == 0 {
		return nil, fmt.Errorf("transition task %s: no from status", identifier)
	}
	for _, f := range from {
		if !export.CanTransition(f, to) {
			return nil, fmt.Errorf("transition task %s: illegal move %s -> %s", identifier, f, to)
		}
	}
	args := []any{string(to), accountID, identifier, statusStrings(from)}
	set := updateSet(u, &args)
	query := `UPDATE rdsexport_export_tasks SET status = $1` + set +
		` WHERE account_id = $2 AND identifier = $3 AND status = ANY($4) RETURNING ` + taskColumns

	for range maxAttempts {
		// At READ COMMITTED the WHERE is evaluated again on the row as a
		// concurrent transaction left it, so of two nodes moving the same
		// task only one matches.
		t, err := s.transition(ctx, accountID, query, args, to)
		if err == nil {
			return t, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("transition task %s to %s: %w", identifier, to, err)
		}
		cur, err := s.GetTask(ctx, accountID, identifier)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(from, cur.Status) {
			return cur, fmt.Errorf("transition task %s from %v to %s: status is %s: %w",
				identifier, from, to, cur.Status, export.ErrStatusConflict)
		}
		// Another node moved the task into from between the two
		// statements; try the update again.
	}
	return nil, fmt.Errorf("transition task %s to %s: status keeps changing", identifier, to)
}

// transition runs the UPDATE of Transition. A move to a terminal status
// records the task's event in the same transaction, which takes the
// account's lock first (lockAccount); other moves are the UPDATE alone.
func (s *Store) transition(ctx context.Context, accountID, query string, args []any, to export.Status) (*export.Task, error) {
	if !to.Terminal() {
		return scanTask(s.pool.QueryRow(ctx, query, args...))
	}
	var t *export.Task
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockAccount(ctx, tx, accountID); err != nil {
			return err
		}
		var err error
		if t, err = scanTask(tx.QueryRow(ctx, query, args...)); err != nil {
			return err
		}
		at := t.TaskEndTime
		if at.IsZero() {
			at = s.now()
		}
		return insertEvent(ctx, tx, export.TaskEvent(t, at))
	})
	return t, err
}

// UpdateProgress applies the non-nil fields of u to the task without
// changing its status. It does nothing and returns nil when the task is
// terminal. It returns an *export.Error with code ExportTaskNotFound for an
// unknown task; other errors come from PostgreSQL.
func (s *Store) UpdateProgress(ctx context.Context, accountID, identifier string, u export.TaskUpdate) error {
	args := []any{accountID, identifier, activeStatuses}
	if set := updateSet(u, &args); set != "" {
		tag, err := s.pool.Exec(ctx, `UPDATE rdsexport_export_tasks SET `+strings.TrimPrefix(set, ", ")+
			` WHERE account_id = $1 AND identifier = $2 AND status = ANY($3)`, args...)
		if err != nil {
			return fmt.Errorf("update progress of task %s: %w", identifier, err)
		}
		if tag.RowsAffected() > 0 {
			return nil
		}
	}
	// Nothing updated: terminal (fine) or missing (not found).
	var one int
	err := s.pool.QueryRow(ctx, `SELECT 1 FROM rdsexport_export_tasks WHERE account_id = $1 AND identifier = $2`,
		accountID, identifier).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return export.TaskNotFound(identifier)
	}
	if err != nil {
		return fmt.Errorf("update progress of task %s: %w", identifier, err)
	}
	return nil
}

// updateSet returns ", col = $n" for each non-nil field of u, appending
// the values to args.
func updateSet(u export.TaskUpdate, args *[]any) string {
	var b strings.Builder
	add := func(col string, v any) {
		*args = append(*args, v)
		b.WriteString(", " + col + " = $" + strconv.Itoa(len(*args)))
	}
	if u.PercentProgress != nil {
		add("percent_progress", *u.PercentProgress)
	}
	if u.ExtractedBytes != nil {
		add("extracted_bytes", *u.ExtractedBytes)
	}
	if u.FailureCause != nil {
		add("failure_cause", *u.FailureCause)
	}
	if u.WarningMessage != nil {
		add("warning_message", *u.WarningMessage)
	}
	if u.SnapshotTime != nil {
		add("snapshot_time", encodeTime(*u.SnapshotTime))
	}
	if u.TaskEndTime != nil {
		add("task_end_time", encodeTime(*u.TaskEndTime))
	}
	return b.String()
}

func scanTask(r pgx.Row) (*export.Task, error) {
	var (
		t                            export.Task
		sourceType, status           string
		snapshotTime, start, endTime *time.Time
	)
	err := r.Scan(&t.Seq, &t.AccountID, &t.Identifier, &t.Region, &t.SourceArn, &sourceType, &t.ExportOnly,
		&t.S3Bucket, &t.S3Prefix, &t.IamRoleArn, &t.KmsKeyID, &status,
		&snapshotTime, &start, &endTime,
		&t.PercentProgress, &t.ExtractedBytes, &t.FailureCause, &t.WarningMessage)
	if err != nil {
		return nil, err
	}
	t.SourceType = export.SourceType(sourceType)
	t.Status = export.Status(status)
	t.SnapshotTime = decodeTime(snapshotTime)
	t.TaskStartTime = decodeTime(start)
	t.TaskEndTime = decodeTime(endTime)
	return &t, nil
}

// statusStrings is statuses as the text columns hold them.
func statusStrings[S ~string](sts []S) []string {
	out := make([]string, len(sts))
	for i, st := range sts {
		out[i] = string(st)
	}
	return out
}

// cloneStrings keeps nil (NULL: none given) apart from an empty list ('{}').
func cloneStrings(v []string) []string {
	if v == nil {
		return nil
	}
	return append([]string{}, v...)
}

// encodeTime stores the zero time as NULL; PostgreSQL keeps microseconds.
func encodeTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func decodeTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}
