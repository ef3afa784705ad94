package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
	"go.uber.org/goleak"

	"github.com/rdsexport/rdsexport/internal/s3objects"
)

func TestMain(m *testing.M) {
	if path := os.Getenv(serveConfigEnv); path != "" {
		os.Exit(serveProcess(path)) // BenchmarkControlPlane's server
	}
	goleak.VerifyTestMain(m,
		// The SDK's shared HTTP transport keeps idle connections.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

const (
	testAccount = "000000000000"
	testRegion  = "us-east-1"
	testBucket  = "exports"
	roleArn     = "arn:aws:iam::000000000000:role/export"
)

// testServer is Main on 127.0.0.1:0 with a real RDS client and an S3 client
// pointed at its object store.
type testServer struct {
	*Main
	RDS     *rds.Client
	Objects *s3objects.Store
	Bucket  string
}

// startServer runs Main with a config for one cluster "pg" at pgURL, the
// embedded S3 (unless mod sets an endpoint) and bucket "exports".
func startServer(t *testing.T, pgURL string, mod func(*Config)) *testServer {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.LogLevel = "debug"
	cfg.Clusters = []SourceConfig{{Identifier: "pg", Engine: "aurora-postgresql", URL: pgURL}}
	if mod != nil {
		mod(&cfg)
	}
	return startMain(t, cfg)
}

func startMain(t *testing.T, cfg Config) *testServer {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	m := &Main{Config: cfg, Logger: newLogger(cfg, testLogWriter{t}), CreateBuckets: []string{testBucket}}
	if err := m.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	s := &testServer{Main: m, Bucket: testBucket, RDS: rdsClient(m.URL(), cfg.Credentials[0])}
	s.Objects = m.objects
	return s
}

func rdsClient(endpoint string, c Credential) *rds.Client {
	return rds.New(rds.Options{
		Region:       testRegion,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, ""),
		HTTPClient:   &http.Client{Timeout: 30 * time.Second},
	})
}

// testLogWriter sends server logs to the test log, shown on failure.
type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func clusterArn(id string) string {
	return fmt.Sprintf("arn:aws:rds:%s:%s:cluster:%s", testRegion, testAccount, id)
}

// startExport starts an export of cluster pg and fails the test on error.
func (s *testServer) startExport(t *testing.T, id string, exportOnly ...string) *types.ExportTask {
	t.Helper()
	out, err := s.RDS.StartExportTask(t.Context(), &rds.StartExportTaskInput{
		ExportTaskIdentifier: aws.String(id),
		SourceArn:            aws.String(clusterArn("pg")),
		S3BucketName:         aws.String(s.Bucket),
		IamRoleArn:           aws.String(roleArn),
		KmsKeyId:             aws.String("alias/export"),
		ExportOnly:           exportOnly,
	})
	if err != nil {
		t.Fatalf("StartExportTask: %v", err)
	}
	return (*types.ExportTask)(&types.ExportTask{
		ExportTaskIdentifier: out.ExportTaskIdentifier, Status: out.Status, SourceType: out.SourceType,
		PercentProgress: out.PercentProgress, TaskStartTime: out.TaskStartTime, SnapshotTime: out.SnapshotTime,
	})
}

func (s *testServer) describe(t *testing.T, id string) types.ExportTask {
	t.Helper()
	out, err := s.RDS.DescribeExportTasks(t.Context(), &rds.DescribeExportTasksInput{ExportTaskIdentifier: aws.String(id)})
	if err != nil {
		t.Fatalf("DescribeExportTasks: %v", err)
	}
	if len(out.ExportTasks) != 1 {
		t.Fatalf("DescribeExportTasks %s: %d tasks", id, len(out.ExportTasks))
	}
	return out.ExportTasks[0]
}

// waitStatus polls until the task has one of the statuses, failing after
// the timeout or when it reaches another terminal status.
func (s *testServer) waitStatus(t *testing.T, id string, timeout time.Duration, want ...string) types.ExportTask {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		task := s.describe(t, id)
		st := aws.ToString(task.Status)
		if slices.Contains(want, st) {
			return task
		}
		if st == "COMPLETE" || st == "FAILED" || st == "CANCELED" {
			t.Fatalf("task %s is %s (cause %q), want %v", id, st, aws.ToString(task.FailureCause), want)
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s still %s after %s, want %v", id, st, timeout, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// download copies every object under prefix into a temp dir and returns
// the dir and the keys.
func (s *testServer) download(t *testing.T, prefix string) (string, []string) {
	t.Helper()
	keys, err := s.Objects.List(t.Context(), s.Bucket, prefix)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, k := range keys {
		rc, err := s.Objects.Get(t.Context(), s.Bucket, k)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(k))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(f, rc)
		rc.Close()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir, keys
}

func apiCode(err error) string {
	var ae interface{ ErrorCode() string }
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// objectsVia is an S3 client of the server at url.
func objectsVia(t *testing.T, url string) *s3objects.Store {
	t.Helper()
	st, err := s3objects.New(s3objects.Params{Endpoint: url, Region: testRegion, AccessKeyID: "test", SecretAccessKey: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// createBucketVia creates a bucket through the S3 API of the server at url.
func createBucketVia(t *testing.T, url, bucket string) *s3objects.Store {
	t.Helper()
	st := objectsVia(t, url)
	if err := st.CreateBucket(t.Context(), bucket); err != nil {
		t.Fatal(err)
	}
	return st
}
