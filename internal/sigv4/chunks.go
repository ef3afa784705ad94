package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Payload hash values of S3's signed aws-chunked uploads: every chunk, and
// with the -TRAILER variant the trailing headers, carry a signature chained
// on the previous one, starting from the request's own (seed) signature.
// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html
const (
	StreamingSignedPayload        = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	StreamingSignedPayloadTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
)

// emptySHA256 is the hex SHA-256 of no bytes: the place of the chunk
// headers (none in aws-chunked) in a chunk's string to sign.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// ChunkSigner computes the signatures of the chunks and trailer of one
// verified request whose payload is StreamingSignedPayload or
// StreamingSignedPayloadTrailer. It holds the request's derived signing
// key (never the secret); it must not be logged. Its methods are pure, so
// it is safe for concurrent use.
type ChunkSigner struct {
	key   []byte
	date  string // signing time, ISO 8601 basic (X-Amz-Date)
	scope string // <yyyymmdd>/<region>/<service>/aws4_request
	seed  string
}

// newChunkSigner derives the signing key of a's scope from secret.
func newChunkSigner(a authorization, secret string) *ChunkSigner {
	key := hmacSHA256([]byte("AWS4"+secret), a.ScopeDate)
	for _, part := range []string{a.Region, a.Service, terminator} {
		key = hmacSHA256(key, part)
	}
	return &ChunkSigner{
		key:   key,
		date:  a.Date.Format(timeFormat),
		scope: strings.Join([]string{a.ScopeDate, a.Region, a.Service, terminator}, "/"),
		seed:  a.Signature,
	}
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// SeedSignature returns the request's signature (lowercase hex), on which
// the first chunk's signature is chained.
func (c *ChunkSigner) SeedSignature() string { return c.seed }

// ChunkSignature returns the signature (lowercase hex) of a chunk whose
// content hashes to sum and that follows the signature prev: the HMAC of
//
//	AWS4-HMAC-SHA256-PAYLOAD\n<date>\n<scope>\n<prev>\n<sha256("")>\n<hex(sum)>
func (c *ChunkSigner) ChunkSignature(prev string, sum [sha256.Size]byte) string {
	return c.sign("AWS4-HMAC-SHA256-PAYLOAD\n" + c.date + "\n" + c.scope + "\n" + prev + "\n" +
		emptySHA256 + "\n" + hex.EncodeToString(sum[:]))
}

// TrailerSignature returns the signature (lowercase hex) of the trailing
// headers that hash to sum (each as "name:value\n", name in lowercase) and
// follow the final chunk's signature prev: the HMAC of
//
//	AWS4-HMAC-SHA256-TRAILER\n<date>\n<scope>\n<prev>\n<hex(sum)>
func (c *ChunkSigner) TrailerSignature(prev string, sum [sha256.Size]byte) string {
	return c.sign("AWS4-HMAC-SHA256-TRAILER\n" + c.date + "\n" + c.scope + "\n" + prev + "\n" +
		hex.EncodeToString(sum[:]))
}

func (c *ChunkSigner) sign(stringToSign string) string {
	return hex.EncodeToString(hmacSHA256(c.key, stringToSign))
}
