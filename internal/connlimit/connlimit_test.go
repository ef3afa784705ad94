package connlimit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rdsexport/rdsexport/internal/connlimit"
	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/exporttest"
	"github.com/rdsexport/rdsexport/internal/mysqlsource"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitFor polls cond until it holds, failing after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

type acquired struct {
	release func()
	err     error
}

// acquireAsync asks for n connections in a goroutine; the result arrives
// on the channel.
func acquireAsync(ctx context.Context, s *connlimit.Server, n int) <-chan acquired {
	ch := make(chan acquired, 1)
	go func() {
		r, err := s.Acquire(ctx, n)
		ch <- acquired{r, err}
	}()
	return ch
}

func TestServer_Acquire(t *testing.T) {
	t.Run("FIFO", func(t *testing.T) {
		s := connlimit.NewServer("test", 4, nil)
		first, err := s.Acquire(t.Context(), 3)
		if err != nil {
			t.Fatal(err)
		}
		big := acquireAsync(t.Context(), s, 2)
		waitFor(t, "the first waiter", func() bool { return s.Waiting() == 1 })
		// One connection is free, but a job that asked earlier waits for
		// two: the later one waits behind it.
		small := acquireAsync(t.Context(), s, 1)
		waitFor(t, "the second waiter", func() bool { return s.Waiting() == 2 })
		select {
		case <-small:
			t.Fatal("a later, smaller job went ahead of a waiting one")
		default:
		}
		first()
		b, sm := <-big, <-small
		if b.err != nil || sm.err != nil {
			t.Fatal(b.err, sm.err)
		}
		if s.InUse() != 3 || s.Waiting() != 0 {
			t.Fatalf("in use %d, waiting %d; want 3 and 0", s.InUse(), s.Waiting())
		}
		b.release()
		sm.release()
		sm.release() // again: nothing more is given back
		if s.InUse() != 0 {
			t.Fatalf("in use %d after every release", s.InUse())
		}
		r, err := s.Acquire(t.Context(), 4)
		if err != nil {
			t.Fatal(err)
		}
		r()
	})

	t.Run("Cancel", func(t *testing.T) {
		s := connlimit.NewServer("test", 2, nil)
		held, err := s.Acquire(t.Context(), 2)
		if err != nil {
			t.Fatal(err)
		}
		cause := errors.New("export canceled")
		ctx, cancel := context.WithCancelCause(t.Context())
		waiting := acquireAsync(ctx, s, 1)
		behind := acquireAsync(t.Context(), s, 2)
		waitFor(t, "two waiters", func() bool { return s.Waiting() == 2 })
		start := time.Now()
		cancel(cause)
		got := <-waiting
		if !errors.Is(got.err, cause) || got.release != nil {
			t.Fatalf("canceled Acquire = %v, want an error wrapping the cause", got.err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("canceled wait ended after %v", d)
		}
		// The canceled waiter took nothing: the next one gets the whole
		// budget once it is free.
		held()
		b := <-behind
		if b.err != nil || s.InUse() != 2 {
			t.Fatalf("Acquire behind a canceled waiter = %v, in use %d", b.err, s.InUse())
		}
		b.release()
	})

	t.Run("MoreThanBudget", func(t *testing.T) {
		s := connlimit.NewServer("test", 3, nil)
		r, err := s.Acquire(t.Context(), 10)
		if err != nil {
			t.Fatal(err)
		}
		if s.InUse() != 3 {
			t.Fatalf("in use %d, want the whole budget 3", s.InUse())
		}
		other := acquireAsync(t.Context(), s, 0)
		waitFor(t, "a waiter", func() bool { return s.Waiting() == 1 })
		r()
		o := <-other
		if o.err != nil || s.InUse() != 1 {
			t.Fatalf("Acquire(0) = %v, in use %d; want one connection", o.err, s.InUse())
		}
		o.release()
	})
}

// TestSource_MySQL: a wrapped MariaDB source holds its connections from
// Open to Close, gives them back when Open fails, and stops waiting when
// its context ends; its snapshot still reads ranges.
func TestSource_MySQL(t *testing.T) {
	db := exporttest.NewMySQLDB(t, "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a'), (2, 'b');")
	srv := connlimit.NewServer("mariadb", 4, nil)
	need := func(p engine.OpenParams) int { return p.Connections + 1 }
	src := connlimit.Wrap(mysqlsource.New(db.URL, mysqlsource.Params{Databases: []string{db.Name}}), srv, need)
	ctx := t.Context()

	if v, err := src.Version(ctx); err != nil || v == "" {
		t.Fatalf("Version = %q, %v", v, err)
	}
	if srv.InUse() != 0 {
		t.Fatalf("in use %d after Version", srv.InUse())
	}
	snap, err := src.Open(ctx, engine.OpenParams{Connections: 2})
	if err != nil {
		t.Fatal(err)
	}
	if srv.InUse() != 3 {
		t.Fatalf("in use %d with a snapshot of two readers open, want 3", srv.InUse())
	}
	if _, ok := snap.(engine.RangeReader); !ok {
		t.Error("the wrapped snapshot hides engine.RangeReader")
	}
	tables, _, err := snap.Tables(ctx)
	if err != nil || len(tables) != 1 {
		t.Fatalf("Tables = %v, %v", tables, err)
	}

	// A second snapshot does not fit: its Open waits until canceled.
	wctx, cancel := context.WithCancelCause(ctx)
	waited := make(chan error, 1)
	go func() {
		s2, err := src.Open(wctx, engine.OpenParams{Connections: 2})
		if s2 != nil {
			s2.Close()
		}
		waited <- err
	}()
	waitFor(t, "the second Open to wait", func() bool { return srv.Waiting() == 1 })
	stop := errors.New("stop waiting")
	cancel(stop)
	if err := <-waited; !errors.Is(err, stop) {
		t.Fatalf("waiting Open = %v, want the cancel cause", err)
	}

	if err := snap.Close(); err != nil {
		t.Fatal(err)
	}
	if srv.InUse() != 0 {
		t.Fatalf("in use %d after Close", srv.InUse())
	}

	down := connlimit.Wrap(mysqlsource.New("mysql://root@127.0.0.1:1/", mysqlsource.Params{ConnectTimeout: 2 * time.Second}), srv, need)
	if _, err := down.Open(ctx, engine.OpenParams{Connections: 2}); err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	}
	if srv.InUse() != 0 {
		t.Fatalf("in use %d after a failed Open", srv.InUse())
	}
}
