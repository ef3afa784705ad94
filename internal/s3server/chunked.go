package s3server

import (
	"bufio"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
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
// gofakes3 decodes only the signed variant without trailer, only for
// PutObject, and checks no signature; given anything else it stores the
// framing as content. chunkedBody therefore decodes every variant before
// gofakes3 sees the request and checks, while the body streams, the chunk
// signatures (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER], chained from
// the request's seed signature), the trailer's signature and the checksum
// the client declared (in a header or in the trailer). A failure makes the
// body fail, and the backend then discards what it received: the stored
// object is exactly the content sent and signed.
// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html
// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html

// Values of x-amz-content-sha256 that announce an aws-chunked body.
const (
	streamingSigned          = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	streamingSignedTrailer   = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	streamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	unsignedPayload          = "UNSIGNED-PAYLOAD"
)

// ChunkSigner computes the signatures of an aws-chunked body whose request
// was signed with STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]. The SigV4
// layer in front of the server builds it from the verified request (with
// the signing key derived from the caller's secret) and hands it over with
// WithChunkSigner; sigv4.ChunkSigner implements it. Signatures are
// lowercase hex.
type ChunkSigner interface {
	// SeedSignature is the request's own signature, on which the first
	// chunk's is chained.
	SeedSignature() string
	// ChunkSignature returns the signature of a chunk whose content hashes
	// to sum and follows the signature prev.
	ChunkSignature(prev string, sum [sha256.Size]byte) string
	// TrailerSignature returns the signature of the trailing headers,
	// "name:value\n" each, that hash to sum and follow the final chunk's
	// signature prev.
	TrailerSignature(prev string, sum [sha256.Size]byte) string
}

type chunkSignerKey struct{}

// WithChunkSigner returns a context carrying the ChunkSigner of the
// request it belongs to. Without one, a body that announces signed chunks
// is refused with SignatureDoesNotMatch.
func WithChunkSigner(ctx context.Context, s ChunkSigner) context.Context {
	return context.WithValue(ctx, chunkSignerKey{}, s)
}

func chunkSignerFrom(ctx context.Context) ChunkSigner {
	s, _ := ctx.Value(chunkSignerKey{}).(ChunkSigner)
	return s
}

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

func badDigest(name string) error {
	return gofakes3.ErrorMessagef(gofakes3.ErrBadDigest, "The %s you specified did not match the calculated checksum.", name)
}

func signatureMismatch(what string) error {
	return gofakes3.ErrorMessagef(codeSignatureDoesNotMatch,
		"The %s we calculated does not match the one you provided. Check your key and signing method.", what)
}

func malformedChunk(format string, args ...any) error {
	return gofakes3.ErrorMessagef(gofakes3.ErrIncompleteBody, "The aws-chunked body is malformed: "+format, args...)
}

func malformedTrailer(format string, args ...any) error {
	return gofakes3.ErrorMessagef(codeMalformedTrailer, "The request contained trailing data that was not well-formed: "+format, args...)
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

// sha256Body checks a body against the hex SHA-256 the client signed in
// x-amz-content-sha256: at its end, before the backend commits anything.
type sha256Body struct {
	r    io.Reader
	c    io.Closer
	h    hash.Hash
	want []byte
	err  error
}

func newSHA256Body(body io.ReadCloser, wantHex string) *sha256Body {
	want := make([]byte, sha256.Size)
	for i := range want {
		v, _ := strconv.ParseUint(wantHex[2*i:2*i+2], 16, 8) // checked as hex by the caller
		want[i] = byte(v)
	}
	return &sha256Body{r: body, c: body, h: sha256.New(), want: want}
}

func (b *sha256Body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.r.Read(p)
	b.h.Write(p[:n])
	if errors.Is(err, io.EOF) && subtle.ConstantTimeCompare(b.h.Sum(nil), b.want) != 1 {
		b.err = gofakes3.ErrorMessage(codeContentSHA256Mismatch, s3Errors[codeContentSHA256Mismatch].message)
		return n, b.err
	}
	return n, err
}

func (b *sha256Body) Close() error { return b.c.Close() }

// chunkedBody decodes an aws-chunked body, checking what was signed and
// declared about it. Its errors are sticky gofakes3 errors.
type chunkedBody struct {
	br   *bufio.Reader
	c    io.Closer
	want int64 // x-amz-decoded-content-length
	got  int64
	left int64 // bytes left in the current chunk
	err  error

	// Signed chunks: signer is nil for unsigned payloads.
	signer        ChunkSigner
	signedTrailer bool
	prevSig       string
	chunkSig      string // the current chunk's signature, as sent
	chunkHash     hash.Hash

	// The checksum to check: from a header (sumWant set) or from the
	// trailer named sumName (trailer true).
	sumName string
	sumWant string
	trailer bool
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
	if b.chunkHash != nil {
		b.chunkHash.Write(p[:n])
	}
	if b.got > b.want {
		b.err = gofakes3.ErrorMessage(gofakes3.ErrIncompleteBody, "The aws-chunked body is longer than x-amz-decoded-content-length.")
		return n, b.err
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = gofakes3.ErrorMessage(gofakes3.ErrIncompleteBody, "The aws-chunked body ended inside a chunk.")
		}
		b.err = err
		return n, err
	}
	if b.left == 0 {
		if err := b.endChunk(); err != nil {
			b.err = err
			return n, err
		}
	}
	return n, nil
}

// endChunk reads the CRLF after a chunk's data and checks its signature.
func (b *chunkedBody) endChunk() error {
	l, err := b.line()
	if errors.Is(err, io.EOF) {
		return gofakes3.ErrorMessage(gofakes3.ErrIncompleteBody, "The aws-chunked body ended after a chunk's data, before its final chunk.")
	}
	if err != nil {
		return err
	}
	if l != "" {
		return malformedChunk("a chunk's data is not followed by CRLF.")
	}
	return b.checkChunkSignature()
}

func (b *chunkedBody) checkChunkSignature() error {
	if b.signer == nil {
		return nil
	}
	var sum [sha256.Size]byte
	b.chunkHash.Sum(sum[:0])
	b.chunkHash.Reset()
	want := b.signer.ChunkSignature(b.prevSig, sum)
	if subtle.ConstantTimeCompare([]byte(want), []byte(b.chunkSig)) != 1 {
		return signatureMismatch("chunk signature")
	}
	b.prevSig = want
	return nil
}

func (b *chunkedBody) line() (string, error) {
	line, err := b.br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) || len(line) > maxChunkLine {
			return "", malformedChunk("a line is longer than %d bytes.", maxChunkLine)
		}
		if errors.Is(err, io.EOF) {
			if len(line) == 0 {
				return "", io.EOF
			}
			return "", malformedChunk("the body ends inside a line.")
		}
		return "", err
	}
	if len(line) > maxChunkLine {
		return "", malformedChunk("a line is longer than %d bytes.", maxChunkLine)
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return "", malformedChunk("a line does not end with CRLF.")
	}
	return string(line[:len(line)-2]), nil
}

// parseChunkSize reads <hex size>, which is 1 to 16 hex digits.
func parseChunkSize(s string) (int64, bool) {
	if s == "" || len(s) > 16 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 16, 64)
	return n, err == nil
}

// nextChunk reads a chunk header. At the final (zero) chunk it checks its
// signature, reads and checks the trailer, the length and the checksum,
// and returns io.EOF.
func (b *chunkedBody) nextChunk() error {
	l, err := b.line()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return gofakes3.ErrorMessage(gofakes3.ErrIncompleteBody, "The aws-chunked body ended before its final chunk.")
		}
		return err
	}
	sizeText, ext, hasExt := strings.Cut(l, ";")
	size, ok := parseChunkSize(sizeText)
	if !ok {
		return malformedChunk("a chunk size is not a hexadecimal number.")
	}
	if b.signer != nil {
		sig, ok := strings.CutPrefix(ext, "chunk-signature=")
		if !hasExt || !ok || !isHex(sig, 2*sha256.Size) {
			return gofakes3.ErrorMessage(codeSignatureDoesNotMatch,
				"Every chunk of a body sent with x-amz-content-sha256 "+streamingSigned+" must carry a chunk-signature of 64 hexadecimal digits.")
		}
		b.chunkSig = strings.ToLower(sig)
	}
	if size > 0 {
		if size > b.want-b.got {
			return gofakes3.ErrorMessage(gofakes3.ErrIncompleteBody, "The aws-chunked body is longer than x-amz-decoded-content-length.")
		}
		b.left = size
		return nil
	}
	if err := b.checkChunkSignature(); err != nil {
		return err
	}
	if err := b.readTrailer(); err != nil {
		return err
	}
	if b.got != b.want {
		return gofakes3.ErrorMessagef(gofakes3.ErrIncompleteBody, "The aws-chunked body has %d bytes, x-amz-decoded-content-length says %d.", b.got, b.want)
	}
	if b.h != nil && base64.StdEncoding.EncodeToString(b.h.Sum(nil)) != b.sumWant {
		return badDigest(b.sumName)
	}
	// Nothing may follow: it would be neither stored nor checked.
	if _, err := b.br.ReadByte(); !errors.Is(err, io.EOF) {
		if err != nil {
			return err
		}
		return malformedChunk("data follows the final chunk.")
	}
	return io.EOF
}

// readTrailer reads the trailing headers up to the empty line that ends
// the body (or its end) and checks the trailer's signature.
func (b *chunkedBody) readTrailer() error {
	var (
		canonical []byte // the signed form: name:value\n each
		sig       string
		got       bool
	)
	for {
		l, err := b.line()
		if errors.Is(err, io.EOF) || err == nil && l == "" {
			break
		}
		if err != nil {
			return err
		}
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			return malformedTrailer("a trailing header has no ':'.")
		}
		name, value = strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(value)
		switch {
		case name == "x-amz-trailer-signature" && b.signedTrailer && sig == "":
			sig = strings.ToLower(value)
		case b.trailer && name == b.sumName && !got:
			b.sumWant, got = value, true
			canonical = append(canonical, name+":"+value+"\n"...)
		default:
			return malformedTrailer("the trailing header %q was not declared in x-amz-trailer or is repeated.", redactName(name))
		}
	}
	if b.signedTrailer {
		if sig == "" {
			return gofakes3.ErrorMessage(codeSignatureDoesNotMatch,
				"A body sent with x-amz-content-sha256 "+streamingSignedTrailer+" must end with x-amz-trailer-signature.")
		}
		want := b.signer.TrailerSignature(b.prevSig, sha256.Sum256(canonical))
		if subtle.ConstantTimeCompare([]byte(want), []byte(sig)) != 1 {
			return signatureMismatch("trailer signature")
		}
	}
	if b.trailer && !got {
		return malformedTrailer("the trailing header %s declared in x-amz-trailer was not sent.", b.sumName)
	}
	return nil
}

// redactName bounds a client-sent name echoed in a message.
func redactName(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
