// Package sqlitetaskstore implements export.Store and export.SnapshotStore
// in one SQLite file through the pure-Go driver modernc.org/sqlite and
// database/sql. It is the single-node default: tasks and snapshot records
// survive restarts without an external database.
//
// It owns the file: its schema (embedded migrations tracked in PRAGMA
// user_version), its mode (0600), the integrity check before it is served
// (New, Check) and its online copy (Backup). It imports export and the
// SQLite driver; it must not import any other adapter, the engine or the
// service.
package sqlitetaskstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rdsexport/rdsexport/internal/export"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

//go:embed migrations/*.sql
var migrationsFS embed.FS

// Store is an export.Store and an export.SnapshotStore kept in one SQLite
// file. It is safe for concurrent use. Writes go through a single
// connection, so they never contend for SQLite's write lock inside one
// process; reads use a separate pool and run concurrently thanks to WAL.
type Store struct {
	write *sql.DB // exactly one connection; every statement that writes
	read  *sql.DB // query_only connections for the Get and List methods
	now   func() time.Time
}

var _ export.Store = (*Store)(nil)

type config struct {
	busyTimeout  time.Duration
	maxReadConns int
	mustExist    bool
	logger       *slog.Logger
	now          func() time.Time
}

// Option configures New.
type Option func(*config)

// WithBusyTimeout sets how long a statement waits for a lock held by another
// connection or process before failing with SQLITE_BUSY. The default is 5s.
func WithBusyTimeout(d time.Duration) Option {
	return func(c *config) { c.busyTimeout = d }
}

// WithMaxReadConns sets the size of the read pool. The default is
// GOMAXPROCS, at least 2.
func WithMaxReadConns(n int) Option {
	return func(c *config) { c.maxReadConns = n }
}

// WithMustExist makes New refuse to create a store: a missing or empty
// file, or one without the schema, is an error wrapping ErrNoStore instead
// of a new, empty store. Callers use it when other data depends on the
// records of an existing store.
func WithMustExist() Option {
	return func(c *config) { c.mustExist = true }
}

// WithNow sets the clock that dates the events the store records; the
// default is time.Now.
func WithNow(now func() time.Time) Option {
	return func(c *config) { c.now = now }
}

// WithLogger sets the logger of New's warnings (a store file other users
// could read, tightened to 0600). The default discards them.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// New opens (creating if needed) the SQLite database at path, checks it
// with PRAGMA quick_check and brings its schema up to date. path is a file
// name; it must not be empty, ":memory:" or contain '?'. The directory must
// exist.
//
// The file and its -wal and -shm files are created with mode 0600 whatever
// the umask; existing ones open to other users are set to 0600 (with a
// warning), since they hold every account's tasks.
//
// It returns an error wrapping ErrNoStore under WithMustExist when there is
// no store to open, a *DamagedError when SQLite finds the file malformed
// (nothing is written to it then), and other errors when the file cannot
// be opened or created, when a migration fails, or when the file was
// written by a newer version with a schema this code does not know.
func New(ctx context.Context, path string, opts ...Option) (*Store, error) {
	cfg := config{busyTimeout: 5 * time.Second, maxReadConns: max(2, runtime.GOMAXPROCS(0))}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") || strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("sqlitetaskstore: invalid database path %q", path)
	}
	if cfg.maxReadConns < 1 {
		return nil, fmt.Errorf("sqlitetaskstore: max read conns %d < 1", cfg.maxReadConns)
	}
	existed, err := prepareFile(path, cfg.mustExist, cfg.logger)
	if err != nil {
		return nil, err
	}
	// The check reads the file before anything writes to it: not even the
	// switch to WAL below touches a damaged file.
	if existed {
		if err := checkReadOnly(ctx, path); err != nil {
			return nil, err
		}
	}

	q := url.Values{}
	q.Set("_busy_timeout", strconv.FormatInt(cfg.busyTimeout.Milliseconds(), 10))
	q.Set("_journal_mode", "WAL")
	q.Set("_foreign_keys", "1")
	// FULL rather than NORMAL: in WAL mode NORMAL may lose the last commits
	// on power loss. Here a lost commit is an accepted StartExportTask that
	// vanishes, or a COMPLETE that reverts to IN_PROGRESS and is then failed
	// by recovery although its files are in S3. Task writes are a handful
	// per task plus throttled progress, so the fsync per commit is cheap.
	q.Set("_synchronous", "FULL")
	// CreateTask reads then inserts; taking the write lock at BEGIN makes
	// that atomic across processes too and avoids lock upgrades that fail
	// with SQLITE_BUSY instead of waiting.
	q.Set("_txlock", "immediate")

	write, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlitetaskstore: open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)

	s := &Store{write: write, now: cfg.now}
	if err := s.migrate(ctx, cfg.mustExist); err != nil {
		_ = write.Close()
		if errors.Is(err, ErrNoStore) {
			return nil, fmt.Errorf("sqlitetaskstore: %s: %w", path, err)
		}
		return nil, fmt.Errorf("sqlitetaskstore: open %s: %w", path, err)
	}

	// The read pool is opened after migration so that the file is already
	// in WAL mode when it connects.
	q.Del("_txlock")
	q.Del("_journal_mode")
	q.Set("_query_only", "1")
	read, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("sqlitetaskstore: open %s: %w", path, err)
	}
	read.SetMaxOpenConns(cfg.maxReadConns)
	read.SetMaxIdleConns(cfg.maxReadConns)
	if err := read.PingContext(ctx); err != nil {
		_ = write.Close()
		_ = read.Close()
		return nil, fmt.Errorf("sqlitetaskstore: open %s: %w", path, err)
	}
	s.read = read
	return s, nil
}

// Close closes both connection pools and returns their errors joined. It
// is idempotent; the Store must not be used afterwards.
func (s *Store) Close() error {
	return errors.Join(s.read.Close(), s.write.Close())
}

// migrate applies, in one transaction, every embedded migration whose
// number is above PRAGMA user_version, then records the new version.
// Migration files are numbered from 1 without gaps: NNNN_name.sql. Under
// mustExist a file at version 0 (no schema) is ErrNoStore.
func (s *Store) migrate(ctx context.Context, mustExist bool) error {
	entries, err := fs.ReadDir(migrationsFS, "migrations")
	if err != nil {
		return fmt.Errorf("read migrations: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	for i, name := range names {
		n, _, ok := strings.Cut(name, "_")
		if v, err := strconv.Atoi(n); !ok || err != nil || v != i+1 {
			return fmt.Errorf("migration %s: want number %d", name, i+1)
		}
	}

	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer func() { _ = tx.Rollback() }()

	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if version > len(names) {
		return fmt.Errorf("schema version %d is newer than this program knows (%d)", version, len(names))
	}
	if version == len(names) {
		return nil
	}
	if version == 0 && mustExist {
		return errNoSchema
	}
	for _, name := range names[version:] {
		body, err := migrationsFS.ReadFile("migrations/" + name)
		if err != nil {
			return fmt.Errorf("read migration %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			return fmt.Errorf("apply migration %s: %w", name, err)
		}
	}
	// PRAGMA takes no bound parameters; the value is our own integer.
	if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(len(names))); err != nil {
		return fmt.Errorf("write schema version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// inTx runs f in a write transaction, committed when f returns nil.
func (s *Store) inTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// Ping reports whether the store can take a write: it begins a write
// transaction (taking SQLite's write lock, as every change must) and rolls
// it back. It fails when the file is locked by another process for longer
// than ctx allows or the busy timeout, when the file cannot be written, or
// when the Store is closed.
func (s *Store) Ping(ctx context.Context) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlitetaskstore: ping: %w", err)
	}
	if err := tx.Rollback(); err != nil {
		return fmt.Errorf("sqlitetaskstore: ping: %w", err)
	}
	return nil
}
