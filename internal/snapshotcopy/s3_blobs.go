package snapshotcopy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// S3Client is the part of an S3 object store that S3Blobs needs; the
// s3objects.Store method set satisfies it.
type S3Client interface {
	// Put stores r as bucket/key, leaving no object when it fails.
	Put(ctx context.Context, bucket, key string, r io.Reader) error
	// Get opens bucket/key; the caller closes the body.
	Get(ctx context.Context, bucket, key string) (io.ReadCloser, error)
	// List returns the keys under prefix in lexical order.
	List(ctx context.Context, bucket, prefix string) ([]string, error)
	// DeletePrefix deletes every object under prefix and returns how many.
	DeletePrefix(ctx context.Context, bucket, prefix string) (int, error)
}

// S3Blobs keeps blobs as objects of one bucket under a key prefix.
type S3Blobs struct {
	client S3Client
	bucket string
	prefix string // "" or ending in "/"
}

var _ Blobs = (*S3Blobs)(nil)

// NewS3Blobs returns Blobs stored in bucket under prefix (leading and
// trailing slashes are ignored; "" means the bucket's root). It does no I/O.
func NewS3Blobs(client S3Client, bucket, prefix string) *S3Blobs {
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &S3Blobs{client: client, bucket: bucket, prefix: prefix}
}

// Put uploads r as the object of key. Errors are the client's.
func (s *S3Blobs) Put(ctx context.Context, key string, r io.Reader) error {
	return s.client.Put(ctx, s.bucket, s.prefix+key, r)
}

// Get opens the object of key. When the client fails and a listing shows
// that the key does not exist, the error wraps ErrNotFound (the client's
// own not-found error stays in the chain); other errors are the client's.
func (s *S3Blobs) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	body, err := s.client.Get(ctx, s.bucket, s.prefix+key)
	if err == nil {
		return body, nil
	}
	// The client's not-found sentinel belongs to its package; a listing
	// tells a missing key from other failures without importing it.
	keys, lerr := s.client.List(ctx, s.bucket, s.prefix+key)
	if lerr == nil && !slices.Contains(keys, s.prefix+key) {
		return nil, fmt.Errorf("get %s: %w: %w", key, ErrNotFound, err)
	}
	return nil, err
}

// List returns the keys under prefix, relative to the Blobs' prefix.
// Errors are the client's.
func (s *S3Blobs) List(ctx context.Context, prefix string) ([]string, error) {
	keys, err := s.client.List(ctx, s.bucket, s.prefix+prefix)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		if rel, ok := strings.CutPrefix(k, s.prefix); ok {
			out = append(out, rel)
		}
	}
	return out, nil
}

// DeletePrefix deletes the objects under prefix. An empty prefix is
// refused (it would delete every copy) with an error; other errors are the
// client's.
func (s *S3Blobs) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	if prefix == "" {
		return 0, errors.New("delete blobs: empty prefix")
	}
	return s.client.DeletePrefix(ctx, s.bucket, s.prefix+prefix)
}
