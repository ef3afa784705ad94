package snapshotcopy_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"go.uber.org/goleak"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/exporttest"
	"github.com/rdsexport/rdsexport/internal/pgsource"
	"github.com/rdsexport/rdsexport/internal/snapshotcopy"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// memStore is an in-memory export.SnapshotStore (no shared one exists
// yet). Each change wakes the waiters of changed().
type memStore struct {
	mu      sync.Mutex
	snaps   map[string]*export.Snapshot
	seq     int64
	wake    chan struct{}
	updates []export.SnapshotUpdate
}

func newMemStore() *memStore {
	return &memStore{snaps: map[string]*export.Snapshot{}, wake: make(chan struct{})}
}

var _ export.SnapshotStore = (*memStore)(nil)

func memKey(acct string, kind export.SnapshotKind, id string) string {
	return acct + "/" + string(kind) + "/" + id
}

func (m *memStore) notify() {
	close(m.wake)
	m.wake = make(chan struct{})
}

func (m *memStore) changed() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.wake
}

func (m *memStore) CreateSnapshot(_ context.Context, s *export.Snapshot) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := memKey(s.AccountID, s.Kind, s.Identifier)
	if m.snaps[k] != nil {
		return export.SnapshotAlreadyExists(s.Kind, s.Identifier)
	}
	m.seq++
	s.Seq = m.seq
	c := *s
	m.snaps[k] = &c
	m.notify()
	return nil
}

func (m *memStore) GetSnapshot(_ context.Context, acct string, kind export.SnapshotKind, id string) (*export.Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.snaps[memKey(acct, kind, id)]
	if s == nil {
		return nil, export.SnapshotNotFound(kind, id)
	}
	c := *s
	return &c, nil
}

func (m *memStore) ListSnapshots(_ context.Context, f export.SnapshotFilter) ([]*export.Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*export.Snapshot
	for _, s := range m.snaps {
		if (f.AccountID != "" && s.AccountID != f.AccountID) || (f.Kind != "" && s.Kind != f.Kind) ||
			(len(f.Statuses) > 0 && !slices.Contains(f.Statuses, s.Status)) {
			continue
		}
		c := *s
		out = append(out, &c)
	}
	slices.SortFunc(out, func(a, b *export.Snapshot) int { return int(a.Seq - b.Seq) })
	return out, nil
}

func (m *memStore) UpdateSnapshot(_ context.Context, acct string, kind export.SnapshotKind, id string, from []export.SnapshotStatus, to export.SnapshotStatus, u export.SnapshotUpdate) (*export.Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.snaps[memKey(acct, kind, id)]
	if s == nil {
		return nil, export.SnapshotNotFound(kind, id)
	}
	if !slices.Contains(from, s.Status) {
		c := *s
		return &c, fmt.Errorf("snapshot %s is %s: %w", id, s.Status, export.ErrStatusConflict)
	}
	s.Status = to
	if u.PercentProgress != nil {
		s.PercentProgress = *u.PercentProgress
	}
	if u.CreateTime != nil {
		s.CreateTime = *u.CreateTime
	}
	if u.Location != nil {
		s.Location = *u.Location
	}
	if u.SizeBytes != nil {
		s.SizeBytes = *u.SizeBytes
	}
	if u.FailureReason != nil {
		s.FailureReason = *u.FailureReason
	}
	if u.EngineVersion != nil {
		s.EngineVersion = *u.EngineVersion
	}
	m.updates = append(m.updates, u)
	m.notify()
	c := *s
	return &c, nil
}

func (m *memStore) DeleteSnapshot(_ context.Context, acct string, kind export.SnapshotKind, id string, from []export.SnapshotStatus) (*export.Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := memKey(acct, kind, id)
	s := m.snaps[k]
	if s == nil {
		return nil, export.SnapshotNotFound(kind, id)
	}
	if !slices.Contains(from, s.Status) {
		return s, fmt.Errorf("snapshot %s is %s: %w", id, s.Status, export.ErrStatusConflict)
	}
	delete(m.snaps, k)
	m.notify()
	return s, nil
}

// waitDone waits until the snapshot leaves creating and returns it.
func (m *memStore) waitDone(t testing.TB, s *export.Snapshot) *export.Snapshot {
	t.Helper()
	deadline := time.After(2 * time.Minute)
	for {
		ch := m.changed()
		cur, err := m.GetSnapshot(context.Background(), s.AccountID, s.Kind, s.Identifier)
		if err != nil {
			t.Fatal(err)
		}
		if cur.Status != export.SnapshotCreating {
			return cur
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("snapshot %s still creating", s.Identifier)
		}
	}
}

// scoped narrows a live source to one database: copies always read a whole
// server, and the test server holds other tests' databases.
type scoped struct {
	engine.Source
	only []string
}

func (s scoped) Open(ctx context.Context, p engine.OpenParams) (engine.Snapshot, error) {
	p.ExportOnly = s.only
	return s.Source.Open(ctx, p)
}

// hooked calls before once, before the first ReadBatch of the snapshot.
type hooked struct {
	engine.Source
	before func(ctx context.Context) error
}

func (h hooked) Open(ctx context.Context, p engine.OpenParams) (engine.Snapshot, error) {
	snap, err := h.Source.Open(ctx, p)
	if err != nil {
		return nil, err
	}
	return &hookedSnap{Snapshot: snap, before: h.before}, nil
}

type hookedSnap struct {
	engine.Snapshot
	once   sync.Once
	before func(ctx context.Context) error
}

func (h *hookedSnap) ReadBatch(ctx context.Context, t engine.Table, b int, emit func(arrow.RecordBatch) error, progress func(int64)) error {
	var err error
	h.once.Do(func() { err = h.before(ctx) })
	if err != nil {
		return err
	}
	return h.Snapshot.ReadBatch(ctx, t, b, emit, progress)
}

// env is a copier over a fresh database.
type env struct {
	db     *exporttest.PostgresDB
	store  *memStore
	blobs  snapshotcopy.Blobs
	alloc  *memory.CheckedAllocator
	copier *snapshotcopy.Copier
	source engine.Source // what Resolve returns
}

type envOpts struct {
	blobs  snapshotcopy.Blobs
	pg     pgsource.Params // options of the live source
	wrap   func(engine.Source) engine.Source
	params func(*snapshotcopy.Params)
}

func newEnv(t testing.TB, setup string, o envOpts) *env {
	t.Helper()
	e := &env{db: exporttest.NewPostgresDB(t, setup), store: newMemStore(), blobs: o.blobs}
	if e.blobs == nil {
		e.blobs = snapshotcopy.NewDirBlobs(t.TempDir())
	}
	e.alloc = memory.NewCheckedAllocator(memory.NewGoAllocator())
	e.source = scoped{Source: pgsource.New(e.db.URL, o.pg), only: []string{e.db.Name}}
	if o.wrap != nil {
		e.source = o.wrap(e.source)
	}
	p := snapshotcopy.Params{
		Store: e.store, Blobs: e.blobs, Alloc: e.alloc, Connections: 2,
		Resolve: func(context.Context, *export.Snapshot) (engine.Source, error) { return e.source, nil },
	}
	if o.params != nil {
		o.params(&p)
	}
	e.copier = snapshotcopy.New(p)
	if err := e.copier.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.copier.Stop()
		e.alloc.AssertSize(t, 0)
	})
	return e
}

// create stores a creating snapshot and starts its copy.
func (e *env) create(t testing.TB, id string) *export.Snapshot {
	t.Helper()
	s := &export.Snapshot{
		Kind: export.SnapshotKindDB, Identifier: id, AccountID: "123456789012", Region: "us-east-1",
		SourceIdentifier: "db1", Engine: "postgres", Status: export.SnapshotCreating, Type: export.SnapshotTypeManual,
	}
	if err := e.store.CreateSnapshot(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if err := e.copier.Create(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// createAvailable copies and requires success.
func (e *env) createAvailable(t testing.TB, id string) *export.Snapshot {
	t.Helper()
	s := e.store.waitDone(t, e.create(t, id))
	if s.Status != export.SnapshotAvailable {
		t.Fatalf("snapshot %s: status %s (%s), want available", id, s.Status, s.FailureReason)
	}
	if s.PercentProgress != 100 || s.SizeBytes <= 0 || s.CreateTime.IsZero() || s.Location == "" {
		t.Fatalf("available snapshot fields: %+v", s)
	}
	return s
}

// dump is every value of a snapshot: target → batch → row → column text.
type dump struct {
	tables   []engine.Table
	warnings engine.Warnings
	at       time.Time
	rows     map[string][][][]string
	progress map[string]int64
}

// read opens src and reads every table and batch.
func read(t testing.TB, src engine.Source, exportOnly []string, alloc memory.Allocator) dump {
	t.Helper()
	ctx := context.Background()
	snap, err := src.Open(ctx, engine.OpenParams{ExportOnly: exportOnly, Connections: 2, Alloc: alloc})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer snap.Close()
	d := dump{at: snap.Time(), rows: map[string][][][]string{}, progress: map[string]int64{}}
	d.tables, d.warnings, err = snap.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range d.tables {
		batches := make([][][]string, tb.Batches)
		for b := range tb.Batches {
			var progress int64
			err := snap.ReadBatch(ctx, tb, b, func(rec arrow.RecordBatch) error {
				if !rec.Schema().Equal(tb.Schema) {
					return fmt.Errorf("%s: record schema %s, table schema %s", tb.Target, rec.Schema(), tb.Schema)
				}
				for r := range int(rec.NumRows()) {
					row := make([]string, rec.NumCols())
					for c, col := range rec.Columns() {
						if col.IsNull(r) {
							row[c] = "<NULL>"
						} else {
							row[c] = col.ValueStr(r)
						}
					}
					batches[b] = append(batches[b], row)
				}
				return nil
			}, func(n int64) { progress += n })
			if err != nil {
				t.Fatalf("read %s batch %d: %v", tb.Target, b, err)
			}
			d.progress[tb.Target] += progress
		}
		d.rows[tb.Target] = batches
	}
	return d
}

func targets(ts []engine.Table) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Target
	}
	return out
}

// sameData fails unless two dumps have the same tables, schemas, columns,
// batches, warnings and values.
func sameData(t *testing.T, got, want dump) {
	t.Helper()
	if g, w := targets(got.tables), targets(want.tables); !slices.Equal(g, w) {
		t.Fatalf("tables:\n got %v\nwant %v", g, w)
	}
	for i, g := range got.tables {
		w := want.tables[i]
		if !g.Schema.Equal(w.Schema) {
			t.Errorf("%s schema:\n got %s\nwant %s", g.Target, g.Schema, w.Schema)
		}
		if g.Database != w.Database || g.Folder != w.Folder || g.Batches != w.Batches || g.EstimatedBytes != w.EstimatedBytes || !slices.Equal(g.Columns, w.Columns) {
			t.Errorf("%s table:\n got %+v\nwant %+v", g.Target, g, w)
		}
		if got.progress[g.Target] != want.progress[g.Target] {
			t.Errorf("%s: progress %d bytes, want %d", g.Target, got.progress[g.Target], want.progress[g.Target])
		}
		gr, wr := got.rows[g.Target], want.rows[g.Target]
		for b := range max(len(gr), len(wr)) {
			if b >= len(gr) || b >= len(wr) || len(gr[b]) != len(wr[b]) {
				t.Errorf("%s batch %d: row counts differ", g.Target, b)
				continue
			}
			for r := range gr[b] {
				if !slices.Equal(gr[b][r], wr[b][r]) {
					t.Errorf("%s batch %d row %d:\n got %q\nwant %q", g.Target, b, r, gr[b][r], wr[b][r])
					break
				}
			}
		}
	}
	if g, w := got.warnings.String(), want.warnings.String(); g != w {
		t.Errorf("warnings:\n got %s\nwant %s", g, w)
	}
}

func (m *memStore) CreateSnapshotWithin(_ context.Context, s *export.Snapshot, limit int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, o := range m.snaps {
		if o.AccountID == s.AccountID && o.Kind == s.Kind && o.Type == s.Type {
			n++
		}
	}
	if n >= limit {
		return export.SnapshotQuotaExceeded(s.Kind, limit)
	}
	k := memKey(s.AccountID, s.Kind, s.Identifier)
	if m.snaps[k] != nil {
		return export.SnapshotAlreadyExists(s.Kind, s.Identifier)
	}
	m.seq++
	s.Seq = m.seq
	c := *s
	m.snaps[k] = &c
	m.notify()
	return nil
}
