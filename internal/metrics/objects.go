package metrics

import (
	"context"
	"io"
	"time"

	"github.com/rdsexport/rdsexport/internal/engine"
)

// ObjectStore wraps the engine's object store to time its requests and
// count their failures and the bytes stored.
type ObjectStore struct {
	Inner   engine.ObjectStore
	Metrics *Metrics
}

var (
	_ engine.ObjectStore   = (*ObjectStore)(nil)
	_ engine.UploadAborter = (*ObjectStore)(nil)
	_ engine.CheckedPutter = (*ObjectStore)(nil)
)

func (o *ObjectStore) observe(op string, start time.Time, err error) {
	o.Metrics.s3Duration.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if err != nil {
		o.Metrics.s3Errors.WithLabelValues(op).Inc()
	}
}

// Put implements engine.ObjectStore; the bytes are counted as they are
// sent, so the counter moves while a file is written.
func (o *ObjectStore) Put(ctx context.Context, bucket, key string, r io.Reader) error {
	start := time.Now()
	err := o.Inner.Put(ctx, bucket, key, &countingReader{r: r, c: o.Metrics})
	o.observe("put", start, err)
	return err
}

// PutChecked implements engine.CheckedPutter: Inner's when it has one,
// else check and then Put.
func (o *ObjectStore) PutChecked(ctx context.Context, bucket, key string, r io.Reader, check func(context.Context) error) error {
	cp, ok := o.Inner.(engine.CheckedPutter)
	if !ok {
		if err := check(ctx); err != nil {
			return err
		}
		return o.Put(ctx, bucket, key, r)
	}
	start := time.Now()
	err := cp.PutChecked(ctx, bucket, key, &countingReader{r: r, c: o.Metrics}, check)
	o.observe("put", start, err)
	return err
}

// List implements engine.ObjectStore.
func (o *ObjectStore) List(ctx context.Context, bucket, prefix string) ([]string, error) {
	start := time.Now()
	keys, err := o.Inner.List(ctx, bucket, prefix)
	o.observe("list", start, err)
	return keys, err
}

// Delete implements engine.ObjectStore.
func (o *ObjectStore) Delete(ctx context.Context, bucket, key string) error {
	start := time.Now()
	err := o.Inner.Delete(ctx, bucket, key)
	o.observe("delete", start, err)
	return err
}

// BucketAccess implements engine.ObjectStore.
func (o *ObjectStore) BucketAccess(ctx context.Context, accountID, bucket string) (exists, writable bool, err error) {
	start := time.Now()
	exists, writable, err = o.Inner.BucketAccess(ctx, accountID, bucket)
	o.observe("bucket_access", start, err)
	return exists, writable, err
}

// AbortUploads implements engine.UploadAborter when Inner does; otherwise
// there are no uploads to abort.
func (o *ObjectStore) AbortUploads(ctx context.Context, bucket, prefix string) (int, error) {
	a, ok := o.Inner.(engine.UploadAborter)
	if !ok {
		return 0, nil
	}
	start := time.Now()
	n, err := a.AbortUploads(ctx, bucket, prefix)
	o.observe("abort_uploads", start, err)
	return n, err
}

// countingReader adds what is read through it to the bytes written.
type countingReader struct {
	r io.Reader
	c *Metrics
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.c.s3Bytes.Add(float64(n))
	}
	return n, err
}
