package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/goccy/go-yaml"

	"github.com/rdsexport/rdsexport/internal/exporttest"
	"github.com/rdsexport/rdsexport/internal/s3objects"
	"github.com/rdsexport/rdsexport/internal/sqlitetaskstore"
)

// BenchmarkControlPlane measures the API next to a big task store and
// running exports (target 6 of the performance issue, reported by
// scripts/bench.sh): CONTROLPLANE_TASKS (default 100000) finished tasks
// are seeded into the store in one transaction, the server starts on that
// data dir in a process of its own (as deployed: the client's work and
// scheduling are not the server's), two exports of a table of CONTROLPLANE_ROWS (default 300000)
// rows run, and CONTROLPLANE_SAMPLES (default 200) filtered
// DescribeExportTasks pages (signed HTTP requests, timed to the last byte
// of the response) and as many accepted StartExportTask calls (through the
// SDK) are timed, interleaved.
//
// The started tasks queue behind the running exports (max_concurrent_exports
// is 2), so whenever an export ends the next queued one runs: two exports
// run during the whole measurement; exports-running-min is the fewest
// IN_PROGRESS tasks an active-status page showed. Each Start names its own
// cluster (one active export per source), all reading the same database.
//
// The server process inherits the environment (GOMAXPROCS, GOGC).
//
// The sample counts are fixed rather than b.N: one pass is the measurement
// (go test -run '^$' -bench ControlPlane -benchtime 1x ./cmd/rdsexport).
// Metrics: describe-p50-ms, describe-p99-ms, start-p50-ms, start-p99-ms,
// the p99 of each Describe filter, describe-idle-p99-ms (the same pages
// before the exports start: the store's share), describe-sdk-idle-p50-ms
// (those pages through the SDK, XML decoding included), seed-s (seeding
// time).
func BenchmarkControlPlane(b *testing.B) {
	nTasks := envInt(b, "CONTROLPLANE_TASKS", 100000)
	rows := envInt(b, "CONTROLPLANE_ROWS", 300000)
	samples := envInt(b, "CONTROLPLANE_SAMPLES", 200)

	db := exporttest.NewPostgresDB(b, fmt.Sprintf(`
CREATE TABLE t (id bigint PRIMARY KEY, qty integer, price numeric(15,2), day date, note text);
INSERT INTO t SELECT i, i %% 1000, i * 0.25, date '2020-01-01' + (i %% 2000)::int, md5(i::text) || ' some text'
	FROM generate_series(1, %d) i;
ANALYZE t;`, rows))

	dir := b.TempDir()
	seedStart := time.Now()
	seedTasks(b, filepath.Join(dir, "tasks.db"), nTasks)
	seedTime := time.Since(seedStart)

	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = dir
	cfg.LogLevel = "warn"
	cfg.MaxConcurrentExports = 2
	source := func(id string) SourceConfig {
		return SourceConfig{Identifier: id, Engine: "postgres", URL: db.URL, Databases: []string{db.Name}}
	}
	cfg.Clusters = []SourceConfig{source("run0"), source("run1")}
	for i := range samples {
		cfg.Clusters = append(cfg.Clusters, source(fmt.Sprintf("q%04d", i)))
	}
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	endpoint := startServerProcess(b, cfg)
	objects, err := s3objects.New(s3objects.Params{Endpoint: endpoint,
		AccessKeyID: cfg.Credentials[0].AccessKeyID, SecretAccessKey: cfg.Credentials[0].SecretAccessKey})
	if err != nil {
		b.Fatal(err)
	}
	if err := objects.CreateBucket(b.Context(), testBucket); err != nil {
		b.Fatal(err)
	}
	client := rdsClient(endpoint, cfg.Credentials[0])
	ctx := b.Context()

	// Warm up: the first request asks the server for its engine version
	// (once for all the clusters on it), and opens the client's connection.
	if _, err := client.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{}); err != nil {
		b.Fatal(err)
	}
	pages := controlPlanePages()
	describePage := pageTimer(b, endpoint, cfg.Credentials[0], pages)
	// The same pages before any export runs: the store's share of the time.
	var idle, sdkIdle []time.Duration
	for i := range samples {
		_, d := describePage(i)
		idle = append(idle, d)
		p := pages[i%len(pages)]
		begin := time.Now()
		if _, err := client.DescribeExportTasks(ctx, &rds.DescribeExportTasksInput{Filters: p.filters, MaxRecords: aws.Int32(p.max)}); err != nil {
			b.Fatalf("DescribeExportTasks %s: %v", p.name, err)
		}
		sdkIdle = append(sdkIdle, time.Since(begin))
	}

	start := func(id, cluster string) error {
		_, err := client.StartExportTask(ctx, &rds.StartExportTaskInput{
			ExportTaskIdentifier: aws.String(id), SourceArn: aws.String(clusterArn(cluster)),
			S3BucketName: aws.String(testBucket), IamRoleArn: aws.String(roleArn), KmsKeyId: aws.String("alias/export"),
		})
		return err
	}
	for i := range 2 {
		if err := start(fmt.Sprintf("run%d", i), fmt.Sprintf("run%d", i)); err != nil {
			b.Fatalf("StartExportTask: %v", err)
		}
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		out, err := client.DescribeExportTasks(ctx, &rds.DescribeExportTasksInput{
			Filters: []types.Filter{{Name: aws.String("status"), Values: []string{"in_progress"}}},
		})
		if err != nil {
			b.Fatal(err)
		}
		if len(out.ExportTasks) == 2 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("the two exports are not IN_PROGRESS after a minute (%d are)", len(out.ExportTasks))
		}
	}

	var describe, starts []time.Duration
	byPage := make([][]time.Duration, len(pages))
	running := math.MaxInt

	b.ResetTimer()
	for i := range samples {
		p := pages[i%len(pages)]
		page, d := describePage(i)
		if !bytes.Contains(page, []byte("<ExportTask>")) {
			b.Fatalf("DescribeExportTasks %s: no task", p.name)
		}
		describe = append(describe, d)
		byPage[i%len(pages)] = append(byPage[i%len(pages)], d)
		if p.name == "status-active" {
			running = min(running, bytes.Count(page, []byte("<Status>IN_PROGRESS</Status>")))
		}

		begin := time.Now()
		err := start(fmt.Sprintf("bench-%04d", i), fmt.Sprintf("q%04d", i))
		d = time.Since(begin)
		if err != nil {
			b.Fatalf("StartExportTask: %v", err)
		}
		starts = append(starts, d)
	}
	b.StopTimer()

	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(percentile(describe, 50)), "describe-p50-ms")
	b.ReportMetric(ms(percentile(describe, 99)), "describe-p99-ms")
	b.ReportMetric(ms(percentile(idle, 99)), "describe-idle-p99-ms")
	b.ReportMetric(ms(percentile(sdkIdle, 50)), "describe-sdk-idle-p50-ms")
	b.ReportMetric(ms(percentile(starts, 50)), "start-p50-ms")
	b.ReportMetric(ms(percentile(starts, 99)), "start-p99-ms")
	for i, p := range pages {
		b.ReportMetric(ms(percentile(byPage[i], 99)), p.name+"-p99-ms")
	}
	if running == math.MaxInt {
		running = -1
	}
	b.ReportMetric(float64(running), "exports-running-min")
	b.ReportMetric(seedTime.Seconds(), "seed-s")
}

// controlPlanePage is one filtered DescribeExportTasks page of the
// control-plane benchmarks.
type controlPlanePage struct {
	name    string
	filters []types.Filter
	max     int32
}

// controlPlanePages are the pages the control-plane benchmarks time, over
// the tasks seedTasks (or seedPostgresTasks) stores.
func controlPlanePages() []controlPlanePage {
	filter := func(name string, values ...string) []types.Filter {
		return []types.Filter{{Name: aws.String(name), Values: values}}
	}
	return []controlPlanePage{
		{"status-complete", filter("status", "complete"), 100},                                          // 95% of the tasks
		{"status-failed", filter("status", "failed"), 100},                                              // 1%
		{"status-active", filter("status", "starting", "in_progress"), 20},                              // the few running or queued
		{"source-arn-old", filter("source-arn", clusterArn("old3")), 100},                               // 10%
		{"source-arn-running", filter("source-arn", clusterArn("run0")), 20},                            // one task
		{"source-bucket", append(filter("status", "canceled"), filter("s3-bucket", testBucket)...), 50}, // 4%, two filters
	}
}

// pageTimer returns a function that fetches pages[i%len(pages)] with a
// signed HTTP request and times it from sending the request to the last
// byte of the response: the server's latency. The SDK's XML decoding of a
// 100-task page costs its caller milliseconds more.
func pageTimer(b *testing.B, endpoint string, cred Credential, pages []controlPlanePage) func(i int) ([]byte, time.Duration) {
	ctx := b.Context()
	creds := aws.Credentials{AccessKeyID: cred.AccessKeyID, SecretAccessKey: cred.SecretAccessKey}
	signer := v4.NewSigner()
	hc := &http.Client{Timeout: 30 * time.Second}
	return func(i int) ([]byte, time.Duration) {
		p := pages[i%len(pages)]
		form := url.Values{"Action": {"DescribeExportTasks"}, "Version": {"2014-10-31"}, "MaxRecords": {strconv.Itoa(int(p.max))}}
		for j, f := range p.filters {
			prefix := fmt.Sprintf("Filters.Filter.%d.", j+1)
			form.Set(prefix+"Name", aws.ToString(f.Name))
			for k, v := range f.Values {
				form.Set(fmt.Sprintf("%sValues.Value.%d", prefix, k+1), v)
			}
		}
		body := form.Encode()
		begin := time.Now()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		sum := sha256.Sum256([]byte(body))
		if err := signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "rds", testRegion, time.Now()); err != nil {
			b.Fatal(err)
		}
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatalf("DescribeExportTasks %s: %v", p.name, err)
		}
		out, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		d := time.Since(begin)
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("DescribeExportTasks %s: %d %v %.300s", p.name, resp.StatusCode, err, out)
		}
		return out, d
	}
}

// percentile is the nearest-rank p-th percentile of ds (the maximum for p99
// of up to 100 samples).
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	k := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(k, len(s)-1))]
}

// seedTasks creates the task store at path and inserts n finished tasks of
// the test account in one transaction: 95% COMPLETE, 4% CANCELED, 1%
// FAILED, spread over ten clusters old0..old9 that are not configured.
func seedTasks(b *testing.B, path string, n int) {
	b.Helper()
	ctx := b.Context()
	st, err := sqlitetaskstore.New(ctx, path) // the schema
	if err != nil {
		b.Fatal(err)
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	t0 := time.Now().Add(-time.Duration(n) * time.Minute).UnixMicro()
	_, err = tx.ExecContext(ctx, `
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
INSERT INTO export_tasks (account_id, identifier, region, source_arn, source_type, export_only,
	s3_bucket, s3_prefix, iam_role_arn, kms_key_id, status,
	snapshot_time, task_start_time, task_end_time,
	percent_progress, extracted_bytes, failure_cause, warning_message)
SELECT ?, printf('seed-%06d', i), ?, ? || (i % 10), 'CLUSTER', NULL,
	?, 'seed', ?, 'alias/export', s,
	? + i * 60000000, ? + i * 60000000, ? + i * 60000000 + 30000000,
	CASE s WHEN 'COMPLETE' THEN 100 ELSE i % 100 END, i * 1000,
	CASE s WHEN 'FAILED' THEN 'An unknown internal error occurred.' ELSE '' END, ''
FROM (SELECT i, CASE WHEN i % 100 = 0 THEN 'FAILED' WHEN i % 100 < 5 THEN 'CANCELED' ELSE 'COMPLETE' END AS s FROM n)`,
		n, testAccount, testRegion, clusterArn("old"),
		testBucket, roleArn, t0, t0, t0)
	if err != nil {
		b.Fatalf("seed tasks: %v", err)
	}
	if err := tx.Commit(); err != nil {
		b.Fatalf("seed tasks: %v", err)
	}
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// benchLogWriter sends server logs to the benchmark log.
type benchLogWriter struct{ b *testing.B }

func (w benchLogWriter) Write(p []byte) (int, error) {
	w.b.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// serveConfigEnv names the config file of the server process that
// startServerProcess runs: the test binary itself, which TestMain turns
// into `rdsexport serve --config FILE`.
const serveConfigEnv = "RDSEXPORT_TEST_SERVE_CONFIG"

// serveProcess is the server process's main: serve until SIGINT.
func serveProcess(path string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, []string{"serve", "--config", path}, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "rdsexport:", err)
		return 2
	}
	return 0
}

// startServerProcess runs the server with cfg in a child process and
// returns its URL; the child is interrupted and waited for at cleanup.
func startServerProcess(b *testing.B, cfg Config) string {
	b.Helper()
	out, err := yaml.Marshal(cfg)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "config.yaml")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		b.Fatal(err)
	}
	stdout := &firstLine{line: make(chan string, 1)}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	// The runtime's settings (GOMAXPROCS, GOGC) pass on; RDSEXPORT_*
	// ones would override the config file and are left out.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RDSEXPORT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, serveConfigEnv+"="+path)
	killWithParent(cmd) // when the benchmark is killed before its cleanups
	cmd.Stdout = stdout
	cmd.Stderr = benchLogWriter{b}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	b.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case err := <-exited:
			if err != nil {
				b.Errorf("server process: %v", err)
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			b.Error("the server process did not stop within 30 s of SIGINT")
		}
	})
	var line string
	select {
	case line = <-stdout.line:
	case err := <-exited:
		b.Fatalf("the server process exited: %v", err)
	case <-time.After(time.Minute):
		b.Fatal("the server process did not start within a minute")
	}
	_, addr, _ := strings.Cut(line, "listening on ")
	addr, _, _ = strings.Cut(addr, " ")
	if !strings.HasPrefix(addr, "http://") {
		b.Fatalf("the server process printed %q, want its address", line)
	}
	return addr
}

// firstLine passes on the first line written to it and drops the rest.
type firstLine struct {
	buf  []byte
	sent bool
	line chan string
}

func (w *firstLine) Write(p []byte) (int, error) {
	if !w.sent {
		w.buf = append(w.buf, p...)
		if i := bytes.IndexByte(w.buf, '\n'); i >= 0 {
			w.line <- string(w.buf[:i])
			w.sent, w.buf = true, nil
		}
	}
	return len(p), nil
}
