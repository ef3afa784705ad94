package sigv4_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/rdsexport/rdsexport/internal/sigv4"
)

// The example of AWS's "Transferring Payload in Multiple Chunks" page: a
// PUT of 66560 bytes of 'a' in chunks of 65536, 1024 and 0 bytes, with the
// seed and chunk signatures AWS publishes. The trailer signature is the one
// the AWS Common Runtime's tests publish for the same request followed by
// the trailing headers first:1st, second:2nd, third:3rd.
const (
	exampleKey     = "AKIAIOSFODNN7EXAMPLE"
	exampleSecret  = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	exampleSeed    = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
	exampleChunk1  = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
	exampleChunk2  = "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
	exampleFinal   = "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
	exampleTrailer = "df5735bd9f3295cd9386572292562fefc93ba94e80a0a1ddcbd652c4e0a75e6c"
)

var exampleTime = time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)

type exampleKeys struct{}

func (exampleKeys) SecretFor(id string) (string, string, bool) {
	return exampleSecret, testAccount, id == exampleKey
}

func exampleRequest(sha string) *http.Request {
	r := httptest.NewRequest(http.MethodPut, "http://s3.amazonaws.com/examplebucket/chunkObject.txt", nil)
	r.Host = "s3.amazonaws.com"
	r.ContentLength = 66824
	r.Header.Set("X-Amz-Date", "20130524T000000Z")
	r.Header.Set("X-Amz-Storage-Class", "REDUCED_REDUNDANCY")
	r.Header.Set("Content-Encoding", "aws-chunked")
	r.Header.Set("X-Amz-Decoded-Content-Length", "66560")
	r.Header.Set("X-Amz-Content-Sha256", sha)
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+exampleKey+"/20130524/us-east-1/s3/aws4_request, "+
		"SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class, "+
		"Signature="+exampleSeed)
	return r
}

func TestVerifier_ChunkSigner(t *testing.T) {
	v := &sigv4.Verifier{Credentials: exampleKeys{}, Now: func() time.Time { return exampleTime }}

	t.Run("AWSExample", func(t *testing.T) {
		id, err := v.Verify(exampleRequest(sigv4.StreamingSignedPayload), nil)
		if err != nil {
			t.Fatal(err)
		}
		c := id.Chunks
		if c == nil {
			t.Fatal("no ChunkSigner for a STREAMING-AWS4-HMAC-SHA256-PAYLOAD request")
		}
		if got := c.SeedSignature(); got != exampleSeed {
			t.Fatalf("seed %s, want %s", got, exampleSeed)
		}
		sig1 := c.ChunkSignature(exampleSeed, sha256.Sum256(bytes.Repeat([]byte("a"), 65536)))
		sig2 := c.ChunkSignature(sig1, sha256.Sum256(bytes.Repeat([]byte("a"), 1024)))
		final := c.ChunkSignature(sig2, sha256.Sum256(nil))
		for i, p := range [][2]string{{sig1, exampleChunk1}, {sig2, exampleChunk2}, {final, exampleFinal}} {
			if p[0] != p[1] {
				t.Errorf("chunk %d signature %s, want %s", i+1, p[0], p[1])
			}
		}
		trailer := c.TrailerSignature(final, sha256.Sum256([]byte("first:1st\nsecond:2nd\nthird:3rd\n")))
		if trailer != exampleTrailer {
			t.Errorf("trailer signature %s, want %s", trailer, exampleTrailer)
		}
	})

	// The SDK's event-stream signer chains signatures the same way, with
	// the headers' hash where aws-chunked has the hash of nothing.
	t.Run("SameAsSDKStreamSigner", func(t *testing.T) {
		id, err := v.Verify(exampleRequest(sigv4.StreamingSignedPayload), nil)
		if err != nil {
			t.Fatal(err)
		}
		seed, _ := hex.DecodeString(exampleSeed)
		sdk := v4.NewStreamSigner(aws.Credentials{AccessKeyID: exampleKey, SecretAccessKey: exampleSecret}, "s3", "us-east-1", seed)
		prev := exampleSeed
		for _, chunk := range [][]byte{[]byte("hello"), bytes.Repeat([]byte{0}, 9000), nil} {
			want, err := sdk.GetSignature(context.Background(), nil, chunk, exampleTime)
			if err != nil {
				t.Fatal(err)
			}
			got := id.Chunks.ChunkSignature(prev, sha256.Sum256(chunk))
			if got != hex.EncodeToString(want) {
				t.Fatalf("chunk %q: %s, SDK %x", chunk, got, want)
			}
			prev = got
		}
	})

	t.Run("OnlyForSignedStreaming", func(t *testing.T) {
		for _, sha := range []string{sigv4.UnsignedPayload, "STREAMING-UNSIGNED-PAYLOAD-TRAILER"} {
			r := exampleRequest(sha)
			if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: exampleKey, SecretAccessKey: exampleSecret},
				r, sha, "s3", "us-east-1", exampleTime); err != nil {
				t.Fatal(err)
			}
			id, err := v.Verify(r, nil)
			if err != nil {
				t.Fatalf("%s: %v", sha, err)
			}
			if id.Chunks != nil {
				t.Errorf("%s: a ChunkSigner for a payload without chunk signatures", sha)
			}
		}
	})
}
