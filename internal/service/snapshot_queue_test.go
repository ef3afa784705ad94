package service_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/service"
)

// TestCreateDBClusterSnapshot_ConcurrentQuota: creations racing for the
// last places under the quota keep exactly the quota; every other one is
// SnapshotQuotaExceeded and starts no copy.
func TestCreateDBClusterSnapshot_ConcurrentQuota(t *testing.T) {
	t.Parallel()
	const quota, calls = 10, 40
	s, b := setupWith(t, func(p *service.Params) { p.SnapshotQuota = quota })
	seedSnapshot(t, b, export.SnapshotKindCluster, "old", "pg-main", "aurora-postgresql", export.SnapshotTypeManual, export.SnapshotAvailable)
	ctx := callerCtx(t)
	start := make(chan struct{})
	errs := make([]error, calls)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			<-start
			_, errs[i] = s.CreateDBClusterSnapshot(ctx, service.CreateDBClusterSnapshotInput{
				DBClusterSnapshotIdentifier: fmt.Sprintf("race-%d", i), DBClusterIdentifier: "pg-main",
			})
		})
	}
	close(start)
	wg.Wait()
	accepted := 0
	for _, err := range errs {
		if err == nil {
			accepted++
			continue
		}
		wantCode(t, err, export.CodeSnapshotQuotaExceeded, "")
	}
	if accepted != quota-1 {
		t.Errorf("%d of %d creations accepted, want %d", accepted, calls, quota-1)
	}
	kept, err := b.snapshots.ListSnapshots(t.Context(), export.SnapshotFilter{AccountID: testAccount, Kind: export.SnapshotKindCluster})
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) != quota {
		t.Errorf("%d cluster snapshots kept, want %d", len(kept), quota)
	}
	if created, _ := b.snapshotter.state(); len(created) != accepted {
		t.Errorf("%d copies started for %d accepted snapshots", len(created), accepted)
	}
}

// TestDeleteSnapshot_Queued: a creating snapshot whose copy still waits
// for its turn can be deleted; it is withdrawn from the queue and has no
// data to remove. One whose copy has begun cannot.
func TestDeleteSnapshot_Queued(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	ctx := callerCtx(t)
	if _, err := s.CreateDBSnapshot(ctx, service.CreateDBSnapshotInput{DBSnapshotIdentifier: "q1", DBInstanceIdentifier: "Solo"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateDBClusterSnapshot(ctx, service.CreateDBClusterSnapshotInput{DBClusterSnapshotIdentifier: "q2", DBClusterIdentifier: "pg-main"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.DeleteDBSnapshot(ctx, "Q1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Identifier != "q1" || got.Status != export.SnapshotDeleted {
		t.Errorf("DeleteDBSnapshot = %s %s, want q1 deleted", got.Identifier, got.Status)
	}
	gotc, err := s.DeleteDBClusterSnapshot(ctx, "q2")
	if err != nil {
		t.Fatal(err)
	}
	if gotc.Status != export.SnapshotCreating {
		t.Errorf("DeleteDBClusterSnapshot status %s, want the status before the delete (creating)", gotc.Status)
	}
	left, err := b.snapshots.ListSnapshots(t.Context(), export.SnapshotFilter{AccountID: testAccount})
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("snapshots left: %d", len(left))
	}
	created, deleted := b.snapshotter.state()
	if len(created) != 0 || len(deleted) != 0 {
		t.Errorf("after the deletes: %d copies queued, %d data deletions; want none", len(created), len(deleted))
	}
	b.snapshotter.mu.Lock()
	dequeued := len(b.snapshotter.dequeued)
	b.snapshotter.mu.Unlock()
	if dequeued != 2 {
		t.Errorf("%d snapshots withdrawn, want 2", dequeued)
	}

	// A copy that has begun (the Snapshotter no longer queues it) must
	// end first.
	seedSnapshot(t, b, export.SnapshotKindDB, "running", "Solo", "postgres", export.SnapshotTypeManual, export.SnapshotCreating)
	_, err = s.DeleteDBSnapshot(ctx, "running")
	wantCode(t, err, export.CodeInvalidDBSnapshotState, "")
	if _, err := b.snapshots.GetSnapshot(t.Context(), testAccount, export.SnapshotKindDB, "running"); err != nil {
		t.Errorf("refused delete removed the snapshot: %v", err)
	}
}
