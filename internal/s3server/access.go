package s3server

import (
	"io"

	"github.com/johannesboyne/gofakes3"
)

// accountBackend is the gofakes3 backend of one request: the store as seen
// by the account that signed it. Every method passes the account to
// diskBackend, which refuses another account's bucket with AccessDenied.
// gofakes3 calls BucketExists before most operations, so a foreign bucket
// is refused before any body is read.
type accountBackend struct {
	b       *diskBackend
	account string
}

var (
	_ gofakes3.Backend          = accountBackend{}
	_ gofakes3.MultipartBackend = accountBackend{}
)

// ListBuckets implements gofakes3.Backend: the account's buckets only.
func (a accountBackend) ListBuckets() ([]gofakes3.BucketInfo, error) {
	return a.b.listBuckets(a.account), nil
}

// ListBucket implements gofakes3.Backend.
func (a accountBackend) ListBucket(name string, prefix *gofakes3.Prefix, page gofakes3.ListBucketPage) (*gofakes3.ObjectList, error) {
	return a.b.listBucket(a.account, name, prefix, page)
}

// CreateBucket implements gofakes3.Backend.
func (a accountBackend) CreateBucket(name string) error { return a.b.createBucket(a.account, name) }

// BucketExists implements gofakes3.Backend: false for a missing bucket,
// AccessDenied for another account's.
func (a accountBackend) BucketExists(name string) (bool, error) {
	owner, ok := a.b.bucketOwner(name)
	switch {
	case !ok:
		return false, nil
	case owner != a.account:
		return false, errAccessDenied()
	}
	return true, nil
}

// DeleteBucket implements gofakes3.Backend.
func (a accountBackend) DeleteBucket(name string) error { return a.b.deleteBucket(a.account, name) }

// ForceDeleteBucket implements gofakes3.Backend. MinIO's force delete
// (x-minio-force-delete) is not S3 and is not offered.
func (a accountBackend) ForceDeleteBucket(string) error {
	return gofakes3.ErrorMessage(gofakes3.ErrNotImplemented, "Deleting a bucket that is not empty is not supported: delete its objects first.")
}

// GetObject implements gofakes3.Backend.
func (a accountBackend) GetObject(bucket, key string, rng *gofakes3.ObjectRangeRequest) (*gofakes3.Object, error) {
	return a.b.getObject(a.account, bucket, key, rng)
}

// HeadObject implements gofakes3.Backend.
func (a accountBackend) HeadObject(bucket, key string) (*gofakes3.Object, error) {
	return a.b.headObject(a.account, bucket, key)
}

// DeleteObject implements gofakes3.Backend.
func (a accountBackend) DeleteObject(bucket, key string) (gofakes3.ObjectDeleteResult, error) {
	return gofakes3.ObjectDeleteResult{}, a.b.deleteObject(a.account, bucket, key)
}

// PutObject implements gofakes3.Backend.
func (a accountBackend) PutObject(bucket, key string, meta map[string]string, input io.Reader, size int64, conditions *gofakes3.PutConditions) (gofakes3.PutObjectResult, error) {
	return gofakes3.PutObjectResult{}, a.b.putObject(a.account, bucket, key, meta, input, size, conditions)
}

// DeleteMulti implements gofakes3.Backend.
func (a accountBackend) DeleteMulti(bucket string, keys ...string) (gofakes3.MultiDeleteResult, error) {
	return a.b.deleteMulti(a.account, bucket, keys...)
}

// CopyObject implements gofakes3.Backend by streaming a GetObject into a
// PutObject, so that both buckets must be the account's.
func (a accountBackend) CopyObject(srcBucket, srcKey, dstBucket, dstKey string, meta map[string]string) (gofakes3.CopyObjectResult, error) {
	return gofakes3.CopyObject(a, srcBucket, srcKey, dstBucket, dstKey, meta)
}

// CreateMultipartUpload implements gofakes3.MultipartBackend.
func (a accountBackend) CreateMultipartUpload(bucket, key string, meta map[string]string) (gofakes3.UploadID, error) {
	return a.b.createMultipartUpload(a.account, bucket, key, meta)
}

// UploadPart implements gofakes3.MultipartBackend.
func (a accountBackend) UploadPart(bucket, key string, id gofakes3.UploadID, number int, contentLength int64, input io.Reader) (string, error) {
	return a.b.uploadPart(a.account, bucket, key, id, number, contentLength, input)
}

// ListMultipartUploads implements gofakes3.MultipartBackend.
func (a accountBackend) ListMultipartUploads(bucket string, marker *gofakes3.UploadListMarker, prefix gofakes3.Prefix, limit int64) (*gofakes3.ListMultipartUploadsResult, error) {
	return a.b.listMultipartUploads(a.account, bucket, marker, prefix, limit)
}

// ListParts implements gofakes3.MultipartBackend.
func (a accountBackend) ListParts(bucket, key string, id gofakes3.UploadID, marker int, limit int64) (*gofakes3.ListMultipartUploadPartsResult, error) {
	return a.b.listParts(a.account, bucket, key, id, marker, limit)
}

// AbortMultipartUpload implements gofakes3.MultipartBackend.
func (a accountBackend) AbortMultipartUpload(bucket, key string, id gofakes3.UploadID) error {
	return a.b.abortMultipartUpload(a.account, bucket, key, id)
}

// CompleteMultipartUpload implements gofakes3.MultipartBackend.
func (a accountBackend) CompleteMultipartUpload(bucket, key string, id gofakes3.UploadID, in *gofakes3.CompleteMultipartUploadRequest) (gofakes3.VersionID, string, error) {
	etag, err := a.b.completeMultipartUpload(a.account, bucket, key, id, in)
	return "", etag, err
}
