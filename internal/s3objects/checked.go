package s3objects

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/rdsexport/rdsexport/internal/engine"
)

var _ engine.CheckedPutter = (*Store)(nil)

// errCheck marks the failure of PutChecked's check, so that it is returned
// as it is and not as an S3 error.
type errCheck struct{ err error }

func (e errCheck) Error() string { return e.err.Error() }
func (e errCheck) Unwrap() error { return e.err }

// PutChecked stores everything read from r as bucket/key with a multipart
// upload, whatever its size, and completes the upload only if check passes
// once every part is stored. A single PutObject cannot be fenced: held up on
// the network, it lands whenever it arrives. A CompleteMultipartUpload held
// up the same way fails once the upload was aborted, which is what a run
// taking the work over does first. Parts go one at a time, so at most one
// part is in memory.
//
// An empty body is checked and then sent with PutObject: a part cannot be
// empty on every server, and no run writes empty objects.
func (s *Store) PutChecked(ctx context.Context, bucket, key string, r io.Reader, check func(context.Context) error) error {
	client, _ := s.init()
	body := &ctxReader{ctx: ctx, r: bufio.NewReaderSize(r, 64<<10)}
	if _, err := body.r.(*bufio.Reader).Peek(1); err == io.EOF {
		if err := check(ctx); err != nil {
			return fmt.Errorf("put s3://%s/%s: %w", bucket, key, err)
		}
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(nil)}); err != nil {
			return putError(ctx, bucket, key, body, err)
		}
		return nil
	}
	out, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return putError(ctx, bucket, key, body, err)
	}
	id := aws.ToString(out.UploadId)
	err = s.completeChecked(ctx, client, bucket, key, id, body, check)
	if err == nil {
		return nil
	}
	if aerr := s.finishAbort(bucket, key, id); aerr != nil {
		err = fmt.Errorf("%w (and: %v)", err, aerr)
	}
	var ce errCheck
	if errors.As(err, &ce) {
		return fmt.Errorf("put s3://%s/%s: %w", bucket, key, err)
	}
	return putError(ctx, bucket, key, body, err)
}

// completeChecked uploads the parts of upload id from body, runs check and
// completes the upload.
func (s *Store) completeChecked(ctx context.Context, client *s3.Client, bucket, key, id string, body io.Reader, check func(context.Context) error) error {
	buf := make([]byte, s.cfg.PartSize)
	var parts []types.CompletedPart
	for n := int32(1); ; n++ {
		size, err := io.ReadFull(body, buf)
		if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
			return err
		}
		last := err != nil
		if size > 0 {
			out, err := client.UploadPart(ctx, &s3.UploadPartInput{
				Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(id),
				PartNumber: aws.Int32(n), Body: bytes.NewReader(buf[:size]), ContentLength: aws.Int64(int64(size)),
			})
			if err != nil {
				return err
			}
			parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(n)})
		}
		if last {
			break
		}
	}
	if err := check(ctx); err != nil {
		return errCheck{err}
	}
	_, err := client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(id),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	return err
}
