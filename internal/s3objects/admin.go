package s3objects

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// This file holds operations outside engine.ObjectStore: tests use them to
// prepare buckets and to check what Put left behind, and the demo uses
// CreateBucket.

// ErrNotFound is wrapped by Get when the bucket or the key does not exist.
var ErrNotFound = errors.New("s3objects: not found")

// CreateBucket creates bucket. It returns nil when the bucket already
// exists and is owned by the caller, and an error wrapping the SDK's error
// otherwise.
func (s *Store) CreateBucket(ctx context.Context, bucket string) error {
	client, _ := s.init()
	_, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	return nil
}

// Get opens bucket/key for reading; the caller closes the body. It returns
// an error wrapping ErrNotFound when the bucket or key is missing.
func (s *Store) Get(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	client, _ := s.init()
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		var nsk *types.NoSuchKey
		if errors.As(err, &nsk) || isNotFoundOrForbidden(err) {
			return nil, fmt.Errorf("get s3://%s/%s: %w: %w", bucket, key, ErrNotFound, err)
		}
		return nil, fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
	}
	return out.Body, nil
}

// ListMultipartUploads returns "key uploadID" for every multipart upload in
// progress in bucket, following pages. Tests use it to prove that a failed
// Put left nothing behind.
func (s *Store) ListMultipartUploads(ctx context.Context, bucket string) ([]string, error) {
	client, _ := s.init()
	in := &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)}
	var uploads []string
	for {
		out, err := client.ListMultipartUploads(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list multipart uploads %s: %w", bucket, err)
		}
		for _, u := range out.Uploads {
			uploads = append(uploads, aws.ToString(u.Key)+" "+aws.ToString(u.UploadId))
		}
		if !aws.ToBool(out.IsTruncated) || aws.ToString(out.NextKeyMarker) == "" {
			return uploads, nil
		}
		in.KeyMarker = out.NextKeyMarker
		in.UploadIdMarker = out.NextUploadIdMarker
	}
}

// DeletePrefix deletes every object under prefix and returns how many it
// deleted. Deleting nothing is not an error. Failures of individual keys
// are reported as one error naming the first failed key.
func (s *Store) DeletePrefix(ctx context.Context, bucket, prefix string) (int, error) {
	client, _ := s.init()
	keys, err := s.List(ctx, bucket, prefix)
	if err != nil {
		return 0, err
	}
	deleted := 0
	// DeleteObjects takes at most 1000 keys, and it needs a Content-MD5 or
	// checksum header, which the SDK computes even under WhenRequired.
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		ids := make([]types.ObjectIdentifier, n)
		for i, k := range keys[:n] {
			ids[i] = types.ObjectIdentifier{Key: aws.String(k)}
		}
		out, err := client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: aws.String(bucket),
			Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return deleted, fmt.Errorf("delete prefix s3://%s/%s: %w", bucket, prefix, err)
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return deleted + n - len(out.Errors), fmt.Errorf("delete s3://%s/%s: %s: %s",
				bucket, aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message))
		}
		deleted += n
		keys = keys[n:]
	}
	return deleted, nil
}
