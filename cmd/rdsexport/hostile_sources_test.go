package main

import (
	"context"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/jackc/pgx/v5"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/exporttest"
)

// hostileSourceSecret is the password in the hostile sources' URLs; no
// FailureCause or log line may contain it.
const hostileSourceSecret = "src-secret-Vd83kQ"

// freezingProxy forwards TCP connections to target until a connection has
// passed more than limit bytes from the server to the client; from then
// on it forwards nothing more in either direction and keeps the
// connection open, like a server that stopped answering mid-way. It
// returns its address.
func freezingProxy(t *testing.T, target string, limit int64) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	track := func(c net.Conn) {
		mu.Lock()
		defer mu.Unlock()
		conns = append(conns, c)
	}
	wg.Go(func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			track(client)
			server, err := net.Dial("tcp", target)
			if err != nil {
				client.Close()
				continue
			}
			track(server)
			var frozen atomic.Bool
			var passed int64
			wg.Go(func() { // client → server: dropped once frozen
				buf := make([]byte, 32<<10)
				for {
					n, err := client.Read(buf)
					if n > 0 && !frozen.Load() {
						if _, err := server.Write(buf[:n]); err != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			})
			wg.Go(func() { // server → client: the chunk past limit goes, then silence
				buf := make([]byte, 32<<10)
				for {
					n, err := server.Read(buf)
					if n > 0 && !frozen.Load() {
						if _, err := client.Write(buf[:n]); err != nil {
							return
						}
						if passed += int64(n); passed > limit {
							frozen.Store(true)
						}
					}
					if err != nil {
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// withHost returns the source URL u pointed at addr, with the password
// hostileSourceSecret and query q added.
func withHost(t *testing.T, u, addr string, q url.Values) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	p.Host = addr
	vs := p.Query()
	for k, v := range q {
		vs[k] = v
	}
	p.RawQuery = vs.Encode()
	return p.String()
}

// startExportOf starts an export of cluster id and returns its ARN.
func (s *testServer) startExportOf(t *testing.T, taskID, cluster string) string {
	t.Helper()
	arn := clusterArn(cluster)
	if _, err := s.RDS.StartExportTask(t.Context(), &rds.StartExportTaskInput{
		ExportTaskIdentifier: aws.String(taskID), SourceArn: aws.String(arn), S3BucketName: aws.String(s.Bucket),
		IamRoleArn: aws.String(roleArn), KmsKeyId: aws.String("alias/export"),
	}); err != nil {
		t.Fatalf("StartExportTask %s: %v", taskID, err)
	}
	return arn
}

// waitSnapshotStatus polls a cluster snapshot until it has status want.
func (s *testServer) waitSnapshotStatus(t *testing.T, id string, timeout time.Duration, want string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out, err := s.RDS.DescribeDBClusterSnapshots(t.Context(), &rds.DescribeDBClusterSnapshotsInput{DBClusterSnapshotIdentifier: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		st := aws.ToString(out.DBClusterSnapshots[0].Status)
		if st == want {
			return
		}
		if st != "creating" || time.Now().After(deadline) {
			t.Fatalf("cluster snapshot %s is %s after %s, want %s", id, st, timeout, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestHostileSource_Silent: a source that accepts TCP connections and
// then stops answering (at once, after the MySQL greeting, or in the
// middle of a table) fails the export and a snapshot copy within the
// configured deadlines, with a FailureCause naming the source and no
// secret; the task's slot is released.
func TestHostileSource_Silent(t *testing.T) {
	my := exporttest.NewMySQLDB(t, `CREATE TABLE big (id INT PRIMARY KEY, s VARCHAR(200));
INSERT INTO big SELECT seq, REPEAT('x', 200) FROM seq_1_to_100000;`)
	pg := exporttest.NewPostgresDB(t, `CREATE TABLE big (id int PRIMARY KEY, s text);
INSERT INTO big SELECT i, repeat('x', 200) FROM generate_series(1, 100000) i;`)
	hung, _ := hungServer(t)
	myAddr, pgAddr := mustURLHost(t, my.URL), mustURLHost(t, pg.URL)
	const readTimeout = 2 * time.Second
	my1 := url.Values{"timeout": {"1s"}}
	pg1 := url.Values{"connect_timeout": {"1"}, "sslmode": {"disable"}}
	myURL := "mysql://root:" + hostileSourceSecret + "@" + myAddr + "/"
	pgURL := "postgres://postgres:" + hostileSourceSecret + "@" + pgAddr + "/postgres"
	cases := []struct {
		name, engine, url string
		databases         []string
		cause             string
	}{
		{name: "my-hung", engine: "mariadb", url: withHost(t, myURL, hung, my1), cause: "no answer from the server"},
		{name: "my-greeting", engine: "mariadb", url: withHost(t, myURL, freezingProxy(t, myAddr, 1), my1), cause: "no answer from the server"},
		{name: "my-mid-read", engine: "mariadb", url: withHost(t, "mysql://root@"+myAddr+"/", freezingProxy(t, myAddr, 1<<20), my1),
			databases: []string{my.Name}, cause: "no answer from the server for 2s"},
		{name: "pg-hung", engine: "aurora-postgresql", url: withHost(t, pgURL, hung, pg1), cause: "timeout"},
		{name: "pg-mid-read", engine: "aurora-postgresql", url: withHost(t, pg.ServerURL, freezingProxy(t, pgAddr, 1<<20), pg1),
			databases: []string{pg.Name}, cause: "no answer from the server for 2s"},
	}
	s, logs := startHostile(t, func(c *Config) {
		c.Clusters = nil
		for _, k := range cases {
			c.Clusters = append(c.Clusters, SourceConfig{Identifier: k.name, Engine: k.engine, URL: k.url,
				Databases: k.databases, ReadTimeout: readTimeout})
		}
	}, nil)

	start := time.Now()
	for _, k := range cases {
		s.startExportOf(t, "exp-"+k.name, k.name)
		if _, err := s.RDS.CreateDBClusterSnapshot(t.Context(), &rds.CreateDBClusterSnapshotInput{
			DBClusterSnapshotIdentifier: aws.String("snap-" + k.name), DBClusterIdentifier: aws.String(k.name),
		}); err != nil {
			t.Fatalf("CreateDBClusterSnapshot %s: %v", k.name, err)
		}
	}
	for _, k := range cases {
		task := s.waitStatus(t, "exp-"+k.name, 2*time.Minute, "FAILED")
		cause := aws.ToString(task.FailureCause)
		t.Logf("%s: FailureCause %q", k.name, cause)
		if !strings.Contains(cause, clusterArn(k.name)) || !strings.Contains(cause, k.cause) || strings.Contains(cause, hostileSourceSecret) {
			t.Errorf("%s: FailureCause %q, want the source ARN and %q", k.name, cause, k.cause)
		}
		s.waitSnapshotStatus(t, "snap-"+k.name, 2*time.Minute, "failed")
	}
	// Every deadline is a few seconds; the bound leaves room for a loaded
	// machine while staying far below "forever".
	if took := time.Since(start); took > time.Minute {
		t.Errorf("exports and snapshots took %v to fail", took)
	}
	if strings.Contains(logs.String(), hostileSourceSecret) {
		t.Errorf("the source password appears in the server log")
	}
}

func mustURLHost(t *testing.T, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p.Host
}

// TestHostileSource_Names exports real databases holding names that would
// climb out of the export's folder: PostgreSQL databases ".." and "x/a",
// a schema "../../../../tmp/x", MySQL databases with "/", tables with "/"
// or named "..". They are skipped with warnings or land in their own
// folder; every key written is under the export root with no empty, "."
// or ".." segment.
func TestHostileSource_Names(t *testing.T) {
	pg := exporttest.NewPostgresDB(t, `CREATE SCHEMA "../../../../tmp/x";
CREATE TABLE "../../../../tmp/x".t (a int); INSERT INTO "../../../../tmp/x".t VALUES (1);
CREATE SCHEMA ".."; CREATE TABLE "..".".." (a int); INSERT INTO "..".".." VALUES (1);
CREATE TABLE "a/b" (a int); CREATE TABLE "sp ace" (a int); INSERT INTO "sp ace" VALUES (1);`)
	my := exporttest.NewMySQLDB(t, "CREATE TABLE `..` (a INT); INSERT INTO `..` VALUES (1); CREATE TABLE `a/b` (a INT);")

	// Extra PostgreSQL databases, each with a table.
	pgSlash := pg.Name + "/a"
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, pg.ServerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	for _, name := range []string{"..", pgSlash} {
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil && !strings.Contains(err.Error(), "42P04") {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			c, err := pgx.Connect(context.Background(), pg.ServerURL)
			if err != nil {
				return
			}
			defer c.Close(context.Background())
			_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		})
		u, _ := url.Parse(pg.ServerURL)
		u.Path = "/" + name
		c, err := pgx.Connect(ctx, u.String())
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Exec(ctx, "CREATE TABLE IF NOT EXISTS t (a int); INSERT INTO t VALUES (1)")
		c.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
	}
	// An extra MySQL database with a "/" in its name.
	mySlash := my.Name + "/x"
	my.Exec(t, "CREATE DATABASE `"+mySlash+"`")
	t.Cleanup(func() { _, _ = my.DB.Exec("DROP DATABASE IF EXISTS `" + mySlash + "`") })
	my.Exec(t, "CREATE TABLE `"+mySlash+"`.t (a INT)")

	s := startServer(t, "", func(c *Config) {
		c.Clusters = []SourceConfig{
			{Identifier: "pg", Engine: "aurora-postgresql", URL: pg.URL, Databases: []string{pg.Name, "..", pgSlash}},
			{Identifier: "my", Engine: "mariadb", URL: my.URL, Databases: []string{my.Name, mySlash}},
		}
	})
	for _, c := range []struct {
		cluster string
		folders []string // table folders expected, under the export root
		warn    []string // texts the WarningMessage must hold
	}{
		{cluster: "pg", folders: []string{pg.Name + "/...../", pg.Name + "/public.sp_ace/"},
			warn: []string{`{"target":"` + pg.Name + `.../../../../tmp/x.t","reason":"UNSUPPORTED_SCHEMA_NAME"}`,
				`{"target":"` + pg.Name + `.public.a/b","reason":"UNSUPPORTED_TABLE_NAME"}`,
				`{"reason":"UNSUPPORTED_DATABASE_NAME","detail":".."}`,
				`{"reason":"UNSUPPORTED_DATABASE_NAME","detail":"` + pgSlash + `"}`}},
		{cluster: "my", folders: []string{my.Name + "/" + my.Name + ".../"},
			warn: []string{`{"target":"` + my.Name + `.a/b","reason":"UNSUPPORTED_TABLE_NAME"}`,
				`{"reason":"UNSUPPORTED_DATABASE_NAME","detail":"` + mySlash + `"}`}},
	} {
		id := "names-" + c.cluster
		s.startExportOf(t, id, c.cluster)
		task := s.waitStatus(t, id, 2*time.Minute, "COMPLETE")
		for _, w := range c.warn {
			if !strings.Contains(aws.ToString(task.WarningMessage), w) {
				t.Errorf("%s: WarningMessage %s lacks %s", id, aws.ToString(task.WarningMessage), w)
			}
		}
		_, keys := s.download(t, id+"/")
		for _, f := range c.folders {
			if !slices.ContainsFunc(keys, func(k string) bool { return strings.HasPrefix(k, id+"/"+f) && strings.HasSuffix(k, ".gz.parquet") }) {
				t.Errorf("%s: no Parquet file under %s in %q", id, f, keys)
			}
		}
	}
	all, err := s.Objects.List(t.Context(), s.Bucket, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range all {
		if !engine.SafeKey(k) || !strings.HasPrefix(k, "names-pg/") && !strings.HasPrefix(k, "names-my/") {
			t.Errorf("unsafe key %q", k)
		}
	}
	t.Logf("keys: %q", all)
}
