package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/rdsexport/rdsexport/internal/exporttest"
)

// virtualHostClient is an S3 client with virtual-hosted-style addressing
// (no UsePathStyle) whose endpoint is http://<host>:<port>; every
// connection goes to addr, since <bucket>.<host> need not resolve.
func virtualHostClient(t *testing.T, addr, host string) *s3.Client {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return s3.New(s3.Options{
		Region:       testRegion,
		BaseEndpoint: aws.String("http://" + host + ":" + port),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		HTTPClient:   &http.Client{Transport: tr, Timeout: 30 * time.Second},
	})
}

func TestS3_VirtualHostedStyle(t *testing.T) {
	s := startServer(t, noSource, func(c *Config) { c.S3.Hostnames = append(c.S3.Hostnames, "objects.example") })
	for _, host := range []string{"localhost", "s3.localhost", "objects.example"} {
		t.Run(host, func(t *testing.T) {
			c := virtualHostClient(t, s.Addr(), host)
			var hosts []string
			var mu sync.Mutex
			record := func(o *s3.Options) {
				o.HTTPClient = &hostRecorder{next: o.HTTPClient, seen: func(h string) { mu.Lock(); hosts = append(hosts, h); mu.Unlock() }}
			}
			bucket := "vh-" + strings.ReplaceAll(host, ".", "-")
			if _, err := c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}, record); err != nil {
				t.Fatalf("CreateBucket: %v", err)
			}
			key := "dir/a b+c.txt"
			if _, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
				Body: strings.NewReader("hello")}, record); err != nil {
				t.Fatalf("PutObject: %v", err)
			}
			out, err := c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}, record)
			if err != nil {
				t.Fatalf("GetObject: %v", err)
			}
			body, _ := io.ReadAll(out.Body)
			out.Body.Close()
			if string(body) != "hello" {
				t.Fatalf("GetObject body %q", body)
			}
			list, err := c.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)}, record)
			if err != nil || len(list.Contents) != 1 || aws.ToString(list.Contents[0].Key) != key {
				t.Fatalf("ListObjectsV2: %v %+v", err, list)
			}
			mu.Lock()
			for _, h := range hosts {
				if !strings.HasPrefix(h, bucket+"."+host+":") {
					t.Errorf("request to host %s, want virtual-hosted %s.%s", h, bucket, host)
				}
			}
			mu.Unlock()
			// The same object, path style.
			rc, err := s.Objects.Get(t.Context(), bucket, key)
			if err != nil {
				t.Fatalf("path-style Get: %v", err)
			}
			rc.Close()
		})
	}
}

// hostRecorder reports the Host of each request it sends.
type hostRecorder struct {
	next interface {
		Do(*http.Request) (*http.Response, error)
	}
	seen func(string)
}

func (h *hostRecorder) Do(r *http.Request) (*http.Response, error) {
	h.seen(r.URL.Host)
	return h.next.Do(r)
}

// TestExport_TableLog: each table finished logs rows, bytes, files and
// seconds at info level.
func TestExport_TableLog(t *testing.T) {
	db := exporttest.NewPostgresDB(t, "CREATE TABLE t1 (id int); INSERT INTO t1 SELECT generate_series(1, 1234); CREATE TABLE t2 (id int);")
	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Clusters = []SourceConfig{{Identifier: "pg", Engine: "aurora-postgresql", URL: db.URL}}
	var logs syncBuffer
	m := &Main{Config: cfg, Logger: newLogger(cfg, &logs), CreateBuckets: []string{testBucket}}
	if err := m.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s := &testServer{Main: m, Bucket: testBucket, RDS: rdsClient(m.URL(), cfg.Credentials[0]), Objects: m.objects}
	s.startExport(t, "logged", db.Name+".public")
	s.waitStatus(t, "logged", time.Minute, "COMPLETE")
	for table, rows := range map[string]string{"t1": "1234", "t2": "0"} {
		re := regexp.MustCompile(`level=INFO msg="table exported" .*table=` + db.Name + `\.public\.` + table +
			` rows=` + rows + ` bytes=\d+ files=[01] seconds=\d`)
		if !re.MatchString(logs.String()) {
			t.Errorf("no info line for %s:\n%s", table, logs.String())
		}
	}
}

func TestConfig_S3Hostnames(t *testing.T) {
	for _, h := range []string{"", "localhost:4566", "-bad.example", "a..b", "bucket/x"} {
		cfg := DefaultConfig()
		cfg.S3.Hostnames = []string{h}
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "s3.hostnames[0]") {
			t.Errorf("s3.hostnames %q: %v", h, err)
		}
	}
	cfg := DefaultConfig()
	cfg.S3.Hostnames = []string{"s3.rdsexport.internal", "localhost"}
	if err := cfg.Validate(); err != nil {
		t.Error(err)
	}
}
