package sqlitetaskstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rdsexport/rdsexport/internal/export"
)

// taskColumns is the column list every query returns, in scanTask order.
const taskColumns = `seq, account_id, identifier, region, source_arn, source_type, export_only,
	s3_bucket, s3_prefix, iam_role_arn, kms_key_id, status,
	snapshot_time, task_start_time, task_end_time,
	percent_progress, extracted_bytes, failure_cause, warning_message`

// maxTransitionAttempts bounds the retries of Transition when the status it
// read back is one of from again, which only another process can cause.
const maxTransitionAttempts = 5

// CreateTask inserts t with status STARTING and sets t.Status and t.Seq.
// In one BEGIN IMMEDIATE transaction it checks that no task of the account
// has t.Identifier (any status) and that no active task of the account
// reads the same source (export.SourceKey of its SourceArn, so ARNs that
// differ in region, partition or case are one source); either conflict
// returns an *export.Error with code
// ExportTaskAlreadyExists and leaves t unchanged. Other errors come from
// SQLite.
func (s *Store) CreateTask(ctx context.Context, t *export.Task) error {
	exportOnly, err := encodeExportOnly(t.ExportOnly)
	if err != nil {
		return fmt.Errorf("create task %s: %w", t.Identifier, err)
	}

	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create task %s: %w", t.Identifier, err)
	}
	defer func() { _ = tx.Rollback() }()

	var one int
	err = tx.QueryRowContext(ctx,
		`SELECT 1 FROM export_tasks WHERE account_id = ? AND identifier = ?`,
		t.AccountID, t.Identifier).Scan(&one)
	switch {
	case err == nil:
		return export.TaskAlreadyExists(t.Identifier)
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("create task %s: %w", t.Identifier, err)
	}

	running, err := activeTaskOfSource(ctx, tx, t.AccountID, export.SourceKey(t.SourceArn))
	if err != nil {
		return fmt.Errorf("create task %s: %w", t.Identifier, err)
	}
	if running != nil {
		// spec §6.5: one active export per source; the fault's model text.
		return export.Errorf(export.CodeExportTaskAlreadyExists,
			"You can't start an export task that's already running: export task %s is exporting %s.", running.id, running.arn)
	}

	var seq int64
	err = tx.QueryRowContext(ctx, `INSERT INTO export_tasks (
			account_id, identifier, region, source_arn, source_type, export_only,
			s3_bucket, s3_prefix, iam_role_arn, kms_key_id, status,
			snapshot_time, task_start_time, task_end_time,
			percent_progress, extracted_bytes, failure_cause, warning_message
		) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		RETURNING seq`,
		t.AccountID, t.Identifier, t.Region, t.SourceArn, string(t.SourceType), exportOnly,
		t.S3Bucket, t.S3Prefix, t.IamRoleArn, t.KmsKeyID, string(export.StatusStarting),
		encodeTime(t.SnapshotTime), encodeTime(t.TaskStartTime), encodeTime(t.TaskEndTime),
		t.PercentProgress, t.ExtractedBytes, t.FailureCause, t.WarningMessage,
	).Scan(&seq)
	if err != nil {
		return fmt.Errorf("create task %s: %w", t.Identifier, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create task %s: %w", t.Identifier, err)
	}
	t.Seq = seq
	t.Status = export.StatusStarting
	return nil
}

// activeTask names a task found by activeTaskOfSource.
type activeTask struct{ id, arn string }

// activeTaskOfSource returns an active task of the account whose SourceArn
// has the source key key, or nil. The key is computed here rather than
// stored so that tasks written before it existed compare too; the active
// tasks of one account are few. They are read through the status index:
// without statistics the planner walks the account's seq index instead,
// every task the account ever had (see listQuery), inside the write
// transaction of every StartExportTask.
func activeTaskOfSource(ctx context.Context, tx *sql.Tx, accountID, key string) (*activeTask, error) {
	active := export.ActiveStatuses()
	args := []any{accountID}
	for _, st := range active {
		args = append(args, string(st))
	}
	rows, err := tx.QueryContext(ctx, activeOfAccountQuery(len(active)), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var a activeTask
		if err := rows.Scan(&a.id, &a.arn); err != nil {
			return nil, err
		}
		if export.SourceKey(a.arn) == key {
			return &a, nil
		}
	}
	return nil, rows.Err()
}

// activeOfAccountQuery selects the identifier and SourceArn of an
// account's tasks in n statuses.
func activeOfAccountQuery(n int) string {
	return `SELECT identifier, source_arn FROM export_tasks INDEXED BY export_tasks_account_status
		WHERE account_id = ? AND status IN (` + placeholders(n) + `) ORDER BY seq`
}

// GetTask returns the task, or an *export.Error with code ExportTaskNotFound
// when the account has no task with that identifier. Other errors come from
// SQLite.
func (s *Store) GetTask(ctx context.Context, accountID, identifier string) (*export.Task, error) {
	return s.getTask(ctx, s.read, accountID, identifier)
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Store) getTask(ctx context.Context, db queryRower, accountID, identifier string) (*export.Task, error) {
	t, err := scanTask(db.QueryRowContext(ctx,
		`SELECT `+taskColumns+` FROM export_tasks WHERE account_id = ? AND identifier = ?`,
		accountID, identifier))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, export.TaskNotFound(identifier)
	}
	if err != nil {
		return nil, fmt.Errorf("get task %s: %w", identifier, err)
	}
	return t, nil
}

// ListTasks returns the tasks of f.AccountID (every account when empty)
// matching f, ordered by Seq,
// after f.AfterSeq, at most f.Limit of them (no limit when f.Limit <= 0).
// Errors come from SQLite.
func (s *Store) ListTasks(ctx context.Context, f export.TaskFilter) ([]*export.Task, error) {
	query, args := listQuery(f)
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	defer rows.Close()
	var out []*export.Task
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, fmt.Errorf("list tasks: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	return out, nil
}

// listQuery builds the SELECT for ListTasks.
func listQuery(f export.TaskFilter) (string, []any) {
	var b strings.Builder
	b.WriteString(`SELECT ` + taskColumns + ` FROM export_tasks`)
	// Without statistics the planner prefers walking the account in seq
	// order, which avoids a sort but reads every task of the account when
	// few match. Two filters are known to match few rows: identifiers (at
	// most one task each) and active statuses (only running tasks, while
	// finished ones pile up). For those, read the matches and sort them.
	allActive := len(f.Statuses) > 0 && !slices.ContainsFunc(f.Statuses, func(st export.Status) bool { return !st.Active() })
	switch {
	case f.AccountID == "" && allActive:
		b.WriteString(` INDEXED BY export_tasks_status`)
	case f.AccountID == "":
	case len(f.Identifiers) > 0:
		b.WriteString(` INDEXED BY export_tasks_account_identifier`)
	case len(f.Statuses) > 1 && allActive:
		b.WriteString(` INDEXED BY export_tasks_account_status`)
	}
	b.WriteString(` WHERE seq > ?`)
	args := []any{f.AfterSeq}
	if f.AccountID != "" {
		b.WriteString(` AND account_id = ?`)
		args = append(args, f.AccountID)
	}
	in := func(col string, values []string) {
		if len(values) == 0 {
			return
		}
		b.WriteString(" AND " + col + " IN (" + placeholders(len(values)) + ")")
		for _, v := range values {
			args = append(args, v)
		}
	}
	in("identifier", f.Identifiers)
	in("source_arn", f.SourceArns)
	in("s3_bucket", f.Buckets)
	statuses := make([]string, len(f.Statuses))
	for i, st := range f.Statuses {
		statuses[i] = string(st)
	}
	in("status", statuses)
	if f.SourceType != nil {
		b.WriteString(" AND source_type = ?")
		args = append(args, string(*f.SourceType))
	}
	b.WriteString(" ORDER BY seq")
	if f.Limit > 0 {
		b.WriteString(" LIMIT ?")
		args = append(args, f.Limit)
	}

	return b.String(), args
}

// Transition moves the task to status to if its status is one of from,
// applying u in the same UPDATE, and returns the updated task.
//
// When the task's status is not in from it returns the current task and an
// error wrapping export.ErrStatusConflict. It returns an *export.Error with
// code ExportTaskNotFound for an unknown task, and a plain error, touching
// nothing, when some from -> to is not a legal move (export.CanTransition).
// Other errors come from SQLite.
func (s *Store) Transition(ctx context.Context, accountID, identifier string, from []export.Status, to export.Status, u export.TaskUpdate) (*export.Task, error) {
	for _, f := range from {
		if !export.CanTransition(f, to) {
			return nil, fmt.Errorf("transition task %s: illegal move %s -> %s", identifier, f, to)
		}
	}
	if len(from) == 0 {
		return nil, fmt.Errorf("transition task %s: no from status", identifier)
	}

	set, setArgs := updateSet(u)
	query := `UPDATE export_tasks SET status = ?` + set +
		` WHERE account_id = ? AND identifier = ? AND status IN (` + placeholders(len(from)) + `)
		RETURNING ` + taskColumns
	args := append([]any{string(to)}, setArgs...)
	args = append(args, accountID, identifier)
	for _, f := range from {
		args = append(args, string(f))
	}

	for range maxTransitionAttempts {
		// The event of a terminal status is recorded with the change.
		var t *export.Task
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			var err error
			if t, err = scanTask(tx.QueryRowContext(ctx, query, args...)); err != nil {
				return err
			}
			at := t.TaskEndTime
			if at.IsZero() {
				at = s.now()
			}
			return insertEvent(ctx, tx, export.TaskEvent(t, at))
		})
		if err == nil {
			return t, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("transition task %s to %s: %w", identifier, to, err)
		}
		// No row changed: the task is missing or in another status.
		cur, err := s.getTask(ctx, s.write, accountID, identifier)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(from, cur.Status) {
			return cur, fmt.Errorf("transition task %s from %v to %s: status is %s: %w",
				identifier, from, to, cur.Status, export.ErrStatusConflict)
		}
		// Another process moved the task into from between the two
		// statements; try the update again.
	}
	return nil, fmt.Errorf("transition task %s to %s: status keeps changing", identifier, to)
}

// UpdateProgress applies the non-nil fields of u to the task without
// changing its status. It does nothing and returns nil when the task is
// terminal. It returns an *export.Error with code ExportTaskNotFound for an
// unknown task; other errors come from SQLite.
func (s *Store) UpdateProgress(ctx context.Context, accountID, identifier string, u export.TaskUpdate) error {
	set, args := updateSet(u)
	if set != "" {
		active := export.ActiveStatuses()
		args = append(args, accountID, identifier)
		for _, st := range active {
			args = append(args, string(st))
		}
		res, err := s.write.ExecContext(ctx, `UPDATE export_tasks SET `+strings.TrimPrefix(set, ", ")+
			` WHERE account_id = ? AND identifier = ? AND status IN (`+placeholders(len(active))+`)`, args...)
		if err != nil {
			return fmt.Errorf("update progress of task %s: %w", identifier, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("update progress of task %s: %w", identifier, err)
		}
		if n > 0 {
			return nil
		}
	}
	// Nothing updated: terminal (fine) or missing (not found).
	var one int
	err := s.read.QueryRowContext(ctx,
		`SELECT 1 FROM export_tasks WHERE account_id = ? AND identifier = ?`, accountID, identifier).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return export.TaskNotFound(identifier)
	}
	if err != nil {
		return fmt.Errorf("update progress of task %s: %w", identifier, err)
	}
	return nil
}

// updateSet returns ", col = ?" for each non-nil field of u, and the values.
func updateSet(u export.TaskUpdate) (string, []any) {
	var b strings.Builder
	var args []any
	add := func(col string, v any) {
		b.WriteString(", " + col + " = ?")
		args = append(args, v)
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
	return b.String(), args
}

type rowScanner interface {
	Scan(dest ...any) error
}

func scanTask(r rowScanner) (*export.Task, error) {
	var (
		t                            export.Task
		sourceType, status           string
		exportOnly                   sql.NullString
		snapshotTime, start, endTime sql.NullInt64
	)
	err := r.Scan(&t.Seq, &t.AccountID, &t.Identifier, &t.Region, &t.SourceArn, &sourceType, &exportOnly,
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
	if exportOnly.Valid {
		t.ExportOnly = []string{}
		if err := json.Unmarshal([]byte(exportOnly.String), &t.ExportOnly); err != nil {
			return nil, fmt.Errorf("decode export_only of task %s: %w", t.Identifier, err)
		}
	}
	return &t, nil
}

// encodeExportOnly keeps nil (none given) apart from an empty list.
func encodeExportOnly(v []string) (any, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode export only: %w", err)
	}
	return string(b), nil
}

// encodeTime stores Unix microseconds, the precision PostgreSQL keeps too,
// and NULL for the zero time.
func encodeTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

func decodeTime(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMicro(v.Int64).UTC()
}

func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}
