package main

import (
	"encoding/xml"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/rdsexport/rdsexport/internal/awsquery"
	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/sigv4"
)

// router serves the RDS Query API and, when embedded, S3 on one listener.
// The service of the SigV4 credential scope ("s3" or "rds") picks the
// handler; every request is verified before it is served.
type router struct {
	verifier *sigv4.Verifier
	rds      http.Handler // already wrapped in signature verification
	s3       http.Handler // nil when S3 is external
	logger   *slog.Logger
}

func newRouter(v *sigv4.Verifier, rds *awsquery.Handler, s3 http.Handler, logger *slog.Logger) *router {
	fail := func(w http.ResponseWriter, r *http.Request, err error) {
		awsquery.WriteError(w, newRequestID(), err)
	}
	return &router{
		verifier: v,
		rds:      v.Middleware(rds, awsquery.DefaultMaxBodyBytes, fail),
		s3:       s3,
		logger:   logger,
	}
}

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rt.s3 != nil && scopeService(r) == "s3" {
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
	id := newRequestID()
	body, _ := xml.Marshal(struct {
		XMLName   xml.Name `xml:"Error"`
		Code      string
		Message   string
		RequestID string `xml:"RequestId"`
	}{Code: e.Code, Message: e.Message, RequestID: id})
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("x-amz-request-id", id)
	w.WriteHeader(awsquery.StatusCode(e.Code))
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
