package s3server_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/s3server"
)

// startBucket serves a new store with bucket "bkt" of account A.
func startBucket(t *testing.T) (endpoint, dir string, c *s3.Client) {
	t.Helper()
	dir = t.TempDir()
	hs, _ := startServer(t, dir, false)
	c = sdkClient(hs.URL)
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("bkt")}); err != nil {
		t.Fatal(err)
	}
	return hs.URL, dir, c
}

// wantAbsent fails when key exists, or when a body was left in tmp/.
func wantAbsent(t *testing.T, c *s3.Client, dir, key string) {
	t.Helper()
	if _, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key)}); err == nil {
		t.Errorf("%s was stored", key)
	}
	if left, err := os.ReadDir(filepath.Join(dir, "tmp")); err != nil || len(left) > 0 {
		t.Errorf("tmp/ holds %v (%v)", left, err)
	}
}

// TestServer_ContentSHA256: a body that does not match the signed
// x-amz-content-sha256 is refused with XAmzContentSHA256Mismatch and
// nothing is stored or changed.
func TestServer_ContentSHA256(t *testing.T) {
	endpoint, dir, c := startBucket(t)
	ctx := context.Background()
	body := []byte("the content that was signed")
	other := sha256Hex([]byte("some other content"))

	t.Run("OK", func(t *testing.T) {
		resp, msg := do(t, signedRequest(t, keyA, http.MethodPut, endpoint+"/bkt/ok", bytes.NewReader(body), sha256Hex(body), nil))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, msg)
		}
	})
	t.Run("PutObject", func(t *testing.T) {
		resp, msg := do(t, signedRequest(t, keyA, http.MethodPut, endpoint+"/bkt/put", bytes.NewReader(body), other, nil))
		wantError(t, resp, msg, http.StatusBadRequest, "XAmzContentSHA256Mismatch")
		wantAbsent(t, c, dir, "put")
	})
	t.Run("Overwrite", func(t *testing.T) {
		resp, msg := do(t, signedRequest(t, keyA, http.MethodPut, endpoint+"/bkt/ok", strings.NewReader("tampered"), sha256Hex(body), nil))
		wantError(t, resp, msg, http.StatusBadRequest, "XAmzContentSHA256Mismatch")
		if got := getAll(t, c, "bkt", "ok"); !bytes.Equal(got, body) {
			t.Errorf("object is now %q", got)
		}
	})
	t.Run("UploadPart", func(t *testing.T) {
		mpu, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("mpu")})
		if err != nil {
			t.Fatal(err)
		}
		url := fmt.Sprintf("%s/bkt/mpu?partNumber=1&uploadId=%s", endpoint, aws.ToString(mpu.UploadId))
		resp, msg := do(t, signedRequest(t, keyA, http.MethodPut, url, bytes.NewReader(body), other, nil))
		wantError(t, resp, msg, http.StatusBadRequest, "XAmzContentSHA256Mismatch")
		parts, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("bkt"), Key: aws.String("mpu"), UploadId: mpu.UploadId})
		if err != nil || len(parts.Parts) != 0 {
			t.Errorf("parts after a mismatch: %+v %v", parts, err)
		}
	})
	t.Run("DeleteObjects", func(t *testing.T) {
		doc := []byte(`<Delete><Object><Key>ok</Key></Object></Delete>`)
		sum := md5.Sum(doc)
		resp, msg := do(t, signedRequest(t, keyA, http.MethodPost, endpoint+"/bkt?delete", bytes.NewReader(doc), other,
			http.Header{"Content-Md5": {base64.StdEncoding.EncodeToString(sum[:])}}))
		wantError(t, resp, msg, http.StatusBadRequest, "XAmzContentSHA256Mismatch")
		if got := getAll(t, c, "bkt", "ok"); !bytes.Equal(got, body) {
			t.Errorf("object after a refused delete: %q", got)
		}
	})
	t.Run("EmptyBodyClaimed", func(t *testing.T) {
		// A GET signs the hash of no body; a body sent anyway is refused.
		resp, msg := do(t, signedRequest(t, keyA, http.MethodGet, endpoint+"/bkt/ok", strings.NewReader("smuggled"), sha256Hex(nil), nil))
		wantError(t, resp, msg, http.StatusBadRequest, "XAmzContentSHA256Mismatch")
	})
	t.Run("MissingHeader", func(t *testing.T) {
		// Signed as a payload of no bytes, without saying so in
		// x-amz-content-sha256: the body is covered by nothing.
		req, _ := http.NewRequest(http.MethodPut, endpoint+"/bkt/nohash", bytes.NewReader(body))
		if err := v4.NewSigner().SignHTTP(ctx, keyA, req, sha256Hex(nil), "s3", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, msg := do(t, req)
		wantError(t, resp, msg, http.StatusBadRequest, "InvalidRequest")
		wantAbsent(t, c, dir, "nohash")
	})
}

// TestServer_ChunkSignatures: every chunk signature of a signed aws-chunked
// body, and the trailer's, is checked; a body that fails is not stored.
func TestServer_ChunkSignatures(t *testing.T) {
	endpoint, dir, c := startBucket(t)
	content := bytes.Repeat([]byte("0123456789abcdef"), 2000) // 32000 bytes
	chunks := [][]byte{content[:10000], content[10000:20000], content[20000:]}
	crc := crc32.ChecksumIEEE(content)
	good := base64.StdEncoding.EncodeToString([]byte{byte(crc >> 24), byte(crc >> 16), byte(crc >> 8), byte(crc)})
	signed := chunkedUpload{key: keyA, at: time.Now(), chunks: chunks, sha: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"}
	trailer := signed
	trailer.sha, trailer.trailer, trailer.trailerH = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", "x-amz-checksum-crc32:"+good, "x-amz-checksum-crc32"

	for name, u := range map[string]chunkedUpload{"Signed": signed, "SignedTrailer": trailer} {
		t.Run(name, func(t *testing.T) {
			resp, msg := do(t, u.request(t, endpoint+"/bkt/"+name))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, msg)
			}
			if got := getAll(t, c, "bkt", name); !bytes.Equal(got, content) {
				t.Fatalf("stored %d bytes, want the %d sent", len(got), len(content))
			}
		})
	}

	with := func(u chunkedUpload, f func(*chunkedUpload)) chunkedUpload { f(&u); return u }
	for name, tc := range map[string]struct {
		u      chunkedUpload
		status int
		code   string
	}{
		"WrongChunkSignature":   {with(signed, func(u *chunkedUpload) { u.corruptChunk, u.corruptSig = 2, strings.Repeat("ab", 32) }), 403, "SignatureDoesNotMatch"},
		"ZeroChunkSignature":    {with(signed, func(u *chunkedUpload) { u.corruptChunk, u.corruptSig = 1, strings.Repeat("0", 64) }), 403, "SignatureDoesNotMatch"},
		"MissingSignature":      {with(signed, func(u *chunkedUpload) { u.corruptChunk = 3 }), 403, "SignatureDoesNotMatch"},
		"WrongFinalSignature":   {with(signed, func(u *chunkedUpload) { u.corruptChunk, u.corruptSig = 4, strings.Repeat("1", 64) }), 403, "SignatureDoesNotMatch"},
		"DataChangedInTransit":  {with(signed, func(u *chunkedUpload) { u.swapFirstBytes = true }), 403, "SignatureDoesNotMatch"},
		"WrongTrailerSignature": {with(trailer, func(u *chunkedUpload) { u.badTrailerSig = true }), 403, "SignatureDoesNotMatch"},
		"NoTrailerSignature":    {with(trailer, func(u *chunkedUpload) { u.noTrailerSig = true }), 403, "SignatureDoesNotMatch"},
		"WrongTrailerChecksum":  {with(trailer, func(u *chunkedUpload) { u.trailer = "x-amz-checksum-crc32:AAAAAA==" }), 400, "BadDigest"},
		"DeclaredTrailerMissing": {with(trailer, func(u *chunkedUpload) {
			u.sha, u.trailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER", ""
		}), 400, "MalformedTrailerError"},
		"UnknownStreamingValue": {with(signed, func(u *chunkedUpload) { u.sha = "STREAMING-ANYTHING" }), 400, "InvalidArgument"},
		"ECDSAChunks":           {with(signed, func(u *chunkedUpload) { u.sha = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD" }), 400, "InvalidArgument"},
	} {
		t.Run(name, func(t *testing.T) {
			resp, msg := do(t, tc.u.request(t, endpoint+"/bkt/"+name))
			wantError(t, resp, msg, tc.status, tc.code)
			wantAbsent(t, c, dir, name)
		})
	}

	// Without a ChunkSigner from the SigV4 layer, signed chunks cannot be
	// checked: refused, not stored unchecked.
	t.Run("NoChunkSigner", func(t *testing.T) {
		srv, err := s3server.New(t.TempDir(), s3server.Params{AccountID: accountA})
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Objects().CreateBucket(context.Background(), "bkt"); err != nil {
			t.Fatal(err)
		}
		callerOnly := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			srv.ServeHTTP(w, r.WithContext(export.WithCaller(r.Context(), export.Caller{AccountID: accountA})))
		})
		hs := httptest.NewServer(callerOnly)
		defer hs.Close()
		resp, msg := do(t, signed.request(t, hs.URL+"/bkt/x"))
		wantError(t, resp, msg, http.StatusForbidden, "SignatureDoesNotMatch")
	})

	// Unsigned payloads stay accepted, as on S3.
	t.Run("UnsignedPayload", func(t *testing.T) {
		resp, msg := do(t, signedRequest(t, keyA, http.MethodPut, endpoint+"/bkt/unsigned", bytes.NewReader(content), "UNSIGNED-PAYLOAD", nil))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, msg)
		}
		u := with(trailer, func(u *chunkedUpload) { u.sha = "STREAMING-UNSIGNED-PAYLOAD-TRAILER" })
		if resp, msg := do(t, u.request(t, endpoint+"/bkt/unsigned-trailer")); resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, msg)
		}
		if got := getAll(t, c, "bkt", "unsigned-trailer"); !bytes.Equal(got, content) {
			t.Fatalf("stored %d bytes", len(got))
		}
	})
}

// TestServer_MultipartKeyLimit: a multipart upload refuses a key longer
// than 1024 bytes, as PutObject does.
func TestServer_MultipartKeyLimit(t *testing.T) {
	_, _, c := startBucket(t)
	ctx := context.Background()
	long := strings.Repeat("k", 1025)
	_, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String(long)})
	if code, status := apiError(err); code != "KeyTooLongError" || status != http.StatusBadRequest {
		t.Errorf("CreateMultipartUpload with a 1025-byte key: %v, want KeyTooLongError (400)", err)
	}
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String(long), Body: strings.NewReader("x")})
	if code, _ := apiError(err); code != "KeyTooLongError" {
		t.Errorf("PutObject with a 1025-byte key: %v, want KeyTooLongError", err)
	}
	ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("bkt")})
	if err != nil || len(ups.Uploads) != 0 {
		t.Errorf("uploads: %+v %v", ups, err)
	}
	if _, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String(long[:1024])}); err != nil {
		t.Errorf("a 1024-byte key: %v", err)
	}
}

// TestServer_MultipartETag: the ETag of a completed multipart upload is
// S3's, the MD5 of the parts' binary MD5s and the part count, in the
// answer and in every later HEAD, GET and listing.
func TestServer_MultipartETag(t *testing.T) {
	_, _, c := startBucket(t)
	ctx := context.Background()
	parts := [][]byte{randomBytes(t, 5<<20), randomBytes(t, 5<<20), []byte("tail")}
	mpu, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("mpu")})
	if err != nil {
		t.Fatal(err)
	}
	var done []types.CompletedPart
	var md5s []byte
	for i, p := range parts {
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String("mpu"), UploadId: mpu.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
		if err != nil {
			t.Fatal(err)
		}
		sum := md5.Sum(p)
		md5s = append(md5s, sum[:]...)
		done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag})
	}
	all := md5.Sum(md5s)
	want := fmt.Sprintf(`"%s-3"`, hex.EncodeToString(all[:]))
	out, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("mpu"), UploadId: mpu.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.ETag); got != want {
		t.Errorf("CompleteMultipartUpload ETag %s, want %s", got, want)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("mpu")})
	if err != nil || aws.ToString(head.ETag) != want {
		t.Errorf("HeadObject ETag %s (%v), want %s", aws.ToString(head.ETag), err, want)
	}
	get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("mpu")})
	if err != nil {
		t.Fatal(err)
	}
	get.Body.Close()
	if aws.ToString(get.ETag) != want {
		t.Errorf("GetObject ETag %s, want %s", aws.ToString(get.ETag), want)
	}
	list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bkt")})
	if err != nil || len(list.Contents) != 1 || aws.ToString(list.Contents[0].ETag) != want {
		t.Errorf("ListObjectsV2 %+v (%v), want ETag %s", list, err, want)
	}
}

// TestServer_ObjectHeaders: every object, however written, has
// Last-Modified and Content-Type; only the content headers and user
// metadata given at upload come back, never the request's signing headers.
func TestServer_ObjectHeaders(t *testing.T) {
	srv, err := s3server.New(t.TempDir(), s3server.Params{AccountID: accountA})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(authenticate(srv))
	defer hs.Close()
	c := sdkClient(hs.URL)
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bkt")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("sdk.json"), Body: strings.NewReader("{}"),
		ContentType: aws.String("application/json"), Metadata: map[string]string{"origin": "test"}}); err != nil {
		t.Fatal(err)
	}

	// Written in-process, as exports write: no headers were given.
	before := time.Now().Add(-time.Second)
	if err := srv.Objects().Put(ctx, "bkt", "export/part-00000.gz.parquet", strings.NewReader("PAR1")); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"export/part-00000.gz.parquet"} {
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(head.ContentType) != "binary/octet-stream" || head.LastModified == nil || head.LastModified.Before(before) {
			t.Errorf("HeadObject %s: Content-Type %q, Last-Modified %v", key, aws.ToString(head.ContentType), head.LastModified)
		}
		get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		get.Body.Close()
		if aws.ToString(get.ContentType) == "" || get.LastModified == nil {
			t.Errorf("GetObject %s: Content-Type %q, Last-Modified %v", key, aws.ToString(get.ContentType), get.LastModified)
		}
	}

	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("sdk.json")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(head.ContentType) != "application/json" || head.Metadata["origin"] != "test" || head.LastModified == nil {
		t.Errorf("HeadObject: Content-Type %q, metadata %v, Last-Modified %v", aws.ToString(head.ContentType), head.Metadata, head.LastModified)
	}
	req := signedRequest(t, keyA, http.MethodGet, hs.URL+"/bkt/sdk.json", nil, sha256Hex(nil), nil)
	resp, _ := do(t, req)
	for _, h := range []string{"X-Amz-Date", "X-Amz-Content-Sha256", "X-Amz-Decoded-Content-Length", "X-Amz-Checksum-Crc32", "X-Amz-Sdk-Checksum-Algorithm"} {
		if v := resp.Header.Get(h); v != "" {
			t.Errorf("GET answers %s: %s, a header of the upload request", h, v)
		}
	}
}

// TestServer_ErrorsHaveMessages: every S3 error carries a Message and a
// RequestId, and the status S3 gives its code.
func TestServer_ErrorsHaveMessages(t *testing.T) {
	endpoint, _, c := startBucket(t)
	ctx := context.Background()
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), Body: strings.NewReader("v")}); err != nil {
		t.Fatal(err)
	}
	empty := sha256Hex(nil)
	for name, tc := range map[string]struct {
		method, path string
		status       int
		code         string
	}{
		"NoSuchKey":        {http.MethodGet, "/bkt/missing", 404, "NoSuchKey"},
		"NoSuchBucket":     {http.MethodGet, "/nobucket/k", 404, "NoSuchBucket"},
		"NoSuchUpload":     {http.MethodGet, "/bkt/k?uploadId=nope", 404, "NoSuchUpload"},
		"BucketNotEmpty":   {http.MethodDelete, "/bkt", 409, "BucketNotEmpty"},
		"InvalidRange":     {http.MethodGet, "/bkt/k", 416, "InvalidRange"},
		"NotImplemented":   {http.MethodPut, "/bkt/k?tagging", 501, "NotImplemented"},
		"BrowserUpload":    {http.MethodPost, "/bkt", 501, "NotImplemented"},
		"InvalidBucketNam": {http.MethodPut, "/B_", 400, "InvalidBucketName"},
	} {
		t.Run(name, func(t *testing.T) {
			req := signedRequest(t, keyA, tc.method, endpoint+tc.path, nil, empty, nil)
			if name == "InvalidRange" {
				req = signedRequest(t, keyA, tc.method, endpoint+tc.path, nil, empty, http.Header{"Range": {"bytes=10-20"}})
			}
			resp, body := do(t, req)
			wantError(t, resp, body, tc.status, tc.code)
			if ct := resp.Header.Get("Content-Type"); ct != "application/xml" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	// PUT ?tagging must not have replaced the object with the document.
	if got := getAll(t, c, "bkt", "k"); string(got) != "v" {
		t.Errorf("object after PUT ?tagging: %q", got)
	}
}
