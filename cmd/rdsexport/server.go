package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rdsexport/rdsexport/internal/awsquery"
	"github.com/rdsexport/rdsexport/internal/catalog"
	"github.com/rdsexport/rdsexport/internal/cluster"
	"github.com/rdsexport/rdsexport/internal/console"
	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/metrics"
	"github.com/rdsexport/rdsexport/internal/s3objects"
	"github.com/rdsexport/rdsexport/internal/s3server"
	"github.com/rdsexport/rdsexport/internal/service"
	"github.com/rdsexport/rdsexport/internal/sigv4"
	"github.com/rdsexport/rdsexport/internal/snapshotcopy"
)

// Main is the running server: every adapter built from Config and wired
// together. Tests run it on 127.0.0.1:0.
type Main struct {
	Config Config
	Logger *slog.Logger
	// CreateBuckets are created in the object store at start (demo, tests).
	CreateBuckets []string
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	ln     net.Listener
	http   *http.Server
	store  taskStore
	nodeID string
	// node and clusterPool are set with a PostgreSQL store.
	node        *cluster.Node
	clusterPool *pgxpool.Pool
	engine      *engine.Engine
	copier      *snapshotcopy.Copier
	limits      *sourceLimits
	objects     *s3objects.Store
	metrics     *metrics.Metrics
	served      chan error
	pprof       *http.Server

	// readHeaderTimeout replaces the http.Server's ReadHeaderTimeout, and
	// authTimeout the router's, when set (tests of slow clients).
	readHeaderTimeout time.Duration
	authTimeout       time.Duration

	closeOnce sync.Once
	closeErr  error
}

// pprofEnv names the address of an optional profiling listener
// (net/http/pprof), off unless set; it is kept apart from the API listener
// so that profiles are never reachable through the public port.
const pprofEnv = "RDSEXPORT_PPROF"

// Open builds everything, recovers unfinished tasks and starts serving.
// It returns once the listener accepts connections.
func (m *Main) Open(ctx context.Context) (err error) {
	if m.Logger == nil {
		m.Logger = slog.New(slog.DiscardHandler)
	}
	if m.Now == nil {
		m.Now = time.Now
	}
	cfg := m.Config
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("create data_dir: %w", err)
	}
	if m.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	m.nodeID = nodeID(cfg.NodeID, m.ln.Addr())
	if m.store, err = openStore(ctx, cfg, m.nodeID, m.Logger, m.Now); err != nil {
		return err
	}
	if addr := os.Getenv(pprofEnv); addr != "" {
		if err := m.startPprof(addr); err != nil {
			return err
		}
	}

	// Object store: our own embedded S3 on this listener, or an external one.
	var s3h http.Handler
	var local *s3server.Objects
	s3cfg := s3objects.Params{
		Endpoint: cfg.S3.Endpoint, Region: cfg.S3.Region,
		AccessKeyID: cfg.S3.AccessKeyID, SecretAccessKey: cfg.S3.SecretAccessKey,
	}
	if cfg.S3.Endpoint == "" {
		srv, err := s3server.New(filepath.Join(cfg.DataDir, "s3"), s3server.Params{
			Logger: m.Logger.With("component", "s3"), Now: m.Now, AccountID: cfg.AccountID,
			Hostnames: cfg.S3.Hostnames,
		})
		if err != nil {
			return fmt.Errorf("open embedded S3: %w", err)
		}
		s3h, local = srv, srv.Objects()
		// The server's own S3 client (snapshot copies, tests) signs as the
		// server's account, which owns the buckets it uses.
		key := ownKey(cfg)
		s3cfg = s3objects.Params{
			Endpoint: "http://" + m.ln.Addr().String(), Region: cfg.Region,
			AccessKeyID: key.AccessKeyID, SecretAccessKey: key.SecretAccessKey,
		}
	}
	if m.objects, err = s3objects.New(s3cfg); err != nil {
		return fmt.Errorf("object store: %w", err)
	}

	// Exports into the embedded S3 write its files directly rather than
	// through HTTP to this same process.
	var objects interface {
		engine.ObjectStore
		service.Buckets
	} = m.objects
	if local != nil {
		objects = local
	}

	m.limits = newSourceLimits(cfg.MaxSourceConnections, m.Logger.With("component", "sources"))
	// Snapshot copies: in data_dir, or in an S3 bucket another node can read.
	var blobs snapshotcopy.Blobs = snapshotcopy.NewDirBlobs(filepath.Join(cfg.DataDir, "snapshots"))
	if cfg.Snapshots.Bucket != "" {
		blobs = snapshotcopy.NewS3Blobs(m.objects, cfg.Snapshots.Bucket, cfg.Snapshots.Prefix)
	}
	cat := catalog.New(catalog.Params{
		AccountID: cfg.AccountID, Started: m.Now(),
		Clusters:  catalogSources(cfg.Clusters, m.limits),
		Instances: catalogSources(cfg.Instances, m.limits),
		Snapshots: m.store,
		SnapshotSource: func(s *export.Snapshot) engine.Source {
			return snapshotcopy.NewSource(blobs, s.Location)
		},
	})
	m.copier = snapshotcopy.New(snapshotcopy.Params{
		Store:       m.store,
		Blobs:       blobs,
		Resolve:     cat.SnapshotSource,
		Logger:      m.Logger.With("component", "snapshots"),
		Now:         m.Now,
		Connections: cfg.ExportConnections,

		MaxPerAccount: cfg.MaxConcurrentSnapshots,
		MaxPerServer:  cfg.MaxConcurrentSnapshotsPerServer,
		ServerOf:      cat.SnapshotServer,
		// Snapshot copies are not jobs of the cluster: a node takes over
		// the creating snapshots of dead processes only when it is alone.
		NoRecover: cfg.Store != "",
	})
	// The task and snapshot gauges and DescribeEvents need a store that
	// counts and records events (both stores do).
	counts, _ := m.store.(metrics.Counts)
	m.metrics = metrics.New(metrics.Params{Counts: counts, Logger: m.Logger.With("component", "metrics"), Now: m.Now})
	progress := console.NewProgress(0)
	// With a shared store the cluster's job queue hands exports to the
	// engine, and every write of a run is fenced by the node's lease.
	var (
		runner service.Runner
		ranges engine.RangeRunner
	)
	engineStore, engineObjects := export.Store(m.store), engine.ObjectStore(objects)
	if cfg.Store != "" {
		if m.clusterPool, err = pgxpool.New(ctx, cfg.Store); err != nil {
			return fmt.Errorf("cluster: %w", errStoreURL)
		}
		m.node = cluster.New(cluster.Params{
			Pool: m.clusterPool, Store: m.store, Snapshots: m.store, NodeID: m.nodeID,
			Logger:               m.Logger.With("component", "cluster"),
			MaxConcurrentExports: cfg.MaxConcurrentExports,
			RangeWorkers:         cmp.Or(cfg.RangeWorkers, cfg.ExportConnections),
		})
		engineStore, engineObjects, runner, ranges = m.node.Store(m.store), m.node.Objects(objects), m.node, m.node
	}
	m.engine = engine.New(engine.Params{
		Store:                engineStore,
		Objects:              &metrics.ObjectStore{Inner: engineObjects, Metrics: m.metrics},
		Observer:             observers{m.metrics, progress},
		Dispatched:           m.node != nil,
		Ranges:               ranges,
		Resolve:              cat.ExportSource,
		Logger:               m.Logger.With("component", "engine"),
		Now:                  m.Now,
		MaxConcurrentExports: cfg.MaxConcurrentExports,
		Connections:          cfg.ExportConnections,
		FileBytes:            cfg.ExportFileBytes,
	})
	if runner == nil {
		runner = m.engine
	}
	var snapshotter service.Snapshotter = countedCopier{m.copier, m.metrics}
	if m.node != nil {
		snapshotter = m.node.Snapshotter(snapshotter)
	}
	events, _ := m.store.(export.EventStore)
	svc := service.New(service.Params{
		Store: m.store, Runner: runner, Catalog: cat, Buckets: objects,
		Snapshots: m.store, Snapshotter: snapshotter, SnapshotQuota: cfg.SnapshotQuota,
		Events: events,
		Logger: m.Logger.With("component", "service"), Now: m.Now,
	})
	rds := &awsquery.Handler{
		Service: svc, Logger: m.Logger.With("component", "awsquery"),
		Region: cfg.Region, AccountID: cfg.AccountID, Regions: cfg.Regions(),
		Observe: m.metrics.APIRequest,
	}
	creds := credentialTable{account: cfg.AccountID, keys: map[string]Credential{}}
	for _, c := range cfg.Credentials {
		creds.keys[c.AccessKeyID] = c
	}
	verifier := &sigv4.Verifier{Credentials: creds, Now: m.Now, AllowSessionTokens: cfg.AllowSessionTokens}
	r := newRouter(verifier, rds, s3h, m.Logger, cfg.MaxConcurrentRequests)
	r.public = http.NewServeMux()
	r.public.Handle("/health", &health{
		version: buildVersion(),
		store:   m.store.Ping,
		s3:      s3Check(cfg, local, m.objects),
		logger:  m.Logger.With("component", "health"),
	})
	r.public.Handle("/metrics", newMetricsAuth(cfg, m.metrics.Handler()))
	if m.authTimeout > 0 {
		r.authTimeout = m.authTimeout
	}
	r.console = newConsole(cfg, svc, progress, creds, local, m.Logger.With("component", "console"), m.Now)
	readHeaderTimeout := 10 * time.Second
	if m.readHeaderTimeout > 0 {
		readHeaderTimeout = m.readHeaderTimeout
	}
	m.http = &http.Server{
		Handler: r,
		// A client dribbling its headers is cut off; the body has longer
		// (S3 part uploads can be large) and RDS requests get rdsTimeout
		// for both directions in the router. There is no server-wide
		// WriteTimeout because S3 downloads of snapshot copies stream for
		// as long as they are large.
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	m.served = make(chan error, 1)
	go func() { m.served <- m.http.Serve(m.ln) }()

	for _, b := range m.CreateBuckets {
		if err := m.createBucket(ctx, local, b); err != nil {
			return err
		}
	}
	if local != nil && cfg.Snapshots.Bucket != "" {
		if k := ownKey(cfg); k.AccountID != "" && k.AccountID != cfg.AccountID {
			return fmt.Errorf("snapshots.bucket in the embedded S3 needs a key of account_id %s in credentials", cfg.AccountID)
		}
		if err := m.createBucket(ctx, local, cfg.Snapshots.Bucket); err != nil {
			return fmt.Errorf("snapshots.bucket: %w", err)
		}
	}
	if err := m.copier.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start snapshot copier: %w", err)
	}
	if err := m.engine.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start engine: %w", err)
	}
	if m.node != nil {
		if err := m.node.Start(ctx, m.engine); err != nil {
			return fmt.Errorf("join the cluster: %w", err)
		}
		alone, err := m.node.Alone(ctx)
		if err != nil {
			return fmt.Errorf("join the cluster: %w", err)
		}
		if alone {
			if err := m.copier.Recover(ctx); err != nil {
				return err
			}
		}
	}
	m.Logger.Info("rdsexport started", "version", buildVersion(), "listen", m.Addr(), "account", cfg.AccountID, "region", cfg.Region, "data_dir", cfg.DataDir,
		"store", storeName(cfg), "node_id", m.nodeID)
	return nil
}

// createBucket makes sure bucket exists. In the embedded S3 it must be
// the server's account's, and is created as the server's account's.
func (m *Main) createBucket(ctx context.Context, local *s3server.Objects, bucket string) error {
	if local == nil {
		ok, err := m.objects.BucketExists(ctx, bucket)
		if err == nil && !ok {
			err = m.objects.CreateBucket(ctx, bucket)
		}
		if err != nil {
			return fmt.Errorf("create bucket %s: %w", bucket, err)
		}
		return nil
	}
	exists, owned, err := local.BucketAccess(ctx, m.Config.AccountID, bucket)
	switch {
	case err != nil:
		return fmt.Errorf("check bucket %s: %w", bucket, err)
	case exists && !owned:
		return fmt.Errorf("bucket %s of the embedded S3 belongs to another account than account_id %s", bucket, m.Config.AccountID)
	case !exists:
		if err := local.CreateBucket(ctx, bucket); err != nil {
			return err
		}
	}
	return nil
}

// ownKey is the first configured key of the server's account, or the first
// key when none is (the server's own S3 client is then refused by the
// embedded S3 on the server's buckets).
func ownKey(cfg Config) Credential {
	for _, c := range cfg.Credentials {
		if c.AccountID == "" || c.AccountID == cfg.AccountID {
			return c
		}
	}
	return cfg.Credentials[0]
}

// startPprof serves the net/http/pprof handlers on their own listener.
func (m *Main) startPprof(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", pprofEnv, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	m.pprof = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = m.pprof.Serve(ln) }()
	m.Logger.Info("pprof listening", "addr", ln.Addr().String())
	return nil
}

// s3Check is the health check of the object store: the embedded S3's
// directory, or a request to the external server.
func s3Check(cfg Config, local *s3server.Objects, objects *s3objects.Store) func(context.Context) error {
	if local == nil {
		return objects.Ping
	}
	dir := filepath.Join(cfg.DataDir, "s3")
	return func(context.Context) error {
		fi, err := os.Stat(dir)
		if err == nil && !fi.IsDir() {
			err = fmt.Errorf("%s is not a directory", dir)
		}
		return err
	}
}

// NodeID names this node among those sharing a store (Config.NodeID, or
// the host name and listening port).
func (m *Main) NodeID() string { return m.nodeID }

// Addr is the address the server listens on.
func (m *Main) Addr() string { return m.ln.Addr().String() }

// URL is the endpoint URL clients use.
func (m *Main) URL() string { return "http://" + m.Addr() }

// Close stops accepting requests, stops running exports (they are recorded
// as FAILED with a cause) and closes the store. Later calls return the
// first call's result.
func (m *Main) Close() error {
	m.closeOnce.Do(func() { m.closeErr = m.close() })
	return m.closeErr
}

func (m *Main) close() error {
	var errs []error
	// Each step's duration goes into the last log line: a slow exit says
	// which step held it.
	begin, steps := time.Now(), []any{}
	step := func(name string, since time.Time) {
		steps = append(steps, name, time.Since(since).Round(time.Millisecond).String())
	}
	defer func() {
		m.Logger.Info("stopped", append([]any{"duration", time.Since(begin).Round(time.Millisecond).String()}, steps...)...)
	}()
	if m.pprof != nil {
		_ = m.pprof.Close()
	}
	if m.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// Exports write to the embedded S3 through this listener: stop them
		// before the listener goes away. A cluster node first hands its
		// exports to the other nodes.
		if m.node != nil {
			t := time.Now()
			if err := m.node.Stop(ctx); err != nil {
				errs = append(errs, fmt.Errorf("leave the cluster: %w", err))
			}
			step("cluster", t)
		}
		if m.engine != nil {
			t := time.Now()
			m.engine.Stop()
			step("engine", t)
		}
		if m.copier != nil {
			t := time.Now()
			m.copier.Stop()
			step("snapshots", t)
		}
		t := time.Now()
		if err := m.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
		if err := <-m.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
		step("http", t)
	} else if m.ln != nil {
		m.ln.Close()
	}
	t := time.Now()
	if m.clusterPool != nil {
		m.clusterPool.Close()
	}
	if m.store != nil {
		if err := m.store.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	step("store", t)
	return errors.Join(errs...)
}

// credentialTable is the sigv4.CredentialLookup of the configured keys.
type credentialTable struct {
	account string
	keys    map[string]Credential
}

func newRequestID() string { return uuid.NewString() }
