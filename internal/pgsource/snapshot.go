package pgsource

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5"

	"github.com/rdsexport/rdsexport/internal/engine"
)

// SQLSTATE codes handled while opening databases.
const (
	codeInvalidCatalogName   = "3D000" // database dropped after it was listed
	codeInsufficientPrivlege = "42501" // no CONNECT privilege
)

// snapshot is the engine.Snapshot of one Open call.
//
// Each exported database has a coordinator connection whose REPEATABLE READ
// transaction exported the snapshot; it stays open (and idle, apart from
// catalog queries) for the life of the snapshot, because an exported
// snapshot can only be imported while that transaction lives. Readers use
// further connections that import the snapshot; at most maxReaders of them
// are open at once, across databases.
type snapshot struct {
	src        *Source
	alloc      memory.Allocator
	maxReaders int
	at         time.Time

	dbs      []*database // in name order
	byName   map[string]*database
	warnings engine.Warnings // found while opening (NOT_FOUND databases, ...)

	readers chan struct{} // one token per concurrent reader

	mu     sync.Mutex
	closed bool
	nOpen  int // reader connections open (idle or busy)
	plans  map[string]*tablePlan
}

var (
	_ engine.Snapshot    = (*snapshot)(nil)
	_ engine.RangeReader = (*snapshot)(nil)
)

// database is one database of the snapshot.
type database struct {
	name       string
	sel        *selection
	snapshotID string

	// bounds fixes the ranges of tables of a joined snapshot (see Join).
	bounds map[[2]string][]int64

	coordMu sync.Mutex // serialises catalog queries on coord
	coord   *pgx.Conn

	idle []*pgx.Conn // reader connections with the snapshot imported; guarded by snapshot.mu
}

// Open lists the server's databases, narrows them by p.ExportOnly and
// exports one snapshot per involved database, all before returning so that
// their moments are as close as possible. Databases that vanish meanwhile
// or refuse CONNECT become warnings.
//
// The snapshot holds one coordinator connection per database for its whole
// life (the exporting transaction must stay open for others to import its
// snapshot) and opens reader connections on demand, at most
// p.Connections at once across databases.
//
// Errors are ErrInvalidURL, connection and server errors (without the
// password), or ctx's error.
func (s *Source) Open(ctx context.Context, p engine.OpenParams) (_ engine.Snapshot, err error) {
	if _, err := s.config(); err != nil {
		return nil, err
	}
	names, err := s.listDatabases(ctx)
	if err != nil {
		return nil, err
	}
	sels, notFound := selectDatabases(names, p.ExportOnly)

	snap := &snapshot{
		src:        s,
		alloc:      p.Alloc,
		maxReaders: max(p.Connections, 1),
		byName:     make(map[string]*database),
		plans:      make(map[string]*tablePlan),
	}
	if snap.alloc == nil {
		snap.alloc = memory.DefaultAllocator
	}
	snap.readers = make(chan struct{}, snap.maxReaders)
	snap.warnings.SkippedObjectives = notFound
	defer func() {
		if err != nil {
			_ = snap.Close()
		}
	}()

	// Connect first, export afterwards: connecting is the slow part, and
	// the snapshots should be as close together as possible.
	for _, sel := range sels {
		if !engine.SafeFolderName(sel.db) {
			// A "/" or a "." or ".." name would climb out of the export's
			// folder: the database is not even connected to.
			snap.warnings.General = append(snap.warnings.General,
				engine.General{Reason: engine.ReasonUnsupportedDatabaseName, Detail: sel.db})
			continue
		}
		conn, err := s.connect(ctx, sel.db)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return nil, fmt.Errorf("connect to database %s: %w", sel.db, ctx.Err())
		case isPgCode(err, codeInvalidCatalogName):
			for _, o := range sel.objectives {
				snap.warnings.SkippedObjectives = append(snap.warnings.SkippedObjectives,
					engine.Skipped{Target: o.raw, Reason: engine.ReasonNotFound})
			}
			continue
		case isPgCode(err, codeInsufficientPrivlege):
			snap.warnings.General = append(snap.warnings.General,
				engine.General{Reason: engine.ReasonTablesList, Detail: sel.db})
			continue
		default:
			return nil, fmt.Errorf("connect to database %s: %w", sel.db, err)
		}
		db := &database{name: sel.db, sel: sel, coord: conn}
		snap.dbs = append(snap.dbs, db)
		snap.byName[db.name] = db
	}
	for i, db := range snap.dbs {
		var at time.Time
		// Parallel plans would reorder partitions in EXPLAIN (see
		// appendOrder); the coordinator only runs catalog queries.
		if err := db.coord.PgConn().Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL max_parallel_workers_per_gather = 0").Close(); err != nil {
			return nil, fmt.Errorf("begin snapshot of database %s: %w", db.name, s.redact(err))
		}
		if err := db.coord.QueryRow(ctx, "SELECT pg_export_snapshot(), now()").Scan(&db.snapshotID, &at); err != nil {
			return nil, fmt.Errorf("export snapshot of database %s: %w", db.name, s.redact(err))
		}
		if i == 0 {
			snap.at = at.UTC()
		}
	}
	if len(snap.dbs) == 0 {
		snap.at = time.Now().UTC()
	}
	return snap, nil
}

// listDatabases returns the exportable databases of the server in name
// order (rdsadmin is RDS's own and never exported), limited to
// Params.Databases when set.
func (s *Source) listDatabases(ctx context.Context) ([]string, error) {
	conn, err := s.connect(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer closeConn(conn)
	rows, err := conn.Query(ctx, `SELECT datname FROM pg_catalog.pg_database
		WHERE datallowconn AND NOT datistemplate AND datname <> 'rdsadmin'
			AND (coalesce(cardinality($1::text[]), 0) = 0 OR datname = ANY($1))
		ORDER BY datname COLLATE "C"`, s.opts.Databases)
	if err != nil {
		return nil, fmt.Errorf("list databases: %w", s.redact(err))
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list databases: %w", s.redact(err))
	}
	return names, nil
}

// Time is the moment of the snapshot: now() of the first database's
// exporting transaction, in UTC.
func (s *snapshot) Time() time.Time { return s.at }

// acquire returns a reader connection to db with the snapshot imported,
// waiting for a free reader slot. The caller must release it.
func (s *snapshot) acquire(ctx context.Context, db *database) (*pgx.Conn, error) {
	select {
	case s.readers <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	conn, err := s.acquireSlot(ctx, db)
	if err != nil {
		<-s.readers
		return nil, err
	}
	return conn, nil
}

func (s *snapshot) acquireSlot(ctx context.Context, db *database) (*pgx.Conn, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	if n := len(db.idle); n > 0 {
		conn := db.idle[n-1]
		db.idle = db.idle[:n-1]
		s.mu.Unlock()
		return conn, nil
	}
	// Keep at most maxReaders reader connections open: holding a slot and
	// finding none idle here means one is idle in another database.
	var evict *pgx.Conn
	if s.nOpen >= s.maxReaders {
		for _, other := range s.dbs {
			if n := len(other.idle); n > 0 {
				evict = other.idle[n-1]
				other.idle = other.idle[:n-1]
				s.nOpen--
				break
			}
		}
	}
	s.nOpen++
	s.mu.Unlock()
	if evict != nil {
		closeConn(evict)
	}

	conn, err := s.openReader(ctx, db)
	if err != nil {
		s.mu.Lock()
		s.nOpen--
		s.mu.Unlock()
		return nil, err
	}
	return conn, nil
}

// openReader connects to db and imports its snapshot.
func (s *snapshot) openReader(ctx context.Context, db *database) (*pgx.Conn, error) {
	conn, err := s.src.connect(ctx, db.name)
	if err != nil {
		return nil, fmt.Errorf("connect to database %s: %w", db.name, err)
	}
	// The id comes from pg_export_snapshot (hex digits and dashes); quote
	// it anyway.
	q := "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '" +
		strings.ReplaceAll(db.snapshotID, "'", "''") + "'"
	if err := conn.PgConn().Exec(ctx, q).Close(); err != nil {
		closeConn(conn)
		return nil, fmt.Errorf("import snapshot of database %s: %w", db.name, s.src.redact(err))
	}
	return conn, nil
}

// release returns a reader connection. A connection that is closed (pgx
// closes it when a COPY is interrupted) or whose transaction failed is
// discarded; the next acquire opens a fresh one with the same snapshot.
func (s *snapshot) release(db *database, conn *pgx.Conn) {
	defer func() { <-s.readers }()
	healthy := !conn.IsClosed() && conn.PgConn().TxStatus() == 'T'
	s.mu.Lock()
	if healthy && !s.closed {
		db.idle = append(db.idle, conn)
		s.mu.Unlock()
		return
	}
	s.nOpen--
	s.mu.Unlock()
	closeConn(conn)
}

// Close ends every transaction and closes every connection, using its own
// bounded context so that it works after the caller's context ended. It
// always returns nil; calling it again does nothing.
func (s *snapshot) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var conns []*pgx.Conn
	for _, db := range s.dbs {
		conns = append(conns, db.idle...)
		db.idle = nil
		if db.coord != nil {
			conns = append(conns, db.coord)
		}
	}
	s.nOpen = 0
	s.mu.Unlock()

	// Closing the connection ends its transaction; a ROLLBACK first keeps
	// the server log free of "unexpected EOF within transaction".
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if !c.IsClosed() {
				_ = c.PgConn().Exec(ctx, "ROLLBACK").Close()
			}
			_ = c.Close(ctx)
		})
	}
	wg.Wait()
	return nil
}

// withCoord runs f on db's coordinator connection, which sees the
// snapshot; f must not leave the transaction.
func (db *database) withCoord(f func(conn *pgx.Conn) error) error {
	db.coordMu.Lock()
	defer db.coordMu.Unlock()
	if db.coord.IsClosed() {
		return errors.New("coordinator connection of database " + db.name + " lost")
	}
	return f(db.coord)
}
