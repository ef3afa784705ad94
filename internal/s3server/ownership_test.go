package s3server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/s3server"
)

// apiError returns the S3 error code and HTTP status of err.
func apiError(err error) (string, int) {
	var ae smithy.APIError
	code := ""
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	var re interface{ HTTPStatusCode() int }
	status := 0
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return code, status
}

// TestServer_Ownership: a bucket is its creator's account's. Every
// operation of another account on it, or on anything in it, is refused
// with AccessDenied and changes nothing; ListBuckets lists one's own.
func TestServer_Ownership(t *testing.T) {
	dir := t.TempDir()
	hs, _ := startServer(t, dir, false)
	a, b := sdkClientAs(hs.URL, nil, keyA), sdkClientAs(hs.URL, nil, keyB)
	ctx := context.Background()
	for _, bk := range []string{"a-bucket", "a-other"} {
		if _, err := a.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bk)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("b-bucket")}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("a-bucket"), Key: aws.String("secret.parquet"), Body: strings.NewReader("A's data")}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("b-bucket"), Key: aws.String("mine"), Body: strings.NewReader("B's data")}); err != nil {
		t.Fatal(err)
	}
	mpu, err := a.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("a-bucket"), Key: aws.String("big")})
	if err != nil {
		t.Fatal(err)
	}
	part, err := a.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("a-bucket"), Key: aws.String("big"), UploadId: mpu.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("part one")})
	if err != nil {
		t.Fatal(err)
	}
	bucket, key := aws.String("a-bucket"), aws.String("secret.parquet")

	denied := map[string]func() error{
		"ListObjects": func() error { _, err := b.ListObjects(ctx, &s3.ListObjectsInput{Bucket: bucket}); return err },
		"ListObjectsV2": func() error {
			_, err := b.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: bucket})
			return err
		},
		"GetObject": func() error { _, err := b.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: key}); return err },
		"GetMissingObject": func() error {
			_, err := b.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: aws.String("nothing")})
			return err
		},
		"HeadObject": func() error { _, err := b.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bucket, Key: key}); return err },
		"HeadBucket": func() error { _, err := b.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: bucket}); return err },
		"GetLocation": func() error {
			_, err := b.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: bucket})
			return err
		},
		"DeleteBucket": func() error {
			_, err := b.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("a-other")})
			return err
		},
		"PutObject": func() error {
			_, err := b.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: key, Body: strings.NewReader("overwritten")})
			return err
		},
		"PutNewObject": func() error {
			_, err := b.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String("planted"), Body: strings.NewReader("x")})
			return err
		},
		"DeleteObject": func() error {
			_, err := b.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bucket, Key: key})
			return err
		},
		"DeleteObjects": func() error {
			_, err := b.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: bucket, Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: key}}}})
			return err
		},
		"CopyFromForeign": func() error {
			_, err := b.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("b-bucket"), Key: aws.String("stolen"), CopySource: aws.String("a-bucket/secret.parquet")})
			return err
		},
		"CopyIntoForeign": func() error {
			_, err := b.CopyObject(ctx, &s3.CopyObjectInput{Bucket: bucket, Key: key, CopySource: aws.String("b-bucket/mine")})
			return err
		},
		"CreateMultipartUpload": func() error {
			_, err := b.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bucket, Key: aws.String("planted")})
			return err
		},
		"UploadPart": func() error {
			_, err := b.UploadPart(ctx, &s3.UploadPartInput{Bucket: bucket, Key: aws.String("big"), UploadId: mpu.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("evil")})
			return err
		},
		"ListParts": func() error {
			_, err := b.ListParts(ctx, &s3.ListPartsInput{Bucket: bucket, Key: aws.String("big"), UploadId: mpu.UploadId})
			return err
		},
		"ListMultipartUploads": func() error {
			_, err := b.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: bucket})
			return err
		},
		"CompleteMultipartUpload": func() error {
			_, err := b.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: bucket, Key: aws.String("big"), UploadId: mpu.UploadId,
				MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: part.ETag}}}})
			return err
		},
		"AbortMultipartUpload": func() error {
			_, err := b.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: bucket, Key: aws.String("big"), UploadId: mpu.UploadId})
			return err
		},
	}
	for name, op := range denied {
		t.Run(name, func(t *testing.T) {
			code, status := apiError(op())
			// HEAD answers have no body: the SDK knows only the status.
			if status != http.StatusForbidden || code != "AccessDenied" && !strings.HasPrefix(name, "Head") {
				t.Fatalf("got %s (%d), want AccessDenied (403)", code, status)
			}
		})
	}

	t.Run("NothingChanged", func(t *testing.T) {
		if got := getAll(t, a, "a-bucket", "secret.parquet"); string(got) != "A's data" {
			t.Errorf("A's object is now %q", got)
		}
		objs, err := a.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: bucket})
		if err != nil || len(objs.Contents) != 1 {
			t.Errorf("A's bucket holds %+v (%v), want only secret.parquet", objs, err)
		}
		if _, err := a.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("a-other")}); err != nil {
			t.Errorf("A's empty bucket: %v", err)
		}
		ups, err := a.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: bucket})
		if err != nil || len(ups.Uploads) != 1 {
			t.Fatalf("A's uploads: %+v %v", ups, err)
		}
		parts, err := a.ListParts(ctx, &s3.ListPartsInput{Bucket: bucket, Key: aws.String("big"), UploadId: mpu.UploadId})
		if err != nil || len(parts.Parts) != 1 || aws.ToString(parts.Parts[0].ETag) != aws.ToString(part.ETag) {
			t.Fatalf("A's parts: %+v %v", parts, err)
		}
		if _, err := b.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("b-bucket"), Key: aws.String("stolen")}); err == nil {
			t.Error("B copied A's object")
		}
	})

	t.Run("ListBuckets", func(t *testing.T) {
		for _, c := range []struct {
			client *s3.Client
			want   []string
		}{{a, []string{"a-bucket", "a-other"}}, {b, []string{"b-bucket"}}} {
			out, err := c.client.ListBuckets(ctx, &s3.ListBucketsInput{})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, bk := range out.Buckets {
				names = append(names, aws.ToString(bk.Name))
			}
			if !slices.Equal(names, c.want) {
				t.Errorf("ListBuckets = %q, want %q", names, c.want)
			}
		}
	})

	t.Run("CreateExisting", func(t *testing.T) {
		_, err := a.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket})
		var owned *types.BucketAlreadyOwnedByYou
		if _, status := apiError(err); !errors.As(err, &owned) || status != http.StatusConflict {
			t.Errorf("owner re-creating: %v, want BucketAlreadyOwnedByYou (409)", err)
		}
		_, err = b.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket})
		var exists *types.BucketAlreadyExists
		if _, status := apiError(err); !errors.As(err, &exists) || status != http.StatusConflict {
			t.Errorf("another account creating: %v, want BucketAlreadyExists (409)", err)
		}
	})

	// The owner is recorded with the bucket: a restarted server (whose own
	// account is now B's, which must not matter) still knows.
	t.Run("Restart", func(t *testing.T) {
		hs.Close()
		hs2, _ := startServer(t, dir, false, s3server.Params{AccountID: accountB})
		b2 := sdkClientAs(hs2.URL, nil, keyB)
		if _, err := b2.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: key}); !isAccessDenied(err) {
			t.Errorf("B after a restart: %v, want AccessDenied", err)
		}
		if got := getAll(t, sdkClientAs(hs2.URL, nil, keyA), "a-bucket", "secret.parquet"); string(got) != "A's data" {
			t.Errorf("A after a restart reads %q", got)
		}
	})
}

func isAccessDenied(err error) bool {
	code, status := apiError(err)
	return code == "AccessDenied" && status == http.StatusForbidden
}

// TestServer_OwnerOfOlderBuckets: a bucket stored before owners were
// recorded becomes the server's account's, durably.
func TestServer_OwnerOfOlderBuckets(t *testing.T) {
	dir := t.TempDir()
	bdir := filepath.Join(dir, "buckets", "legacy")
	if err := os.MkdirAll(bdir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bdir, "bucket.json"), []byte(`{"created":"2024-01-02T03:04:05Z"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	hs, _ := startServer(t, dir, false) // account A
	if _, err := sdkClientAs(hs.URL, nil, keyB).ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("legacy")}); !isAccessDenied(err) {
		t.Errorf("B listing the server's older bucket: %v, want AccessDenied", err)
	}
	if _, err := sdkClientAs(hs.URL, nil, keyA).ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("legacy")}); err != nil {
		t.Errorf("A listing its older bucket: %v", err)
	}
	var info struct{ Owner string }
	p, err := os.ReadFile(filepath.Join(bdir, "bucket.json"))
	if err != nil || json.Unmarshal(p, &info) != nil || info.Owner != accountA {
		t.Errorf("bucket.json after opening: %s (%v), want owner %s recorded", p, err, accountA)
	}
}

// TestObjects_Ownership: the in-process store acts for the caller in its
// context (the engine puts the task's account there), else for the server's
// account, and is held to bucket ownership like the S3 API.
func TestObjects_Ownership(t *testing.T) {
	srv, err := s3server.New(t.TempDir(), s3server.Params{AccountID: accountA})
	if err != nil {
		t.Fatal(err)
	}
	o := srv.Objects()
	ctx := context.Background()
	asB := export.WithCaller(ctx, export.Caller{AccountID: accountB})
	if err := o.CreateBucket(ctx, "server-bucket"); err != nil {
		t.Fatal(err)
	}
	if err := o.CreateBucket(asB, "b-bucket"); err != nil {
		t.Fatal(err)
	}
	var oe *engine.ObjectStoreError
	if err := o.Put(asB, "server-bucket", "k", strings.NewReader("x")); !errors.As(err, &oe) || oe.Code != "AccessDenied" {
		t.Errorf("B's Put into the server's bucket: %v, want AccessDenied", err)
	}
	if _, err := o.List(asB, "server-bucket", ""); !errors.As(err, &oe) || oe.Code != "AccessDenied" {
		t.Errorf("B's List of the server's bucket: %v, want AccessDenied", err)
	}
	if err := o.Put(ctx, "b-bucket", "k", strings.NewReader("x")); !errors.As(err, &oe) || oe.Code != "AccessDenied" {
		t.Errorf("the server's Put into B's bucket: %v, want AccessDenied", err)
	}
	if err := o.Put(asB, "b-bucket", "k", bytes.NewReader([]byte("x"))); err != nil {
		t.Errorf("B's Put into its bucket: %v", err)
	}
	for _, c := range []struct {
		account, bucket  string
		exists, writable bool
	}{
		{accountA, "server-bucket", true, true},
		{accountB, "server-bucket", true, false},
		{accountA, "b-bucket", true, false},
		{accountB, "missing", false, false},
	} {
		exists, writable, err := o.BucketAccess(ctx, c.account, c.bucket)
		if err != nil || exists != c.exists || writable != c.writable {
			t.Errorf("BucketAccess(%s, %s) = %v, %v, %v; want %v, %v", c.account, c.bucket, exists, writable, err, c.exists, c.writable)
		}
	}
	if err := o.CreateBucket(asB, "server-bucket"); err == nil || !strings.Contains(err.Error(), "BucketAlreadyExists") {
		t.Errorf("B creating the server's bucket: %v, want BucketAlreadyExists", err)
	}
}

// TestServer_NoCaller: a request that reached the server without a
// verified caller is refused, in S3's format.
func TestServer_NoCaller(t *testing.T) {
	srv, err := s3server.New(t.TempDir(), s3server.Params{AccountID: accountA})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Objects().CreateBucket(context.Background(), "bkt"); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"/", "/bkt", "/bkt/k"} {
		req, _ := http.NewRequest(http.MethodGet, "http://s3.test"+target, nil)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		resp := rec.Result()
		resp.Request = req
		wantError(t, resp, rec.Body.Bytes(), http.StatusForbidden, "AccessDenied")
		if !strings.Contains(rec.Body.String(), "Signature Version 4") {
			t.Errorf("%s: message does not name SigV4: %s", target, rec.Body.String())
		}
	}
}
