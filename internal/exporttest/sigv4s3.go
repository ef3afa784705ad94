package exporttest

import (
	"encoding/xml"
	"net/http"

	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/s3server"
	"github.com/rdsexport/rdsexport/internal/sigv4"
)

// S3Key is the secret and account of one access key of SigV4S3.
type S3Key struct {
	Secret  string
	Account string
}

type s3Keys map[string]S3Key

func (k s3Keys) SecretFor(id string) (string, string, bool) {
	key, ok := k[id]
	return key.Secret, key.Account, ok
}

// SigV4S3 puts in front of h, an embedded S3 server (s3server.Server), what
// cmd/rdsexport's router puts there: the SigV4 verification of every
// request against keys (access key ID → secret and account), the verified
// caller and, for signed aws-chunked bodies, the chunk signer in the
// request's context. A request that fails verification gets a 403
// AccessDenied S3 error naming the reason.
func SigV4S3(h http.Handler, keys map[string]S3Key) http.Handler {
	v := &sigv4.Verifier{Credentials: s3Keys(keys)}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := v.Verify(r, nil)
		if err != nil {
			body, _ := xml.Marshal(struct {
				XMLName xml.Name `xml:"Error"`
				Code    string
				Message string
			}{Code: "AccessDenied", Message: err.Error()})
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write(body)
			return
		}
		ctx := export.WithCaller(r.Context(), id.Caller())
		if id.Chunks != nil {
			ctx = s3server.WithChunkSigner(ctx, id.Chunks)
		}
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}
