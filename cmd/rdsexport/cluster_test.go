package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"

	"github.com/rdsexport/rdsexport/internal/exporttest"
)

// clusterBigRows is the size of the table the node-death cases export: big
// enough that the export is still running when its node is killed.
const clusterBigRows = 1_000_000

// killsEnv sets how many times TestCluster/KillRunningNode kills the node
// running an export (default 1); it logs the takeover times' p50 and p99.
const killsEnv = "RDSEXPORT_TEST_KILLS"

// testCluster is three `rdsexport serve` processes on one PostgreSQL store
// and one versitygw.
type testCluster struct {
	bin     string
	dir     string
	storeDB *exporttest.PostgresDB
	source  *exporttest.PostgresDB
	gw      *exporttest.VersityGW
	nodes   []*clusterNode
	// cut reaches the store for the last node: the test can cut it off.
	cut *blackhole
	// t is the test that owns the processes: a node restarted in a
	// subtest must outlive it.
	t *testing.T
}

type clusterNode struct {
	name   string
	config string
	p      *process
}

func (n *clusterNode) rds() *rds.Client {
	return rdsClient(n.p.url, Credential{AccessKeyID: "test", SecretAccessKey: "test"})
}

func newTestCluster(t *testing.T, nodes int) *testCluster {
	t.Helper()
	c := &testCluster{
		bin:     buildBinary(t),
		dir:     t.TempDir(),
		storeDB: exporttest.NewPostgresDB(t, ""),
		source: exporttest.NewPostgresDB(t, fmt.Sprintf(`
CREATE TABLE big (id bigint PRIMARY KEY, qty integer, price double precision, note text);
INSERT INTO big SELECT i, i %% 1000, i * 0.25, md5(i::text) FROM generate_series(1, %d) i;
CREATE TABLE mid (id bigint PRIMARY KEY, note text);
INSERT INTO mid SELECT i, md5(i::text) FROM generate_series(1, 100000) i;
ANALYZE;`, clusterBigRows)),
		gw: exporttest.StartVersityGW(t),
		t:  t,
	}
	s3c := s3Client(c.gw.Endpoint, aws.Credentials{AccessKeyID: c.gw.AccessKeyID, SecretAccessKey: c.gw.SecretAccessKey})
	for _, b := range []string{testBucket, "snapshots"} {
		if _, err := s3c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	c.cut = newBlackhole(t, "127.0.0.1", "127.0.0.1:5432")
	for i := range nodes {
		name := fmt.Sprintf("node%d", i+1)
		storeURL := c.storeDB.URL
		if i == nodes-1 {
			storeURL = strings.Replace(storeURL, "127.0.0.1:5432", c.cut.addr, 1)
		}
		config := c.writeConfig(t, name, "127.0.0.1", storeURL, c.source.URL, c.gw.Endpoint)
		n := &clusterNode{name: name, config: config}
		n.p = startProcess(t, c.bin, config)
		c.nodes = append(c.nodes, n)
	}
	return c
}

// writeConfig writes the configuration of node name, listening on host,
// with the given store, source and S3 addresses.
func (c *testCluster) writeConfig(t *testing.T, name, host, storeURL, sourceURL, s3Endpoint string) string {
	t.Helper()
	var sources string
	for i := range 10 {
		sources += fmt.Sprintf("  - {identifier: s%d, engine: aurora-postgresql, url: \"%s\", databases: [%s]}\n", i, sourceURL, c.source.Name)
	}
	config := filepath.Join(c.dir, name+".yaml")
	yaml := fmt.Sprintf(`listen: %s:0
node_id: %s
store: "%s"
data_dir: %s
s3: {endpoint: "%s", access_key_id: %s, secret_access_key: %s, region: us-east-1}
snapshots: {bucket: snapshots}
export_connections: 1
export_file_bytes: 1048576
clusters:
  - {identifier: big, engine: aurora-postgresql, url: "%s", databases: [%s]}
`, host, name, storeURL, filepath.Join(c.dir, name), s3Endpoint, c.gw.AccessKeyID, c.gw.SecretAccessKey,
		sourceURL, c.source.Name) + sources
	if err := os.WriteFile(config, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return config
}

// start begins an export of cluster `source` (only table) through node i.
func (c *testCluster) start(t *testing.T, i int, id, source, table string) {
	t.Helper()
	exportOnly := []string{c.source.Name + ".public." + table}
	if _, err := c.nodes[i].rds().StartExportTask(t.Context(), &rds.StartExportTaskInput{
		ExportTaskIdentifier: aws.String(id), SourceArn: aws.String(clusterArn(source)),
		S3BucketName: aws.String(testBucket), IamRoleArn: aws.String(roleArn), KmsKeyId: aws.String("alias/export"),
		ExportOnly: exportOnly,
	}); err != nil {
		t.Fatalf("StartExportTask %s on %s: %v", id, c.nodes[i].name, err)
	}
}

func (c *testCluster) status(t *testing.T, i int, id string) (string, string) {
	t.Helper()
	out, err := c.nodes[i].rds().DescribeExportTasks(t.Context(), &rds.DescribeExportTasksInput{ExportTaskIdentifier: aws.String(id)})
	if err != nil {
		t.Fatalf("DescribeExportTasks on %s: %v", c.nodes[i].name, err)
	}
	if len(out.ExportTasks) != 1 {
		t.Fatalf("DescribeExportTasks %s on %s: %d tasks", id, c.nodes[i].name, len(out.ExportTasks))
	}
	return aws.ToString(out.ExportTasks[0].Status), aws.ToString(out.ExportTasks[0].FailureCause)
}

// wait polls node i until task id has status want; a terminal status other
// than want fails the test.
func (c *testCluster) wait(t *testing.T, i int, id string, timeout time.Duration, want string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st, cause := c.status(t, i, id)
		if st == want {
			return
		}
		if slices.Contains([]string{"COMPLETE", "FAILED", "CANCELED"}, st) {
			t.Fatalf("task %s is %s (%q), want %s", id, st, cause, want)
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s still %s after %s, want %s", id, st, timeout, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runner returns the node running task id (by the shared store's run
// table) and the run's attempt; "" when no live node runs it.
func (c *testCluster) runner(t *testing.T, id string) (string, int) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), c.storeDB.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var node string
	var attempt int
	err = conn.QueryRow(t.Context(), `SELECT n.node_id, r.attempt FROM rdsexport_runs r
		JOIN rdsexport_nodes n ON n.instance = r.instance
		WHERE r.identifier = $1 AND n.heartbeat_at > now() - interval '10 seconds'`, id).Scan(&node, &attempt)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return node, attempt
}

func (c *testCluster) node(name string) int {
	for i, n := range c.nodes {
		if n.name == name {
			return i
		}
	}
	return -1
}

// waitRunner waits until a live node other than not runs task id, and
// returns it with the attempt.
func (c *testCluster) waitRunner(t *testing.T, id, not string, timeout time.Duration) (string, int) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if node, attempt := c.runner(t, id); node != "" && node != not {
			return node, attempt
		}
		if time.Now().After(deadline) {
			t.Fatalf("no node other than %q runs %s after %s", not, id, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// holdMidExport waits until task id has stored a file of table, then
// pauses S3 so that the export cannot end while the test kills, pauses or
// cuts the node running it: the test tables export in about a second, too
// fast for a test to act in the middle otherwise. i is a node that answers
// Describe. The returned function resumes S3; it also runs when the test
// ends.
func (c *testCluster) holdMidExport(t *testing.T, i int, id, table string) (resume func()) {
	t.Helper()
	glob := filepath.Join(c.gw.Dir, testBucket, id, c.source.Name, "public."+table, "*", "*.parquet")
	deadline := time.Now().Add(time.Minute)
	for {
		if files, _ := filepath.Glob(glob); len(files) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s stored no file of %s within a minute", id, table)
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.gw.Pause()
	var once sync.Once
	resume = func() { once.Do(c.gw.Resume) }
	t.Cleanup(resume)
	if st, _ := c.status(t, i, id); st != "STARTING" && st != "IN_PROGRESS" {
		t.Fatalf("%s was %s when S3 was paused; want it running", id, st)
	}
	return resume
}

// checkRows compares the exported rows of table with the source: the same
// count, the same sum of ids and no id twice (read with DuckDB from
// versitygw's files).
func (c *testCluster) checkRows(t *testing.T, id, table string, want int64) {
	t.Helper()
	duck, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer duck.Close()
	glob := filepath.Join(c.gw.Dir, testBucket, id, c.source.Name, "public."+table, "*", "*.parquet")
	var n, distinct, sum int64
	if err := duck.QueryRow(`SELECT count(*), count(DISTINCT id), sum(id) FROM read_parquet(?)`, glob).Scan(&n, &distinct, &sum); err != nil {
		t.Fatal(err)
	}
	if n != want || distinct != want || sum != want*(want+1)/2 {
		t.Errorf("%s: %d rows, %d distinct ids, sum %d; want %d rows", id, n, distinct, sum, want)
	}
}

// blackhole forwards TCP connections to a server until cut: then every
// byte in either direction is dropped and the connections stay open, as
// when a network partition falls between the two.
type blackhole struct {
	addr string
	mu   sync.Mutex
	cut  bool
}

// newBlackhole listens on host (an IP address, any port) and forwards to to.
func newBlackhole(t *testing.T, host, to string) *blackhole {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{addr: ln.Addr().String()}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				s, err := net.Dial("tcp", to)
				if err != nil {
					c.Close()
					return
				}
				go b.pipe(s, c)
				b.pipe(c, s)
			}()
		}
	}()
	return b
}

func (b *blackhole) pipe(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		if b.isCut() {
			continue
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			return
		}
	}
}

func (b *blackhole) set(cut bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cut = cut
}

func (b *blackhole) isCut() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cut
}

// restart starts node i again after it was killed or stopped.
func (c *testCluster) restart(t *testing.T, i int) {
	t.Helper()
	c.nodes[i].p = startProcess(c.t, c.bin, c.nodes[i].config)
}

// TestCluster runs three nodes on one PostgreSQL store: any node answers any
// call, cancel reaches the node that runs the export, limits hold across the
// cluster, and a node's death (kill -9), pause (SIGSTOP) or leave (SIGTERM)
// does not fail the export it ran.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three server processes")
	}
	c := newTestCluster(t, 3)

	t.Run("AnyNodeCancel", func(t *testing.T) {
		c.start(t, 0, "any-1", "big", "big")
		c.wait(t, 1, "any-1", time.Minute, "IN_PROGRESS")
		runner, _ := c.waitRunner(t, "any-1", "", 30*time.Second)
		// Cancel while nodes read ranges of it.
		c.waitRanges(t, "any-1", 30*time.Second, "a range being read", func(rs []rangeState) bool {
			return slices.ContainsFunc(rs, func(r rangeState) bool { return r.state == "running" })
		})
		other := (c.node(runner) + 1) % len(c.nodes)
		begin := time.Now()
		if _, err := c.nodes[other].rds().CancelExportTask(t.Context(), &rds.CancelExportTaskInput{ExportTaskIdentifier: aws.String("any-1")}); err != nil {
			t.Fatal(err)
		}
		c.wait(t, (other+1)%len(c.nodes), "any-1", 30*time.Second, "CANCELED")
		took := time.Since(begin)
		t.Logf("canceled on %s, ran on %s: CANCELED after %s", c.nodes[other].name, runner, took)
		if took > time.Second {
			t.Errorf("cancel from another node took %s, want ≤ 1s", took)
		}
		// The ranges nodes were reading stop too.
		deadline := time.Now().Add(time.Second)
		for {
			jobs, running := c.rangeJobs(t, "any-1"), 0
			for _, j := range jobs {
				if j.state == "running" {
					running++
				}
			}
			if len(jobs) == 0 {
				t.Fatal("no range jobs")
			}
			if running == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d range jobs still running 1 s after CANCELED", running)
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Logf("range jobs of the canceled export: %+v", c.rangeJobs(t, "any-1"))
	})

	t.Run("Limits", func(t *testing.T) {
		// 50 concurrent Starts, 5 per source over 10 sources, spread over
		// the nodes: one export per source, at most 5 running at once.
		var wg sync.WaitGroup
		var mu sync.Mutex
		accepted := map[string]bool{}
		codes := map[string]int{}
		for i := range 50 {
			wg.Go(func() {
				id := fmt.Sprintf("lim-%02d", i)
				node := c.nodes[i%len(c.nodes)]
				_, err := node.rds().StartExportTask(t.Context(), &rds.StartExportTaskInput{
					ExportTaskIdentifier: aws.String(id), SourceArn: aws.String(clusterArn(fmt.Sprintf("s%d", i%10))),
					S3BucketName: aws.String(testBucket), IamRoleArn: aws.String(roleArn), KmsKeyId: aws.String("alias/export"),
					ExportOnly: []string{c.source.Name + ".public.mid"},
				})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					codes[apiCode(err)]++
					return
				}
				accepted[id] = true
			})
		}
		wg.Wait()
		if len(accepted) != 10 || codes["ExportTaskAlreadyExists"] != 40 {
			t.Fatalf("accepted %d, errors %v; want 10 accepted, 40 ExportTaskAlreadyExists", len(accepted), codes)
		}
		maxActive, done := 0, 0
		deadline := time.Now().Add(3 * time.Minute)
		for done < len(accepted) {
			out, err := c.nodes[0].rds().DescribeExportTasks(t.Context(), &rds.DescribeExportTasksInput{})
			if err != nil {
				t.Fatal(err)
			}
			active := 0
			done = 0
			for _, task := range out.ExportTasks {
				if !accepted[aws.ToString(task.ExportTaskIdentifier)] {
					continue
				}
				switch aws.ToString(task.Status) {
				case "IN_PROGRESS", "CANCELING":
					active++
				case "COMPLETE":
					done++
				case "FAILED", "CANCELED":
					t.Fatalf("%s: %s (%s)", aws.ToString(task.ExportTaskIdentifier), aws.ToString(task.Status), aws.ToString(task.FailureCause))
				}
			}
			maxActive = max(maxActive, active)
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d exports done after 3 minutes", done, len(accepted))
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Logf("at most %d exports ran at once", maxActive)
		if maxActive > 5 || maxActive < 2 {
			t.Errorf("at most %d exports ran at once, want 2..5", maxActive)
		}
		for id := range accepted {
			c.checkRows(t, id, "mid", 100000)
		}
	})

	t.Run("ControlPlaneWhileExporting", func(t *testing.T) {
		// What the job queue costs the API: Describe and Start latency on
		// three nodes while two exports run.
		for i, src := range []string{"s0", "s1"} {
			c.start(t, i, "cp-"+src, src, "big")
			c.wait(t, i, "cp-"+src, time.Minute, "IN_PROGRESS")
		}
		var describe, start []time.Duration
		for i := range 300 {
			n := c.nodes[i%len(c.nodes)].rds()
			begin := time.Now()
			if _, err := n.DescribeExportTasks(t.Context(), &rds.DescribeExportTasksInput{}); err != nil {
				t.Fatal(err)
			}
			describe = append(describe, time.Since(begin))
			if i%30 == 0 && i/30 < 8 { // s2..s9, one export each
				src := fmt.Sprintf("s%d", 2+i/30)
				begin := time.Now()
				c.start(t, i%len(c.nodes), fmt.Sprintf("cp-start-%d", i), src, "mid")
				start = append(start, time.Since(begin))
			}
		}
		slices.Sort(describe)
		slices.Sort(start)
		t.Logf("with 2 exports running on 3 nodes: Describe p50 %s p99 %s (n=%d); Start p50 %s p99 %s (n=%d)",
			describe[len(describe)/2], describe[len(describe)*99/100], len(describe),
			start[len(start)/2], start[len(start)*99/100], len(start))
		for _, src := range []string{"s0", "s1"} {
			_, err := c.nodes[2].rds().CancelExportTask(t.Context(), &rds.CancelExportTaskInput{ExportTaskIdentifier: aws.String("cp-" + src)})
			if apiCode(err) == "InvalidExportTaskStateFault" {
				// It finished before the measurement did.
				t.Logf("cp-%s ended before the last call", src)
				c.wait(t, 0, "cp-"+src, time.Minute, "COMPLETE")
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			c.wait(t, 0, "cp-"+src, time.Minute, "CANCELED")
		}
		for i := 0; i < 240; i += 30 {
			c.wait(t, 1, fmt.Sprintf("cp-start-%d", i), 2*time.Minute, "COMPLETE")
		}
	})

	t.Run("KillRunningNode", func(t *testing.T) {
		kills := 1
		if v := os.Getenv(killsEnv); v != "" {
			var err error
			if kills, err = strconv.Atoi(v); err != nil || kills < 1 {
				t.Fatalf("%s=%q", killsEnv, v)
			}
		}
		var takeovers []time.Duration
		for k := range kills {
			id := fmt.Sprintf("kill-%d", k)
			c.start(t, k%len(c.nodes), id, "big", "big")
			runner, _ := c.waitRunner(t, id, "", time.Minute)
			i := c.node(runner)
			resume := c.holdMidExport(t, i, id, "big")
			killed := time.Now()
			if err := c.nodes[i].p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = c.nodes[i].p.cmd.Wait()
			resume()
			next, attempt := c.waitRunner(t, id, runner, 30*time.Second)
			took := time.Since(killed)
			takeovers = append(takeovers, took)
			t.Logf("killed %s; %s took over %s (attempt %d) after %s", runner, next, id, attempt, took)
			c.wait(t, c.node(next), id, 2*time.Minute, "COMPLETE")
			c.checkRows(t, id, "big", clusterBigRows)
			c.restart(t, i)
		}
		slices.Sort(takeovers)
		t.Logf("takeover after kill -9 over %d kills: p50 %s, p99 %s", kills,
			takeovers[len(takeovers)/2], takeovers[min(len(takeovers)-1, len(takeovers)*99/100)])
	})

	t.Run("PausedNodeIsFenced", func(t *testing.T) {
		c.start(t, 1, "pause-1", "big", "big")
		runner, _ := c.waitRunner(t, "pause-1", "", time.Minute)
		i := c.node(runner)
		resume := c.holdMidExport(t, i, "pause-1", "big")
		p := c.nodes[i].p.cmd.Process
		if err := p.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		paused := time.Now()
		resume() // the paused node's requests in flight reach S3 now
		next, attempt := c.waitRunner(t, "pause-1", runner, 30*time.Second)
		t.Logf("paused %s; %s took over (attempt %d) after %s", runner, next, attempt, time.Since(paused))
		// The paused node wakes while the new run writes into the same
		// prefix: it must write nothing more.
		if err := p.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		c.wait(t, c.node(next), "pause-1", 2*time.Minute, "COMPLETE")
		time.Sleep(2 * time.Second) // anything late from the paused node would land now
		c.checkRows(t, "pause-1", "big", clusterBigRows)
		if st, _ := c.status(t, i, "pause-1"); st != "COMPLETE" {
			t.Errorf("after the pause: %s", st)
		}
	})

	t.Run("CutFromStore", func(t *testing.T) {
		// The last node alone runs the export; then it loses the store
		// (not S3 or the source): it must stop writing, and another node
		// takes the export over.
		last := len(c.nodes) - 1
		// The other nodes are paused while the export is claimed, so
		// that the last node runs it, and go on at once (well within
		// their lease).
		for i := range last {
			if err := c.nodes[i].p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
		}
		c.start(t, last, "cut-1", "big", "big")
		runner, _ := c.waitRunner(t, "cut-1", "", time.Minute)
		for i := range last {
			if err := c.nodes[i].p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
				t.Fatal(err)
			}
		}
		if runner != c.nodes[last].name {
			t.Fatalf("%s runs the export, want %s", runner, c.nodes[last].name)
		}
		resume := c.holdMidExport(t, last, "cut-1", "big")
		c.cut.set(true)
		cut := time.Now()
		resume()
		next, attempt := c.waitRunner(t, "cut-1", runner, 30*time.Second)
		t.Logf("cut %s from the store; %s took over (attempt %d) after %s", runner, next, attempt, time.Since(cut))
		c.wait(t, c.node(next), "cut-1", 2*time.Minute, "COMPLETE")
		c.cut.set(false)
		time.Sleep(2 * time.Second) // anything late from the cut node would land now
		c.checkRows(t, "cut-1", "big", clusterBigRows)
	})

	t.Run("PartitionedNode", func(t *testing.T) { testPartitionedNode(t, c) })

	t.Run("CopyNodeKilled", func(t *testing.T) {
		// A snapshot copy runs on the node that took the call; when that
		// node dies the copy fails (it is not taken over), and its
		// partial data goes: it never stays creating.
		describe := func(i int) (string, int32) {
			out, err := c.nodes[i].rds().DescribeDBClusterSnapshots(t.Context(), &rds.DescribeDBClusterSnapshotsInput{
				DBClusterSnapshotIdentifier: aws.String("lost-copy")})
			if err != nil {
				t.Fatal(err)
			}
			return aws.ToString(out.DBClusterSnapshots[0].Status), aws.ToInt32(out.DBClusterSnapshots[0].PercentProgress)
		}
		if _, err := c.nodes[0].rds().CreateDBClusterSnapshot(t.Context(), &rds.CreateDBClusterSnapshotInput{
			DBClusterIdentifier: aws.String("big"), DBClusterSnapshotIdentifier: aws.String("lost-copy"),
		}); err != nil {
			t.Fatal(err)
		}
		copied := func() bool {
			var found bool
			_ = filepath.WalkDir(filepath.Join(c.gw.Dir, "snapshots"), func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() && strings.Contains(p, "lost-copy") {
					found = true
				}
				return nil
			})
			return found
		}
		deadline := time.Now().Add(time.Minute)
		for !copied() {
			if st, _ := describe(1); st != "creating" || time.Now().After(deadline) {
				t.Fatalf("snapshot is %s before any of it was stored", st)
			}
			time.Sleep(5 * time.Millisecond)
		}
		// S3 is paused so that the copy cannot end before the kill.
		c.gw.Pause()
		if err := c.nodes[0].p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = c.nodes[0].p.cmd.Wait()
		c.gw.Resume()
		killed := time.Now()
		for {
			st, _ := describe(1)
			if st == "failed" {
				break
			}
			if st != "creating" || time.Since(killed) > 30*time.Second {
				t.Fatalf("snapshot of the killed node is %s %s after the kill, want failed", st, time.Since(killed))
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("the copy of the killed node failed %s after the kill", time.Since(killed))
		if copied() {
			t.Error("the partial copy is still stored")
		}
		c.restart(t, 0)
	})

	t.Run("SigtermHandsBack", func(t *testing.T) {
		c.start(t, 2, "term-1", "big", "big")
		runner, _ := c.waitRunner(t, "term-1", "", time.Minute)
		i := c.node(runner)
		resume := c.holdMidExport(t, i, "term-1", "big")
		begin := time.Now()
		if err := c.nodes[i].p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		resume()
		// Another node takes the export over, or has already finished it
		// (the ranges are read by every node): either within 5 s, well
		// before the leaving node's lease would lapse.
		other := (i + 1) % len(c.nodes)
		deadline := time.Now().Add(10 * time.Second)
		for {
			if next, attempt := c.runner(t, "term-1"); next != "" && next != runner {
				t.Logf("SIGTERM to %s; %s took over (attempt %d) after %s", runner, next, attempt, time.Since(begin))
				break
			}
			if st, _ := c.status(t, other, "term-1"); st == "COMPLETE" {
				t.Logf("SIGTERM to %s; the export was COMPLETE after %s", runner, time.Since(begin))
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no node other than %s runs term-1 after 10s", runner)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if took := time.Since(begin); took > 5*time.Second {
			t.Errorf("hand-over took %s: the node's lease lapsed instead of the work being handed back", took)
		}
		if err := c.nodes[i].p.cmd.Wait(); err != nil {
			t.Errorf("%s after SIGTERM: %v", runner, err)
		}
		t.Logf("%s exited %s after SIGTERM", runner, time.Since(begin))
		c.wait(t, other, "term-1", 2*time.Minute, "COMPLETE")
		c.checkRows(t, "term-1", "big", clusterBigRows)
		c.restart(t, i)
	})
}

// rangeJob is one River job that read a range of an export.
type rangeJob struct {
	runAttempt, attempt int
	rng                 int
	state               string
	nodes               []string // River's attempted_by: the nodes that worked it
}

// rangeJobs lists the range jobs of task id (River keeps finished jobs).
func (c *testCluster) rangeJobs(t *testing.T, id string) []rangeJob {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), c.storeDB.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(t.Context(), `SELECT (args->>'run_attempt')::int, (args->>'attempt')::int, (args->>'range')::int,
		state::text, coalesce(attempted_by, '{}') FROM river_job WHERE kind = 'rdsexport_range' AND args->>'identifier' = $1
		ORDER BY id`, id)
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (rangeJob, error) {
		var j rangeJob
		err := r.Scan(&j.runAttempt, &j.attempt, &j.rng, &j.state, &j.nodes)
		return j, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return jobs
}

// rangeState is one row of the ranges of task id: its state and the node
// reading it ("" when none).
type rangeState struct {
	rng   int
	state string
	node  string
}

func (c *testCluster) ranges(t *testing.T, id string) []rangeState {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), c.storeDB.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(t.Context(), `SELECT rg.rng, rg.state, coalesce(n.node_id, '') FROM rdsexport_ranges rg
		LEFT JOIN rdsexport_nodes n ON n.instance = rg.instance WHERE rg.identifier = $1 ORDER BY rg.run_attempt, rg.rng`, id)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (rangeState, error) {
		var s rangeState
		err := r.Scan(&s.rng, &s.state, &s.node)
		return s, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// rangeFiles returns the keys of the files of each stored range of task
// id, as its rows say now.
func (c *testCluster) rangeFiles(t *testing.T, id string) map[int][]string {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), c.storeDB.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(t.Context(), `SELECT rg.rng, f->>'Key' FROM rdsexport_ranges rg, jsonb_array_elements(rg.result->'Files') f
		WHERE rg.identifier = $1 AND rg.state = 'done'`, id)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int][]string{}
	var rng int
	var key string
	if _, err := pgx.ForEachRow(rows, []any{&rng, &key}, func() error {
		out[rng] = append(out[rng], key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// waitRanges polls the ranges of task id until ok accepts them.
func (c *testCluster) waitRanges(t *testing.T, id string, timeout time.Duration, what string, ok func([]rangeState) bool) []rangeState {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		rs := c.ranges(t, id)
		if ok(rs) {
			return rs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: ranges of %s after %s: %+v", what, id, timeout, rs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClusterRanges: the ranges of a large table are read by several nodes,
// a range whose reader dies is read again, and a snapshot export whose
// node dies keeps the ranges it had stored.
func TestClusterRanges(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three server processes")
	}
	c := newTestCluster(t, 3)

	t.Run("Spread", func(t *testing.T) {
		c.start(t, 0, "spread-1", "big", "big")
		c.wait(t, 1, "spread-1", 2*time.Minute, "COMPLETE")
		c.checkRows(t, "spread-1", "big", clusterBigRows)
		jobs := c.rangeJobs(t, "spread-1")
		nodes := map[string]bool{}
		for _, j := range jobs {
			for _, n := range j.nodes {
				nodes[n] = true
			}
		}
		t.Logf("%d range jobs, read by %v", len(jobs), nodes)
		if len(jobs) < 2 || len(nodes) < 2 {
			t.Errorf("%d range jobs read by %d nodes, want the ranges spread over ≥ 2 nodes: %+v", len(jobs), len(nodes), jobs)
		}
	})

	t.Run("ReaderKilled", func(t *testing.T) {
		c.start(t, 1, "reader-1", "big", "big")
		runner, _ := c.waitRunner(t, "reader-1", "", time.Minute)
		var victim string
		c.waitRanges(t, "reader-1", time.Minute, "a range read by another node", func(rs []rangeState) bool {
			for _, r := range rs {
				if r.state == "running" && r.node != "" && r.node != runner {
					victim = r.node
					return true
				}
			}
			return false
		})
		time.Sleep(500 * time.Millisecond) // let it write part files
		i := c.node(victim)
		if err := c.nodes[i].p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = c.nodes[i].p.cmd.Wait()
		killed := time.Now()
		c.wait(t, c.node(runner), "reader-1", 2*time.Minute, "COMPLETE")
		t.Logf("killed %s, which read a range of %s's export; COMPLETE %s later", victim, runner, time.Since(killed))
		c.checkRows(t, "reader-1", "big", clusterBigRows)
		again := 0
		for _, j := range c.rangeJobs(t, "reader-1") {
			if j.runAttempt == 1 && j.attempt == 2 {
				again++
			}
		}
		if again != 1 {
			t.Errorf("%d ranges read again after their reader died, want 1: %+v", again, c.rangeJobs(t, "reader-1"))
		}
		if r, _ := c.runner(t, "reader-1"); r != "" {
			t.Errorf("run still recorded on %s", r)
		}
		c.restart(t, i)
	})

	t.Run("ReaderLeaves", func(t *testing.T) {
		// SIGTERM to a node reading a range of another node's export: it
		// hands the range back at once instead of letting its lease lapse.
		c.start(t, 0, "leave-1", "big", "big")
		runner, _ := c.waitRunner(t, "leave-1", "", time.Minute)
		var reader string
		c.waitRanges(t, "leave-1", time.Minute, "a range read by another node", func(rs []rangeState) bool {
			for _, r := range rs {
				if r.state == "running" && r.node != "" && r.node != runner {
					reader = r.node
					return true
				}
			}
			return false
		})
		i := c.node(reader)
		begin := time.Now()
		if err := c.nodes[i].p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := c.nodes[i].p.cmd.Wait(); err != nil {
			t.Errorf("%s after SIGTERM: %v", reader, err)
		}
		left := time.Since(begin)
		c.wait(t, c.node(runner), "leave-1", 2*time.Minute, "COMPLETE")
		c.checkRows(t, "leave-1", "big", clusterBigRows)
		conn, err := pgx.Connect(t.Context(), c.storeDB.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var handedBack time.Time
		if err := conn.QueryRow(t.Context(), `SELECT min(created_at) FROM river_job WHERE kind = 'rdsexport_range'
			AND args->>'identifier' = 'leave-1' AND (args->>'attempt')::int = 2`).Scan(&handedBack); err != nil {
			t.Fatalf("no range read again: %v", err)
		}
		t.Logf("SIGTERM to %s, which read a range of %s's export: it left after %s, the range was queued again after %s",
			reader, runner, left, handedBack.Sub(begin))
		if d := handedBack.Sub(begin); d > 5*time.Second {
			t.Errorf("the range was queued again %s after SIGTERM: the lease lapsed instead of the range being handed back", d)
		}
		c.restart(t, i)
	})

	t.Run("SnapshotExportResumes", func(t *testing.T) {
		if _, err := c.nodes[0].rds().CreateDBClusterSnapshot(t.Context(), &rds.CreateDBClusterSnapshotInput{
			DBClusterIdentifier: aws.String("big"), DBClusterSnapshotIdentifier: aws.String("big-snap"),
		}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(3 * time.Minute)
		for {
			out, err := c.nodes[1].rds().DescribeDBClusterSnapshots(t.Context(), &rds.DescribeDBClusterSnapshotsInput{
				DBClusterSnapshotIdentifier: aws.String("big-snap")})
			if err != nil {
				t.Fatal(err)
			}
			if st := aws.ToString(out.DBClusterSnapshots[0].Status); st == "available" {
				break
			} else if st != "creating" || time.Now().After(deadline) {
				t.Fatalf("snapshot big-snap is %s", st)
			}
			time.Sleep(100 * time.Millisecond)
		}
		// Only the first node runs: its one range worker reads the ranges
		// one after the other.
		for i := 1; i < len(c.nodes); i++ {
			if err := c.nodes[i].p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := c.nodes[0].rds().StartExportTask(t.Context(), &rds.StartExportTaskInput{
			ExportTaskIdentifier: aws.String("resume-1"),
			SourceArn:            aws.String(fmt.Sprintf("arn:aws:rds:%s:%s:cluster-snapshot:big-snap", testRegion, testAccount)),
			S3BucketName:         aws.String(testBucket), IamRoleArn: aws.String(roleArn), KmsKeyId: aws.String("alias/export"),
			ExportOnly: []string{c.source.Name + ".public.big"},
		}); err != nil {
			t.Fatal(err)
		}
		c.waitRanges(t, "resume-1", time.Minute, "a range stored", func(rs []rangeState) bool {
			return slices.ContainsFunc(rs, func(r rangeState) bool { return r.state == "done" })
		})
		// S3 is paused so that the next range cannot be stored before
		// the kill.
		c.gw.Pause()
		if err := c.nodes[0].p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = c.nodes[0].p.cmd.Wait()
		c.gw.Resume()
		for i := 1; i < len(c.nodes); i++ {
			if err := c.nodes[i].p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
				t.Fatal(err)
			}
		}
		// The ranges as the dead node left them, with their files: one
		// more may have been stored between the poll above and the kill.
		rs := c.ranges(t, "resume-1")
		n, kept := 0, c.rangeFiles(t, "resume-1")
		for _, r := range rs {
			n = max(n, r.rng+1)
		}
		t.Logf("killed the only running node with %d of %d ranges stored", len(kept), n)
		if n < 2 || len(kept) == n {
			t.Fatalf("the kill left %d of %d ranges stored; the test needs some not stored: %+v", len(kept), n, rs)
		}
		c.wait(t, 1, "resume-1", 2*time.Minute, "COMPLETE")
		c.checkRows(t, "resume-1", "big", clusterBigRows)
		// Every range is stored by one read: those stored before the kill
		// are kept as they were, the others read once after it (by the run
		// that took over, or by a survivor that fetched a range the dead
		// run had queued). A read's files are part-<range>-<uuid>-c<n>,
		// one uuid per read. The files are counted in S3: the ranges' rows
		// go once the task has ended.
		reads := map[int]map[string]bool{}
		files, err := filepath.Glob(filepath.Join(c.gw.Dir, testBucket, "resume-1", c.source.Name, "public.big", "*", "part-*.parquet"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			var rng int
			var rest string
			_, err := fmt.Sscanf(filepath.Base(f), "part-%05d-%s", &rng, &rest)
			end := strings.LastIndex(rest, "-c")
			if err != nil || end < 0 {
				t.Fatalf("file %s: not part-<range>-<uuid>-c<n> (%v)", f, err)
			}
			read := rest[:end]
			if reads[rng] == nil {
				reads[rng] = map[string]bool{}
			}
			reads[rng][read] = true
		}
		for rng := range n {
			if len(reads[rng]) != 1 {
				t.Errorf("range %d: files of %d reads; want 1: %v", rng, len(reads[rng]), files)
			}
			if keys, ok := kept[rng]; ok {
				for _, k := range keys {
					if !slices.ContainsFunc(files, func(f string) bool { return strings.HasSuffix(f, "/"+k) }) {
						t.Errorf("range %d, stored before the kill: its file %s is gone", rng, k)
					}
				}
			}
		}
		c.restart(t, 0)
	})
}
