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

const usage = `usage:
  rdsexport serve [--config FILE] [--listen ADDR] [--data-dir DIR]
  rdsexport demo  [--listen ADDR] [--data-dir DIR] [--postgres URL]
  rdsexport store check|backup|init ...   (rdsexport store for details)
`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	cmd, args := args[0], args[1:]
	if cmd == "store" {
		return runStore(ctx, args, getenv, stdout, stderr)
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := DefaultConfig()
	configPath := fs.String("config", "", "YAML configuration file")
	listen := fs.String("listen", "", "listen address (overrides the config)")
	dataDir := fs.String("data-dir", "", "data directory (overrides the config)")
	pgURL := fs.String("postgres", "postgres://postgres@127.0.0.1:5432/postgres", "demo: PostgreSQL server to create the demo database in")
	switch cmd {
	case "serve", "demo":
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *configPath != "" {
		if err := cfg.LoadConfigFile(*configPath); err != nil {
			return err
		}
	}
	if err := cfg.LoadEnv(getenv); err != nil {
		return err
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	var buckets []string
	if cmd == "demo" {
		url, err := createDemoDatabase(ctx, *pgURL)
		if err != nil {
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
