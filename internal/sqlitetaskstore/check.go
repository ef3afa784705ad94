package sqlitetaskstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// maxProblems bounds the messages an integrity check collects; the first
// few name the damaged pages, the rest add nothing an operator acts on.
const maxProblems = 20

// DamagedError reports a store file SQLite finds malformed: its integrity
// check lists problems, or reading it fails with SQLITE_CORRUPT or
// SQLITE_NOTADB.
type DamagedError struct {
	// Path is the store file.
	Path string
	// Check names what found the damage: "quick_check" or
	// "integrity_check" (the PRAGMAs), "read" (copying the rows) or
	// "open" (the files before SQLite opened them).
	Check string
	// Problems are SQLite's messages as it words them, one a line, at
	// most 20.
	Problems []string
}

func (e *DamagedError) Error() string {
	msg := fmt.Sprintf("sqlitetaskstore: %s is damaged (%s: %s", e.Path, e.Check, strings.Join(e.Problems[:min(1, len(e.Problems))], ""))
	if n := len(e.Problems) - 1; n > 0 {
		msg += fmt.Sprintf("; and %d more", n)
	}
	return msg + ")"
}

// isCorrupt tells whether err is SQLite's verdict on the file's content
// rather than on I/O, locking or the statement.
func isCorrupt(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	code := se.Code() & 0xff // the primary code of an extended one
	return code == sqlite3.SQLITE_CORRUPT || code == sqlite3.SQLITE_NOTADB
}

// integrityCheck runs pragma ("quick_check" or "integrity_check") on db and
// returns a *DamagedError listing what it found, or nil when the answer is
// "ok". quick_check verifies the structure of every b-tree page (the
// checks that matter for reading rows back) without comparing each index
// with its table, which makes it several times faster than
// integrity_check.
func integrityCheck(ctx context.Context, db *sql.DB, path, pragma string) error {
	damaged := func(problems ...string) error {
		return &DamagedError{Path: path, Check: pragma, Problems: problems}
	}
	rows, err := db.QueryContext(ctx, fmt.Sprintf("PRAGMA %s(%d)", pragma, maxProblems))
	if err != nil {
		if isCorrupt(err) {
			return damaged(err.Error())
		}
		return fmt.Errorf("sqlitetaskstore: %s %s: %w", pragma, path, err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return fmt.Errorf("sqlitetaskstore: %s %s: %w", pragma, path, err)
		}
		// One row may carry several problems, one a line, under a
		// heading naming the attached database (always "main" here).
		for line := range strings.Lines(p) {
			line = strings.TrimSpace(line)
			if line != "" && !strings.HasPrefix(line, "*** in database ") && len(problems) < maxProblems {
				problems = append(problems, line)
			}
		}
	}
	if err := rows.Err(); err != nil {
		if isCorrupt(err) {
			return damaged(append(problems, err.Error())...)
		}
		return fmt.Errorf("sqlitetaskstore: %s %s: %w", pragma, path, err)
	}
	if len(problems) == 1 && problems[0] == "ok" {
		return nil
	}
	if len(problems) == 0 {
		problems = []string{"no answer"}
	}
	return damaged(problems...)
}

// quickCheck is the check of a file about to be served.
func quickCheck(ctx context.Context, db *sql.DB, path string) error {
	return integrityCheck(ctx, db, path, "quick_check")
}

// checkReadOnly is New's check, on a connection of its own that cannot
// write. A page 1 too damaged to be read fails the first statement, which
// is reported as damage too.
func checkReadOnly(ctx context.Context, path string) error {
	db, err := openReadOnly(path)
	if err != nil {
		return err
	}
	defer db.Close()
	return quickCheck(ctx, db, path)
}

// CheckReport describes a store file that passed a check.
type CheckReport struct {
	// Path is the store file.
	Path string
	// Bytes is the size of the store file, its write-ahead log excluded.
	Bytes int64
	// Mode is the store file's permission bits.
	Mode fs.FileMode
	// SchemaVersion is the number of the last migration applied.
	SchemaVersion int
	// Tasks and Snapshots count the records of every account.
	Tasks, Snapshots int
}

// Check runs PRAGMA integrity_check on the store file at path, which
// reads every page and compares every index with its table, and counts
// its records. It opens the file read-only and may run while a server
// uses the file: it then sees the last commit made before it began.
//
// It returns an error wrapping ErrNoStore when there is no store at path
// (missing, empty, or without the schema), a *DamagedError when the file
// is damaged, and other errors when the file cannot be read.
func Check(ctx context.Context, path string) (CheckReport, error) {
	fi, err := statStore(path)
	if err != nil {
		return CheckReport{}, err
	}
	db, err := openReadOnly(path)
	if err != nil {
		return CheckReport{}, err
	}
	defer db.Close()
	if err := integrityCheck(ctx, db, path, "integrity_check"); err != nil {
		return CheckReport{}, err
	}
	r, err := inspect(ctx, db, path)
	if err != nil {
		return CheckReport{}, err
	}
	r.Bytes, r.Mode = fi.Size(), fi.Mode().Perm()
	return r, nil
}

// Backup writes a consistent copy of the store file src to the new file
// dst (mode 0600) with VACUUM INTO: one read transaction, so it may run
// while a server writes to src, and the copy holds exactly the commits
// made before it began. The copy is rebuilt from the rows, so it is
// compact and in rollback-journal mode; a server opening it switches it
// to WAL. The copy is written to a temporary file beside dst, checked
// with quick_check, synced, and only then given the name dst.
//
// It returns an error wrapping fs.ErrExist when dst exists, one wrapping
// ErrNoStore when there is no store at src, a *DamagedError when rows of
// src cannot be read back, and other errors from the file system or
// SQLite (ctx's error among them). On error no file named dst is made.
func Backup(ctx context.Context, src, dst string) (CheckReport, error) {
	if _, err := statStore(src); err != nil {
		return CheckReport{}, err
	}
	if _, err := os.Lstat(dst); err == nil {
		return CheckReport{}, fmt.Errorf("sqlitetaskstore: backup to %s: %w", dst, fs.ErrExist)
	}
	dir := filepath.Dir(dst)
	f, err := os.CreateTemp(dir, "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return CheckReport{}, fmt.Errorf("sqlitetaskstore: backup: %w", err)
	}
	tmp := f.Name()
	linked := false
	defer func() {
		if !linked {
			_ = os.Remove(tmp)
		}
	}()
	// VACUUM INTO fills an existing empty file and keeps its mode.
	err = f.Chmod(fileMode)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return CheckReport{}, fmt.Errorf("sqlitetaskstore: backup: %w", err)
	}

	if err := vacuumInto(ctx, src, tmp); err != nil {
		return CheckReport{}, err
	}
	r, err := checkCopy(ctx, tmp)
	if err != nil {
		return CheckReport{}, err
	}
	if err := syncFile(tmp); err != nil {
		return CheckReport{}, fmt.Errorf("sqlitetaskstore: backup: %w", err)
	}
	// A hard link gives the copy its name only if nothing took it
	// meanwhile, where a rename would replace that file.
	if err := os.Link(tmp, dst); err != nil {
		return CheckReport{}, fmt.Errorf("sqlitetaskstore: backup to %s: %w", dst, err)
	}
	linked = true
	if err := os.Remove(tmp); err != nil {
		return CheckReport{}, fmt.Errorf("sqlitetaskstore: backup: %w", err)
	}
	if err := syncFile(dir); err != nil {
		return CheckReport{}, fmt.Errorf("sqlitetaskstore: backup: %w", err)
	}
	r.Path = dst
	return r, nil
}

func vacuumInto(ctx context.Context, src, dst string) error {
	db, err := openReadOnly(src)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", dst); err != nil {
		if isCorrupt(err) {
			return &DamagedError{Path: src, Check: "read", Problems: []string{err.Error()}}
		}
		return fmt.Errorf("sqlitetaskstore: backup %s: %w", src, err)
	}
	return nil
}

// checkCopy verifies the copy Backup made and counts its records.
func checkCopy(ctx context.Context, path string) (CheckReport, error) {
	db, err := openReadOnly(path)
	if err != nil {
		return CheckReport{}, err
	}
	defer db.Close()
	if err := quickCheck(ctx, db, path); err != nil {
		return CheckReport{}, fmt.Errorf("sqlitetaskstore: the copy fails its check: %w", err)
	}
	r, err := inspect(ctx, db, path)
	if err != nil {
		return CheckReport{}, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return CheckReport{}, fmt.Errorf("sqlitetaskstore: %w", err)
	}
	r.Bytes, r.Mode = fi.Size(), fi.Mode().Perm()
	return r, nil
}

// statStore returns the store file's FileInfo, or the error saying why
// there is no store to read at path.
func statStore(path string) (fs.FileInfo, error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := checkLoneWAL(path); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("sqlitetaskstore: %s does not exist: %w", path, ErrNoStore)
	case err != nil:
		return nil, fmt.Errorf("sqlitetaskstore: %w", err)
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("sqlitetaskstore: %s is not a regular file", path)
	case fi.Size() == 0:
		if err := checkLoneWAL(path); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("sqlitetaskstore: %s is empty (0 bytes): %w", path, ErrNoStore)
	}
	return fi, nil
}

// openReadOnly opens path with SQLite's mode=ro: nothing is written to the
// file, not even the switch to WAL. It still reads the commits in the
// write-ahead log of a running or crashed server.
func openReadOnly(path string) (*sql.DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlitetaskstore: %w", err)
	}
	// The URI form is the one that passes mode to SQLite; the path is
	// escaped, so '?' or '#' in a name are not taken for its query.
	u := url.URL{Scheme: "file", Path: abs, RawQuery: "mode=ro&_busy_timeout=5000"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, fmt.Errorf("sqlitetaskstore: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// inspect reads the schema version and counts the records.
func inspect(ctx context.Context, db *sql.DB, path string) (CheckReport, error) {
	r := CheckReport{Path: path}
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&r.SchemaVersion); err != nil {
		return r, fmt.Errorf("sqlitetaskstore: read %s: %w", path, err)
	}
	if r.SchemaVersion == 0 {
		return r, fmt.Errorf("sqlitetaskstore: %s: %w", path, errNoSchema)
	}
	err := db.QueryRowContext(ctx, "SELECT (SELECT count(*) FROM export_tasks), (SELECT count(*) FROM snapshots)").Scan(&r.Tasks, &r.Snapshots)
	if err != nil {
		if isCorrupt(err) {
			return r, &DamagedError{Path: path, Check: "read", Problems: []string{err.Error()}}
		}
		return r, fmt.Errorf("sqlitetaskstore: read %s: %w", path, err)
	}
	return r, nil
}

// syncFile flushes a file or directory to stable storage.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
