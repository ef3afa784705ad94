package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/rdsexport/rdsexport/internal/exporttest"
)

// process is the rdsexport binary running `serve`.
type process struct {
	cmd *exec.Cmd
	url string
}

func buildBinary(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "rdsexport")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func startProcess(t testing.TB, bin, config string) *process {
	t.Helper()
	return startCommand(t, exec.Command(bin, "serve", "--config", config))
}

// startCommand starts cmd, a `rdsexport serve` command line, and waits
// until it listens.
func startCommand(t testing.TB, cmd *exec.Cmd) *process {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = testLogWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "rdsexport ") && strings.Contains(sc.Text(), " listening on ") {
				lines <- sc.Text()
			}
		}
		close(lines)
	}()
	select {
	case line, ok := <-lines:
		if !ok {
			t.Fatal("server exited before listening")
		}
		_, rest, _ := strings.Cut(line, " listening on ")
		url := strings.Fields(rest)[0]
		return &process{cmd: cmd, url: url}
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start")
	}
	return nil
}

// TestRestart_KillMidExport kills the server with SIGKILL while an export
// runs, starts it again on the same data_dir: the interrupted task ends
// FAILED with a cause (never stuck), and finished tasks are still listed.
func TestRestart_KillMidExport(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and exports 2M rows")
	}
	db := exporttest.NewPostgresDB(t, bigTableSQL+"CREATE TABLE small (id int); INSERT INTO small VALUES (1);")
	bin := buildBinary(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "rdsexport.yaml")
	yaml := fmt.Sprintf(`listen: 127.0.0.1:0
region: us-east-1
account_id: "000000000000"
data_dir: %s
credentials:
  - {access_key_id: test, secret_access_key: test}
s3: {endpoint: ""}
max_concurrent_exports: 5
export_connections: 1
export_file_bytes: 1048576
clusters:
  - {identifier: pg, engine: aurora-postgresql, url: "%s"}
instances: []
`, filepath.Join(dir, "data"), db.URL)
	if err := os.WriteFile(config, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}

	p := startProcess(t, bin, config)
	s := &testServer{RDS: rdsClient(p.url, Credential{AccessKeyID: "test", SecretAccessKey: "test"}), Bucket: testBucket}
	// The embedded S3 needs the bucket: create it through the S3 API.
	createBucketVia(t, p.url, testBucket)

	s.startExport(t, "done-before", db.Name+".public.small")
	s.waitStatus(t, "done-before", time.Minute, "COMPLETE")
	s.startExport(t, "killed", db.Name+".public.big")
	s.waitStatus(t, "killed", time.Minute, "IN_PROGRESS")
	time.Sleep(300 * time.Millisecond) // let it write something
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()

	p = startProcess(t, bin, config)
	s.RDS = rdsClient(p.url, Credential{AccessKeyID: "test", SecretAccessKey: "test"})
	task := s.describe(t, "killed")
	if aws.ToString(task.Status) != "FAILED" || aws.ToString(task.FailureCause) == "" || task.TaskEndTime == nil {
		t.Errorf("after restart: status %s cause %q end %v", aws.ToString(task.Status), aws.ToString(task.FailureCause), task.TaskEndTime)
	}
	// The uploads the killed process had open were aborted at start-up.
	if uploads, err := objectsVia(t, p.url).ListMultipartUploads(t.Context(), testBucket); err != nil || len(uploads) != 0 {
		t.Errorf("multipart uploads after restart: %v %v", uploads, err)
	}
	if got := aws.ToString(s.describe(t, "done-before").Status); got != "COMPLETE" {
		t.Errorf("finished task after restart: %s", got)
	}
	all, err := s.RDS.DescribeExportTasks(t.Context(), &rds.DescribeExportTasksInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.ExportTasks) != 2 {
		t.Errorf("%d tasks listed after restart, want 2", len(all.ExportTasks))
	}
	// A new export of the same source is accepted: the killed one no
	// longer holds it.
	s.startExport(t, "after-restart", db.Name+".public.small")
	s.waitStatus(t, "after-restart", time.Minute, "COMPLETE")
}

// TestRestart_KillDuringSnapshot kills the server while a snapshot is being
// created: after the restart the snapshot is failed, never creating or
// available, and its partial copy is gone.
func TestRestart_KillDuringSnapshot(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and copies 2M rows")
	}
	db := exporttest.NewPostgresDB(t, bigTableSQL)
	bin := buildBinary(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "rdsexport.yaml")
	data := filepath.Join(dir, "data")
	yaml := fmt.Sprintf(`listen: 127.0.0.1:0
data_dir: %s
export_connections: 1
clusters:
  - {identifier: pg, engine: postgres, url: "%s", databases: [%s]}
`, data, db.URL, db.Name)
	if err := os.WriteFile(config, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startProcess(t, bin, config)
	client := rdsClient(p.url, Credential{AccessKeyID: "test", SecretAccessKey: "test"})
	if _, err := client.CreateDBClusterSnapshot(t.Context(), &rds.CreateDBClusterSnapshotInput{
		DBClusterSnapshotIdentifier: aws.String("killed"), DBClusterIdentifier: aws.String("pg"),
	}); err != nil {
		t.Fatal(err)
	}
	// Wait until the copy has written something.
	deadline := time.Now().Add(time.Minute)
	for {
		files := 0
		_ = filepath.WalkDir(filepath.Join(data, "snapshots"), func(_ string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				files++
			}
			return nil
		})
		if files > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no snapshot data written after a minute")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()

	p = startProcess(t, bin, config)
	client = rdsClient(p.url, Credential{AccessKeyID: "test", SecretAccessKey: "test"})
	out, err := client.DescribeDBClusterSnapshots(t.Context(), &rds.DescribeDBClusterSnapshotsInput{DBClusterSnapshotIdentifier: aws.String("killed")})
	if err != nil {
		t.Fatal(err)
	}
	if st := aws.ToString(out.DBClusterSnapshots[0].Status); st != "failed" {
		t.Errorf("after restart the snapshot is %s, want failed", st)
	}
	var left []string
	_ = filepath.WalkDir(filepath.Join(data, "snapshots"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left = append(left, path)
		}
		return nil
	})
	if len(left) != 0 {
		t.Errorf("partial copy left behind: %v", left)
	}
	// A failed snapshot cannot be exported.
	_, err = client.StartExportTask(t.Context(), &rds.StartExportTaskInput{
		ExportTaskIdentifier: aws.String("from-failed"), SourceArn: aws.String("arn:aws:rds:us-east-1:000000000000:cluster-snapshot:killed"),
		S3BucketName: aws.String("any"), IamRoleArn: aws.String(roleArn), KmsKeyId: aws.String("k"),
	})
	if apiCode(err) != "InvalidExportSourceState" {
		t.Errorf("export of a failed snapshot: %v, want InvalidExportSourceState", err)
	}
}
