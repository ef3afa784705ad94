package pgsource

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/idleconn"
)

// DefaultApplicationName is the application_name of every connection
// unless Params.ApplicationName says otherwise, so that a DBA can tell
// export sessions apart in pg_stat_activity.
const DefaultApplicationName = "rdsexport"

// ErrInvalidURL is returned (wrapped) by Version and Open when the source
// URL cannot be parsed. The URL itself is never part of the error text,
// because it may contain a password.
var ErrInvalidURL = errors.New("invalid PostgreSQL source URL")

// ErrClosed is returned by a Snapshot's methods after Close.
var ErrClosed = errors.New("snapshot closed")

// Params configures a Source. The zero value is usable.
type Params struct {
	// ApplicationName is sent as application_name; "" means
	// DefaultApplicationName.
	ApplicationName string
	// ConnectTimeout bounds each connection attempt, from the TCP dial to
	// the end of the start-up exchange; 0 means 30 seconds. A shorter
	// connect_timeout in the URL takes precedence.
	ConnectTimeout time.Duration
	// ReadTimeout is how long a connection may wait for the server to
	// send (or accept) a single byte; 0 means DefaultReadTimeout. It
	// bounds silence, not the length of a statement: a COPY that keeps
	// sending rows is never cut.
	ReadTimeout time.Duration
	// Databases, when not empty, limits the server to these databases:
	// the others are not exported, as if they did not exist.
	Databases []string
	// MinRangeBytes is the least heap size of one ranged read of a plain
	// table (engine.Table.Ranges); 0 means DefaultMinRangeBytes. A table
	// under twice this size is read in one piece.
	MinRangeBytes int64
}

// DefaultMinRangeBytes is the default Params.MinRangeBytes: a range of
// 32 MiB of heap makes Parquet files of a few MB (spec §8.2 expects 1-10 MB)
// while keeping the per-range cost (one COPY, one file series) small.
const DefaultMinRangeBytes = 32 << 20

// DefaultReadTimeout is the default Params.ReadTimeout: far above what a
// healthy server stays silent for in an export (a COPY's first row after a
// long run of dead tuples), far below forever.
const DefaultReadTimeout = 10 * time.Minute

// transactionTimeoutVersion is the first server_version_num with
// transaction_timeout (PostgreSQL 17).
const transactionTimeoutVersion = 170000

// rangesPerReader times OpenParams.Connections is the most ranges a table
// is split into: more ranges than readers let a reader that finishes early
// take more work.
const rangesPerReader = 2

// Source is a PostgreSQL server reached through one connection URL. The
// URL's database is only used to list the server's databases; Open
// connects to every database it exports. A Source is safe for concurrent
// use and holds no connection between calls.
type Source struct {
	url  string
	opts Params

	once     sync.Once
	cfg      *pgx.ConnConfig
	password string
	cfgErr   error
}

var _ engine.Source = (*Source)(nil)

// New returns a Source for url (postgres://user:pass@host:port/db?...,
// or a keyword/value string). It does not connect; a malformed URL is
// reported by the first Version or Open call.
func New(url string, opts Params) *Source {
	if opts.ApplicationName == "" {
		opts.ApplicationName = DefaultApplicationName
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 30 * time.Second
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = DefaultReadTimeout
	}
	if opts.MinRangeBytes <= 0 {
		opts.MinRangeBytes = DefaultMinRangeBytes
	}
	return &Source{url: url, opts: opts}
}

// sessionParams are the startup parameters of every connection: the text
// forms of spec §9.2 depend on them. The timeouts are off whatever the
// database or role sets: the snapshot's coordinator and idle readers sit
// in their transactions for the whole export, and once the coordinator is
// gone no reader can join the snapshot; a big table's COPY is one long
// statement.
func (s *Source) sessionParams() map[string]string {
	return map[string]string{
		"statement_timeout":                   "0",
		"idle_in_transaction_session_timeout": "0",
		"DateStyle":                           "ISO",
		"IntervalStyle":                       "postgres",
		"extra_float_digits":                  "3",
		"TimeZone":                            "UTC",
		"bytea_output":                        "hex",
		"client_encoding":                     "UTF8",
		"application_name":                    s.opts.ApplicationName,
	}
}

func (s *Source) config() (*pgx.ConnConfig, error) {
	s.once.Do(func() {
		cfg, err := pgx.ParseConfig(s.url)
		if err != nil {
			// The parse error may quote the URL; only the sentinel leaves.
			s.cfgErr = ErrInvalidURL
			return
		}
		s.password = cfg.Password
		if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > s.opts.ConnectTimeout {
			cfg.ConnectTimeout = s.opts.ConnectTimeout
		}
		for k, v := range s.sessionParams() {
			cfg.RuntimeParams[k] = v
		}
		// Simple protocol avoids a prepare round trip per catalog query
		// and keeps no server-side statements in long transactions.
		cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
		// pgx waits on the socket without a deadline while a statement
		// runs: a server that stops answering would hold the export
		// forever. connect_timeout covers the start-up; this covers the
		// rest.
		dial, idle := cfg.DialFunc, s.opts.ReadTimeout
		cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return idleconn.New(nc, idle), nil
		}
		s.cfg = cfg
	})
	return s.cfg, s.cfgErr
}

// connect opens one connection to database db ("" means the URL's
// database).
func (s *Source) connect(ctx context.Context, db string) (*pgx.Conn, error) {
	base, err := s.config()
	if err != nil {
		return nil, err
	}
	cfg := base.Copy()
	if db != "" {
		cfg.Database = db
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, s.redact(err)
	}
	if transactionTimeout(conn.PgConn().ParameterStatus("server_version")) {
		// Not a start-up parameter: servers before 17 refuse a
		// connection that names a setting they do not know.
		if err := conn.PgConn().Exec(ctx, "SET transaction_timeout = 0").Close(); err != nil {
			closeConn(conn)
			return nil, fmt.Errorf("set transaction_timeout: %w", s.redact(err))
		}
	}
	return conn, nil
}

// transactionTimeout reports whether a server of server_version v has
// transaction_timeout (PostgreSQL 17), which would end the snapshot's
// long transactions when set on the database, the role or the server.
func transactionTimeout(v string) bool {
	v = strings.TrimSpace(v)
	end := strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(v)
	}
	n, err := strconv.Atoi(v[:end]) // "17.2", "18beta1", "17devel"
	return err == nil && n*10000 >= transactionTimeoutVersion
}

// Version returns the server_version reported at connection start,
// without a distribution suffix ("15.19", not "15.19 (Debian ...)").
// Errors are ErrInvalidURL or connection failures, never containing the
// password.
func (s *Source) Version(ctx context.Context) (string, error) {
	conn, err := s.connect(ctx, "")
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	defer closeConn(conn)
	v := conn.PgConn().ParameterStatus("server_version")
	if v == "" {
		if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&v); err != nil {
			return "", fmt.Errorf("server version: %w", s.redact(err))
		}
	}
	return cleanVersion(v), nil
}

// cleanVersion strips what follows the version number, e.g.
// "15.19 (Debian 15.19-1.pgdg120+1)" or "16beta1".
func cleanVersion(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.IndexAny(v, " ("); i >= 0 {
		v = v[:i]
	}
	return v
}

// closeConn closes conn with a bounded context that ignores the caller's
// cancellation, so connections are released even after a cancel.
func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}

// redact makes sure err's text does not contain the password. pgx already
// avoids it, but a server or network error could echo it; when it does,
// the error is flattened (losing its chain except for context errors).
func (s *Source) redact(err error) error {
	if err == nil || s.password == "" || !strings.Contains(err.Error(), s.password) {
		return err
	}
	return &redactedError{
		msg: strings.ReplaceAll(err.Error(), s.password, "xxxxx"),
		ctx: contextErr(err),
	}
}

func contextErr(err error) error {
	switch {
	case errors.Is(err, context.Canceled):
		return context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return context.DeadlineExceeded
	}
	return nil
}

type redactedError struct {
	msg string
	ctx error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.ctx }

// isPgCode reports whether err is a server error with SQLSTATE code.
func isPgCode(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}
