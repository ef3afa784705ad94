package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/jackc/pgx/v5"

	"github.com/rdsexport/rdsexport/internal/exporttest"
)

// faultTablesSQL is bigTableSQL plus a small table for the export that
// shows the server still works after a fault.
const faultTablesSQL = bigTableSQL + `
CREATE TABLE small (id int PRIMARY KEY, name text);
INSERT INTO small SELECT i, 'row ' || i FROM generate_series(1, 100) i;
`

// faultTimeout bounds the wait for a task to fail once its fault happened.
const faultTimeout = 30 * time.Second

// waitObjects waits until at least n objects exist under prefix, so that
// the export is under way.
func (s *testServer) waitObjects(t *testing.T, prefix string, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		keys, err := s.Objects.List(t.Context(), s.Bucket, prefix)
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d objects under %s after a minute, want %d", len(keys), prefix, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkFailed checks what every failed task shows: an end time, no
// manifest, and no engine still running it.
func (s *testServer) checkFailed(t *testing.T, task *types.ExportTask, prefix string) {
	t.Helper()
	if task.TaskEndTime == nil {
		t.Error("FAILED task has no TaskEndTime")
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.engine.Running() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("engine still runs %d exports after the task failed", s.engine.Running())
		}
		time.Sleep(10 * time.Millisecond)
	}
	keys, err := s.Objects.List(t.Context(), s.Bucket, prefix)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if exportManifest(k) {
			t.Errorf("manifest %s written for a failed export", k)
		}
	}
}

// checkNoUploads fails the test when a multipart upload under prefix is
// left in the bucket.
func (s *testServer) checkNoUploads(t *testing.T, prefix string) {
	t.Helper()
	uploads, err := s.Objects.ListMultipartUploads(t.Context(), s.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range uploads {
		if strings.HasPrefix(u, prefix) {
			t.Errorf("multipart upload left: %s", u)
		}
	}
}

// checkWorks runs a small export to COMPLETE: the server recovered.
func (s *testServer) checkWorks(t *testing.T, id, exportOnly string) {
	t.Helper()
	s.startExport(t, id, exportOnly)
	s.waitStatus(t, id, time.Minute, "COMPLETE")
	keys, err := s.Objects.List(t.Context(), s.Bucket, id+"/")
	if err != nil {
		t.Fatal(err)
	}
	manifests := 0
	for _, k := range keys {
		if exportManifest(k) {
			manifests++
		}
	}
	if manifests != 2 {
		t.Errorf("export %s after the fault: %d manifests in %v, want 2", id, manifests, keys)
	}
	s.checkNoUploads(t, id+"/")
}

// TestFault_S3Outage kills the S3 server (versitygw) in the middle of an
// export: Describe keeps answering, the task ends FAILED within 30 s with
// the S3 cause naming the bucket, and once S3 is back a new export
// completes.
func TestFault_S3Outage(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a 2M-row table")
	}
	gw := exporttest.StartVersityGW(t)
	db := exporttest.NewPostgresDB(t, faultTablesSQL)
	s := startServer(t, db.URL, func(c *Config) {
		c.S3 = S3Config{Endpoint: gw.Endpoint, AccessKeyID: gw.AccessKeyID, SecretAccessKey: gw.SecretAccessKey, Region: "us-east-1"}
		c.ExportConnections = 1
		c.ExportFileBytes = 1 << 20
	})

	s.startExport(t, "s3-outage", db.Name+".public.big")
	s.waitStatus(t, "s3-outage", time.Minute, "IN_PROGRESS")
	s.waitObjects(t, "s3-outage/", 2)

	gw.Kill()
	killed := time.Now()
	// The API answers from the task store, not from S3.
	if task := s.describe(t, "s3-outage"); aws.ToString(task.Status) == "COMPLETE" {
		t.Fatal("export completed before S3 went away; the table is too small")
	}
	task := s.waitStatus(t, "s3-outage", faultTimeout, "FAILED")
	t.Logf("failed %s after the outage began", time.Since(killed).Round(time.Millisecond))
	want := fmt.Sprintf("An unknown internal error occurred writing the exported data to the S3 bucket %s.", s.Bucket)
	if got := aws.ToString(task.FailureCause); got != want {
		t.Errorf("FailureCause %q, want %q", got, want)
	}
	// Still down: the whole list answers too.
	out, err := s.RDS.DescribeExportTasks(t.Context(), &rds.DescribeExportTasksInput{})
	if err != nil {
		t.Fatalf("DescribeExportTasks while S3 is down: %v", err)
	}
	if len(out.ExportTasks) != 1 {
		t.Errorf("DescribeExportTasks while S3 is down: %d tasks, want 1", len(out.ExportTasks))
	}
	for deadline := time.Now().Add(time.Second); s.engine.Running() != 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if n := s.engine.Running(); n != 0 {
		t.Errorf("engine still runs %d exports", n)
	}
	if task.TaskEndTime == nil {
		t.Error("FAILED task has no TaskEndTime")
	}

	gw.Restart()
	s.checkFailed(t, &task, "s3-outage/")
	// Uploads open when S3 went away could not be aborted while it was
	// down; they are only reported here.
	if uploads, err := s.Objects.ListMultipartUploads(t.Context(), s.Bucket); err != nil {
		t.Fatal(err)
	} else if len(uploads) > 0 {
		t.Logf("multipart uploads left by the outage: %v", uploads)
	}
	s.checkWorks(t, "after-outage", db.Name+".public.small")
}

// TestFault_PostgresBackendTerminated terminates the backend running the
// export's COPY: the task ends FAILED with a cause that names the source
// and the server's reason, no upload is left, and the next export works.
func TestFault_PostgresBackendTerminated(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a 2M-row table")
	}
	db := exporttest.NewPostgresDB(t, faultTablesSQL)
	s := startServer(t, db.URL, func(c *Config) { c.ExportConnections = 1; c.ExportFileBytes = 1 << 20 })

	s.startExport(t, "pg-kill", db.Name+".public.big")
	s.waitStatus(t, "pg-kill", time.Minute, "IN_PROGRESS")
	s.waitObjects(t, "pg-kill/", 1)

	ctx, cancel := context.WithTimeout(t.Context(), faultTimeout)
	defer cancel()
	admin, err := pgx.Connect(ctx, db.ServerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	var killed int
	if err := admin.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = 'rdsexport' AND datname = $1 AND query LIKE 'COPY%'`, db.Name).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed == 0 {
		t.Fatal("no COPY backend of rdsexport to terminate")
	}
	begin := time.Now()

	task := s.waitStatus(t, "pg-kill", faultTimeout, "FAILED")
	t.Logf("failed %s after the backend was terminated", time.Since(begin).Round(time.Millisecond))
	cause := aws.ToString(task.FailureCause)
	t.Logf("FailureCause: %s", cause)
	// The server's FATAL message is read when it arrives before the
	// connection closes; otherwise the source says the connection is lost.
	if !strings.HasPrefix(cause, "The export could not read the source "+clusterArn("pg")+": ") ||
		!strings.Contains(cause, "terminating connection due to administrator command") && !strings.Contains(cause, "connection to the server lost") {
		t.Errorf("FailureCause %q: want the source and the server's reason", cause)
	}
	if u, _ := url.Parse(db.URL); u != nil {
		if pw, ok := u.User.Password(); ok && strings.Contains(cause, pw) {
			t.Errorf("FailureCause %q shows the password", cause)
		}
	}
	s.checkFailed(t, &task, "pg-kill/")
	s.checkNoUploads(t, "pg-kill/")
	s.checkWorks(t, "after-pg-kill", db.Name+".public.small")
}

// TestFault_MariaDBConnectionKilled kills the connection reading the table
// (KILL <id>): the task ends FAILED with a cause that names the source, no
// upload is left, and the next export works.
func TestFault_MariaDBConnectionKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a 2M-row table")
	}
	my := exporttest.NewMySQLDB(t, `
CREATE TABLE big (id BIGINT, qty INT, price DOUBLE, note VARCHAR(64), day DATE);
INSERT INTO big SELECT seq, seq % 1000, seq * 0.25, MD5(seq), '2020-01-01' + INTERVAL (seq % 2000) DAY FROM seq_1_to_2000000;
CREATE TABLE small (id INT PRIMARY KEY, name VARCHAR(20));
INSERT INTO small SELECT seq, CONCAT('row ', seq) FROM seq_1_to_100;`)
	s := startServer(t, "", func(c *Config) {
		c.Clusters = []SourceConfig{{Identifier: "pg", Engine: "mariadb", URL: my.URL}}
		c.ExportConnections = 1
		c.ExportFileBytes = 1 << 20
	})

	s.startExport(t, "my-kill", my.Name+".big")
	s.waitStatus(t, "my-kill", time.Minute, "IN_PROGRESS")
	s.waitObjects(t, "my-kill/", 1)

	ctx, cancel := context.WithTimeout(t.Context(), faultTimeout)
	defer cancel()
	conn, err := my.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var id int64
	err = conn.QueryRowContext(ctx, `SELECT ID FROM information_schema.PROCESSLIST
		WHERE INFO LIKE 'SELECT %big%' AND INFO LIKE CONCAT('%', ?, '%') AND ID <> CONNECTION_ID()`, my.Name).Scan(&id)
	if err == sql.ErrNoRows {
		t.Fatal("no query of rdsexport reading big to kill")
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("KILL %d", id)); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()

	task := s.waitStatus(t, "my-kill", faultTimeout, "FAILED")
	t.Logf("failed %s after the connection was killed", time.Since(begin).Round(time.Millisecond))
	cause := aws.ToString(task.FailureCause)
	t.Logf("FailureCause: %s", cause)
	if !strings.HasPrefix(cause, "The export could not read the source "+clusterArn("pg")+": ") ||
		!strings.Contains(cause, "Connection was killed") && !strings.Contains(cause, "connection to the server lost") {
		t.Errorf("FailureCause %q: want the source and the reason", cause)
	}
	if u, _ := url.Parse(my.URL); u != nil {
		if pw, ok := u.User.Password(); ok && strings.Contains(cause, pw) {
			t.Errorf("FailureCause %q shows the password", cause)
		}
	}
	s.checkFailed(t, &task, "my-kill/")
	s.checkNoUploads(t, "my-kill/")
	s.checkWorks(t, "after-my-kill", my.Name+".small")
}
