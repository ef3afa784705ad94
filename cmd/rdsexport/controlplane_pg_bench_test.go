package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/rdsexport/rdsexport/internal/exporttest"
	"github.com/rdsexport/rdsexport/internal/pgtaskstore"
	"github.com/rdsexport/rdsexport/internal/s3objects"
)

// BenchmarkControlPlanePostgres is BenchmarkControlPlane's idle Describe
// measurement on a PostgreSQL store (target 8 of scripts/bench.sh):
// CONTROLPLANE_TASKS (default 100000) finished tasks are seeded into a
// fresh database, the server starts on it in a process of its own with
// versitygw as its S3, and CONTROLPLANE_SAMPLES (default 600) filtered
// DescribeExportTasks pages (signed HTTP requests, timed to the last byte
// of the response) are timed with no export running.
//
//	go test -run '^$' -bench ControlPlanePostgres -benchtime 1x ./cmd/rdsexport
//
// Metrics: describe-idle-p50-ms, describe-idle-p99-ms, the p99 of each
// filter, seed-s.
func BenchmarkControlPlanePostgres(b *testing.B) {
	nTasks := envInt(b, "CONTROLPLANE_TASKS", 100000)
	samples := envInt(b, "CONTROLPLANE_SAMPLES", 600)

	gw := exporttest.StartVersityGW(b)
	storeDB := exporttest.NewPostgresDB(b, "")
	seedStart := time.Now()
	seedPostgresTasks(b, storeDB.URL, nTasks)
	seedTime := time.Since(seedStart)

	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = b.TempDir()
	cfg.LogLevel = "warn"
	cfg.Store = storeDB.URL
	cfg.S3 = S3Config{Endpoint: gw.Endpoint, AccessKeyID: gw.AccessKeyID, SecretAccessKey: gw.SecretAccessKey, Region: testRegion}
	cfg.Snapshots.Bucket = "snapshots"
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	objects, err := s3objects.New(s3objects.Params{Endpoint: gw.Endpoint, Region: testRegion,
		AccessKeyID: gw.AccessKeyID, SecretAccessKey: gw.SecretAccessKey})
	if err != nil {
		b.Fatal(err)
	}
	for _, bucket := range []string{testBucket, cfg.Snapshots.Bucket} {
		if err := objects.CreateBucket(b.Context(), bucket); err != nil {
			b.Fatal(err)
		}
	}
	endpoint := startServerProcess(b, cfg)

	pages := controlPlanePages()
	describePage := pageTimer(b, endpoint, cfg.Credentials[0], pages)
	// Warm up: the client's connection and the server's pool and
	// prepared statements, one round of every page.
	for i := range pages {
		describePage(i)
	}
	var all []time.Duration
	byPage := make([][]time.Duration, len(pages))
	b.ResetTimer()
	for i := range samples {
		page, d := describePage(i)
		if p := pages[i%len(pages)]; p.name != "status-active" && p.name != "source-arn-running" && !bytes.Contains(page, []byte("<ExportTask>")) {
			b.Fatalf("DescribeExportTasks %s: no task", p.name)
		}
		all = append(all, d)
		byPage[i%len(pages)] = append(byPage[i%len(pages)], d)
	}
	b.StopTimer()

	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(percentile(all, 50)), "describe-idle-p50-ms")
	b.ReportMetric(ms(percentile(all, 99)), "describe-idle-p99-ms")
	for i, p := range pages {
		b.ReportMetric(ms(percentile(byPage[i], 99)), p.name+"-p99-ms")
	}
	b.ReportMetric(seedTime.Seconds(), "seed-s")
}

// seedPostgresTasks creates the store's tables in the database at url and
// inserts n finished tasks as seedTasks does (95% COMPLETE, 4% CANCELED, 1%
// FAILED over clusters old0..old9), then analyzes them.
func seedPostgresTasks(b *testing.B, url string, n int) {
	b.Helper()
	ctx := b.Context()
	st, err := pgtaskstore.New(ctx, pgtaskstore.Params{URL: url}) // the schema
	if err != nil {
		b.Fatal(err)
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	db := &exporttest.PostgresDB{URL: url}
	t0 := time.Now().Add(-time.Duration(n) * time.Minute)
	db.Exec(b, `
INSERT INTO rdsexport_export_tasks (account_id, identifier, region, source_arn, source_key, source_type, export_only,
	s3_bucket, s3_prefix, iam_role_arn, kms_key_id, status,
	snapshot_time, task_start_time, task_end_time,
	percent_progress, extracted_bytes, failure_cause, warning_message)
SELECT $1, 'seed-' || lpad(i::text, 6, '0'), $2, $3 || (i % 10), 'cluster:' || $1 || ':old' || (i % 10), 'CLUSTER', NULL,
	$4, 'seed', $5, 'alias/export', s,
	$6::timestamptz + i * interval '1 minute', $6::timestamptz + i * interval '1 minute',
	$6::timestamptz + i * interval '1 minute' + interval '30 seconds',
	CASE s WHEN 'COMPLETE' THEN 100 ELSE i % 100 END, i * 1000,
	CASE s WHEN 'FAILED' THEN 'An unknown internal error occurred.' ELSE '' END, ''
FROM (SELECT i, CASE WHEN i % 100 = 0 THEN 'FAILED' WHEN i % 100 < 5 THEN 'CANCELED' ELSE 'COMPLETE' END AS s
	FROM generate_series(1, $7::int) i) x`,
		testAccount, testRegion, clusterArn("old"), testBucket, roleArn, t0, n)
	db.Exec(b, `VACUUM ANALYZE rdsexport_export_tasks`)
}
