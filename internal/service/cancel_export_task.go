package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/rdsexport/rdsexport/internal/export"
)

// CancelExportTask moves a STARTING or IN_PROGRESS task to CANCELING,
// tells the runner, and returns the task as it now is (spec §3.3, §6.4).
// The runner ends it CANCELED; objects already written stay in S3.
//
// Errors (*export.Error): MissingParameter when the identifier is empty;
// ExportTaskNotFound when the caller has no such task;
// InvalidExportTaskStateFault when the task is CANCELING, CANCELED,
// COMPLETE or FAILED. Store errors are returned wrapped; ErrNoCaller when
// ctx carries no caller.
func (s *Service) CancelExportTask(ctx context.Context, id string) (*export.Task, error) {
	caller, err := callerFrom(ctx)
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, missingParameter("ExportTaskIdentifier")
	}
	from := []export.Status{export.StatusStarting, export.StatusInProgress}
	t, err := s.store.Transition(ctx, caller.AccountID, id, from, export.StatusCanceling, export.TaskUpdate{})
	switch {
	case err == nil:
	case errors.Is(err, export.ErrStatusConflict):
		if t == nil {
			if t, err = s.store.GetTask(ctx, caller.AccountID, id); err != nil {
				return nil, storeError(err, "get export task %s", id)
			}
		}
		return nil, export.Errorf(export.CodeInvalidExportTaskState,
			"Cannot cancel export task %s because it is in state %s.", id, t.Status)
	default:
		return nil, storeError(err, "cancel export task %s", id)
	}
	s.logger.InfoContext(ctx, "export task canceling", "task_id", id, "account_id", caller.AccountID)
	if s.runner != nil {
		s.runner.CancelTask(caller.AccountID, id)
	}
	return t, nil
}

// storeError passes the store's *export.Error (such as ExportTaskNotFound)
// through unchanged and wraps anything else with context.
func storeError(err error, format string, args ...any) error {
	var e *export.Error
	if errors.As(err, &e) {
		return err
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}
