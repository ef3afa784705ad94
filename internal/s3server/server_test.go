package s3server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"go.uber.org/goleak"

	"github.com/rdsexport/rdsexport/internal/s3server"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// recorder notes how request bodies were encoded, to show which paths
// the clients exercised.
type recorder struct {
	mu   sync.Mutex
	seen map[string]int
}

func (r *recorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodPut {
			r.mu.Lock()
			if r.seen == nil {
				r.seen = map[string]int{}
			}
			r.seen[req.Header.Get("X-Amz-Content-Sha256")+" "+req.Header.Get("Content-Encoding")+" "+req.Header.Get("X-Amz-Trailer")]++
			r.mu.Unlock()
		}
		h.ServeHTTP(w, req)
	})
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Sprint(r.seen)
}

func (r *recorder) sawChunked() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range r.seen {
		if strings.HasPrefix(k, "STREAMING-") || strings.Contains(k, "aws-chunked") {
			return true
		}
	}
	return false
}

func start(t testing.TB, dir string, p ...s3server.Params) (string, *recorder) {
	t.Helper()
	hs, rec := startServer(t, dir, false, p...)
	return hs.URL, rec
}

// startServer serves dir on httptest behind the SigV4 layer, over TLS if
// tls: over plain HTTP the SDKs and the CLI sign the payload hash, over
// HTTPS they switch to aws-chunked bodies with a trailing checksum. The
// server's Params are p[0], or account accountA.
func startServer(t testing.TB, dir string, tls bool, p ...s3server.Params) (*httptest.Server, *recorder) {
	t.Helper()
	params := s3server.Params{AccountID: accountA}
	if len(p) > 0 {
		params = p[0]
	}
	srv, err := s3server.New(dir, params)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	var hs *httptest.Server
	if tls {
		hs = httptest.NewTLSServer(rec.wrap(authenticate(srv)))
	} else {
		hs = httptest.NewServer(rec.wrap(authenticate(srv)))
	}
	t.Cleanup(hs.Close)
	return hs, rec
}

// sdkClient is an SDK client of account A with default settings except
// what a custom endpoint needs: checksums stay WhenSupported (the SDK
// default).
func sdkClient(endpoint string) *s3.Client {
	return sdkClientFor(endpoint, nil)
}

func sdkClientFor(endpoint string, hc *http.Client) *s3.Client {
	return sdkClientAs(endpoint, hc, keyA)
}

// sdkClientAs is an SDK client signing with key.
func sdkClientAs(endpoint string, hc *http.Client, key aws.Credentials) *s3.Client {
	o := s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, ""),
	}
	if hc != nil {
		o.HTTPClient = hc
	}
	return s3.New(o)
}

func randomBytes(t testing.TB, n int) []byte {
	p := make([]byte, n)
	_, _ = rand.Read(p)
	return p
}

func getAll(t testing.TB, c *s3.Client, bucket, key string) []byte {
	t.Helper()
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	p, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// onlyReader hides bytes.Reader's Seek, so the SDK must stream.
type onlyReader struct{ io.Reader }

func TestServer_SDKDefaultChecksums(t *testing.T) {
	for _, tls := range []bool{false, true} {
		t.Run(map[bool]string{false: "HTTP", true: "HTTPS"}[tls], func(t *testing.T) {
			hs, rec := startServer(t, t.TempDir(), tls)
			testSDKDefaultChecksums(t, sdkClientFor(hs.URL, hs.Client()), rec)
			if tls && !rec.sawChunked() {
				t.Errorf("the SDK sent no aws-chunked body over HTTPS: %s", rec)
			}
		})
	}
}

func testSDKDefaultChecksums(t *testing.T, c *s3.Client, rec *recorder) {
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("sdk")}); err != nil {
		t.Fatal(err)
	}

	t.Run("PutObject", func(t *testing.T) {
		body := randomBytes(t, 3<<20+7)
		for _, alg := range []types.ChecksumAlgorithm{"", types.ChecksumAlgorithmCrc32c, types.ChecksumAlgorithmSha256, types.ChecksumAlgorithmCrc64nvme} {
			key := "put-" + string(alg)
			if _, err := c.PutObject(ctx, &s3.PutObjectInput{
				Bucket: aws.String("sdk"), Key: aws.String(key), Body: bytes.NewReader(body), ChecksumAlgorithm: alg,
			}); err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			if got := getAll(t, c, "sdk", key); !bytes.Equal(got, body) {
				t.Fatalf("%s: stored %d bytes, sent %d", key, len(got), len(body))
			}
		}
	})

	t.Run("UploadMultipart", func(t *testing.T) {
		body := randomBytes(t, 17<<20+3)
		tm := transfermanager.New(c) // default options: CRC32 on every part
		if _, err := tm.UploadObject(ctx, &transfermanager.UploadObjectInput{
			Bucket: aws.String("sdk"), Key: aws.String("mpu"), Body: onlyReader{bytes.NewReader(body)},
		}); err != nil {
			t.Fatal(err)
		}
		if got := getAll(t, c, "sdk", "mpu"); !bytes.Equal(got, body) {
			t.Fatalf("stored %d bytes, sent %d", len(got), len(body))
		}
	})
	t.Logf("PUT encodings seen: %s", rec)
}

// TestServer_AWSChunked sends the aws-chunked variants by hand, signed as
// S3 documents: the stored object is the content, and a wrong trailing
// checksum stores nothing.
func TestServer_AWSChunked(t *testing.T) {
	endpoint, _ := start(t, t.TempDir())
	c := sdkClient(endpoint)
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("chunk")}); err != nil {
		t.Fatal(err)
	}
	content := []byte(strings.Repeat("0123456789", 2000))
	crc := crc32.ChecksumIEEE(content)
	good := base64.StdEncoding.EncodeToString([]byte{byte(crc >> 24), byte(crc >> 16), byte(crc >> 8), byte(crc)})
	var chunks [][]byte
	for i := 0; i < len(content); i += 8192 {
		chunks = append(chunks, content[i:min(i+8192, len(content))])
	}
	upload := func(sha, trailer string) chunkedUpload {
		u := chunkedUpload{key: keyA, at: time.Now(), chunks: chunks, sha: sha}
		if trailer != "" {
			u.trailer, u.trailerH = "x-amz-checksum-crc32:"+trailer, "x-amz-checksum-crc32"
		}
		return u
	}

	for name, u := range map[string]chunkedUpload{
		"Signed":          upload("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", ""),
		"SignedTrailer":   upload("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", good),
		"UnsignedTrailer": upload("STREAMING-UNSIGNED-PAYLOAD-TRAILER", good),
	} {
		t.Run(name, func(t *testing.T) {
			if resp, body := do(t, u.request(t, endpoint+"/chunk/"+name)); resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if got := getAll(t, c, "chunk", name); !bytes.Equal(got, content) {
				t.Fatalf("stored %d bytes %q..., want the %d content bytes", len(got), got[:min(len(got), 20)], len(content))
			}
			out, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("chunk"), Key: aws.String(name)})
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(out.ContentEncoding) != "" {
				t.Fatalf("Content-Encoding %q stored", aws.ToString(out.ContentEncoding))
			}
		})
	}

	t.Run("ErrBadDigest", func(t *testing.T) {
		for _, sha := range []string{"STREAMING-UNSIGNED-PAYLOAD-TRAILER", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"} {
			resp, body := do(t, upload(sha, "AAAAAA==").request(t, endpoint+"/chunk/bad"))
			wantError(t, resp, body, http.StatusBadRequest, "BadDigest")
			_, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("chunk"), Key: aws.String("bad")})
			var nf *types.NotFound
			if !errors.As(err, &nf) {
				t.Fatalf("HeadObject after a bad digest = %v, want NotFound", err)
			}
		}
	})

	t.Run("ErrBadDigestHeader", func(t *testing.T) {
		req := signedRequest(t, keyA, http.MethodPut, endpoint+"/chunk/badheader", bytes.NewReader(content), "UNSIGNED-PAYLOAD",
			http.Header{"X-Amz-Checksum-Crc32": {"AAAAAA=="}})
		resp, body := do(t, req)
		wantError(t, resp, body, http.StatusBadRequest, "BadDigest")
		if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("chunk"), Key: aws.String("badheader")}); err == nil {
			t.Fatal("object stored despite a bad checksum header")
		}
	})

	t.Run("ErrTruncated", func(t *testing.T) {
		req := upload("STREAMING-UNSIGNED-PAYLOAD-TRAILER", good).request(t, endpoint+"/chunk/short")
		full, _ := io.ReadAll(req.Body)
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(full[:len(full)/2])), int64(len(full)/2)
		if resp, _ := do(t, req); resp.StatusCode == http.StatusOK {
			t.Fatal("truncated body accepted")
		}
		if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("chunk"), Key: aws.String("short")}); err == nil {
			t.Fatal("object stored from a truncated body")
		}
	})
}

func TestServer_Restart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	part := randomBytes(t, 5<<20)
	var uploadID, etag string
	{
		srv, err := s3server.New(dir, s3server.Params{AccountID: accountA, Now: func() time.Time { return time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC) }})
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(authenticate(srv))
		c := sdkClient(hs.URL)
		for _, b := range []string{"one", "two"} {
			if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("one"), Key: aws.String("a/b.parquet"), Body: strings.NewReader("data")}); err != nil {
			t.Fatal(err)
		}
		mpu, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("two"), Key: aws.String("big")})
		if err != nil {
			t.Fatal(err)
		}
		uploadID = aws.ToString(mpu.UploadId)
		up, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("two"), Key: aws.String("big"), UploadId: mpu.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader(part)})
		if err != nil {
			t.Fatal(err)
		}
		etag = aws.ToString(up.ETag)
		hs.Close()
	}

	endpoint, _ := start(t, dir)
	c := sdkClient(endpoint)
	buckets, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range buckets.Buckets {
		names = append(names, aws.ToString(b.Name))
	}
	if !slices.Equal(names, []string{"one", "two"}) {
		t.Fatalf("buckets after restart %q", names)
	}
	objs, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("one")})
	if err != nil || len(objs.Contents) != 1 || aws.ToString(objs.Contents[0].Key) != "a/b.parquet" {
		t.Fatalf("objects after restart: %v %v", objs, err)
	}
	if want := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC); !aws.ToTime(objs.Contents[0].LastModified).Equal(want) {
		t.Fatalf("LastModified %v, want %v from the clock", objs.Contents[0].LastModified, want)
	}
	if got := getAll(t, c, "one", "a/b.parquet"); string(got) != "data" {
		t.Fatalf("content after restart %q", got)
	}
	ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("two")})
	if err != nil || len(ups.Uploads) != 1 || aws.ToString(ups.Uploads[0].UploadId) != uploadID {
		t.Fatalf("uploads after restart: %+v %v", ups, err)
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String("two"), Key: aws.String("big"), UploadId: aws.String(uploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: aws.String(etag)}}},
	}); err != nil {
		t.Fatal(err)
	}
	if got := getAll(t, c, "two", "big"); !bytes.Equal(got, part) {
		t.Fatal("completed object differs from its part")
	}
}

func TestServer_MultipartAbortAndList(t *testing.T) {
	endpoint, _ := start(t, t.TempDir())
	c := sdkClient(endpoint)
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("mpu-test")}); err != nil {
		t.Fatal(err)
	}
	var ids []*string
	for _, k := range []string{"b", "a", "c/d"} {
		out, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("mpu-test"), Key: aws.String(k)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, out.UploadId)
		if _, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mpu-test"), Key: aws.String(k), UploadId: out.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
	}
	ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("mpu-test")})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, u := range ups.Uploads {
		keys = append(keys, aws.ToString(u.Key))
	}
	if !slices.Equal(keys, []string{"a", "b", "c/d"}) {
		t.Fatalf("uploads %q", keys)
	}
	parts, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("mpu-test"), Key: aws.String("b"), UploadId: ids[0]})
	if err != nil || len(parts.Parts) != 1 || aws.ToInt64(parts.Parts[0].Size) != 1 {
		t.Fatalf("ListParts: %+v %v", parts, err)
	}
	for i, k := range []string{"b", "a", "c/d"} {
		if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("mpu-test"), Key: aws.String(k), UploadId: ids[i]}); err != nil {
			t.Fatal(err)
		}
	}
	ups, err = c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("mpu-test")})
	if err != nil || len(ups.Uploads) != 0 {
		t.Fatalf("uploads after abort: %+v %v", ups.Uploads, err)
	}
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mpu-test"), Key: aws.String("a"), UploadId: ids[1], PartNumber: aws.Int32(2), Body: strings.NewReader("x")})
	// UploadPart does not model NoSuchUpload, so it arrives as a generic
	// API error.
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "NoSuchUpload" {
		t.Fatalf("UploadPart after abort = %v, want NoSuchUpload", err)
	}
	objs, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("mpu-test")})
	if err != nil || len(objs.Contents) != 0 {
		t.Fatalf("objects after abort: %v %v", objs.Contents, err)
	}
}

func TestServer_ListPaging(t *testing.T) {
	endpoint, _ := start(t, t.TempDir())
	c := sdkClient(endpoint)
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("paging")}); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 25 {
		k := fmt.Sprintf("p/%02d/x", i)
		want = append(want, k)
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("paging"), Key: aws.String(k), Body: strings.NewReader("v")}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String("paging"), MaxKeys: aws.Int32(7)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			got = append(got, aws.ToString(o.Key))
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged keys %q", got)
	}
	var prefixes []string
	p = s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String("paging"), Prefix: aws.String("p/"), Delimiter: aws.String("/"), MaxKeys: aws.Int32(4)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, cp := range page.CommonPrefixes {
			prefixes = append(prefixes, aws.ToString(cp.Prefix))
		}
	}
	if len(prefixes) != 25 || prefixes[0] != "p/00/" || prefixes[24] != "p/24/" {
		t.Fatalf("paged common prefixes %q", prefixes)
	}
}

// awsCLI runs the AWS CLI against endpoint. It skips when the binary is
// missing, unless CI=true.
func awsCLI(t *testing.T, endpoint string, args ...string) string {
	if strings.HasPrefix(endpoint, "https:") {
		args = append(args, "--no-verify-ssl")
	}
	t.Helper()
	bin, err := exec.LookPath("aws")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("aws CLI not found")
		}
		t.Skip("aws CLI not found")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--endpoint-url", endpoint}, args...)...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(),
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE="+filepath.Join(home, "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "credentials"),
		"AWS_PAGER=",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestServer_AWSCLI(t *testing.T) {
	if _, err := exec.LookPath("aws"); err != nil && os.Getenv("CI") != "true" {
		t.Skip("aws CLI not found")
	}
	for _, tls := range []bool{false, true} {
		t.Run(map[bool]string{false: "HTTP", true: "HTTPS"}[tls], func(t *testing.T) {
			hs, rec := startServer(t, t.TempDir(), tls)
			testAWSCLI(t, hs, rec, !tls)
			if tls && !rec.sawChunked() {
				t.Logf("the CLI sent no aws-chunked body over HTTPS: %s", rec)
			}
		})
	}
}

// testAWSCLI uploads with the CLI and checks what was stored; full adds
// listing and downloading with the CLI (each CLI call costs seconds).
func testAWSCLI(t *testing.T, hs *httptest.Server, rec *recorder, full bool) {
	endpoint := hs.URL
	dir := t.TempDir()
	small := filepath.Join(dir, "small.txt")
	big := filepath.Join(dir, "big.bin")
	if err := os.WriteFile(small, []byte("hello from the cli\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bigBody := randomBytes(t, 21<<20+5) // above the CLI's 8 MiB multipart threshold
	if err := os.WriteFile(big, bigBody, 0o644); err != nil {
		t.Fatal(err)
	}

	awsCLI(t, endpoint, "s3", "mb", "s3://cli")
	awsCLI(t, endpoint, "s3", "cp", small, "s3://cli/dir/small.txt")
	awsCLI(t, endpoint, "s3", "cp", big, "s3://cli/dir/sub/big.bin")

	c := sdkClientFor(endpoint, hs.Client())
	if got := getAll(t, c, "cli", "dir/sub/big.bin"); sha256.Sum256(got) != sha256.Sum256(bigBody) {
		t.Fatalf("stored %d bytes differ from the %d uploaded", len(got), len(bigBody))
	}
	if got := getAll(t, c, "cli", "dir/small.txt"); string(got) != "hello from the cli\n" {
		t.Fatalf("stored %q", got)
	}
	if !full {
		return
	}
	out := awsCLI(t, endpoint, "s3", "ls", "s3://cli", "--recursive")
	for _, want := range []string{"dir/small.txt", "dir/sub/big.bin", fmt.Sprint(len(bigBody))} {
		if !strings.Contains(out, want) {
			t.Fatalf("ls output lacks %q:\n%s", want, out)
		}
	}
	if out := awsCLI(t, endpoint, "s3", "ls"); !strings.Contains(out, "cli") {
		t.Fatalf("bucket list lacks cli:\n%s", out)
	}
	back := filepath.Join(dir, "back.bin")
	awsCLI(t, endpoint, "s3", "cp", "s3://cli/dir/sub/big.bin", back)
	if got, err := os.ReadFile(back); err != nil || !bytes.Equal(got, bigBody) {
		t.Fatalf("downloaded copy differs (%v)", err)
	}
	if out := awsCLI(t, endpoint, "s3api", "list-multipart-uploads", "--bucket", "cli"); strings.Contains(out, "UploadId") {
		t.Fatalf("uploads left:\n%s", out)
	}
	t.Logf("PUT encodings seen: %s (aws-chunked: %v)", rec, rec.sawChunked())
}

// TestServer_LargeUploadMemory uploads 200 MB with a single streamed PUT
// and with the AWS CLI (multipart), sampling this process's heap (the
// server's; the CLI is another process). Run with S3SERVER_LARGE=1.
func TestServer_LargeUploadMemory(t *testing.T) {
	if os.Getenv("S3SERVER_LARGE") == "" {
		t.Skip("set S3SERVER_LARGE=1 to upload 200 MB")
	}
	const size = 200 << 20
	endpoint, _ := start(t, t.TempDir())
	c := sdkClient(endpoint)
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("large")}); err != nil {
		t.Fatal(err)
	}

	measure := func(name string, f func()) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapInuse
		var peak uint64
		done := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
				select {
				case <-done:
					return
				case <-tick.C:
				}
			}
		})
		start := time.Now()
		f()
		close(done)
		wg.Wait()
		t.Logf("%s: 200 MB in %v, heap in use %d MiB before, peak %d MiB (+%d MiB)",
			name, time.Since(start).Round(time.Millisecond), base>>20, peak>>20, (peak-base)>>20)
	}

	measure("single PUT", func() {
		// A raw streamed PUT, so the client side holds nothing either.
		req := signedRequest(t, keyA, http.MethodPut, endpoint+"/large/single", io.LimitReader(zeroReader{}, size), "UNSIGNED-PAYLOAD", nil)
		req.ContentLength = size
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})

	if _, err := exec.LookPath("aws"); err == nil {
		file := filepath.Join(t.TempDir(), "large.bin")
		f, err := os.Create(file)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(f, io.LimitReader(zeroReader{}, size)); err != nil {
			t.Fatal(err)
		}
		f.Close()
		measure("aws s3 cp (multipart)", func() {
			awsCLI(t, endpoint, "s3", "cp", file, "s3://large/cli")
		})
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("large"), Key: aws.String("single")})
	if err != nil || aws.ToInt64(head.ContentLength) != size {
		t.Fatalf("head: %v %v", head, err)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
