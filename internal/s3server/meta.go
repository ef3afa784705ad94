package s3server

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/johannesboyne/gofakes3"
)

// defaultContentType is what S3 gives an object stored without a
// Content-Type.
const defaultContentType = "binary/octet-stream"

// etagHeader carries an ETag that is not the MD5 of the content (a
// multipart upload's) from the backend to the response writer: gofakes3
// always derives the ETag header from the MD5. Clients cannot set it: only
// storedMeta's headers are ever stored.
const etagHeader = "X-Rdsexport-Etag"

// storedMeta keeps the headers S3 stores with an object and returns on GET
// and HEAD: the content headers and the user metadata. gofakes3 hands the
// backend every X-Amz-* request header (the signing date, the payload hash,
// a session token, the copy source); none of those belong to the object.
func storedMeta(meta map[string]string) map[string]string {
	out := make(map[string]string, len(meta))
	for k, v := range meta {
		ck := http.CanonicalHeaderKey(k)
		switch {
		case ck == "Content-Type", ck == "Content-Disposition", ck == "Content-Encoding",
			ck == "Content-Language", ck == "Cache-Control", ck == "Expires",
			strings.HasPrefix(ck, "X-Amz-Meta-"):
			out[ck] = v
		}
	}
	return out
}

// responseMeta is the headers of a GET or HEAD of m: its stored headers,
// Last-Modified from the time it was stored, a Content-Type even when none
// was given (objects written by exports, in-process, have none) and the
// ETag when it is not the content's MD5.
func responseMeta(m *objectMeta) map[string]string {
	out := storedMeta(m.Meta)
	if out["Content-Type"] == "" {
		out["Content-Type"] = defaultContentType
	}
	out["Last-Modified"] = m.ModTime.UTC().Format(http.TimeFormat)
	if m.ETag != "" {
		out[etagHeader] = m.etag()
	}
	return out
}

// checkKey refuses an object key S3 would refuse, or that the listings
// could not give back as it is: longer than 1024 bytes (KeyTooLongError),
// empty, not UTF-8, or holding a character XML 1.0 cannot carry
// (InvalidArgument).
func checkKey(key string) error {
	switch {
	case len(key) > gofakes3.KeySizeLimit:
		return gofakes3.ErrorMessagef(gofakes3.ErrKeyTooLong, "Your key is too long: it has %d bytes, the limit is %d.", len(key), gofakes3.KeySizeLimit)
	case key == "":
		return gofakes3.ErrorMessage(gofakes3.ErrInvalidArgument, "The object key must not be empty.")
	case !utf8.ValidString(key):
		return gofakes3.ErrorMessage(gofakes3.ErrInvalidArgument, "The object key must be valid UTF-8.")
	}
	for _, r := range key {
		if !isXMLChar(r) {
			return gofakes3.ErrorMessagef(gofakes3.ErrInvalidArgument, "The object key must not contain the character %U, which XML 1.0 cannot represent.", r)
		}
	}
	return nil
}

// isXMLChar reports whether r is an XML 1.0 Char.
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}
