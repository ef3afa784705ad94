package snapshotcopy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// tempPrefix starts the names of files DirBlobs is still writing; they are
// never listed as blobs.
const tempPrefix = ".tmp-"

// ErrInvalidKey is wrapped by DirBlobs methods given a key that does not
// name a file inside the directory (empty, absolute, with "." or ".."
// elements, empty elements, or a temporary file's name).
var ErrInvalidKey = errors.New("snapshotcopy: invalid blob key")

// DirBlobs keeps blobs as files under one directory: key "a/b/c" is the
// file dir/a/b/c. Writes go to a temporary file in the same directory that
// is synced and then renamed, so a blob is either whole or absent, also
// after a crash.
type DirBlobs struct {
	dir string
}

var (
	_ Blobs      = (*DirBlobs)(nil)
	_ FileOpener = (*DirBlobs)(nil)
)

// NewDirBlobs returns the Blobs of directory dir, which is created on the
// first Put. It does no I/O.
func NewDirBlobs(dir string) *DirBlobs {
	return &DirBlobs{dir: filepath.Clean(dir)}
}

// path maps key to its file, refusing keys that could escape the directory.
func (d *DirBlobs) path(key string) (string, error) {
	if !fs.ValidPath(key) || key == "." || strings.Contains(key, `\`) || strings.HasPrefix(path.Base(key), tempPrefix) {
		return "", fmt.Errorf("%w: %q", ErrInvalidKey, key)
	}
	return filepath.Join(d.dir, filepath.FromSlash(key)), nil
}

// Put writes r to a temporary file next to the blob, syncs it, renames it
// into place and syncs the directory. Errors are ErrInvalidKey, file system
// errors (a full disk among them), r's error or ctx's error; none leaves a
// file behind.
func (d *DirBlobs) Put(ctx context.Context, key string, r io.Reader) (err error) {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	f, err := os.CreateTemp(dir, tempPrefix+filepath.Base(p)+"-*")
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err := io.Copy(f, ctxReader{ctx, r}); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// Get opens the file of key. Errors are ErrInvalidKey, ErrNotFound or file
// system errors.
func (d *DirBlobs) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	return d.OpenFile(ctx, key)
}

// OpenFile opens the file of key for random access. Errors are
// ErrInvalidKey, ErrNotFound or file system errors.
func (d *DirBlobs) OpenFile(_ context.Context, key string) (*os.File, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("get %s: %w: %w", key, ErrNotFound, err)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("get %s: %w", key, ErrNotFound)
	}
	return f, nil
}

// List walks the directory below prefix and returns the keys of the files
// that start with prefix, in lexical order, leaving out files still being
// written. A missing directory lists nothing. Errors are file system errors
// or ctx's error.
func (d *DirBlobs) List(ctx context.Context, prefix string) ([]string, error) {
	// Only the part of prefix up to its last slash names a directory.
	start := d.dir
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		sub := prefix[:i]
		if !fs.ValidPath(sub) {
			return nil, nil // no key can start with it
		}
		start = filepath.Join(d.dir, filepath.FromSlash(sub))
	}
	var keys []string
	err := filepath.WalkDir(start, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.IsDir() || strings.HasPrefix(e.Name(), tempPrefix) {
			return nil
		}
		rel, err := filepath.Rel(d.dir, p)
		if err != nil {
			return err
		}
		if key := filepath.ToSlash(rel); strings.HasPrefix(key, prefix) {
			keys = append(keys, key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	slices.Sort(keys)
	return keys, nil
}

// DeletePrefix removes the files of every key under prefix, then the
// directories it leaves empty (never the root directory). An empty prefix
// is refused (it would delete every copy) with an error; other errors are
// file system errors or ctx's error, and the count says how many were
// removed before the error.
func (d *DirBlobs) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	if prefix == "" {
		return 0, errors.New("delete blobs: empty prefix")
	}
	keys, err := d.List(ctx, prefix)
	if err != nil {
		return 0, err
	}
	n := 0
	dirs := map[string]bool{}
	for _, k := range keys {
		p := filepath.Join(d.dir, filepath.FromSlash(k))
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return n, fmt.Errorf("delete %s: %w", k, err)
		}
		n++
		dirs[filepath.Dir(p)] = true
	}
	// Temp files of writes a crash interrupted go too (List hides them).
	_ = filepath.WalkDir(filepath.Join(d.dir, filepath.FromSlash(path.Dir(prefix+"x"))), func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasPrefix(e.Name(), tempPrefix) {
			return nil
		}
		if rel, err := filepath.Rel(d.dir, p); err == nil && strings.HasPrefix(filepath.ToSlash(rel), prefix) {
			if os.Remove(p) == nil {
				dirs[filepath.Dir(p)] = true
			}
		}
		return nil
	})
	// Remove emptied directories, deepest first; a directory that is not
	// empty (or is being written to) stays.
	list := make([]string, 0, len(dirs))
	for dir := range dirs {
		for dir != d.dir && strings.HasPrefix(dir, d.dir+string(filepath.Separator)) {
			list = append(list, dir)
			dir = filepath.Dir(dir)
		}
	}
	slices.SortFunc(list, func(a, b string) int { return len(b) - len(a) })
	for _, dir := range slices.Compact(list) {
		_ = os.Remove(dir) // fails harmlessly when not empty
	}
	return n, nil
}
