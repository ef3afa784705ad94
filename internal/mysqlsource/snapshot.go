package mysqlsource

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rdsexport/rdsexport/internal/engine"
)

// ReasonSingleConnection is the General warning reason reported by Tables
// when the global read lock needed to line up several connections could
// not be taken, so the snapshot reads through one connection only.
const ReasonSingleConnection = "SINGLE_CONNECTION_NO_GLOBAL_READ_LOCK"

// ReasonInvalidValues is the General warning reason reported by
// ReadWarnings for values with no Parquet equivalent (zero or impossible
// dates) that were written as NULL; Detail is "db.table: N values".
const ReasonInvalidValues = "INVALID_VALUES_WRITTEN_AS_NULL"

// ErrClosed is returned by a Snapshot's methods after Close.
var ErrClosed = errors.New("snapshot closed")

// ErrSnapshotLost is returned (wrapped) by ReadBatch when no reader
// connection of the snapshot is left. A reader is lost when a read is
// cancelled (the driver closes the connection to stop the query), when
// emit fails, or on a network error. A lost reader cannot be replaced:
// a new connection cannot join the snapshot's point in time. Reads go on
// through the remaining readers; in practice a cancel ends the export.
var ErrSnapshotLost = errors.New("snapshot lost: no reader connection left")

// Server error numbers handled here (mysqld_error.h).
const (
	erDBAccessDenied       = 1044
	erAccessDenied         = 1045
	erLockWaitTimeout      = 1205
	erSpecificAccessDenied = 1227 // FLUSH TABLES WITH READ LOCK without RELOAD
	erBadFieldError        = 1054 // unknown column
	erNoSuchTable          = 1146
	erTableDefChanged      = 1412 // table created or rebuilt after the snapshot
	erUnknownPartition     = 1735
)

// snapshot is the engine.Snapshot of one Open call.
//
// meta is a plain connection for catalog queries (information_schema is
// not versioned, so reading it inside the snapshot would not help).
// Readers are connections whose REPEATABLE READ transactions all started
// while a global read lock was held, so they see one moment.
type snapshot struct {
	src *Source
	at  time.Time

	exportOnly []string
	warnings   engine.Warnings           // found while opening
	before     map[tableKey][]columnInfo // columns before the snapshot began

	metaMu sync.Mutex // serialises queries on meta
	meta   *conn

	pool    chan *conn    // idle readers
	readers int           // readers at Open, lost or not
	lost    chan struct{} // closed when the last reader is discarded
	done    chan struct{} // closed by Close

	mu      sync.Mutex
	closed  bool
	live    int // readers not discarded
	plans   map[string]*tablePlan
	invalid map[string]int64 // values written as NULL, by target

	driverRows bool // read rows through the driver even on plain connections (tests)
}

var (
	_ engine.Snapshot    = (*snapshot)(nil)
	_ engine.RangeReader = (*snapshot)(nil)
)

// Open starts a consistent read of the server. With p.Connections > 1 it
// takes FLUSH TABLES WITH READ LOCK on a coordinator connection, starts
// `START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY` on every reader
// connection while the lock is held, reads UTC_TIMESTAMP(6) in the first
// one and then releases the lock at once (mydumper's method): writes wait
// only for the few milliseconds this takes. When the lock is refused (no
// RELOAD privilege, or lock_wait_timeout because of a long statement) the
// snapshot falls back to one reader connection and Tables reports a
// General warning ReasonSingleConnection. With one connection no lock is
// taken. Only InnoDB (transactional) tables are read at the snapshot's
// moment; other engines are read as they are when read.
//
// Errors are ErrInvalidURL, connection and server errors naming the
// server's address (never the password), or ctx's error.
func (s *Source) Open(ctx context.Context, p engine.OpenParams) (_ engine.Snapshot, err error) {
	if err := s.config(); err != nil {
		return nil, err
	}
	snap := &snapshot{
		src:        s,
		exportOnly: p.ExportOnly,
		lost:       make(chan struct{}),
		done:       make(chan struct{}),
		plans:      make(map[string]*tablePlan),
		invalid:    make(map[string]int64),
	}
	var readers []*conn
	defer func() {
		if err != nil {
			for _, r := range readers {
				r.close()
			}
			_ = snap.Close()
		}
	}()
	if snap.meta, err = s.connect(ctx); err != nil {
		return nil, err
	}
	// Connect before locking: connecting is the slow part.
	n := max(p.Connections, 1)
	for range n {
		r, err := s.connect(ctx)
		if err != nil {
			return nil, err
		}
		readers = append(readers, r)
	}
	// Read before the transactions start, so that Tables can tell a
	// table whose definition changed after the snapshot's moment.
	if snap.before, err = columnsBefore(ctx, snap.meta, p.ExportOnly, s.opts.Databases); err != nil {
		return nil, s.fail(ctx, snap.meta, "list columns", err)
	}
	locked := false
	if n > 1 {
		if err := snap.meta.exec(ctx, "SET SESSION lock_wait_timeout = 60"); err != nil {
			return nil, s.fail(ctx, snap.meta, "set lock_wait_timeout", err)
		}
		err := snap.meta.exec(ctx, "FLUSH TABLES WITH READ LOCK")
		switch {
		case err == nil:
			locked = true
		case ctx.Err() == nil && isMySQLError(err, erSpecificAccessDenied, erAccessDenied, erDBAccessDenied, erLockWaitTimeout):
			detail := "FLUSH TABLES WITH READ LOCK was refused (" + s.redact(err).Error() +
				"); the export read all tables through one connection"
			snap.warnings.General = append(snap.warnings.General,
				engine.General{Reason: ReasonSingleConnection, Detail: detail})
			for _, r := range readers[1:] {
				r.close()
			}
			readers = readers[:1]
		default:
			return nil, s.fail(ctx, snap.meta, "flush tables with read lock", err)
		}
	}
	for i, r := range readers {
		if err := r.exec(ctx, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
			return nil, s.fail(ctx, r, "set isolation level", err)
		}
		if err := r.exec(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
			return nil, s.fail(ctx, r, "start transaction", err)
		}
		if i == 0 {
			err := r.query(ctx, "SELECT UTC_TIMESTAMP(6)", func(row []driver.Value) error {
				b, _ := row[0].([]byte)
				us, ok := parseDateTime(b)
				if !ok {
					return fmt.Errorf("unexpected UTC_TIMESTAMP %q", b)
				}
				snap.at = time.UnixMicro(us).UTC()
				return nil
			})
			if err != nil {
				return nil, s.fail(ctx, r, "read snapshot time", err)
			}
		}
	}
	if locked {
		if err := snap.meta.exec(ctx, "UNLOCK TABLES"); err != nil {
			return nil, s.fail(ctx, snap.meta, "unlock tables", err)
		}
	}
	snap.pool = make(chan *conn, len(readers))
	for _, r := range readers {
		snap.pool <- r
	}
	snap.live, snap.readers = len(readers), len(readers)
	readers = nil
	return snap, nil
}

// fail wraps an error of step on c, preferring ctx's error (the driver reports
// a cancelled query as a broken connection).
func (s *Source) fail(ctx context.Context, c *conn, step string, err error) error {
	if ctx.Err() != nil {
		err = ctx.Err()
	} else {
		err = s.lostErr(c, err)
	}
	return fmt.Errorf("%s on %s: %w", step, s.addr, s.redact(err))
}

// Time is the server's UTC_TIMESTAMP(6) read inside the first reader's
// transaction, right after it started.
func (s *snapshot) Time() time.Time { return s.at }

// acquire waits for an idle reader. The caller must release it.
func (s *snapshot) acquire(ctx context.Context) (*conn, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	select {
	case c := <-s.pool:
		return c, nil
	case <-s.lost:
		// A reader may have been returned just before the last one was
		// discarded.
		select {
		case c := <-s.pool:
			return c, nil
		default:
		}
		return nil, ErrSnapshotLost
	case <-s.done:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// release returns a reader to the pool, or closes it when it is broken
// (or discard is set, or the snapshot is closed).
func (s *snapshot) release(c *conn, discard bool) {
	s.mu.Lock()
	if !discard && !s.closed && c.valid() {
		s.pool <- c // never blocks: the pool holds every live reader
		s.mu.Unlock()
		return
	}
	s.live--
	if s.live == 0 {
		close(s.lost)
	}
	s.mu.Unlock()
	c.close()
}

// withMeta runs f on the catalog connection.
func (s *snapshot) withMeta(f func(c *conn) error) error {
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	if !s.meta.valid() {
		return errors.New("catalog connection to " + s.src.addr + " lost")
	}
	return s.src.lostErr(s.meta, f(s.meta))
}

var _ engine.ReadWarner = (*snapshot)(nil)

// ReadWarnings returns a General warning ReasonInvalidValues per table in
// which ReadBatch wrote values with no Parquet equivalent as NULL, in
// target order. The engine picks it up through engine.ReadWarner once
// every table is read.
func (s *snapshot) ReadWarnings() engine.Warnings {
	s.mu.Lock()
	defer s.mu.Unlock()
	var w engine.Warnings
	targets := make([]string, 0, len(s.invalid))
	for t := range s.invalid {
		targets = append(targets, t)
	}
	slices.Sort(targets)
	for _, t := range targets {
		w.General = append(w.General, engine.General{
			Reason: ReasonInvalidValues,
			Detail: fmt.Sprintf("%s: %d values", t, s.invalid[t]),
		})
	}
	return w
}

// Close ends every transaction and closes every connection, also after
// the caller's context ended. Readers busy in ReadBatch are closed when
// their read returns. It always returns nil; calling it again does
// nothing.
func (s *snapshot) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	var conns []*conn
	for {
		select {
		case c := <-s.pool:
			conns = append(conns, c)
			s.live--
			continue
		default:
		}
		break
	}
	s.mu.Unlock()
	s.metaMu.Lock()
	if s.meta != nil {
		conns = append(conns, s.meta)
	}
	s.metaMu.Unlock()
	for _, c := range conns {
		c.close()
	}
	return nil
}

// quoteName quotes an identifier with backticks.
func quoteName(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}
