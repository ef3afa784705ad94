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
