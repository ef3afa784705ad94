package service_test

import (
	"testing"

	"github.com/rdsexport/rdsexport/internal/export"
)

func TestService_CancelExportTask(t *testing.T) {
	t.Parallel()
	cases := []struct {
		from export.Status
		code string // "" means success
	}{
		{export.StatusStarting, ""},
		{export.StatusInProgress, ""},
		{export.StatusCanceling, export.CodeInvalidExportTaskState},
		{export.StatusCanceled, export.CodeInvalidExportTaskState},
		{export.StatusComplete, export.CodeInvalidExportTaskState},
		{export.StatusFailed, export.CodeInvalidExportTaskState},
	}
	for _, tc := range cases {
		t.Run(string(tc.from), func(t *testing.T) {
			t.Parallel()
			s, b := setup(t)
			seedTask(t, b.store, testAccount, "my-exp", clusterARN("pg-main"), "bkt", export.SourceTypeCluster, tc.from)
			got, err := s.CancelExportTask(callerCtx(t), "my-exp")
			_, canceled := b.runner.state()
			stored, gerr := b.store.GetTask(t.Context(), testAccount, "my-exp")
			if gerr != nil {
				t.Fatal(gerr)
			}
			if tc.code != "" {
				wantCode(t, err, tc.code, "Cannot cancel export task my-exp because it is in state "+string(tc.from)+".")
				if len(canceled) != 0 || stored.Status != tc.from {
					t.Fatalf("refused cancel changed something: runner %v, status %s", canceled, stored.Status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != export.StatusCanceling || got.Identifier != "my-exp" || stored.Status != export.StatusCanceling {
				t.Fatalf("returned %s, stored %s; want CANCELING", got.Status, stored.Status)
			}
			if len(canceled) != 1 || canceled[0] != testAccount+"/my-exp" {
				t.Fatalf("runner.CancelTask calls = %v", canceled)
			}
		})
	}

	t.Run("ErrNotFound", func(t *testing.T) {
		t.Parallel()
		s, _ := setup(t)
		_, err := s.CancelExportTask(callerCtx(t), "nope")
		wantCode(t, err, export.CodeExportTaskNotFound, "The export task with the ID nope is not found.")
	})

	t.Run("ErrNotFoundOtherAccount", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t)
		seedTask(t, b.store, "210987654321", "theirs", clusterARN("pg-main"), "bkt", export.SourceTypeCluster, export.StatusInProgress)
		_, err := s.CancelExportTask(callerCtx(t), "theirs")
		wantCode(t, err, export.CodeExportTaskNotFound, "")
	})

	t.Run("ErrMissingParameter", func(t *testing.T) {
		t.Parallel()
		s, _ := setup(t)
		_, err := s.CancelExportTask(callerCtx(t), "")
		wantCode(t, err, export.CodeMissingParameter, "The request must contain the parameter ExportTaskIdentifier")
	})

	t.Run("ErrNoCaller", func(t *testing.T) {
		t.Parallel()
		s, _ := setup(t)
		if _, err := s.CancelExportTask(t.Context(), "x"); export.ErrorCode(err) != export.CodeInternalFailure {
			t.Fatalf("err = %v, want an internal error", err)
		}
	})

	t.Run("Twice", func(t *testing.T) {
		t.Parallel()
		s, _ := setup(t)
		ctx := callerCtx(t)
		if _, err := s.StartExportTask(ctx, validStart("exp")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CancelExportTask(ctx, "exp"); err != nil {
			t.Fatal(err)
		}
		_, err := s.CancelExportTask(ctx, "exp")
		wantCode(t, err, export.CodeInvalidExportTaskState, "Cannot cancel export task exp because it is in state CANCELING.")
	})
}
