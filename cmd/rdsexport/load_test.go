package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/rdsexport/rdsexport/internal/exporttest"
)

// TestLoad_MixedClients: 50 clients for LOAD_SECONDS (default 60) send
// Describe, Start and Cancel at random while exports run. No answer is a
// 5xx, no accepted task is lost, and the goroutines return to their
// baseline once the server is closed. Latencies are logged.
func TestLoad_MixedClients(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute of load")
	}
	seconds := 60
	if v, err := strconv.Atoi(os.Getenv("LOAD_SECONDS")); err == nil && v > 0 {
		seconds = v
	}
	db := exporttest.NewPostgresDB(t, "CREATE TABLE t (id bigint, s text); INSERT INTO t SELECT i, md5(i::text) FROM generate_series(1, 20000) i;")
	baseline := runtime.NumGoroutine()

	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.LogLevel = "warn"
	for i := range 5 {
		cfg.Clusters = append(cfg.Clusters, SourceConfig{Identifier: fmt.Sprintf("pg%d", i), Engine: "postgres", URL: db.URL, Databases: []string{db.Name}})
	}
	m := &Main{Config: cfg, Logger: newLogger(cfg, testLogWriter{t}), CreateBuckets: []string{testBucket}}
	if err := m.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	transport := &http.Transport{MaxIdleConnsPerHost: 64}
	client := rds.New(rds.Options{
		Region: testRegion, BaseEndpoint: aws.String(m.URL()),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
		HTTPClient:  &http.Client{Transport: transport, Timeout: 30 * time.Second},
		// Count every answer: no retries hide a 5xx.
		RetryMaxAttempts: 1,
	})

	var (
		mu        sync.Mutex
		latencies = map[string][]time.Duration{}
		accepted  []string
		fivexx    atomic.Int64
		other     atomic.Int64
		seq       atomic.Int64
	)
	record := func(op string, d time.Duration, err error) {
		var re *smithyhttp.ResponseError
		if errors.As(err, &re) && re.HTTPStatusCode() >= 500 {
			fivexx.Add(1)
			t.Errorf("%s: %v", op, err)
		} else if err != nil && !errors.As(err, &re) {
			other.Add(1)
			t.Errorf("%s: transport error %v", op, err)
		}
		mu.Lock()
		latencies[op] = append(latencies[op], d)
		mu.Unlock()
	}
	deadline := time.Now().Add(time.Duration(seconds) * time.Second)
	var wg sync.WaitGroup
	for c := range 50 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 7))
			for time.Now().Before(deadline) {
				begin := time.Now()
				switch r := rng.IntN(10); {
				case r < 6:
					_, err := client.DescribeExportTasks(t.Context(), &rds.DescribeExportTasksInput{
						Filters: []types.Filter{{Name: aws.String("status"), Values: []string{"in_progress", "complete"}}}, MaxRecords: aws.Int32(20),
					})
					record("DescribeExportTasks", time.Since(begin), err)
				case r < 9:
					id := fmt.Sprintf("load-%d", seq.Add(1))
					_, err := client.StartExportTask(t.Context(), &rds.StartExportTaskInput{
						ExportTaskIdentifier: aws.String(id), SourceArn: aws.String(clusterArn(fmt.Sprintf("pg%d", rng.IntN(5)))),
						S3BucketName: aws.String(testBucket), IamRoleArn: aws.String(roleArn), KmsKeyId: aws.String("k"),
					})
					record("StartExportTask", time.Since(begin), err)
					if err == nil {
						mu.Lock()
						accepted = append(accepted, id)
						mu.Unlock()
					}
				default:
					id := fmt.Sprintf("load-%d", 1+rng.Int64N(max(seq.Load(), 1)))
					_, err := client.CancelExportTask(t.Context(), &rds.CancelExportTaskInput{ExportTaskIdentifier: aws.String(id)})
					record("CancelExportTask", time.Since(begin), err)
				}
			}
		})
	}
	wg.Wait()

	// Every accepted task is listed and ends. The check itself goes through
	// a client of its own with the SDK's retries: its pages are not part of
	// the load, and a connection of the load's pool can be cut under it.
	verifyTransport := &http.Transport{}
	defer verifyTransport.CloseIdleConnections()
	verify := rds.New(rds.Options{
		Region: testRegion, BaseEndpoint: aws.String(m.URL()),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
		HTTPClient:  &http.Client{Transport: verifyTransport, Timeout: 30 * time.Second},
	})
	var listed []string
	p := rds.NewDescribeExportTasksPaginator(verify, &rds.DescribeExportTasksInput{MaxRecords: aws.Int32(100)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range page.ExportTasks {
			listed = append(listed, aws.ToString(task.ExportTaskIdentifier))
		}
	}
	for _, id := range accepted {
		if !slices.Contains(listed, id) {
			t.Errorf("accepted task %s is lost", id)
		}
	}
	for op, ds := range latencies {
		slices.Sort(ds)
		t.Logf("%-20s n=%6d p50=%8s p99=%8s", op, len(ds), ds[len(ds)/2].Round(time.Microsecond), ds[len(ds)*99/100].Round(time.Microsecond))
	}
	t.Logf("accepted %d tasks, listed %d, 5xx %d, transport errors %d", len(accepted), len(listed), fivexx.Load(), other.Load())

	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	transport.CloseIdleConnections()
	verifyTransport.CloseIdleConnections()
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		n := runtime.NumGoroutine()
		if n <= baseline+2 {
			t.Logf("goroutines: baseline %d, after %d", baseline, n)
			break
		}
		if time.Now().After(end) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: baseline %d, still %d after close\n%s", baseline, n, buf[:runtime.Stack(buf, true)])
		}
	}
}
