package snapshotcopy_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rdsexport/rdsexport/internal/snapshotcopy"
)

// TestDirBlobs_DeletePrefixRemovesTempFiles: temp files that a crash left
// mid-write are removed with their prefix, so no partial copy survives.
func TestDirBlobs_DeletePrefixRemovesTempFiles(t *testing.T) {
	dir := t.TempDir()
	b := snapshotcopy.NewDirBlobs(dir)
	if err := b.Put(t.Context(), "copy/t0/part-0.parquet", strings.NewReader("data")); err != nil {
		t.Fatal(err)
	}
	orphan := filepath.Join(dir, "copy", "t0", ".tmp-part-1.parquet-42")
	if err := os.WriteFile(orphan, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other", ".tmp-part-0.parquet-7")
	if err := os.MkdirAll(filepath.Dir(other), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := b.DeletePrefix(t.Context(), "copy/"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "copy")); !os.IsNotExist(err) {
		t.Errorf("copy/ still exists (%v)", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("a temp file outside the prefix was touched: %v", err)
	}
}
