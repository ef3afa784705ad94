package s3server_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/rdsexport/rdsexport/internal/exporttest"
)

// The keys of the tests' SigV4 layer, as the server's configuration would
// have them: two accounts, and the account of the object store suite.
const (
	accountA = "000000000000"
	accountB = "111122223333"
)

var (
	keyA     = aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}
	keyB     = aws.Credentials{AccessKeyID: "team2", SecretAccessKey: "s2"}
	keySuite = aws.Credentials{AccessKeyID: "suite", SecretAccessKey: "suite-secret"}
)

// authenticate is the SigV4 layer in front of the server, as
// cmd/rdsexport's router has it.
func authenticate(h http.Handler) http.Handler {
	return exporttest.SigV4S3(h, map[string]exporttest.S3Key{
		keyA.AccessKeyID:     {Secret: keyA.SecretAccessKey, Account: accountA},
		keyB.AccessKeyID:     {Secret: keyB.SecretAccessKey, Account: accountB},
		keySuite.AccessKeyID: {Secret: keySuite.SecretAccessKey, Account: exporttest.SuiteAccount},
	})
}

// signedRequest returns a request signed by key with the SDK signer, the
// payload hash sha standing in x-amz-content-sha256.
func signedRequest(t testing.TB, key aws.Credentials, method, url string, body io.Reader, sha string, header http.Header) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("X-Amz-Content-Sha256", sha)
	if err := v4.NewSigner().SignHTTP(context.Background(), key, req, sha, "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	return req
}

// do sends req and returns the response with its body read.
func do(t testing.TB, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// s3Error is an S3 error document.
type s3Error struct {
	Code      string
	Message   string
	RequestID string `xml:"RequestId"`
}

// wantError fails unless the response is the S3 error code with status.
func wantError(t testing.TB, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	var e s3Error
	if err := xml.Unmarshal(body, &e); err != nil && resp.Request.Method != http.MethodHead {
		t.Fatalf("status %d, body is not an S3 error (%v): %s", resp.StatusCode, err, body)
	}
	if resp.StatusCode != status || resp.Request.Method != http.MethodHead && (e.Code != code || e.Message == "" || e.RequestID == "") {
		t.Fatalf("got %d %+v, want %d %s with a Message and a RequestId", resp.StatusCode, e, status, code)
	}
}

func sha256Hex(p []byte) string {
	s := sha256.Sum256(p)
	return hex.EncodeToString(s[:])
}

// chunkedUpload is an aws-chunked body signed the way S3 documents, built
// independently of the server's code: chunk signatures with the SDK's
// event-stream signer (the same chain, with the hash of no headers), the
// trailer signature from a key derived here.
type chunkedUpload struct {
	key      aws.Credentials
	at       time.Time
	chunks   [][]byte
	sha      string // x-amz-content-sha256
	trailer  string // "x-amz-checksum-crc32:<base64>" or ""
	trailerH string // x-amz-trailer header, "" for none

	// Tampering.
	corruptChunk   int    // 1-based chunk whose signature is replaced by corruptSig
	corruptSig     string // "" drops the chunk-signature extension
	badTrailerSig  bool
	noTrailerSig   bool
	swapFirstBytes bool // change the data of the first chunk after signing
}

func (u chunkedUpload) request(t testing.TB, url string) *http.Request {
	t.Helper()
	decoded := 0
	for _, c := range u.chunks {
		decoded += len(c)
	}
	req, err := http.NewRequest(http.MethodPut, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Content-Sha256", u.sha)
	req.Header.Set("Content-Encoding", "aws-chunked")
	req.Header.Set("X-Amz-Decoded-Content-Length", fmt.Sprint(decoded))
	if u.trailerH != "" {
		req.Header.Set("X-Amz-Trailer", u.trailerH)
	}
	if err := v4.NewSigner().SignHTTP(context.Background(), u.key, req, u.sha, "s3", "us-east-1", u.at); err != nil {
		t.Fatal(err)
	}
	auth := req.Header.Get("Authorization")
	seedHex := auth[strings.LastIndex(auth, "Signature=")+len("Signature="):]
	seed, _ := hex.DecodeString(seedHex)
	signed := strings.HasPrefix(u.sha, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
	ss := v4.NewStreamSigner(u.key, "s3", "us-east-1", seed)

	var b strings.Builder
	prev := seedHex
	for i, c := range append(u.chunks, nil) {
		ext := ""
		if signed {
			sig, err := ss.GetSignature(context.Background(), nil, c, u.at)
			if err != nil {
				t.Fatal(err)
			}
			prev = hex.EncodeToString(sig)
			ext = ";chunk-signature=" + prev
			if i+1 == u.corruptChunk {
				ext = ""
				if u.corruptSig != "" {
					ext = ";chunk-signature=" + u.corruptSig
				}
			}
		}
		data := string(c)
		if i == 0 && u.swapFirstBytes && len(data) > 1 {
			data = data[1:2] + data[:1] + data[2:]
		}
		fmt.Fprintf(&b, "%x%s\r\n%s", len(c), ext, data)
		if len(c) > 0 {
			b.WriteString("\r\n")
		}
	}
	if u.trailer != "" {
		b.WriteString(u.trailer + "\r\n")
		if signed && !u.noTrailerSig {
			sig := trailerSignature(u.key.SecretAccessKey, u.at, prev, u.trailer+"\n")
			if u.badTrailerSig {
				sig = strings.Repeat("0", 64)
			}
			b.WriteString("x-amz-trailer-signature:" + sig + "\r\n")
		}
	}
	b.WriteString("\r\n")
	req.Body = io.NopCloser(strings.NewReader(b.String()))
	req.ContentLength = int64(b.Len())
	return req
}

// trailerSignature signs trailing headers as AWS documents it.
func trailerSignature(secret string, at time.Time, prev, trailer string) string {
	mac := func(key []byte, data string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(data))
		return h.Sum(nil)
	}
	day := at.UTC().Format("20060102")
	key := mac([]byte("AWS4"+secret), day)
	for _, p := range []string{"us-east-1", "s3", "aws4_request"} {
		key = mac(key, p)
	}
	sum := sha256.Sum256([]byte(trailer))
	return hex.EncodeToString(mac(key, "AWS4-HMAC-SHA256-TRAILER\n"+at.UTC().Format("20060102T150405Z")+"\n"+
		day+"/us-east-1/s3/aws4_request\n"+prev+"\n"+hex.EncodeToString(sum[:])))
}
