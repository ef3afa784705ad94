package engine

import (
	"context"
	"io"
)

// ObjectStore is S3-compatible storage. Implemented by s3objects.
type ObjectStore interface {
	// Put stores everything read from r as bucket/key, streaming it (a
	// multipart upload for large bodies) without holding it in memory.
	// When ctx ends or r fails, Put returns an error, creates no object and
	// aborts any multipart upload it started.
	Put(ctx context.Context, bucket, key string, r io.Reader) error

	// List returns the keys under prefix in lexical order.
	List(ctx context.Context, bucket, prefix string) ([]string, error)

	// Delete removes bucket/key. A key that does not exist is not an
	// error (S3's DeleteObject); a missing bucket or a failing store is.
	Delete(ctx context.Context, bucket, key string) error

	// BucketAccess reports whether bucket exists and whether accountID may
	// write into it. A store that tells owners apart (the embedded S3
	// server) answers writable only for the bucket's owner; one that cannot
	// (an external S3 server, reached with the server's own credentials)
	// answers writable whenever the bucket exists and is reachable. A
	// missing or forbidden bucket is (false, false, nil); err is a failure
	// to find out.
	BucketAccess(ctx context.Context, accountID, bucket string) (exists, writable bool, err error)
}

// UploadAborter is implemented by object stores that can abort multipart
// uploads left open by a process that died mid-export; the engine calls it
// for the tasks it recovers at start-up.
type UploadAborter interface {
	// AbortUploads aborts the uploads in progress under prefix and
	// returns how many it aborted.
	AbortUploads(ctx context.Context, bucket, prefix string) (int, error)
}

// CheckedPutter is implemented by object stores that can make a Put's
// object appear only if check passes at the very end, after the body was
// sent. A cluster node fences every write of its runs with it: an upload
// that a pause or a partition held up cannot land once the work was taken
// over, because its completion is one more request that the check must
// precede, and an upload not yet complete is aborted by the run that took
// over.
type CheckedPutter interface {
	// PutChecked stores r as bucket/key like Put, but the object is created
	// only if check returns nil after the whole body was uploaded; its
	// error is returned otherwise and nothing is created.
	PutChecked(ctx context.Context, bucket, key string, r io.Reader, check func(context.Context) error) error
}
