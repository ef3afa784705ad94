package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"

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
	return dir
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
	if aws.ToString(task.FailureCause) == "" || task.TaskEndTime == nil {
		t.Errorf("disk full: cause %q end %v", aws.ToString(task.FailureCause), task.TaskEndTime)
	}
	t.Logf("FailureCause: %s", aws.ToString(task.FailureCause))
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
