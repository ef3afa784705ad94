package engine

import (
	"errors"
	"fmt"
	"testing"

	"github.com/rdsexport/rdsexport/internal/export"
)

func TestFailureCause(t *testing.T) {
	task := &export.Task{S3Bucket: "b1", SourceArn: "arn:aws:rds:us-east-1:000000000000:cluster:pg"}
	put := func(code string) error {
		return fmt.Errorf("write parquet rows: upload ended: %w", &ObjectStoreError{Bucket: "b1", Code: code, Err: errors.New("put s3://b1/k: boom")})
	}
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"unreachable", put(""), "An unknown internal error occurred writing the exported data to the S3 bucket b1."},
		{"5xx", put("InternalError"), "An unknown internal error occurred writing the exported data to the S3 bucket b1. Error code: InternalError"},
		{"disk full", put("InsufficientStorage"), "An unknown internal error occurred writing the exported data to the S3 bucket b1. Error code: InsufficientStorage"},
		{"hostile code", put("Slow<Down>\nsecret=x"), "An unknown internal error occurred writing the exported data to the S3 bucket b1."},
		{"manifest", &manifestError{put("InsufficientStorage")}, "An unknown internal error occurred writing the export task's metadata to the S3 bucket b1."},
		{"no bucket", put("NoSuchBucket"), fmt.Sprintf(causeBucket, "b1")},
		{"denied", put("AccessDenied"), causeS3Check},
		{"read", fmt.Errorf("export table x: %w", &readError{err: errors.New("read x: FATAL:\n  terminating")}),
			"The export could not read the source arn:aws:rds:us-east-1:000000000000:cluster:pg: read x: FATAL: terminating"},
		{"other", errors.New("boom"), causeUnknown},
	} {
		if got := failureCause(task, c.err); got != c.want {
			t.Errorf("%s: failureCause = %q, want %q", c.name, got, c.want)
		}
	}
}
