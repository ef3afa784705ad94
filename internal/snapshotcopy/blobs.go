package snapshotcopy

import (
	"context"
	"errors"
	"io"
	"os"
)

// ErrNotFound is wrapped by Blobs.Get when the key does not exist.
var ErrNotFound = errors.New("snapshotcopy: blob not found")

// Blobs stores the files of snapshot copies under slash-separated keys.
// Implementations must be safe for concurrent use.
type Blobs interface {
	// Put stores everything read from r under key, replacing any blob of
	// that key. It streams r without holding it in memory. When ctx ends or
	// r fails, Put returns an error and leaves no blob (and no partial blob)
	// under key.
	Put(ctx context.Context, key string, r io.Reader) error

	// Get opens the blob of key for reading; the caller closes it. A
	// missing key is an error wrapping ErrNotFound.
	Get(ctx context.Context, key string) (io.ReadCloser, error)

	// List returns the keys that start with prefix, in lexical order.
	List(ctx context.Context, prefix string) ([]string, error)

	// DeletePrefix deletes every blob whose key starts with prefix and
	// returns how many it deleted. Deleting nothing is not an error.
	DeletePrefix(ctx context.Context, prefix string) (int, error)
}

// FileOpener is implemented by Blobs that keep blobs as local files and can
// open them for random access, which Parquet readers need. Source uses it
// when available and otherwise downloads each blob to a temporary file.
type FileOpener interface {
	// OpenFile opens the blob of key; the caller closes the file. A missing
	// key is an error wrapping ErrNotFound.
	OpenFile(ctx context.Context, key string) (*os.File, error)
}

// ctxReader makes a long copy stop soon after ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
