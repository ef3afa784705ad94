package s3server

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/johannesboyne/gofakes3"
)

// maxRequestDocument bounds the request bodies that are documents, not
// object content (DeleteObjects, CompleteMultipartUpload, bucket
// configurations), which are read whole and checked before gofakes3 parses
// them: a DeleteObjects of 1000 keys of 1024 bytes, escaped, fits.
const maxRequestDocument = 8 << 20

// unsupportedSubresources are S3 subresources this server does not
// implement. gofakes3 would route them as plain object or bucket
// operations: PUT /bucket/key?tagging would replace the object with the
// tagging document, GET ?acl would return the object. They are refused.
var unsupportedSubresources = []string{
	"accelerate", "acl", "analytics", "attributes", "cors", "encryption", "intelligent-tiering",
	"inventory", "legal-hold", "lifecycle", "logging", "metadataConfiguration", "metadataTable",
	"metrics", "notification", "object-lock", "ownershipControls", "policy", "policyStatus",
	"publicAccessBlock", "renameObject", "replication", "requestPayment", "restore", "retention",
	"select", "session", "tagging", "torrent", "website",
}

// target is the bucket and key a path-style request names.
type target struct {
	bucket, key string
}

// parseTarget splits a path-style URL path as gofakes3 routes it.
func parseTarget(path string) target {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return target{bucket: bucket, key: key}
}

// isObjectUpload reports whether r's body is object content: PutObject
// and UploadPart (not a copy).
func isObjectUpload(r *http.Request, t target) bool {
	return r.Method == http.MethodPut && t.key != "" && r.Header.Get("X-Amz-Copy-Source") == ""
}

// prepare checks r before gofakes3 routes it and wraps its body so that
// what was signed and declared about it is checked as it is read. It
// returns the error to answer instead.
func (s *Server) prepare(r *http.Request, t target, account string) error {
	// Refused before anything else: another account learns nothing more
	// than S3 would tell it. Creating a taken bucket has its own answer.
	q := r.URL.Query()
	createBucket := r.Method == http.MethodPut && t.key == "" && len(q) == 0
	if t.bucket != "" && !createBucket {
		if owner, ok := s.backend.bucketOwner(t.bucket); ok && owner != account {
			return errAccessDenied()
		}
	}
	for _, sub := range unsupportedSubresources {
		if q.Has(sub) {
			return gofakes3.ErrorMessagef(gofakes3.ErrNotImplemented, "The %s subresource is not implemented by this server.", sub)
		}
	}
	if r.Method == http.MethodPost && t.key == "" && t.bucket != "" && !q.Has("delete") {
		// gofakes3 would take it as a browser form upload (POST Object),
		// which S3 authenticates by a signed policy, not SigV4.
		return gofakes3.ErrorMessage(gofakes3.ErrNotImplemented, "POST Object (browser-based upload with a signed policy) is not implemented by this server.")
	}
	if r.Method == http.MethodPut && t.key != "" || r.Method == http.MethodPost && q.Has("uploads") {
		if err := checkKey(t.key); err != nil {
			return err
		}
	}
	return s.prepareBody(r, t)
}

// prepareBody wraps r.Body according to x-amz-content-sha256 and the
// checksum headers, and reads whole the bodies that are not object
// content.
func (s *Server) prepareBody(r *http.Request, t target) error {
	sha := r.Header.Get("X-Amz-Content-Sha256")
	presigned := r.URL.Query().Has("X-Amz-Signature")
	chunked := strings.HasPrefix(sha, "STREAMING-") || hasToken(r.Header.Get("Content-Encoding"), "aws-chunked")
	var signer ChunkSigner
	switch {
	case sha == "" && !presigned:
		// The signature then covers no payload at all.
		return gofakes3.ErrorMessage(codeInvalidRequest, "Missing required header for this request: x-amz-content-sha256.")
	case sha == "", sha == unsignedPayload, sha == streamingUnsignedTrailer:
	case sha == streamingSigned, sha == streamingSignedTrailer:
		if signer = chunkSignerFrom(r.Context()); signer == nil {
			return gofakes3.ErrorMessage(codeSignatureDoesNotMatch, "The chunk signatures of this request cannot be verified: sign it with AWS Signature Version 4.")
		}
	case isHex(sha, 64):
		body := r.Body
		if body == nil {
			body = http.NoBody
		}
		r.Body = newSHA256Body(body, sha)
	default:
		return gofakes3.ErrorInvalidArgument("x-amz-content-sha256", redactName(sha),
			"x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "+
				"STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.")
	}

	var sumName, sumWant string
	for name := range r.Header {
		if lower := strings.ToLower(name); strings.HasPrefix(lower, "x-amz-checksum-") && lower != "x-amz-checksum-type" && lower != "x-amz-checksum-algorithm" && lower != "x-amz-checksum-mode" {
			sumName, sumWant = lower, r.Header.Get(name)
		}
	}
	if chunked {
		if err := decodeAWSChunked(r, sha, signer, sumName, sumWant); err != nil {
			return err
		}
	} else if h := checksumHash(sumName); h != nil && isObjectUpload(r, t) && r.Body != nil {
		r.Body = &checksumBody{r: r.Body, c: r.Body, h: h, name: sumName, want: sumWant}
	}

	if isObjectUpload(r, t) || r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	// A document (or an unexpected body): read it whole, so that a wrong
	// hash or signature is found before gofakes3 acts on it (its XML
	// decoder stops at the closing tag, short of the end).
	doc, err := io.ReadAll(io.LimitReader(r.Body, maxRequestDocument+1))
	if err != nil {
		var e gofakes3.Error
		if errors.As(err, &e) {
			return err
		}
		return gofakes3.ErrorMessage(gofakes3.ErrIncompleteBody, "The request body could not be read to its end.")
	}
	if len(doc) > maxRequestDocument {
		return gofakes3.ErrorMessagef(codeMaxMessageLengthExceeded, "Your request was too big: the limit is %d bytes.", maxRequestDocument)
	}
	r.Body = io.NopCloser(bytes.NewReader(doc))
	r.ContentLength = int64(len(doc))
	r.Header.Set("Content-Length", strconv.Itoa(len(doc)))
	return nil
}

// decodeAWSChunked makes r's body its decoded content: the body, Content-
// Length, x-amz-content-sha256 and Content-Encoding of a plain request,
// the body failing when a signature, the length or a declared checksum
// does not hold (which makes the backend discard the upload).
func decodeAWSChunked(r *http.Request, sha string, signer ChunkSigner, sumName, sumWant string) error {
	decoded, err := strconv.ParseInt(r.Header.Get("X-Amz-Decoded-Content-Length"), 10, 64)
	if err != nil || decoded < 0 {
		return gofakes3.ErrorMessage(gofakes3.ErrMissingContentLength, "An aws-chunked body needs x-amz-decoded-content-length, the length of its content.")
	}
	body := r.Body
	if body == nil {
		body = http.NoBody
	}
	cr := &chunkedBody{
		br:      bufio.NewReaderSize(body, 64<<10),
		c:       body,
		want:    decoded,
		sumName: sumName,
		sumWant: sumWant,
	}
	if signer != nil {
		cr.signer, cr.prevSig, cr.chunkHash = signer, signer.SeedSignature(), sha256.New()
		cr.signedTrailer = sha == streamingSignedTrailer
	}
	if trailer := strings.ToLower(strings.TrimSpace(r.Header.Get("X-Amz-Trailer"))); trailer != "" {
		if sha == streamingSigned {
			return gofakes3.ErrorMessage(codeInvalidRequest, "x-amz-trailer needs x-amz-content-sha256 "+streamingSignedTrailer+" when the chunks are signed.")
		}
		if checksumHash(trailer) == nil {
			return gofakes3.ErrorMessage(codeInvalidRequest, "The value specified in the x-amz-trailer header is not supported.")
		}
		cr.sumName, cr.sumWant, cr.trailer = trailer, "", true
	}
	cr.h = checksumHash(cr.sumName)

	r.Body = cr
	r.ContentLength = decoded
	r.Header.Set("Content-Length", strconv.FormatInt(decoded, 10))
	r.Header.Set("X-Amz-Content-Sha256", unsignedPayload)
	r.Header.Del("X-Amz-Decoded-Content-Length")
	r.Header.Del("X-Amz-Trailer")
	if enc := removeToken(r.Header.Get("Content-Encoding"), "aws-chunked"); enc != "" {
		r.Header.Set("Content-Encoding", enc)
	} else {
		r.Header.Del("Content-Encoding")
	}
	return nil
}

func hasToken(list, token string) bool {
	for _, t := range strings.Split(list, ",") {
		if strings.EqualFold(strings.TrimSpace(t), token) {
			return true
		}
	}
	return false
}

func removeToken(list, token string) string {
	var keep []string
	for _, t := range strings.Split(list, ",") {
		if t = strings.TrimSpace(t); t != "" && !strings.EqualFold(t, token) {
			keep = append(keep, t)
		}
	}
	return strings.Join(keep, ",")
}
