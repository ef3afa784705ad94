package sigv4

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/rdsexport/rdsexport/internal/export"
)

// CredentialLookup finds the secret key of an access key. Implementations
// must be safe for concurrent use.
type CredentialLookup interface {
	// SecretFor returns the secret access key and the account that owns
	// accessKeyID, or ok false when the key is unknown.
	SecretFor(accessKeyID string) (secret string, accountID string, ok bool)
}

// Identity is who signed a request, from the verified credential scope.
type Identity struct {
	AccessKeyID string
	AccountID   string
	Region      string
	// Service is the service of the credential scope, e.g. "rds" or "s3".
	Service string
	// Chunks verifies the chunk signatures of the body when the request's
	// X-Amz-Content-Sha256 is StreamingSignedPayload or
	// StreamingSignedPayloadTrailer; nil otherwise.
	Chunks *ChunkSigner
}

// Caller returns the identity as the domain's export.Caller.
func (id Identity) Caller() export.Caller {
	return export.Caller{AccessKeyID: id.AccessKeyID, AccountID: id.AccountID, Region: id.Region}
}

// DefaultMaxSkew is how far the signing time may be from the server clock,
// as on AWS.
const DefaultMaxSkew = 15 * time.Minute

// maxPresignExpires is the longest X-Amz-Expires AWS accepts: one week.
const maxPresignExpires = 7 * 24 * time.Hour

// Payload hash values a client may send in X-Amz-Content-Sha256 instead of
// a hex digest.
const (
	UnsignedPayload = "UNSIGNED-PAYLOAD"
	streamingPrefix = "STREAMING-"
)

const (
	algorithm  = "AWS4-HMAC-SHA256"
	timeFormat = "20060102T150405Z"
	dateFormat = "20060102"
	terminator = "aws4_request"
)

// Verifier checks SigV4 signatures. Its fields must not change while it is
// in use; the zero MaxSkew and nil Now mean DefaultMaxSkew and time.Now.
type Verifier struct {
	// Credentials resolves access keys. Required.
	Credentials CredentialLookup
	// Now is the server clock.
	Now func() time.Time
	// MaxSkew is the largest accepted distance between the signing time
	// and Now.
	MaxSkew time.Duration
	// Service, when set, is the only service a credential scope may name
	// ("rds" in front of the Query API).
	Service string
	// AllowSessionTokens accepts requests that carry a session token
	// (X-Amz-Security-Token, as signed with temporary credentials). The
	// token itself is not checked: the signature of the access key is. By
	// default such requests are refused with InvalidClientTokenId, as AWS
	// refuses a token it did not issue.
	AllowSessionTokens bool
}

// Verify checks the signature of r and returns the identity that signed it.
// body is the request payload; it is hashed when the request carries no
// X-Amz-Content-Sha256 header (RDS clients send none) and compared with that
// header when it carries a hex digest. Pass nil when the body is streamed
// and the header is present (S3 clients). For STREAMING-* payloads only the
// seed signature of the headers is verified; the chunk signatures are the
// reader's business, with Identity.Chunks. r.Body is not read.
//
// Errors, all *export.Error:
//   - MissingAuthenticationToken (403): neither an Authorization header nor
//     presigned query parameters;
//   - IncompleteSignature (400): a malformed Authorization header,
//     credential scope, date or expiry, signed headers without host, or a
//     scope naming another service than v.Service;
//   - InvalidClientTokenId (403): an unknown access key, or a session
//     token when AllowSessionTokens is false;
//   - RequestExpired (403): the signing time is more than MaxSkew from now,
//     or a presigned request has expired;
//   - SignatureDoesNotMatch (403): any other mismatch.
func (v *Verifier) Verify(r *http.Request, body []byte) (Identity, error) {
	query := r.URL.Query()
	auth := r.Header.Get("Authorization")
	presigned := query.Has("X-Amz-Algorithm") || query.Has("X-Amz-Signature") || query.Has("X-Amz-Credential")

	var (
		a   authorization
		err error
	)
	switch {
	case auth == "" && !presigned:
		return Identity{}, export.Errorf(export.CodeMissingAuthenticationToken, "Request is missing Authentication Token")
	case auth != "" && presigned:
		return Identity{}, export.Errorf(export.CodeIncompleteSignature,
			"Only one authentication mechanism is allowed: use either the Authorization header or the X-Amz-Algorithm query parameter.")
	case auth != "":
		if a, err = parseAuthorization(auth); err != nil {
			return Identity{}, err
		}
		if a.Date, err = headerDate(r); err != nil {
			return Identity{}, err
		}
	default:
		if a, err = parsePresigned(query); err != nil {
			return Identity{}, err
		}
	}
	if v.Service != "" && a.Service != v.Service {
		return Identity{}, export.Errorf(export.CodeIncompleteSignature,
			"Credential should be scoped to correct service: '%s'.", v.Service)
	}
	if a.Date.Format(dateFormat) != a.ScopeDate {
		return Identity{}, export.Errorf(export.CodeSignatureDoesNotMatch,
			"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s'",
			a.ScopeDate, a.Date.Format(dateFormat))
	}

	if !v.AllowSessionTokens && (r.Header.Get("X-Amz-Security-Token") != "" || query.Get("X-Amz-Security-Token") != "") {
		return Identity{}, export.Errorf(export.CodeInvalidClientTokenID, "The security token included in the request is invalid.")
	}
	secret, account, ok := v.Credentials.SecretFor(a.AccessKeyID)
	if !ok {
		return Identity{}, export.Errorf(export.CodeInvalidClientTokenID, "The security token included in the request is invalid.")
	}
	if err := v.checkTime(a, presigned); err != nil {
		return Identity{}, err
	}
	payloadHash, err := payloadHash(r, body, presigned, a.Service)
	if err != nil {
		return Identity{}, err
	}

	want, err := expectedSignature(r, a, presigned, payloadHash, aws.Credentials{AccessKeyID: a.AccessKeyID, SecretAccessKey: secret})
	if err != nil {
		return Identity{}, err
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(a.Signature)) != 1 {
		return Identity{}, export.Errorf(export.CodeSignatureDoesNotMatch,
			"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	}
	id := Identity{AccessKeyID: a.AccessKeyID, AccountID: account, Region: a.Region, Service: a.Service}
	if h := r.Header.Get("X-Amz-Content-Sha256"); h == StreamingSignedPayload || h == StreamingSignedPayloadTrailer {
		id.Chunks = newChunkSigner(a, secret)
	}
	return id, nil
}

// checkTime enforces the clock skew and the presigned expiry.
//
// The code for both is RequestExpired, which AWS query services (EC2, STS,
// RDS) use for a request "more than 15 minutes after the date stamp on the
// request, or more than 15 minutes after the request expiration date (such
// as for pre-signed URLs), or the date stamp is more than 15 minutes in the
// future", and which botocore, like the JS SDK, recognises as a clock-skew
// error. The messages follow AWS's "Signature expired: ..." wording. AWS's
// common-errors page gives it status 400; we answer 403 like every other
// authentication failure so that clients never retry it as a bad request.
func (v *Verifier) checkTime(a authorization, presigned bool) error {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	skew := v.MaxSkew
	if skew <= 0 {
		skew = DefaultMaxSkew
	}
	t := now().UTC()
	signed := a.Date.Format(timeFormat)
	if a.Date.After(t.Add(skew)) {
		return export.Errorf(export.CodeRequestExpired,
			"Signature not yet current: %s is still later than %s (%s + %s)",
			signed, t.Add(skew).Format(timeFormat), t.Format(timeFormat), skewText(skew))
	}
	if presigned && a.Expires > 0 {
		if end := a.Date.Add(a.Expires); t.After(end) {
			return export.Errorf(export.CodeRequestExpired,
				"Request has expired: it was valid until %s and it is now %s", end.Format(timeFormat), t.Format(timeFormat))
		}
		return nil
	}
	if a.Date.Before(t.Add(-skew)) {
		return export.Errorf(export.CodeRequestExpired,
			"Signature expired: %s is now earlier than %s (%s - %s)",
			signed, t.Add(-skew).Format(timeFormat), t.Format(timeFormat), skewText(skew))
	}
	return nil
}

func skewText(d time.Duration) string {
	if d%time.Minute == 0 {
		return strconv.Itoa(int(d/time.Minute)) + " min."
	}
	return d.String()
}

// headerDate reads X-Amz-Date, falling back to Date.
//
// The aws-sdk-go-v2 signer always signs X-Amz-Date, so a request dated only
// by the Date header passes the time checks but verifies only if the client
// also signed an X-Amz-Date equal to it; no AWS SDK sends such requests.
func headerDate(r *http.Request) (time.Time, error) {
	if s := r.Header.Get("X-Amz-Date"); s != "" {
		t, err := time.Parse(timeFormat, s)
		if err != nil {
			return time.Time{}, export.Errorf(export.CodeIncompleteSignature,
				"X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
		}
		return t, nil
	}
	if s := r.Header.Get("Date"); s != "" {
		t, err := http.ParseTime(s)
		if err != nil {
			return time.Time{}, export.Errorf(export.CodeIncompleteSignature, "Date header is not a valid HTTP date.")
		}
		return t.UTC(), nil
	}
	return time.Time{}, export.Errorf(export.CodeIncompleteSignature,
		"Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
}

// payloadHash decides the hash that was signed.
func payloadHash(r *http.Request, body []byte, presigned bool, service string) (string, error) {
	h := r.Header.Get("X-Amz-Content-Sha256")
	switch {
	case h == UnsignedPayload, strings.HasPrefix(h, streamingPrefix):
		return h, nil
	case h != "":
		if !isHex(h, sha256.Size*2) {
			return "", export.Errorf(export.CodeIncompleteSignature,
				"x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-*, or a valid sha256 value.")
		}
		if body != nil {
			sum := sha256.Sum256(body)
			if subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), []byte(strings.ToLower(h))) != 1 {
				return "", export.Errorf(export.CodeSignatureDoesNotMatch,
					"The provided 'x-amz-content-sha256' header does not match what was computed.")
			}
		}
		return h, nil
	case presigned && service == "s3":
		// S3 presigned URLs never sign the payload.
		return UnsignedPayload, nil
	}
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:]), nil
}

// expectedSignature recomputes the signature with the SDK signer over a
// copy of r that carries only the signed headers, the same method, path,
// query, host and signing time.
func expectedSignature(r *http.Request, a authorization, presigned bool, payloadHash string, creds aws.Credentials) (string, error) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	u := &url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	if presigned {
		q := r.URL.Query()
		q.Del("X-Amz-Signature")
		u.RawQuery = q.Encode()
	}
	req := &http.Request{Method: r.Method, URL: u, Host: r.Host, Header: http.Header{}}
	for _, name := range a.SignedHeaders {
		switch name {
		case "host":
			// The signer takes it from req.Host.
		case "content-length":
			req.ContentLength = r.ContentLength
		default:
			if vs := r.Header.Values(name); len(vs) > 0 {
				req.Header[http.CanonicalHeaderKey(name)] = vs
			}
		}
	}

	// A fresh signer per request: the signer caches derived keys by access
	// key, region and day but not by secret, so a shared one would keep
	// accepting a rotated-out secret until midnight.
	signer := v4.NewSigner(func(o *v4.SignerOptions) {
		// The client already decided which headers went into a presigned
		// query.
		o.DisableHeaderHoisting = true
		// S3 signs the path as sent; every other service escapes it again.
		o.DisableURIPathEscaping = a.Service == "s3"
	})
	ctx := context.Background()
	if presigned {
		signed, _, err := signer.PresignHTTP(ctx, creds, req, payloadHash, a.Service, a.Region, a.Date)
		if err != nil {
			return "", err
		}
		return signed[strings.LastIndex(signed, "X-Amz-Signature=")+len("X-Amz-Signature="):], nil
	}
	if err := signer.SignHTTP(ctx, creds, req, payloadHash, a.Service, a.Region, a.Date); err != nil {
		return "", err
	}
	h := req.Header.Get("Authorization")
	return h[strings.LastIndex(h, "Signature=")+len("Signature="):], nil
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
