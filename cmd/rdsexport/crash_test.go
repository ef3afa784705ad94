package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/rdsexport/rdsexport/internal/exporttest"
)

// crashTableSQL is a table that takes a second or two to export and copy.
const crashTableSQL = `
CREATE TABLE t (id bigint, note text, price double precision);
INSERT INTO t SELECT i, md5(i::text), i * 0.5 FROM generate_series(1, 150000) i;
CREATE TABLE small (id int);
INSERT INTO small SELECT generate_series(1, 100);
`

// crashSeedEnv replays TestCrash_RandomKills with the seed a run printed.
const crashSeedEnv = "TEST_CRASH_SEED"

// TestCrash_RandomKills kills the server with SIGKILL at 10 random moments
// while exports and snapshot copies run. After every restart each task and
// snapshot is finished correctly or FAILED/CANCELED/failed with a cause —
// never stuck — an export without COMPLETE has no manifest, and no
// multipart upload is left open.
//
// The moments come from a seed, printed first (also on stderr, which a
// test binary that times out still shows); TEST_CRASH_SEED=<seed> replays
// them. The same seed gives the same moments, not the same interleaving:
// what the server is doing at a moment depends on the machine's load.
func TestCrash_RandomKills(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it ten times")
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(crashSeedEnv); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("%s=%q: %v", crashSeedEnv, v, err)
		}
	}
	t.Logf("seed %d (replay: %s=%d)", seed, crashSeedEnv, seed)
	fmt.Fprintf(os.Stderr, "TestCrash_RandomKills: seed %d\n", seed)
	rng := rand.New(rand.NewPCG(seed, 1))

	db := exporttest.NewPostgresDB(t, crashTableSQL)
	bin := buildBinary(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "rdsexport.yaml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`listen: 127.0.0.1:0
data_dir: %s
export_connections: 2
export_file_bytes: 262144
clusters:
  - {identifier: pg, engine: postgres, url: "%s", databases: [%s]}
`, filepath.Join(dir, "data"), db.URL, db.Name)), 0o600); err != nil {
		t.Fatal(err)
	}

	p := startProcess(t, bin, config)
	createBucketVia(t, p.url, testBucket)
	for round := range 10 {
		client := rdsClient(p.url, Credential{AccessKeyID: "test", SecretAccessKey: "test"})
		s := &testServer{RDS: client, Bucket: testBucket}
		exportID := fmt.Sprintf("crash-%02d", round)
		snapID := fmt.Sprintf("crash-snap-%02d", round)
		s.startExport(t, exportID, db.Name)
		if _, err := client.CreateDBClusterSnapshot(t.Context(), &rds.CreateDBClusterSnapshotInput{
			DBClusterSnapshotIdentifier: aws.String(snapID), DBClusterIdentifier: aws.String("pg"),
		}); err != nil {
			t.Fatal(err)
		}
		wait := time.Duration(rng.IntN(3000)) * time.Millisecond
		time.Sleep(wait) // the random moment of the crash
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = p.cmd.Wait()
		t.Logf("round %d: killed after %s", round, wait)

		p = startProcess(t, bin, config)
		checkAfterCrash(t, p.url)
	}
	// The outcomes, for the record.
	client := rdsClient(p.url, Credential{AccessKeyID: "test", SecretAccessKey: "test"})
	out, err := client.DescribeExportTasks(t.Context(), &rds.DescribeExportTasksInput{})
	if err != nil {
		t.Fatal(err)
	}
	outcomes := map[string]int{}
	for _, task := range out.ExportTasks {
		outcomes["task "+aws.ToString(task.Status)]++
	}
	snaps, err := client.DescribeDBClusterSnapshots(t.Context(), &rds.DescribeDBClusterSnapshotsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, sn := range snaps.DBClusterSnapshots {
		outcomes["snapshot "+aws.ToString(sn.Status)]++
	}
	t.Logf("outcomes: %v", outcomes)
}

// checkAfterCrash asserts the invariants of a restarted server.
func checkAfterCrash(t *testing.T, url string) {
	t.Helper()
	client := rdsClient(url, Credential{AccessKeyID: "test", SecretAccessKey: "test"})
	objects := objectsVia(t, url)
	// STARTING tasks are run again after a restart: give them time to end.
	deadline := time.Now().Add(2 * time.Minute)
	var tasks []string
	for {
		out, err := client.DescribeExportTasks(t.Context(), &rds.DescribeExportTasksInput{})
		if err != nil {
			t.Fatal(err)
		}
		running := 0
		tasks = tasks[:0]
		for _, task := range out.ExportTasks {
			switch st := aws.ToString(task.Status); st {
			case "COMPLETE", "CANCELED":
			case "FAILED":
				if aws.ToString(task.FailureCause) == "" {
					t.Errorf("task %s FAILED without a cause", aws.ToString(task.ExportTaskIdentifier))
				}
			case "STARTING", "IN_PROGRESS":
				running++
			default:
				t.Errorf("task %s is %s after a restart", aws.ToString(task.ExportTaskIdentifier), st)
			}
			tasks = append(tasks, aws.ToString(task.ExportTaskIdentifier)+"="+aws.ToString(task.Status))
		}
		if running == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tasks still running two minutes after a restart: %v", tasks)
		}
		time.Sleep(50 * time.Millisecond)
	}
	out, err := client.DescribeExportTasks(t.Context(), &rds.DescribeExportTasksInput{})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := objects.List(t.Context(), testBucket, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range out.ExportTasks {
		id := aws.ToString(task.ExportTaskIdentifier)
		manifests := 0
		for _, k := range keys {
			if strings.HasPrefix(k, id+"/export_") {
				manifests++
			}
		}
		complete := aws.ToString(task.Status) == "COMPLETE"
		if complete && manifests != 2 || !complete && manifests != 0 {
			t.Errorf("task %s is %s with %d manifests", id, aws.ToString(task.Status), manifests)
		}
	}
	if uploads, err := objects.ListMultipartUploads(t.Context(), testBucket); err != nil || len(uploads) != 0 {
		t.Errorf("multipart uploads open after a restart: %v %v", uploads, err)
	}
	snaps, err := client.DescribeDBClusterSnapshots(t.Context(), &rds.DescribeDBClusterSnapshotsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range snaps.DBClusterSnapshots {
		switch st := aws.ToString(s.Status); st {
		case "available", "failed":
		case "creating":
			// A copy started after the restart may run; one from before
			// must have been failed. Wait for it to end.
			w := rds.NewDBClusterSnapshotAvailableWaiter(client, func(o *rds.DBClusterSnapshotAvailableWaiterOptions) {
				o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
			})
			if err := w.Wait(t.Context(), &rds.DescribeDBClusterSnapshotsInput{DBClusterSnapshotIdentifier: s.DBClusterSnapshotIdentifier}, time.Minute); err != nil {
				t.Errorf("snapshot %s: %v", aws.ToString(s.DBClusterSnapshotIdentifier), err)
			}
		default:
			t.Errorf("snapshot %s is %s", aws.ToString(s.DBClusterSnapshotIdentifier), st)
		}
	}
}
