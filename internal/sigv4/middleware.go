package sigv4

import (
	"bytes"
	"errors"
	"io"
	"net/http"

	"github.com/rdsexport/rdsexport/internal/export"
)

// Middleware returns a handler that verifies each request and passes it to
// next with the signer stored in its context as an export.Caller. It reads
// the whole body, at most maxBody bytes, to hash it, and gives next a fresh
// reader over the same bytes; it is meant for small form bodies such as the
// Query API's, not for S3 uploads.
//
// A request that fails is given to fail with the error instead (write it
// with awsquery.WriteError): the *export.Error from Verify, an
// InvalidParameterValue *export.Error when the body exceeds maxBody or
// cannot be read to its end (a truncated body, a client gone).
func (v *Verifier) Middleware(next http.Handler, maxBody int64, fail func(w http.ResponseWriter, r *http.Request, err error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body []byte
		if r.Body != nil && r.Body != http.NoBody {
			var err error
			body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
			if err != nil {
				if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
					err = export.Errorf(export.CodeInvalidParameterValue,
						"The request body exceeds the maximum size of %d bytes.", maxBody)
				} else {
					// The client sent less than it announced or went away:
					// its fault, not the server's.
					err = export.Errorf(export.CodeInvalidParameterValue,
						"The request body could not be read completely.")
				}
				fail(w, r, err)
				return
			}
		}
		id, err := v.Verify(r, body)
		if err != nil {
			fail(w, r, err)
			return
		}
		r = r.WithContext(export.WithCaller(r.Context(), id.Caller()))
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}
