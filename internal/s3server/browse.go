package s3server

import (
	"context"
	"io"
	"time"

	"github.com/johannesboyne/gofakes3"
)

// Folder is one level of a bucket under a prefix, as a "/"-delimited
// listing shows it.
type Folder struct {
	// Prefixes are the common prefixes directly under the prefix, each
	// ending in "/".
	Prefixes []string
	Objects  []ObjectInfo
	// Truncated is set when more entries follow than were returned.
	Truncated bool
}

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	Key      string
	Size     int64
	Modified time.Time
}

// Buckets returns the names of the buckets of the account Objects acts
// for, sorted.
func (o *Objects) Buckets(ctx context.Context) []string {
	var names []string
	for _, b := range o.s.backend.listBuckets(o.account(ctx)) {
		names = append(names, b.Name)
	}
	return names
}

// ListFolder lists bucket under prefix with delimiter "/", at most limit
// entries (folders and objects together, in key order). Errors wrap an
// *engine.ObjectStoreError: NoSuchBucket, AccessDenied (another account's
// bucket).
func (o *Objects) ListFolder(ctx context.Context, bucket, prefix string, limit int) (Folder, error) {
	p := &gofakes3.Prefix{Prefix: prefix, HasPrefix: prefix != "", Delimiter: "/", HasDelimiter: true}
	l, err := o.s.backend.listBucket(o.account(ctx), bucket, p, gofakes3.ListBucketPage{MaxKeys: int64(limit)})
	if err != nil {
		return Folder{}, storeError("list", bucket, prefix, err)
	}
	f := Folder{Truncated: l.IsTruncated}
	for _, cp := range l.CommonPrefixes {
		f.Prefixes = append(f.Prefixes, cp.Prefix)
	}
	for _, c := range l.Contents {
		f.Objects = append(f.Objects, ObjectInfo{Key: c.Key, Size: c.Size, Modified: c.LastModified.Time})
	}
	return f, nil
}

// Open returns the content of bucket/key and its size; the caller closes
// it. Errors wrap an *engine.ObjectStoreError: NoSuchKey, NoSuchBucket,
// AccessDenied (another account's bucket).
func (o *Objects) Open(ctx context.Context, bucket, key string) (io.ReadCloser, int64, error) {
	obj, err := o.s.backend.getObject(o.account(ctx), bucket, key, nil)
	if err != nil {
		return nil, 0, storeError("get", bucket, key, err)
	}
	return obj.Contents, obj.Size, nil
}
