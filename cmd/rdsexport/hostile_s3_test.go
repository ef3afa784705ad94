package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/jackc/pgx/v5"

	"github.com/rdsexport/rdsexport/internal/exporttest"
)

// The second account of the two-account tests, with its key.
const (
	team2Account = "111122223333"
	team2Key     = "team2"
	team2Secret  = "s2"
)

var (
	keyTest  = aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}
	keyTeam2 = aws.Credentials{AccessKeyID: team2Key, SecretAccessKey: team2Secret}
)

// twoAccounts adds team2's key to a configuration whose first key is the
// server's account's.
func twoAccounts(c *Config) {
	c.Credentials = []Credential{
		{AccessKeyID: keyTest.AccessKeyID, SecretAccessKey: keyTest.SecretAccessKey},
		{AccessKeyID: team2Key, SecretAccessKey: team2Secret, AccountID: team2Account},
	}
}

// s3Client is an SDK S3 client of the server at url signing with key.
func s3Client(url string, key aws.Credentials) *s3.Client {
	return s3.New(s3.Options{
		Region: testRegion, BaseEndpoint: aws.String(url), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, ""),
		HTTPClient:  &http.Client{Timeout: 30 * time.Second},
	})
}

// s3ErrorDoc is S3's error document.
type s3ErrorDoc struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string
	Message   string
	RequestID string `xml:"RequestId"`
}

// sendRaw sends req and returns the status and body.
func sendRaw(t *testing.T, req *http.Request) (int, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// wantS3Error fails unless the answer is S3's error code with status and
// a message.
func wantS3Error(t *testing.T, status int, body []byte, wantStatus int, code string) s3ErrorDoc {
	t.Helper()
	var e s3ErrorDoc
	if err := xml.Unmarshal(body, &e); err != nil {
		t.Fatalf("status %d, not an S3 error document (%v): %s", status, err, body)
	}
	if status != wantStatus || e.Code != code || e.Message == "" {
		t.Fatalf("got %d %+v, want %d %s with a Message", status, e, wantStatus, code)
	}
	return e
}

// signS3 signs req for S3 with key, x-amz-content-sha256 being sha.
func signS3(t *testing.T, req *http.Request, key aws.Credentials, sha string) {
	t.Helper()
	req.Header.Set("X-Amz-Content-Sha256", sha)
	if err := v4.NewSigner().SignHTTP(context.Background(), key, req, sha, "s3", testRegion, time.Now()); err != nil {
		t.Fatal(err)
	}
}

// TestHostileS3_Ownership: on the real server, a second account can
// neither read, write, list nor delete the first account's bucket, with
// the SDK or by hand.
func TestHostileS3_Ownership(t *testing.T) {
	s := startServer(t, "", func(c *Config) { twoAccounts(c); c.Clusters = nil })
	a, b := s3Client(s.URL(), keyTest), s3Client(s.URL(), keyTeam2)
	ctx := t.Context()
	if _, err := a.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("db/t/part-0.parquet"), Body: strings.NewReader("A's rows")}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("team2-out")}); err != nil {
		t.Fatal(err)
	}
	bucket, key := aws.String(testBucket), aws.String("db/t/part-0.parquet")
	for name, op := range map[string]func() error{
		"ListObjectsV2": func() error { _, err := b.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: bucket}); return err },
		"ListObjects":   func() error { _, err := b.ListObjects(ctx, &s3.ListObjectsInput{Bucket: bucket}); return err },
		"GetObject":     func() error { _, err := b.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: key}); return err },
		"PutObject": func() error {
			_, err := b.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: key, Body: strings.NewReader("overwritten")})
			return err
		},
		"DeleteObject": func() error {
			_, err := b.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bucket, Key: key})
			return err
		},
		"DeleteObjects": func() error {
			_, err := b.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: bucket, Delete: &s3types.Delete{Objects: []s3types.ObjectIdentifier{{Key: key}}}})
			return err
		},
		"CreateMultipartUpload": func() error {
			_, err := b.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bucket, Key: aws.String("x")})
			return err
		},
		"ListMultipartUploads": func() error {
			_, err := b.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: bucket})
			return err
		},
		"CopyObjectOut": func() error {
			_, err := b.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("team2-out"), Key: aws.String("copy"), CopySource: aws.String(testBucket + "/db/t/part-0.parquet")})
			return err
		},
		"DeleteBucket": func() error { _, err := b.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: bucket}); return err },
	} {
		t.Run(name, func(t *testing.T) {
			if err := op(); apiCode(err) != "AccessDenied" {
				t.Fatalf("team2: %v, want AccessDenied", err)
			}
		})
	}
	if _, err := b.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bucket, Key: key}); !strings.Contains(fmt.Sprint(err), "403") {
		t.Errorf("team2 HeadObject: %v, want 403", err)
	}
	if out, err := b.ListBuckets(ctx, &s3.ListBucketsInput{}); err != nil || len(out.Buckets) != 1 || aws.ToString(out.Buckets[0].Name) != "team2-out" {
		t.Errorf("team2 ListBuckets: %+v %v, want only team2-out", out, err)
	}
	var exists *s3types.BucketAlreadyExists
	if _, err := b.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket}); !errors.As(err, &exists) {
		t.Errorf("team2 creating %s: %v, want BucketAlreadyExists", testBucket, err)
	}
	var owned *s3types.BucketAlreadyOwnedByYou
	if _, err := a.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket}); !errors.As(err, &owned) {
		t.Errorf("re-creating %s: %v, want BucketAlreadyOwnedByYou", testBucket, err)
	}
	out, err := a.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(got) != "A's rows" {
		t.Errorf("A's object is now %q", got)
	}

	// By hand: the same refusal in S3's format.
	req, _ := http.NewRequest(http.MethodGet, s.URL()+"/"+testBucket+"?list-type=2", nil)
	signS3(t, req, keyTeam2, sha256Hex(nil))
	status, body := sendRaw(t, req)
	wantS3Error(t, status, body, http.StatusForbidden, "AccessDenied")
}

// TestHostileS3_Authentication: S3 requests that are not signed with SigV4
// are answered in S3's format, saying what to do, and RDS requests keep
// the Query protocol's answer.
func TestHostileS3_Authentication(t *testing.T) {
	s := startServer(t, "", func(c *Config) { c.Clusters = nil })
	for name, c := range map[string]struct {
		method, path string
		header       http.Header
		status       int
		code         string
	}{
		"UnsignedGet":      {http.MethodGet, "/" + testBucket + "/key", nil, 403, "AccessDenied"},
		"UnsignedList":     {http.MethodGet, "/" + testBucket, nil, 403, "AccessDenied"},
		"UnsignedRoot":     {http.MethodGet, "/", nil, 403, "AccessDenied"},
		"UnsignedPut":      {http.MethodPut, "/" + testBucket + "/planted", nil, 403, "AccessDenied"},
		"UnsignedHeadless": {http.MethodDelete, "/" + testBucket, nil, 403, "AccessDenied"},
		"SigV2Header":      {http.MethodGet, "/" + testBucket + "/key", http.Header{"Authorization": {"AWS test:c2lnbmF0dXJl"}, "Date": {time.Now().UTC().Format(http.TimeFormat)}}, 400, "InvalidRequest"},
		"SigV2Query":       {http.MethodGet, "/" + testBucket + "/key?AWSAccessKeyId=test&Expires=9999999999&Signature=c2ln", nil, 400, "InvalidRequest"},
		"SigV2Root":        {http.MethodGet, "/", http.Header{"Authorization": {"AWS test:c2lnbmF0dXJl"}}, 400, "InvalidRequest"},
	} {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, s.URL()+c.path, nil)
			for k, v := range c.header {
				req.Header[k] = v
			}
			status, body := sendRaw(t, req)
			e := wantS3Error(t, status, body, c.status, c.code)
			if !strings.Contains(e.Message, "AWS4-HMAC-SHA256") {
				t.Errorf("message does not name SigV4: %q", e.Message)
			}
		})
	}
	t.Run("S3Codes", func(t *testing.T) {
		for _, c := range []struct {
			name   string
			key    aws.Credentials
			status int
			code   string
		}{
			{"UnknownKey", aws.Credentials{AccessKeyID: "AKIDNOBODY", SecretAccessKey: "x"}, 403, "InvalidAccessKeyId"},
			{"WrongSecret", aws.Credentials{AccessKeyID: "test", SecretAccessKey: "wrong"}, 403, "SignatureDoesNotMatch"},
		} {
			req, _ := http.NewRequest(http.MethodGet, s.URL()+"/"+testBucket, nil)
			signS3(t, req, c.key, sha256Hex(nil))
			status, body := sendRaw(t, req)
			wantS3Error(t, status, body, c.status, c.code)
		}
	})
	t.Run("RDSStillQuery", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, s.URL()+"/", strings.NewReader("Action=DescribeExportTasks"))
		req.Header.Set("Content-Type", hostileFormCType)
		status, body := sendRaw(t, req)
		if e := parseQueryError(t, body); status != http.StatusForbidden || e.Error.Code != "MissingAuthenticationToken" {
			t.Fatalf("unsigned RDS request: %d %+v", status, e)
		}
	})
}

// chunkedBody is a signed aws-chunked body of content in chunks of size,
// signed with the SDK's stream signer from the request's seed signature;
// badChunk (1-based) gets a signature of zeros.
func chunkedBody(t *testing.T, req *http.Request, key aws.Credentials, at time.Time, content []byte, size, badChunk int) []byte {
	t.Helper()
	auth := req.Header.Get("Authorization")
	seed, _ := hex.DecodeString(auth[strings.LastIndex(auth, "Signature=")+len("Signature="):])
	ss := v4.NewStreamSigner(key, "s3", testRegion, seed)
	var b bytes.Buffer
	for i := 0; ; i++ {
		chunk := content[min(i*size, len(content)):min((i+1)*size, len(content))]
		sig, err := ss.GetSignature(context.Background(), nil, chunk, at)
		if err != nil {
			t.Fatal(err)
		}
		if i+1 == badChunk {
			sig = make([]byte, 32)
		}
		fmt.Fprintf(&b, "%x;chunk-signature=%x\r\n", len(chunk), sig)
		if len(chunk) == 0 {
			b.WriteString("\r\n")
			return b.Bytes()
		}
		b.Write(chunk)
		b.WriteString("\r\n")
	}
}

// TestHostileS3_PayloadIntegrity: through the router, a body that does not
// match what was signed is refused and not stored.
func TestHostileS3_PayloadIntegrity(t *testing.T) {
	s := startServer(t, "", func(c *Config) { c.Clusters = nil })
	c := s3Client(s.URL(), keyTest)
	content := bytes.Repeat([]byte("rdsexport"), 4000)
	head := func(key string) error {
		_, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
		return err
	}

	t.Run("ContentSHA256Mismatch", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPut, s.URL()+"/"+testBucket+"/mismatch", bytes.NewReader(content))
		signS3(t, req, keyTest, sha256Hex([]byte("what was signed")))
		status, body := sendRaw(t, req)
		wantS3Error(t, status, body, http.StatusBadRequest, "XAmzContentSHA256Mismatch")
		if head("mismatch") == nil {
			t.Error("the object was stored")
		}
	})
	signedChunked := func(key string, badChunk int, sha string) (int, []byte) {
		at := time.Now()
		req, _ := http.NewRequest(http.MethodPut, s.URL()+"/"+testBucket+"/"+key, nil)
		req.Header.Set("Content-Encoding", "aws-chunked")
		req.Header.Set("X-Amz-Decoded-Content-Length", fmt.Sprint(len(content)))
		req.Header.Set("X-Amz-Content-Sha256", sha)
		if err := v4.NewSigner().SignHTTP(context.Background(), keyTest, req, sha, "s3", testRegion, at); err != nil {
			t.Fatal(err)
		}
		body := chunkedBody(t, req, keyTest, at, content, 8192, badChunk)
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		return sendRaw(t, req)
	}
	t.Run("SignedChunks", func(t *testing.T) {
		if status, body := signedChunked("chunked", 0, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"); status != http.StatusOK {
			t.Fatalf("status %d: %s", status, body)
		}
		if err := head("chunked"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("WrongChunkSignature", func(t *testing.T) {
		status, body := signedChunked("bad-chunk", 3, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
		wantS3Error(t, status, body, http.StatusForbidden, "SignatureDoesNotMatch")
		if head("bad-chunk") == nil {
			t.Error("the object was stored")
		}
	})
	t.Run("UnknownStreamingValue", func(t *testing.T) {
		status, body := signedChunked("anything", 0, "STREAMING-ANYTHING")
		wantS3Error(t, status, body, http.StatusBadRequest, "InvalidArgument")
		if head("anything") == nil {
			t.Error("the object was stored")
		}
	})
}

// TestHostileS3_ForeignBucketExport: StartExportTask refuses a bucket of
// another account, and an export whose bucket changed hands after it was
// accepted fails without writing into it.
func TestHostileS3_ForeignBucketExport(t *testing.T) {
	db := exporttest.NewPostgresDB(t, "CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 100);")
	s := startServer(t, db.URL, func(c *Config) {
		twoAccounts(c)
		c.MaxConcurrentExports = 1
		c.Clusters = []SourceConfig{
			{Identifier: "one", Engine: "postgres", URL: db.URL, Databases: []string{db.Name}, SharedWith: []string{team2Account}},
			{Identifier: "two", Engine: "postgres", URL: db.URL, Databases: []string{db.Name}, SharedWith: []string{team2Account}},
		}
	})
	a, b := s3Client(s.URL(), keyTest), s3Client(s.URL(), keyTeam2)
	team2 := rdsClient(s.URL(), Credential{AccessKeyID: team2Key, SecretAccessKey: team2Secret})
	ctx := t.Context()
	start := func(id, cluster, bucket string) error {
		_, err := team2.StartExportTask(ctx, &rds.StartExportTaskInput{
			ExportTaskIdentifier: aws.String(id), SourceArn: aws.String("arn:aws:rds:us-east-1:" + team2Account + ":cluster:" + cluster),
			S3BucketName: aws.String(bucket), IamRoleArn: aws.String("arn:aws:iam::" + team2Account + ":role/r"), KmsKeyId: aws.String("k"),
		})
		return err
	}

	err := start("into-a", "one", testBucket)
	if apiCode(err) != "InvalidS3BucketFault" || !strings.Contains(err.Error(), "isn't authorized to call s3:PutObject on the S3 bucket "+testBucket) {
		t.Fatalf("team2 exporting into account A's bucket: %v, want InvalidS3BucketFault naming the missing permission", err)
	}

	// team2's first export waits on a lock held here; its second waits for
	// the first (one export at a time). Meanwhile team2's bucket is
	// deleted and taken by account A.
	if _, err := b.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("handover")}); err != nil {
		t.Fatal(err)
	}
	lock, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close(context.Background())
	tx, err := lock.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, "LOCK TABLE t IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	if err := start("first", "one", "handover"); err != nil {
		t.Fatal(err)
	}
	if err := start("second", "two", "handover"); err != nil {
		t.Fatal(err)
	}
	describe := func(id string) (string, string) {
		out, err := team2.DescribeExportTasks(ctx, &rds.DescribeExportTasksInput{ExportTaskIdentifier: aws.String(id)})
		if err != nil || len(out.ExportTasks) != 1 {
			t.Fatalf("describe %s: %+v %v", id, out, err)
		}
		return aws.ToString(out.ExportTasks[0].Status), aws.ToString(out.ExportTasks[0].FailureCause)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if st, _ := describe("first"); st == "IN_PROGRESS" {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("first export %s after a minute", st)
		}
	}
	if _, err := b.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("handover")}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("handover")}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	for _, id := range []string{"first", "second"} {
		for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
			st, cause := describe(id)
			if st == "FAILED" {
				t.Logf("%s: %s", id, cause)
				if id == "second" && !strings.Contains(cause, "belongs to another account") {
					t.Errorf("second export's cause %q does not say the bucket is another account's", cause)
				}
				break
			}
			if st == "COMPLETE" || time.Now().After(deadline) {
				t.Fatalf("%s export %s, want FAILED", id, st)
			}
		}
	}
	objs, err := a.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("handover")})
	if err != nil || len(objs.Contents) != 0 {
		t.Fatalf("account A's bucket after team2's exports: %+v %v, want empty", objs.Contents, err)
	}
}

// TestHostileS3_SnapshotBucket: in the embedded S3, snapshots.bucket is
// created as the server's account's, and a server whose snapshots.bucket
// another account owns refuses to start.
func TestHostileS3_SnapshotBucket(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Listen, cfg.DataDir, cfg.LogLevel = "127.0.0.1:0", t.TempDir(), "debug"
	twoAccounts(&cfg)
	cfg.Snapshots = SnapshotStorage{Bucket: "snap-store", Prefix: "copies"}
	s := startMain(t, cfg)
	if _, err := s3Client(s.URL(), keyTeam2).ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: aws.String("snap-store")}); apiCode(err) != "AccessDenied" {
		t.Errorf("team2 listing the snapshot store: %v, want AccessDenied", err)
	}
	if _, err := s3Client(s.URL(), keyTest).ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: aws.String("snap-store")}); err != nil {
		t.Errorf("the server's account listing its snapshot store: %v", err)
	}

	// Another data_dir where team2 took the bucket first.
	cfg.DataDir, cfg.Snapshots = t.TempDir(), SnapshotStorage{}
	m2 := &Main{Config: cfg, Logger: newLogger(cfg, testLogWriter{t})}
	if err := m2.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, err := s3Client(m2.URL(), keyTeam2).CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String("snap-store")})
	if cerr := m2.Close(); err != nil || cerr != nil {
		t.Fatal(err, cerr)
	}
	cfg.Snapshots = SnapshotStorage{Bucket: "snap-store"}
	m := &Main{Config: cfg, Logger: newLogger(cfg, testLogWriter{t})}
	err = m.Open(t.Context())
	if err == nil {
		m.Close()
		t.Fatal("the server started with a snapshot store of another account")
	}
	if !strings.Contains(err.Error(), "another account") {
		t.Errorf("refusal %q does not say why", err)
	}
}

// TestHostileS3_ExportedObjects: the objects of an export (written
// in-process) have Last-Modified and Content-Type, and the AWS CLI copies
// one with aws s3 cp.
func TestHostileS3_ExportedObjects(t *testing.T) {
	db := exporttest.NewPostgresDB(t, "CREATE TABLE t (id int, name text); INSERT INTO t SELECT i, 'n' || i FROM generate_series(1, 50) i;")
	s := startServer(t, db.URL, func(c *Config) { c.Clusters[0].Databases = []string{db.Name} })
	s.startExport(t, "headers")
	s.waitStatus(t, "headers", time.Minute, "COMPLETE")
	keys, err := s.Objects.List(t.Context(), s.Bucket, "headers/")
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(keys, func(k string) bool { return strings.HasSuffix(k, ".parquet") })
	if i < 0 {
		t.Fatalf("no Parquet file among %q", keys)
	}
	parquet := keys[i]
	head, err := s3Client(s.URL(), keyTest).HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(parquet)})
	if err != nil {
		t.Fatal(err)
	}
	if head.LastModified == nil || aws.ToString(head.ContentType) == "" {
		t.Errorf("HeadObject %s: Last-Modified %v, Content-Type %q", parquet, head.LastModified, aws.ToString(head.ContentType))
	}

	bin, err := exec.LookPath("aws")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("aws CLI not found")
		}
		t.Skip("aws CLI not found")
	}
	out := t.TempDir()
	home := t.TempDir()
	cmd := exec.CommandContext(t.Context(), bin, "--endpoint-url", s.URL(), "s3", "cp", "s3://"+s.Bucket+"/"+parquet, out+"/")
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_DEFAULT_REGION="+testRegion,
		"AWS_CONFIG_FILE="+filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "credentials"), "AWS_PAGER=")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("aws s3 cp: %v\n%s", err, msg)
	}
	got, err := os.ReadFile(filepath.Join(out, filepath.Base(parquet)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(got, []byte("PAR1")) || int64(len(got)) != aws.ToInt64(head.ContentLength) {
		t.Errorf("aws s3 cp wrote %d bytes starting %q, want the %d-byte Parquet file", len(got), got[:min(len(got), 4)], aws.ToInt64(head.ContentLength))
	}
}
