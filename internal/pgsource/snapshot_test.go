package pgsource_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/jackc/pgx/v5"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/pgsource"
)

func TestSource_Version(t *testing.T) {
	t.Parallel()
	u := adminURL(t)
	t.Run("OK", func(t *testing.T) {
		v, err := pgsource.New(u, pgsource.Params{}).Version(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^\d+\.\d+$`).MatchString(v) {
			t.Errorf("version %q", v)
		}
		conn, err := pgx.Connect(t.Context(), u)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(t.Context())
		var full string
		if err := conn.QueryRow(t.Context(), "SHOW server_version").Scan(&full); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(full, v) {
			t.Errorf("version %q, server says %q", v, full)
		}
	})
	t.Run("ErrInvalidURL", func(t *testing.T) {
		_, err := pgsource.New("postgres://u:s3cretPW@[::1/x", pgsource.Params{}).Version(t.Context())
		if !errors.Is(err, pgsource.ErrInvalidURL) || strings.Contains(err.Error(), "s3cretPW") {
			t.Errorf("err %v", err)
		}
	})
}

// TestSource_Open_ErrConnect checks that connection errors never show the
// password, whatever the URL form.
func TestSource_Open_ErrConnect(t *testing.T) {
	t.Parallel()
	const pw = "s3cretPW-9f8e"
	for _, u := range []string{
		"postgres://postgres:" + pw + "@127.0.0.1:1/postgres?connect_timeout=2",
		"host=127.0.0.1 port=1 user=postgres password=" + pw + " connect_timeout=2",
		"postgres://" + pw + ":" + pw + "@127.0.0.1:1/" + pw,
		"postgres://postgres:" + pw + "@127.0.0.1:5432/no_such_db_" + pw,
		"postgres://no_such_user_" + pw + ":" + pw + "@127.0.0.1:5432/postgres",
		"postgres://postgres:" + pw + "@[::1/x",
	} {
		src := pgsource.New(u, pgsource.Params{ConnectTimeout: 2 * time.Second})
		snap, err := src.Open(t.Context(), engine.OpenParams{Connections: 1})
		if err == nil {
			_ = snap.Close()
			t.Errorf("Open succeeded for %q", strings.ReplaceAll(u, pw, "PW"))
			continue
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("error contains the password: %v", err)
		}
		if _, err := src.Version(t.Context()); err == nil || strings.Contains(err.Error(), pw) {
			t.Errorf("Version error %v", err)
		}
	}
}

func TestSnapshot_Partitioned(t *testing.T) {
	t.Parallel()
	db := newTestDB(t,
		`CREATE TABLE events (id int, at date, note text) PARTITION BY RANGE (at)`,
		// Created out of bound order, so catalog (OID) order differs.
		`CREATE TABLE events_2024_03 PARTITION OF events FOR VALUES FROM ('2024-03-01') TO ('2024-04-01')`,
		`CREATE TABLE events_2024_01 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2024-02-01')`,
		`CREATE TABLE events_2024_02 PARTITION OF events FOR VALUES FROM ('2024-02-01') TO ('2024-03-01')`,
		`INSERT INTO events SELECT i, '2024-01-15', 'jan' FROM generate_series(1, 1) i`,
		`INSERT INTO events SELECT i, '2024-02-15', 'feb' FROM generate_series(1, 2) i`,
		`INSERT INTO events SELECT i, '2024-03-15', 'mar' FROM generate_series(1, 3) i`,
		// Two levels, list partitioned, numeric bounds that sort
		// differently as text.
		`CREATE TABLE m (k int, v text) PARTITION BY RANGE (k)`,
		`CREATE TABLE m_10 PARTITION OF m FOR VALUES FROM (10) TO (100) PARTITION BY LIST (v)`,
		`CREATE TABLE m_10_b PARTITION OF m_10 FOR VALUES IN ('b')`,
		`CREATE TABLE m_10_a PARTITION OF m_10 FOR VALUES IN ('a')`,
		`CREATE TABLE m_9 PARTITION OF m FOR VALUES FROM (9) TO (10)`,
		`CREATE TABLE m_def PARTITION OF m DEFAULT`,
		`INSERT INTO m VALUES (9, 'x'), (50, 'a'), (50, 'b'), (60, 'b'), (1000, 'z')`,
		`CREATE TABLE nopart (k int) PARTITION BY RANGE (k)`,
	)
	alloc := checkedAlloc(t)
	snap := open(t, db, 2, alloc)
	byTarget, all, warn := tables(t, snap)
	if !warn.Empty() {
		t.Errorf("warnings %s", warn)
	}
	var targets []string
	for _, tb := range all {
		targets = append(targets, strings.TrimPrefix(tb.Target, db.Name+"."))
	}
	if want := []string{"public.events", "public.m", "public.nopart"}; !slices.Equal(targets, want) {
		t.Fatalf("tables %v, want %v (partitions are not listed)", targets, want)
	}

	ev := byTarget[db.Name+".public.events"]
	if ev.Batches != 3 || ev.EstimatedBytes <= 0 {
		t.Errorf("events: batches %d, size %d", ev.Batches, ev.EstimatedBytes)
	}
	for b, want := range []string{"jan", "feb", "mar"} {
		rows := readRows(t, snap, ev, b)
		if len(rows) != b+1 {
			t.Errorf("batch %d: %d rows, want %d", b, len(rows), b+1)
		}
		for _, r := range rows {
			if r[2] != want {
				t.Errorf("batch %d: row %v, want note %s", b, r, want)
			}
		}
	}

	m := byTarget[db.Name+".public.m"]
	if m.Batches != 4 {
		t.Fatalf("m: batches %d, want 4", m.Batches)
	}
	var got []string
	for b := range m.Batches {
		var vals []string
		for _, r := range readRows(t, snap, m, b) {
			vals = append(vals, fmt.Sprintf("%v%v", r[0], r[1]))
		}
		got = append(got, strings.Join(vals, ","))
	}
	if want := []string{"9x", "50a", "50b,60b", "1000z"}; !slices.Equal(got, want) {
		t.Errorf("m batches %q, want %q (bound order, default last)", got, want)
	}

	np := byTarget[db.Name+".public.nopart"]
	if np.Batches != 1 {
		t.Errorf("nopart: batches %d, want 1", np.Batches)
	}
	if rows := readRows(t, snap, np, 0); len(rows) != 0 {
		t.Errorf("nopart rows %v", rows)
	}
	if err := snap.ReadBatch(t.Context(), ev, 3, func(arrow.RecordBatch) error { return nil }, nil); !errors.Is(err, pgsource.ErrUnknownTable) {
		t.Errorf("batch out of range: %v", err)
	}
}

func TestSnapshot_Empty(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, `CREATE TABLE empty (a int, b text, c bytea)`, `CREATE TABLE nocols ()`,
		`INSERT INTO nocols DEFAULT VALUES`, `INSERT INTO nocols DEFAULT VALUES`)
	alloc := checkedAlloc(t)
	snap := open(t, db, 1, alloc)
	byTarget, _, _ := tables(t, snap)
	tb := byTarget[db.Name+".public.empty"]
	if tb.Schema.NumFields() != 3 || tb.Batches != 1 {
		t.Fatalf("table %+v", tb)
	}
	calls := 0
	err := snap.ReadBatch(t.Context(), tb, 0, func(arrow.RecordBatch) error { calls++; return nil }, func(int64) {})
	if err != nil || calls != 0 {
		t.Errorf("ReadBatch: %v, %d batches", err, calls)
	}
	// A table without columns still has rows.
	nc := byTarget[db.Name+".public.nocols"]
	if rows := readRows(t, snap, nc, 0); len(rows) != 2 {
		t.Errorf("nocols: %d rows, want 2", len(rows))
	}
}

func TestSnapshot_Tables_Skipped(t *testing.T) {
	t.Parallel()
	role := "rdsexport_pgsource_ro_" + randomSuffix()
	db := newTestDB(t,
		`CREATE TABLE ok (a int)`,
		`CREATE UNLOGGED TABLE unlogged (a int)`,
		`CREATE TABLE "sp ace" (a int)`,
		`CREATE TABLE "sl/ash" (a int)`,
		`CREATE TABLE badcol1 ("a b" int)`,
		`CREATE TABLE badcol2 ("a,b" int)`,
		`CREATE TABLE badcol3 ("f(x)" int)`,
		`CREATE TABLE badcol4 ("a=b" int)`,
		`CREATE TABLE badcol5 ("a`+"\t"+`b" int)`,
		`CREATE TABLE secret (a int)`,
		`CREATE TABLE partsecret (a int) PARTITION BY LIST (a)`,
		`CREATE TABLE partsecret_1 PARTITION OF partsecret FOR VALUES IN (1)`,
		`CREATE TABLE colsecret (a int, b int)`,
		`CREATE VIEW v AS SELECT 1 AS a`,
		`CREATE MATERIALIZED VIEW mv AS SELECT 1 AS a`,
		`CREATE SEQUENCE seq`,
		`CREATE ROLE `+role+` LOGIN`,
	)
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), db.Admin)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP ROLE IF EXISTS "+role)
	})
	db.exec(t, `GRANT SELECT ON ok, unlogged, "sp ace", "sl/ash", badcol1, badcol2, badcol3, badcol4, badcol5, partsecret TO `+role)
	db.exec(t, `GRANT SELECT (a) ON colsecret TO `+role)
	db.exec(t, `REVOKE ALL ON secret FROM `+role)

	alloc := checkedAlloc(t)
	check := func(t *testing.T, snap engine.Snapshot, exported []string, skipped []engine.Skipped) {
		_, all, warn := tables(t, snap)
		var got []string
		for _, tb := range all {
			got = append(got, strings.TrimPrefix(tb.Target, db.Name+"."))
		}
		if !slices.Equal(got, exported) {
			t.Errorf("exported %q, want %q", got, exported)
		}
		for i := range skipped {
			skipped[i].Target = db.Name + "." + skipped[i].Target
		}
		if !slices.Equal(warn.SkippedTables, skipped) {
			t.Errorf("skipped %v, want %v", warn.SkippedTables, skipped)
		}
		if len(warn.SkippedObjectives) != 0 || len(warn.General) != 0 {
			t.Errorf("warnings %s", warn)
		}
	}
	base := []engine.Skipped{
		{Target: "public.badcol1", Reason: engine.ReasonUnsupportedColumnName},
		{Target: "public.badcol2", Reason: engine.ReasonUnsupportedColumnName},
		{Target: "public.badcol3", Reason: engine.ReasonUnsupportedColumnName},
		{Target: "public.badcol4", Reason: engine.ReasonUnsupportedColumnName},
		{Target: "public.badcol5", Reason: engine.ReasonUnsupportedColumnName},
	}
	t.Run("Owner", func(t *testing.T) {
		snap := open(t, db, 1, alloc)
		skipped := slices.Concat(base, []engine.Skipped{
			{Target: "public.sl/ash", Reason: engine.ReasonUnsupportedTableName},
			{Target: "public.unlogged", Reason: engine.ReasonTemporaryOrUnlogged},
		})
		check(t, snap, []string{"public.colsecret", "public.ok", "public.partsecret", "public.secret", "public.sp ace"}, skipped)
	})
	t.Run("ReadOnlyRole", func(t *testing.T) {
		src := pgsource.New(withUser(t, db.Admin, role), pgsource.Params{})
		snap, err := src.Open(t.Context(), engine.OpenParams{ExportOnly: []string{db.Name}, Connections: 1, Alloc: alloc})
		if err != nil {
			t.Fatal(err)
		}
		defer snap.Close()
		skipped := slices.Concat(base, []engine.Skipped{
			{Target: "public.colsecret", Reason: engine.ReasonPermissions},
			{Target: "public.partsecret", Reason: engine.ReasonPermissions},
			{Target: "public.secret", Reason: engine.ReasonPermissions},
			{Target: "public.sl/ash", Reason: engine.ReasonUnsupportedTableName},
			{Target: "public.unlogged", Reason: engine.ReasonTemporaryOrUnlogged},
		})
		check(t, snap, []string{"public.ok", "public.sp ace"}, skipped)
		byTarget, _, _ := tables(t, snap)
		if f := byTarget[db.Name+".public.sp ace"].Folder; f != "public.sp_ace" {
			t.Errorf("folder %q", f)
		}
		readRows(t, snap, byTarget[db.Name+".public.ok"], 0)
	})
}

func withUser(t testing.TB, u, user string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(u)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s", user, cfg.Host, cfg.Port, cfg.Database)
}

func TestSnapshot_Tables_ExportOnly(t *testing.T) {
	t.Parallel()
	db := newTestDB(t,
		`CREATE SCHEMA a`, `CREATE SCHEMA b`, `CREATE SCHEMA "Mixed"`, `CREATE SCHEMA emptyschema`,
		`CREATE TABLE a.t1 (x int)`, `CREATE TABLE a.t2 (x int)`, `CREATE TABLE b.t1 (x int)`,
		`CREATE TABLE public."MixedCase" (x int)`, `CREATE TABLE "Mixed".t (x int)`,
		`CREATE TABLE a.parted (x int) PARTITION BY LIST (x)`,
		`CREATE TABLE a.parted_1 PARTITION OF a.parted FOR VALUES IN (1)`,
		`CREATE TABLE b.parted_2 PARTITION OF a.parted FOR VALUES IN (2)`,
	)
	other := newTestDB(t, `CREATE TABLE o (x int)`)
	alloc := checkedAlloc(t)
	d, o := db.Name, other.Name
	for _, c := range []struct {
		name       string
		exportOnly []string
		want       []string
		notFound   []string
	}{
		{"Database", []string{d}, []string{d + ".Mixed.t", d + ".a.parted", d + ".a.t1", d + ".a.t2", d + ".b.t1", d + ".public.MixedCase"}, nil},
		{"Schema", []string{d + ".a"}, []string{d + ".a.parted", d + ".a.t1", d + ".a.t2"}, nil},
		{"Table", []string{d + ".b.t1"}, []string{d + ".b.t1"}, nil},
		{"CaseSensitive", []string{d + ".public.mixedcase", d + ".mixed", d + ".public.MixedCase", d + ".Mixed"}, []string{d + ".Mixed.t", d + ".public.MixedCase"}, []string{d + ".public.mixedcase", d + ".mixed"}},
		{"Overlaps", []string{d + ".a", d + ".a.t1", d + ".a", d, d + ".a.nosuch"}, []string{d + ".Mixed.t", d + ".a.parted", d + ".a.t1", d + ".a.t2", d + ".b.t1", d + ".public.MixedCase"}, []string{d + ".a.nosuch"}},
		{"NotFound", []string{"nosuchdb_x", d + ".nosuch", d + ".emptyschema", d + ".a.nosuch", d + ".a.t2", "nosuchdb_x.a.b", d + ".v.x", d + ".a.t2"}, []string{d + ".a.t2"}, []string{"nosuchdb_x", "nosuchdb_x.a.b", d + ".nosuch", d + ".a.nosuch", d + ".v.x"}},
		// A partition named alone is exported alone; with its root, only
		// the root is.
		{"Partition", []string{d + ".b.parted_2"}, []string{d + ".b.parted_2"}, nil},
		{"PartitionAndRoot", []string{d + ".b", d + ".a.parted"}, []string{d + ".a.parted", d + ".b.t1"}, nil},
		{"TwoDatabases", []string{o, d + ".b"}, []string{d + ".b.t1", o + ".public.o"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			snap := open(t, db, 1, alloc, c.exportOnly...)
			_, all, warn := tables(t, snap)
			var got []string
			for _, tb := range all {
				got = append(got, tb.Target)
			}
			if d > o && c.name == "TwoDatabases" {
				c.want = []string{o + ".public.o", d + ".b.t1"}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("tables %q, want %q", got, c.want)
			}
			var nf []string
			for _, s := range warn.SkippedObjectives {
				if s.Reason != engine.ReasonNotFound {
					t.Errorf("objective %+v", s)
				}
				nf = append(nf, s.Target)
			}
			if !slices.Equal(nf, c.notFound) {
				t.Errorf("not found %q, want %q", nf, c.notFound)
			}
			if len(warn.SkippedTables) != 0 {
				t.Errorf("skipped %v", warn.SkippedTables)
			}
		})
	}
}

// TestSnapshot_Consistency changes the data after Open and checks that
// two concurrent readers still see the state at Open.
func TestSnapshot_Consistency(t *testing.T) {
	t.Parallel()
	db := newTestDB(t,
		`CREATE TABLE acc (id int PRIMARY KEY, balance bigint)`,
		`INSERT INTO acc SELECT i, 100 FROM generate_series(1, 1000) i`,
		`CREATE TABLE log (id int)`,
		`INSERT INTO log SELECT generate_series(1, 500)`,
	)
	alloc := checkedAlloc(t)
	before := time.Now().Add(-time.Minute)
	snap := open(t, db, 2, alloc)
	if at := snap.Time(); at.Location() != time.UTC || at.Before(before) || at.After(time.Now().Add(time.Minute)) {
		t.Errorf("Time %v", at)
	}

	// Changes committed after Open, including DDL.
	db.exec(t, `UPDATE acc SET balance = balance - 50 WHERE id <= 10`)
	db.exec(t, `DELETE FROM acc WHERE id > 900`)
	db.exec(t, `INSERT INTO acc SELECT i, 1 FROM generate_series(1001, 1100) i`)
	db.exec(t, `INSERT INTO log SELECT generate_series(501, 600)`)
	db.exec(t, `CREATE TABLE later (x int)`)

	byTarget, all, _ := tables(t, snap)
	if len(all) != 2 {
		t.Errorf("tables %d, want 2 (later is newer than the snapshot)", len(all))
	}
	var (
		wg         sync.WaitGroup
		accs, logs [][]any
	)
	for range 2 { // twice each, four reads on two connections
		wg.Go(func() { accs = readRows(t, snap, byTarget[db.Name+".public.acc"], 0) })
		wg.Go(func() { logs = readRows(t, snap, byTarget[db.Name+".public.log"], 0) })
		wg.Wait()
	}
	if len(accs) != 1000 || len(logs) != 500 {
		t.Fatalf("rows: acc %d, log %d; want 1000, 500", len(accs), len(logs))
	}
	var sum int64
	for _, r := range accs {
		sum += r[1].(int64)
	}
	if sum != 100000 {
		t.Errorf("sum of balances %d, want 100000", sum)
	}
}

// TestSnapshot_Cancel cancels a read of a 2,000,000-row table midway and
// checks that ReadBatch returns promptly and the snapshot stays usable.
func TestSnapshot_Cancel(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, `CREATE TABLE big AS SELECT i AS id, md5(i::text) AS s FROM generate_series(1, 2000000) i`)
	alloc := checkedAlloc(t)
	snap := open(t, db, 1, alloc)
	byTarget, _, _ := tables(t, snap)
	big := byTarget[db.Name+".public.big"]

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var (
		batches     int
		cancelledAt time.Time
	)
	err := snap.ReadBatch(ctx, big, 0, func(rec arrow.RecordBatch) error {
		batches++
		if batches == 3 {
			cancelledAt = time.Now()
			cancel()
		}
		return nil
	}, func(int64) {})
	latency := time.Since(cancelledAt)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	t.Logf("cancel latency %v after %d batches", latency, batches)
	if latency > 500*time.Millisecond {
		t.Errorf("returned %v after cancel", latency)
	}
	if batches > 4 {
		t.Errorf("%d batches emitted after cancel", batches-3)
	}

	// An emit error stops the read too.
	errStop := errors.New("stop")
	if err := snap.ReadBatch(t.Context(), big, 0, func(arrow.RecordBatch) error { return errStop }, nil); !errors.Is(err, errStop) {
		t.Errorf("err %v, want errStop", err)
	}

	// The broken connection was replaced; the snapshot still reads.
	var rows int64
	err = snap.ReadBatch(t.Context(), big, 0, func(rec arrow.RecordBatch) error {
		rows += rec.NumRows()
		if rec.NumRows() > 64<<10 {
			t.Errorf("batch of %d rows", rec.NumRows())
		}
		return nil
	}, nil)
	if err != nil || rows != 2000000 {
		t.Errorf("full read: %d rows, %v", rows, err)
	}

	// Close works after the context ended.
	if err := snap.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := snap.ReadBatch(t.Context(), big, 0, func(arrow.RecordBatch) error { return nil }, nil); !errors.Is(err, pgsource.ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}

// TestSnapshot_Progress checks that progress adds up to the COPY size and
// batches respect the row limit.
func TestSnapshot_Progress(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, `CREATE TABLE p AS SELECT i AS id, repeat('x', 1500) AS s FROM generate_series(1, 25000) i`)
	alloc := checkedAlloc(t)
	snap := open(t, db, 1, alloc)
	byTarget, _, _ := tables(t, snap)
	var total int64
	var sizes []int64
	err := snap.ReadBatch(t.Context(), byTarget[db.Name+".public.p"], 0, func(rec arrow.RecordBatch) error {
		sizes = append(sizes, rec.NumRows())
		return nil
	}, func(n int64) { total += n })
	if err != nil {
		t.Fatal(err)
	}
	var copyBytes int64
	if err := db.Conn.QueryRow(t.Context(), `SELECT sum(length(id::text) + 1 + 1500 + 1) FROM p`).Scan(&copyBytes); err != nil {
		t.Fatal(err)
	}
	if total != copyBytes {
		t.Errorf("progress %d, want %d", total, copyBytes)
	}
	// 16 MiB of ~1,506-byte rows is about 11,140 rows: the byte limit wins
	// over the row limit (16Ki).
	if len(sizes) != 3 || sizes[0] >= 16<<10 || sizes[0]+sizes[1]+sizes[2] != 25000 {
		t.Errorf("batch sizes %v", sizes)
	}
}

// TestSnapshot_Databases reads two databases alternately with one reader
// connection, which moves between them, and checks each keeps its own
// snapshot.
func TestSnapshot_Databases(t *testing.T) {
	t.Parallel()
	a := newTestDB(t, `CREATE TABLE ta AS SELECT generate_series(1, 10) AS x`)
	b := newTestDB(t, `CREATE TABLE tb AS SELECT generate_series(1, 20) AS x`)
	alloc := checkedAlloc(t)
	snap := open(t, a, 1, alloc, a.Name, b.Name)
	a.exec(t, `INSERT INTO ta VALUES (11)`)
	b.exec(t, `DELETE FROM tb`)
	byTarget, all, _ := tables(t, snap)
	if len(all) != 2 {
		t.Fatalf("tables %v", all)
	}
	ta, tb := byTarget[a.Name+".public.ta"], byTarget[b.Name+".public.tb"]
	for range 2 {
		if n := len(readRows(t, snap, ta, 0)); n != 10 {
			t.Errorf("ta: %d rows, want 10", n)
		}
		if n := len(readRows(t, snap, tb, 0)); n != 20 {
			t.Errorf("tb: %d rows, want 20", n)
		}
	}
	// One coordinator per database plus the one reader. The reader's
	// connection to the database it left is closed, but its backend may
	// still be exiting (pg_stat_activity lists it until then): wait for it.
	var conns int
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if err := a.Conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE application_name = 'rdsexport' AND datname IN ($1, $2)`, a.Name, b.Name).Scan(&conns); err != nil {
			t.Fatal(err)
		}
		if conns == 3 || time.Now().After(deadline) {
			break
		}
	}
	if conns != 3 {
		t.Errorf("%d connections, want 3", conns)
	}
}

// TestSnapshot_ReadRange: a plain table is split into ctid ranges read at
// once by several connections; together they return every row of the
// snapshot exactly once, even after the table grows and shrinks.
func TestSnapshot_ReadRange(t *testing.T) {
	t.Parallel()
	db := newTestDB(t,
		`CREATE TABLE big AS SELECT i AS id, md5(i::text) AS s FROM generate_series(1, 30000) i`,
		`CREATE TABLE small (id int)`, `INSERT INTO small VALUES (1)`,
		`CREATE TABLE p (id int) PARTITION BY RANGE (id)`,
		`CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (1000000)`,
		`INSERT INTO p SELECT generate_series(1, 30000)`)
	alloc := checkedAlloc(t)
	src := pgsource.New(db.Admin, pgsource.Params{MinRangeBytes: 64 << 10})
	snap, err := src.Open(t.Context(), engine.OpenParams{ExportOnly: []string{db.Name}, Connections: 2, Alloc: alloc})
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	byTarget, _, _ := tables(t, snap)
	big := byTarget[db.Name+".public.big"]
	if big.Ranges != 4 {
		t.Fatalf("big: %d ranges, want 2 per connection", big.Ranges)
	}
	for _, name := range []string{"small", "p"} {
		if tb := byTarget[db.Name+".public."+name]; tb.Ranges != 1 {
			t.Errorf("%s: %d ranges, want 1", name, tb.Ranges)
		}
	}
	// Changes after the snapshot: new blocks past the planned ranges, and
	// rows deleted in the first blocks.
	db.exec(t, `INSERT INTO big SELECT i, 'late' FROM generate_series(30001, 60000) i`)
	db.exec(t, `DELETE FROM big WHERE id <= 1000`)

	rr := snap.(engine.RangeReader)
	var (
		mu     sync.Mutex
		ids    []int32
		wg     sync.WaitGroup
		counts = make([]int, big.Ranges)
	)
	for rng := range big.Ranges {
		wg.Go(func() {
			err := rr.ReadRange(t.Context(), big, 0, rng, func(rec arrow.RecordBatch) error {
				col := rec.Column(0).(*array.Int32)
				mu.Lock()
				defer mu.Unlock()
				ids = append(ids, col.Int32Values()...)
				counts[rng] += col.Len()
				return nil
			}, func(int64) {})
			if err != nil {
				t.Errorf("range %d: %v", rng, err)
			}
		})
	}
	wg.Wait()
	slices.Sort(ids)
	ok := len(ids) == 30000
	for i := 0; ok && i < len(ids); i++ {
		ok = ids[i] == int32(i+1)
	}
	if !ok {
		t.Errorf("%d ids, want 1..30000 once each", len(ids))
	}
	for rng, n := range counts {
		if n == 0 {
			t.Errorf("range %d is empty; counts %v", rng, counts)
		}
	}
	err = rr.ReadRange(t.Context(), big, 0, big.Ranges, func(arrow.RecordBatch) error { return nil }, nil)
	if !errors.Is(err, pgsource.ErrUnknownTable) {
		t.Errorf("range out of bounds: %v", err)
	}
}
