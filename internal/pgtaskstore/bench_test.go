package pgtaskstore

import (
	"math"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/exporttest"
)

const benchAccount = "000000000000"

// seedBenchTasks inserts n finished tasks of benchAccount in one statement
// and analyzes the table: 95% COMPLETE, 4% CANCELED, 1% FAILED, spread
// over ten clusters old0..old9, all in bucket "exports" (the shape of
// BenchmarkControlPlane's store).
func seedBenchTasks(b *testing.B, s *Store, n int) {
	b.Helper()
	ctx := b.Context()
	t0 := time.Now().Add(-time.Duration(n) * time.Minute)
	_, err := s.pool.Exec(ctx, `
INSERT INTO rdsexport_export_tasks (account_id, identifier, region, source_arn, source_key, source_type, export_only,
	s3_bucket, s3_prefix, iam_role_arn, kms_key_id, status,
	snapshot_time, task_start_time, task_end_time,
	percent_progress, extracted_bytes, failure_cause, warning_message)
SELECT $1, 'seed-' || lpad(i::text, 6, '0'), 'us-east-1', 'arn:aws:rds:us-east-1:' || $1 || ':cluster:old' || (i % 10),
	'cluster:' || $1 || ':old' || (i % 10), 'CLUSTER', NULL,
	'exports', 'seed', 'arn:aws:iam::' || $1 || ':role/export', 'alias/export', s,
	$2::timestamptz + i * interval '1 minute', $2::timestamptz + i * interval '1 minute',
	$2::timestamptz + i * interval '1 minute' + interval '30 seconds',
	CASE s WHEN 'COMPLETE' THEN 100 ELSE i % 100 END, i * 1000,
	CASE s WHEN 'FAILED' THEN 'An unknown internal error occurred.' ELSE '' END, ''
FROM (SELECT i, CASE WHEN i % 100 = 0 THEN 'FAILED' WHEN i % 100 < 5 THEN 'CANCELED' ELSE 'COMPLETE' END AS s
	FROM generate_series(1, $3::int) i) x`, benchAccount, t0, n)
	if err != nil {
		b.Fatalf("seed tasks: %v", err)
	}
	if _, err := s.pool.Exec(ctx, `VACUUM ANALYZE rdsexport_export_tasks`); err != nil {
		b.Fatalf("analyze tasks: %v", err)
	}
}

// BenchmarkListTasks times ListTasks as DescribeExportTasks calls it (one
// account, a page of MaxRecords+1) over BENCH_TASKS (default 100000)
// stored tasks, for the filters of BenchmarkControlPlane, each in turn.
// Metrics: p50-ms and p99-ms over every call, and the p99 of each filter.
//
//	go test -run '^$' -bench ListTasks -benchtime 2000x ./internal/pgtaskstore
func BenchmarkListTasks(b *testing.B) {
	n := 100000
	if v := os.Getenv("BENCH_TASKS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("BENCH_TASKS=%q: want a positive integer", v)
		}
	}
	db := exporttest.NewPostgresDB(b, "")
	s, err := New(b.Context(), Params{URL: db.URL})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	seedBenchTasks(b, s, n)

	arn := func(c string) []string { return []string{"arn:aws:rds:us-east-1:" + benchAccount + ":cluster:" + c} }
	st := func(sts ...export.Status) []export.Status { return sts }
	filters := []struct {
		name string
		f    export.TaskFilter
	}{
		{"status-complete", export.TaskFilter{Statuses: st(export.StatusComplete), Limit: 101}},
		{"status-failed", export.TaskFilter{Statuses: st(export.StatusFailed), Limit: 101}},
		{"status-active", export.TaskFilter{Statuses: st(export.StatusStarting, export.StatusInProgress), Limit: 21}},
		{"source-arn-old", export.TaskFilter{SourceArns: arn("old3"), Limit: 101}},
		{"source-arn-none", export.TaskFilter{SourceArns: arn("run0"), Limit: 21}},
		{"source-bucket", export.TaskFilter{Statuses: st(export.StatusCanceled), Buckets: []string{"exports"}, Limit: 51}},
		{"all-page-500", export.TaskFilter{AfterSeq: int64(n / 2), Limit: 101}},
	}
	// One warm-up call each: the connections and their prepared statements.
	for i := range filters {
		filters[i].f.AccountID = benchAccount
		if _, err := s.ListTasks(b.Context(), filters[i].f); err != nil {
			b.Fatal(err)
		}
	}
	all := make([]time.Duration, 0, b.N)
	byFilter := make([][]time.Duration, len(filters))
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		k := i % len(filters)
		begin := time.Now()
		tasks, err := s.ListTasks(b.Context(), filters[k].f)
		d := time.Since(begin)
		if err != nil {
			b.Fatal(err)
		}
		if len(tasks) == 0 && filters[k].name != "status-active" && filters[k].name != "source-arn-none" {
			b.Fatalf("%s: no task", filters[k].name)
		}
		all = append(all, d)
		byFilter[k] = append(byFilter[k], d)
		i++
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(percentile(all, 50)), "p50-ms")
	b.ReportMetric(ms(percentile(all, 99)), "p99-ms")
	for k, f := range filters {
		b.ReportMetric(ms(percentile(byFilter[k], 99)), f.name+"-p99-ms")
	}
}

// percentile is the nearest-rank p-th percentile of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	k := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(k, len(s)-1))]
}

// BenchmarkTaskCounts times TaskCounts, which every scrape of /metrics
// runs, over BENCH_TASKS (default 100000) stored tasks.
//
//	go test -run '^$' -bench TaskCounts -benchtime 20x ./internal/pgtaskstore
func BenchmarkTaskCounts(b *testing.B) {
	n := 100000
	if v := os.Getenv("BENCH_TASKS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("BENCH_TASKS=%q: want a positive integer", v)
		}
	}
	db := exporttest.NewPostgresDB(b, "")
	s, err := New(b.Context(), Params{URL: db.URL})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	seedBenchTasks(b, s, n)
	b.ReportAllocs()
	for b.Loop() {
		counts, err := s.TaskCounts(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		if counts[export.StatusComplete] == 0 {
			b.Fatal("no COMPLETE task counted")
		}
	}
}
