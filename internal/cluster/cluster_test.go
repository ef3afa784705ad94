package cluster

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"

	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/exporttest"
	"github.com/rdsexport/rdsexport/internal/pgtaskstore"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const account = "000000000000"

// setup returns a node on a fresh database whose lease holds, without its
// River client or loops: claims and fenced writes only.
func setup(t *testing.T, limit int) (*Node, export.Store) {
	t.Helper()
	db := exporttest.NewPostgresDB(t, "")
	store, err := pgtaskstore.New(t.Context(), pgtaskstore.Params{URL: db.URL, MaxConns: 24})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	pool, err := pgxpool.New(t.Context(), db.URL+"?pool_max_conns=24")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := Migrate(t.Context(), pool); err != nil {
		t.Fatal(err)
	}
	n := New(Params{Pool: pool, Store: store, NodeID: "n1", MaxConcurrentExports: limit, LeaseTTL: time.Minute})
	inst, _ := n.lease.current()
	n.lease.renewed(inst, time.Now())
	return n, store
}

func createTask(t *testing.T, s export.Store, id string) {
	t.Helper()
	task := &export.Task{Identifier: id, AccountID: account, Region: "us-east-1",
		SourceArn: "arn:aws:rds:us-east-1:" + account + ":cluster:" + id, SourceType: export.SourceTypeCluster,
		S3Bucket: "b", IamRoleArn: "arn:aws:iam::" + account + ":role/r", KmsKeyID: "k", TaskStartTime: time.Now()}
	if err := s.CreateTask(t.Context(), task); err != nil {
		t.Fatal(err)
	}
}

// TestClaim_ClusterLimit claims 20 tasks of one account at once, as 20
// workers on any nodes would: exactly MaxConcurrentExports succeed.
func TestClaim_ClusterLimit(t *testing.T) {
	n, s := setup(t, 5)
	for i := range 20 {
		createTask(t, s, fmt.Sprintf("t%02d", i))
	}
	inst, _ := n.lease.current()
	var mu sync.Mutex
	var claimed, busy int
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 20 {
		wg.Go(func() {
			<-start
			_, _, err := n.claim(t.Context(), int64(i), exportArgs{AccountID: account, Identifier: fmt.Sprintf("t%02d", i)}, inst)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				claimed++
			case errors.Is(err, errBusy):
				busy++
			default:
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	if claimed != 5 || busy != 15 {
		t.Fatalf("claimed %d, busy %d; want 5 and 15", claimed, busy)
	}
	running, err := s.ListTasks(t.Context(), export.TaskFilter{Statuses: []export.Status{export.StatusInProgress}})
	if err != nil || len(running) != 5 {
		t.Fatalf("%d IN_PROGRESS (%v), want 5", len(running), err)
	}
}

// TestClaim_Order: a free slot goes to the oldest waiting task.
func TestClaim_Order(t *testing.T) {
	n, s := setup(t, 1)
	for _, id := range []string{"a", "b", "c"} {
		createTask(t, s, id)
	}
	inst, _ := n.lease.current()
	if _, _, err := n.claim(t.Context(), 1, exportArgs{AccountID: account, Identifier: "a"}, inst); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Transition(t.Context(), account, "a", []export.Status{export.StatusInProgress}, export.StatusComplete, export.TaskUpdate{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := n.claim(t.Context(), 3, exportArgs{AccountID: account, Identifier: "c"}, inst); !errors.Is(err, errBusy) {
		t.Fatalf("claim of c before b: %v, want errBusy", err)
	}
	if _, _, err := n.claim(t.Context(), 2, exportArgs{AccountID: account, Identifier: "b"}, inst); err != nil {
		t.Fatal(err)
	}
}

// TestFence: a run's writes land while it owns its task, and fail once
// the run was taken over or the node's lease lapsed; writes outside a run
// are not fenced.
func TestFence(t *testing.T) {
	n, s := setup(t, 5)
	createTask(t, s, "f")
	inst, _ := n.lease.current()
	task, attempt, err := n.claim(t.Context(), 1, exportArgs{AccountID: account, Identifier: "f"}, inst)
	if err != nil {
		t.Fatal(err)
	}
	if task.Status != export.StatusInProgress || attempt != 1 {
		t.Fatalf("claimed %s attempt %d", task.Status, attempt)
	}
	fs := n.Store(s)
	ctx := withFence(t.Context(), fence{account: account, id: "f", attempt: 1, instance: inst})
	pct := 10
	if err := fs.UpdateProgress(ctx, account, "f", export.TaskUpdate{PercentProgress: &pct}); err != nil {
		t.Fatal(err)
	}

	// Another node takes the run over (what the reaper does).
	if _, err := n.p.Pool.Exec(t.Context(), `UPDATE rdsexport_runs SET instance = NULL`); err != nil {
		t.Fatal(err)
	}
	pct = 20
	if err := fs.UpdateProgress(ctx, account, "f", export.TaskUpdate{PercentProgress: &pct}); !errors.Is(err, export.ErrStatusConflict) {
		t.Fatalf("progress after takeover: %v, want a conflict", err)
	}
	if _, err := fs.Transition(ctx, account, "f", []export.Status{export.StatusInProgress}, export.StatusComplete, export.TaskUpdate{}); !errors.Is(err, export.ErrStatusConflict) {
		t.Fatalf("transition after takeover: %v, want a conflict", err)
	}
	got, err := s.GetTask(t.Context(), account, "f")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != export.StatusInProgress || got.PercentProgress != 10 {
		t.Fatalf("task after fenced writes: %s %d%%", got.Status, got.PercentProgress)
	}
	// The API's writes carry no fence.
	if err := fs.UpdateProgress(t.Context(), account, "f", export.TaskUpdate{PercentProgress: &pct}); err != nil {
		t.Fatal(err)
	}

	// The second run owns it; then this node's lease lapses.
	if _, err := n.p.Pool.Exec(t.Context(), `UPDATE rdsexport_runs SET instance = $1, attempt = 2`, inst); err != nil {
		t.Fatal(err)
	}
	ctx2 := withFence(t.Context(), fence{account: account, id: "f", attempt: 2, instance: inst})
	if err := fs.UpdateProgress(ctx2, account, "f", export.TaskUpdate{PercentProgress: &pct}); err != nil {
		t.Fatal(err)
	}
	n.lease.lapse(inst)
	if err := fs.UpdateProgress(ctx2, account, "f", export.TaskUpdate{PercentProgress: &pct}); !errors.Is(err, errFenced) {
		t.Fatalf("progress after the lease lapsed: %v, want errFenced", err)
	}
	if err := n.Objects(nil).Put(ctx2, "b", "k", nil); !errors.Is(err, errFenced) {
		t.Fatalf("put after the lease lapsed: %v, want errFenced", err)
	}
}

func TestLease(t *testing.T) {
	l := newLease(time.Second)
	inst, _ := l.current()
	if l.valid(inst) {
		t.Fatal("valid before the first heartbeat")
	}
	l.renewed(inst, time.Now())
	if !l.valid(inst) {
		t.Fatal("not valid after a heartbeat")
	}
	// A heartbeat sent after the lease ended does not revive it.
	if l.renewed(inst, time.Now().Add(2*time.Second)) {
		t.Fatal("a late heartbeat renewed the lease")
	}
	if !l.lapse(inst) || l.valid(inst) {
		t.Fatal("lapse")
	}
	next, _ := l.current()
	if next == inst || l.renewed(inst, time.Now()) {
		t.Fatal("a lapsed instance came back")
	}
}
