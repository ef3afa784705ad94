package main

import (
	"encoding/xml"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/rdsexport/rdsexport/internal/awsquery"
	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/sigv4"
)

// router serves the RDS Query API and, when embedded, S3 on one listener.
// The service of the SigV4 credential scope ("s3" or "rds") picks the
// handler; every request is verified before it is served.
//
// At most cap(slots) requests are served at once, RDS and S3 together;
// past that a request is refused at once with the error each protocol's
// clients retry: Throttling for RDS, SlowDown for S3.
type router struct {
	verifier *sigv4.Verifier
	rds      http.Handler // already wrapped in signature verification
	s3       http.Handler // nil when S3 is external
	logger   *slog.Logger
	slots    chan struct{}
}

// rdsTimeout bounds reading an RDS request and writing its answer; both are
// small (the body is at most awsquery.DefaultMaxBodyBytes), so a client
// that takes longer is slow on purpose. S3 requests stream large objects
// and keep the server-wide limits.
const rdsTimeout = time.Minute

func newRouter(v *sigv4.Verifier, rds *awsquery.Handler, s3 http.Handler, logger *slog.Logger, maxConcurrent int) *router {
	fail := func(w http.ResponseWriter, r *http.Request, err error) {
		awsquery.WriteError(w, newRequestID(), err)
	}
	// A Query API request must be signed for RDS; S3 requests are told
	// apart by their scope before they get here.
	rdsVerifier := *v
	rdsVerifier.Service = "rds"
	if maxConcurrent < 1 {
		maxConcurrent = 1
	}
	return &router{
		verifier: v,
		rds:      rdsVerifier.Middleware(rds, awsquery.DefaultMaxBodyBytes, fail),
		s3:       s3,
		logger:   logger,
		slots:    make(chan struct{}, maxConcurrent),
	}
}

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	isS3 := rt.s3 != nil && scopeService(r) == "s3"
	select {
	case rt.slots <- struct{}{}:
		defer func() { <-rt.slots }()
	default:
		rt.logger.Debug("request throttled", "s3", isS3, "max_concurrent_requests", cap(rt.slots))
		if isS3 {
			writeS3ErrorStatus(w, "SlowDown", "Please reduce your request rate.", http.StatusServiceUnavailable)
			return
		}
		awsquery.WriteError(w, newRequestID(), export.Errorf(export.CodeThrottling, "Rate exceeded"))
		return
	}
	if isS3 {
		// S3 bodies stream, so they are not hashed here: the signature
		// covers the headers, including the declared X-Amz-Content-Sha256
		// (aws-chunked checksums are checked by the S3 server).
		if _, err := rt.verifier.Verify(r, nil); err != nil {
			writeS3Error(w, err)
			return
		}
		rt.s3.ServeHTTP(w, r)
		return
	}
	rc := http.NewResponseController(w)
	deadline := time.Now().Add(rdsTimeout)
	_ = rc.SetReadDeadline(deadline)
	_ = rc.SetWriteDeadline(deadline)
	// With no server-wide WriteTimeout the server never resets the write
	// deadline, so clear it for the next request on the connection, which
	// may be a long S3 download. What is still buffered is small.
	defer func() { _ = rc.SetWriteDeadline(time.Time{}) }()
	rt.rds.ServeHTTP(w, r)
}

// scopeService returns the service named in the request's credential
// scope (Authorization header or presigned query), or "".
func scopeService(r *http.Request) string {
	cred := r.URL.Query().Get("X-Amz-Credential")
	if auth := r.Header.Get("Authorization"); auth != "" {
		_, after, ok := strings.Cut(auth, "Credential=")
		if !ok {
			return ""
		}
		cred, _, _ = strings.Cut(after, ",")
	}
	parts := strings.Split(strings.TrimSpace(cred), "/")
	if len(parts) != 5 {
		return ""
	}
	return parts[3]
}

// writeS3Error answers a failed S3 request in S3's error format.
func writeS3Error(w http.ResponseWriter, err error) {
	var e *export.Error
	if !errors.As(err, &e) {
		e = export.Errorf(export.CodeInternalFailure, "We encountered an internal error. Please try again.")
	}
	writeS3ErrorStatus(w, e.Code, e.Message, awsquery.StatusCode(e.Code))
}

// writeS3ErrorStatus writes an S3 <Error> document with the given status.
func writeS3ErrorStatus(w http.ResponseWriter, code, message string, status int) {
	id := newRequestID()
	body, _ := xml.Marshal(struct {
		XMLName   xml.Name `xml:"Error"`
		Code      string
		Message   string
		RequestID string `xml:"RequestId"`
	}{Code: code, Message: message, RequestID: id})
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("x-amz-request-id", id)
	w.WriteHeader(status)
	_, _ = w.Write(append([]byte(xml.Header), body...))
}

// SecretFor implements sigv4.CredentialLookup for the configured keys.
func (c credentialTable) SecretFor(accessKeyID string) (string, string, bool) {
	k, ok := c.keys[accessKeyID]
	if !ok {
		return "", "", false
	}
	if k.AccountID != "" {
		return k.SecretAccessKey, k.AccountID, true
	}
	return k.SecretAccessKey, c.account, true
}
