package snapshotcopy_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/jackc/pgx/v5"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/exporttest"
	"github.com/rdsexport/rdsexport/internal/pgsource"
	"github.com/rdsexport/rdsexport/internal/s3objects"
	"github.com/rdsexport/rdsexport/internal/s3server"
	"github.com/rdsexport/rdsexport/internal/snapshotcopy"
)

// typesSQL has a column of many PostgreSQL types, a partitioned table, an
// empty table and tables that are skipped.
const typesSQL = `
CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE SCHEMA types;
CREATE TABLE types.mixed (
  id int, s smallint, i integer, b bigint, r real, d double precision, n numeric, n2 numeric(10,2),
  t text, v varchar(10), by bytea, bo boolean, ts timestamp, tz timestamptz, dt date, iv interval,
  j jsonb, ia integer[], ta text[], e mood, u uuid, o oid);
INSERT INTO types.mixed VALUES
  (1, -32768, -2147483648, -9223372036854775808, 'NaN', '-Infinity', 'NaN', -99999999.99,
   '', 'héllo', '\x00ff10'::bytea, true, '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.123456+02', '2024-02-29', '1 year 2 mons 3 days 04:05:06.789',
   '{"a": [1, 2.5, "x"], "b": null}', '{1,NULL,3}', '{"a b","c\"d",NULL,"é"}', 'sad', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 1259),
  (2, 32767, 2147483647, 9223372036854775807, 3.4028235e38, 5e-324, '123456789012345678901234567890.123456789012345', 12.5,
   E'tab\there\nnew line', '', ''::bytea, false, '-infinity', 'infinity', '4713-01-01 BC', '-1 day',
   '{}', '{}', '{}', 'happy', NULL, 0),
  (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO types.mixed SELECT i, i % 30000, i, i::bigint * 1000000007, i / 7.0, i / 3.0, i / 11.0, i / 100.0,
  repeat('x', i % 50), 'v' || (i % 1000), decode(lpad(to_hex(i), 8, '0'), 'hex'), i % 2 = 0,
  timestamp '2020-01-01' + i * interval '1 minute', timestamptz '2020-01-01 00:00+00' + i * interval '1 second',
  date '2020-01-01' + i % 1000, i * interval '1 second', jsonb_build_object('k', i), ARRAY[i, i + 1], ARRAY['a' || i],
  CASE WHEN i % 2 = 0 THEN 'sad'::mood ELSE 'happy'::mood END, md5(i::text)::uuid, i
  FROM generate_series(4, 20000) i;
CREATE SCHEMA sales;
CREATE TABLE sales.orders (id bigint, placed date, amount numeric(12,2)) PARTITION BY RANGE (placed);
CREATE TABLE sales.orders_2023 PARTITION OF sales.orders FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE sales.orders_2024 PARTITION OF sales.orders FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE sales.orders_2025 PARTITION OF sales.orders FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
INSERT INTO sales.orders SELECT i, date '2023-01-01' + (i % 1000), i / 100.0 FROM generate_series(1, 3000) i;
CREATE TABLE sales.empty (id int, note text);
CREATE TABLE sales."bad columns" ("first name" text, id int);
CREATE UNLOGGED TABLE sales.scratch (id int);
CREATE TABLE "Sales2"."x" (id int);
`

const fixtureSQL = `CREATE SCHEMA "Sales2";` + typesSQL

// embeddedS3 returns S3 blobs on the embedded S3 server behind httptest.
func embeddedS3(t *testing.T) snapshotcopy.Blobs {
	t.Helper()
	srv, err := s3server.New(t.TempDir(), s3server.Params{AccountID: "000000000000"})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(exporttest.SigV4S3(srv, map[string]exporttest.S3Key{"test": {Secret: "test", Account: "000000000000"}}))
	t.Cleanup(hs.Close)
	store, err := s3objects.New(s3objects.Params{Endpoint: hs.URL, AccessKeyID: "test", SecretAccessKey: "test", PartSize: s3objects.MinPartSize})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateBucket(context.Background(), "snapshots"); err != nil {
		t.Fatal(err)
	}
	return snapshotcopy.NewS3Blobs(store, "snapshots", "/copies/")
}

// TestCopier_Equality: reading a copy gives the live source's schemas,
// tables, warnings and every value, on disk and on S3.
func TestCopier_Equality(t *testing.T) {
	for _, backend := range []string{"dir", "s3"} {
		t.Run(backend, func(t *testing.T) {
			var blobs snapshotcopy.Blobs
			if backend == "s3" {
				blobs = embeddedS3(t)
			}
			e := newEnv(t, fixtureSQL, envOpts{blobs: blobs, params: func(p *snapshotcopy.Params) {
				p.FileBytes = 1 // a file per slice: several files per batch
			}})
			want := read(t, e.source, nil, e.alloc)
			s := e.createAvailable(t, "eq")
			got := read(t, snapshotcopy.NewSource(e.blobs, s.Location), nil, e.alloc)
			sameData(t, got, want)
			if len(want.tables) < 4 {
				t.Fatalf("fixture tables: %v", targets(want.tables))
			}
			if !got.at.Equal(s.CreateTime) {
				t.Errorf("copy time %v, snapshot CreateTime %v", got.at, s.CreateTime)
			}
			if want.warnings.String() == "" {
				t.Errorf("fixture should have skipped tables")
			}
			keys, err := e.blobs.List(context.Background(), s.Location+"/")
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) < 6 || !slices.Contains(keys, s.Location+"/"+snapshotcopy.ManifestName) {
				t.Errorf("stored keys: %v", keys)
			}
			v, err := snapshotcopy.NewSource(e.blobs, s.Location).Version(context.Background())
			if err != nil || v == "" || v != s.EngineVersion {
				t.Errorf("Version = %q, %v; snapshot EngineVersion %q", v, err, s.EngineVersion)
			}
		})
	}
}

// TestCopier_PointInTime: changes made while the copy runs, and the loss
// of the source afterwards, do not change the copy.
func TestCopier_PointInTime(t *testing.T) {
	const setup = `CREATE TABLE a (id int PRIMARY KEY, v text);
INSERT INTO a SELECT i, 'v' || i FROM generate_series(1, 1000) i;
CREATE TABLE b (id int, w text);
INSERT INTO b SELECT i, 'w' || i FROM generate_series(1, 50) i;`
	var db func() string
	e := newEnv(t, setup, envOpts{wrap: func(src engine.Source) engine.Source {
		return hooked{Source: src, before: func(ctx context.Context) error {
			conn, err := pgx.Connect(ctx, db())
			if err != nil {
				return err
			}
			defer conn.Close(context.Background())
			for _, q := range []string{
				"INSERT INTO a SELECT i, 'new' FROM generate_series(1001, 1100) i",
				"UPDATE a SET v = 'changed' WHERE id <= 10",
				"DELETE FROM a WHERE id BETWEEN 500 AND 600",
				"INSERT INTO b VALUES (51, 'w51')",
			} {
				if _, err := conn.Exec(ctx, q); err != nil {
					return err
				}
			}
			return nil
		}}
	}})
	db = func() string { return e.db.URL }
	s := e.createAvailable(t, "pit")
	// Then a table and the whole source database disappear; the copy
	// stays readable. (A DROP TABLE during the copy is not tested: the
	// live source takes no table locks, so the drop would fail the copy.)
	e.db.Exec(t, "DROP TABLE b")
	ctx := context.Background()
	server, err := pgx.Connect(ctx, e.db.ServerURL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.Exec(ctx, "DROP DATABASE "+e.db.Name+" WITH (FORCE)"); err != nil {
		t.Fatal(err)
	}
	server.Close(ctx)
	got := read(t, snapshotcopy.NewSource(e.blobs, s.Location), nil, e.alloc)
	if g := targets(got.tables); !slices.Equal(g, []string{e.db.Name + ".public.a", e.db.Name + ".public.b"}) {
		t.Fatalf("tables %v", g)
	}
	var wantA, wantB [][]string
	for i := 1; i <= 1000; i++ {
		wantA = append(wantA, []string{fmt.Sprint(i), fmt.Sprintf("v%d", i)})
	}
	for i := 1; i <= 50; i++ {
		wantB = append(wantB, []string{fmt.Sprint(i), fmt.Sprintf("w%d", i)})
	}
	for name, want := range map[string][][]string{"a": wantA, "b": wantB} {
		rows := got.rows[e.db.Name+".public."+name][0]
		slices.SortFunc(rows, func(x, y []string) int { return len(x[0])*10000 - len(y[0])*10000 + strings.Compare(x[0], y[0]) })
		if len(rows) != len(want) {
			t.Fatalf("%s: %d rows, want %d", name, len(rows), len(want))
		}
		for i := range want {
			if !slices.Equal(rows[i], want[i]) {
				t.Fatalf("%s row %d = %q, want %q", name, i, rows[i], want[i])
			}
		}
	}
}

// TestSource_ExportOnly: a copy narrows tables and reports NOT_FOUND the
// way the live PostgreSQL source does.
func TestSource_ExportOnly(t *testing.T) {
	e := newEnv(t, fixtureSQL, envOpts{})
	s := e.createAvailable(t, "only")
	copySrc := snapshotcopy.NewSource(e.blobs, s.Location)
	n := e.db.Name
	cases := map[string][]string{
		"schema":         {n + ".sales"},
		"overlap":        {n + ".sales", n + ".sales.orders", n + ".sales", n + ".types.mixed"},
		"notFound":       {n + ".nope", n + ".sales.nope", n + ".SALES", "otherdb", n + ".types.mixed.x"},
		"database":       {n},
		"caseSensitive":  {n + ".Sales2.x", n + ".sales2.x"},
		"skippedByName":  {n + ".sales.scratch"},
		"mixedWithEmpty": {n + ".sales.empty", n + ".types"},
	}
	live := pgsource.New(e.db.URL, pgsource.Params{})
	for name, only := range cases {
		t.Run(name, func(t *testing.T) {
			got := read(t, copySrc, only, e.alloc)
			want := read(t, live, only, e.alloc)
			sameData(t, got, want)
		})
	}
	got := read(t, copySrc, []string{n + ".sales.orders", n + ".nope"}, e.alloc)
	if g := targets(got.tables); !slices.Equal(g, []string{n + ".sales.orders"}) {
		t.Errorf("tables %v", g)
	}
	if w := got.warnings.SkippedObjectives; len(w) != 1 || w[0] != (engine.Skipped{Target: n + ".nope", Reason: engine.ReasonNotFound}) {
		t.Errorf("skipped objectives %v", w)
	}
}

// TestSource_Incomplete: a copy without its manifest is never served.
func TestSource_Incomplete(t *testing.T) {
	dir := t.TempDir()
	blobs := snapshotcopy.NewDirBlobs(dir)
	e := newEnv(t, "CREATE TABLE a (id int); INSERT INTO a VALUES (1)", envOpts{blobs: blobs})
	s := e.createAvailable(t, "half")
	if err := os.Remove(filepath.Join(dir, filepath.FromSlash(s.Location), snapshotcopy.ManifestName)); err != nil {
		t.Fatal(err)
	}
	src := snapshotcopy.NewSource(blobs, s.Location)
	if _, err := src.Open(context.Background(), engine.OpenParams{}); !errors.Is(err, snapshotcopy.ErrIncomplete) {
		t.Errorf("Open = %v, want ErrIncomplete", err)
	}
	if _, err := src.Version(context.Background()); !errors.Is(err, snapshotcopy.ErrIncomplete) {
		t.Errorf("Version = %v, want ErrIncomplete", err)
	}
	if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(s.Location), snapshotcopy.ManifestName), []byte(`{"formatVersion": 99}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Open(context.Background(), engine.OpenParams{}); !errors.Is(err, snapshotcopy.ErrFormat) {
		t.Errorf("Open = %v, want ErrFormat", err)
	}
}

// TestCopier_Unreachable: a source that cannot be reached fails the
// snapshot with a reason and stores nothing.
func TestCopier_Unreachable(t *testing.T) {
	e := newEnv(t, "", envOpts{wrap: func(engine.Source) engine.Source {
		return pgsource.New("postgres://postgres:sekrit@127.0.0.1:1/postgres", pgsource.Params{ConnectTimeout: 3 * time.Second})
	}})
	start := time.Now()
	s := e.create(t, "down")
	if d := time.Since(start); d > time.Second {
		t.Errorf("Create took %v", d)
	}
	got := e.store.waitDone(t, s)
	if got.Status != export.SnapshotFailed || got.FailureReason == "" || strings.Contains(got.FailureReason, "sekrit") {
		t.Fatalf("status %s, reason %q", got.Status, got.FailureReason)
	}
	t.Logf("reason: %s", got.FailureReason)
	assertNoBlobs(t, e.blobs, "")
}

func assertNoBlobs(t *testing.T, blobs snapshotcopy.Blobs, prefix string) {
	t.Helper()
	keys, err := blobs.List(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Errorf("blobs left under %q: %v", prefix, keys)
	}
}

// fullBlobs fails writes once limit bytes have been written in all, like
// a disk that fills up; a negative limit never fails.
type fullBlobs struct {
	snapshotcopy.Blobs
	limit   atomic.Int64
	written atomic.Int64
}

func (f *fullBlobs) Put(ctx context.Context, key string, r io.Reader) error {
	return f.Blobs.Put(ctx, key, &fullReader{f: f, r: r})
}

type fullReader struct {
	f *fullBlobs
	r io.Reader
}

func (fr *fullReader) Read(p []byte) (int, error) {
	n, err := fr.r.Read(p)
	if l := fr.f.limit.Load(); l >= 0 && fr.f.written.Add(int64(n)) > l {
		return 0, fmt.Errorf("write: %w", syscall.ENOSPC)
	}
	return n, err
}

// TestCopier_DiskFull: a copy that cannot be written fails, removes its
// partial data and leaves other copies intact.
func TestCopier_DiskFull(t *testing.T) {
	blobs := &fullBlobs{Blobs: snapshotcopy.NewDirBlobs(t.TempDir())}
	blobs.limit.Store(-1)
	e := newEnv(t, `CREATE TABLE a (id int, v text); INSERT INTO a SELECT i, md5(i::text) FROM generate_series(1, 100000) i;
CREATE TABLE b (id int); INSERT INTO b SELECT generate_series(1, 10);`, envOpts{blobs: blobs, params: func(p *snapshotcopy.Params) {
		p.FileBytes = 256 << 10
	}})
	good := e.createAvailable(t, "good")
	before, err := blobs.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	wantGood := read(t, snapshotcopy.NewSource(blobs, good.Location), nil, e.alloc)

	blobs.written.Store(0)
	blobs.limit.Store(600 << 10) // a few files, then full
	s := e.store.waitDone(t, e.create(t, "full"))
	if s.Status != export.SnapshotFailed || !strings.Contains(s.FailureReason, syscall.ENOSPC.Error()) {
		t.Fatalf("status %s, reason %q", s.Status, s.FailureReason)
	}
	if s.Location == "" {
		t.Fatal("location not recorded")
	}
	assertNoBlobs(t, blobs, s.Location+"/")
	after, err := blobs.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(before, after) {
		t.Errorf("blobs changed:\n before %v\n after %v", before, after)
	}
	sameData(t, read(t, snapshotcopy.NewSource(blobs, good.Location), nil, e.alloc), wantGood)
}

// TestCopier_Stop: stopping the server during a copy fails it and removes
// its data.
func TestCopier_Stop(t *testing.T) {
	started := make(chan struct{})
	e := newEnv(t, "CREATE TABLE a (id int); INSERT INTO a SELECT generate_series(1, 1000);", envOpts{wrap: func(src engine.Source) engine.Source {
		return hooked{Source: src, before: func(ctx context.Context) error {
			close(started)
			<-ctx.Done()
			return context.Cause(ctx)
		}}
	}})
	s := e.create(t, "stopped")
	<-started
	e.copier.Stop()
	got, err := e.store.GetSnapshot(context.Background(), s.AccountID, s.Kind, s.Identifier)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != export.SnapshotFailed || got.FailureReason != snapshotcopy.ReasonServerStopped {
		t.Fatalf("status %s, reason %q", got.Status, got.FailureReason)
	}
	assertNoBlobs(t, e.blobs, "")
	if err := e.copier.Create(s); !errors.Is(err, snapshotcopy.ErrNotRunning) {
		t.Errorf("Create after Stop = %v", err)
	}
}

// TestCopier_Recover: snapshots left creating by a previous process fail
// at start-up and lose their partial data.
func TestCopier_Recover(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	blobs := snapshotcopy.NewDirBlobs(t.TempDir())
	var left []*export.Snapshot
	for i, acct := range []string{"111111111111", "222222222222"} {
		s := &export.Snapshot{Kind: export.SnapshotKindDB, Identifier: fmt.Sprintf("s%d", i), AccountID: acct, Status: export.SnapshotCreating, Engine: "postgres"}
		s.Location = snapshotcopy.NewLocation(s)
		if err := store.CreateSnapshot(ctx, s); err != nil {
			t.Fatal(err)
		}
		if err := blobs.Put(ctx, s.Location+"/t00000/b00000/part-00000.parquet", strings.NewReader("partial")); err != nil {
			t.Fatal(err)
		}
		left = append(left, s)
	}
	keep := &export.Snapshot{Kind: export.SnapshotKindCluster, Identifier: "done", AccountID: "111111111111", Status: export.SnapshotAvailable}
	keep.Location = snapshotcopy.NewLocation(keep)
	if err := store.CreateSnapshot(ctx, keep); err != nil {
		t.Fatal(err)
	}
	if err := blobs.Put(ctx, keep.Location+"/"+snapshotcopy.ManifestName, strings.NewReader("{}")); err != nil {
		t.Fatal(err)
	}
	c := snapshotcopy.New(snapshotcopy.Params{Store: store, Blobs: blobs})
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	for _, s := range left {
		got, err := store.GetSnapshot(ctx, s.AccountID, s.Kind, s.Identifier)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != export.SnapshotFailed || got.FailureReason != snapshotcopy.ReasonServerStopped {
			t.Errorf("%s: status %s, reason %q", s.Identifier, got.Status, got.FailureReason)
		}
		assertNoBlobs(t, blobs, s.Location+"/")
	}
	if keys, _ := blobs.List(ctx, keep.Location+"/"); len(keys) != 1 {
		t.Errorf("available copy touched: %v", keys)
	}
}

// TestCopier_Delete: deleting a snapshot deletes its data; the copy is no
// longer served.
func TestCopier_Delete(t *testing.T) {
	e := newEnv(t, "CREATE TABLE a (id int); INSERT INTO a VALUES (1), (2);", envOpts{})
	a := e.createAvailable(t, "a")
	b := e.createAvailable(t, "b")
	if err := e.copier.Delete(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	assertNoBlobs(t, e.blobs, a.Location+"/")
	if _, err := snapshotcopy.NewSource(e.blobs, a.Location).Open(context.Background(), engine.OpenParams{}); !errors.Is(err, snapshotcopy.ErrIncomplete) {
		t.Errorf("Open deleted copy = %v", err)
	}
	if d := read(t, snapshotcopy.NewSource(e.blobs, b.Location), nil, e.alloc); len(d.rows[e.db.Name+".public.a"][0]) != 2 {
		t.Errorf("other copy: %v", d.rows)
	}
}

// TestSource_ReadBatchCanceled: a read stops promptly when ctx ends and
// releases everything.
func TestSource_ReadBatchCanceled(t *testing.T) {
	e := newEnv(t, "CREATE TABLE a (id int, v text); INSERT INTO a SELECT i, md5(i::text) FROM generate_series(1, 200000) i;", envOpts{})
	s := e.createAvailable(t, "c")
	snap, err := snapshotcopy.NewSource(e.blobs, s.Location).Open(context.Background(), engine.OpenParams{Alloc: e.alloc})
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	tables, _, err := snap.Tables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err = snap.ReadBatch(ctx, tables[0], 0, func(arrow.RecordBatch) error {
		calls++
		cancel()
		return nil
	}, nil)
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Errorf("ReadBatch = %v after %d batches", err, calls)
	}
	if err := snap.ReadBatch(context.Background(), tables[0], 1, func(arrow.RecordBatch) error { return nil }, nil); !errors.Is(err, snapshotcopy.ErrUnknownTable) {
		t.Errorf("ReadBatch of a missing batch = %v", err)
	}
}

// TestCopier_DeleteWhileCreating: deleting a snapshot whose copy is
// running stops the copy and leaves no data.
func TestCopier_DeleteWhileCreating(t *testing.T) {
	started := make(chan struct{})
	e := newEnv(t, "CREATE TABLE a (id int); INSERT INTO a SELECT generate_series(1, 1000);", envOpts{wrap: func(src engine.Source) engine.Source {
		return hooked{Source: src, before: func(ctx context.Context) error {
			close(started)
			<-ctx.Done()
			return context.Cause(ctx)
		}}
	}})
	s := e.create(t, "gone")
	<-started
	cur, err := e.store.GetSnapshot(context.Background(), s.AccountID, s.Kind, s.Identifier)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.copier.Delete(context.Background(), cur); err != nil {
		t.Fatal(err)
	}
	if e.copier.Running() != 0 {
		t.Error("copy still running after Delete")
	}
	got, err := e.store.GetSnapshot(context.Background(), s.AccountID, s.Kind, s.Identifier)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != export.SnapshotFailed {
		t.Errorf("status %s", got.Status)
	}
	assertNoBlobs(t, e.blobs, "")
}
