package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/rdsexport/rdsexport/internal/exporttest"
)

// bigTableSQL is a 2,000,000-row table of mixed columns (about 200 MB).
const bigTableSQL = `
CREATE TABLE big (id bigint, qty integer, price double precision, note text, day date, flag boolean);
INSERT INTO big SELECT i, i % 1000, i * 0.25, md5(i::text) || ' some text to make rows wider', date '2020-01-01' + i % 2000, i % 2 = 0
	FROM generate_series(1, 2000000) i;
ANALYZE big;
`

// TestExport_CancelMidTable cancels an export of a 2M-row table while it
// runs: CancelExportTask answers CANCELING, Describe shows CANCELED within
// 1 s, nothing is written afterwards, written parts stay, and no multipart
// upload is left.
func TestExport_CancelMidTable(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a 2M-row table")
	}
	db := exporttest.NewPostgresDB(t, bigTableSQL)
	// Small files so that some objects exist before the cancel.
	s := startServer(t, db.URL, func(c *Config) { c.ExportConnections = 1; c.ExportFileBytes = 1 << 20 })

	s.startExport(t, "cancel-me", db.Name)
	s.waitStatus(t, "cancel-me", time.Minute, "IN_PROGRESS")
	// Wait until the first part files exist and progress is recorded.
	deadline := time.Now().Add(time.Minute)
	for {
		keys, err := s.Objects.List(t.Context(), s.Bucket, "cancel-me/")
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no objects written after a minute: %v", keys)
		}
		time.Sleep(10 * time.Millisecond)
	}

	begin := time.Now()
	out, err := s.RDS.CancelExportTask(t.Context(), &rds.CancelExportTaskInput{ExportTaskIdentifier: aws.String("cancel-me")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Status) != "CANCELING" {
		t.Errorf("CancelExportTask status %s, want CANCELING", aws.ToString(out.Status))
	}
	task := s.waitStatus(t, "cancel-me", time.Second, "CANCELED")
	latency := time.Since(begin)
	t.Logf("cancel latency: %s (progress %d%%)", latency, aws.ToInt32(task.PercentProgress))
	if task.TaskEndTime == nil {
		t.Error("CANCELED task has no TaskEndTime")
	}

	before, err := s.Objects.List(t.Context(), s.Bucket, "cancel-me/")
	if err != nil {
		t.Fatal(err)
	}
	if len(before) == 0 {
		t.Fatal("objects written before the cancel are gone")
	}
	for _, k := range before {
		if exportManifest(k) {
			t.Errorf("manifest %s written for a canceled export", k)
		}
	}
	// Nothing appears afterwards.
	time.Sleep(time.Second)
	after, err := s.Objects.List(t.Context(), s.Bucket, "cancel-me/")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(before, after) {
		t.Errorf("objects changed after CANCELED:\nbefore %v\nafter  %v", before, after)
	}
	uploads, err := s.Objects.ListMultipartUploads(t.Context(), s.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	if len(uploads) != 0 {
		t.Errorf("multipart uploads left: %v", uploads)
	}
	if n := s.engine.Running(); n != 0 {
		t.Errorf("engine still runs %d exports", n)
	}

	// A canceled task cannot be canceled again, and keeps its identifier.
	_, err = s.RDS.CancelExportTask(t.Context(), &rds.CancelExportTaskInput{ExportTaskIdentifier: aws.String("cancel-me")})
	if apiCode(err) != "InvalidExportTaskStateFault" {
		t.Errorf("second cancel: %v, want InvalidExportTaskStateFault", err)
	}
}

func exportManifest(key string) bool {
	return strings.Contains(key, "/export_info_") || strings.Contains(key, "/export_tables_info_")
}
