package main

import (
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/rdsexport/rdsexport/internal/exporttest"
)

// tinyDataDir mounts a small tmpfs for data_dir (root only; skipped
// otherwise unless CI=true) and unmounts it when the test ends.
func tinyDataDir(t *testing.T, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	mountTmpfs(t, dir, size)
	return dir
}

// mountTmpfs mounts a tmpfs of size on the existing directory dir (root
// only; skipped otherwise unless CI=true) and unmounts it when the test
// ends.
func mountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" && os.Getuid() == 0 {
			t.Fatalf("mount tmpfs: %v %s", err, out)
		}
		t.Skipf("cannot mount a tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
}

// checkDataFull checks what a data write on a full disk leaves: a cause
// naming the data, the bucket and InsufficientStorage (not the metadata),
// no manifest, no multipart upload, and only whole objects: every data file
// under prefix is a complete Parquet file.
func (s *testServer) checkDataFull(t *testing.T, task *types.ExportTask, prefix string) {
	t.Helper()
	want := "An unknown internal error occurred writing the exported data to the S3 bucket " + s.Bucket + ". Error code: InsufficientStorage"
	if got := aws.ToString(task.FailureCause); got != want {
		t.Errorf("FailureCause %q, want %q", got, want)
	}
	s.checkFailed(t, task, prefix)
	s.checkNoUploads(t, prefix)
	keys, err := s.Objects.List(t.Context(), s.Bucket, prefix)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if path.Base(k) == "_SUCCESS" {
			continue
		}
		rc, err := s.Objects.Get(t.Context(), s.Bucket, k)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		// A Parquet file begins and ends with its magic number.
		if len(body) < 8 || string(body[:4]) != "PAR1" || string(body[len(body)-4:]) != "PAR1" {
			t.Errorf("%s (%d bytes) is not a whole Parquet file", k, len(body))
		}
	}
}

// TestFault_DataDirFull: data_dir (task store and embedded S3) fills up
// during an export. The task ends FAILED with a cause, the API keeps
// answering, earlier tasks stay listed, and once space is freed the next
// export works.
func TestFault_DataDirFull(t *testing.T) {
	if testing.Short() {
		t.Skip("mounts a tmpfs")
	}
	db := exporttest.NewPostgresDB(t, `
CREATE TABLE small (id int); INSERT INTO small VALUES (1);
CREATE TABLE big (id bigint, a text, b text);
INSERT INTO big SELECT i, md5(i::text) || md5((i * 7)::text), md5((i * 13)::text) FROM generate_series(1, 300000) i;`)
	dir := tinyDataDir(t, "6M")
	s := startServer(t, db.URL, func(c *Config) {
		c.DataDir = dir
		c.ExportFileBytes = 1 << 20
	})
	s.startExport(t, "before", db.Name+".public.small")
	s.waitStatus(t, "before", time.Minute, "COMPLETE")

	s.startExport(t, "too-big", db.Name+".public.big")
	task := s.waitStatus(t, "too-big", 2*time.Minute, "FAILED")
	s.checkDataFull(t, &task, "too-big/")
	// The body being received when the disk filled up is gone.
	if left, err := os.ReadDir(filepath.Join(dir, "s3", "tmp")); err != nil || len(left) != 0 {
		t.Errorf("s3/tmp after the failed write: %v %v", left, err)
	}
	if st := aws.ToString(s.describe(t, "before").Status); st != "COMPLETE" {
		t.Errorf("earlier task is %s", st)
	}

	// Free the space the failed export used; the next export works.
	if _, err := s.Objects.DeletePrefix(t.Context(), s.Bucket, "too-big/"); err != nil {
		t.Fatal(err)
	}
	s.startExport(t, "after", db.Name+".public.small")
	s.waitStatus(t, "after", time.Minute, "COMPLETE")
	if _, err := s.RDS.DescribeExportTasks(t.Context(), &rds.DescribeExportTasksInput{}); err != nil {
		t.Fatal(err)
	}
}

// TestFault_S3DiskFull: the disk of an external S3 server (versitygw) fills
// up during a multipart upload. The task ends FAILED with a cause naming
// the data write and InsufficientStorage, and the upload is aborted.
func TestFault_S3DiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("mounts a tmpfs")
	}
	gw := exporttest.StartVersityGW(t)
	mountTmpfs(t, gw.Dir, "12M")
	t.Cleanup(gw.Kill) // before the unmount
	gw.Restart()       // onto the tmpfs
	db := exporttest.NewPostgresDB(t, `
CREATE TABLE big (id bigint, a text, b text);
INSERT INTO big SELECT i, md5(i::text) || md5((i * 7)::text), md5((i * 13)::text) FROM generate_series(1, 300000) i;`)
	s := startServer(t, db.URL, func(c *Config) {
		c.S3 = S3Config{Endpoint: gw.Endpoint, AccessKeyID: gw.AccessKeyID, SecretAccessKey: gw.SecretAccessKey, Region: "us-east-1"}
		c.ExportFileBytes = 64 << 20 // one file of several parts
	})
	s.startExport(t, "s3-full", db.Name+".public.big")
	task := s.waitStatus(t, "s3-full", 2*time.Minute, "FAILED")
	s.checkDataFull(t, &task, "s3-full/")
}
