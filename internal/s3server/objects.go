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
	"github.com/rdsexport/rdsexport/internal/export"
)

// Objects is the engine's object store when the engine and this server run
// in one process: the same buckets and objects that the S3 API serves,
// written straight to disk. It skips what the HTTP path costs on every
// byte (the SDK's part buffers, the loopback socket, aws-chunked decoding
// and the parts' concatenation), which on a small machine is CPU taken
// from the export itself. Objects appear atomically, as with PutObject.
//
// Each call acts for the account of the export.Caller in its context, or
// for the server's account (Params.AccountID) when there is none, and is held
// to the same bucket ownership as the S3 API.
type Objects struct {
	s *Server
}

var _ engine.ObjectStore = (*Objects)(nil)

// Objects returns the in-process object store of s.
func (s *Server) Objects() *Objects { return &Objects{s: s} }

func (o *Objects) account(ctx context.Context) string {
	if c, ok := export.CallerFrom(ctx); ok && c.AccountID != "" {
		return c.AccountID
	}
	return o.s.account
}

// Put implements engine.ObjectStore: r streams into a temporary file
// (never held in memory) that becomes bucket/key once r ends. When ctx ends
// or r fails, no object is created and the error wraps ctx's cause or r's
// error. When the store refuses (a missing bucket or another account's, a
// key S3 refuses, a full disk) the error wraps an *engine.ObjectStoreError
// with the code the S3 API would give: NoSuchBucket, AccessDenied,
// KeyTooLongError, InvalidArgument, InsufficientStorage (a full
// disk), InternalError. A failed Put leaves nothing behind. The bucket's owner is
// checked again when the object is committed, so a bucket re-created by
// another account meanwhile is never written.
func (o *Objects) Put(ctx context.Context, bucket, key string, r io.Reader) error {
	account := o.account(ctx)
	b := o.s.backend
	if err := checkKey(key); err != nil {
		return storeError("put", bucket, key, err)
	}
	if err := b.checkBucket(account, bucket); err != nil {
		return storeError("put", bucket, key, err)
	}
	body := &ctxReader{ctx: ctx, r: r}
	tmp, n, sum, err := b.receive(body, -1)
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
	if err := b.commitObject(account, bucket, key, newObject{tmp: tmp, size: n, md5: sum}, nil); err != nil {
		return storeError("put", bucket, key, err)
	}
	return nil
}

// List implements engine.ObjectStore. Errors wrap an
// *engine.ObjectStoreError: NoSuchBucket, AccessDenied.
func (o *Objects) List(ctx context.Context, bucket, prefix string) ([]string, error) {
	b := o.s.backend
	b.mu.RLock()
	defer b.mu.RUnlock()
	bk, err := b.bucketLocked(o.account(ctx), bucket)
	if err != nil {
		return nil, storeError("list", bucket, prefix, err)
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

// Delete implements engine.ObjectStore: a missing key is not an error; a
// missing bucket or another account's is an *engine.ObjectStoreError with
// code NoSuchBucket or AccessDenied.
func (o *Objects) Delete(ctx context.Context, bucket, key string) error {
	if err := o.s.backend.deleteObject(o.account(ctx), bucket, key); err != nil {
		return storeError("delete", bucket, key, err)
	}
	return nil
}

// BucketAccess implements engine.ObjectStore: whether bucket exists, and
// whether accountID owns it (only the owner may write into a bucket of
// this server). It never fails.
func (o *Objects) BucketAccess(_ context.Context, accountID, bucket string) (exists, writable bool, err error) {
	owner, ok := o.s.backend.bucketOwner(bucket)
	return ok, ok && owner == accountID, nil
}

// CreateBucket creates bucket, owned by the account Objects acts for.
// Errors are S3's: InvalidBucketName, BucketAlreadyOwnedByYou,
// BucketAlreadyExists (another account's), or the failure of the disk.
func (o *Objects) CreateBucket(ctx context.Context, bucket string) error {
	if err := o.s.backend.createBucket(o.account(ctx), bucket); err != nil {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	return nil
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
