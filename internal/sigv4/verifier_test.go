package sigv4_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/sigv4"
)

const (
	testKey     = "AKIDEXAMPLE"
	testSecret  = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	testAccount = "123456789012"
)

var signTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// keys is a CredentialLookup over a map of key → secret, all in one account.
type keys map[string]string

func (k keys) SecretFor(id string) (string, string, bool) {
	s, ok := k[id]
	return s, testAccount, ok
}

var creds = aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret}

func newVerifier() *sigv4.Verifier {
	return &sigv4.Verifier{
		Credentials: keys{testKey: testSecret},
		Now:         func() time.Time { return signTime.Add(time.Minute) },
	}
}

func hashOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// sign signs r in place with the SDK signer.
func sign(t testing.TB, r *http.Request, body []byte, service string, c aws.Credentials, at time.Time) {
	t.Helper()
	err := v4.NewSigner().SignHTTP(context.Background(), c, r, hashOf(body), service, "us-east-1", at)
	if err != nil {
		t.Fatal(err)
	}
}

func TestVerifier_Verify(t *testing.T) {
	// The signature covers the host, so the server is started first and
	// the request is built and signed against its address.
	run := func(t *testing.T, v *sigv4.Verifier, build func(host string) *http.Request) (sigv4.Identity, error) {
		t.Helper()
		type result struct {
			id  sigv4.Identity
			err error
		}
		ch := make(chan result, 1)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var body []byte
			if r.Header.Get("X-Amz-Content-Sha256") == "" {
				body, _ = io.ReadAll(r.Body)
			}
			id, err := v.Verify(r, body)
			ch <- result{id, err}
		}))
		defer srv.Close()
		resp, err := srv.Client().Do(build(srv.URL))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		res := <-ch
		return res.id, res.err
	}
	want := sigv4.Identity{AccessKeyID: testKey, AccountID: testAccount, Region: "us-east-1", Service: "rds"}

	t.Run("GetWithQuery", func(t *testing.T) {
		id, err := run(t, newVerifier(), func(base string) *http.Request {
			r, _ := http.NewRequest(http.MethodGet, base+"/?Action=DescribeExportTasks&Version=2014-10-31&Marker=a%20b+c&Filters.Filter.1.Name=status", nil)
			sign(t, r, nil, "rds", creds, signTime)
			return r
		})
		if err != nil || id != want {
			t.Fatalf("got %+v, %v", id, err)
		}
	})
	t.Run("PostForm", func(t *testing.T) {
		body := []byte("Action=StartExportTask&Version=2014-10-31&ExportTaskIdentifier=my-exp&ExportOnly.member.1=db1")
		id, err := run(t, newVerifier(), func(base string) *http.Request {
			r, _ := http.NewRequest(http.MethodPost, base+"/some/prefix/", bytes.NewReader(body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
			r.Header.Set("User-Agent", "aws-cli/2")
			sign(t, r, body, "rds", creds, signTime)
			return r
		})
		if err != nil || id != want {
			t.Fatalf("got %+v, %v", id, err)
		}
	})
	t.Run("Presigned", func(t *testing.T) {
		id, err := run(t, newVerifier(), func(base string) *http.Request {
			r, _ := http.NewRequest(http.MethodGet, base+"/?Action=DescribeDBClusters&X-Amz-Expires=300", nil)
			u, _, err := v4.NewSigner().PresignHTTP(context.Background(), creds, r, hashOf(nil), "rds", "us-east-1", signTime)
			if err != nil {
				t.Fatal(err)
			}
			r, _ = http.NewRequest(http.MethodGet, u, nil)
			return r
		})
		if err != nil || id != want {
			t.Fatalf("got %+v, %v", id, err)
		}
	})
	t.Run("SessionToken", func(t *testing.T) {
		withToken := creds
		withToken.SessionToken = "FwoGZXIvYXdzEXAMPLETOKEN"
		header := func(base string) *http.Request {
			r, _ := http.NewRequest(http.MethodGet, base+"/?Action=DescribeDBClusters", nil)
			sign(t, r, nil, "rds", withToken, signTime)
			return r
		}
		presigned := func(base string) *http.Request {
			r, _ := http.NewRequest(http.MethodGet, base+"/?Action=DescribeDBClusters&X-Amz-Expires=300", nil)
			u, _, err := v4.NewSigner().PresignHTTP(context.Background(), withToken, r, hashOf(nil), "rds", "us-east-1", signTime)
			if err != nil {
				t.Fatal(err)
			}
			r, _ = http.NewRequest(http.MethodGet, u, nil)
			return r
		}
		for name, build := range map[string]func(string) *http.Request{"Header": header, "Presigned": presigned} {
			_, err := run(t, newVerifier(), build)
			if e, ok := errors.AsType[*export.Error](err); !ok || e.Code != export.CodeInvalidClientTokenID {
				t.Errorf("%s, tokens not allowed: got %v, want InvalidClientTokenId", name, err)
			}
			v := newVerifier()
			v.AllowSessionTokens = true
			if id, err := run(t, v, build); err != nil || id != want {
				t.Errorf("%s, tokens allowed: got %+v, %v", name, id, err)
			}
		}
	})
	s3Want := want
	s3Want.Service = "s3"
	s3Path := "/bucket/exports/some key/ü+%=&;!'()*,$@~.parquet"
	s3Request := func(base, method, payloadHash string, body []byte) *http.Request {
		r, _ := http.NewRequest(method, base+"/", bytes.NewReader(body))
		r.URL.Path = s3Path
		r.URL.RawPath = uriEncode(s3Path)
		r.Header.Set("X-Amz-Content-Sha256", payloadHash)
		r.Header.Set("Content-Type", "application/octet-stream")
		r.Header.Set("X-Amz-Meta-Note", "  two   spaces ")
		if err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).
			SignHTTP(context.Background(), creds, r, payloadHash, "s3", "us-east-1", signTime); err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, c := range []struct {
		name string
		hash func(body []byte) string
	}{
		{"S3HexPayload", hashOf},
		{"S3UnsignedPayload", func([]byte) string { return sigv4.UnsignedPayload }},
		{"S3StreamingSeed", func([]byte) string { return "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := []byte("PAR1 not really parquet")
			id, err := run(t, newVerifier(), func(base string) *http.Request {
				return s3Request(base, http.MethodPut, c.hash(body), body)
			})
			if streaming := strings.HasPrefix(c.hash(body), "STREAMING-"); err == nil && (id.Chunks != nil) != streaming {
				t.Fatalf("Chunks %v for x-amz-content-sha256 %s", id.Chunks, c.hash(body))
			}
			id.Chunks = nil
			if err != nil || id != s3Want {
				t.Fatalf("got %+v, %v", id, err)
			}
		})
	}
	t.Run("S3Presigned", func(t *testing.T) {
		id, err := run(t, newVerifier(), func(base string) *http.Request {
			r, _ := http.NewRequest(http.MethodGet, base+"/", nil)
			r.URL.Path = s3Path
			r.URL.RawPath = uriEncode(s3Path)
			r.URL.RawQuery = "X-Amz-Expires=3600&response-content-type=text%2Fplain"
			u, hdr, err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).
				PresignHTTP(context.Background(), creds, r, sigv4.UnsignedPayload, "s3", "us-east-1", signTime)
			if err != nil {
				t.Fatal(err)
			}
			r, _ = http.NewRequest(http.MethodGet, u, nil)
			for k, v := range hdr {
				if k != "Host" {
					r.Header[k] = v
				}
			}
			return r
		})
		if err != nil || id != s3Want {
			t.Fatalf("got %+v, %v", id, err)
		}
	})
	t.Run("S3PathTampered", func(t *testing.T) {
		_, err := run(t, newVerifier(), func(base string) *http.Request {
			r := s3Request(base, http.MethodGet, sigv4.UnsignedPayload, nil)
			r.URL.Path = "/bucket/other"
			r.URL.RawPath = ""
			return r
		})
		checkCode(t, err, export.CodeSignatureDoesNotMatch)
	})
}

// uriEncode escapes every byte but the unreserved characters and '/', as
// S3 clients do for object keys.
func uriEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~/", c) >= 0 {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
		}
	}
	return b.String()
}

func checkCode(t *testing.T, err error, code string) {
	t.Helper()
	var e *export.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not an *export.Error", err)
	}
	if e.Code != code {
		t.Errorf("code = %s (%s), want %s", e.Code, e.Message, code)
	}
	for _, secret := range []string{testSecret, "Signature=", "X-Amz-Signature="} {
		if strings.Contains(e.Message, secret) {
			t.Errorf("message %q reveals %q", e.Message, secret)
		}
	}
}

// signedPost returns a server-side request signed by the SDK.
func signedPost(t testing.TB, body string, c aws.Credentials, at time.Time) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "http://rds.local:4566/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	sign(t, r, []byte(body), "rds", c, at)
	return r
}

func presigned(t testing.TB, target string, expires int, at time.Time) *http.Request {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	if expires > 0 {
		q := r.URL.Query()
		q.Set("X-Amz-Expires", strconv.Itoa(expires))
		r.URL.RawQuery = q.Encode()
	}
	u, _, err := v4.NewSigner().PresignHTTP(context.Background(), creds, r, hashOf(nil), "rds", "us-east-1", at)
	if err != nil {
		t.Fatal(err)
	}
	return httptest.NewRequest(http.MethodGet, u, nil)
}

func TestVerifier_Verify_Errors(t *testing.T) {
	const body = "Action=DescribeExportTasks&Version=2014-10-31"
	withAuth := func(h string) func() (*http.Request, []byte) {
		return func() (*http.Request, []byte) {
			r := signedPost(t, body, creds, signTime)
			r.Header.Set("Authorization", h)
			return r, []byte(body)
		}
	}
	okAuth := func() string {
		return signedPost(t, body, creds, signTime).Header.Get("Authorization")
	}
	replace := func(old, new string) func() (*http.Request, []byte) {
		return withAuth(strings.Replace(okAuth(), old, new, 1))
	}
	sig := "Signature=" + strings.Repeat("ab", 32)

	for _, c := range []struct {
		name    string
		verify  *sigv4.Verifier
		request func() (*http.Request, []byte)
		code    string
	}{
		{name: "NoAuth", code: export.CodeMissingAuthenticationToken, request: func() (*http.Request, []byte) {
			return httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body)), []byte(body)
		}},
		{name: "HeaderAndQuery", code: export.CodeIncompleteSignature, request: func() (*http.Request, []byte) {
			r := presigned(t, "http://rds.local/?Action=DescribeDBClusters", 60, signTime)
			r.Header.Set("Authorization", okAuth())
			return r, nil
		}},
		{name: "OtherAlgorithm", code: export.CodeIncompleteSignature, request: replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256")},
		{name: "SigV2", code: export.CodeIncompleteSignature, request: withAuth("AWS AKIDEXAMPLE:c2lnbmF0dXJl")},
		{name: "NoCredential", code: export.CodeIncompleteSignature, request: withAuth("AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, " + sig)},
		{name: "NoSignature", code: export.CodeIncompleteSignature, request: withAuth("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240102/us-east-1/rds/aws4_request, SignedHeaders=host")},
		{name: "NoSignedHeaders", code: export.CodeIncompleteSignature, request: withAuth("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240102/us-east-1/rds/aws4_request, " + sig)},
		{name: "ScopeTooShort", code: export.CodeIncompleteSignature, request: replace("/us-east-1/rds/aws4_request", "/us-east-1/aws4_request")},
		{name: "ScopeBadDate", code: export.CodeIncompleteSignature, request: replace("/20240102/", "/2024-01-02/")},
		{name: "ScopeBadTerminator", code: export.CodeIncompleteSignature, request: replace("aws4_request", "aws4_requests")},
		{name: "SignedHeadersWithoutHost", code: export.CodeIncompleteSignature, request: replace("SignedHeaders=content-length;content-type;host;x-amz-date", "SignedHeaders=content-length;content-type;x-amz-date")},
		{name: "SignedHeadersUppercase", code: export.CodeIncompleteSignature, request: replace("SignedHeaders=content-length;content-type;host", "SignedHeaders=content-length;Content-Type;host")},
		{name: "SignatureNotHex", code: export.CodeIncompleteSignature, request: withAuth("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240102/us-east-1/rds/aws4_request, SignedHeaders=host, Signature=xyz")},
		{name: "RepeatedPart", code: export.CodeIncompleteSignature, request: withAuth(okAuth() + ", " + sig)},
		{name: "NoDate", code: export.CodeIncompleteSignature, request: func() (*http.Request, []byte) {
			r := signedPost(t, body, creds, signTime)
			r.Header.Del("X-Amz-Date")
			return r, []byte(body)
		}},
		{name: "BadDate", code: export.CodeIncompleteSignature, request: func() (*http.Request, []byte) {
			r := signedPost(t, body, creds, signTime)
			r.Header.Set("X-Amz-Date", "2024-01-02T03:04:05Z")
			return r, []byte(body)
		}},
		{name: "WrongService", code: export.CodeIncompleteSignature,
			verify:  &sigv4.Verifier{Credentials: keys{testKey: testSecret}, Now: func() time.Time { return signTime }, Service: "s3"},
			request: func() (*http.Request, []byte) { return signedPost(t, body, creds, signTime), []byte(body) }},
		{name: "BadContentSha256", code: export.CodeIncompleteSignature, request: func() (*http.Request, []byte) {
			r := signedPost(t, body, creds, signTime)
			r.Header.Set("X-Amz-Content-Sha256", "not-a-hash")
			return r, []byte(body)
		}},
		{name: "UnknownKey", code: export.CodeInvalidClientTokenID, request: func() (*http.Request, []byte) {
			return signedPost(t, body, aws.Credentials{AccessKeyID: "AKIDUNKNOWN", SecretAccessKey: testSecret}, signTime), []byte(body)
		}},
		{name: "WrongSecret", code: export.CodeSignatureDoesNotMatch, request: func() (*http.Request, []byte) {
			return signedPost(t, body, aws.Credentials{AccessKeyID: testKey, SecretAccessKey: "wrong"}, signTime), []byte(body)
		}},
		{name: "BodyTampered", code: export.CodeSignatureDoesNotMatch, request: func() (*http.Request, []byte) {
			return signedPost(t, body, creds, signTime), []byte(body + "&Marker=x")
		}},
		{name: "QueryTampered", code: export.CodeSignatureDoesNotMatch, request: func() (*http.Request, []byte) {
			r := signedPost(t, body, creds, signTime)
			r.URL.RawQuery = "Action=CancelExportTask"
			return r, []byte(body)
		}},
		{name: "SignedHeaderTampered", code: export.CodeSignatureDoesNotMatch, request: func() (*http.Request, []byte) {
			r := signedPost(t, body, creds, signTime)
			r.Header.Set("Content-Type", "text/plain")
			return r, []byte(body)
		}},
		{name: "SignatureTampered", code: export.CodeSignatureDoesNotMatch, request: func() (*http.Request, []byte) {
			a := okAuth()
			return withAuth(a[:len(a)-64] + strings.Repeat("0", 64))()
		}},
		{name: "ContentSha256Mismatch", code: export.CodeSignatureDoesNotMatch, request: func() (*http.Request, []byte) {
			r := httptest.NewRequest(http.MethodPost, "http://rds.local/", strings.NewReader(body))
			r.Header.Set("X-Amz-Content-Sha256", hashOf([]byte("other")))
			if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hashOf([]byte("other")), "rds", "us-east-1", signTime); err != nil {
				t.Fatal(err)
			}
			return r, []byte(body)
		}},
		{name: "ScopeDateMismatch", code: export.CodeSignatureDoesNotMatch, request: func() (*http.Request, []byte) {
			r := signedPost(t, body, creds, signTime)
			r.Header.Set("X-Amz-Date", signTime.Add(-24*time.Hour).Format("20060102T150405Z"))
			return r, []byte(body)
		}},
		{name: "SkewPast", code: export.CodeRequestExpired, request: func() (*http.Request, []byte) {
			return signedPost(t, body, creds, signTime.Add(-16*time.Minute)), []byte(body)
		}},
		{name: "SkewFuture", code: export.CodeRequestExpired, request: func() (*http.Request, []byte) {
			return signedPost(t, body, creds, signTime.Add(17*time.Minute)), []byte(body)
		}},
		{name: "SkewPastDateHeader", code: export.CodeRequestExpired, request: func() (*http.Request, []byte) {
			past := signTime.Add(-time.Hour)
			r := signedPost(t, body, creds, past)
			r.Header.Del("X-Amz-Date")
			r.Header.Set("Date", past.Format(http.TimeFormat))
			return r, []byte(body)
		}},
		{name: "PresignExpired", code: export.CodeRequestExpired, request: func() (*http.Request, []byte) {
			return presigned(t, "http://rds.local/?Action=DescribeDBClusters", 30, signTime), nil
		}},
		{name: "PresignExpiresTooLong", code: export.CodeIncompleteSignature, request: func() (*http.Request, []byte) {
			return presigned(t, "http://rds.local/?Action=DescribeDBClusters", 604801, signTime), nil
		}},
		{name: "PresignMissingSignature", code: export.CodeIncompleteSignature, request: func() (*http.Request, []byte) {
			r := presigned(t, "http://rds.local/?Action=DescribeDBClusters", 300, signTime)
			q := r.URL.Query()
			q.Del("X-Amz-Signature")
			r.URL.RawQuery = q.Encode()
			return r, nil
		}},
		{name: "PresignTampered", code: export.CodeSignatureDoesNotMatch, request: func() (*http.Request, []byte) {
			r := presigned(t, "http://rds.local/?Action=DescribeDBClusters", 300, signTime)
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "DescribeDBClusters", "DescribeDBInstances", 1)
			return r, nil
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := c.verify
			if v == nil {
				v = newVerifier()
			}
			r, b := c.request()
			id, err := v.Verify(r, b)
			if err == nil {
				t.Fatalf("verified as %+v", id)
			}
			checkCode(t, err, c.code)
		})
	}
}

func TestVerifier_Verify_Skew(t *testing.T) {
	for _, d := range []time.Duration{-14 * time.Minute, 14 * time.Minute, 0} {
		r := signedPost(t, "Action=X", creds, signTime.Add(d))
		v := &sigv4.Verifier{Credentials: keys{testKey: testSecret}, Now: func() time.Time { return signTime }}
		if _, err := v.Verify(r, []byte("Action=X")); err != nil {
			t.Errorf("skew %v: %v", d, err)
		}
	}
	r := signedPost(t, "Action=X", creds, signTime.Add(-2*time.Minute))
	v := &sigv4.Verifier{Credentials: keys{testKey: testSecret}, Now: func() time.Time { return signTime }, MaxSkew: time.Minute}
	_, err := v.Verify(r, []byte("Action=X"))
	checkCode(t, err, export.CodeRequestExpired)
}

func BenchmarkVerify(b *testing.B) {
	body := "Action=DescribeExportTasks&Version=2014-10-31&Filters.Filter.1.Name=status&Filters.Filter.1.Values.Value.1=complete&MaxRecords=20"
	r := signedPost(b, body, creds, signTime)
	v := newVerifier()
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := v.Verify(r, []byte(body)); err != nil {
			b.Fatal(err)
		}
	}
}

// TestVerifier_Verify_SecretRotation checks that a secret replaced in the
// CredentialLookup stops verifying at once.
func TestVerifier_Verify_SecretRotation(t *testing.T) {
	lookup := keys{testKey: testSecret}
	v := &sigv4.Verifier{Credentials: lookup, Now: func() time.Time { return signTime }}
	r := signedPost(t, "Action=X", creds, signTime)
	if _, err := v.Verify(r, []byte("Action=X")); err != nil {
		t.Fatal(err)
	}
	lookup[testKey] = "rotated"
	r = signedPost(t, "Action=X", creds, signTime)
	_, err := v.Verify(r, []byte("Action=X"))
	checkCode(t, err, export.CodeSignatureDoesNotMatch)
}
