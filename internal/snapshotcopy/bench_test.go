package snapshotcopy_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/snapshotcopy"
)

// mixedSQL fills table m with n rows of mixed types.
func mixedSQL(n int) string {
	return fmt.Sprintf(`CREATE TABLE m (id bigint PRIMARY KEY, qty int, price numeric(12,2), ratio double precision,
  name text, code varchar(16), flag boolean, created timestamptz, payload jsonb);
INSERT INTO m SELECT i, i %% 1000, (i %% 100000) / 100.0, i / 7.0, 'customer ' || (i %% 5000), 'C' || lpad((i %% 999)::text, 6, '0'),
  i %% 3 = 0, timestamptz '2024-01-01 00:00+00' + i * interval '17 seconds', jsonb_build_object('k', i %% 100, 'tag', 't' || (i %% 7))
  FROM generate_series(1, %d) i;`, n)
}

func relationSize(tb testing.TB, url string) int64 {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	var size int64
	if err := conn.QueryRow(ctx, "SELECT pg_relation_size('m')").Scan(&size); err != nil {
		tb.Fatal(err)
	}
	return size
}

// BenchmarkCopier_Copy copies a table of N mixed rows; bytes are the
// table's pg_relation_size, and stored/pg is the compression ratio.
func BenchmarkCopier_Copy(b *testing.B) {
	for _, n := range []int{10_000, 200_000} {
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) {
			e := newEnv(b, mixedSQL(n), envOpts{})
			size := relationSize(b, e.db.URL)
			b.SetBytes(size)
			b.ReportAllocs()
			i := 0
			var stored int64
			for b.Loop() {
				i++
				s := e.store.waitDone(b, e.create(b, fmt.Sprintf("bench-%d", i)))
				if s.Status != export.SnapshotAvailable {
					b.Fatalf("status %s: %s", s.Status, s.FailureReason)
				}
				stored = s.SizeBytes
				b.StopTimer()
				if err := e.copier.Delete(context.Background(), s); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			ratio := float64(stored) / float64(size)
			b.ReportMetric(ratio, "stored/pg")
			b.Logf("%d rows: pg_relation_size %d bytes, stored copy %d bytes, ratio %.3f", n, size, stored, ratio)
		})
	}
}

// TestCopier_Progress: PercentProgress only grows, stays below 100 while
// creating, and is 100 once available.
func TestCopier_Progress(t *testing.T) {
	e := newEnv(t, mixedSQL(100_000), envOpts{params: func(p *snapshotcopy.Params) {
		p.ProgressInterval = 5 * time.Millisecond
	}})
	e.createAvailable(t, "p")
	e.store.mu.Lock()
	defer e.store.mu.Unlock()
	last := 0
	for _, u := range e.store.updates {
		if u.PercentProgress == nil {
			continue
		}
		p := *u.PercentProgress
		if p < last || (p == 100) != (u.SizeBytes != nil) {
			t.Errorf("progress %d after %d", p, last)
		}
		last = p
	}
	if last != 100 {
		t.Errorf("final progress %d", last)
	}
	t.Logf("%d store updates", len(e.store.updates))
}
