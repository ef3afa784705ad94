package s3server

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/johannesboyne/gofakes3"
)

// S3 error codes that gofakes3 does not declare.
const (
	codeAccessDenied             gofakes3.ErrorCode = "AccessDenied"
	codeBucketAlreadyOwnedByYou  gofakes3.ErrorCode = "BucketAlreadyOwnedByYou"
	codeContentSHA256Mismatch    gofakes3.ErrorCode = "XAmzContentSHA256Mismatch"
	codeSignatureDoesNotMatch    gofakes3.ErrorCode = "SignatureDoesNotMatch"
	codeInvalidRequest           gofakes3.ErrorCode = "InvalidRequest"
	codeMalformedTrailer         gofakes3.ErrorCode = "MalformedTrailerError"
	codeMaxMessageLengthExceeded gofakes3.ErrorCode = "MaxMessageLengthExceeded"
)

// s3Errors gives each error code S3's HTTP status and its usual message,
// used when the error carries none. gofakes3 answers codes it does not know
// with 500 and many errors with an empty message, which clients print as
// "Unknown"; every error this server sends is corrected with this table.
// https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
var s3Errors = map[gofakes3.ErrorCode]struct {
	status  int
	message string
}{
	codeAccessDenied:                                {http.StatusForbidden, "Access Denied"},
	codeBucketAlreadyOwnedByYou:                     {http.StatusConflict, "Your previous request to create the named bucket succeeded and you already own it."},
	gofakes3.ErrBucketAlreadyExists:                 {http.StatusConflict, "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again."},
	gofakes3.ErrBucketNotEmpty:                      {http.StatusConflict, "The bucket you tried to delete is not empty."},
	codeContentSHA256Mismatch:                       {http.StatusBadRequest, "The provided 'x-amz-content-sha256' header does not match what was computed."},
	codeSignatureDoesNotMatch:                       {http.StatusForbidden, "The request signature we calculated does not match the signature you provided. Check your key and signing method."},
	codeInvalidRequest:                              {http.StatusBadRequest, "The request is not valid."},
	codeMalformedTrailer:                            {http.StatusBadRequest, "The request contained trailing data that was not well-formed or did not conform to our published schema."},
	codeMaxMessageLengthExceeded:                    {http.StatusBadRequest, "Your request was too big."},
	gofakes3.ErrBadDigest:                           {http.StatusBadRequest, "The Content-MD5 or checksum value that you specified did not match what the server received."},
	gofakes3.ErrConditionalRequestConflict:          {http.StatusConflict, "A conflicting conditional operation is currently in progress against this resource. Try again."},
	gofakes3.ErrIllegalVersioningConfiguration:      {http.StatusBadRequest, "The versioning configuration specified in the request is not valid."},
	gofakes3.ErrIncompleteBody:                      {http.StatusBadRequest, "You did not provide the number of bytes specified by the Content-Length HTTP header."},
	gofakes3.ErrIncorrectNumberOfFilesInPostRequest: {http.StatusBadRequest, "POST requires exactly one file upload per request."},
	gofakes3.ErrInternal:                            {http.StatusInternalServerError, "We encountered an internal error. Please try again."},
	gofakes3.ErrInvalidArgument:                     {http.StatusBadRequest, "Invalid Argument"},
	gofakes3.ErrInvalidBucketName:                   {http.StatusBadRequest, "The specified bucket is not valid."},
	gofakes3.ErrInvalidDigest:                       {http.StatusBadRequest, "The Content-MD5 you specified is not valid."},
	gofakes3.ErrInvalidPart:                         {http.StatusBadRequest, "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag."},
	gofakes3.ErrInvalidPartOrder:                    {http.StatusBadRequest, "The list of parts was not in ascending order. The parts list must be specified in order by part number."},
	gofakes3.ErrInvalidRange:                        {http.StatusRequestedRangeNotSatisfiable, "The requested range is not satisfiable."},
	gofakes3.ErrInvalidToken:                        {http.StatusBadRequest, "The provided token is malformed or otherwise not valid."},
	gofakes3.ErrInvalidURI:                          {http.StatusBadRequest, "Couldn't parse the specified URI."},
	gofakes3.ErrKeyTooLong:                          {http.StatusBadRequest, "Your key is too long."},
	gofakes3.ErrMalformedPOSTRequest:                {http.StatusBadRequest, "The body of your POST request is not well-formed multipart/form-data."},
	gofakes3.ErrMalformedXML:                        {http.StatusBadRequest, "The XML you provided was not well-formed or did not validate against our published schema."},
	gofakes3.ErrMetadataTooLarge:                    {http.StatusBadRequest, "Your metadata headers exceed the maximum allowed metadata size."},
	gofakes3.ErrMethodNotAllowed:                    {http.StatusMethodNotAllowed, "The specified method is not allowed against this resource."},
	gofakes3.ErrMissingContentLength:                {http.StatusLengthRequired, "You must provide the Content-Length HTTP header."},
	gofakes3.ErrNoSuchBucket:                        {http.StatusNotFound, "The specified bucket does not exist."},
	gofakes3.ErrNoSuchKey:                           {http.StatusNotFound, "The specified key does not exist."},
	gofakes3.ErrNoSuchUpload:                        {http.StatusNotFound, "The specified multipart upload does not exist. The upload ID might not be valid, or the multipart upload might have been aborted or completed."},
	gofakes3.ErrNoSuchVersion:                       {http.StatusNotFound, "The specified version does not exist."},
	gofakes3.ErrNotImplemented:                      {http.StatusNotImplemented, "A header or query parameter you provided implies functionality that is not implemented."},
	gofakes3.ErrPreconditionFailed:                  {http.StatusPreconditionFailed, "At least one of the preconditions that you specified did not hold."},
	gofakes3.ErrRequestTimeTooSkewed:                {http.StatusForbidden, "The difference between the request time and the server's time is too large."},
	gofakes3.ErrTooManyBuckets:                      {http.StatusBadRequest, "You have attempted to create more buckets than allowed."},
}

// codeForStatus names an error that came without a code.
func codeForStatus(status int) gofakes3.ErrorCode {
	switch status {
	case http.StatusForbidden:
		return codeAccessDenied
	case http.StatusNotFound:
		return gofakes3.ErrNoSuchKey
	case http.StatusMethodNotAllowed:
		return gofakes3.ErrMethodNotAllowed
	case http.StatusLengthRequired:
		return gofakes3.ErrMissingContentLength
	case http.StatusRequestedRangeNotSatisfiable:
		return gofakes3.ErrInvalidRange
	case http.StatusNotImplemented:
		return gofakes3.ErrNotImplemented
	}
	if status >= 500 {
		return gofakes3.ErrInternal
	}
	return gofakes3.ErrInvalidArgument
}

// errorDoc is S3's error document.
type errorDoc struct {
	XMLName       xml.Name `xml:"Error"`
	Code          string   `xml:"Code"`
	Message       string   `xml:"Message"`
	Resource      string   `xml:"Resource,omitempty"`
	ArgumentName  string   `xml:"ArgumentName,omitempty"`
	ArgumentValue string   `xml:"ArgumentValue,omitempty"`
	RequestID     string   `xml:"RequestId"`
	HostID        string   `xml:"HostId"`
}

// docFor describes err as S3 would: its code (InternalError when it is
// not a gofakes3.Error) and message.
func docFor(err error) errorDoc {
	var e gofakes3.Error
	if !errors.As(err, &e) {
		return errorDoc{Code: string(gofakes3.ErrInternal)}
	}
	d := errorDoc{Code: string(e.ErrorCode())}
	// gofakes3 errors print as "<code>: <message>".
	if msg, ok := strings.CutPrefix(e.Error(), d.Code+": "); ok {
		d.Message = msg
	}
	return d
}

// maxErrorBody bounds an error document kept to be rewritten.
const maxErrorBody = 64 << 10

// responseWriter gives every response the request's ID and rewrites every
// error document into S3's form: the status S3 uses for the code, a
// Message, the request ID, Content-Type application/xml. Error bodies are
// held back until the handler returns (they are small); other responses
// pass through, streamed.
type responseWriter struct {
	http.ResponseWriter
	r         *http.Request
	requestID string

	wroteHeader bool
	errStatus   int // set while an error body is held back
	errBody     bytes.Buffer
}

func newResponseWriter(w http.ResponseWriter, r *http.Request) *responseWriter {
	return &responseWriter{ResponseWriter: w, r: r, requestID: strings.ToUpper(randomHex(8))}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *responseWriter) setIDs() {
	h := w.ResponseWriter.Header()
	h.Set("x-amz-request-id", w.requestID)
	h.Set("x-amz-id-2", base64.StdEncoding.EncodeToString([]byte(w.requestID+w.requestID)))
}

// WriteHeader implements http.ResponseWriter.
func (w *responseWriter) WriteHeader(status int) {
	if w.wroteHeader || w.errStatus != 0 {
		return
	}
	if status >= 400 {
		w.errStatus = status
		return
	}
	w.wroteHeader = true
	h := w.ResponseWriter.Header()
	if etag := h.Get(etagHeader); etag != "" {
		h.Set("ETag", etag)
	}
	h.Del(etagHeader)
	w.setIDs()
	w.ResponseWriter.WriteHeader(status)
}

// Write implements http.ResponseWriter.
func (w *responseWriter) Write(p []byte) (int, error) {
	if w.errStatus != 0 {
		if w.errBody.Len() < maxErrorBody {
			w.errBody.Write(p[:min(len(p), maxErrorBody-w.errBody.Len())])
		}
		return len(p), nil
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

// ReadFrom keeps the server's sendfile path for object downloads.
func (w *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.errStatus != 0 {
		return io.Copy(writerOnly{w}, src)
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(w.ResponseWriter, src)
}

type writerOnly struct{ io.Writer }

// finish sends what the handler left: the held-back error, rewritten, or
// the status line of a response with no body.
func (w *responseWriter) finish() {
	switch {
	case w.errStatus != 0:
		var d errorDoc
		_ = xml.Unmarshal(w.errBody.Bytes(), &d) // a body gofakes3 left empty or broken keeps the status
		if d.Code == "" {
			d.Code = string(codeForStatus(w.errStatus))
		}
		status := w.errStatus
		if known, ok := s3Errors[gofakes3.ErrorCode(d.Code)]; ok {
			status = known.status
		}
		w.send(d, status)
	case !w.wroteHeader:
		w.WriteHeader(http.StatusOK)
	}
}

// fail answers err before the handler ran.
func (w *responseWriter) fail(err error) {
	if w.wroteHeader || w.errStatus != 0 {
		return
	}
	d := docFor(err)
	status := http.StatusInternalServerError
	if known, ok := s3Errors[gofakes3.ErrorCode(d.Code)]; ok {
		status = known.status
	}
	w.send(d, status)
}

// send writes d with status, completing its Message.
func (w *responseWriter) send(d errorDoc, status int) {
	w.wroteHeader, w.errStatus = true, 0
	if d.Message == "" || d.Message == d.Code {
		if known, ok := s3Errors[gofakes3.ErrorCode(d.Code)]; ok {
			d.Message = known.message
		} else {
			d.Message = http.StatusText(status)
		}
	}
	d.RequestID = w.requestID
	d.HostID = base64.StdEncoding.EncodeToString([]byte(w.requestID + w.requestID))
	h := w.ResponseWriter.Header()
	// Headers an object response may have set before it failed.
	for _, k := range []string{"ETag", etagHeader, "Last-Modified", "Accept-Ranges", "Content-Range", "Content-Length", "Content-Disposition", "Content-Encoding", "Content-Language", "Cache-Control", "Expires"} {
		h.Del(k)
	}
	for k := range h {
		if strings.HasPrefix(k, "X-Amz-Meta-") {
			h.Del(k)
		}
	}
	h.Set("Content-Type", "application/xml")
	w.setIDs()
	body, _ := xml.Marshal(d)
	if w.r.Method != http.MethodHead {
		h.Set("Content-Length", strconv.Itoa(len(xml.Header)+len(body)))
	}
	w.ResponseWriter.WriteHeader(status)
	if w.r.Method != http.MethodHead {
		_, _ = io.WriteString(w.ResponseWriter, xml.Header)
		_, _ = w.ResponseWriter.Write(body)
	}
}
