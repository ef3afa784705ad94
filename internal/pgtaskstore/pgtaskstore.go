// Package pgtaskstore implements export.Store, export.SnapshotStore and
// export.EventStore on PostgreSQL through pgx and its pool, so that several
// rdsexport nodes can share one database.
//
// It owns its tables, all named rdsexport_*, and their schema (embedded
// migrations, applied once under a session advisory lock however many
// nodes start at once); other tables in the same database or schema are
// left alone. Every status change is one conditional UPDATE ... RETURNING,
// the rule of one active export per source is a unique partial index, and
// the snapshot quota is counted under a transaction-scoped advisory lock.
// Events are recorded in the transaction of the change they report.
//
// Records are paged by seq (Describe* Marker), and an identity hands out
// seq at insert, not at commit: two nodes inserting for one account could
// commit seq 11 before seq 10, and a client that read 11 would page past
// 10. Every insert of an account's task, snapshot or event therefore runs
// under a transaction-scoped advisory lock on the account, taken before
// the insert draws its seq, so that per account seq order is commit order.
//
// It imports export and pgx; it must not import any other adapter, the
// engine or the service.
package pgtaskstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rdsexport/rdsexport/internal/export"
)

//go:embed migrations/*.sql
var migrationsFS embed.FS

// Advisory locks of rdsexport use the two-key form with these classes, so
// that they never meet the one-key locks other users of the database take
// (PostgreSQL keeps the two forms apart), nor each other.
const (
	lockClassMigrate = 0x72647365 // "rdse"
	lockClassQuota   = 0x72647366
	lockClassAccount = 0x72647367
)

// versionTable records the migrations applied, one row each.
const versionTable = "rdsexport_schema_migrations"

// Store is an export.Store, an export.SnapshotStore and an
// export.EventStore in a PostgreSQL database. It is safe for concurrent
// use by several goroutines and by several processes sharing the database.
type Store struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

var (
	_ export.Store         = (*Store)(nil)
	_ export.SnapshotStore = (*Store)(nil)
	_ export.EventStore    = (*Store)(nil)
)

// Params configures New.
type Params struct {
	// URL is a PostgreSQL connection URL or keyword/value string. Pool
	// settings pgxpool reads from it (pool_max_conns, ...) apply unless
	// the fields below override them.
	URL string
	// MaxConns is the size of the connection pool; 0 keeps the URL's
	// pool_max_conns or pgxpool's default (4, or the number of CPUs).
	MaxConns int32
	// LockTimeout bounds how long a statement waits for a row or table
	// lock (lock_timeout); 0 means 10s. A statement past it fails rather
	// than queueing behind a stuck node.
	LockTimeout time.Duration
	// IdleInTransactionTimeout ends a session that holds a transaction
	// open without a statement for that long
	// (idle_in_transaction_session_timeout), releasing its locks; 0 means
	// 60s.
	IdleInTransactionTimeout time.Duration
	// ApplicationName is shown in pg_stat_activity; "" means "rdsexport"
	// unless the URL sets application_name.
	ApplicationName string
	// Now dates the events the store records; nil means time.Now.
	Now func() time.Time
}

// ErrNewerSchema is returned (wrapped) by New and Check when the database
// holds migrations this program does not know: a newer rdsexport wrote it.
var ErrNewerSchema = errors.New("schema is newer than this program knows")

// New connects to the database of p.URL and brings the rdsexport tables up
// to date. Nodes starting at once apply each migration once: they take
// turns under a session advisory lock, waiting for it as long as ctx
// allows.
//
// It returns an error when p.URL does not parse (the message never quotes
// it: it may hold a password), when the database cannot be reached, when a
// migration fails, and an error wrapping ErrNewerSchema when the database
// was migrated by a newer version.
func New(ctx context.Context, p Params) (*Store, error) {
	cfg, err := poolConfig(p)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, cfg.ConnConfig); err != nil {
		return nil, fmt.Errorf("pgtaskstore: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgtaskstore: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgtaskstore: %w", err)
	}
	now := p.Now
	if now == nil {
		now = time.Now
	}
	return &Store{pool: pool, now: now}, nil
}

// poolConfig parses p.URL and applies the rest of p.
func poolConfig(p Params) (*pgxpool.Config, error) {
	if p.MaxConns < 0 || p.LockTimeout < 0 || p.IdleInTransactionTimeout < 0 {
		return nil, errors.New("pgtaskstore: negative pool size or timeout")
	}
	cfg, err := pgxpool.ParseConfig(p.URL)
	if err != nil {
		// pgx's message quotes the string, redacting passwords only as far
		// as it can tell where they are.
		return nil, errors.New("pgtaskstore: the store URL is not a valid PostgreSQL connection URL")
	}
	if p.MaxConns > 0 {
		cfg.MaxConns = p.MaxConns
		cfg.MinConns = min(cfg.MinConns, cfg.MaxConns)
	}
	lock, idle := p.LockTimeout, p.IdleInTransactionTimeout
	if lock == 0 {
		lock = 10 * time.Second
	}
	if idle == 0 {
		idle = time.Minute
	}
	rp := cfg.ConnConfig.RuntimeParams
	rp["lock_timeout"] = strconv.FormatInt(lock.Milliseconds(), 10)
	rp["idle_in_transaction_session_timeout"] = strconv.FormatInt(idle.Milliseconds(), 10)
	// Statements are prepared once per connection (pgx's statement cache);
	// a generic plan would pick one index for every filter value, while
	// their selectivities differ a hundredfold (a status of 95% of the
	// tasks against one of 1%). Planning these queries costs ~0.1 ms.
	rp["plan_cache_mode"] = "force_custom_plan"
	if p.ApplicationName != "" {
		rp["application_name"] = p.ApplicationName
	} else if rp["application_name"] == "" {
		rp["application_name"] = "rdsexport"
	}
	return cfg, nil
}

// Close closes the pool, waiting for connections in use to be returned.
// The Store must not be used afterwards.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Ping reports whether the store can take a write: it runs a read-write
// transaction that takes no lock, and fails when the database is out of
// reach, read-only (a standby), or the Store is closed.
func (s *Store) Ping(ctx context.Context) error {
	var readOnly string
	if err := s.pool.QueryRow(ctx, `SHOW transaction_read_only`).Scan(&readOnly); err != nil {
		return fmt.Errorf("pgtaskstore: ping: %w", err)
	}
	if readOnly == "on" {
		return errors.New("pgtaskstore: ping: the database is read-only")
	}
	return nil
}

// migrations returns the embedded migration names in order, checking that
// they are numbered from 1 without gaps: NNNN_name.sql.
func migrations() ([]string, error) {
	entries, err := fs.ReadDir(migrationsFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	for i, name := range names {
		n, _, ok := strings.Cut(name, "_")
		if v, err := strconv.Atoi(n); !ok || err != nil || v != i+1 {
			return nil, fmt.Errorf("migration %s: want number %d", name, i+1)
		}
	}
	return names, nil
}

// migrate applies the missing migrations on a connection of its own that
// holds the session advisory lock of migrations meanwhile; closing it
// releases the lock whatever happened. Each migration is one transaction
// together with its row in versionTable.
func migrate(ctx context.Context, connConfig *pgx.ConnConfig) error {
	names, err := migrations()
	if err != nil {
		return err
	}
	cc := connConfig.Copy()
	// Waiting for another node's migration is bounded by ctx, not by the
	// pool's lock_timeout.
	cc.RuntimeParams["lock_timeout"] = "0"
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1, $2)", lockClassMigrate, 1); err != nil {
		return fmt.Errorf("migrate: take lock: %w", err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+versionTable+` (
			version    integer PRIMARY KEY,
			name       text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	version, err := schemaVersion(ctx, conn)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if version > len(names) {
		return fmt.Errorf("migrate: version %d: %w (%d)", version, ErrNewerSchema, len(names))
	}
	for i, name := range names[version:] {
		body, err := migrationsFS.ReadFile("migrations/" + name)
		if err != nil {
			return fmt.Errorf("read migration %s: %w", name, err)
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO `+versionTable+` (version, name) VALUES ($1, $2)`, version+i+1, name)
			return err
		})
		if err != nil {
			return fmt.Errorf("apply migration %s: %w", name, err)
		}
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock($1, $2)", lockClassMigrate, 1); err != nil {
		return fmt.Errorf("migrate: release lock: %w", err)
	}
	return nil
}

// schemaVersion is the number of the last migration applied, 0 for none.
func schemaVersion(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (int, error) {
	var v int
	err := q.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM `+versionTable).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// CheckResult is what Check found.
type CheckResult struct {
	// SchemaVersion is the last migration applied; KnownVersion the last
	// this program has.
	SchemaVersion, KnownVersion int
	Tasks, Snapshots            int64
	// Server is the PostgreSQL version (server_version).
	Server string
}

// ErrNoSchema is returned (wrapped) by Check when the database holds no
// rdsexport tables yet (the first New creates them).
var ErrNoSchema = errors.New("no rdsexport tables in the database")

// Check connects to the database of p.URL without changing anything and
// reports the schema version and the number of records. It returns an
// error wrapping ErrNoSchema when nothing was migrated yet, one wrapping
// ErrNewerSchema when a newer version migrated it, and one naming the
// first missing migration when the schema is behind this program (the
// next New applies it). Errors never quote p.URL.
func Check(ctx context.Context, p Params) (*CheckResult, error) {
	cfg, err := poolConfig(p)
	if err != nil {
		return nil, err
	}
	names, err := migrations()
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		return nil, fmt.Errorf("pgtaskstore: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	r := &CheckResult{KnownVersion: len(names)}
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL, current_setting('server_version')`, versionTable).
		Scan(&exists, &r.Server); err != nil {
		return nil, fmt.Errorf("pgtaskstore: check: %w", err)
	}
	if !exists {
		return r, fmt.Errorf("pgtaskstore: %w", ErrNoSchema)
	}
	if r.SchemaVersion, err = schemaVersion(ctx, conn); err != nil {
		return nil, fmt.Errorf("pgtaskstore: %w", err)
	}
	switch {
	case r.SchemaVersion == 0:
		return r, fmt.Errorf("pgtaskstore: %w", ErrNoSchema)
	case r.SchemaVersion > len(names):
		return r, fmt.Errorf("pgtaskstore: version %d: %w (%d)", r.SchemaVersion, ErrNewerSchema, len(names))
	case r.SchemaVersion < len(names):
		return r, fmt.Errorf("pgtaskstore: schema version %d, migration %s not applied yet", r.SchemaVersion, names[r.SchemaVersion])
	}
	// Exact counts read both tables; Check is run by hand, not per request.
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM rdsexport_export_tasks), (SELECT count(*) FROM rdsexport_snapshots)`).
		Scan(&r.Tasks, &r.Snapshots); err != nil {
		return nil, fmt.Errorf("pgtaskstore: check: %w", err)
	}
	return r, nil
}
