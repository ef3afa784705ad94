package snapshotcopy_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/snapshotcopy"
)

// gate holds every copy at its first read until the test lets it go, and
// tells the test which copies got there.
type gate struct {
	mu      sync.Mutex
	release map[string]chan struct{}
	arrived chan string
}

func newGate() *gate {
	return &gate{release: map[string]chan struct{}{}, arrived: make(chan string, 100)}
}

func (g *gate) ch(id string) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.release[id] == nil {
		g.release[id] = make(chan struct{})
	}
	return g.release[id]
}

// resolve wraps src so that the copy of s waits at the gate.
func (g *gate) resolve(src func() engine.Source) snapshotcopy.Resolver {
	return func(_ context.Context, s *export.Snapshot) (engine.Source, error) {
		id := s.Identifier
		return hooked{Source: src(), before: func(ctx context.Context) error {
			g.arrived <- id
			select {
			case <-g.ch(id):
				return nil
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}}, nil
	}
}

func (g *gate) open(id string) { close(g.ch(id)) }

// waitArrived waits until the copies of ids (and no others) have reached
// the gate.
func (g *gate) waitArrived(t *testing.T, ids ...string) {
	t.Helper()
	var got []string
	timeout := time.After(time.Minute)
	for len(got) < len(ids) {
		select {
		case id := <-g.arrived:
			got = append(got, id)
		case <-timeout:
			t.Fatalf("copies begun %v, want %v", got, ids)
		}
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(ids))
	if !slices.Equal(got, want) {
		t.Fatalf("copies begun %v, want %v", got, want)
	}
}

// createAs stores a creating snapshot of the account and source and
// queues its copy.
func (e *env) createAs(t *testing.T, account, id, source string) *export.Snapshot {
	t.Helper()
	s := &export.Snapshot{
		Kind: export.SnapshotKindDB, Identifier: id, AccountID: account, Region: "us-east-1",
		SourceIdentifier: source, Engine: "postgres", Status: export.SnapshotCreating, Type: export.SnapshotTypeManual,
	}
	if err := e.store.CreateSnapshot(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if err := e.copier.Create(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// requireQueued checks that the snapshots are creating with nothing
// copied: PercentProgress 0, no Location, no CreateTime.
func (e *env) requireQueued(t *testing.T, snaps ...*export.Snapshot) {
	t.Helper()
	for _, s := range snaps {
		got, err := e.store.GetSnapshot(context.Background(), s.AccountID, s.Kind, s.Identifier)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != export.SnapshotCreating || got.PercentProgress != 0 || got.Location != "" || !got.CreateTime.IsZero() {
			t.Errorf("queued %s: status %s, %d%%, location %q, create time %v", s.Identifier, got.Status, got.PercentProgress, got.Location, got.CreateTime)
		}
	}
}

// TestCopier_Limits: at most MaxPerAccount copies of an account and
// MaxPerServer of a server run at once; the others wait in order, and a
// waiting copy blocked by its account or server lets others go first.
func TestCopier_Limits(t *testing.T) {
	g := newGate()
	var e *env
	e = newEnv(t, "CREATE TABLE a (id int); INSERT INTO a VALUES (1), (2);", envOpts{params: func(p *snapshotcopy.Params) {
		p.MaxPerAccount, p.MaxPerServer = 2, 2
		p.Resolve = g.resolve(func() engine.Source { return e.source })
		p.ServerOf = func(s *export.Snapshot) string { return s.SourceIdentifier }
	}})
	const acctA, acctB = "111111111111", "222222222222"
	a1 := e.createAs(t, acctA, "a1", "srv1")
	a2 := e.createAs(t, acctA, "a2", "srv1")
	a3 := e.createAs(t, acctA, "a3", "srv1")
	a4 := e.createAs(t, acctA, "a4", "srv2")
	b1 := e.createAs(t, acctB, "b1", "srv1")
	b2 := e.createAs(t, acctB, "b2", "srv2")

	// a3 and a4 wait for their account, b1 for srv1.
	g.waitArrived(t, "a1", "a2", "b2")
	if r, q := e.copier.Running(), e.copier.Queued(); r != 3 || q != 3 {
		t.Fatalf("running %d, queued %d; want 3 and 3", r, q)
	}
	e.requireQueued(t, a3, a4, b1)

	// a1 ends: a3 is first in line and fits; a4 still waits for account
	// A, b1 for srv1.
	g.open("a1")
	g.waitArrived(t, "a3")
	e.requireQueued(t, a4, b1)
	// b2 ends: nobody fits yet.
	g.open("b2")
	if s := e.store.waitDone(t, b2); s.Status != export.SnapshotAvailable {
		t.Fatalf("b2: %s (%s)", s.Status, s.FailureReason)
	}
	e.requireQueued(t, a4, b1)
	if q := e.copier.Queued(); q != 2 {
		t.Fatalf("queued %d, want 2", q)
	}
	// a2 ends: a4 (account A, srv2) and b1 (account B, srv1) both fit.
	g.open("a2")
	g.waitArrived(t, "a4", "b1")
	for _, id := range []string{"a3", "a4", "b1"} {
		g.open(id)
	}
	for _, s := range []*export.Snapshot{a1, a2, a3, a4, b1} {
		if got := e.store.waitDone(t, s); got.Status != export.SnapshotAvailable {
			t.Errorf("%s: %s (%s)", s.Identifier, got.Status, got.FailureReason)
		}
	}
}

// TestCopier_QueueOrder: copies of one account and server begin in the
// order of their snapshots' Seq.
func TestCopier_QueueOrder(t *testing.T) {
	g := newGate()
	var e *env
	e = newEnv(t, "CREATE TABLE a (id int); INSERT INTO a VALUES (1);", envOpts{params: func(p *snapshotcopy.Params) {
		p.MaxPerAccount, p.MaxPerServer = 1, 1
		p.Resolve = g.resolve(func() engine.Source { return e.source })
	}})
	ids := []string{"q0", "q1", "q2", "q3", "q4"}
	for _, id := range ids {
		e.createAs(t, "111111111111", id, "db1")
	}
	for _, id := range ids {
		g.waitArrived(t, id)
		g.open(id)
	}
}

// TestCopier_DequeueAndStop: a dequeued copy never begins; Stop fails the
// running copy and leaves the queued one creating for the next Start,
// which copies it.
func TestCopier_DequeueAndStop(t *testing.T) {
	g := newGate()
	var e *env
	e = newEnv(t, "CREATE TABLE a (id int); INSERT INTO a VALUES (1);", envOpts{params: func(p *snapshotcopy.Params) {
		p.MaxPerAccount = 1
		p.Resolve = g.resolve(func() engine.Source { return e.source })
	}})
	running := e.createAs(t, "111111111111", "running", "db1")
	gone := e.createAs(t, "111111111111", "gone", "db1")
	waiting := e.createAs(t, "111111111111", "waiting", "db1")
	g.waitArrived(t, "running")
	if !e.copier.Dequeue(gone) {
		t.Fatal("Dequeue of a queued copy = false")
	}
	if e.copier.Dequeue(gone) || e.copier.Dequeue(running) {
		t.Fatal("Dequeue of a dequeued or running copy = true")
	}
	if _, err := e.store.DeleteSnapshot(context.Background(), gone.AccountID, gone.Kind, gone.Identifier, []export.SnapshotStatus{export.SnapshotCreating}); err != nil {
		t.Fatal(err)
	}
	e.copier.Stop()
	if got := e.store.waitDone(t, running); got.Status != export.SnapshotFailed || got.FailureReason != snapshotcopy.ReasonServerStopped {
		t.Errorf("running copy after Stop: %s (%s)", got.Status, got.FailureReason)
	}
	e.requireQueued(t, waiting)

	// The next process copies the snapshot that was waiting.
	next := snapshotcopy.New(snapshotcopy.Params{
		Store: e.store, Blobs: e.blobs, Alloc: e.alloc, Connections: 2,
		Resolve: func(context.Context, *export.Snapshot) (engine.Source, error) { return e.source, nil },
	})
	if err := next.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer next.Stop()
	if got := e.store.waitDone(t, waiting); got.Status != export.SnapshotAvailable {
		t.Errorf("waiting copy after restart: %s (%s)", got.Status, got.FailureReason)
	}
	select {
	case id := <-g.arrived:
		t.Errorf("copy %s went through the old copier after Stop", id)
	default:
	}
}
