package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/rdsexport/rdsexport/internal/exporttest"
)

// getMetrics fetches /metrics with the basic credentials user:pass ("" for
// none) and returns the status and body.
func getMetrics(t *testing.T, url, user, pass string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// samples parses the text format into series ("name{labels}") → value.
func samples(t *testing.T, body string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

func TestMetrics_Auth(t *testing.T) {
	s := startServer(t, noSource, func(c *Config) {
		c.Credentials = append(c.Credentials, Credential{AccessKeyID: "other", SecretAccessKey: "other-secret", AccountID: "111122223333"})
	})
	for _, c := range []struct {
		name, user, pass string
		want             int
	}{
		{"NoCredentials", "", "", http.StatusUnauthorized},
		{"WrongSecret", "test", "wrong", http.StatusUnauthorized},
		{"UnknownKey", "nobody", "test", http.StatusUnauthorized},
		{"OtherAccount", "other", "other-secret", http.StatusUnauthorized},
		{"OwnAccount", "test", "test", http.StatusOK},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, body := getMetrics(t, s.URL(), c.user, c.pass)
			if code != c.want {
				t.Fatalf("GET /metrics = %d, want %d\n%s", code, c.want, body)
			}
			if code == http.StatusOK && !strings.Contains(body, "# TYPE rdsexport_export_tasks gauge") {
				t.Fatalf("no task gauge in\n%s", body)
			}
		})
	}
	t.Run("Public", func(t *testing.T) {
		p := startServer(t, noSource, func(c *Config) { c.Metrics.Public = true })
		if code, _ := getMetrics(t, p.URL(), "", ""); code != http.StatusOK {
			t.Fatalf("GET /metrics with metrics.public = %d", code)
		}
	})
}

// TestMetrics_Export watches the metrics of a real export move while it
// runs, then checks them against the files and rows it wrote.
func TestMetrics_Export(t *testing.T) {
	const rows = 300_000
	db := exporttest.NewPostgresDB(t, "")
	if err := fillBigTable(t.Context(), db.URL, rows); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, db.URL, func(c *Config) { c.ExportFileBytes = 1 << 20 })
	scrape := func() map[string]float64 {
		code, body := getMetrics(t, s.URL(), "test", "test")
		if code != http.StatusOK {
			t.Fatalf("GET /metrics = %d", code)
		}
		return samples(t, body)
	}
	before := scrape()
	if before["rdsexport_export_rows_total"] != 0 || before["rdsexport_exports_running"] != 0 {
		t.Fatalf("metrics before any export: rows %v, running %v", before["rdsexport_export_rows_total"], before["rdsexport_exports_running"])
	}

	s.startExport(t, "metrics-export", db.Name+".public.big")
	rate := fmt.Sprintf(`rdsexport_export_throughput_bytes_per_second{account_id="%s",export_task_identifier="metrics-export"}`, testAccount)
	var during map[string]float64
	deadline := time.Now().Add(2 * time.Minute)
	for during == nil {
		m := scrape()
		st := aws.ToString(s.describe(t, "metrics-export").Status)
		if st == "COMPLETE" || st == "FAILED" {
			t.Fatalf("the export ended (%s) before its metrics were seen moving", st)
		}
		if m["rdsexport_exports_running"] == 1 && m["rdsexport_export_rows_total"] > 0 && m[rate] > 0 {
			during = m
		}
		if time.Now().After(deadline) {
			t.Fatal("no metrics of the running export")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if during["rdsexport_export_rows_total"] >= rows {
		t.Errorf("rows while running: %v", during["rdsexport_export_rows_total"])
	}
	s.waitStatus(t, "metrics-export", 2*time.Minute, "COMPLETE")

	_, keys := s.download(t, "metrics-export/")
	parquet := 0
	for _, k := range keys {
		if strings.HasSuffix(k, ".parquet") {
			parquet++
		}
	}
	after := scrape()
	for series, want := range map[string]float64{
		"rdsexport_export_rows_total":                                            rows,
		"rdsexport_parquet_files_written_total":                                  float64(parquet),
		"rdsexport_exports_running":                                              0,
		"rdsexport_exports_started_total":                                        1,
		`rdsexport_export_tasks{status="COMPLETE"}`:                              1,
		`rdsexport_export_tasks{status="IN_PROGRESS"}`:                           0,
		`rdsexport_api_requests_total{action="StartExportTask",code="OK"}`:       1,
		`rdsexport_api_request_duration_seconds_count{action="StartExportTask"}`: 1,
		`rdsexport_s3_request_errors_total{operation="put"}`:                     0,
		`rdsexport_snapshots{kind="cluster",status="available"}`:                 0,
		"rdsexport_snapshot_copies_started_total":                                0,
	} {
		if got, ok := after[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	if parquet < 2 {
		t.Errorf("%d Parquet files; the test wants several", parquet)
	}
	for _, series := range []string{
		"rdsexport_export_source_bytes_total",
		`rdsexport_s3_request_duration_seconds_count{operation="put"}`,
		"rdsexport_source_read_duration_seconds_count",
		"rdsexport_export_bytes_written_total",
	} {
		if after[series] <= 0 {
			t.Errorf("%s = %v, want > 0", series, after[series])
		}
	}
	if _, ok := after[rate]; ok {
		t.Errorf("the throughput of the ended export is still reported")
	}
	// A refused request counts under its code; an action the server does
	// not serve, under "unknown".
	_, err := s.RDS.CancelExportTask(t.Context(), &rds.CancelExportTaskInput{ExportTaskIdentifier: aws.String("no-such-task")})
	if apiCode(err) != "ExportTaskNotFound" {
		t.Fatalf("CancelExportTask: %v", err)
	}
	if got := scrape()[`rdsexport_api_requests_total{action="CancelExportTask",code="ExportTaskNotFound"}`]; got != 1 {
		t.Errorf("refused cancels counted %v", got)
	}
}
