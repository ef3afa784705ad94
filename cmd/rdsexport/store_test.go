//go:build unix

package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/goccy/go-yaml"

	"github.com/rdsexport/rdsexport/internal/exporttest"
)

const storeTestSQL = `CREATE TABLE t (id int, note text);
INSERT INTO t SELECT i, md5(i::text) FROM generate_series(1, 200) i;`

// storeTestConfig is the configuration of the tests' servers: cluster pg
// on db, data in dataDir.
func storeTestConfig(dataDir string, db *exporttest.PostgresDB) Config {
	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = dataDir
	cfg.LogLevel = "debug"
	cfg.Clusters = []SourceConfig{{Identifier: "pg", Engine: "aurora-postgresql", URL: db.URL, Databases: []string{db.Name}}}
	return cfg
}

// populatedDataDir runs a server that makes two exports and a cluster
// snapshot, then stops it: its data_dir holds a tasks.db written by the
// store, snapshot copies and embedded S3 data.
func populatedDataDir(t *testing.T) (string, *exporttest.PostgresDB) {
	t.Helper()
	db := exporttest.NewPostgresDB(t, storeTestSQL)
	dir := filepath.Join(t.TempDir(), "data")
	cfg := storeTestConfig(dir, db)
	m := &Main{Config: cfg, Logger: newLogger(cfg, testLogWriter{t}), CreateBuckets: []string{testBucket}}
	if err := m.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	s := &testServer{Main: m, Bucket: testBucket, RDS: rdsClient(m.URL(), cfg.Credentials[0])}
	for _, id := range []string{"before-1", "before-2"} {
		s.startExport(t, id)
		s.waitStatus(t, id, time.Minute, "COMPLETE")
	}
	s.createClusterSnapshot(t, "snap1")
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"snapshots", "s3/buckets/" + testBucket} {
		if entries, err := os.ReadDir(filepath.Join(dir, d)); err != nil || len(entries) == 0 {
			t.Fatalf("%s holds nothing after an export and a snapshot: %v", d, err)
		}
	}
	return dir, db
}

// copyDir copies the tree src to a new directory and returns it.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "data")
	err := filepath.WalkDir(src, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		fi, err := e.Info()
		if err != nil {
			return err
		}
		if e.IsDir() {
			return os.MkdirAll(target, fi.Mode().Perm())
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, fi.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// corruptTable overwrites the first page of the export_tasks table in the
// store file at path (no server running) with pseudo-random bytes, as a
// torn write or a bad disk block would.
func corruptTable(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	var page int
	err = db.QueryRowContext(t.Context(), "SELECT rootpage FROM sqlite_schema WHERE name = 'export_tasks'").Scan(&page)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		t.Fatalf("%s-wal holds %d bytes: the page would be read from there", path, fi.Size())
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	hdr := make([]byte, 100)
	if _, err := f.ReadAt(hdr, 0); err != nil {
		t.Fatal(err)
	}
	pageSize := int64(binary.BigEndian.Uint16(hdr[16:18]))
	garbage := make([]byte, pageSize)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	if _, err := f.WriteAt(garbage, int64(page-1)*pageSize); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// cancelOnListen is the stdout of a run: it cancels the run once the
// server says it listens, so a server that should have refused to start
// stops at once instead of serving.
type cancelOnListen struct {
	syncBuffer
	cancel context.CancelFunc
}

func (w *cancelOnListen) Write(p []byte) (int, error) {
	n, err := w.syncBuffer.Write(p)
	if strings.Contains(w.String(), "listening on") {
		w.cancel()
	}
	return n, err
}

// runCommand runs `rdsexport args...` in this process with an empty
// environment and returns its stdout and error. A serve that starts is
// stopped as soon as it listens.
func runCommand(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stdout := &cancelOnListen{cancel: cancel}
	var stderr syncBuffer
	err := run(ctx, args, func(string) string { return "" }, stdout, io.MultiWriter(&stderr, testLogWriter{t}))
	t.Logf("rdsexport %s: stdout:\n%s\nerror: %v", strings.Join(args, " "), stdout.String(), err)
	return stdout.String(), err
}

func serve(t *testing.T, dataDir string) (string, error) {
	t.Helper()
	return runCommand(t, "serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir)
}

// TestStore_DamagedRefusesToStart corrupts a page of a real store: the
// server refuses to start, naming the file and the way out, and leaves the
// file as it was.
func TestStore_DamagedRefusesToStart(t *testing.T) {
	dir, _ := populatedDataDir(t)
	path := filepath.Join(dir, "tasks.db")
	corruptTable(t, path)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	stdout, err := serve(t, dir)
	if err == nil || strings.Contains(stdout, "listening on") {
		t.Fatalf("the server started on a damaged store (error %v)", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"task store " + path + " is damaged; rdsexport will not start on it",
		"SQLite (quick_check) reports:",
		"rdsexport store check --data-dir " + dir,
		"rdsexport store init --data-dir " + dir,
		`README.md, "When the store is damaged"`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error lacks %q:\n%s", want, msg)
		}
	}
	if exitCode(err) != 2 {
		t.Errorf("exit status %d, want 2", exitCode(err))
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
		t.Error("the refused start changed the store file")
	}
}

// TestStore_EmptyStoreBesideData: a store file that is empty or missing
// while data_dir holds snapshot copies or embedded S3 data is not taken for
// a new store; `store init` makes one on purpose.
func TestStore_EmptyStoreBesideData(t *testing.T) {
	populated, db := populatedDataDir(t)
	for _, tc := range []struct {
		name    string
		prepare func(dir string) error
		held    []string
	}{
		{"Empty", func(dir string) error { return os.Truncate(filepath.Join(dir, "tasks.db"), 0) },
			[]string{"snapshots (snapshot copies)", "s3/buckets (embedded S3 buckets)"}},
		{"Missing", func(dir string) error { return os.Remove(filepath.Join(dir, "tasks.db")) },
			[]string{"snapshots (snapshot copies)", "s3/buckets (embedded S3 buckets)"}},
		{"OnlySnapshots", func(dir string) error {
			return errors.Join(os.RemoveAll(filepath.Join(dir, "s3")), os.Truncate(filepath.Join(dir, "tasks.db"), 0))
		}, []string{"snapshots (snapshot copies)"}},
		{"OnlyS3", func(dir string) error {
			return errors.Join(os.RemoveAll(filepath.Join(dir, "snapshots")), os.Truncate(filepath.Join(dir, "tasks.db"), 0))
		}, []string{"s3/buckets (embedded S3 buckets)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, populated)
			if err := tc.prepare(dir); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "tasks.db")
			before, statErr := os.Stat(path)

			stdout, err := serve(t, dir)
			if err == nil || strings.Contains(stdout, "listening on") {
				t.Fatalf("the server started with an empty store beside existing data (error %v)", err)
			}
			msg := err.Error()
			wants := []string{"task store " + path + " is ", "rdsexport will not start", "rdsexport store init --data-dir " + dir}
			for _, h := range tc.held {
				wants = append(wants, filepath.Join(dir, h))
			}
			for _, want := range wants {
				if !strings.Contains(msg, want) {
					t.Errorf("the error lacks %q:\n%s", want, msg)
				}
			}
			after, err := os.Stat(path)
			switch {
			case statErr != nil && !errors.Is(err, fs.ErrNotExist):
				t.Errorf("the refused start created %s", path)
			case statErr == nil && (err != nil || after.Size() != before.Size()):
				t.Errorf("the refused start changed %s", path)
			}

			if _, err := runCommand(t, "store", "check", "--data-dir", dir); exitCode(err) != 1 {
				t.Errorf("store check: exit status %d, want 1", exitCode(err))
			}
			if tc.name != "Empty" {
				return
			}
			// On purpose: a new store, the data kept.
			if _, err := runCommand(t, "store", "init", "--data-dir", dir); err != nil {
				t.Fatal(err)
			}
			s := startMain(t, storeTestConfig(dir, db))
			out, err := s.RDS.DescribeExportTasks(t.Context(), &rds.DescribeExportTasksInput{})
			if err != nil || len(out.ExportTasks) != 0 {
				t.Fatalf("a new store lists %d tasks (%v)", len(out.ExportTasks), err)
			}
			if keys, err := s.Objects.List(t.Context(), testBucket, "before-1/"); err != nil || len(keys) == 0 {
				t.Errorf("the exported files are gone: %v %v", keys, err)
			}
			if _, err := runCommand(t, "store", "init", "--data-dir", dir); err == nil || !strings.Contains(err.Error(), "already holds a store") {
				t.Errorf("store init over a store: %v", err)
			}
		})
	}
}

// TestStore_EmptyDataDirStarts: a first start creates the store, whether
// data_dir exists empty or not at all.
func TestStore_EmptyDataDirStarts(t *testing.T) {
	for _, name := range []string{"exists", "missing"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			if name == "exists" {
				if err := os.Mkdir(dir, 0o750); err != nil {
					t.Fatal(err)
				}
			}
			stdout, err := serve(t, dir)
			if err != nil || !strings.Contains(stdout, "listening on") {
				t.Fatalf("the server did not start on an empty data_dir: %v", err)
			}
			if _, err := runCommand(t, "store", "check", "--data-dir", dir); err != nil {
				t.Errorf("store check of the new store: %v", err)
			}
		})
	}
}

func TestStore_Check(t *testing.T) {
	populated, _ := populatedDataDir(t)
	path := filepath.Join(populated, "tasks.db")
	t.Run("OK", func(t *testing.T) {
		config := filepath.Join(t.TempDir(), "rdsexport.yaml")
		// Only data_dir is read: an unset secret does not stop a check.
		if err := os.WriteFile(config, []byte("data_dir: "+populated+"\ncredentials:\n  - {access_key_id: k, secret_access_key: \"${ENV:UNSET_SECRET}\"}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"--data-dir", populated}, {"--config", config}, {"--file", path}} {
			stdout, err := runCommand(t, append([]string{"store", "check"}, args...)...)
			if err != nil {
				t.Fatalf("store check %v: %v", args, err)
			}
			if want := path + ": ok (integrity_check): 2 tasks, 1 snapshots, schema version 3, "; !strings.HasPrefix(stdout, want) || !strings.Contains(stdout, "mode 0600") {
				t.Errorf("store check %v printed %q, want %q...", args, stdout, want)
			}
		}
	})
	t.Run("Damaged", func(t *testing.T) {
		dir := copyDir(t, populated)
		damaged := filepath.Join(dir, "tasks.db")
		corruptTable(t, damaged)
		stdout, err := runCommand(t, "store", "check", "--data-dir", dir)
		if exitCode(err) != 1 {
			t.Fatalf("store check: %v (exit status %d), want exit status 1", err, exitCode(err))
		}
		for _, want := range []string{"task store " + damaged + " is damaged", "SQLite (integrity_check) reports:\n  Tree ", "rdsexport store init --data-dir " + dir} {
			if !strings.Contains(stdout, want) {
				t.Errorf("store check printed no %q:\n%s", want, stdout)
			}
		}
	})
	t.Run("Missing", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		stdout, err := runCommand(t, "store", "check", "--data-dir", dir)
		if exitCode(err) != 1 || !strings.Contains(stdout, "a first start creates the store") {
			t.Errorf("store check of nothing: exit status %d, stdout %q", exitCode(err), stdout)
		}
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("store check created %s", dir)
		}
	})
	t.Run("Usage", func(t *testing.T) {
		for _, args := range [][]string{{"store"}, {"store", "nope"}, {"store", "backup", "--data-dir", populated}, {"store", "check", "--file", path, "--data-dir", populated}} {
			if _, err := runCommand(t, args...); exitCode(err) != 2 {
				t.Errorf("%v: exit status %d, want 2", args, exitCode(err))
			}
		}
	})
}

// startChildServer runs `rdsexport serve` with cfg in a child process (the
// test binary, see TestMain) and returns its URL; the child is interrupted
// and waited for at cleanup.
func startChildServer(t *testing.T, cfg Config) string {
	t.Helper()
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	stdout := &firstLine{line: make(chan string, 1)}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RDSEXPORT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, serveConfigEnv+"="+path)
	killWithParent(cmd)
	cmd.Stdout = stdout
	cmd.Stderr = testLogWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("server process: %v", err)
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Error("the server process did not stop within 30 s of SIGINT")
		}
	})
	select {
	case line := <-stdout.line:
		_, url, _ := strings.Cut(line, "listening on ")
		url, _, _ = strings.Cut(url, " ")
		if !strings.HasPrefix(url, "http://") {
			t.Fatalf("the server process printed %q, want its address", line)
		}
		return url
	case err := <-exited:
		t.Fatalf("the server process exited: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("the server process did not start within a minute")
	}
	return ""
}

// TestStore_BackupWhileServing backs up the store of a server (another
// process) while it accepts and runs exports; a server started on the copy
// lists every task the copy holds, among them every task finished before
// the backup began.
func TestStore_BackupWhileServing(t *testing.T) {
	db := exporttest.NewPostgresDB(t, storeTestSQL)
	dir := filepath.Join(t.TempDir(), "data")
	url := startChildServer(t, storeTestConfig(dir, db))
	createBucketVia(t, url, testBucket)
	client := rdsClient(url, Credential{AccessKeyID: "test", SecretAccessKey: "test"})

	// The writer runs one export after another until told to stop.
	var (
		mu       sync.Mutex
		finished []string
	)
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- func() error {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return nil
				default:
				}
				id := fmt.Sprintf("w-%03d", i)
				if _, err := client.StartExportTask(t.Context(), &rds.StartExportTaskInput{
					ExportTaskIdentifier: aws.String(id), SourceArn: aws.String(clusterArn("pg")),
					S3BucketName: aws.String(testBucket), IamRoleArn: aws.String(roleArn), KmsKeyId: aws.String("k"),
				}); err != nil {
					return fmt.Errorf("StartExportTask %s: %w", id, err)
				}
				for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
					out, err := client.DescribeExportTasks(t.Context(), &rds.DescribeExportTasksInput{ExportTaskIdentifier: aws.String(id)})
					if err != nil {
						return fmt.Errorf("DescribeExportTasks %s: %w", id, err)
					}
					if st := aws.ToString(out.ExportTasks[0].Status); st == "COMPLETE" {
						break
					} else if st == "FAILED" || st == "CANCELED" || time.Now().After(deadline) {
						return fmt.Errorf("export %s is %s", id, st)
					}
				}
				mu.Lock()
				finished = append(finished, id)
				mu.Unlock()
			}
		}()
	}()
	stopWriter := sync.OnceValue(func() error {
		close(stop)
		return <-done
	})
	defer stopWriter()
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := len(finished)
		mu.Unlock()
		if n >= 3 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("writer: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("fewer than 3 exports in two minutes")
		}
	}
	mu.Lock()
	before := slices.Clone(finished)
	mu.Unlock()

	backup := filepath.Join(t.TempDir(), "tasks-backup.db")
	stdout, err := runCommand(t, "store", "backup", "--data-dir", dir, "--to", backup)
	if err != nil {
		t.Fatal(err)
	}
	if err := stopWriter(); err != nil {
		t.Fatalf("writer: %v", err)
	}
	if fi, err := os.Stat(backup); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v", fi, err)
	}
	var tasks, snapshots, size int
	if _, err := fmt.Sscanf(stdout, "backed up "+filepath.Join(dir, "tasks.db")+" to "+backup+": %d tasks, %d snapshots, %d bytes", &tasks, &snapshots, &size); err != nil {
		t.Fatalf("store backup printed %q: %v", stdout, err)
	}
	if tasks < len(before) {
		t.Fatalf("the backup holds %d tasks, %d were finished before it", tasks, len(before))
	}

	// A server on the copy.
	restored := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(restored, 0o750); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(restored, "tasks.db"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	s := startMain(t, storeTestConfig(restored, db))
	out, err := s.RDS.DescribeExportTasks(t.Context(), &rds.DescribeExportTasksInput{})
	if err != nil {
		t.Fatal(err)
	}
	statuses := map[string]string{}
	for _, task := range out.ExportTasks {
		statuses[aws.ToString(task.ExportTaskIdentifier)] = aws.ToString(task.Status)
	}
	if len(statuses) != tasks {
		t.Errorf("the server on the copy lists %d tasks, the backup said %d", len(statuses), tasks)
	}
	for _, id := range before {
		if statuses[id] != "COMPLETE" {
			t.Errorf("task %s, finished before the backup, is %q on the copy", id, statuses[id])
		}
	}
	t.Logf("%d tasks finished before the backup, %d in it: %v", len(before), tasks, statuses)
}

// TestStore_FileModes: whatever the umask and data_dir's mode, the store
// and its -wal and -shm are 0600 while the server runs; a store file left
// open to other users is tightened with a warning.
func TestStore_FileModes(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	checkModes := func(t *testing.T, dir string) {
		t.Helper()
		for _, name := range []string{"tasks.db", "tasks.db-wal", "tasks.db-shm"} {
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				t.Error(err)
			} else if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s has mode %04o, want 0600", name, fi.Mode().Perm())
			}
		}
	}
	t.Run("Created", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		if err := os.Mkdir(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		cfg := DefaultConfig()
		cfg.Listen, cfg.DataDir = "127.0.0.1:0", dir
		startMain(t, cfg)
		checkModes(t, dir)
	})
	t.Run("Tightened", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		if err := os.Mkdir(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		if _, err := runCommand(t, "store", "init", "--data-dir", dir); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "tasks.db")
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := DefaultConfig()
		cfg.Listen, cfg.DataDir = "127.0.0.1:0", dir
		logs := &syncBuffer{}
		m := &Main{Config: cfg, Logger: newLogger(cfg, io.MultiWriter(logs, testLogWriter{t}))}
		if err := m.Open(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		checkModes(t, dir)
		if want := `level=WARN msg="task store file was open to other users; its mode is now 0600" component=store path=` + path + " old_mode=-rw-r--r--"; !strings.Contains(logs.String(), want) {
			t.Errorf("no warning %q in the log:\n%s", want, logs.String())
		}
	})
}
