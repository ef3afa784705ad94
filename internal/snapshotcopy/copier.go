package snapshotcopy

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/parquetfile"
)

// Failure reasons recorded in Snapshot.FailureReason.
const (
	ReasonServerStopped = "the server stopped while the snapshot was being created"
	reasonDeleted       = "the snapshot was deleted while it was being created"
)

// cleanupTimeout bounds the work done after a copy's context has ended.
const cleanupTimeout = 30 * time.Second

// ErrNotRunning is returned by Copier.Create after Stop, and by Start
// after Stop.
var ErrNotRunning = errors.New("snapshot copier is not running")

// errDeleted is the cancel cause of a copy whose snapshot is deleted.
var errDeleted = errors.New("snapshot deleted")

// Resolver finds the live source a snapshot copies. Errors are
// *export.Error when the source no longer exists.
type Resolver func(ctx context.Context, s *export.Snapshot) (engine.Source, error)

// Params configures New.
type Params struct {
	Store   export.SnapshotStore
	Blobs   Blobs
	Resolve Resolver
	Logger  *slog.Logger
	Now     func() time.Time
	// Connections is the number of source connections (and tables copied
	// at once) per copy. Default 2.
	Connections int
	// Alloc allocates Arrow memory; nil means memory.DefaultAllocator.
	Alloc memory.Allocator
	// FileBytes is the compressed size at which a stored file is closed
	// and the next one begun. Default DefaultFileBytes.
	FileBytes int64
	// ProgressInterval is the shortest time between two PercentProgress
	// updates. Default 1s.
	ProgressInterval time.Duration
	// MaxPerAccount is the number of copies of one account that run at
	// once. Default DefaultMaxPerAccount.
	MaxPerAccount int
	// MaxPerServer is the number of copies of one database server (as
	// ServerOf names it) that run at once, whatever their account.
	// Default DefaultMaxPerServer.
	MaxPerServer int
	// ServerOf names the database server a snapshot copies. Nil means the
	// snapshot's kind and source identifier: each source is a server.
	ServerOf func(s *export.Snapshot) string
	// NoRecover keeps Start from calling Recover: with a store that other
	// processes share, their copies are not this Copier's to take over.
	NoRecover bool
}

// Defaults of Params.MaxPerAccount and Params.MaxPerServer.
const (
	DefaultMaxPerAccount = 4
	DefaultMaxPerServer  = 2
)

// Bounds of the stored Parquet files.
const (
	// DefaultFileBytes is the compressed size at which a file is closed and
	// the next one of the read begun.
	DefaultFileBytes = 64 << 20
	rowGroupRows     = 1 << 17
	rowGroupBytes    = 16 << 20
)

// Copier takes snapshot copies in the background. Create it with New, then
// Start; Stop waits for every goroutine it started.
//
// Copies wait in a queue, in the order of their snapshots' Seq, and begin
// as soon as their account runs fewer than Params.MaxPerAccount copies and
// their server fewer than Params.MaxPerServer; a queued copy whose account
// or server is at its limit lets later ones of other accounts and servers
// go first. A queued snapshot is creating with PercentProgress 0 and no
// Location: nothing of it has been copied.
type Copier struct {
	p       Params
	logger  *slog.Logger
	parquet parquetfile.WriterParams

	mu         sync.Mutex
	ctx        context.Context // the long-lived context owned by Start
	cancel     context.CancelCauseFunc
	stopped    bool
	queue      []*queued // in Seq order
	running    map[snapKey]*copyRun
	perAccount map[string]int
	perServer  map[string]int
	wg         sync.WaitGroup
}

// queued is a copy waiting for its turn.
type queued struct {
	snap   *export.Snapshot
	server string
}

type snapKey struct {
	account string
	kind    export.SnapshotKind
	id      string
}

func keyOf(s *export.Snapshot) snapKey { return snapKey{s.AccountID, s.Kind, s.Identifier} }

// copyRun is one copy in progress.
type copyRun struct {
	cancel  context.CancelCauseFunc
	done    chan struct{}
	account string
	server  string
}

// New returns a Copier with defaults filled in.
func New(p Params) *Copier {
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Connections <= 0 {
		p.Connections = 2
	}
	if p.Alloc == nil {
		p.Alloc = memory.DefaultAllocator
	}
	if p.FileBytes <= 0 {
		p.FileBytes = DefaultFileBytes
	}
	if p.ProgressInterval <= 0 {
		p.ProgressInterval = time.Second
	}
	if p.MaxPerAccount <= 0 {
		p.MaxPerAccount = DefaultMaxPerAccount
	}
	if p.MaxPerServer <= 0 {
		p.MaxPerServer = DefaultMaxPerServer
	}
	if p.ServerOf == nil {
		p.ServerOf = func(s *export.Snapshot) string { return string(s.Kind) + "/" + strings.ToLower(s.SourceIdentifier) }
	}
	// ZSTD at its default level, and the Arrow schema stored so that
	// Int16, Decimal128, time zones and String/Binary come back exactly on
	// read (spec §9 needs the original types).
	pq := parquetfile.WriterParams{
		Codec: parquetfile.ZSTD, CompressionLevel: -1, StoreSchema: true,
		MaxRowGroupRows: rowGroupRows, MaxRowGroupBytes: rowGroupBytes, Alloc: p.Alloc,
	}
	return &Copier{p: p, logger: p.Logger, parquet: pq, running: map[snapKey]*copyRun{},
		perAccount: map[string]int{}, perServer: map[string]int{}}
}

// Start runs Recover, then begins the queued copies, which run on a
// context derived from ctx (not from any request). Errors are Recover's,
// or ErrNotRunning after Stop.
func (c *Copier) Start(ctx context.Context) error {
	if !c.p.NoRecover {
		if err := c.Recover(ctx); err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return ErrNotRunning
	}
	c.ctx, c.cancel = context.WithCancelCause(ctx)
	c.dispatch()
	return nil
}

// Stop cancels the copies in progress with cause export.ErrShutdown and
// waits until each has removed its partial data and recorded failed.
// Queued snapshots stay creating: the next Start copies them.
func (c *Copier) Stop() {
	c.mu.Lock()
	cancel := c.cancel
	c.ctx, c.cancel = nil, nil
	c.stopped = true
	c.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel(export.ErrShutdown)
	c.wg.Wait()
}

// Running returns the number of copies in progress.
func (c *Copier) Running() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.running)
}

// Queued returns the number of copies waiting for their turn.
func (c *Copier) Queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue)
}

// Create queues a copy of the source of s, a snapshot already stored with
// status creating, and returns at once; the copy begins when its turn
// comes (see Copier), and the outcome is recorded in the store (available,
// or failed with a FailureReason). s is not modified. Before Start the
// copy waits in the queue. It returns ErrNotRunning after Stop, and an
// error when a copy of the same snapshot is already queued or running.
func (c *Copier) Create(s *export.Snapshot) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return ErrNotRunning
	}
	if !c.enqueue(s) {
		return fmt.Errorf("snapshot %s is already being copied", s.Identifier)
	}
	c.dispatch()
	return nil
}

// CreateSnapshot queues a copy of s like Create, as service.Snapshotter
// asks. A copy that cannot be queued (the Copier is stopping) would leave
// s creating for ever: s is recorded failed instead, with the reason.
func (c *Copier) CreateSnapshot(s *export.Snapshot) {
	err := c.Create(s)
	if err == nil {
		return
	}
	c.logger.Error("start snapshot copy", "snapshot_id", s.Identifier, "err", err)
	reason := err.Error()
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if _, err := c.p.Store.UpdateSnapshot(ctx, s.AccountID, s.Kind, s.Identifier,
		[]export.SnapshotStatus{export.SnapshotCreating}, export.SnapshotFailed, export.SnapshotUpdate{FailureReason: &reason}); err != nil {
		c.logger.Error("mark snapshot failed", "snapshot_id", s.Identifier, "err", err)
	}
}

// DeleteSnapshotData is Delete, as service.Snapshotter names it.
func (c *Copier) DeleteSnapshotData(ctx context.Context, s *export.Snapshot) error {
	return c.Delete(ctx, s)
}

// Dequeue removes s from the queue and reports whether it was there: a
// copy removed this way never begins. It reports false once the copy has
// begun or ended, and for a snapshot never given to Create.
func (c *Copier) Dequeue(s *export.Snapshot) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dequeue(keyOf(s))
}

// enqueue adds a copy of s to the queue in Seq order, unless s is queued
// or running already. c.mu must be held.
func (c *Copier) enqueue(s *export.Snapshot) bool {
	snap := *s
	key := keyOf(&snap)
	if _, dup := c.running[key]; dup || c.queuedAt(key) >= 0 {
		return false
	}
	i := len(c.queue)
	for i > 0 && c.queue[i-1].snap.Seq > snap.Seq {
		i--
	}
	c.queue = slices.Insert(c.queue, i, &queued{snap: &snap, server: c.p.ServerOf(&snap)})
	return true
}

// queuedAt is the queue position of the snapshot, or -1. c.mu must be held.
func (c *Copier) queuedAt(key snapKey) int {
	return slices.IndexFunc(c.queue, func(q *queued) bool { return keyOf(q.snap) == key })
}

func (c *Copier) dequeue(key snapKey) bool {
	i := c.queuedAt(key)
	if i < 0 {
		return false
	}
	c.queue = slices.Delete(c.queue, i, i+1)
	return true
}

// dispatch begins every queued copy whose account and server are below
// their limits, in queue order. It does nothing before Start and after
// Stop. c.mu must be held.
func (c *Copier) dispatch() {
	if c.ctx == nil {
		return
	}
	c.queue = slices.DeleteFunc(c.queue, func(q *queued) bool {
		if c.perAccount[q.snap.AccountID] >= c.p.MaxPerAccount || c.perServer[q.server] >= c.p.MaxPerServer {
			return false
		}
		c.begin(q)
		return true
	})
}

// begin runs the copy of q in a goroutine of c.wg. c.mu must be held.
func (c *Copier) begin(q *queued) {
	snap, key := q.snap, keyOf(q.snap)
	ctx, cancel := context.WithCancelCause(c.ctx)
	run := &copyRun{cancel: cancel, done: make(chan struct{}), account: snap.AccountID, server: q.server}
	c.running[key] = run
	c.perAccount[run.account]++
	c.perServer[run.server]++
	c.wg.Go(func() {
		defer func() {
			c.mu.Lock()
			delete(c.running, key)
			decrement(c.perAccount, run.account)
			decrement(c.perServer, run.server)
			c.dispatch()
			c.mu.Unlock()
			cancel(nil)
			close(run.done)
		}()
		c.copy(ctx, snap)
	})
}

func decrement(m map[string]int, k string) {
	if m[k]--; m[k] <= 0 {
		delete(m, k)
	}
}

// Recover takes over the creating snapshots of every account that this
// Copier neither runs nor queues, left by a previous process. One whose
// copy never began (no Location) is queued, in Seq order, so that it is
// copied as if nothing had happened. One whose copy had begun loses its
// partial data and becomes failed with ReasonServerStopped; data that
// cannot be deleted is logged and left for Delete. Errors are the store's.
func (c *Copier) Recover(ctx context.Context) error {
	snaps, err := c.p.Store.ListSnapshots(ctx, export.SnapshotFilter{Statuses: []export.SnapshotStatus{export.SnapshotCreating}})
	if err != nil {
		return fmt.Errorf("list unfinished snapshots: %w", err)
	}
	for _, s := range snaps {
		logger := c.logger.With("snapshot_id", s.Identifier, "account_id", s.AccountID)
		c.mu.Lock()
		_, mine := c.running[keyOf(s)]
		mine = mine || c.queuedAt(keyOf(s)) >= 0
		if !mine && s.Location == "" {
			c.enqueue(s)
			c.dispatch()
			c.mu.Unlock()
			logger.Info("recovered snapshot", "status", export.SnapshotCreating, "queued", true)
			continue
		}
		c.mu.Unlock()
		if mine {
			continue
		}
		if s.Location != "" {
			if _, err := c.p.Blobs.DeletePrefix(ctx, s.Location+"/"); err != nil {
				logger.Error("delete partial snapshot copy", "location", s.Location, "err", err)
			}
		}
		reason := ReasonServerStopped
		_, err := c.p.Store.UpdateSnapshot(ctx, s.AccountID, s.Kind, s.Identifier,
			[]export.SnapshotStatus{export.SnapshotCreating}, export.SnapshotFailed, export.SnapshotUpdate{FailureReason: &reason})
		if err != nil && !errors.Is(err, export.ErrStatusConflict) && export.ErrorCode(err) == export.CodeInternalFailure {
			return fmt.Errorf("recover snapshot %s: %w", s.Identifier, err)
		}
		logger.Info("recovered snapshot", "from", export.SnapshotCreating, "to", export.SnapshotFailed)
	}
	return nil
}

// Delete removes the stored data of s. A copy of s that this Copier still
// queues is dropped, and one it is still taking is cancelled first (it
// records failed, if the record still exists). Deleting a snapshot without
// data is not an error. Errors are the Blobs' or ctx's.
func (c *Copier) Delete(ctx context.Context, s *export.Snapshot) error {
	c.mu.Lock()
	c.dequeue(keyOf(s))
	run := c.running[keyOf(s)]
	c.mu.Unlock()
	if run != nil {
		run.cancel(errDeleted)
		select {
		case <-run.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if s.Location == "" {
		return nil
	}
	if _, err := c.p.Blobs.DeletePrefix(ctx, s.Location+"/"); err != nil {
		return fmt.Errorf("delete snapshot copy %s: %w", s.Identifier, err)
	}
	return nil
}

// NewLocation returns a fresh location for a copy of s: readable, unique
// even when an identifier is reused, and safe as a file path.
func NewLocation(s *export.Snapshot) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	clean := func(v string) string {
		return strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
				return r
			}
			return '_'
		}, v)
	}
	kind := string(s.Kind)
	if kind == "" {
		kind = string(export.SnapshotKindDB)
	}
	return fmt.Sprintf("%s/%s/%s-%s", clean(kind), clean(s.AccountID), clean(s.Identifier), hex.EncodeToString(b))
}

// copyState is the progress of one copy.
type copyState struct {
	read       atomic.Int64 // source bytes read
	stored     atomic.Int64 // bytes of files written
	total      int64        // estimated bytes of all tables
	tables     int
	tablesDone atomic.Int64
	// reads bounds the reads in progress (Params.Connections).
	reads *semaphore.Weighted
}

func (st *copyState) percent() int {
	var pct int
	switch {
	case st.total > 0:
		pct = int(st.read.Load() * 100 / st.total)
	case st.tables > 0:
		pct = int(st.tablesDone.Load() * 100 / int64(st.tables))
	}
	return min(max(pct, 0), 99)
}

// copy takes one copy to its end and records the outcome; every outcome is
// a status, so it returns nothing.
func (c *Copier) copy(ctx context.Context, s *export.Snapshot) {
	logger := c.logger.With("snapshot_id", s.Identifier, "account_id", s.AccountID)
	start := c.p.Now()
	if s.Location == "" {
		s.Location = NewLocation(s)
	}
	logger.Info("snapshot copy started", "source", s.SourceIdentifier, "location", s.Location)
	st := copyState{reads: semaphore.NewWeighted(int64(c.p.Connections))}
	size, err := c.take(ctx, s, &st, logger)
	c.finish(ctx, s, size, err, logger)
	logger.Info("snapshot copy ended", "duration", c.p.Now().Sub(start), "bytes", st.read.Load(), "stored_bytes", size)
}

// take copies every table and writes the manifest; it returns the stored
// size.
func (c *Copier) take(ctx context.Context, s *export.Snapshot, st *copyState, logger *slog.Logger) (int64, error) {
	src, err := c.p.Resolve(ctx, s)
	if err != nil {
		return 0, fmt.Errorf("resolve source: %w", err)
	}
	version := s.EngineVersion
	if version == "" {
		if version, err = src.Version(ctx); err != nil {
			return 0, fmt.Errorf("source version: %w", err)
		}
	}
	snap, err := src.Open(ctx, engine.OpenParams{Connections: c.p.Connections, Alloc: c.p.Alloc})
	if err != nil {
		return 0, fmt.Errorf("open source: %w", err)
	}
	defer func() {
		if err := snap.Close(); err != nil {
			logger.Warn("close source snapshot", "err", err)
		}
	}()
	at := snap.Time().UTC()
	// The location is recorded before any data is written, so that
	// Recover can find and remove a copy cut short by a crash.
	zero := 0
	if _, err := c.p.Store.UpdateSnapshot(ctx, s.AccountID, s.Kind, s.Identifier, []export.SnapshotStatus{export.SnapshotCreating}, export.SnapshotCreating,
		export.SnapshotUpdate{CreateTime: &at, Location: &s.Location, PercentProgress: &zero, EngineVersion: &version}); err != nil {
		return 0, fmt.Errorf("record snapshot time: %w", err)
	}

	tables, warnings, err := snap.Tables(ctx)
	if err != nil {
		return 0, fmt.Errorf("list tables: %w", err)
	}
	st.tables = len(tables)
	for _, t := range tables {
		st.total += t.EstimatedBytes
	}
	logger.Info("tables selected", "tables", len(tables), "estimated_bytes", st.total)

	stopProgress := c.reportProgress(ctx, s, st, logger)
	defer stopProgress()

	m := &manifest{
		FormatVersion:        FormatVersion,
		Engine:               s.Engine,
		EngineVersion:        version,
		SnapshotTime:         at,
		CaseInsensitiveNames: mysqlFamily(s.Engine),
		Tables:               make([]manifestTable, len(tables)),
		Warnings:             warnings,
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.p.Connections)
	for i, t := range tables {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			mt, err := c.copyTable(gctx, snap, s.Location, i, t, st)
			if err != nil {
				return fmt.Errorf("copy table %s: %w", t.Target, err)
			}
			m.Tables[i] = mt
			st.tablesDone.Add(1)
			logger.Debug("table copied", "table", t.Target)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	if err := context.Cause(ctx); err != nil {
		return 0, err
	}
	m.StoredBytes = st.stored.Load()
	data, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return 0, fmt.Errorf("encode manifest: %w", err)
	}
	if err := c.p.Blobs.Put(ctx, s.Location+"/"+ManifestName, bytes.NewReader(data)); err != nil {
		return 0, fmt.Errorf("write manifest: %w", err)
	}
	return m.StoredBytes + int64(len(data)), nil
}

// copyTable stores every batch of t under <location>/t<index>/ through
// engine.ReadTable: each read of a batch (the whole batch, or one range
// of it when the snapshot reads ranges, so that an export of the copy
// writes the part-<range> series a live export writes; spec §8.2) is its
// own series of files <stem>-NNNNN.parquet.
func (c *Copier) copyTable(ctx context.Context, snap engine.Snapshot, location string, index int, t engine.Table, st *copyState) (manifestTable, error) {
	schema, err := encodeSchema(t.Schema)
	if err != nil {
		return manifestTable{}, err
	}
	mt := manifestTable{
		Target: t.Target, Database: t.Database, Folder: t.Folder,
		Schema: schema, Columns: t.Columns, EstimatedBytes: t.EstimatedBytes,
		Ranges: min(t.Ranges, 1), Batches: make([]manifestBatch, t.Batches),
	}
	if n := engine.RangeCount(snap, t); n > 1 {
		mt.Ranges = n
	}
	batches, err := engine.ReadTable(ctx, snap, t, engine.ReadParams{
		Slots: st.reads,
		Series: func(batch, rng int) *parquetfile.Series {
			stem := fmt.Sprintf("t%05d/b%05d/r%05d", index, batch, rng)
			return parquetfile.NewSeries(parquetfile.SeriesParams{
				Schema: t.Schema, Writer: c.parquet, FileBytes: c.p.FileBytes,
				Key: func(i int) string { return fmt.Sprintf("%s-%05d.parquet", stem, i) },
				Put: func(ctx context.Context, key string, body io.Reader) error {
					return c.p.Blobs.Put(ctx, location+"/"+key, body)
				},
			})
		},
		Progress: func(n int64) { st.read.Add(n) },
	})
	if err != nil {
		return mt, err
	}
	for b, reads := range batches {
		mb := manifestBatch{Ranges: make([]manifestRange, len(reads))}
		for i, r := range reads {
			mr := manifestRange{Rows: r.Rows, SourceBytes: r.SourceBytes}
			for _, f := range r.Files {
				mr.Files = append(mr.Files, manifestFile(f))
				st.stored.Add(f.Bytes)
			}
			mb.Ranges[i] = mr
			mb.Rows += r.Rows
			mb.SourceBytes += r.SourceBytes
		}
		mt.Batches[b] = mb
	}
	return mt, nil
}

// reportProgress saves PercentProgress at most every ProgressInterval,
// when it changed, until stopped.
func (c *Copier) reportProgress(ctx context.Context, s *export.Snapshot, st *copyState, logger *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(c.p.ProgressInterval)
		defer tick.Stop()
		last := 0
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				pct := st.percent()
				if pct == last {
					continue
				}
				_, err := c.p.Store.UpdateSnapshot(ctx, s.AccountID, s.Kind, s.Identifier,
					[]export.SnapshotStatus{export.SnapshotCreating}, export.SnapshotCreating, export.SnapshotUpdate{PercentProgress: &pct})
				if err != nil && ctx.Err() == nil {
					logger.Warn("save snapshot progress", "err", err)
					continue
				}
				last = pct
			}
		}
	}()
	return func() { cancel(); <-done }
}

// finish records the outcome. A copy becomes available only once its
// manifest exists; otherwise its data is removed before it is marked
// failed, so a failed snapshot keeps nothing.
func (c *Copier) finish(ctx context.Context, s *export.Snapshot, size int64, err error, logger *slog.Logger) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	store := c.p.Store
	creating := []export.SnapshotStatus{export.SnapshotCreating}
	if err == nil && context.Cause(ctx) == nil {
		pct := 100
		_, uerr := store.UpdateSnapshot(cctx, s.AccountID, s.Kind, s.Identifier, creating, export.SnapshotAvailable,
			export.SnapshotUpdate{PercentProgress: &pct, SizeBytes: &size})
		if uerr == nil {
			logger.Info("snapshot available", "stored_bytes", size)
			return
		}
		// Deleted or failed meanwhile: the copy belongs to no record.
		err = fmt.Errorf("record availability: %w", uerr)
	}
	if _, derr := c.p.Blobs.DeletePrefix(cctx, s.Location+"/"); derr != nil {
		logger.Error("delete partial snapshot copy", "location", s.Location, "err", derr)
	}
	reason := failureReason(ctx, err)
	_, uerr := store.UpdateSnapshot(cctx, s.AccountID, s.Kind, s.Identifier, creating, export.SnapshotFailed,
		export.SnapshotUpdate{FailureReason: &reason})
	if uerr != nil {
		if errors.Is(uerr, export.ErrStatusConflict) || export.ErrorCode(uerr) != export.CodeInternalFailure {
			logger.Info("snapshot copy abandoned", "reason", reason)
			return
		}
		logger.Error("record snapshot failure", "err", uerr)
		return
	}
	logger.Error("snapshot failed", "err", err, "reason", reason)
}

// failureReason says why a copy failed, without secrets: sources keep
// passwords out of their errors (engine.Source contract).
func failureReason(ctx context.Context, err error) string {
	cause := context.Cause(ctx)
	switch {
	case errors.Is(cause, export.ErrShutdown):
		return ReasonServerStopped
	case errors.Is(cause, errDeleted):
		return reasonDeleted
	case err == nil:
		return "the snapshot copy was cancelled"
	}
	var ee *export.Error
	if errors.As(err, &ee) {
		return ee.Message
	}
	var se *engine.SourceError
	if errors.As(err, &se) {
		return se.Error()
	}
	return err.Error()
}
