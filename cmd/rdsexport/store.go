package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/rdsexport/rdsexport/internal/catalog"
	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/pgtaskstore"
	"github.com/rdsexport/rdsexport/internal/sqlitetaskstore"
)

// taskStore keeps the task and snapshot records: sqlitetaskstore in
// data_dir, or pgtaskstore in a database several nodes share.
type taskStore interface {
	export.Store
	export.SnapshotStore
	// Ping reports whether the store can take a write (GET /health).
	Ping(ctx context.Context) error
}

// errStoreURL is the error of a store that is neither empty nor a
// PostgreSQL URL; it quotes nothing of the value, which may hold a
// password.
var errStoreURL = errors.New(`must be empty (SQLite in data_dir) or a PostgreSQL URL (postgres://user@host:5432/db)`)

// parseStoreURL checks a PostgreSQL store URL and returns the parts of it
// that may be shown.
func parseStoreURL(raw string) (catalog.Endpoint, error) {
	if !strings.HasPrefix(raw, "postgres://") && !strings.HasPrefix(raw, "postgresql://") {
		return catalog.Endpoint{}, errStoreURL
	}
	return parseSourceURL("postgres", raw)
}

// storeName is how logs and messages name the store: the SQLite file, or
// postgres://user@host:port/database without the rest of the URL.
func storeName(cfg Config) string {
	if cfg.Store == "" {
		return filepath.Join(cfg.DataDir, storeFile)
	}
	ep, err := parseStoreURL(cfg.Store)
	if err != nil {
		return "postgres (invalid URL)"
	}
	return endpointURL(ep)
}

func endpointURL(ep catalog.Endpoint) string {
	return "postgres://" + ep.User + "@" + net.JoinHostPort(ep.Host, strconv.Itoa(ep.Port)) + "/" + ep.Database
}

// nodeID is configured, or the host name and the port the server listens on.
func nodeID(configured string, addr net.Addr) string {
	if configured != "" {
		return configured
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	port := "0"
	if a, ok := addr.(*net.TCPAddr); ok {
		port = strconv.Itoa(a.Port)
	}
	return host + ":" + port
}

// openStore opens the configured store for the server.
func openStore(ctx context.Context, cfg Config, nodeID string, logger *slog.Logger, now func() time.Time) (taskStore, error) {
	if cfg.Store == "" {
		st, err := openTaskStore(ctx, cfg.DataDir, logger, now)
		if err != nil {
			return nil, err
		}
		return st, nil
	}
	st, err := pgtaskstore.New(ctx, pgtaskstore.Params{URL: cfg.Store, ApplicationName: "rdsexport " + nodeID, Now: now})
	if err != nil {
		// pgtaskstore's errors never quote the URL.
		return nil, fmt.Errorf("open task store %s: %w", storeName(cfg), err)
	}
	return st, nil
}

// storeFile is the task store's file in data_dir.
const storeFile = "tasks.db"

// recoverySection names the README section an operator reads when the store
// cannot be opened.
const recoverySection = `README.md, "When the store is damaged"`

// openTaskStore opens data_dir's task store for the server. A damaged store
// is refused, and so is a missing or empty one when data_dir holds data
// that only the store's records make sense of: creating an empty store
// then would orphan it. The errors say what to do.
func openTaskStore(ctx context.Context, dataDir string, logger *slog.Logger, now func() time.Time) (*sqlitetaskstore.Store, error) {
	path := filepath.Join(dataDir, storeFile)
	held, err := heldData(dataDir)
	if err != nil {
		return nil, fmt.Errorf("open task store: %w", err)
	}
	opts := []sqlitetaskstore.Option{sqlitetaskstore.WithLogger(logger.With("component", "store")), sqlitetaskstore.WithNow(now)}
	if len(held) > 0 {
		opts = append(opts, sqlitetaskstore.WithMustExist())
	}
	st, err := sqlitetaskstore.New(ctx, path, opts...)
	var damaged *sqlitetaskstore.DamagedError
	switch {
	case errors.As(err, &damaged):
		return nil, fmt.Errorf("%s%s", damagedReport(damaged, 5, true), recoverySteps(dataDir))
	case errors.Is(err, sqlitetaskstore.ErrNoStore):
		return nil, fmt.Errorf("%s%s", orphanReport(path, held), recoverySteps(dataDir))
	case err != nil:
		return nil, fmt.Errorf("open task store: %w", err)
	}
	return st, nil
}

// heldData lists what in dataDir depends on the task store's records:
// snapshot copies and the embedded S3's buckets and uploads. Directories
// left empty do not count.
func heldData(dataDir string) ([]string, error) {
	var held []string
	for _, d := range []struct{ dir, what string }{
		{filepath.Join(dataDir, "snapshots"), "snapshot copies"},
		{filepath.Join(dataDir, "s3", "buckets"), "embedded S3 buckets"},
		{filepath.Join(dataDir, "s3", "uploads"), "embedded S3 multipart uploads"},
	} {
		found := false
		err := filepath.WalkDir(d.dir, func(p string, e fs.DirEntry, err error) error {
			if err != nil || p == d.dir {
				return err
			}
			// A bucket, even empty, is a directory; elsewhere a file is
			// what counts.
			if !e.IsDir() || filepath.Base(d.dir) == "buckets" {
				found = true
				return fs.SkipAll
			}
			return nil
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if found {
			held = append(held, d.dir+" ("+d.what+")")
		}
	}
	return held, nil
}

// damagedReport says which file is damaged and what SQLite found, at most
// max problems.
func damagedReport(e *sqlitetaskstore.DamagedError, max int, refused bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "task store %s is damaged", e.Path)
	if refused {
		b.WriteString("; rdsexport will not start on it")
	}
	fmt.Fprintf(&b, ".\nSQLite (%s) reports:\n", e.Check)
	for i, p := range e.Problems {
		if i == max {
			fmt.Fprintf(&b, "  ... and %d more\n", len(e.Problems)-max)
			break
		}
		fmt.Fprintf(&b, "  %s\n", p)
	}
	return b.String()
}

// noStoreState says why there is no store at path.
func noStoreState(path string) string {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return "is missing"
	case fi.Size() == 0:
		return "is empty (0 bytes)"
	}
	return "holds no schema"
}

// orphanReport explains a refusal to create a store beside existing data.
func orphanReport(path string, held []string) string {
	return fmt.Sprintf("task store %s %s, but data_dir holds data that depends on its records:\n  %s\n"+
		"A new, empty store would lose the record of every task and snapshot and orphan that data, so rdsexport will not start.\n",
		path, noStoreState(path), strings.Join(held, "\n  "))
}

// recoverySteps is the short form of the README's recovery section.
func recoverySteps(dataDir string) string {
	return fmt.Sprintf(`What to do (%s):
  rdsexport store check --data-dir %[2]s    the full report
  then, with no server running on %[2]s, move %[3]s, %[3]s-wal and %[3]s-shm aside and either
  - restore your last backup (rdsexport store backup made it; rdsexport store check --file BACKUP first)
    to %[3]s with mode 0600, or
  - start an empty store, losing the record of every task and snapshot:
    rdsexport store init --data-dir %[2]s`,
		recoverySection, dataDir, filepath.Join(dataDir, storeFile))
}

// exitCodeError sets the exit status of the process to code.
type exitCodeError struct {
	code int
	err  error
}

func (e *exitCodeError) Error() string { return e.err.Error() }
func (e *exitCodeError) Unwrap() error { return e.err }

// exitCode is the exit status for an error of run: 2 unless it says
// otherwise.
func exitCode(err error) int {
	var ec *exitCodeError
	if errors.As(err, &ec) {
		return ec.code
	}
	return 2
}

const storeUsage = `usage:
  rdsexport store check  [--config FILE | --data-dir DIR | --file FILE | --store URL]
  rdsexport store backup [--config FILE | --data-dir DIR] --to FILE
  rdsexport store init   [--config FILE | --data-dir DIR]

check   runs SQLite's integrity_check on the task store; exit 0 when it is sound,
        1 when it is damaged or missing. With a PostgreSQL store (--store, RDSEXPORT_STORE
        or the config's store) it connects and compares the schema version of the
        rdsexport_* tables with this program's: exit 0 when they match
backup  writes a consistent copy of the task store to a new FILE (mode 0600),
        also while a server runs and writes (SQLite only)
init    creates an empty task store where there is none, also beside existing
        snapshot copies and S3 data (which the new store will not know) (SQLite only)
`

// runStore runs `rdsexport store SUBCOMMAND`.
func runStore(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, storeUsage)
		return flag.ErrHelp
	}
	if isHelp(args[0]) || args[0] == "help" || slices.ContainsFunc(args[1:], isHelp) {
		fmt.Fprint(stdout, storeUsage)
		return nil
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("store "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, storeUsage) }
	configPath := fs.String("config", "", "YAML configuration file (only data_dir and store are read)")
	dataDir := fs.String("data-dir", "", "data directory (overrides the config)")
	var file, to, storeURL *string
	switch sub {
	case "check":
		file = fs.String("file", "", "a store file to check, such as a backup (instead of data_dir's)")
		storeURL = fs.String("store", "", "a PostgreSQL store URL to check (instead of the config's)")
	case "backup":
		to = fs.String("to", "", "the new file to write the copy to")
	case "init":
	default:
		fmt.Fprint(stderr, storeUsage)
		return fmt.Errorf("unknown store command %q", sub)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("store %s: unexpected argument %q", sub, fs.Arg(0))
	}
	if file != nil && *file != "" && (*dataDir != "" || *configPath != "") {
		return fmt.Errorf("store check: --file and --data-dir/--config exclude each other")
	}
	dir, pgURL, err := storeLocation(*configPath, *dataDir, getenv)
	if err != nil {
		return err
	}
	if storeURL != nil && *storeURL != "" {
		if *file != "" || *dataDir != "" {
			return fmt.Errorf("store check: --store and --file/--data-dir exclude each other")
		}
		pgURL = *storeURL
	}
	if pgURL != "" && *dataDir == "" && (file == nil || *file == "") {
		if sub != "check" {
			return fmt.Errorf("store %s is for the SQLite store in data_dir; this store is PostgreSQL (%s): use PostgreSQL's tools (pg_dump --table 'rdsexport_*')",
				sub, storeName(Config{Store: pgURL}))
		}
		return storeCheckPostgres(ctx, pgURL, stdout)
	}
	switch sub {
	case "check":
		return storeCheck(ctx, dir, *file, stdout)
	case "backup":
		if *to == "" {
			return errors.New("store backup: --to FILE is required")
		}
		r, err := sqlitetaskstore.Backup(ctx, filepath.Join(dir, storeFile), *to)
		if err != nil {
			return fmt.Errorf("store backup: %w", err)
		}
		fmt.Fprintf(stdout, "backed up %s to %s: %d tasks, %d snapshots, %d bytes\n",
			filepath.Join(dir, storeFile), r.Path, r.Tasks, r.Snapshots, r.Bytes)
		return nil
	default:
		return storeInit(ctx, dir, stdout)
	}
}

// storeLocation finds data_dir and store as the server would: --data-dir,
// else RDSEXPORT_DATA_DIR, else the config file's data_dir, else the
// default; RDSEXPORT_STORE, else the config file's store (its secret
// references resolved). Only those two keys are read from the file, so
// that checking a store needs none of the secrets the rest of it may
// reference.
func storeLocation(configPath, flagDir string, getenv func(string) string) (dataDir, store string, err error) {
	var c struct {
		DataDir string `yaml:"data_dir"`
		Store   string `yaml:"store"`
	}
	if configPath != "" {
		b, err := os.ReadFile(configPath)
		if err != nil {
			return "", "", fmt.Errorf("read config: %w", err)
		}
		if err := yaml.Unmarshal(b, &c); err != nil {
			return "", "", fmt.Errorf("parse config %s: %w", configPath, err)
		}
	}
	dataDir = cmp.Or(flagDir, getenv("RDSEXPORT_DATA_DIR"), c.DataDir, DefaultConfig().DataDir)
	sc := Config{Store: cmp.Or(getenv("RDSEXPORT_STORE"), c.Store)}
	lookup := func(k string) (string, bool) { v := getenv(k); return v, v != "" }
	if err := sc.resolveSecrets(lookup, os.ReadFile); err != nil {
		return "", "", fmt.Errorf("config %s: %w", configPath, err)
	}
	return dataDir, sc.Store, nil
}

// storeCheckPostgres connects to a PostgreSQL store and prints its schema
// version and records; it fails with exit status 1 unless the schema is
// the one this program knows.
func storeCheckPostgres(ctx context.Context, raw string, stdout io.Writer) error {
	ep, err := parseStoreURL(raw)
	if err != nil {
		return fmt.Errorf("store check: store: %w", err)
	}
	name := endpointURL(ep)
	r, err := pgtaskstore.Check(ctx, pgtaskstore.Params{URL: raw, ApplicationName: "rdsexport store check"})
	switch {
	case err == nil:
		fmt.Fprintf(stdout, "%s: ok: schema version %d (this rdsexport knows %d), %d tasks, %d snapshots, PostgreSQL %s\n",
			name, r.SchemaVersion, r.KnownVersion, r.Tasks, r.Snapshots, r.Server)
		return nil
	case errors.Is(err, pgtaskstore.ErrNoSchema):
		fmt.Fprintf(stdout, "%s: no rdsexport tables yet: the first rdsexport serve with this store creates them\n", name)
		return &exitCodeError{1, fmt.Errorf("store check: no task store in %s", name)}
	case r != nil:
		// Connected, but the schema is not this program's.
		fmt.Fprintf(stdout, "%s: schema version %d, this rdsexport knows %d: %v\n", name, r.SchemaVersion, r.KnownVersion, err)
		return &exitCodeError{1, fmt.Errorf("store check: %s: schema version %d, want %d", name, r.SchemaVersion, r.KnownVersion)}
	default:
		return fmt.Errorf("store check %s: %w", name, err)
	}
}

// storeCheck prints the result of the integrity check of file, or of
// dataDir's store when file is empty; it fails with exit status 1 unless
// the store is sound.
func storeCheck(ctx context.Context, dataDir, file string, stdout io.Writer) error {
	path := file
	if path == "" {
		path = filepath.Join(dataDir, storeFile)
	}
	r, err := sqlitetaskstore.Check(ctx, path)
	var damaged *sqlitetaskstore.DamagedError
	switch {
	case err == nil:
		fmt.Fprintf(stdout, "%s: ok (integrity_check): %d tasks, %d snapshots, schema version %d, %d bytes, mode %04o\n",
			r.Path, r.Tasks, r.Snapshots, r.SchemaVersion, r.Bytes, r.Mode)
		return nil
	case errors.As(err, &damaged):
		fmt.Fprint(stdout, damagedReport(damaged, len(damaged.Problems), false))
		if file == "" {
			fmt.Fprintln(stdout, recoverySteps(dataDir))
		}
		return &exitCodeError{1, fmt.Errorf("store check: %s is damaged", path)}
	case errors.Is(err, sqlitetaskstore.ErrNoStore):
		fmt.Fprintf(stdout, "%s: no task store: the file %s\n", path, noStoreState(path))
		if file == "" {
			held, herr := heldData(dataDir)
			if herr != nil {
				return fmt.Errorf("store check: %w", herr)
			}
			if len(held) > 0 {
				fmt.Fprint(stdout, orphanReport(path, held))
				fmt.Fprintln(stdout, recoverySteps(dataDir))
			} else {
				fmt.Fprintln(stdout, "data_dir holds no snapshot copies or S3 data: a first start creates the store")
			}
		}
		return &exitCodeError{1, fmt.Errorf("store check: no task store at %s", path)}
	default:
		return fmt.Errorf("store check: %w", err)
	}
}

// storeInit creates an empty store where there is none, on purpose: the
// server refuses to do so beside snapshot copies or S3 data.
func storeInit(ctx context.Context, dataDir string, stdout io.Writer) error {
	path := filepath.Join(dataDir, storeFile)
	r, err := sqlitetaskstore.Check(ctx, path)
	switch {
	case err == nil:
		return fmt.Errorf("store init: %s already holds a store (%d tasks, %d snapshots); move it aside first", path, r.Tasks, r.Snapshots)
	case !errors.Is(err, sqlitetaskstore.ErrNoStore):
		return fmt.Errorf("store init: %w; move %s, %s-wal and %s-shm aside first", err, path, path, path)
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return fmt.Errorf("store init: %w", err)
	}
	st, err := sqlitetaskstore.New(ctx, path)
	if err != nil {
		return fmt.Errorf("store init: %w", err)
	}
	if err := st.Close(); err != nil {
		return fmt.Errorf("store init: %w", err)
	}
	fmt.Fprintf(stdout, "created an empty task store at %s\n", path)
	return nil
}
