package s3server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"syscall"

	"github.com/johannesboyne/gofakes3"

	"github.com/rdsexport/rdsexport/internal/engine"
)

// Objects is the engine's object store when the engine and this server run
// in one process: the same buckets and objects that the S3 API serves,
// written straight to disk. It skips what the HTTP path costs on every
// byte (the SDK's part buffers, the loopback socket, aws-chunked decoding
// and the parts' concatenation), which on a small machine is CPU taken
// from the export itself. Objects appear atomically, as with PutObject.
type Objects struct {
	b *diskBackend
}

var _ engine.ObjectStore = (*Objects)(nil)

// Objects returns the in-process object store of s.
func (s *Server) Objects() *Objects { return &Objects{b: s.backend} }

// Put implements engine.ObjectStore: r streams into a temporary file
// (never held in memory) that becomes bucket/key once r ends. When ctx ends
// or r fails, no object is created and the error wraps ctx's cause or r's
// error. When the store fails the error wraps an *engine.ObjectStoreError
// with the code the S3 API would give (NoSuchBucket), InsufficientStorage
// for a full disk. A failed Put leaves nothing behind: the temporary file
// is removed.
func (o *Objects) Put(ctx context.Context, bucket, key string, r io.Reader) error {
	if ok, _ := o.b.BucketExists(bucket); !ok {
		return storeError("put", bucket, key, gofakes3.BucketNotFound(bucket))
	}
	body := &ctxReader{ctx: ctx, r: r}
	tmp, n, sum, err := o.b.receive(body, -1)
	switch {
	case err != nil && ctx.Err() != nil:
		return fmt.Errorf("put s3://%s/%s: %w: %w", bucket, key, context.Cause(ctx), err)
	case err != nil && body.err != nil:
		return fmt.Errorf("put s3://%s/%s: %w", bucket, key, body.err)
	case err != nil:
		return storeError("put", bucket, key, err)
	}
	if err := ctx.Err(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("put s3://%s/%s: %w", bucket, key, context.Cause(ctx))
	}
	if err := o.b.commitObject(bucket, key, tmp, n, sum, nil, nil); err != nil {
		return storeError("put", bucket, key, err)
	}
	return nil
}

// List implements engine.ObjectStore.
func (o *Objects) List(_ context.Context, bucket, prefix string) ([]string, error) {
	o.b.mu.RLock()
	defer o.b.mu.RUnlock()
	bk := o.b.buckets[bucket]
	if bk == nil {
		return nil, storeError("list", bucket, prefix, gofakes3.BucketNotFound(bucket))
	}
	var keys []string
	for k := range bk.objects {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys, nil
}

// Delete implements engine.ObjectStore: a missing key is not an error, a
// missing bucket is an *engine.ObjectStoreError with code NoSuchBucket.
func (o *Objects) Delete(_ context.Context, bucket, key string) error {
	if _, err := o.b.DeleteObject(bucket, key); err != nil {
		return storeError("delete", bucket, key, err)
	}
	return nil
}

// BucketExists implements engine.ObjectStore.
func (o *Objects) BucketExists(_ context.Context, bucket string) (bool, error) {
	return o.b.BucketExists(bucket)
}

// codeInsufficientStorage is the S3 error code for a full disk, as
// versitygw and MinIO-like servers send it (HTTP 507); Amazon S3 has none.
const codeInsufficientStorage = "InsufficientStorage"

// storeError gives err the S3 error code a client of the API would see, or
// InsufficientStorage when the disk is full, so that the engine can say
// why a write failed.
func storeError(op, bucket, key string, err error) error {
	code := string(gofakes3.ErrInternal)
	var er gofakes3.Error
	switch {
	case errors.As(err, &er):
		code = string(er.ErrorCode())
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		code = codeInsufficientStorage
	}
	return &engine.ObjectStoreError{Bucket: bucket, Code: code, Err: fmt.Errorf("%s s3://%s/%s: %w", op, bucket, key, err)}
}

// ctxReader stops reading once ctx is done and remembers the first error of
// r other than io.EOF, so that Put can tell a dropped body from a failing
// disk.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
	err error
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return n, err
}
