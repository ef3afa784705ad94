package s3server

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/johannesboyne/gofakes3"
)

// Newer clients (aws-sdk-go-v2 since service/s3 v1.73, botocore since
// 1.36, the AWS CLI) send upload bodies in the aws-chunked encoding, often
// with a trailing checksum: x-amz-content-sha256 is one of the STREAMING-*
// values and the body is
//
//	<hex size>[;chunk-signature=<sig>]\r\n<data>\r\n ... 0[;chunk-signature=<sig>]\r\n
//	[x-amz-checksum-<alg>:<base64>\r\n][x-amz-trailer-signature:<sig>\r\n]\r\n
//
// gofakes3 only decodes the signed variant without trailer, and only for
// PutObject (not UploadPart); given anything else it stores the framing as
// content. decodeAWSChunked therefore decodes every variant before gofakes3
// sees the request, and checks the checksum the client sent (in a header or
// in the trailer), so that the stored object is exactly the content sent.
// Chunk signatures are not verified here: that belongs to the SigV4 layer.

// maxChunkLine bounds one chunk header or trailer line.
const maxChunkLine = 4096

var crc64NVME = crc64.MakeTable(0x9a6c9329ac4bc9b5)

// checksumHash returns the hash behind an x-amz-checksum-<alg> header name,
// or nil for an algorithm this server does not know.
func checksumHash(header string) hash.Hash {
	switch strings.ToLower(header) {
	case "x-amz-checksum-crc32":
		return crc32.NewIEEE()
	case "x-amz-checksum-crc32c":
		return crc32.New(crc32.MakeTable(crc32.Castagnoli))
	case "x-amz-checksum-crc64nvme":
		return crc64.New(crc64NVME)
	case "x-amz-checksum-sha1":
		return sha1.New()
	case "x-amz-checksum-sha256":
		return sha256.New()
	}
	return nil
}

// decodeAWSChunked wraps next: it rewrites aws-chunked requests into plain
// ones (body, Content-Length, x-amz-content-sha256, Content-Encoding) and
// makes the body fail with BadDigest when a declared checksum does not
// match, which makes the backend discard the upload.
func decodeAWSChunked(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut && r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		sha := r.Header.Get("X-Amz-Content-Sha256")
		chunked := strings.HasPrefix(sha, "STREAMING-") || hasToken(r.Header.Get("Content-Encoding"), "aws-chunked")

		var sumName, want string
		for name := range r.Header {
			if lower := strings.ToLower(name); strings.HasPrefix(lower, "x-amz-checksum-") && lower != "x-amz-checksum-type" && lower != "x-amz-checksum-algorithm" {
				sumName, want = lower, r.Header.Get(name)
			}
		}
		if !chunked {
			// Only PutObject and UploadPart bodies are object content; a
			// CompleteMultipartUpload may carry the whole object's checksum.
			if h := checksumHash(sumName); h != nil && r.Body != nil && r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") == "" {
				r.Body = &checksumBody{r: r.Body, c: r.Body, h: h, name: sumName, want: want}
			}
			next.ServeHTTP(w, r)
			return
		}

		decoded, err := strconv.ParseInt(r.Header.Get("X-Amz-Decoded-Content-Length"), 10, 64)
		if err != nil || decoded < 0 {
			writeError(w, r, gofakes3.ErrMissingContentLength)
			return
		}
		cr := &chunkedBody{
			br:      bufio.NewReaderSize(r.Body, 64<<10),
			c:       r.Body,
			want:    decoded,
			sumName: sumName,
			sumWant: want,
		}
		if trailer := strings.ToLower(strings.TrimSpace(r.Header.Get("X-Amz-Trailer"))); trailer != "" {
			cr.sumName, cr.sumWant = trailer, ""
		}
		cr.h = checksumHash(cr.sumName)

		r.Body = cr
		r.ContentLength = decoded
		r.Header.Set("Content-Length", strconv.FormatInt(decoded, 10))
		r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
		r.Header.Del("X-Amz-Decoded-Content-Length")
		r.Header.Del("X-Amz-Trailer")
		if enc := removeToken(r.Header.Get("Content-Encoding"), "aws-chunked"); enc != "" {
			r.Header.Set("Content-Encoding", enc)
		} else {
			r.Header.Del("Content-Encoding")
		}
		next.ServeHTTP(w, r)
	})
}

func hasToken(list, token string) bool {
	for _, t := range strings.Split(list, ",") {
		if strings.EqualFold(strings.TrimSpace(t), token) {
			return true
		}
	}
	return false
}

func removeToken(list, token string) string {
	var keep []string
	for _, t := range strings.Split(list, ",") {
		if t = strings.TrimSpace(t); t != "" && !strings.EqualFold(t, token) {
			keep = append(keep, t)
		}
	}
	return strings.Join(keep, ",")
}

func badDigest(name string) error {
	return gofakes3.ErrorMessagef(gofakes3.ErrBadDigest, "the %s you specified did not match the calculated checksum", name)
}

// checksumBody checks a plain body against an x-amz-checksum-* header.
type checksumBody struct {
	r    io.Reader
	c    io.Closer
	h    hash.Hash
	name string
	want string
}

func (b *checksumBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.h.Write(p[:n])
	if errors.Is(err, io.EOF) && base64.StdEncoding.EncodeToString(b.h.Sum(nil)) != b.want {
		return n, badDigest(b.name)
	}
	return n, err
}

func (b *checksumBody) Close() error { return b.c.Close() }

// chunkedBody decodes an aws-chunked body.
type chunkedBody struct {
	br   *bufio.Reader
	c    io.Closer
	want int64 // x-amz-decoded-content-length
	got  int64
	left int64 // bytes left in the current chunk
	err  error // sticky

	sumName string
	sumWant string
	h       hash.Hash // nil: no checksum to check
}

func (b *chunkedBody) Close() error { return b.c.Close() }

func (b *chunkedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	for b.left == 0 {
		if err := b.nextChunk(); err != nil {
			b.err = err
			return 0, err
		}
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.br.Read(p)
	b.left -= int64(n)
	b.got += int64(n)
	if b.h != nil {
		b.h.Write(p[:n])
	}
	if b.got > b.want {
		b.err = gofakes3.ErrorMessage(gofakes3.ErrIncompleteBody, "body longer than x-amz-decoded-content-length")
		return n, b.err
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		b.err = err
		return n, err
	}
	if b.left == 0 {
		if err := b.expectCRLF(); err != nil {
			b.err = err
			return n, err
		}
	}
	return n, nil
}

func (b *chunkedBody) line() (string, error) {
	line, err := b.br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) || len(line) > maxChunkLine {
			return "", gofakes3.ErrorMessage(gofakes3.ErrInvalidArgument, "aws-chunked line too long")
		}
		if errors.Is(err, io.EOF) {
			if len(line) == 0 {
				return "", io.EOF
			}
			err = io.ErrUnexpectedEOF
		}
		return "", err
	}
	if len(line) > maxChunkLine {
		return "", gofakes3.ErrorMessage(gofakes3.ErrInvalidArgument, "aws-chunked line too long")
	}
	return string(bytes.TrimRight(line, "\r\n")), nil
}

func (b *chunkedBody) expectCRLF() error {
	l, err := b.line()
	if err != nil {
		return err
	}
	if l != "" {
		return gofakes3.ErrorMessage(gofakes3.ErrInvalidArgument, "malformed aws-chunked body: chunk not followed by CRLF")
	}
	return nil
}

// nextChunk reads a chunk header. At the final (zero) chunk it reads the
// trailers, checks length and checksum, and returns io.EOF.
func (b *chunkedBody) nextChunk() error {
	l, err := b.line()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	sizeText, _, _ := strings.Cut(l, ";")
	size, err := strconv.ParseInt(strings.TrimSpace(sizeText), 16, 64)
	if err != nil || size < 0 {
		return gofakes3.ErrorMessage(gofakes3.ErrInvalidArgument, "malformed aws-chunked chunk size")
	}
	if size > 0 {
		b.left = size
		return nil
	}

	// Trailers, up to an empty line or the end of the body.
	got := ""
	for {
		l, err := b.line()
		if errors.Is(err, io.EOF) || err == nil && l == "" {
			break
		}
		if err != nil {
			return err
		}
		name, value, _ := strings.Cut(l, ":")
		if strings.EqualFold(strings.TrimSpace(name), b.sumName) {
			got = strings.TrimSpace(value)
		}
	}
	if b.got != b.want {
		return gofakes3.ErrorMessagef(gofakes3.ErrIncompleteBody, "got %d bytes, x-amz-decoded-content-length is %d", b.got, b.want)
	}
	if b.sumWant == "" {
		b.sumWant = got
	}
	if b.h != nil && b.sumWant != "" && base64.StdEncoding.EncodeToString(b.h.Sum(nil)) != b.sumWant {
		return badDigest(b.sumName)
	}
	return io.EOF
}
