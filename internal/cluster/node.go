package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/export"
)

// queue is the River queue of export jobs.
const queue = "rdsexport_exports"

// Params configures New.
type Params struct {
	// Pool reaches the shared database: River's tables and this package's.
	// Use a pool of its own, not the task store's: a fenced store write
	// holds one connection of it while the store writes on another.
	Pool *pgxpool.Pool
	// Store is the task store, unfenced.
	Store export.Store
	// Snapshots is the snapshot store, where the reaper fails the copies
	// of lost nodes (see Node.Snapshotter).
	Snapshots export.SnapshotStore
	// NodeID names this node (River's client ID). Unique in the cluster.
	NodeID string
	Logger *slog.Logger
	// MaxConcurrentExports per account, across the cluster (spec §6.5).
	// Default 5.
	MaxConcurrentExports int
	// Workers is the number of exports this node runs at once. Default 10.
	Workers int
	// RangeWorkers is the number of ranges of shared snapshots (of any
	// node's exports) this node reads at once. Default 2.
	RangeWorkers int
	// LeaseTTL is how long a node may go without a heartbeat before its
	// work is taken over. Default 10s.
	LeaseTTL time.Duration
	// ReapInterval is how often this node looks for work to take over and
	// for tasks without a job. Default 1s.
	ReapInterval time.Duration
}

// Node is this process's member of the cluster. Build the engine with
// Node.Store and Node.Objects and Dispatched set, then Start the node.
type Node struct {
	p      Params
	logger *slog.Logger
	lease  *lease
	eng    *engine.Engine
	river  *river.Client[pgx.Tx]
	wake   chan struct{}

	mu       sync.Mutex
	runs     map[runKey]*localRun
	reads    map[rangeArgs]context.CancelCauseFunc // ranges this node reads
	stopping bool
	// keys are the objects each local run has written.
	keys map[fence]map[string]bool

	// copies takes this node's snapshot copies (Node.Snapshotter);
	// unrecorded are creating snapshots no node has recorded, with when
	// the reaper first saw them.
	copies     Snapshotter
	unrecorded map[copyKey]time.Time

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type runKey struct{ account, id string }

type localRun struct {
	attempt  int
	instance string
	cancel   context.CancelCauseFunc
	// stored are the ranges of earlier runs this run reuses.
	stored map[rangeID]engine.RangeRead
}

// New returns a Node; nothing runs until Start.
func New(p Params) *Node {
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	if p.MaxConcurrentExports <= 0 {
		p.MaxConcurrentExports = 5
	}
	if p.Workers <= 0 {
		p.Workers = 10
	}
	if p.RangeWorkers <= 0 {
		p.RangeWorkers = 2
	}
	if p.LeaseTTL <= 0 {
		p.LeaseTTL = 10 * time.Second
	}
	if p.ReapInterval <= 0 {
		p.ReapInterval = time.Second
	}
	return &Node{
		p:      p,
		logger: p.Logger.With("node_id", p.NodeID),
		lease:  newLease(p.LeaseTTL),
		wake:   make(chan struct{}, 1),
		runs:   map[runKey]*localRun{},
		reads:  map[rangeArgs]context.CancelCauseFunc{},
		keys:   map[fence]map[string]bool{},
	}
}

// Start migrates the shared tables, begins heartbeats and works export jobs
// with eng, an engine built with Dispatched.
func (n *Node) Start(ctx context.Context, eng *engine.Engine) error {
	if err := Migrate(ctx, n.p.Pool); err != nil {
		return err
	}
	n.eng = eng
	workers := river.NewWorkers()
	river.AddWorker(workers, &exportWorker{n: n})
	river.AddWorker(workers, &rangeWorker{n: n})
	client, err := river.NewClient(riverpgxv5.New(n.p.Pool), &river.Config{
		ID:     n.p.NodeID,
		Logger: n.p.Logger.With("component", "river"),
		Queues: map[string]river.QueueConfig{
			queue:      {MaxWorkers: n.p.Workers},
			rangeQueue: {MaxWorkers: n.p.RangeWorkers},
		},
		Workers:    workers,
		JobTimeout: -1, // an export takes as long as its data
		// River retries a job whose worker failed to claim (the database
		// was out of reach) with backoff; an export's own outcome is
		// recorded in the task store, never as a job error.
		MaxAttempts: 100,
	})
	if err != nil {
		return fmt.Errorf("river client: %w", err)
	}
	n.river = client

	ctx, n.cancel = context.WithCancel(context.WithoutCancel(ctx))
	// The first heartbeat before any job: a claim needs a live instance.
	inst, _ := n.lease.current()
	sent := time.Now()
	if _, err := n.p.Pool.Exec(ctx, `INSERT INTO rdsexport_nodes (instance, node_id) VALUES ($1, $2)`, inst, n.p.NodeID); err != nil {
		n.cancel()
		return fmt.Errorf("register node: %w", err)
	}
	n.lease.renewed(inst, sent)
	n.wg.Go(func() { n.heartbeat(ctx) })
	n.wg.Go(func() { n.reapLoop(ctx) })
	if err := client.Start(ctx); err != nil {
		n.cancel()
		n.wg.Wait()
		return fmt.Errorf("start river client: %w", err)
	}
	n.logger.Info("node joined the cluster", "instance", inst)
	return nil
}

// Stop hands the exports and the ranges this node runs back to the cluster
// (other nodes take them over at once) and leaves.
func (n *Node) Stop(ctx context.Context) error {
	if n.cancel == nil {
		return nil
	}
	n.mu.Lock()
	n.stopping = true
	for _, r := range n.runs {
		r.cancel(export.ErrHandedOff)
	}
	for _, cancel := range n.reads {
		cancel(export.ErrHandedOff)
	}
	n.mu.Unlock()
	err := n.river.Stop(ctx)
	n.cancel()
	n.wg.Wait()
	inst, _ := n.lease.current()
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, derr := n.p.Pool.Exec(dctx, `DELETE FROM rdsexport_nodes WHERE instance = $1`, inst); derr != nil && err == nil {
		err = derr
	}
	n.logger.Info("node left the cluster")
	return err
}

// Wake asks the node to queue jobs for new tasks now (service.Runner).
func (n *Node) Wake() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// CancelTask stops the task's run wherever it runs (service.Runner). The
// caller has moved the task to CANCELING.
func (n *Node) CancelTask(accountID, identifier string) {
	n.mu.Lock()
	r := n.runs[runKey{accountID, identifier}]
	n.mu.Unlock()
	if r != nil {
		r.cancel(export.ErrTaskCanceled)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var jobID *int64
	err := n.p.Pool.QueryRow(ctx, `SELECT job_id FROM rdsexport_runs WHERE account_id = $1 AND identifier = $2 AND instance IS NOT NULL`,
		accountID, identifier).Scan(&jobID)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		// Not running: the reaper ends it.
	case err != nil:
		n.logger.Warn("cancel: find the task's job", "task_id", identifier, "err", err)
	case jobID != nil && r == nil:
		if _, err := n.river.JobCancel(ctx, *jobID); err != nil {
			n.logger.Warn("cancel the task's job", "task_id", identifier, "err", err)
		}
	}
	n.Wake()
}

// cancelRuns cancels every local run of instance, which has lapsed: they
// record nothing, and the reaper gives them to a live instance.
func (n *Node) cancelRuns(instance string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, r := range n.runs {
		if r.instance == instance {
			r.cancel(export.ErrHandedOff)
		}
	}
}

// Alone reports whether no other node's lease holds.
func (n *Node) Alone(ctx context.Context) (bool, error) {
	inst, _ := n.lease.current()
	var others int
	err := n.p.Pool.QueryRow(ctx, `SELECT count(*) FROM rdsexport_nodes WHERE instance <> $1
		AND heartbeat_at > now() - make_interval(secs => $2)`, inst, n.p.LeaseTTL.Seconds()).Scan(&others)
	return others == 0, err
}

func (n *Node) wrote(f fence, key string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.keys[f] == nil {
		n.keys[f] = map[string]bool{}
	}
	n.keys[f][key] = true
}

func (n *Node) written(f fence, key string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.keys[f][key]
}

// Running returns the number of exports this node runs.
func (n *Node) Running() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.runs)
}
