package export

import (
	"context"
	"time"
)

// Store keeps export tasks durable. Implementations must be safe for
// concurrent use by several goroutines and, for shared stores, several
// processes.
//
// Not-found is reported as an *Error with code ExportTaskNotFound;
// conflicts with ExportTaskAlreadyExists; a failed compare-and-set with
// ErrStatusConflict (wrapped). Other errors are infrastructure failures.
type Store interface {
	// CreateTask inserts t with status STARTING and assigns t.Seq. In one
	// atomic step it fails with ExportTaskAlreadyExists when a task with the
	// same (AccountID, Identifier) exists in any status, or when another task
	// of the same account and SourceArn is active (spec §6.5).
	CreateTask(ctx context.Context, t *Task) error

	// GetTask returns the task, or ExportTaskNotFound.
	GetTask(ctx context.Context, accountID, identifier string) (*Task, error)

	// ListTasks returns the tasks matching f ordered by Seq ascending,
	// starting after f.AfterSeq, at most f.Limit of them (0: no limit).
	ListTasks(ctx context.Context, f TaskFilter) ([]*Task, error)

	// Transition moves the task to status `to` only if its current status is
	// one of `from`, applying u in the same step, and returns the updated
	// task. It is the only way a status changes. When the current status is
	// not in from, it returns the current task and an error wrapping
	// ErrStatusConflict. Callers must pass only legal moves (CanTransition).
	Transition(ctx context.Context, accountID, identifier string, from []Status, to Status, u TaskUpdate) (*Task, error)

	// UpdateProgress records progress of a running task without changing its
	// status. It does nothing (and returns nil) when the task is terminal.
	UpdateProgress(ctx context.Context, accountID, identifier string, u TaskUpdate) error

	// Close releases the store's resources.
	Close() error
}

// TaskFilter selects tasks for ListTasks. Nil or empty fields match all;
// within a slice any value matches; fields combine with AND.
type TaskFilter struct {
	AccountID   string // "" means every account (the engine's view)
	Identifiers []string
	SourceArns  []string
	Buckets     []string
	Statuses    []Status
	SourceType  *SourceType
	AfterSeq    int64
	Limit       int
}

// TaskUpdate carries the fields written together with a transition or a
// progress update. Nil fields are left unchanged.
type TaskUpdate struct {
	PercentProgress *int
	ExtractedBytes  *int64
	FailureCause    *string
	WarningMessage  *string
	SnapshotTime    *time.Time
	TaskEndTime     *time.Time
}
