package s3objects

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/rdsexport/rdsexport/internal/engine"
)

var _ engine.UploadAborter = (*Store)(nil)

// AbortUploads aborts every multipart upload in progress under prefix in
// bucket and returns how many it aborted. The engine calls it for exports
// that a crash interrupted, whose uploads nobody will complete.
func (s *Store) AbortUploads(ctx context.Context, bucket, prefix string) (int, error) {
	client, _ := s.init()
	in := &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket), Prefix: aws.String(prefix)}
	n := 0
	for {
		out, err := client.ListMultipartUploads(ctx, in)
		if err != nil {
			return n, fmt.Errorf("list multipart uploads %s/%s: %w", bucket, prefix, err)
		}
		for _, u := range out.Uploads {
			if _, err := client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
				Bucket: aws.String(bucket), Key: u.Key, UploadId: u.UploadId,
			}); err != nil {
				return n, fmt.Errorf("abort upload of %s: %w", aws.ToString(u.Key), err)
			}
			n++
		}
		if !aws.ToBool(out.IsTruncated) || aws.ToString(out.NextKeyMarker) == "" {
			return n, nil
		}
		in.KeyMarker = out.NextKeyMarker
		in.UploadIdMarker = out.NextUploadIdMarker
	}
}

// Settling after an abort: part uploads that a cancel cut off may still
// finish on the server after AbortMultipartUpload and keep (or bring back)
// the upload; S3's documentation says an upload may need aborting more than
// once. finishAbort looks abortSettle after the abort, then at doubling
// intervals, aborting again whenever the upload is listed, until it has
// been gone abortClean times in a row (at most abortChecks looks).
const (
	abortSettle = 100 * time.Millisecond
	abortClean  = 2
	abortChecks = 6
)

// finishAbort makes sure that the failed multipart upload id of bucket/key
// is gone. It runs on a fresh context bounded by abortTimeout, since ctx of
// the failed Put is what was cancelled.
func (s *Store) finishAbort(bucket, key, id string) error {
	client, _ := s.init()
	ctx, cancel := context.WithTimeout(context.Background(), abortTimeout)
	defer cancel()
	wait, clean := abortSettle, 0
	for range abortChecks {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("abort upload of %s: %w", key, ctx.Err())
		case <-t.C:
		}
		wait *= 2
		_, err := client.ListParts(ctx, &s3.ListPartsInput{
			Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(id), MaxParts: aws.Int32(1),
		})
		if isNoSuchUpload(err) {
			if clean++; clean == abortClean {
				return nil
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("list parts of %s: %w", key, err)
		}
		clean = 0
		if _, err := client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
			Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(id),
		}); err != nil && !isNoSuchUpload(err) {
			return fmt.Errorf("abort upload of %s: %w", key, err)
		}
	}
	return fmt.Errorf("abort upload of %s: not seen gone %d times in a row after %d looks", key, abortClean, abortChecks)
}

func isNoSuchUpload(err error) bool {
	var nsu *types.NoSuchUpload
	return errors.As(err, &nsu) || errorCode(err) == "NoSuchUpload"
}
