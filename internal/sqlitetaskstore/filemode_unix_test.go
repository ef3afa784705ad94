//go:build unix

package sqlitetaskstore

import (
	"bytes"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rdsexport/rdsexport/internal/export"
)

// withUmask sets the process umask for the test. Tests using it must not
// be parallel: the umask is the process's.
func withUmask(t *testing.T, mask int) {
	old := syscall.Umask(mask)
	t.Cleanup(func() { syscall.Umask(old) })
}

func checkModes(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", filepath.Base(p), fi.Mode().Perm())
		}
	}
}

func TestNew_FileMode(t *testing.T) {
	t.Run("Created", func(t *testing.T) {
		withUmask(t, 0)
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o777|fs.ModeSetgid); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "tasks.db")
		s, err := New(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.CreateTask(t.Context(), &export.Task{Identifier: "a", AccountID: "a", SourceArn: "s"}); err != nil {
			t.Fatal(err)
		}
		checkModes(t, path, path+"-wal", path+"-shm")

		r, err := Backup(t.Context(), path, filepath.Join(dir, "backup.db"))
		if err != nil {
			t.Fatal(err)
		}
		checkModes(t, r.Path)
	})
	t.Run("Tightened", func(t *testing.T) {
		withUmask(t, 0)
		// The files of a running store, copied with modes open to all.
		live := filepath.Join(t.TempDir(), "tasks.db")
		s, err := New(t.Context(), live)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		seedTasks(t, s, 10)
		path := filepath.Join(t.TempDir(), "tasks.db")
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.WriteFile(path+suffix, readFile(t, live+suffix), 0o666); err != nil {
				t.Fatal(err)
			}
		}
		var logs bytes.Buffer
		s2, err := New(t.Context(), path, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close()
		checkModes(t, path, path+"-wal", path+"-shm")
		if n := strings.Count(logs.String(), "level=WARN msg=\"task store file was open to other users; its mode is now 0600\""); n != 3 {
			t.Errorf("%d warnings, want 3:\n%s", n, logs.String())
		}
		if !strings.Contains(logs.String(), "path="+path+" old_mode=-rw-rw-rw-") {
			t.Errorf("the warning names neither the file nor its mode:\n%s", logs.String())
		}
	})
}
