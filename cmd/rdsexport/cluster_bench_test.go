package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"

	"github.com/rdsexport/rdsexport/internal/exporttest"
)

// Knobs of BenchmarkClusterScaling.
const (
	// scalingSourceEnv is a PostgreSQL URL with a database, and
	// scalingTableEnv a table of it (schema.table); unset, the benchmark
	// generates a table of 2M rows.
	scalingSourceEnv = "RDSEXPORT_BENCH_SOURCE"
	scalingTableEnv  = "RDSEXPORT_BENCH_TABLE"
	// scalingCPUEnv is each node's CPU quota in CPUs (default 0.3).
	scalingCPUEnv = "RDSEXPORT_BENCH_NODE_CPU"
)

// BenchmarkClusterScaling exports one table with 1, 2 and 3 nodes sharing a
// PostgreSQL store and versitygw, each node in a cgroup of its own limited
// to the same CPU quota, PostgreSQL and versitygw unlimited. Each node reads
// one range at a time (range_workers: 1) of the table's six ranges
// (export_connections: 3). It reports the seconds from StartExportTask to
// the task's TaskEndTime per node count and the speed-ups over one node.
func BenchmarkClusterScaling(b *testing.B) {
	quota := 0.3
	if v := os.Getenv(scalingCPUEnv); v != "" {
		var err error
		if quota, err = strconv.ParseFloat(v, 64); err != nil || quota <= 0 {
			b.Fatalf("%s=%q", scalingCPUEnv, v)
		}
	}
	cg := newCPUCgroups(b, quota)
	sourceURL, table := os.Getenv(scalingSourceEnv), os.Getenv(scalingTableEnv)
	if sourceURL == "" {
		db := exporttest.NewPostgresDB(b, `
CREATE TABLE scaling (id bigint, qty integer, price double precision, note text, day date, flag boolean);
INSERT INTO scaling SELECT i, i % 1000, i * 0.25, md5(i::text) || ' some text to make rows wider', date '2020-01-01' + i % 2000, i % 2 = 0
	FROM generate_series(1, 2000000) i;
ANALYZE scaling;`)
		sourceURL, table = db.URL, "public.scaling"
	}
	cfg, err := pgx.ParseConfig(sourceURL)
	if err != nil {
		b.Fatalf("%s: %v", scalingSourceEnv, err)
	}
	bin := buildBinary(b)
	gw := exporttest.StartVersityGW(b)
	s3c := s3Client(gw.Endpoint, aws.Credentials{AccessKeyID: gw.AccessKeyID, SecretAccessKey: gw.SecretAccessKey})
	for _, bk := range []string{testBucket, "snapshots"} {
		if _, err := s3c.CreateBucket(b.Context(), &s3.CreateBucketInput{Bucket: aws.String(bk)}); err != nil {
			b.Fatal(err)
		}
	}
	dir := b.TempDir()
	for b.Loop() {
		secs := map[int]float64{}
		for nodes := 1; nodes <= 3; nodes++ {
			store := exporttest.NewPostgresDB(b, "")
			var procs []*process
			for i := range nodes {
				name := fmt.Sprintf("n%d-%d", nodes, i+1)
				config := filepath.Join(dir, name+".yaml")
				yaml := fmt.Sprintf(`listen: 127.0.0.1:0
node_id: %s
store: "%s"
data_dir: %s
s3: {endpoint: "%s", access_key_id: %s, secret_access_key: %s, region: us-east-1}
snapshots: {bucket: snapshots}
export_connections: 3
range_workers: 1
clusters:
  - {identifier: bench, engine: aurora-postgresql, url: "%s", databases: [%s]}
`, name, store.URL, filepath.Join(dir, name), gw.Endpoint, gw.AccessKeyID, gw.SecretAccessKey, sourceURL, cfg.Database)
				if err := os.WriteFile(config, []byte(yaml), 0o600); err != nil {
					b.Fatal(err)
				}
				p := startProcess(b, bin, config)
				cg.add(b, p.cmd.Process.Pid)
				procs = append(procs, p)
			}
			id := fmt.Sprintf("scaling-%d-%d", nodes, time.Now().UnixNano())
			client := rdsClient(procs[0].url, Credential{AccessKeyID: "test", SecretAccessKey: "test"})
			began := time.Now()
			if _, err := client.StartExportTask(b.Context(), &rds.StartExportTaskInput{
				ExportTaskIdentifier: aws.String(id), SourceArn: aws.String(clusterArn("bench")),
				S3BucketName: aws.String(testBucket), IamRoleArn: aws.String(roleArn), KmsKeyId: aws.String("alias/export"),
				ExportOnly: []string{cfg.Database + "." + table},
			}); err != nil {
				b.Fatal(err)
			}
			ended := waitComplete(b, client, id, 30*time.Minute)
			secs[nodes] = ended.Sub(began).Seconds()
			var cpu []string
			for _, p := range procs {
				cpu = append(cpu, fmt.Sprintf("%.1f", processCPU(b, p.cmd.Process.Pid)))
			}
			b.Logf("%d node(s) at %.2f CPU each: %.2f s, node CPU-s %s, ranges read per node %v", nodes, quota, secs[nodes],
				strings.Join(cpu, " "), rangesPerNode(b, store.URL, id))
			for _, p := range procs {
				_ = p.cmd.Process.Kill()
				_ = p.cmd.Wait()
			}
		}
		b.ReportMetric(secs[1], "s-1node")
		b.ReportMetric(secs[2], "s-2nodes")
		b.ReportMetric(secs[3], "s-3nodes")
		b.ReportMetric(secs[1]/secs[2], "speedup-2nodes")
		b.ReportMetric(secs[1]/secs[3], "speedup-3nodes")
	}
}

// waitComplete polls task id until COMPLETE and returns its TaskEndTime.
func waitComplete(tb testing.TB, client *rds.Client, id string, timeout time.Duration) time.Time {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out, err := client.DescribeExportTasks(tb.Context(), &rds.DescribeExportTasksInput{ExportTaskIdentifier: aws.String(id)})
		if err != nil {
			tb.Fatal(err)
		}
		task := out.ExportTasks[0]
		switch aws.ToString(task.Status) {
		case "COMPLETE":
			return aws.ToTime(task.TaskEndTime)
		case "FAILED", "CANCELED":
			tb.Fatalf("export %s %s: %s", id, aws.ToString(task.Status), aws.ToString(task.FailureCause))
		}
		if time.Now().After(deadline) {
			tb.Fatalf("export %s still %s after %s", id, aws.ToString(task.Status), timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// rangesPerNode counts the range jobs of task id each node completed.
func rangesPerNode(tb testing.TB, storeURL, id string) map[string]int {
	tb.Helper()
	conn, err := pgx.Connect(tb.Context(), storeURL)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(tb.Context(), `SELECT attempted_by[array_length(attempted_by, 1)], count(*) FROM river_job
		WHERE kind = 'rdsexport_range' AND args->>'identifier' = $1 AND state = 'completed' GROUP BY 1`, id)
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]int{}
	for rows.Next() {
		var node string
		var n int
		if err := rows.Scan(&node, &n); err != nil {
			tb.Fatal(err)
		}
		out[node] = n
	}
	return out
}

// processCPU is the CPU seconds (user + system) process pid has used.
func processCPU(tb testing.TB, pid int) float64 {
	tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100
}

// cpuCgroups puts processes in cgroups of their own, each limited to the
// same CPU quota: cgroup v2's cpu.max where the cpu controller is enabled,
// else cgroup v1's cpu.cfs_quota_us.
type cpuCgroups struct {
	root  string // the cgroup directory new groups are made in
	v2    bool
	quota float64
	n     int
}

func newCPUCgroups(tb testing.TB, quota float64) *cpuCgroups {
	tb.Helper()
	if c, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers"); err == nil && strings.Contains(string(c), "cpu") {
		return &cpuCgroups{root: "/sys/fs/cgroup", v2: true, quota: quota}
	}
	if _, err := os.Stat("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"); err == nil {
		return &cpuCgroups{root: "/sys/fs/cgroup/cpu", quota: quota}
	}
	tb.Skip("no writable cgroup with a CPU controller")
	return nil
}

// add moves process pid into a new group with the quota; the group is
// removed when the test ends (after the process is killed).
func (c *cpuCgroups) add(tb testing.TB, pid int) {
	tb.Helper()
	c.n++
	dir := filepath.Join(c.root, fmt.Sprintf("rdsexport-bench-%d-%d", os.Getpid(), c.n))
	if err := os.Mkdir(dir, 0o755); err != nil {
		tb.Skipf("make a cgroup: %v", err)
	}
	tb.Cleanup(func() {
		// The process is gone once its own cleanup ran; try for a while.
		for range 50 {
			if os.Remove(dir) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	const period = 100000
	var file, value string
	if c.v2 {
		file, value = "cpu.max", fmt.Sprintf("%d %d", int(c.quota*period), period)
	} else {
		file, value = "cpu.cfs_quota_us", strconv.Itoa(int(c.quota*period))
	}
	if err := os.WriteFile(filepath.Join(dir, file), []byte(value), 0o644); err != nil {
		tb.Fatalf("set the CPU quota: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
		tb.Fatalf("move process %d into its cgroup: %v", pid, err)
	}
}
