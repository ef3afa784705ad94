package s3server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"

	"github.com/rdsexport/rdsexport/internal/engine"
)

// fuzzSigner signs chunks with the string to sign of AWS's chunked upload
// and a fixed key.
type fuzzSigner struct{}

var fuzzKey = []byte("fuzz signing key")

func (fuzzSigner) SeedSignature() string { return strings.Repeat("5e", 32) }

func (fuzzSigner) ChunkSignature(prev string, sum [sha256.Size]byte) string {
	return fuzzMAC("AWS4-HMAC-SHA256-PAYLOAD\n20240102T030405Z\n20240102/us-east-1/s3/aws4_request\n" + prev +
		"\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n" + hex.EncodeToString(sum[:]))
}

func (fuzzSigner) TrailerSignature(prev string, sum [sha256.Size]byte) string {
	return fuzzMAC("AWS4-HMAC-SHA256-TRAILER\n20240102T030405Z\n20240102/us-east-1/s3/aws4_request\n" + prev + "\n" + hex.EncodeToString(sum[:]))
}

func fuzzMAC(s string) string {
	h := hmac.New(sha256.New, fuzzKey)
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil))
}

// encodeSigned is a valid signed aws-chunked body of content in chunks of
// size, with a signed CRC32 trailer when trailer is set.
func encodeSigned(content []byte, size int, trailer bool) []byte {
	var s fuzzSigner
	var b bytes.Buffer
	prev := s.SeedSignature()
	for i := 0; ; i += size {
		chunk := content[min(i, len(content)):min(i+size, len(content))]
		prev = s.ChunkSignature(prev, sha256.Sum256(chunk))
		fmt.Fprintf(&b, "%x;chunk-signature=%s\r\n", len(chunk), prev)
		if len(chunk) == 0 {
			break
		}
		b.Write(chunk)
		b.WriteString("\r\n")
	}
	if trailer {
		crc := crc32.ChecksumIEEE(content)
		line := "x-amz-checksum-crc32:" + base64.StdEncoding.EncodeToString([]byte{byte(crc >> 24), byte(crc >> 16), byte(crc >> 8), byte(crc)})
		b.WriteString(line + "\r\n")
		b.WriteString("x-amz-trailer-signature:" + s.TrailerSignature(prev, sha256.Sum256([]byte(line+"\n"))) + "\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// decodeFuzz runs chunkedBody over body as decodeAWSChunked sets it up.
func decodeFuzz(body []byte, decoded int64, sha, trailer string) ([]byte, error) {
	r, _ := http.NewRequest(http.MethodPut, "http://s3.test/b/k", bytes.NewReader(body))
	r.Header.Set("X-Amz-Content-Sha256", sha)
	r.Header.Set("Content-Encoding", "aws-chunked")
	r.Header.Set("X-Amz-Decoded-Content-Length", fmt.Sprint(decoded))
	if trailer != "" {
		r.Header.Set("X-Amz-Trailer", trailer)
	}
	var signer ChunkSigner
	if strings.HasPrefix(sha, "STREAMING-AWS4-HMAC") {
		signer = fuzzSigner{}
	}
	if err := decodeAWSChunked(r, sha, signer, "", ""); err != nil {
		return nil, err
	}
	// Small reads exercise the chunk boundaries.
	var out bytes.Buffer
	_, err := io.Copy(&out, bufio.NewReaderSize(r.Body, 16))
	return out.Bytes(), err
}

var fuzzModes = []struct{ sha, trailer string }{
	{streamingSigned, ""},
	{streamingSignedTrailer, "x-amz-checksum-crc32"},
	{streamingUnsignedTrailer, "x-amz-checksum-crc32"},
	{unsignedPayload, ""},
}

// FuzzChunkedBody decodes arbitrary aws-chunked bodies in every mode: the
// decoder never panics or hangs, succeeds only with exactly
// x-amz-decoded-content-length bytes, and fails with an S3 error code.
func FuzzChunkedBody(f *testing.F) {
	content := []byte(strings.Repeat("rdsexport ", 50))
	f.Add(encodeSigned(content, 128, false), uint16(len(content)), uint8(0))
	f.Add(encodeSigned(content, 200, true), uint16(len(content)), uint8(1))
	f.Add([]byte("5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n"), uint16(5), uint8(2))
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"), uint16(5), uint8(3))
	f.Add([]byte("+5;chunk-signature=00\r\nhello\r\n"), uint16(5), uint8(0))
	f.Add([]byte("0;chunk-signature="+strings.Repeat("0", 64)+"\r\n\r\ntrailing"), uint16(0), uint8(0))
	f.Fuzz(func(t *testing.T, body []byte, decoded uint16, mode uint8) {
		m := fuzzModes[int(mode)%len(fuzzModes)]
		out, err := decodeFuzz(body, int64(decoded), m.sha, m.trailer)
		if err != nil {
			var e gofakes3.Error
			if !errors.As(err, &e) {
				t.Fatalf("error without an S3 code: %v", err)
			}
			return
		}
		if len(out) != int(decoded) {
			t.Fatalf("decoded %d bytes, x-amz-decoded-content-length %d", len(out), decoded)
		}
	})
}

// FuzzChunkedTamper changes one byte of a validly signed body: the decoder
// either refuses it or yields exactly the content that was signed.
func FuzzChunkedTamper(f *testing.F) {
	f.Add([]byte("hello, world"), uint16(5), uint32(3), byte('x'), false)
	f.Add([]byte(strings.Repeat("abc", 1000)), uint16(1000), uint32(1500), byte(0), true)
	f.Add([]byte("x"), uint16(1), uint32(0), byte('2'), true)
	f.Fuzz(func(t *testing.T, content []byte, size uint16, pos uint32, b byte, trailer bool) {
		if size == 0 || len(content) > 1<<16 {
			return
		}
		body := encodeSigned(content, int(size), trailer)
		body[int(pos)%len(body)] = b
		m := fuzzModes[0]
		if trailer {
			m = fuzzModes[1]
		}
		out, err := decodeFuzz(body, int64(len(content)), m.sha, m.trailer)
		if err == nil && !bytes.Equal(out, content) {
			t.Fatalf("a tampered body decoded to %q, not the signed %q", out, content)
		}
	})
}

// FuzzObjectKey stores an object under an arbitrary key through the
// in-process store: a key checkKey accepts is stored, found by its own
// path, listed back unchanged (XML included) and deleted; any other is
// refused with KeyTooLongError or InvalidArgument and leaves nothing.
func FuzzObjectKey(f *testing.F) {
	for _, k := range []string{"a", "a/b.parquet", "../../etc/passwd", "/leading", "a//b", "a b+c%20d", "ü/∑", "\x00", "a\x01b",
		"\t\r\n", strings.Repeat("k", 1024), strings.Repeat("k", 1025), "\xff\xfe", "🙂", "\uFFFE", "."} {
		f.Add(k)
	}
	dir := f.TempDir()
	srv, err := New(dir, Params{AccountID: "000000000000"})
	if err != nil {
		f.Fatal(err)
	}
	o := srv.Objects()
	ctx := context.Background()
	if err := o.CreateBucket(ctx, "fuzz"); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, key string) {
		err := o.Put(ctx, "fuzz", key, strings.NewReader(key))
		if cerr := checkKey(key); cerr != nil {
			var oe *engine.ObjectStoreError
			if !errors.As(err, &oe) || oe.Code != "KeyTooLongError" && oe.Code != "InvalidArgument" {
				t.Fatalf("Put(%q) of a refused key: %v", key, err)
			}
			if keys, _ := o.List(ctx, "fuzz", ""); len(keys) != 0 {
				t.Fatalf("refused key %q left %q", key, keys)
			}
			return
		}
		if err != nil {
			t.Fatalf("Put(%q): %v", key, err)
		}
		defer func() {
			if err := srv.backend.deleteObject("000000000000", "fuzz", key); err != nil {
				t.Fatal(err)
			}
			if keys, _ := o.List(ctx, "fuzz", ""); len(keys) != 0 {
				t.Fatalf("after delete: %q", keys)
			}
		}()

		// The request path a client sends for it names it again.
		u := &url.URL{Scheme: "http", Host: "s3.test", Path: "/fuzz/" + key}
		r, err := http.NewRequest(http.MethodGet, u.String(), nil)
		if err != nil {
			t.Fatalf("URL for %q: %v", key, err)
		}
		if got := parseTarget(r.URL.Path); got.bucket != "fuzz" || got.key != key {
			t.Fatalf("path %q names %+v, want key %q", u.String(), got, key)
		}
		obj, err := srv.backend.getObject("000000000000", "fuzz", key, nil)
		if err != nil {
			t.Fatal(err)
		}
		content, _ := io.ReadAll(obj.Contents)
		obj.Contents.Close()
		if string(content) != key {
			t.Fatalf("content %q, want %q", content, key)
		}
		if obj.Metadata["Last-Modified"] == "" || obj.Metadata["Content-Type"] == "" {
			t.Fatalf("object headers %v", obj.Metadata)
		}

		list, err := srv.backend.listBucket("000000000000", "fuzz", &gofakes3.Prefix{}, gofakes3.ListBucketPage{})
		if err != nil || len(list.Contents) != 1 {
			t.Fatalf("list: %+v %v", list, err)
		}
		// What an S3 client parses from the listing.
		doc, err := xml.Marshal(gofakes3.ListBucketResultV2{ListBucketResultBase: gofakes3.ListBucketResultBase{Contents: list.Contents}})
		if err != nil {
			t.Fatal(err)
		}
		var parsed struct {
			Contents []struct{ Key string }
		}
		if err := xml.Unmarshal(doc, &parsed); err != nil || len(parsed.Contents) != 1 || parsed.Contents[0].Key != key {
			t.Fatalf("key %q lists as %+v (%v)", key, parsed, err)
		}
	})
}
