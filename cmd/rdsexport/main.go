// Command rdsexport serves the Amazon RDS export and snapshot API
// (StartExportTask, DescribeExportTasks, CancelExportTask, DescribeDBClusters,
// DescribeDBInstances, Create/Describe/DeleteDB[Cluster]Snapshot) over the
// AWS Query protocol, exporting PostgreSQL, MySQL and MariaDB databases, or
// stored snapshot copies of them, to S3 as Parquet the way RDS does.
//
// It only wires: Config (defaults, file, environment, flags, Validate) says
// what to build, and Main builds the task store, the object store (the
// embedded S3 or an external one), the catalog of sources with their
// connection budgets, the snapshot copier, the export engine, the service
// and the HTTP router, then runs them until Close.
//
//	rdsexport serve --config rdsexport.yaml
//	rdsexport demo            # local PostgreSQL demo database, embedded S3
//	rdsexport store check     # integrity of the task store (also backup, init)
//	rdsexport version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "rdsexport:", err)
		}
		os.Exit(exitCode(err))
	}
}

const usage = `rdsexport serves the Amazon RDS export API (StartExportTask, DescribeExportTasks,
CancelExportTask, snapshots, DescribeEvents) and exports PostgreSQL, MySQL and MariaDB
tables to S3 as Parquet.

usage:
  rdsexport serve [--config FILE] [--listen ADDR] [--data-dir DIR]
  rdsexport demo  [--listen ADDR] [--data-dir DIR] [--postgres URL] [--rows N]
  rdsexport store check|backup|init ...
  rdsexport version
  rdsexport help [COMMAND]

"rdsexport COMMAND --help" describes a command's flags and environment variables.
`

// envHelp is every environment variable serve reads, one line each.
var envHelp = [][2]string{
	{"RDSEXPORT_CONFIG", "YAML configuration file when --config is not given"},
	{"RDSEXPORT_LISTEN", "listen address (listen)"},
	{"RDSEXPORT_REGION", "region of minted ARNs (region)"},
	{"RDSEXPORT_EXTRA_REGIONS", "further regions served, comma-separated (extra_regions)"},
	{"RDSEXPORT_ACCOUNT_ID", "12-digit account owning tasks and sources (account_id)"},
	{"RDSEXPORT_DATA_DIR", "task store and embedded S3 directory (data_dir)"},
	{"RDSEXPORT_STORE", "PostgreSQL URL of a store several nodes share; empty is SQLite in data_dir (store)"},
	{"RDSEXPORT_NODE_ID", "name of this node among those sharing a store; default hostname:port (node_id)"},
	{"RDSEXPORT_S3_ENDPOINT", "external S3 URL; empty serves S3 on the listener (s3.endpoint)"},
	{"RDSEXPORT_MAX_CONCURRENT_EXPORTS", "exports running at once per account (max_concurrent_exports)"},
	{"RDSEXPORT_METRICS_PUBLIC", "true serves /metrics without authentication (metrics.public)"},
	{"RDSEXPORT_LOG_LEVEL", "debug, info, warn or error (log_level)"},
	{"RDSEXPORT_PPROF", "address of a separate net/http/pprof listener; off when unset"},
}

// commandFlags declares cmd's flags on fs: serve's, plus the demo's own
// under demo. The returned values are read after Parse.
type commandFlags struct {
	config, listen, dataDir *string
	postgres                *string // demo only
	rows                    *int64  // demo only
}

func newCommandFlags(cmd string, fs *flag.FlagSet) commandFlags {
	f := commandFlags{
		config:  fs.String("config", "", "YAML configuration file (default $RDSEXPORT_CONFIG)"),
		listen:  fs.String("listen", "", "listen address, overriding the configuration (default 127.0.0.1:4566)"),
		dataDir: fs.String("data-dir", "", "data directory, overriding the configuration (default ./data)"),
	}
	if cmd == "demo" {
		f.postgres = fs.String("postgres", "postgres://postgres@127.0.0.1:5432/postgres", "PostgreSQL server to create the demo database in")
		f.rows = fs.Int64("rows", 0, "rows of table public.big in the demo database, big enough to cancel an export of it (0: no such table)")
	}
	return f
}

// commandUsage prints cmd's usage, flags and environment variables to w.
func commandUsage(w io.Writer, cmd string, fs *flag.FlagSet) {
	switch cmd {
	case "serve":
		fmt.Fprint(w, "usage: rdsexport serve [flags]\n\nServes the RDS API (and the embedded S3) until interrupted.\n")
	case "demo":
		fmt.Fprint(w, "usage: rdsexport demo [flags]\n\nCreates database "+demoDatabase+" in a local PostgreSQL (cluster demo, instance demo-db)\nand bucket "+demoBucket+", then serves like serve.\n")
	}
	fmt.Fprint(w, "\nflags:\n")
	fs.VisitAll(func(f *flag.Flag) {
		fmt.Fprintf(w, "  --%-10s %s\n", f.Name, f.Usage)
	})
	fmt.Fprint(w, "\nenvironment (overrides the configuration file; flags override both):\n")
	for _, e := range envHelp {
		fmt.Fprintf(w, "  %-33s %s\n", e[0], e[1])
	}
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help"
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	cmd, args := args[0], args[1:]
	switch {
	case isHelp(cmd):
		fmt.Fprint(stdout, usage)
		return nil
	case cmd == "help" && len(args) == 0:
		fmt.Fprint(stdout, usage)
		return nil
	case cmd == "help":
		return run(ctx, []string{args[0], "--help"}, getenv, stdout, stderr)
	case cmd == "version" || cmd == "--version":
		fmt.Fprintf(stdout, "rdsexport %s\n", buildVersion())
		return nil
	case cmd == "store":
		return runStore(ctx, args, getenv, stdout, stderr)
	case cmd == "serve", cmd == "demo":
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	flags := newCommandFlags(cmd, fs)
	fs.Usage = func() { commandUsage(stderr, cmd, fs) }
	if slices.ContainsFunc(args, isHelp) {
		commandUsage(stdout, cmd, fs)
		return nil
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", cmd, fs.Arg(0))
	}
	cfg := DefaultConfig()
	configPath := *flags.config
	if configPath == "" {
		configPath = getenv("RDSEXPORT_CONFIG")
	}
	if configPath != "" {
		if err := cfg.LoadConfigFile(configPath); err != nil {
			return err
		}
	}
	if err := cfg.LoadEnv(getenv); err != nil {
		return err
	}
	if *flags.listen != "" {
		cfg.Listen = *flags.listen
	}
	if *flags.dataDir != "" {
		cfg.DataDir = *flags.dataDir
	}
	var buckets []string
	if cmd == "demo" {
		if *flags.rows < 0 {
			return fmt.Errorf("demo: --rows %d is negative", *flags.rows)
		}
		url, err := createDemoDatabase(ctx, *flags.postgres)
		if err != nil {
			return err
		}
		if err := fillBigTable(ctx, url, *flags.rows); err != nil {
			return err
		}
		demo := []string{demoDatabase}
		cfg.Clusters = append(cfg.Clusters, SourceConfig{Identifier: "demo", Engine: "aurora-postgresql", URL: url, Databases: demo})
		cfg.Instances = append(cfg.Instances, SourceConfig{Identifier: "demo-db", Engine: "postgres", URL: url, Databases: demo})
		buckets = append(buckets, demoBucket)
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}

	m := &Main{Config: cfg, Logger: newLogger(cfg, stderr), CreateBuckets: buckets}
	if err := m.Open(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "rdsexport listening on http://%s (account %s, region %s)\n", m.Addr(), cfg.AccountID, cfg.Region)
	if cmd == "demo" {
		fmt.Fprintf(stdout, "demo cluster ARN: arn:aws:rds:%s:%s:cluster:demo, DB instance demo-db, bucket s3://%s\n", cfg.Region, cfg.AccountID, demoBucket)
	}
	<-ctx.Done()
	m.Logger.Info("shutting down")
	return m.Close()
}

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
