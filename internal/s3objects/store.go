// Package s3objects implements engine.ObjectStore on S3-compatible storage
// with aws-sdk-go-v2: Amazon S3 itself, the embedded s3server, versitygw or
// any other server that speaks the S3 REST API.
//
// It owns the SDK setup (endpoint, addressing style, checksums, retries,
// credentials) and the streaming multipart upload. It must not import other
// adapters; engine is its only project import.
package s3objects

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/export"
)

// Defaults applied by New to zero Params fields.
const (
	// DefaultPartSize is the size of one multipart upload part, and so the
	// unit of buffering: Put holds at most (Concurrency+1) parts in memory.
	DefaultPartSize = 8 << 20

	// MinPartSize is the smallest part S3 accepts (except for the last one).
	MinPartSize = 5 << 20

	// DefaultConcurrency is the number of parts uploaded at once.
	DefaultConcurrency = 2

	// DefaultMaxAttempts bounds the attempts of one request, retries included.
	DefaultMaxAttempts = 3

	// maxBackoff caps the wait before one retry (the SDK's default is
	// 20s). The wait before retry i is a random part of min(2^(i-1)s,
	// maxBackoff), so with DefaultMaxAttempts a request that keeps failing
	// (server down) gives up after at most 1s+2s of waiting plus its
	// attempts; a refused connection fails at once, so an export fails
	// within seconds of an outage rather than minutes. Besides, the SDK's
	// retry quota stops retrying when most recent requests failed.
	maxBackoff = 5 * time.Second

	// DefaultResponseTimeout is how long a request waits for the response
	// headers once it has been sent, when Params.ResponseTimeout is zero.
	// S3 answers a part upload as soon as it has stored it; a server
	// that takes the request and never answers would otherwise hold an
	// export until it is cancelled.
	DefaultResponseTimeout = 2 * time.Minute

	// abortTimeout bounds the clean-up of a failed multipart upload, which
	// runs on a fresh context so that it also happens after ctx is cancelled.
	abortTimeout = 30 * time.Second
)

// Params holds what New needs. Zero fields take the defaults above.
type Params struct {
	// Endpoint is the base URL of an S3-compatible server
	// (http://127.0.0.1:9000). Empty means Amazon S3 for Region.
	Endpoint string

	// Region signs the requests; export.DefaultRegion when empty
	// (S3-compatible servers ignore it but SigV4 needs one).
	Region string

	// AccessKeyID and SecretAccessKey are static credentials. When both are
	// empty, requests are sent anonymously (unsigned).
	AccessKeyID     string
	SecretAccessKey string

	// PartSize is the multipart part size in bytes, at least MinPartSize.
	PartSize int64

	// Concurrency is the number of parts in flight during one Put.
	Concurrency int

	// MaxAttempts bounds the attempts of each request (DefaultMaxAttempts).
	MaxAttempts int

	// ResponseTimeout bounds the wait for the response headers of each
	// request once it is sent (DefaultResponseTimeout); the request then
	// fails and is retried. It applies to the SDK's default client, not
	// to HTTPClient.
	ResponseTimeout time.Duration

	// HTTPClient sends the requests; the SDK's default client when nil.
	HTTPClient *http.Client
}

// Store is an engine.ObjectStore backed by one S3 client. It is safe for
// concurrent use. The SDK client is built lazily on first use.
type Store struct {
	cfg Params

	mu       sync.Mutex
	client   *s3.Client
	transfer *transfermanager.Client
}

var _ engine.ObjectStore = (*Store)(nil)

// ErrInvalidParams is returned by New when Params cannot describe a client.
var ErrInvalidParams = errors.New("s3objects: invalid params")

// New returns a Store for cfg. It does no I/O. It returns an error wrapping
// ErrInvalidParams when PartSize is below MinPartSize, Concurrency or
// MaxAttempts or ResponseTimeout is negative, or only one of the two credential fields is set.
func New(cfg Params) (*Store, error) {
	if cfg.Region == "" {
		cfg.Region = export.DefaultRegion
	}
	if cfg.PartSize == 0 {
		cfg.PartSize = DefaultPartSize
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.ResponseTimeout == 0 {
		cfg.ResponseTimeout = DefaultResponseTimeout
	}
	switch {
	case cfg.PartSize < MinPartSize:
		return nil, fmt.Errorf("%w: part size %d is below %d", ErrInvalidParams, cfg.PartSize, MinPartSize)
	case cfg.Concurrency < 0:
		return nil, fmt.Errorf("%w: negative concurrency %d", ErrInvalidParams, cfg.Concurrency)
	case cfg.MaxAttempts < 0:
		return nil, fmt.Errorf("%w: negative max attempts %d", ErrInvalidParams, cfg.MaxAttempts)
	case cfg.ResponseTimeout < 0:
		return nil, fmt.Errorf("%w: negative response timeout %v", ErrInvalidParams, cfg.ResponseTimeout)
	case (cfg.AccessKeyID == "") != (cfg.SecretAccessKey == ""):
		return nil, fmt.Errorf("%w: access key id and secret access key go together", ErrInvalidParams)
	}
	return &Store{cfg: cfg}, nil
}

// init builds the SDK clients once. It is cheap and cannot fail; it is lazy
// so that New stays free of side effects (litestream s3.ReplicaClient.Init).
func (s *Store) init() (*s3.Client, *transfermanager.Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil {
		return s.client, s.transfer
	}

	opts := s3.Options{
		Region: s.cfg.Region,
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = s.cfg.MaxAttempts
			o.MaxBackoff = maxBackoff
		}),
	}
	if s.cfg.HTTPClient != nil {
		opts.HTTPClient = s.cfg.HTTPClient
	} else {
		opts.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			tr.ResponseHeaderTimeout = s.cfg.ResponseTimeout
		})
	}
	if s.cfg.AccessKeyID != "" {
		opts.Credentials = credentials.NewStaticCredentialsProvider(s.cfg.AccessKeyID, s.cfg.SecretAccessKey, "")
	}
	if s.cfg.Endpoint != "" {
		opts.BaseEndpoint = aws.String(s.cfg.Endpoint)
		// Virtual-host addressing needs DNS for <bucket>.<host>; local and
		// self-hosted servers are reached by path.
		opts.UsePathStyle = true
		// Since SDK v1.73 of service/s3 (Jan 2025) every request carries a
		// CRC32 checksum, and uploads are sent aws-chunked with a trailer;
		// many S3-compatible servers reject or mis-store those. Only send
		// checksums where the API requires them (litestream #597, #608;
		// aws-sdk-go-v2 #2960).
		opts.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		opts.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	}
	s.client = s3.New(opts)

	s.transfer = transfermanager.New(s.client, func(o *transfermanager.Options) {
		o.PartSizeBytes = s.cfg.PartSize
		// The first read is buffered whole up to this threshold: keep it at
		// one part so that memory stays bounded by the part pool.
		o.MultipartUploadThreshold = s.cfg.PartSize
		o.Concurrency = s.cfg.Concurrency
		// A fresh context for AbortMultipartUpload, so a cancelled ctx
		// still aborts (feature/s3/manager aborts on the dead ctx and
		// leaves the upload behind).
		o.FailTimeout = abortTimeout
		if s.cfg.Endpoint != "" {
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		}
	})
	return s.client, s.transfer
}

// Put stores everything read from r as bucket/key. A body shorter than one
// part is sent with a single PutObject; a longer one with a multipart upload
// holding at most (Concurrency+1)*PartSize bytes in memory. When ctx ends or
// r fails, Put returns an error wrapping context.Cause(ctx) or r's error;
// no object is created and the multipart upload is aborted (on a fresh
// context bounded to 30s, so this holds after a cancel too, though not
// while the server is unreachable); after a cancel it is watched for a few
// hundred milliseconds and aborted again if part uploads that the cancel
// cut off bring it back on the server. When S3 itself failed (after the
// retries: unreachable, an error answer), the error wraps an
// *engine.ObjectStoreError carrying the S3 error code.
func (s *Store) Put(ctx context.Context, bucket, key string, r io.Reader) error {
	_, tm := s.init()
	body := &ctxReader{ctx: ctx, r: r}
	_, err := tm.UploadObject(ctx, &transfermanager.UploadObjectInput{
		Bucket: aws.String(bucket),
		Key:    aws.String(key),
		Body:   body,
	})
	if err != nil {
		// Only a cancel cuts part uploads off mid-request; after a failed
		// read or an S3 error the parts in flight were answered before
		// the upload was aborted.
		var mp interface{ UploadID() string }
		if ctx.Err() != nil && errors.As(err, &mp) && mp.UploadID() != "" {
			if aerr := s.finishAbort(bucket, key, mp.UploadID()); aerr != nil {
				err = fmt.Errorf("%w (and: %v)", err, aerr)
			}
		}
		return putError(ctx, bucket, key, body, err)
	}
	return nil
}

// putError is the error of a failed Put of bucket/key.
func putError(ctx context.Context, bucket, key string, body *ctxReader, err error) error {
	switch {
	case ctx.Err() != nil:
		// Keep the cancel cause (export.ErrTaskCanceled from the
		// engine) visible to errors.Is beside context.Canceled.
		return fmt.Errorf("put s3://%s/%s: %w: %w", bucket, key, context.Cause(ctx), err)
	case body.err != nil:
		// The body failed (the engine dropped the file): not S3's doing.
		return fmt.Errorf("put s3://%s/%s: %w", bucket, key, err)
	}
	return &engine.ObjectStoreError{Bucket: bucket, Code: errorCode(err), Err: fmt.Errorf("put s3://%s/%s: %w", bucket, key, err)}
}

// errorCode is the S3 error code of err, "" when S3 gave no answer.
func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// ctxReader stops reading once ctx is done, so that a cancelled Put does
// not keep draining a slow source until the next network call notices. It
// remembers the first error of r other than io.EOF.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
	err error
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return n, err
}

// List returns the keys under prefix in lexical (byte) order, following
// ListObjectsV2 pages. It returns an error wrapping the SDK's error, e.g.
// *types.NoSuchBucket when bucket does not exist.
func (s *Store) List(ctx context.Context, bucket, prefix string) ([]string, error) {
	client, _ := s.init()
	in := &s3.ListObjectsV2Input{Bucket: aws.String(bucket)}
	if prefix != "" {
		in.Prefix = aws.String(prefix)
	}
	var keys []string
	p := s3.NewListObjectsV2Paginator(client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	// S3 returns UTF-8 binary order already; sorting guards against
	// servers that do not.
	sort.Strings(keys)
	return keys, nil
}

// Delete removes bucket/key with DeleteObject. A key that does not exist is
// not an error (S3 answers 204 for it too). When S3 fails (after the
// retries) the error wraps an *engine.ObjectStoreError carrying the S3 error
// code, e.g. NoSuchBucket.
func (s *Store) Delete(ctx context.Context, bucket, key string) error {
	client, _ := s.init()
	_, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("delete s3://%s/%s: %w: %w", bucket, key, context.Cause(ctx), err)
	}
	return &engine.ObjectStoreError{Bucket: bucket, Code: errorCode(err), Err: fmt.Errorf("delete s3://%s/%s: %w", bucket, key, err)}
}

// BucketExists reports whether bucket exists and is reachable with the
// configured credentials. A missing (404) or forbidden (403) bucket is
// (false, nil); any other failure is returned as an error.
func (s *Store) BucketExists(ctx context.Context, bucket string) (bool, error) {
	client, _ := s.init()
	_, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	if err == nil {
		return true, nil
	}
	if isNotFoundOrForbidden(err) {
		return false, nil
	}
	return false, fmt.Errorf("head bucket %s: %w", bucket, err)
}

// BucketAccess implements engine.ObjectStore. An S3 server reached with
// the server's own credentials has no notion of the account behind a task:
// a bucket that exists and is reachable is writable.
func (s *Store) BucketAccess(ctx context.Context, _, bucket string) (exists, writable bool, err error) {
	ok, err := s.BucketExists(ctx, bucket)
	return ok, ok, err
}

// isNotFoundOrForbidden is the one place where an S3 error becomes "no such
// bucket". HeadBucket has no body, so the SDK only knows the status code:
// it reports types.NotFound for 404 and a generic "Forbidden" API error for
// 403.
func isNotFoundOrForbidden(err error) bool {
	var nf *types.NotFound
	var nsb *types.NoSuchBucket
	if errors.As(err, &nf) || errors.As(err, &nsb) {
		return true
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "NotFound", "NoSuchBucket", "Forbidden", "AccessDenied":
			return true
		}
	}
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		switch re.HTTPStatusCode() {
		case http.StatusNotFound, http.StatusForbidden:
			return true
		}
	}
	return false
}

// Ping reports whether the S3 server answers an authenticated request
// (ListBuckets) with the configured credentials. It returns the request's
// error: a transport failure when the server cannot be reached, an API
// error when it refuses the credentials.
func (s *Store) Ping(ctx context.Context) error {
	client, _ := s.init()
	if _, err := client.ListBuckets(ctx, &s3.ListBucketsInput{}); err != nil {
		return fmt.Errorf("list buckets: %w", err)
	}
	return nil
}
