package snapshotcopy_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rdsexport/rdsexport/internal/snapshotcopy"
)

// blobsSuite checks the Blobs contract on one implementation.
func blobsSuite(t *testing.T, blobs snapshotcopy.Blobs) {
	ctx := context.Background()
	put := func(key, body string) {
		t.Helper()
		if err := blobs.Put(ctx, key, strings.NewReader(body)); err != nil {
			t.Fatalf("Put %s: %v", key, err)
		}
	}
	get := func(key string) (string, error) {
		r, err := blobs.Get(ctx, key)
		if err != nil {
			return "", err
		}
		defer r.Close()
		b, err := io.ReadAll(r)
		return string(b), err
	}
	list := func(prefix string) []string {
		t.Helper()
		keys, err := blobs.List(ctx, prefix)
		if err != nil {
			t.Fatalf("List %s: %v", prefix, err)
		}
		return keys
	}

	t.Run("PutGet", func(t *testing.T) {
		put("a/x/1", "one")
		put("a/x/1", "uno") // replaced
		big := strings.Repeat("0123456789", 700_000)
		put("a/x/big", big)
		if got, err := get("a/x/1"); err != nil || got != "uno" {
			t.Errorf("Get = %q, %v", got, err)
		}
		if got, err := get("a/x/big"); err != nil || got != big {
			t.Errorf("Get big: %d bytes, %v", len(got), err)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		if _, err := get("a/nothing"); !errors.Is(err, snapshotcopy.ErrNotFound) {
			t.Errorf("Get missing = %v", err)
		}
	})
	t.Run("List", func(t *testing.T) {
		put("b/2", "")
		put("b/1/z", "z")
		put("b.x", "other")
		put("bb/1", "other")
		if got, want := list("b/"), []string{"b/1/z", "b/2"}; !slices.Equal(got, want) {
			t.Errorf("List b/ = %v, want %v", got, want)
		}
		if got := list("b/1"); !slices.Equal(got, []string{"b/1/z"}) {
			t.Errorf("List b/1 = %v", got)
		}
		if got := list("none/"); len(got) != 0 {
			t.Errorf("List none/ = %v", got)
		}
	})
	t.Run("FailedPutLeavesNothing", func(t *testing.T) {
		r := io.MultiReader(strings.NewReader(strings.Repeat("x", 1<<20)), errReader{})
		if err := blobs.Put(ctx, "c/broken", r); err == nil {
			t.Fatal("Put with a failing body succeeded")
		}
		if got := list("c/"); len(got) != 0 {
			t.Errorf("List after failed Put = %v", got)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := blobs.Put(cctx, "c/canceled", strings.NewReader("x")); err == nil {
			t.Error("Put with a canceled ctx succeeded")
		}
		if got := list("c/"); len(got) != 0 {
			t.Errorf("List after canceled Put = %v", got)
		}
	})
	t.Run("DeletePrefix", func(t *testing.T) {
		n, err := blobs.DeletePrefix(ctx, "b/")
		if err != nil || n != 2 {
			t.Errorf("DeletePrefix = %d, %v", n, err)
		}
		if got := list("b"); !slices.Equal(got, []string{"b.x", "bb/1"}) {
			t.Errorf("after DeletePrefix: %v", got)
		}
		if n, err := blobs.DeletePrefix(ctx, "b/"); err != nil || n != 0 {
			t.Errorf("second DeletePrefix = %d, %v", n, err)
		}
		if _, err := blobs.DeletePrefix(ctx, ""); err == nil {
			t.Error("DeletePrefix of everything was accepted")
		}
	})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("reader broke") }

func TestDirBlobs(t *testing.T) {
	dir := t.TempDir()
	blobs := snapshotcopy.NewDirBlobs(dir)
	blobsSuite(t, blobs)

	t.Run("ErrInvalidKey", func(t *testing.T) {
		for _, key := range []string{"", "../x", "/abs", "a//b", "a/./b", "a/../../b", `a\..\b`, ".tmp-x"} {
			if err := blobs.Put(context.Background(), key, strings.NewReader("x")); !errors.Is(err, snapshotcopy.ErrInvalidKey) {
				t.Errorf("Put %q = %v", key, err)
			}
			if _, err := blobs.Get(context.Background(), key); !errors.Is(err, snapshotcopy.ErrInvalidKey) {
				t.Errorf("Get %q = %v", key, err)
			}
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "x")); err == nil {
			t.Error("a file escaped the directory")
		}
	})
	t.Run("NoTemporaryFilesLeft", func(t *testing.T) {
		err := filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
			if err == nil && strings.HasPrefix(e.Name(), ".tmp-") {
				t.Errorf("temporary file left: %s", p)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		// Emptied directories are removed too.
		if _, err := os.Stat(filepath.Join(dir, "b")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("directory b after DeletePrefix: %v", err)
		}
	})
}

func TestS3Blobs(t *testing.T) {
	blobsSuite(t, embeddedS3(t))
}
