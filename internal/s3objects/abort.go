package s3objects

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

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
