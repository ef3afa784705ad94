package sigv4

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rdsexport/rdsexport/internal/export"
)

// authorization is what a request claims about its signature.
type authorization struct {
	AccessKeyID   string
	ScopeDate     string // yyyymmdd from the credential scope
	Region        string
	Service       string
	SignedHeaders []string // lowercase, as listed by the client
	Signature     string
	Date          time.Time     // signing time (X-Amz-Date or Date)
	Expires       time.Duration // presigned only; 0 when absent
}

func incomplete(format string, args ...any) error {
	return export.Errorf(export.CodeIncompleteSignature, format, args...)
}

// parseAuthorization parses an Authorization header of the form
//
//	AWS4-HMAC-SHA256 Credential=<key>/<yyyymmdd>/<region>/<service>/aws4_request, SignedHeaders=<h1;h2>, Signature=<hex>
//
// It checks the syntax only: the returned value has no Date yet. The parts
// may be separated by commas with or without spaces and appear in any order.
//
// Errors: IncompleteSignature (*export.Error) for another algorithm, a
// missing or repeated part, a malformed credential scope, signed headers
// without host, or a signature that is not 64 hex digits. Messages never
// contain the header's signature.
func parseAuthorization(h string) (authorization, error) {
	var a authorization
	alg, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if alg != algorithm {
		return a, incomplete("Unsupported AWS 'algorithm': only %s is supported.", algorithm)
	}
	var cred, signed, sig string
	var haveCred, haveSigned, haveSig bool
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return a, incomplete("Authorization header is malformed: '%s' is not a key=value pair.", redact(part))
		}
		var seen *bool
		switch k {
		case "Credential":
			cred, seen = v, &haveCred
		case "SignedHeaders":
			signed, seen = v, &haveSigned
		case "Signature":
			sig, seen = v, &haveSig
		default:
			return a, incomplete("Authorization header is malformed: unknown part '%s'.", redact(k))
		}
		if *seen {
			return a, incomplete("Authorization header is malformed: '%s' appears more than once.", k)
		}
		*seen = true
	}
	var missing []string
	for _, m := range []struct {
		name string
		ok   bool
	}{{"Credential", haveCred}, {"Signature", haveSig}, {"SignedHeaders", haveSigned}} {
		if !m.ok {
			missing = append(missing, "Authorization header requires '"+m.name+"' parameter.")
		}
	}
	if missing != nil {
		return a, incomplete("%s", strings.Join(missing, " "))
	}
	if err := a.setCredential(cred); err != nil {
		return a, err
	}
	if err := a.setSignedHeaders(signed); err != nil {
		return a, err
	}
	if !isHex(sig, 64) {
		return a, incomplete("Signature must be 64 hexadecimal digits.")
	}
	a.Signature = strings.ToLower(sig)
	return a, nil
}

// redact shortens client text echoed in a message, so that a misplaced
// secret or signature is never sent back whole.
func redact(s string) string {
	if len(s) > 20 {
		return s[:20] + "..."
	}
	return s
}

// setCredential parses <key>/<yyyymmdd>/<region>/<service>/aws4_request.
func (a *authorization) setCredential(c string) error {
	parts := strings.Split(c, "/")
	if len(parts) != 5 || parts[0] == "" || parts[2] == "" || parts[3] == "" {
		return incomplete("Credential should be scoped to a valid region, service and date: <access key>/<yyyymmdd>/<region>/<service>/aws4_request.")
	}
	if _, err := time.Parse(dateFormat, parts[1]); err != nil || len(parts[1]) != 8 {
		return incomplete("Credential should be scoped to a valid date (yyyymmdd), not '%s'.", redact(parts[1]))
	}
	if parts[4] != terminator {
		return incomplete("Credential should be scoped with a valid terminator: 'aws4_request', not '%s'.", redact(parts[4]))
	}
	a.AccessKeyID, a.ScopeDate, a.Region, a.Service = parts[0], parts[1], parts[2], parts[3]
	return nil
}

// setSignedHeaders parses the ;-separated list; host must be signed.
func (a *authorization) setSignedHeaders(s string) error {
	if s == "" {
		return incomplete("SignedHeaders must not be empty.")
	}
	hs := strings.Split(s, ";")
	for _, h := range hs {
		if h == "" || strings.ToLower(h) != h || strings.ContainsAny(h, " \t:") {
			return incomplete("SignedHeaders must be lowercase header names separated by ';'.")
		}
	}
	if !slices.Contains(hs, "host") {
		return incomplete("'Host' must be a 'SignedHeader' in the AWS Authorization.")
	}
	a.SignedHeaders = hs
	return nil
}

// parsePresigned reads the X-Amz-* query parameters of a presigned request.
//
// Errors: IncompleteSignature for a missing or malformed parameter or an
// X-Amz-Expires outside 1s..7 days.
func parsePresigned(q url.Values) (authorization, error) {
	var a authorization
	var missing []string
	for _, k := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Signature"} {
		if q.Get(k) == "" {
			missing = append(missing, k)
		}
	}
	if missing != nil {
		return a, incomplete("AWS query-string parameters must include %s.", strings.Join(missing, ", "))
	}
	if q.Get("X-Amz-Algorithm") != algorithm {
		return a, incomplete("X-Amz-Algorithm only supports '%s'.", algorithm)
	}
	if err := a.setCredential(q.Get("X-Amz-Credential")); err != nil {
		return a, err
	}
	if err := a.setSignedHeaders(q.Get("X-Amz-SignedHeaders")); err != nil {
		return a, err
	}
	sig := q.Get("X-Amz-Signature")
	if !isHex(sig, 64) {
		return a, incomplete("X-Amz-Signature must be 64 hexadecimal digits.")
	}
	a.Signature = strings.ToLower(sig)
	t, err := time.Parse(timeFormat, q.Get("X-Amz-Date"))
	if err != nil {
		return a, incomplete("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
	}
	a.Date = t
	if e := q.Get("X-Amz-Expires"); e != "" {
		n, err := strconv.ParseInt(e, 10, 64)
		if err != nil || n < 1 || time.Duration(n)*time.Second > maxPresignExpires {
			return a, incomplete("X-Amz-Expires must be a number of seconds between 1 and 604800.")
		}
		a.Expires = time.Duration(n) * time.Second
	}
	return a, nil
}
