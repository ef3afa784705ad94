package s3server

import (
	"encoding/hex"
	"encoding/xml"
	"errors"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/rdsexport/rdsexport/internal/export"
)

// WriteAuthError answers an S3 request whose SigV4 verification failed
// with err, in S3's error format and with the codes S3 gives. An err that
// is not an *export.Error is answered InternalError.
func WriteAuthError(w http.ResponseWriter, r *http.Request, err error) {
	var e *export.Error
	if !errors.As(err, &e) {
		WriteError(w, "InternalError", "We encountered an internal error. Please try again.", http.StatusInternalServerError)
		return
	}
	code, msg, status := authError(r, e)
	WriteError(w, code, msg, status)
}

// authError maps a SigV4 verification failure to S3's error.
func authError(r *http.Request, e *export.Error) (code, message string, status int) {
	presigned := r.URL.Query().Has("X-Amz-Signature") || r.URL.Query().Has("X-Amz-Credential")
	switch {
	case IsSigV2(r):
		// S3 answers so in every region that accepts only SigV4.
		return "InvalidRequest", "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.", http.StatusBadRequest
	case e.Code == export.CodeMissingAuthenticationToken:
		return "AccessDenied", "Access Denied: anonymous requests are not allowed. Sign every request with AWS Signature Version 4 (AWS4-HMAC-SHA256).", http.StatusForbidden
	case e.Code == export.CodeIncompleteSignature && !validContentSHA256(r.Header.Get("X-Amz-Content-Sha256")):
		return "InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, " +
			"STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.", http.StatusBadRequest
	case e.Code == export.CodeIncompleteSignature && presigned:
		return "AuthorizationQueryParametersError", e.Message, http.StatusBadRequest
	case e.Code == export.CodeIncompleteSignature:
		return "AuthorizationHeaderMalformed", e.Message, http.StatusBadRequest
	case e.Code == export.CodeInvalidClientTokenID && (r.Header.Get("X-Amz-Security-Token") != "" || r.URL.Query().Has("X-Amz-Security-Token")):
		return "InvalidToken", "The provided token is malformed or otherwise invalid.", http.StatusBadRequest
	case e.Code == export.CodeInvalidClientTokenID:
		return "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.", http.StatusForbidden
	case e.Code == export.CodeRequestExpired && presigned:
		return "AccessDenied", e.Message, http.StatusForbidden
	case e.Code == export.CodeRequestExpired:
		return "RequestTimeTooSkewed", "The difference between the request time and the current time is too large. " + e.Message, http.StatusForbidden
	case e.Code == export.CodeSignatureDoesNotMatch:
		return e.Code, e.Message, http.StatusForbidden
	case e.Code == export.CodeInternalFailure:
		return e.Code, e.Message, http.StatusInternalServerError
	}
	return e.Code, e.Message, http.StatusBadRequest
}

// IsSigV2 reports whether r carries AWS Signature Version 2 credentials,
// which S3 refuses wherever only SigV4 is accepted.
func IsSigV2(r *http.Request) bool {
	q := r.URL.Query()
	return strings.HasPrefix(r.Header.Get("Authorization"), "AWS ") || q.Has("AWSAccessKeyId") && q.Has("Signature")
}

// validContentSHA256 reports whether v may be the x-amz-content-sha256 of
// a SigV4 request (the server checks the STREAMING-* value further).
func validContentSHA256(v string) bool {
	if v == "" || v == unsignedPayload || strings.HasPrefix(v, "STREAMING-") {
		return true
	}
	if len(v) != 64 {
		return false
	}
	_, err := hex.DecodeString(v)
	return err == nil
}

// WriteError writes an S3 <Error> document with the given code, message
// and status, for requests answered before they reach the Server.
func WriteError(w http.ResponseWriter, code, message string, status int) {
	id := uuid.NewString()
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
