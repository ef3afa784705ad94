package sqlitetaskstore

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
)

// fileMode is the mode of the store file and of the -wal and -shm files
// SQLite creates beside it, which take the store file's mode.
const fileMode = 0o600

// ErrNoStore is wrapped by the errors of New (under WithMustExist), Check
// and Backup when there is no store at the path: no file, an empty file,
// or a file without the schema.
var ErrNoStore = errors.New("no task store")

var errNoSchema = fmt.Errorf("the file holds no schema: %w", ErrNoStore)

// prepareFile makes sure the store file at path exists with mode 0600 and
// tells whether it held anything before. A missing file is created (unless
// mustExist); an empty one counts as new. It refuses an empty or missing
// file whose write-ahead log holds data: SQLite would delete that log as
// belonging to no database, and with it every commit since the last
// checkpoint.
func prepareFile(path string, mustExist bool, logger *slog.Logger) (existed bool, err error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return false, fmt.Errorf("sqlitetaskstore: %w", err)
	case !fi.Mode().IsRegular():
		return false, fmt.Errorf("sqlitetaskstore: %s is not a regular file", path)
	}
	if fi == nil || fi.Size() == 0 {
		if err := checkLoneWAL(path); err != nil {
			return false, err
		}
		if mustExist {
			if fi == nil {
				return false, fmt.Errorf("sqlitetaskstore: %s does not exist: %w", path, ErrNoStore)
			}
			return false, fmt.Errorf("sqlitetaskstore: %s is empty (0 bytes): %w", path, ErrNoStore)
		}
	}
	if fi == nil {
		if err := createFile(path); err != nil {
			return false, err
		}
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		tighten(p, logger)
	}
	return fi != nil && fi.Size() > 0, nil
}

// checkLoneWAL returns a *DamagedError when the write-ahead log of an
// empty or missing store file holds data.
func checkLoneWAL(path string) error {
	wal, err := os.Stat(path + "-wal")
	if err != nil || wal.Size() == 0 {
		return nil
	}
	return &DamagedError{Path: path, Check: "open", Problems: []string{fmt.Sprintf(
		"the file is empty or missing but its write-ahead log %s holds %d bytes; opening it would discard the log",
		path+"-wal", wal.Size())}}
}

// createFile creates an empty file with mode 0600. The explicit chmod
// undoes what a umask or a default ACL of the directory did to the mode;
// SQLite then creates -wal and -shm with this file's mode.
func createFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return fmt.Errorf("sqlitetaskstore: create %w", err)
	}
	if err := f.Chmod(fileMode); err != nil {
		_ = f.Close()
		return fmt.Errorf("sqlitetaskstore: create %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("sqlitetaskstore: create %w", err)
	}
	return nil
}

// tighten sets an existing file that other users may read or write to
// 0600 and says so. A file made by an earlier version or copied in by hand
// should not go on exposing every account's tasks; when the mode cannot be
// changed (another user owns the file) the store still opens, with a
// warning, because refusing would stop the service over what is not
// damage.
func tighten(path string, logger *slog.Logger) {
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm()&0o077 == 0 {
		return
	}
	if err := os.Chmod(path, fileMode); err != nil {
		logger.Warn("task store file is open to other users and its mode cannot be changed",
			"path", path, "mode", fi.Mode().Perm().String(), "err", err)
		return
	}
	logger.Warn("task store file was open to other users; its mode is now 0600",
		"path", path, "old_mode", fi.Mode().Perm().String())
}
