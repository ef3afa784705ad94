package sqlitetaskstore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rdsexport/rdsexport/internal/export"
)

// closedStore makes a store file at dir/tasks.db with n tasks and closes
// it, which checkpoints the write-ahead log into the file.
func closedStore(t *testing.T, dir string, n int) string {
	t.Helper()
	path := filepath.Join(dir, "tasks.db")
	s, err := New(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	seedTasks(t, s, n)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		t.Fatalf("%s-wal holds %d bytes after Close", path, fi.Size())
	}
	return path
}

// rootPage returns the first page of the named table or index.
func rootPage(t *testing.T, path, name string) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var page int
	if err := db.QueryRowContext(t.Context(), "SELECT rootpage FROM sqlite_schema WHERE name = ?", name).Scan(&page); err != nil {
		t.Fatal(err)
	}
	return page
}

// corruptPage overwrites page n (from 1) of the closed store file with
// pseudo-random bytes, as a torn write or a bad disk block would.
func corruptPage(t *testing.T, path string, n int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	hdr := make([]byte, 100)
	if _, err := f.ReadAt(hdr, 0); err != nil {
		t.Fatal(err)
	}
	pageSize := int(binary.BigEndian.Uint16(hdr[16:18]))
	if pageSize == 1 {
		pageSize = 65536
	}
	garbage := make([]byte, pageSize)
	rng := rand.New(rand.NewPCG(uint64(n), 7))
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	if _, err := f.WriteAt(garbage, int64(n-1)*int64(pageSize)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNew_Damaged(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func(t *testing.T, path string)
	}{
		{"TableRoot", func(t *testing.T, path string) { corruptPage(t, path, rootPage(t, path, "export_tasks")) }},
		{"IndexRoot", func(t *testing.T, path string) {
			corruptPage(t, path, rootPage(t, path, "export_tasks_account_identifier"))
		}},
		{"Header", func(t *testing.T, path string) { corruptPage(t, path, 1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := closedStore(t, t.TempDir(), 2000)
			tc.corrupt(t, path)
			before := readFile(t, path)

			s, err := New(t.Context(), path)
			if err == nil {
				s.Close()
				t.Fatal("New opened a damaged store")
			}
			var de *DamagedError
			if !errors.As(err, &de) {
				t.Fatalf("New: %v, want a *DamagedError", err)
			}
			if de.Path != path || len(de.Problems) == 0 || !strings.Contains(err.Error(), path) {
				t.Errorf("DamagedError %+v (%q) names neither the file nor a problem", de, err)
			}
			t.Logf("New: %v", err)
			if !bytes.Equal(readFile(t, path), before) {
				t.Error("New wrote to the damaged file")
			}
		})
	}
}

func TestNew_MustExist(t *testing.T) {
	t.Run("ErrNoStore", func(t *testing.T) {
		dir := t.TempDir()
		// A store file copied without its write-ahead log: page 1 only,
		// schema and rows were in the log.
		live := filepath.Join(t.TempDir(), "tasks.db")
		s, err := New(t.Context(), live)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		seedTasks(t, s, 10)
		if err := os.WriteFile(filepath.Join(dir, "noschema.db"), readFile(t, live), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "empty.db"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"missing.db", "empty.db", "noschema.db"} {
			path := filepath.Join(dir, name)
			s, err := New(t.Context(), path, WithMustExist())
			if err == nil {
				s.Close()
			}
			if !errors.Is(err, ErrNoStore) {
				t.Errorf("%s: New: %v, want ErrNoStore", name, err)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "missing.db")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("New created the missing store: %v", err)
		}
	})
	t.Run("OK", func(t *testing.T) {
		path := closedStore(t, t.TempDir(), 10)
		s, err := New(t.Context(), path, WithMustExist())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		tasks, err := s.ListTasks(t.Context(), export.TaskFilter{AccountID: "acct-1", Limit: 100})
		if err != nil || len(tasks) == 0 {
			t.Fatalf("ListTasks: %d tasks, %v", len(tasks), err)
		}
	})
}

// TestNew_LoneWAL opens an empty store file whose write-ahead log holds
// commits: SQLite would delete the log, so New refuses and keeps it.
func TestNew_LoneWAL(t *testing.T) {
	live := filepath.Join(t.TempDir(), "tasks.db")
	s, err := New(t.Context(), live)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	seedTasks(t, s, 10)
	wal := readFile(t, live+"-wal")
	if len(wal) == 0 {
		t.Fatal("the live store has an empty write-ahead log")
	}
	for _, name := range []string{"empty.db", "missing.db"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name)
			if name == "empty.db" {
				if err := os.WriteFile(path, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(path+"-wal", wal, 0o600); err != nil {
				t.Fatal(err)
			}
			for _, opts := range [][]Option{nil, {WithMustExist()}} {
				s, err := New(t.Context(), path, opts...)
				if err == nil {
					s.Close()
				}
				var de *DamagedError
				if !errors.As(err, &de) || !strings.Contains(err.Error(), path+"-wal") {
					t.Errorf("New: %v, want a *DamagedError naming the log", err)
				}
			}
			if _, err := Check(t.Context(), path); !errors.As(err, new(*DamagedError)) {
				t.Errorf("Check: %v, want a *DamagedError", err)
			}
			if !bytes.Equal(readFile(t, path+"-wal"), wal) {
				t.Error("the write-ahead log changed")
			}
		})
	}
}

func TestCheck(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "tasks.db")
		s, err := New(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		// The store stays open: the rows are in its write-ahead log.
		seedTasks(t, s, 300)
		r, err := Check(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		if r.Tasks != 300 || r.Snapshots != 0 || r.SchemaVersion != 3 || r.Mode != 0o600 || r.Bytes == 0 || r.Path != path {
			t.Errorf("Check = %+v", r)
		}
		// The server goes on writing after a check.
		if err := s.CreateTask(t.Context(), &export.Task{Identifier: "after-check", AccountID: "a", SourceArn: "x"}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Damaged", func(t *testing.T) {
		path := closedStore(t, t.TempDir(), 2000)
		corruptPage(t, path, rootPage(t, path, "export_tasks_account_seq"))
		before := readFile(t, path)
		_, err := Check(t.Context(), path)
		var de *DamagedError
		if !errors.As(err, &de) || de.Check != "integrity_check" || len(de.Problems) == 0 {
			t.Fatalf("Check: %v, want a *DamagedError of integrity_check", err)
		}
		t.Logf("problems: %q", de.Problems)
		if !bytes.Equal(readFile(t, path), before) {
			t.Error("Check wrote to the file")
		}
	})
	t.Run("ErrNoStore", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "empty.db"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"missing.db", "empty.db"} {
			if _, err := Check(t.Context(), filepath.Join(dir, name)); !errors.Is(err, ErrNoStore) {
				t.Errorf("%s: Check: %v, want ErrNoStore", name, err)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "missing.db")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Check created the file: %v", err)
		}
	})
}

func TestBackup(t *testing.T) {
	t.Run("WhileWriting", func(t *testing.T) {
		dir := t.TempDir()
		src := filepath.Join(dir, "tasks.db")
		s, err := New(t.Context(), src)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		seedTasks(t, s, 5000)

		// A writer commits tasks one by one during the backup.
		ctx, cancel := context.WithCancel(t.Context())
		var written atomic.Int64
		done := make(chan error, 1)
		go func() {
			for i := 0; ; i++ {
				if ctx.Err() != nil {
					done <- nil
					return
				}
				err := s.CreateTask(ctx, &export.Task{Identifier: fmt.Sprintf("w-%d", i), AccountID: "w", SourceArn: fmt.Sprintf("s-%d", i)})
				if err != nil && ctx.Err() == nil {
					done <- err
					return
				}
				written.Add(1)
			}
		}()
		// Let the writer commit before and during the copy.
		for deadline := time.Now().Add(10 * time.Second); written.Load() < 5; {
			if time.Now().After(deadline) {
				t.Fatal("the writer made no progress")
			}
			time.Sleep(time.Millisecond)
		}
		before := int(written.Load())
		dst := filepath.Join(t.TempDir(), "backup.db")
		r, err := Backup(t.Context(), src, dst)
		after := int(written.Load())
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("writer: %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("backup %+v; %d..%d tasks written during it", r, before, after)
		if r.Tasks < 5000+before || r.Tasks > 5000+after+1 || r.Path != dst || r.Mode != 0o600 {
			t.Errorf("Backup = %+v, want %d..%d tasks", r, 5000+before, 5000+after+1)
		}
		// The copy is a store: it checks clean and opens with its rows.
		if c, err := Check(t.Context(), dst); err != nil || c.Tasks != r.Tasks {
			t.Fatalf("Check of the copy: %+v, %v", c, err)
		}
		b, err := New(t.Context(), dst, WithMustExist())
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		if _, err := b.GetTask(t.Context(), "acct-1", "exp-000001"); err != nil {
			t.Errorf("GetTask in the copy: %v", err)
		}
		entries, _ := os.ReadDir(filepath.Dir(dst))
		for _, e := range entries {
			if e.Name() != "backup.db" && !strings.HasPrefix(e.Name(), "backup.db-") {
				t.Errorf("left in the backup's directory: %s", e.Name())
			}
		}
	})
	t.Run("ErrExist", func(t *testing.T) {
		src := closedStore(t, t.TempDir(), 10)
		dst := filepath.Join(t.TempDir(), "backup.db")
		if err := os.WriteFile(dst, []byte("keep me"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Backup(t.Context(), src, dst); !errors.Is(err, fs.ErrExist) {
			t.Fatalf("Backup: %v, want fs.ErrExist", err)
		}
		if string(readFile(t, dst)) != "keep me" {
			t.Error("Backup overwrote an existing file")
		}
	})
	t.Run("Damaged", func(t *testing.T) {
		src := closedStore(t, t.TempDir(), 2000)
		corruptPage(t, src, rootPage(t, src, "export_tasks"))
		dir := t.TempDir()
		dst := filepath.Join(dir, "backup.db")
		_, err := Backup(t.Context(), src, dst)
		if !errors.As(err, new(*DamagedError)) {
			t.Fatalf("Backup: %v, want a *DamagedError", err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("a failed backup left %v", entries)
		}
	})
	t.Run("ErrNoStore", func(t *testing.T) {
		dir := t.TempDir()
		dst := filepath.Join(dir, "backup.db")
		if _, err := Backup(t.Context(), filepath.Join(dir, "missing.db"), dst); !errors.Is(err, ErrNoStore) {
			t.Fatalf("Backup: %v, want ErrNoStore", err)
		}
		if _, err := os.Stat(dst); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a failed backup made %s", dst)
		}
	})
}

// BenchmarkCheck times the checks on a store of 100,000 tasks: New (which
// runs PRAGMA quick_check) against the check alone, Check
// (integrity_check) and Backup.
func BenchmarkCheck(b *testing.B) {
	path := filepath.Join(b.TempDir(), "tasks.db")
	s, err := New(b.Context(), path)
	if err != nil {
		b.Fatal(err)
	}
	seedTasks(b, s, 100_000)
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("store of 100000 tasks: %d bytes", fi.Size())
	b.Run("New", func(b *testing.B) {
		for b.Loop() {
			s, err := New(b.Context(), path)
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("QuickCheck", func(b *testing.B) {
		db, err := openReadOnly(path)
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		for b.Loop() {
			if err := quickCheck(b.Context(), db, path); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("IntegrityCheck", func(b *testing.B) {
		for b.Loop() {
			if _, err := Check(b.Context(), path); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Backup", func(b *testing.B) {
		dir := b.TempDir()
		i := 0
		for b.Loop() {
			i++
			if _, err := Backup(b.Context(), path, filepath.Join(dir, fmt.Sprintf("b%d.db", i))); err != nil {
				b.Fatal(err)
			}
		}
	})
}
