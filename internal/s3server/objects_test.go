package s3server_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/exporttest"
	"github.com/rdsexport/rdsexport/internal/s3server"
)

// inspected adds what the store suite inspects, read through the S3 API of
// the same server: objects written in-process must be what clients see.
type inspected struct {
	*s3server.Objects
	c *s3.Client
}

func (i inspected) Get(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	out, err := i.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, err
	}
	return out.Body, nil
}

func (i inspected) ListMultipartUploads(ctx context.Context, bucket string) ([]string, error) {
	out, err := i.c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, u := range out.Uploads {
		ids = append(ids, aws.ToString(u.UploadId))
	}
	return ids, nil
}

// startObjects serves a new store over HTTP and returns its in-process
// object store, an SDK client of the same server, and the store's directory.
func startObjects(t *testing.T) (inspected, string) {
	t.Helper()
	dir := t.TempDir()
	srv, err := s3server.New(dir, s3server.Params{AccountID: exporttest.SuiteAccount})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(authenticate(srv))
	t.Cleanup(hs.Close)
	return inspected{srv.Objects(), sdkClientAs(hs.URL, nil, keySuite)}, dir
}

func TestObjects_Suite(t *testing.T) {
	exporttest.ObjectStoreSuite(t, func(t *testing.T) (engine.ObjectStore, string) {
		o, dir := startObjects(t)
		if _, err := o.c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("suite")}); err != nil {
			t.Fatal(err)
		}
		// Failed and cancelled puts leave no body behind either.
		t.Cleanup(func() {
			left, err := os.ReadDir(filepath.Join(dir, "tmp"))
			if err != nil || len(left) > 0 {
				t.Errorf("tmp/ after the test: %v, %v", left, err)
			}
		})
		return o, "suite"
	})
}

func TestObjects_Errors(t *testing.T) {
	o, _ := startObjects(t)
	ctx := context.Background()

	err := o.Put(ctx, "missing", "k", bytes.NewReader([]byte("x")))
	var oe *engine.ObjectStoreError
	if !errors.As(err, &oe) || oe.Code != "NoSuchBucket" || oe.Bucket != "missing" {
		t.Errorf("Put to a missing bucket: %v, want an ObjectStoreError with code NoSuchBucket", err)
	}
	if _, err := o.List(ctx, "missing", ""); !errors.As(err, &oe) || oe.Code != "NoSuchBucket" {
		t.Errorf("List of a missing bucket: %v, want code NoSuchBucket", err)
	}
	if exists, writable, err := o.BucketAccess(ctx, exporttest.SuiteAccount, "missing"); exists || writable || err != nil {
		t.Errorf("BucketAccess(missing) = %v, %v, %v", exists, writable, err)
	}
}

// BenchmarkObjects_Put is the in-process counterpart of s3objects'
// BenchmarkPut (the same body through HTTP to an embedded server).
func BenchmarkObjects_Put(b *testing.B) {
	dir := b.TempDir()
	srv, err := s3server.New(dir, s3server.Params{AccountID: accountA})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	o := srv.Objects()
	if err := o.CreateBucket(ctx, "bench"); err != nil {
		b.Fatal(err)
	}
	body := randomBytes(b, 32<<20)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := o.Put(ctx, "bench", "bench/obj", struct{ io.Reader }{bytes.NewReader(body)}); err != nil {
			b.Fatal(err)
		}
	}
}
