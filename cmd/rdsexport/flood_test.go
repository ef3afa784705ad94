package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/rdsexport/rdsexport/internal/connlimit"
	"github.com/rdsexport/rdsexport/internal/exporttest"
)

const floodFixture = `
CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40));
INSERT INTO items SELECT seq, CONCAT('item ', seq) FROM seq_1_to_2000;
CREATE TABLE notes (id INT, note TEXT);
INSERT INTO notes VALUES (1, 'a'), (2, 'b');
`

// mariaUser is a MariaDB user created for one test, so that the
// connections rdsexport opens can be counted in PROCESSLIST apart from
// everyone else's.
type mariaUser struct {
	name  string
	url   string // rdsexport's mysql:// form, no database
	port  string // the server's
	admin *sql.DB
}

// newMariaUser creates a user that may read my's database (and take the
// global read lock an export with several connections takes), capped at
// maxConns connections by the server itself so that a test gone wrong
// cannot exhaust a shared server.
func newMariaUser(t *testing.T, my *exporttest.MySQLDB, maxConns int) *mariaUser {
	t.Helper()
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	u := &mariaUser{name: "rdsx_" + hex.EncodeToString(b[:5]), admin: my.DB}
	pw := hex.EncodeToString(b[5:])
	ctx := t.Context()
	for _, q := range []string{
		fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s' WITH MAX_USER_CONNECTIONS %d", u.name, pw, maxConns),
		fmt.Sprintf("GRANT SELECT, SHOW VIEW ON `%s`.* TO '%s'@'%%'", my.Name, u.name),
		fmt.Sprintf("GRANT RELOAD ON *.* TO '%s'@'%%'", u.name),
	} {
		if _, err := my.DB.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		if _, err := my.DB.ExecContext(context.Background(), fmt.Sprintf("DROP USER IF EXISTS '%s'@'%%'", u.name)); err != nil {
			t.Errorf("drop user %s: %v", u.name, err)
		}
	})
	su, err := url.Parse(my.URL)
	if err != nil {
		t.Fatal(err)
	}
	su.User = url.UserPassword(u.name, pw)
	u.url = su.String()
	if u.port = su.Port(); u.port == "" {
		u.port = "3306"
	}
	return u
}

// clientPorts returns the client ports of the user's connections the
// server lists now (PROCESSLIST's HOST is client-address:port).
func (u *mariaUser) clientPorts(ctx context.Context) ([]string, error) {
	rows, err := u.admin.QueryContext(ctx, "SELECT HOST FROM information_schema.PROCESSLIST WHERE USER = ?", u.name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ports []string
	for rows.Next() {
		var host string
		if err := rows.Scan(&host); err != nil {
			return nil, err
		}
		_, port, _ := strings.Cut(host, ":")
		ports = append(ports, port)
	}
	return ports, rows.Err()
}

// establishedPorts returns the local ports of the TCP connections of this
// machine that are established with a server on serverPort (Linux
// /proc/net/tcp), and false where that file cannot be read.
func establishedPorts(serverPort string) (map[string]bool, bool) {
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return nil, false
	}
	sp, err := strconv.Atoi(serverPort)
	if err != nil {
		return nil, false
	}
	remote := fmt.Sprintf(":%04X", sp)
	out := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		// sl local_address rem_address st ...; st 01 is ESTABLISHED.
		if len(f) < 4 || f[3] != "01" || !strings.HasSuffix(f[2], remote) {
			continue
		}
		_, lp, _ := strings.Cut(f[1], ":")
		if p, err := strconv.ParseInt(lp, 16, 32); err == nil {
			out[strconv.Itoa(int(p))] = true
		}
	}
	return out, true
}

// sample counts the user's connections every 2 ms until stop is called,
// which returns the largest count seen and the number of samples.
//
// The server lists a connection until its thread has ended, which under
// load can be a few milliseconds after the client closed it and gave its
// place in the budget to the next job. So a count is of the connections
// the server lists whose client end is still established (checked in
// /proc/net/tcp, when the count could be a new peak); raw is the largest
// count of everything listed, closing or not. Without /proc, peak is raw.
func (u *mariaUser) sample(t *testing.T, serverPort string) (stop func() (peak, raw, samples int)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var peak, raw, samples int
	var serr error
	wg.Go(func() {
		for ctx.Err() == nil {
			ports, err := u.clientPorts(ctx)
			if err != nil {
				if ctx.Err() == nil {
					serr = err
				}
				return
			}
			n := len(ports)
			raw, samples = max(raw, n), samples+1
			if n > peak {
				if open, ok := establishedPorts(serverPort); ok {
					n = 0
					for _, p := range ports {
						if open[p] {
							n++
						}
					}
				}
				peak = max(peak, n)
			}
			select {
			case <-ctx.Done():
			case <-time.After(2 * time.Millisecond):
			}
		}
	})
	var once sync.Once
	stop = func() (int, int, int) {
		once.Do(func() { cancel(); wg.Wait() })
		if serr != nil {
			t.Fatalf("count connections: %v", serr)
		}
		return peak, raw, samples
	}
	t.Cleanup(func() { stop() })
	return stop
}

// clusterSnapshots returns every DB cluster snapshot of the cluster by
// identifier.
func (s *testServer) clusterSnapshots(t *testing.T, cluster string) map[string]types.DBClusterSnapshot {
	t.Helper()
	out := map[string]types.DBClusterSnapshot{}
	in := &rds.DescribeDBClusterSnapshotsInput{DBClusterIdentifier: aws.String(cluster), MaxRecords: aws.Int32(100)}
	for {
		page, err := s.RDS.DescribeDBClusterSnapshots(t.Context(), in)
		if err != nil {
			t.Fatal(err)
		}
		for _, sn := range page.DBClusterSnapshots {
			out[aws.ToString(sn.DBClusterSnapshotIdentifier)] = sn
		}
		if aws.ToString(page.Marker) == "" {
			return out
		}
		in.Marker = page.Marker
	}
}

// waitSnapshotsAvailable waits until every listed cluster snapshot is
// available, failing at once if one fails.
func (s *testServer) waitSnapshotsAvailable(t *testing.T, cluster string, ids []string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		snaps := s.clusterSnapshots(t, cluster)
		waiting := 0
		for _, id := range ids {
			sn, ok := snaps[id]
			switch st := aws.ToString(sn.Status); {
			case !ok:
				t.Fatalf("snapshot %s is gone", id)
			case st == "failed":
				t.Fatalf("snapshot %s failed", id)
			case st != "available":
				waiting++
			}
		}
		if waiting == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d snapshots still creating after %v", waiting, len(ids), timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestFlood_CreateDBClusterSnapshot fires 150 CreateDBClusterSnapshot calls
// at once against a quota of 100: exactly 100 are accepted, the others are
// SnapshotQuotaExceeded, the copies never hold more MariaDB connections than
// max_source_connections, and every accepted snapshot becomes available.
func TestFlood_CreateDBClusterSnapshot(t *testing.T) {
	const bound, quota, calls = 6, 100, 150
	my := exporttest.NewMySQLDB(t, floodFixture)
	u := newMariaUser(t, my, 40)
	s := startServer(t, "", func(c *Config) {
		c.Clusters = []SourceConfig{{Identifier: "maria", Engine: "mariadb", URL: u.url, Databases: []string{my.Name}}}
		c.SnapshotQuota = quota
		c.ExportConnections = 2 // three connections a copy
		c.MaxSourceConnections = bound
		// More copies may begin than the connections allow: the bound, not
		// this limit, is what holds them back.
		c.MaxConcurrentSnapshotsPerServer = 3
		c.LogLevel = "info"
	})
	stop := u.sample(t, u.port)

	start := make(chan struct{})
	errs := make([]error, calls)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			<-start
			_, errs[i] = s.RDS.CreateDBClusterSnapshot(t.Context(), &rds.CreateDBClusterSnapshotInput{
				DBClusterSnapshotIdentifier: aws.String(fmt.Sprintf("flood-%03d", i)), DBClusterIdentifier: aws.String("maria"),
			})
		})
	}
	close(start)
	wg.Wait()
	var accepted []string
	refused := 0
	for i, err := range errs {
		switch code := apiCode(err); {
		case err == nil:
			accepted = append(accepted, fmt.Sprintf("flood-%03d", i))
		case code == "SnapshotQuotaExceeded":
			refused++
		default:
			t.Errorf("CreateDBClusterSnapshot flood-%03d: %v", i, err)
		}
	}
	if len(accepted) != quota || refused != calls-quota {
		t.Fatalf("%d accepted and %d SnapshotQuotaExceeded, want %d and %d", len(accepted), refused, quota, calls-quota)
	}
	if n := len(s.clusterSnapshots(t, "maria")); n != quota {
		t.Fatalf("%d snapshots listed, want %d", n, quota)
	}

	s.waitSnapshotsAvailable(t, "maria", accepted, 5*time.Minute)
	peak, raw, samples := stop()
	t.Logf("MariaDB connections of rdsexport: peak %d open (%d listed, with those closing) in %d samples (max_source_connections %d)", peak, raw, samples, bound)
	if peak > bound {
		t.Errorf("rdsexport held %d MariaDB connections at once, more than max_source_connections %d", peak, bound)
	}
	if peak < 3 {
		t.Errorf("peak of %d connections: the sampling never saw a copy's three", peak)
	}
	if n := s.limits.inUse(); n != 0 {
		t.Errorf("%d connections still taken from the budget after every copy ended", n)
	}
}

// TestFlood_ExportsAndCopiesShareBound: exports of three clusters and
// snapshot copies of an instance, all on one MariaDB server, take their
// connections from one budget.
func TestFlood_ExportsAndCopiesShareBound(t *testing.T) {
	const bound = 3 // one job at a time: an export or a copy holds three
	my := exporttest.NewMySQLDB(t, floodFixture)
	u := newMariaUser(t, my, 30)
	s := startServer(t, "", func(c *Config) {
		c.Clusters = nil
		for i := range 3 {
			c.Clusters = append(c.Clusters, SourceConfig{Identifier: fmt.Sprintf("maria-%d", i), Engine: "mariadb", URL: u.url, Databases: []string{my.Name}})
		}
		c.Instances = []SourceConfig{{Identifier: "maria-db", Engine: "mariadb", URL: u.url, Databases: []string{my.Name}}}
		c.ExportConnections = 2
		c.MaxSourceConnections = bound
		c.MaxConcurrentSnapshotsPerServer = 3
	})
	stop := u.sample(t, u.port)

	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			_, err := s.RDS.StartExportTask(t.Context(), &rds.StartExportTaskInput{
				ExportTaskIdentifier: aws.String(fmt.Sprintf("export-%d", i)), SourceArn: aws.String(clusterArn(fmt.Sprintf("maria-%d", i))),
				S3BucketName: aws.String(s.Bucket), IamRoleArn: aws.String(roleArn), KmsKeyId: aws.String("k"),
				ExportOnly: []string{my.Name},
			})
			if err != nil {
				t.Errorf("StartExportTask %d: %v", i, err)
			}
		})
		wg.Go(func() {
			_, err := s.RDS.CreateDBSnapshot(t.Context(), &rds.CreateDBSnapshotInput{
				DBSnapshotIdentifier: aws.String(fmt.Sprintf("copy-%d", i)), DBInstanceIdentifier: aws.String("maria-db"),
			})
			if err != nil {
				t.Errorf("CreateDBSnapshot %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	for i := range 3 {
		s.waitStatus(t, fmt.Sprintf("export-%d", i), 3*time.Minute, "COMPLETE")
	}
	w := rds.NewDBSnapshotAvailableWaiter(s.RDS, func(o *rds.DBSnapshotAvailableWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
	})
	for i := range 3 {
		if err := w.Wait(t.Context(), &rds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String(fmt.Sprintf("copy-%d", i))}, 3*time.Minute); err != nil {
			t.Fatalf("snapshot copy-%d: %v", i, err)
		}
	}
	peak, raw, samples := stop()
	t.Logf("MariaDB connections of rdsexport: peak %d open (%d listed, with those closing) in %d samples (max_source_connections %d)", peak, raw, samples, bound)
	if peak > bound {
		t.Errorf("exports and copies held %d MariaDB connections at once, more than max_source_connections %d", peak, bound)
	}
	if peak < bound {
		t.Errorf("peak of %d connections: the sampling never saw a whole job", peak)
	}
}

// openMain starts a server whose Close the test calls itself (Close may
// only run once).
func openMain(t *testing.T, cfg Config) (*testServer, func()) {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	m := &Main{Config: cfg, Logger: newLogger(cfg, testLogWriter{t}), CreateBuckets: []string{testBucket}}
	if err := m.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	closeMain := func() {
		once.Do(func() {
			if err := m.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
	}
	t.Cleanup(closeMain)
	return &testServer{Main: m, Bucket: testBucket, RDS: rdsClient(m.URL(), cfg.Credentials[0]), Objects: m.objects}, closeMain
}

// onlyServer is the connection budget of a server with one source server.
func (s *testServer) onlyServer(t *testing.T) *connlimit.Server {
	t.Helper()
	if len(s.limits.servers) != 1 {
		t.Fatalf("%d source servers, want 1", len(s.limits.servers))
	}
	for _, srv := range s.limits.servers {
		return srv
	}
	return nil
}

func waitCond(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (s *testServer) createClusterSnap(t *testing.T, id, cluster string) *types.DBClusterSnapshot {
	t.Helper()
	out, err := s.RDS.CreateDBClusterSnapshot(t.Context(), &rds.CreateDBClusterSnapshotInput{
		DBClusterSnapshotIdentifier: aws.String(id), DBClusterIdentifier: aws.String(cluster),
	})
	if err != nil {
		t.Fatalf("CreateDBClusterSnapshot %s: %v", id, err)
	}
	return out.DBClusterSnapshot
}

// TestFlood_QueuedDeleteCancelShutdown holds a source server's whole
// connection budget, as long jobs would: a copy that has begun waits for
// connections and cannot be deleted, the next one waits in the queue and
// can; a canceled export stops waiting at once; shutting down ends the
// waits, and the queued snapshot is copied after the restart.
func TestFlood_QueuedDeleteCancelShutdown(t *testing.T) {
	my := exporttest.NewMySQLDB(t, floodFixture)
	u := newMariaUser(t, my, 20)
	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Clusters = []SourceConfig{{Identifier: "maria", Engine: "mariadb", URL: u.url, Databases: []string{my.Name}}}
	cfg.ExportConnections = 2
	cfg.MaxSourceConnections = 3
	cfg.MaxConcurrentSnapshotsPerServer = 1
	s, closeFirst := openMain(t, cfg)
	ctx := t.Context()

	// Learn the version now: the version query, too, waits for the budget.
	if _, err := s.RDS.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{}); err != nil {
		t.Fatal(err)
	}
	srv := s.onlyServer(t)
	held, err := srv.Acquire(ctx, srv.Size())
	if err != nil {
		t.Fatal(err)
	}
	defer held()

	s.createClusterSnap(t, "begun", "maria")
	waitCond(t, "the first copy to wait for connections", time.Minute, func() bool { return srv.Waiting() == 1 })
	s.createClusterSnap(t, "queued", "maria")
	if q := s.copier.Queued(); q != 1 {
		t.Fatalf("%d copies queued, want 1", q)
	}
	snaps := s.clusterSnapshots(t, "maria")
	if q := snaps["queued"]; aws.ToString(q.Status) != "creating" || aws.ToInt32(q.PercentProgress) != 0 {
		t.Errorf("queued snapshot: status %s, %d%%", aws.ToString(q.Status), aws.ToInt32(q.PercentProgress))
	}

	_, err = s.RDS.DeleteDBClusterSnapshot(ctx, &rds.DeleteDBClusterSnapshotInput{DBClusterSnapshotIdentifier: aws.String("begun")})
	if code := apiCode(err); code != "InvalidDBClusterSnapshotStateFault" {
		t.Errorf("delete of a begun copy = %v, want InvalidDBClusterSnapshotStateFault", err)
	}
	del, err := s.RDS.DeleteDBClusterSnapshot(ctx, &rds.DeleteDBClusterSnapshotInput{DBClusterSnapshotIdentifier: aws.String("queued")})
	if err != nil {
		t.Fatalf("delete of a queued snapshot: %v", err)
	}
	if st := aws.ToString(del.DBClusterSnapshot.Status); st != "creating" {
		t.Errorf("DeleteDBClusterSnapshot status %s, want the status before the delete", st)
	}
	if _, ok := s.clusterSnapshots(t, "maria")["queued"]; ok {
		t.Error("the deleted snapshot is still listed")
	}
	if q := s.copier.Queued(); q != 0 {
		t.Errorf("%d copies queued after the delete", q)
	}

	// An export waits for connections too; canceling it ends the wait.
	s.exportFromMaria(t, "waiting", my.Name)
	waitCond(t, "the export to wait for connections", time.Minute, func() bool { return srv.Waiting() == 2 })
	if _, err := s.RDS.CancelExportTask(ctx, &rds.CancelExportTaskInput{ExportTaskIdentifier: aws.String("waiting")}); err != nil {
		t.Fatal(err)
	}
	s.waitStatus(t, "waiting", 10*time.Second, "CANCELED")
	waitCond(t, "the canceled export to stop waiting", 10*time.Second, func() bool { return srv.Waiting() == 1 })

	// Shutting down ends the begun copy's wait; the one queued behind it
	// stays creating.
	s.createClusterSnap(t, "after-restart", "maria")
	start := time.Now()
	closeFirst()
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("shutdown took %v with jobs waiting for connections", d)
	}
	if n := srv.Waiting(); n != 0 {
		t.Errorf("%d jobs still waiting for connections after shutdown", n)
	}
	held()

	s2, _ := openMain(t, cfg)
	s2.waitSnapshotsAvailable(t, "maria", []string{"after-restart"}, 2*time.Minute)
	snaps = s2.clusterSnapshots(t, "maria")
	if b := snaps["begun"]; aws.ToString(b.Status) != "failed" {
		t.Errorf("copy cut by the shutdown: status %s, want failed", aws.ToString(b.Status))
	}
	if len(snaps) != 2 {
		t.Errorf("snapshots after the restart: %d, want 2", len(snaps))
	}
}

// exportFromMaria starts an export of cluster maria.
func (s *testServer) exportFromMaria(t *testing.T, id string, exportOnly ...string) {
	t.Helper()
	if _, err := s.RDS.StartExportTask(t.Context(), &rds.StartExportTaskInput{
		ExportTaskIdentifier: aws.String(id), SourceArn: aws.String(clusterArn("maria")),
		S3BucketName: aws.String(s.Bucket), IamRoleArn: aws.String(roleArn), KmsKeyId: aws.String("k"),
		ExportOnly: exportOnly,
	}); err != nil {
		t.Fatalf("StartExportTask %s: %v", id, err)
	}
}
