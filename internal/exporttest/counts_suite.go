package exporttest

import (
	"context"
	"fmt"
	"maps"
	"testing"

	"github.com/rdsexport/rdsexport/internal/export"
)

// CountingStore is a task and snapshot store that counts its records for
// the metrics' gauges.
type CountingStore interface {
	export.Store
	export.SnapshotStore
	// TaskCounts returns how many tasks of all accounts are in each status;
	// statuses without tasks are absent.
	TaskCounts(ctx context.Context) (map[export.Status]int64, error)
	// SnapshotCounts returns how many snapshots of all accounts there are
	// of each kind and status; kinds and statuses without any are absent.
	SnapshotCounts(ctx context.Context) (map[export.SnapshotKind]map[string]int64, error)
}

// CountsSuite checks TaskCounts and SnapshotCounts of a CountingStore on
// an empty store and on records of two accounts in several statuses.
//
// newStore must return a new, empty store each time it is called and
// arrange for it to be closed when the test ends (t.Cleanup).
func CountsSuite(t *testing.T, newStore func(t *testing.T) CountingStore) {
	t.Helper()
	t.Run("Empty", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		tasks, err := s.TaskCounts(t.Context())
		if err != nil || len(tasks) != 0 {
			t.Fatalf("TaskCounts of an empty store: %v, %v", tasks, err)
		}
		snaps, err := s.SnapshotCounts(t.Context())
		if err != nil || len(snaps) != 0 {
			t.Fatalf("SnapshotCounts of an empty store: %v, %v", snaps, err)
		}
	})
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		countsOK(t, newStore(t))
	})
}

func countsOK(t *testing.T, s CountingStore) {
	ctx := t.Context()
	// Tasks: per account, one left in each status reached on the way.
	n := 0
	for _, acct := range []string{suiteAccount, suiteOtherAccount} {
		for _, to := range []export.Status{export.StatusStarting, export.StatusInProgress, export.StatusComplete,
			export.StatusCanceling, export.StatusCanceled, export.StatusFailed, export.StatusComplete} {
			n++
			task := mustCreate(t, s, newSuiteTask(acct, fmt.Sprintf("exp%d", n), snapshotArn(acct, fmt.Sprintf("s%d", n))))
			moveTo(t, s, task, to)
		}
	}
	tasks, err := s.TaskCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantTasks := map[export.Status]int64{export.StatusStarting: 2, export.StatusInProgress: 2, export.StatusComplete: 4,
		export.StatusCanceling: 2, export.StatusCanceled: 2, export.StatusFailed: 2}
	if !maps.Equal(tasks, wantTasks) {
		t.Errorf("TaskCounts = %v, want %v", tasks, wantTasks)
	}

	for i, acct := range []string{suiteAccount, suiteOtherAccount, suiteAccount} {
		db := mustCreateSnapshot(t, s, newSuiteSnapshot(acct, export.SnapshotKindDB, fmt.Sprintf("db%d", i), "src"))
		mustUpdateSnapshot(t, s, db, []export.SnapshotStatus{export.SnapshotCreating}, export.SnapshotAvailable, export.SnapshotUpdate{})
		mustCreateSnapshot(t, s, newSuiteSnapshot(acct, export.SnapshotKindCluster, fmt.Sprintf("cl%d", i), "src"))
	}
	gone := mustCreateSnapshot(t, s, newSuiteSnapshot(suiteAccount, export.SnapshotKindDB, "gone", "src"))
	if _, err := s.DeleteSnapshot(ctx, suiteAccount, gone.Kind, gone.Identifier, []export.SnapshotStatus{export.SnapshotCreating}); err != nil {
		t.Fatal(err)
	}
	failed := mustCreateSnapshot(t, s, newSuiteSnapshot(suiteOtherAccount, export.SnapshotKindCluster, "failed", "src"))
	mustUpdateSnapshot(t, s, failed, []export.SnapshotStatus{export.SnapshotCreating}, export.SnapshotFailed, export.SnapshotUpdate{})
	snaps, err := s.SnapshotCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantSnaps := map[export.SnapshotKind]map[string]int64{
		export.SnapshotKindDB:      {string(export.SnapshotAvailable): 3},
		export.SnapshotKindCluster: {string(export.SnapshotCreating): 3, string(export.SnapshotFailed): 1},
	}
	if len(snaps) != len(wantSnaps) || !maps.Equal(snaps[export.SnapshotKindDB], wantSnaps[export.SnapshotKindDB]) ||
		!maps.Equal(snaps[export.SnapshotKindCluster], wantSnaps[export.SnapshotKindCluster]) {
		t.Errorf("SnapshotCounts = %v, want %v", snaps, wantSnaps)
	}
}
