package mysqlsource_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/mysqlsource"
)

func TestSource_Version(t *testing.T) {
	t.Parallel()
	u := serverURL(t)
	t.Run("OK", func(t *testing.T) {
		v, err := mysqlsource.New(u, mysqlsource.Params{}).Version(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(v) {
			t.Errorf("version %q", v)
		}
		var full string
		if err := openSQL(t, u, "").QueryRow("SELECT VERSION()").Scan(&full); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(full, v) {
			t.Errorf("version %q, server says %q", v, full)
		}
	})
	t.Run("ErrInvalidURL", func(t *testing.T) {
		for _, raw := range []string{
			"mysql://u:s3cretPW@[::1/x",
			"postgres://u:s3cretPW@127.0.0.1/",
			"mysql://u:s3cretPW@127.0.0.1/?tls=maybe",
			"mysql://u:s3cretPW@127.0.0.1/?sql_mode=s3cretPW",
		} {
			_, err := mysqlsource.New(raw, mysqlsource.Params{}).Version(t.Context())
			if !errors.Is(err, mysqlsource.ErrInvalidURL) || strings.Contains(err.Error(), "s3cretPW") {
				t.Errorf("%s: err %v", raw, err)
			}
		}
	})
}

// TestSource_Open_ErrConnect checks that connection errors name the server
// and never show the password.
func TestSource_Open_ErrConnect(t *testing.T) {
	t.Parallel()
	u := serverURL(t)
	p, _ := url.Parse(u)
	const pw = "s3cretPW-9f8e"
	for _, raw := range []string{
		"mysql://root:" + pw + "@127.0.0.1:1/?timeout=2s",
		"mysql://" + pw + ":" + pw + "@" + p.Host + "/" + pw,
		"mysql://no_such_user_x:" + pw + "@" + p.Host + "/",
		"mysql://root:" + pw + "@" + p.Host + "/?tls=true",
	} {
		src := mysqlsource.New(raw, mysqlsource.Params{ConnectTimeout: 2 * time.Second})
		snap, err := src.Open(t.Context(), engine.OpenParams{Connections: 2})
		if err == nil {
			_ = snap.Close()
			t.Errorf("Open succeeded for %q", strings.ReplaceAll(raw, pw, "PW"))
			continue
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("error contains the password: %v", err)
		}
		host := strings.TrimPrefix(raw[strings.LastIndex(raw, "@")+1:], "")
		host = host[:strings.IndexAny(host, "/")]
		if !strings.Contains(err.Error(), host) {
			t.Errorf("error does not name %s: %v", host, err)
		}
		if _, err := src.Version(t.Context()); err == nil || strings.Contains(err.Error(), pw) {
			t.Errorf("Version error %v", err)
		}
	}
}

func TestSnapshot_Empty(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, "CREATE TABLE empty (a INT, b TEXT, c BLOB, d DATETIME)")
	alloc := checkedAlloc(t)
	snap := open(t, db, 1, alloc)
	byTarget, _, _ := tables(t, snap)
	tb := byTarget[db.Name+".empty"]
	if tb.Schema == nil || tb.Schema.NumFields() != 4 || tb.Batches != 1 {
		t.Fatalf("table %+v", tb)
	}
	calls := 0
	err := snap.ReadBatch(t.Context(), tb, 0, func(arrow.RecordBatch) error { calls++; return nil }, func(int64) {})
	if err != nil || calls != 0 {
		t.Errorf("ReadBatch: %v, %d batches", err, calls)
	}
	if err := snap.ReadBatch(t.Context(), tb, 1, func(arrow.RecordBatch) error { return nil }, nil); !errors.Is(err, mysqlsource.ErrUnknownTable) {
		t.Errorf("batch out of range: %v", err)
	}
}

func TestSnapshot_Latin1(t *testing.T) {
	t.Parallel()
	db := newTestDB(t,
		"CREATE TABLE l1 (id INT, s VARCHAR(20) CHARACTER SET latin1, r VARCHAR(20) CHARACTER SET cp1251, b VARBINARY(20)) CHARACTER SET latin1",
		"INSERT INTO l1 VALUES (1, 'café naïve ÿ', 'Привет', 0xE9FF), (2, NULL, NULL, NULL)",
	)
	alloc := checkedAlloc(t)
	snap := open(t, db, 1, alloc)
	byTarget, _, _ := tables(t, snap)
	rows := readRows(t, snap, byTarget[db.Name+".l1"], 0)
	slices.SortFunc(rows, func(a, b []any) int { return int(a[0].(int32) - b[0].(int32)) })
	want := [][]any{{int32(1), "café naïve ÿ", "Привет", []byte{0xe9, 0xff}}, {int32(2), nil, nil, nil}}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Errorf("rows %v, want %v", rows, want)
	}
}

func TestSnapshot_Tables_Skipped(t *testing.T) {
	t.Parallel()
	db := newTestDB(t,
		"CREATE TABLE ok (a INT)",
		"CREATE TABLE `sp ace` (a INT)",
		"CREATE TABLE `back``tick` (a INT)",
		"CREATE TABLE `sl/ash` (a INT)",
		"CREATE TABLE badcol1 (`a b` INT)",
		"CREATE TABLE badcol2 (`a,b` INT)",
		"CREATE TABLE badcol3 (`f(x)` INT)",
		"CREATE TABLE badcol4 (`a=b` INT)",
		"CREATE TABLE badcol5 (`a\tb` INT, ok INT)",
		"CREATE TABLE badcol6 (`a;b` INT)",
		"CREATE TABLE badcol7 (`{x}` INT)",
		"CREATE VIEW v AS SELECT 1 AS a",
	)
	alloc := checkedAlloc(t)
	snap := open(t, db, 1, alloc)
	byTarget, all, warn := tables(t, snap)
	var got []string
	for _, tb := range all {
		got = append(got, strings.TrimPrefix(tb.Target, db.Name+"."))
	}
	if want := []string{"back`tick", "ok", "sp ace"}; !slices.Equal(got, want) {
		t.Errorf("exported %q, want %q", got, want)
	}
	var skipped []engine.Skipped
	for _, n := range []string{"badcol1", "badcol2", "badcol3", "badcol4", "badcol5", "badcol6", "badcol7"} {
		skipped = append(skipped, engine.Skipped{Target: db.Name + "." + n, Reason: engine.ReasonUnsupportedColumnName})
	}
	skipped = append(skipped, engine.Skipped{Target: db.Name + ".sl/ash", Reason: engine.ReasonUnsupportedTableName})
	if !slices.Equal(warn.SkippedTables, skipped) {
		t.Errorf("skipped %v, want %v", warn.SkippedTables, skipped)
	}
	if f := byTarget[db.Name+".sp ace"].Folder; f != db.Name+".sp_ace" {
		t.Errorf("folder %q", f)
	}
	if f := byTarget[db.Name+".back`tick"].Folder; f != db.Name+".back_tick" {
		t.Errorf("folder %q", f)
	}
	db.exec(t, "INSERT INTO `back``tick` VALUES (7)")
	// Inserted after Open: invisible.
	if rows := readRows(t, snap, byTarget[db.Name+".back`tick"], 0); len(rows) != 0 {
		t.Errorf("rows %v", rows)
	}
}

func TestSnapshot_Partitioned(t *testing.T) {
	t.Parallel()
	db := newTestDB(t,
		`CREATE TABLE events (id INT, at DATE, note VARCHAR(10)) PARTITION BY RANGE COLUMNS (at) (
			PARTITION p2024_01 VALUES LESS THAN ('2024-02-01'),
			PARTITION p2024_02 VALUES LESS THAN ('2024-03-01'),
			PARTITION pmax VALUES LESS THAN (MAXVALUE))`,
		"INSERT INTO events VALUES (1, '2024-01-15', 'jan'), (2, '2024-02-15', 'feb'), (3, '2024-02-16', 'feb'), (4, '2025-01-01', 'max'), (5, '2026-01-01', 'max'), (6, '2027-01-01', 'max')",
		`CREATE TABLE sub (k INT, v INT) PARTITION BY RANGE (k) SUBPARTITION BY HASH (v) SUBPARTITIONS 2 (
			PARTITION a VALUES LESS THAN (10), PARTITION b VALUES LESS THAN (MAXVALUE))`,
		"INSERT INTO sub VALUES (1, 0), (2, 1), (20, 0), (21, 1), (22, 3)",
	)
	alloc := checkedAlloc(t)
	snap := open(t, db, 2, alloc)
	byTarget, _, warn := tables(t, snap)
	if !warn.Empty() {
		t.Errorf("warnings %s", warn)
	}
	ev := byTarget[db.Name+".events"]
	if ev.Batches != 3 {
		t.Fatalf("events: %d batches", ev.Batches)
	}
	for b, want := range []string{"jan", "feb", "max"} {
		rows := readRows(t, snap, ev, b)
		if len(rows) != b+1 {
			t.Errorf("batch %d: %d rows, want %d", b, len(rows), b+1)
		}
		for _, r := range rows {
			if r[2] != want {
				t.Errorf("batch %d: row %v, want %s", b, r, want)
			}
		}
	}
	sub := byTarget[db.Name+".sub"]
	if sub.Batches != 4 {
		t.Fatalf("sub: %d batches, want 4 subpartitions", sub.Batches)
	}
	var got []string
	for b := range sub.Batches {
		var ks []string
		for _, r := range readRows(t, snap, sub, b) {
			ks = append(ks, fmt.Sprint(r[0]))
		}
		slices.Sort(ks)
		got = append(got, strings.Join(ks, ","))
	}
	if want := []string{"1", "2", "20", "21,22"}; !slices.Equal(got, want) {
		t.Errorf("sub batches %q, want %q", got, want)
	}
}

func TestSnapshot_Tables_ExportOnly(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, "CREATE TABLE t1 (x INT)", "CREATE TABLE t2 (x INT)", "CREATE TABLE Mixed (x INT)",
		"CREATE VIEW v AS SELECT 1 AS x")
	other := newTestDB(t, "CREATE TABLE o (x INT)")
	emptyDB := newTestDB(t)
	var lctn int
	if err := db.SQL.QueryRow("SELECT @@lower_case_table_names").Scan(&lctn); err != nil {
		t.Fatal(err)
	}
	alloc := checkedAlloc(t)
	d, o := db.Name, other.Name
	cases := []struct {
		name       string
		exportOnly []string
		want       []string
		notFound   []string
	}{
		{"Database", []string{d}, []string{d + ".Mixed", d + ".t1", d + ".t2"}, nil},
		{"Table", []string{d + ".t2"}, []string{d + ".t2"}, nil},
		{"Overlaps", []string{d + ".t1", d, d + ".t1", d, d + ".nosuch"}, []string{d + ".Mixed", d + ".t1", d + ".t2"}, []string{d + ".nosuch"}},
		{"NotFound", []string{"nosuchdb_x", "nosuchdb_x.t", d + ".v", d + ".t1", emptyDB.Name}, []string{d + ".t1"}, []string{"nosuchdb_x", "nosuchdb_x.t", d + ".v"}},
		{"TwoDatabases", []string{o, d + ".t1"}, []string{d + ".t1", o + ".o"}, nil},
	}
	if lctn == 0 {
		cases = append(cases, struct {
			name       string
			exportOnly []string
			want       []string
			notFound   []string
		}{"CaseSensitive", []string{d + ".mixed", d + ".Mixed", strings.ToUpper(d)}, []string{d + ".Mixed"}, []string{d + ".mixed", strings.ToUpper(d)}})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			snap := open(t, db, 1, alloc, c.exportOnly...)
			_, all, warn := tables(t, snap)
			var got []string
			for _, tb := range all {
				got = append(got, tb.Target)
			}
			want := slices.Clone(c.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("tables %q, want %q", got, want)
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
		})
	}
}

// TestSnapshot_Consistency changes the data after Open and checks that
// two concurrent readers still see the state at Open.
func TestSnapshot_Consistency(t *testing.T) {
	t.Parallel()
	db := newTestDB(t,
		"CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(10)) ENGINE=InnoDB",
		"CREATE TABLE b (id INT PRIMARY KEY, v VARCHAR(10)) ENGINE=InnoDB",
		"INSERT INTO a VALUES (1, 'old'), (2, 'old')",
		"INSERT INTO b VALUES (1, 'old')",
	)
	alloc := checkedAlloc(t)
	before := time.Now()
	snap := open(t, db, 2, alloc)
	if at := snap.Time(); at.Location() != time.UTC || at.Before(before.Add(-time.Minute)) || at.After(time.Now().Add(time.Minute)) {
		t.Errorf("snapshot time %v", at)
	}
	byTarget, _, warn := tables(t, snap)
	if !warn.Empty() {
		t.Errorf("warnings %s (FLUSH TABLES WITH READ LOCK refused?)", warn)
	}
	db.exec(t, "INSERT INTO a VALUES (3, 'new')")
	db.exec(t, "UPDATE a SET v = 'new' WHERE id = 1")
	db.exec(t, "DELETE FROM b")
	db.exec(t, "INSERT INTO b VALUES (2, 'new')")

	// Hold both readers at once: each emit waits for the other read.
	var wg sync.WaitGroup
	results := make([][][]any, 2)
	started := make(chan struct{}, 2)
	for i, name := range []string{"a", "b"} {
		wg.Go(func() {
			tb := byTarget[db.Name+"."+name]
			err := snap.ReadBatch(t.Context(), tb, 0, func(rec arrow.RecordBatch) error {
				started <- struct{}{}
				for r := range int(rec.NumRows()) {
					results[i] = append(results[i], []any{value(rec.Column(0), r), value(rec.Column(1), r)})
				}
				return nil
			}, nil)
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if len(started) != 2 {
		t.Errorf("%d reads emitted", len(started))
	}
	if got := fmt.Sprint(results); got != "[[[1 old] [2 old]] [[1 old]]]" {
		t.Errorf("rows %s, want the state at Open", got)
	}
}

// TestSnapshot_NoGlobalReadLock opens a snapshot as a user without the
// RELOAD privilege: one connection, with a warning.
func TestSnapshot_NoGlobalReadLock(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, "CREATE TABLE t (x INT)", "INSERT INTO t VALUES (1), (2)")
	user, pw := "rdsx_"+db.Name[len(db.Name)-10:], "pw-"+db.Name[len(db.Name)-6:]
	for _, h := range []string{"%", "localhost"} {
		db.exec(t, fmt.Sprintf("CREATE USER '%s'@'%s' IDENTIFIED BY '%s'", user, h, pw))
		db.exec(t, fmt.Sprintf("GRANT SELECT, SHOW VIEW ON %s.* TO '%s'@'%s'", db.Name, user, h))
	}
	t.Cleanup(func() {
		for _, h := range []string{"%", "localhost"} {
			_, _ = db.SQL.Exec(fmt.Sprintf("DROP USER IF EXISTS '%s'@'%s'", user, h))
		}
	})
	p, _ := url.Parse(db.URL)
	p.User = url.UserPassword(user, pw)
	alloc := checkedAlloc(t)
	src := mysqlsource.New(p.String(), mysqlsource.Params{})
	snap, err := src.Open(t.Context(), engine.OpenParams{ExportOnly: []string{db.Name}, Connections: 4, Alloc: alloc})
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	byTarget, _, warn := tables(t, snap)
	if len(warn.General) != 1 || warn.General[0].Reason != mysqlsource.ReasonSingleConnection || strings.Contains(warn.String(), pw) {
		t.Errorf("warnings %s", warn)
	}
	// Sequential reads through the one connection work.
	for range 3 {
		if rows := readRows(t, snap, byTarget[db.Name+".t"], 0); len(rows) != 2 {
			t.Errorf("rows %v", rows)
		}
	}
}

func TestSnapshot_ErrTableGone(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, "CREATE TABLE gone (x INT)", "CREATE TABLE rebuilt (x INT)", "INSERT INTO rebuilt VALUES (1)")
	alloc := checkedAlloc(t)
	snap := open(t, db, 1, alloc)
	byTarget, _, _ := tables(t, snap)
	db.exec(t, "DROP TABLE gone")
	db.exec(t, "TRUNCATE TABLE rebuilt")
	for _, n := range []string{"gone", "rebuilt"} {
		err := snap.ReadBatch(t.Context(), byTarget[db.Name+"."+n], 0, func(arrow.RecordBatch) error { return nil }, nil)
		if !errors.Is(err, mysqlsource.ErrTableGone) {
			t.Errorf("%s: %v, want ErrTableGone", n, err)
		}
	}
}

func TestSnapshot_ErrClosed(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, "CREATE TABLE t (x INT)")
	alloc := checkedAlloc(t)
	snap := open(t, db, 2, alloc)
	byTarget, _, _ := tables(t, snap)
	if err := snap.Close(); err != nil {
		t.Fatal(err)
	}
	if err := snap.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := snap.Tables(t.Context()); !errors.Is(err, mysqlsource.ErrClosed) {
		t.Errorf("Tables: %v", err)
	}
	if err := snap.ReadBatch(t.Context(), byTarget[db.Name+".t"], 0, func(arrow.RecordBatch) error { return nil }, nil); !errors.Is(err, mysqlsource.ErrClosed) {
		t.Errorf("ReadBatch: %v", err)
	}
}

// TestSnapshot_ReadBatch_Cancel cancels a read of 2,000,000 rows after its
// first record batch: ReadBatch returns promptly with the context's
// error, releases every buffer, and the lost reader is not reused. It is
// not parallel: its long INSERT would hold up the FLUSH TABLES WITH READ
// LOCK of other tests.
func TestSnapshot_ReadBatch_Cancel(t *testing.T) {
	db := newTestDB(t,
		"CREATE TABLE seq (n INT PRIMARY KEY)",
		// Recursion stops at depth 1000 by default (cte_max_recursion_depth).
		"INSERT INTO seq WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 1000) SELECT n FROM r",
		"INSERT INTO seq SELECT n + 1000 FROM seq",
		"CREATE TABLE big (a INT, b INT, s VARCHAR(40))",
		"INSERT INTO big SELECT x.n, y.n, CONCAT('row ', x.n, '-', y.n) FROM seq x CROSS JOIN seq y WHERE x.n <= 1000",
	)
	alloc := checkedAlloc(t)
	snap := open(t, db, 2, alloc)
	byTarget, _, _ := tables(t, snap)
	big := byTarget[db.Name+".big"]

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var (
		canceledAt time.Time
		rows       int64
	)
	err := snap.ReadBatch(ctx, big, 0, func(rec arrow.RecordBatch) error {
		rows += rec.NumRows()
		if canceledAt.IsZero() {
			cancel()
			canceledAt = time.Now()
		}
		return nil
	}, nil)
	latency := time.Since(canceledAt)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	t.Logf("cancelled after %d rows; returned %v after cancel", rows, latency)
	if latency > 500*time.Millisecond {
		t.Errorf("ReadBatch returned %v after cancel, want < 500ms", latency)
	}
	if rows >= 2_000_000 || big.EstimatedBytes == 0 {
		t.Errorf("read all %d rows", rows)
	}
	// The other reader still serves the snapshot; then none is left.
	small := byTarget[db.Name+".seq"]
	if got := readRows(t, snap, small, 0); len(got) != 2000 {
		t.Errorf("seq: %d rows", len(got))
	}
	err = snap.ReadBatch(t.Context(), big, 0, func(arrow.RecordBatch) error { return errors.New("stop") }, nil)
	if err == nil || err.Error() != "stop" {
		t.Errorf("emit error: %v", err)
	}
	err = snap.ReadBatch(t.Context(), small, 0, func(arrow.RecordBatch) error { return nil }, nil)
	if !errors.Is(err, mysqlsource.ErrSnapshotLost) {
		t.Errorf("after losing both readers: %v, want ErrSnapshotLost", err)
	}
}
