package snapshotcopy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/rdsexport/rdsexport/internal/engine"
)

// ErrClosed is returned by a copy Snapshot's methods after Close.
var ErrClosed = errors.New("snapshot copy closed")

// ErrUnknownTable is wrapped by ReadBatch when the table or batch is not
// part of the copy.
var ErrUnknownTable = errors.New("table not in snapshot copy")

// readBatchRows is the most rows of one record batch read from a copy.
const readBatchRows = 64 << 10

// Source is an engine.Source over one stored copy: exports of a snapshot
// read it instead of the live database. It is safe for concurrent use and
// holds nothing between calls.
type Source struct {
	blobs    Blobs
	location string
	// TempDir receives the downloads of Blobs without random access; ""
	// means os.TempDir().
	TempDir string
}

var _ engine.Source = (*Source)(nil)

// NewSource returns the Source of the copy stored at location in blobs
// (export.Snapshot.Location). It does no I/O.
func NewSource(blobs Blobs, location string) *Source {
	return &Source{blobs: blobs, location: location}
}

// Version returns the engine version recorded in the copy ("" when the
// copy did not record one). Errors wrap ErrIncomplete, ErrFormat, or are
// the Blobs' errors.
func (s *Source) Version(ctx context.Context) (string, error) {
	m, err := readManifest(ctx, s.blobs, s.location)
	if err != nil {
		return "", err
	}
	return m.EngineVersion, nil
}

// Open reads the copy's manifest and returns a Snapshot of the stored data
// at the copy's moment, narrowed by p.ExportOnly the way the live sources
// narrow it (spec §7.4). A copy whose manifest is missing — never finished
// or deleted — is not served: the error wraps ErrIncomplete. Other errors
// wrap ErrFormat or are the Blobs' errors.
func (s *Source) Open(ctx context.Context, p engine.OpenParams) (engine.Snapshot, error) {
	m, err := readManifest(ctx, s.blobs, s.location)
	if err != nil {
		return nil, err
	}
	snap := &snapshot{
		src:     s,
		m:       m,
		alloc:   p.Alloc,
		readers: make(chan struct{}, max(p.Connections, 1)),
		byKey:   make(map[string]*storedTable, len(m.Tables)),
	}
	if snap.alloc == nil {
		snap.alloc = memory.DefaultAllocator
	}
	all := make([]*storedTable, len(m.Tables))
	for i, mt := range m.Tables {
		schema, err := decodeSchema(mt.Schema)
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", mt.Target, err)
		}
		all[i] = &storedTable{
			table: engine.Table{
				Target: mt.Target, Database: mt.Database, Folder: mt.Folder,
				Schema: schema, Columns: mt.Columns,
				Batches: len(mt.Batches), Ranges: mt.Ranges, EstimatedBytes: mt.EstimatedBytes,
			},
			batches: mt.Batches,
		}
	}
	var chosen []*storedTable
	chosen, snap.warnings = selectTables(m, all, p.ExportOnly)
	for _, st := range chosen {
		snap.tables = append(snap.tables, st.table)
		snap.byKey[st.table.Target] = st
	}
	return snap, nil
}

// storedTable is one table of the copy with its files.
type storedTable struct {
	table   engine.Table
	batches []manifestBatch
}

// nameDepth is the number of dot-separated parts of a full table name:
// db.table for MySQL and MariaDB, db.schema.table for PostgreSQL.
func nameDepth(engineName string) int {
	if mysqlFamily(engineName) {
		return 2
	}
	return 3
}

func mysqlFamily(engineName string) bool {
	e := strings.ToLower(engineName)
	return strings.Contains(e, "mysql") || strings.Contains(e, "mariadb")
}

// selectTables applies ExportOnly (spec §7.4) to the stored tables: an
// entry of k parts selects the tables (and skipped tables) whose Target's
// first k parts equal it, case-insensitively when the copy says names
// fold; a full-depth entry must name the table exactly. Repeated entries
// count once; entries that select nothing are NOT_FOUND. The returned
// warnings keep what concerns the selected databases and tables.
//
// Names are split at dots, so a name that itself contains a dot can only
// be selected through a shorter entry; live sources cannot select such
// names partially either (spec §7.4 allows [A-Za-z0-9$_] only).
func selectTables(m *manifest, all []*storedTable, exportOnly []string) ([]*storedTable, engine.Warnings) {
	var warn engine.Warnings
	if len(exportOnly) == 0 {
		warn.Merge(m.Warnings)
		return all, warn
	}
	norm := func(s string) string { return s }
	if m.CaseInsensitiveNames {
		norm = strings.ToLower
	}
	depth := nameDepth(m.Engine)
	matches := func(entry []string, target string) bool {
		parts := strings.Split(norm(target), ".")
		if len(entry) > len(parts) || (len(entry) >= depth && len(entry) != len(parts)) {
			return false
		}
		return slices.Equal(entry, parts[:len(entry)])
	}

	chosen := make([]bool, len(all))
	skipped := make([]bool, len(m.Warnings.SkippedTables))
	unlisted := make([]bool, len(m.Warnings.General))
	dbs := make(map[string]bool)
	for _, st := range all {
		dbs[strings.SplitN(norm(st.table.Target), ".", 2)[0]] = true
	}
	for _, sk := range m.Warnings.SkippedTables {
		dbs[strings.SplitN(norm(sk.Target), ".", 2)[0]] = true
	}
	var noDB, notFound []engine.Skipped
	seen := make(map[string]bool)
	for _, raw := range exportOnly {
		key := norm(raw)
		if seen[key] {
			continue
		}
		seen[key] = true
		entry := strings.Split(key, ".")
		found := false
		for i, st := range all {
			if matches(entry, st.table.Target) {
				chosen[i], found = true, true
			}
		}
		for i, sk := range m.Warnings.SkippedTables {
			if matches(entry, sk.Target) {
				skipped[i], found = true, true
			}
		}
		// A database whose tables could not be listed: its entries are not
		// NOT_FOUND, as with the live sources.
		for i, g := range m.Warnings.General {
			if g.Reason == engine.ReasonTablesList && g.Detail != "" && norm(g.Detail) == entry[0] {
				unlisted[i], found = true, true
			}
		}
		if !found {
			nf := engine.Skipped{Target: raw, Reason: engine.ReasonNotFound}
			if dbs[entry[0]] && len(entry) <= depth && !slices.Contains(entry, "") {
				notFound = append(notFound, nf)
			} else {
				noDB = append(noDB, nf)
			}
		}
	}
	// As with the live sources: entries naming a missing database first,
	// then those missing inside a database, each in input order.
	warn.SkippedObjectives = append(noDB, notFound...)
	var out []*storedTable
	for i, st := range all {
		if chosen[i] {
			out = append(out, st)
		}
	}
	for i, sk := range m.Warnings.SkippedTables {
		if skipped[i] {
			warn.SkippedTables = append(warn.SkippedTables, sk)
		}
	}
	for i, g := range m.Warnings.General {
		if unlisted[i] || g.Reason != engine.ReasonTablesList || g.Detail == "" {
			warn.General = append(warn.General, g)
		}
	}
	warn.SkippedObjectives = append(slices.Clone(m.Warnings.SkippedObjectives), warn.SkippedObjectives...)
	return out, warn
}

// snapshot is the engine.Snapshot of one Open call on a copy.
type snapshot struct {
	src      *Source
	m        *manifest
	alloc    memory.Allocator
	readers  chan struct{} // one token per concurrent ReadBatch
	tables   []engine.Table
	warnings engine.Warnings
	byKey    map[string]*storedTable

	mu     sync.Mutex
	closed bool
}

var (
	_ engine.Snapshot    = (*snapshot)(nil)
	_ engine.RangeReader = (*snapshot)(nil)
)

// Time is the moment of the copied data.
func (s *snapshot) Time() time.Time { return s.m.SnapshotTime }

// Tables returns the selected tables in the stored (export) order with the
// warnings of the copy that concern them and the NOT_FOUND entries of
// ExportOnly. It returns ErrClosed after Close.
func (s *snapshot) Tables(ctx context.Context) ([]engine.Table, engine.Warnings, error) {
	if s.isClosed() {
		return nil, engine.Warnings{}, ErrClosed
	}
	w := engine.Warnings{
		SkippedTables:     slices.Clone(s.warnings.SkippedTables),
		SkippedObjectives: slices.Clone(s.warnings.SkippedObjectives),
		General:           slices.Clone(s.warnings.General),
	}
	return slices.Clone(s.tables), w, nil
}

func (s *snapshot) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// ReadBatch streams the stored files of batch, range after range, as
// record batches with exactly t.Schema, calling progress with the source
// bytes the live read of those rows reported. At most
// OpenParams.Connections reads (ReadBatch or ReadRange) run at once.
// Errors: ErrUnknownTable (wrapped) for a table or batch not in the
// selection, ErrClosed, a schema mismatch, Blobs or Parquet errors, emit's
// first error, or ctx's error soon after ctx ends.
func (s *snapshot) ReadBatch(ctx context.Context, t engine.Table, batch int, emit func(arrow.RecordBatch) error, progress func(bytes int64)) error {
	b, schema, err := s.batch(t, batch)
	if err != nil {
		return err
	}
	return s.read(ctx, t.Target, schema, b.Ranges, fmt.Sprintf("batch %d", batch), emit, progress)
}

var _ engine.RangeReader = (*snapshot)(nil)

// ReadRange streams the stored files of range rng of batch, as the live
// snapshot's ReadRange returned them when the copy was taken; an empty
// range emits nothing. The stored Table.Ranges says how many there are.
// Errors are those of ReadBatch, and ErrUnknownTable (wrapped) for a range
// out of bounds.
func (s *snapshot) ReadRange(ctx context.Context, t engine.Table, batch, rng int, emit func(arrow.RecordBatch) error, progress func(bytes int64)) error {
	b, schema, err := s.batch(t, batch)
	if err != nil {
		return err
	}
	if rng < 0 || rng >= len(b.Ranges) {
		return fmt.Errorf("read %s batch %d range %d: %w", t.Target, batch, rng, ErrUnknownTable)
	}
	return s.read(ctx, t.Target, schema, b.Ranges[rng:rng+1], fmt.Sprintf("batch %d range %d", batch, rng), emit, progress)
}

// batch checks t and batch against the copy and returns the stored batch
// with the schema to read it with.
func (s *snapshot) batch(t engine.Table, batch int) (manifestBatch, *arrow.Schema, error) {
	if s.isClosed() {
		return manifestBatch{}, nil, ErrClosed
	}
	st := s.byKey[t.Target]
	if st == nil || batch < 0 || batch >= len(st.batches) {
		return manifestBatch{}, nil, fmt.Errorf("read %s batch %d: %w", t.Target, batch, ErrUnknownTable)
	}
	if t.Schema == nil {
		return st.batches[batch], st.table.Schema, nil
	}
	if !t.Schema.Equal(st.table.Schema) {
		return manifestBatch{}, nil, fmt.Errorf("read %s: schema %s differs from the stored schema %s", t.Target, t.Schema, st.table.Schema)
	}
	return st.batches[batch], t.Schema, nil
}

// read emits the files of ranges in order on one reader slot. what names
// the read in errors.
func (s *snapshot) read(ctx context.Context, target string, schema *arrow.Schema, ranges []manifestRange, what string,
	emit func(arrow.RecordBatch) error, progress func(int64)) error {
	select {
	case s.readers <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.readers }()

	if progress == nil {
		progress = func(int64) {}
	}
	for _, r := range ranges {
		if len(r.Files) == 0 {
			progress(r.SourceBytes)
			continue
		}
		for _, f := range r.Files {
			if err := s.readFile(ctx, schema, f, emit, progress); err != nil {
				return fmt.Errorf("read %s %s: %w", target, what, err)
			}
		}
	}
	return nil
}

// readFile emits the rows of one stored file.
func (s *snapshot) readFile(ctx context.Context, schema *arrow.Schema, mf manifestFile, emit func(arrow.RecordBatch) error, progress func(int64)) error {
	f, cleanup, err := s.openFile(ctx, s.src.location+"/"+mf.Key)
	if err != nil {
		return err
	}
	defer cleanup()
	// Decompression buffers are pooled by the reader and freed by the
	// garbage collector, so they come from the Go allocator; the Arrow
	// arrays handed to emit come from the snapshot's allocator.
	pf, err := file.NewParquetReader(f, file.WithReadProps(parquet.NewReaderProperties(memory.DefaultAllocator)))
	if err != nil {
		return fmt.Errorf("open %s: %w", mf.Key, err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: readBatchRows}, s.alloc)
	if err != nil {
		return fmt.Errorf("open %s: %w", mf.Key, err)
	}
	rr, err := fr.GetRecordReader(ctx, nil, nil)
	if err != nil {
		return fmt.Errorf("open %s: %w", mf.Key, err)
	}
	defer rr.Release()
	if got := rr.Schema(); got.NumFields() != schema.NumFields() {
		return fmt.Errorf("read %s: %d columns stored, %d expected", mf.Key, got.NumFields(), schema.NumFields())
	}
	for i, fld := range rr.Schema().Fields() {
		if !arrow.TypeEqual(fld.Type, schema.Field(i).Type) {
			return fmt.Errorf("read %s: column %s is stored as %s, expected %s", mf.Key, fld.Name, fld.Type, schema.Field(i).Type)
		}
	}
	var rows, reported int64
	for rr.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec := rr.RecordBatch()
		// The stored field metadata (Parquet field ids) is not part of the
		// exported schema: hand out the columns under t.Schema.
		out := array.NewRecordBatch(schema, rec.Columns(), rec.NumRows())
		err := emit(out)
		out.Release()
		if err != nil {
			return err
		}
		rows += rec.NumRows()
		if mf.Rows > 0 {
			n := mf.SourceBytes * rows / mf.Rows
			progress(n - reported)
			reported = n
		}
	}
	if err := rr.Err(); err != nil {
		return fmt.Errorf("read %s: %w", mf.Key, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if rows != mf.Rows {
		return fmt.Errorf("read %s: %d rows stored, manifest says %d", mf.Key, rows, mf.Rows)
	}
	if n := mf.SourceBytes - reported; n != 0 {
		progress(n)
	}
	return nil
}

// openFile opens key for random access: directly when the Blobs are local
// files, else by downloading it to a temporary file that cleanup removes.
func (s *snapshot) openFile(ctx context.Context, key string) (_ *os.File, cleanup func(), err error) {
	if fo, ok := s.src.blobs.(FileOpener); ok {
		f, err := fo.OpenFile(ctx, key)
		if err != nil {
			return nil, nil, err
		}
		return f, func() { _ = f.Close() }, nil
	}
	body, err := s.src.blobs.Get(ctx, key)
	if err != nil {
		return nil, nil, err
	}
	defer body.Close()
	tmp, err := os.CreateTemp(s.src.TempDir, "rdsexport-copy-*.parquet")
	if err != nil {
		return nil, nil, fmt.Errorf("download %s: %w", key, err)
	}
	cleanup = func() {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
	}
	if _, err := io.Copy(tmp, ctxReader{ctx, body}); err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("download %s: %w", key, err)
	}
	return tmp, cleanup, nil
}

// Close ends the snapshot; later calls of its methods return ErrClosed.
// It always returns nil.
func (s *snapshot) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

var (
	_ engine.Sharer = (*snapshot)(nil)
	_ engine.Joiner = (*Source)(nil)
)

// Share names t: a stored copy never changes, so any process that can
// read the copy reads t as this snapshot does.
func (s *snapshot) Share(t engine.Table) ([]byte, error) {
	return json.Marshal(struct {
		Table string `json:"table"`
	}{t.Target})
}

// Join opens the copy again (see Share).
func (s *Source) Join(ctx context.Context, _ []byte, p engine.OpenParams) (engine.Snapshot, error) {
	return s.Open(ctx, p)
}
