// Package connlimit bounds the connections rdsexport opens to one database
// server. Every job on a server (an export, a snapshot copy, a version
// query) takes the number of connections it will open from the server's
// budget, all at once and before it opens any, and gives them back once it
// has closed them. Jobs wait in arrival order; a waiting job whose context
// ends stops waiting at once.
//
// Taking a job's connections in one step is what keeps the budget free of
// deadlock: no job holds part of the budget while it waits for more. A
// caller must therefore not wait for a second job on a server while it
// holds an open Snapshot of the same server.
//
// It owns the budgets and the engine.Source wrapper that draws on them; it
// imports engine (the seam it wraps) and must not import an adapter.
package connlimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"golang.org/x/sync/semaphore"

	"github.com/rdsexport/rdsexport/internal/engine"
)

// Server is the connection budget of one database server. It is safe for
// concurrent use.
type Server struct {
	name   string
	size   int
	sem    *semaphore.Weighted
	logger *slog.Logger

	inUse   atomic.Int64
	waiting atomic.Int64
}

// NewServer returns the budget of size connections (at least 1) of the
// server called name in logs (an engine and address, never credentials).
// A nil logger logs nothing.
func NewServer(name string, size int, logger *slog.Logger) *Server {
	size = max(size, 1)
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Server{name: name, size: size, sem: semaphore.NewWeighted(int64(size)), logger: logger.With("server", name)}
}

// Size is the budget.
func (s *Server) Size() int { return s.size }

// InUse is the number of connections taken now.
func (s *Server) InUse() int { return int(s.inUse.Load()) }

// Waiting is the number of jobs waiting for connections now.
func (s *Server) Waiting() int { return int(s.waiting.Load()) }

// Acquire waits until n connections are free and takes them; jobs are
// served in the order they asked. n is taken as at least 1 and at most the
// budget: a job that needs more than the whole budget gets all of it and
// runs alone. The returned release gives the connections back; calling it
// again does nothing.
//
// It returns an error wrapping context.Cause(ctx) as soon as ctx ends
// while it waits, having taken nothing.
func (s *Server) Acquire(ctx context.Context, n int) (release func(), err error) {
	n = min(max(n, 1), s.size)
	if !s.sem.TryAcquire(int64(n)) {
		s.waiting.Add(1)
		s.logger.InfoContext(ctx, "waiting for source connections", "connections", n,
			"in_use", s.inUse.Load(), "max_source_connections", s.size)
		err := s.sem.Acquire(ctx, int64(n))
		s.waiting.Add(-1)
		if err != nil {
			return nil, fmt.Errorf("wait for %d connections to %s: %w", n, s.name, context.Cause(ctx))
		}
	}
	s.inUse.Add(int64(n))
	var once sync.Once
	return func() {
		once.Do(func() {
			s.inUse.Add(-int64(n))
			s.sem.Release(int64(n))
		})
	}, nil
}

// NeedFunc tells how many connections Open with p opens at most, at once.
type NeedFunc func(p engine.OpenParams) int

// Source is an engine.Source whose Version and Open take their connections
// from a Server's budget first.
type Source struct {
	src    engine.Source
	server *Server
	need   NeedFunc
}

var _ engine.Source = (*Source)(nil)

// Wrap returns src drawing on server: Version takes one connection until
// it returns, Open takes need(p) until the Snapshot is closed.
func Wrap(src engine.Source, server *Server, need NeedFunc) *Source {
	return &Source{src: src, server: server, need: need}
}

// Server is the budget the source draws on.
func (s *Source) Server() *Server { return s.server }

// Version waits for one connection, then asks the wrapped source. Errors
// are Acquire's or the wrapped source's.
func (s *Source) Version(ctx context.Context) (string, error) {
	release, err := s.server.Acquire(ctx, 1)
	if err != nil {
		return "", err
	}
	defer release()
	return s.src.Version(ctx)
}

// Open waits for the connections the snapshot will use, then opens it;
// they are given back when the Snapshot is closed, or at once when Open
// fails. The Snapshot forwards engine.RangeReader, engine.ReadWarner and
// engine.Sharer to the wrapped one. Errors are Acquire's or the wrapped source's.
func (s *Source) Open(ctx context.Context, p engine.OpenParams) (engine.Snapshot, error) {
	release, err := s.server.Acquire(ctx, s.need(p))
	if err != nil {
		return nil, err
	}
	snap, err := s.src.Open(ctx, p)
	if err != nil {
		// A failed Open has closed what it opened.
		release()
		return nil, err
	}
	return wrapSnapshot(snap, release), nil
}

// Join is Open for a snapshot shared by another process (engine.Joiner):
// it waits for the connections first. Errors are Acquire's, ErrNoJoin when
// the wrapped source cannot join, or the wrapped source's.
func (s *Source) Join(ctx context.Context, share []byte, p engine.OpenParams) (engine.Snapshot, error) {
	jn, ok := s.src.(engine.Joiner)
	if !ok {
		return nil, ErrNoJoin
	}
	release, err := s.server.Acquire(ctx, s.need(p))
	if err != nil {
		return nil, err
	}
	snap, err := jn.Join(ctx, share, p)
	if err != nil {
		release()
		return nil, err
	}
	return wrapSnapshot(snap, release), nil
}

// ErrNoJoin is returned by Join when the wrapped source cannot join a
// shared snapshot.
var ErrNoJoin = errors.New("source cannot join a shared snapshot")

var _ engine.Joiner = (*Source)(nil)

// wrapSnapshot returns snap giving its connections back on Close, an
// engine.Sharer when snap is one.
func wrapSnapshot(snap engine.Snapshot, release func()) engine.Snapshot {
	w := &snapshot{Snapshot: snap, release: release}
	if sh, ok := snap.(engine.Sharer); ok {
		return &sharedSnapshot{snapshot: w, sharer: sh}
	}
	return w
}

// sharedSnapshot forwards engine.Sharer too.
type sharedSnapshot struct {
	*snapshot
	sharer engine.Sharer
}

var _ engine.Sharer = (*sharedSnapshot)(nil)

func (s *sharedSnapshot) Share(t engine.Table) ([]byte, error) { return s.sharer.Share(t) }

// ErrNoRanges is returned by ReadRange when the wrapped Snapshot cannot
// read ranges (it never sets Table.Ranges above 1, so the engine does not
// ask).
var ErrNoRanges = errors.New("snapshot cannot read ranges")

// snapshot gives its connections back once the wrapped one is closed.
type snapshot struct {
	engine.Snapshot
	release func()
}

var (
	_ engine.RangeReader = (*snapshot)(nil)
	_ engine.ReadWarner  = (*snapshot)(nil)
)

// Close closes the wrapped snapshot, which closes its connections, then
// gives them back.
func (s *snapshot) Close() error {
	err := s.Snapshot.Close()
	s.release()
	return err
}

func (s *snapshot) ReadRange(ctx context.Context, t engine.Table, batch, rng int, emit func(arrow.RecordBatch) error, progress func(bytes int64)) error {
	rr, ok := s.Snapshot.(engine.RangeReader)
	if !ok {
		return ErrNoRanges
	}
	return rr.ReadRange(ctx, t, batch, rng, emit, progress)
}

func (s *snapshot) ReadWarnings() engine.Warnings {
	if rw, ok := s.Snapshot.(engine.ReadWarner); ok {
		return rw.ReadWarnings()
	}
	return engine.Warnings{}
}
