package mysqlsource

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/idleconn"
)

// ErrInvalidURL is returned (wrapped) by Version and Open when the source
// URL cannot be parsed. The URL itself is never part of the error text,
// because it may contain a password.
var ErrInvalidURL = errors.New("invalid MySQL source URL")

// Params configures a Source. The zero value is usable.
type Params struct {
	// ConnectTimeout bounds each connection attempt, from the TCP dial to
	// the end of the handshake and session set-up; 0 means 30 seconds. A
	// timeout parameter in the URL takes precedence.
	ConnectTimeout time.Duration
	// ReadTimeout is how long a connection may wait for the server to
	// send (or accept) a single byte once connected; 0 means
	// DefaultReadTimeout. It bounds silence, not the length of a query: a
	// long result that keeps arriving is never cut.
	ReadTimeout time.Duration
	// Databases, when not empty, limits the server to these databases:
	// the others are not exported, as if they did not exist.
	Databases []string
	// MinRangeBytes is the least data size of one ranged read of a table
	// (engine.Table.Ranges); 0 means DefaultMinRangeBytes. A table under
	// twice this size is read in one piece.
	MinRangeBytes int64
}

// DefaultMinRangeBytes is the default Params.MinRangeBytes: a range of
// 32 MiB of InnoDB data makes Parquet files of a few MB (spec §8.2 expects
// 1-10 MB) while keeping the per-range cost (one query, one file series)
// small.
const DefaultMinRangeBytes = 32 << 20

// DefaultReadTimeout is the default Params.ReadTimeout. It is well above
// the waits a healthy server may make before its first byte: the 60 s
// lock_wait_timeout of FLUSH TABLES WITH READ LOCK, a scan over a long run
// of rows that other transactions deleted.
const DefaultReadTimeout = 10 * time.Minute

// noWaitTimeout is the largest wait_timeout (seconds) a server takes: a
// reader may sit idle in its transaction for the whole export.
const noWaitTimeout = "31536000"

// rangesPerReader times the snapshot's readers is the most ranges a table
// is split into: more ranges than readers let a reader that finishes early
// take more work.
const rangesPerReader = 2

// Source is a MySQL or MariaDB server reached through one URL (see the
// package documentation for its form). A Source is safe for concurrent
// use and holds no connection between calls.
type Source struct {
	url  string
	opts Params

	once           sync.Once
	connector      driver.Connector
	addr           string
	password       string
	connectTimeout time.Duration
	plain          bool // no TLS: rows are read by the wire reader
	cfgErr         error
}

var _ engine.Source = (*Source)(nil)

// New returns a Source for url. It does not connect; a malformed URL is
// reported by the first Version or Open call.
func New(url string, opts Params) *Source {
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

// parseURL turns the source URL into a driver configuration. Its errors
// never quote the URL.
func parseURL(raw string, connectTimeout time.Duration) (*mysql.Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, ErrInvalidURL
	}
	if u.Scheme != "mysql" || u.Host == "" || u.Opaque != "" {
		return nil, ErrInvalidURL
	}
	cfg := mysql.NewConfig()
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return nil, ErrInvalidURL
	}
	if port == "" {
		port = "3306"
	}
	cfg.Net = "tcp"
	cfg.Addr = net.JoinHostPort(host, port)
	cfg.Timeout = connectTimeout
	for k, vs := range u.Query() {
		v := vs[len(vs)-1]
		switch k {
		case "tls":
			switch v {
			case "true", "false", "skip-verify", "preferred":
				cfg.TLSConfig = v
			default:
				return nil, fmt.Errorf("%w: tls must be true, false, skip-verify or preferred", ErrInvalidURL)
			}
		case "timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("%w: bad timeout", ErrInvalidURL)
			}
			cfg.Timeout = d
		default:
			return nil, fmt.Errorf("%w: unknown parameter %q", ErrInvalidURL, k)
		}
	}
	// Values are decoded from the text protocol's raw bytes (read.go):
	// no time parsing, no client-side interpolation.
	cfg.ParseTime = false
	cfg.InterpolateParams = false
	if err := cfg.Apply(mysql.Charset("utf8mb4", "utf8mb4_general_ci")); err != nil {
		return nil, ErrInvalidURL
	}
	cfg.Params = map[string]string{
		// TIMESTAMP values are converted to the session time zone.
		"time_zone": "'+00:00'",
		// A slow consumer (an S3 upload) may leave a streamed result
		// unread for a while; the default 60 s would abort the read.
		"net_write_timeout": "3600",
		// Readers wait idle in their transactions while others read: a
		// server whose wait_timeout is short would close them, and a
		// closed reader cannot rejoin the snapshot.
		"wait_timeout": noWaitTimeout,
	}
	// The driver would log network errors (a cancelled read) to stderr.
	cfg.Logger = &mysql.NopLogger{}
	return cfg, nil
}

func (s *Source) config() error {
	s.once.Do(func() {
		cfg, err := parseURL(s.url, s.opts.ConnectTimeout)
		if err != nil {
			s.cfgErr = err
			return
		}
		s.addr, s.password, s.connectTimeout = cfg.Addr, cfg.Passwd, cfg.Timeout
		// Without TLS (and parseURL never asks for compression) the
		// wire reader can read rows on the socket itself.
		s.plain = cfg.TLSConfig == "" || cfg.TLSConfig == "false"
		// The driver's timeout covers the TCP dial only, and its read and
		// write timeouts would not say why a connection was lost: each
		// connection is wrapped so that silence fails it, and connect
		// puts a deadline on the whole handshake.
		idle := s.opts.ReadTimeout
		cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			ic := idleconn.New(nc, idle)
			if slot, ok := ctx.Value(dialSlot{}).(**idleconn.Conn); ok {
				*slot = ic
			}
			return ic, nil
		}
		c, err := mysql.NewConnector(cfg)
		if err != nil {
			s.cfgErr = ErrInvalidURL
			return
		}
		s.connector = c
	})
	return s.cfgErr
}

// conn is one driver connection. Queries use the text protocol, whose
// rows arrive as raw bytes (numbers are parsed by the driver, or by the
// wire reader on a plain connection).
type conn struct {
	c       driver.Conn
	q       driver.QueryerContext
	e       driver.ExecerContext
	nc      *idleconn.Conn // the network connection under c
	plain   bool           // nc carries the protocol in the clear (wire.go)
	version string         // VERSION()
}

// dialSlot is the context key under which connect receives the network
// connection the driver dialed.
type dialSlot struct{}

// ErrNoAnswer is returned (wrapped) when the server stopped answering: it
// did not complete the handshake within the connect timeout, or sent
// nothing for Params.ReadTimeout while a statement waited on it.
var ErrNoAnswer = errors.New("no answer from the server")

// connect opens one connection and sets up its session (see
// sessionSettings). The whole handshake must finish within the connect
// timeout. Errors name the server's address and never contain the
// password; ErrNoAnswer when the server is silent.
func (s *Source) connect(ctx context.Context) (_ *conn, err error) {
	if err := s.config(); err != nil {
		return nil, err
	}
	var nc *idleconn.Conn
	cctx, cancel := context.WithTimeout(context.WithValue(ctx, dialSlot{}, &nc), s.connectTimeout)
	defer cancel()
	c, err := s.connector.Connect(cctx)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			err = ctx.Err()
		case cctx.Err() != nil || nc != nil && nc.TimedOut():
			err = fmt.Errorf("%w: handshake not completed within %s", ErrNoAnswer, s.connectTimeout)
		}
		return nil, fmt.Errorf("connect to %s: %w", s.addr, s.redact(err))
	}
	q, okQ := c.(driver.QueryerContext)
	e, okE := c.(driver.ExecerContext)
	if !okQ || !okE || nc == nil {
		_ = c.Close()
		return nil, errors.New("mysql driver connection lacks QueryerContext")
	}
	cn := &conn{c: c, q: q, e: e, nc: nc, plain: s.plain}
	defer func() {
		if err != nil {
			cn.close()
		}
	}()
	// The session set-up is part of connecting: a server that completes
	// the handshake and then stays silent fails here, not later.
	err = cn.query(cctx, "SELECT VERSION()", func(row []driver.Value) error {
		cn.version = asString(row[0])
		return nil
	})
	if err == nil {
		if set := sessionSettings(cn.version); set != "" {
			err = cn.exec(cctx, set)
		}
	}
	if err != nil {
		switch {
		case ctx.Err() != nil:
			err = ctx.Err()
		case cctx.Err() != nil || nc.TimedOut():
			err = fmt.Errorf("%w: session set-up not completed within %s", ErrNoAnswer, s.connectTimeout)
		}
		return nil, fmt.Errorf("set up session on %s: %w", s.addr, s.redact(err))
	}
	return cn, nil
}

// sessionSettings returns the SET statement that switches off the server's
// statement time limit for the session, for the server whose VERSION() is
// version, or "" when it has none. The variable differs by flavour, and
// setting one a server does not know is an error: MariaDB 10.1+ has
// max_statement_time (seconds), MySQL 5.7.8+ and Aurora MySQL have
// max_execution_time (milliseconds, SELECT only). Both may be set globally
// or per user by an administrator, and would end a long read.
func sessionSettings(version string) string {
	v := versionNumbers(cleanVersion(version))
	if strings.Contains(strings.ToLower(version), "mariadb") {
		if atLeast(v, 10, 1, 0) {
			return "SET SESSION max_statement_time = 0"
		}
		return ""
	}
	if atLeast(v, 5, 7, 8) {
		return "SET SESSION max_execution_time = 0"
	}
	return ""
}

// versionNumbers parses "10.11.9" into [10 11 9]; missing or malformed
// parts are 0.
func versionNumbers(v string) [3]int {
	var out [3]int
	for i, p := range strings.SplitN(v, ".", 3) {
		n := 0
		for _, r := range p {
			if r < '0' || r > '9' {
				break
			}
			n = n*10 + int(r-'0')
		}
		out[i] = n
	}
	return out
}

// atLeast reports whether v is at least major.minor.patch.
func atLeast(v [3]int, major, minor, patch int) bool {
	w := [3]int{major, minor, patch}
	for i := range v {
		if v[i] != w[i] {
			return v[i] > w[i]
		}
	}
	return true
}

// lostErr explains err, an error of a statement on c: when c's server went
// silent for the read timeout (the driver reports that as a bad
// connection), the error says so.
func (s *Source) lostErr(c *conn, err error) error {
	if err != nil && c != nil && c.nc.TimedOut() {
		return fmt.Errorf("%w for %s; the connection was closed", ErrNoAnswer, s.opts.ReadTimeout)
	}
	return err
}

// exec runs one statement without arguments.
func (c *conn) exec(ctx context.Context, query string) error {
	_, err := c.e.ExecContext(ctx, query, nil)
	return err
}

// query runs query and calls f for each row; the values (int64, uint64,
// float32, float64, []byte or nil) are only valid during the call.
func (c *conn) query(ctx context.Context, query string, f func(row []driver.Value) error) error {
	rows, err := c.q.QueryContext(ctx, query, nil)
	if err != nil {
		return err
	}
	dest := make([]driver.Value, len(rows.Columns()))
	for {
		err := rows.Next(dest)
		if err == io.EOF {
			break
		}
		if err == nil {
			err = f(dest)
		}
		if err != nil {
			_ = rows.Close()
			return err
		}
	}
	return rows.Close()
}

// valid reports whether the connection can still be used (the driver
// closes it when a query is cancelled or the network fails).
func (c *conn) valid() bool {
	v, ok := c.c.(driver.Validator)
	return !ok || v.IsValid()
}

// close closes the connection; its transaction, if any, is rolled back by
// the server.
func (c *conn) close() { _ = c.c.Close() }

// Version returns the server's version without a distribution suffix:
// "10.11.9" for "10.11.9-MariaDB-0+deb12u1", "8.0.39" for "8.0.39-log".
// Errors are ErrInvalidURL or connection failures naming the server's
// address, never containing the password.
func (s *Source) Version(ctx context.Context) (string, error) {
	c, err := s.connect(ctx)
	if err != nil {
		return "", err
	}
	defer c.close()
	return cleanVersion(c.version), nil
}

// cleanVersion keeps the leading version number of a VERSION() text
// (MariaDB 10.x may prefix "5.5.5-" when seen through the handshake,
// never through VERSION()).
func cleanVersion(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.IndexFunc(v, func(r rune) bool { return r != '.' && (r < '0' || r > '9') }); i >= 0 {
		v = v[:i]
	}
	return strings.TrimRight(v, ".")
}

func asString(v driver.Value) string {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case string:
		return x
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// redact makes sure err's text does not contain the password. The driver
// does not put it in errors, but a server or network error could echo
// it; when it does, the error is flattened (keeping context errors).
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

// isMySQLError reports whether err is a server error with one of codes.
func isMySQLError(err error, codes ...uint16) bool {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	for _, c := range codes {
		if me.Number == c {
			return true
		}
	}
	return false
}
