package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/rdsexport/rdsexport/internal/exporttest"
)

// Tests of the API's edges as an attacker sees them: what the Describe
// operations and the logs tell of a source's connection string, the size
// and encoding of parameters, and ARNs of other partitions and regions.

const (
	sharedAccount = "111122223333"
	sharedKey     = "AKIDSHARED"
	sharedSecret  = "shared-secret-Kd8sW1"
)

// markerRE finds the Marker of a Describe page (base64url, never escaped).
var markerRE = regexp.MustCompile(`<Marker>([^<]*)</Marker>`)

// rawRDS posts a Query request signed for region and returns the status
// and the body.
func rawRDS(t *testing.T, endpoint string, creds aws.Credentials, region, body string) (int, []byte) {
	t.Helper()
	r, err := http.NewRequestWithContext(t.Context(), http.MethodPost, endpoint+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", hostileFormCType)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, sha256Hex([]byte(body)), "rds", region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Timeout: time.Minute}).Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// regionClient is an SDK client signing for region.
func regionClient(endpoint, region, key, secret string) *rds.Client {
	return rds.New(rds.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(key, secret, ""),
		HTTPClient:   &http.Client{Timeout: time.Minute},
	})
}

// apiErrorCode is the Query error code of an SDK error, "" for none.
func apiErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// wantAPIError fails unless err is the Query error code.
func wantAPIError(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := apiErrorCode(err); got != code {
		t.Errorf("%s: err = %v, want %s", what, err, code)
	}
}

// passwordSource is one configured source whose URL holds a password, and
// what Describe must show of it.
type passwordSource struct {
	id, engine, url string
	host            string
	port            int
	user, database  string
	down            bool // nothing listens: its exports and snapshots fail
}

// apiPassword is the password of the PostgreSQL sources: every character
// that needs quoting or escaping in some form. PostgreSQL lets the test
// user in without checking it (trust), so every form connects.
const apiPassword = hostileDBSecret + ` s'q\ @/:#?&=%+`

// kvQuote quotes a libpq keyword/value value.
func kvQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// passwordSources returns every documented URL form of every engine, the
// PostgreSQL ones pointing at pg and the MySQL ones at my, as user myUser
// with password myPass. Each family also has a source nobody listens to.
func passwordSources(t *testing.T, pg *exporttest.PostgresDB, my *exporttest.MySQLDB, myUser, myPass string) []passwordSource {
	t.Helper()
	pgu, err := url.Parse(pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	pgHost, pgPortText := pgu.Hostname(), pgu.Port()
	if pgPortText == "" {
		pgPortText = "5432"
	}
	pgPort, _ := strconv.Atoi(pgPortText)
	pgUser := pgu.User.Username()
	pgAddr := net.JoinHostPort(pgHost, pgPortText)
	userinfo := url.UserPassword(pgUser, apiPassword).String()
	pgForms := []passwordSource{
		{id: "url", url: "postgres://" + userinfo + "@" + pgAddr + "/" + pg.Name + "?sslmode=disable"},
		{id: "postgresql", url: "postgresql://" + userinfo + "@" + pgAddr + "/" + pg.Name},
		{id: "query", url: "postgres://" + pgUser + "@" + pgAddr + "/" + pg.Name + "?sslmode=disable&password=" + url.QueryEscape(apiPassword)},
		{id: "kv", url: "host=" + pgHost + " port=" + pgPortText + " user=" + pgUser + " password=" + hostileDBSecret + "-kv dbname=" + pg.Name + " sslmode=disable"},
		{id: "kvquoted", url: "password=" + kvQuote(apiPassword) + " host=" + kvQuote(pgHost) + " port='" + pgPortText + "' user=" + kvQuote(pgUser) + " dbname=" + kvQuote(pg.Name)},
		{id: "multi", url: "postgres://" + userinfo + "@" + pgAddr + ",127.0.0.1:1/" + pg.Name + "?sslmode=disable"},
		{id: "kvmulti", url: "host=" + pgHost + ",127.0.0.1 port=" + pgPortText + ",1 user=" + pgUser + " password=" + kvQuote(apiPassword) + " dbname=" + pg.Name},
	}
	var out []passwordSource
	for _, engine := range []string{"postgres", "aurora-postgresql"} {
		for _, f := range pgForms {
			f.id, f.engine = engine+"-"+f.id, engine
			f.host, f.port, f.user, f.database = pgHost, pgPort, pgUser, pg.Name
			out = append(out, f)
		}
		out = append(out, passwordSource{id: engine + "-down", engine: engine, host: "127.0.0.1", port: 1, user: pgUser, database: "postgres", down: true,
			url: "postgres://" + userinfo + "@127.0.0.1:1/postgres?connect_timeout=2"})
	}

	myu, err := url.Parse(my.URL)
	if err != nil {
		t.Fatal(err)
	}
	myHost, myPortText := myu.Hostname(), myu.Port()
	if myPortText == "" {
		myPortText = "3306"
	}
	myPort, _ := strconv.Atoi(myPortText)
	myAddr := net.JoinHostPort(myHost, myPortText)
	myInfo := url.UserPassword(myUser, myPass).String()
	myForms := []passwordSource{
		{id: "url", url: "mysql://" + myInfo + "@" + myAddr + "/"},
		{id: "params", url: "mysql://" + myInfo + "@" + myAddr + "/" + my.Name + "?tls=false&timeout=5s", database: my.Name},
	}
	if myPort == 3306 {
		myForms = append(myForms, passwordSource{id: "noport", url: "mysql://" + myInfo + "@" + myHost})
	}
	for _, engine := range []string{"mysql", "mariadb", "aurora-mysql"} {
		for _, f := range myForms {
			f.id, f.engine = engine+"-"+f.id, engine
			f.host, f.port, f.user = myHost, myPort, myUser
			out = append(out, f)
		}
		out = append(out, passwordSource{id: engine + "-down", engine: engine, host: "127.0.0.1", port: 1, user: myUser, down: true,
			url: "mysql://" + myInfo + "@127.0.0.1:1/?timeout=2s"})
	}
	return out
}

// noSecret fails if text shows any part of a source password: every one
// holds hostileDBSecret, which every encoding keeps as it is.
func noSecret(t *testing.T, what string, text []byte) {
	t.Helper()
	for _, s := range []string{hostileDBSecret, "7Rk3", url.QueryEscape(apiPassword), kvQuote(apiPassword)} {
		if i := strings.Index(string(text), s); i >= 0 {
			t.Errorf("%s shows a password (%q) at %d: ...%s...", what, s, i, text[max(0, i-80):min(len(text), i+80)])
			return
		}
	}
}

// TestHostileAPI_SourcePasswords configures every documented URL form of
// every engine with a password, exports and snapshots every source, and
// checks that the password appears in no field of any Describe operation,
// for the owner and for an account the sources are shared with, parsed by
// the SDK or read as raw XML, nor in any line of the server log.
func TestHostileAPI_SourcePasswords(t *testing.T) {
	pg := exporttest.NewPostgresDB(t, "CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2);")
	my := exporttest.NewMySQLDB(t, "CREATE TABLE t (id INT); INSERT INTO t VALUES (1), (2);")
	myUser, myPass := "rdsx_"+my.Name[len(my.Name)-10:], hostileDBSecret+"-my@/:#?"
	for _, h := range []string{"%", "localhost"} {
		my.Exec(t, fmt.Sprintf("CREATE USER '%s'@'%s' IDENTIFIED BY '%s'", myUser, h, myPass))
		my.Exec(t, fmt.Sprintf("GRANT SELECT, SHOW VIEW ON %s.* TO '%s'@'%s'", my.Name, myUser, h))
	}
	t.Cleanup(func() {
		for _, h := range []string{"%", "localhost"} {
			_, _ = my.DB.Exec(fmt.Sprintf("DROP USER IF EXISTS '%s'@'%s'", myUser, h))
		}
	})
	sources := passwordSources(t, pg, my, myUser, myPass)
	byID := map[string]passwordSource{}
	for _, src := range sources {
		byID[src.id] = src
	}

	s, logs := startHostile(t, func(c *Config) {
		c.Credentials = append(c.Credentials, Credential{AccessKeyID: sharedKey, SecretAccessKey: sharedSecret, AccountID: sharedAccount})
		c.MaxConcurrentExports = len(sources)
		c.Clusters, c.Instances = nil, nil
		for _, src := range sources {
			sc := SourceConfig{Identifier: src.id, Engine: src.engine, URL: src.url, SharedWith: []string{sharedAccount}}
			if !src.down {
				if strings.Contains(src.engine, "postgres") {
					sc.Databases = []string{pg.Name}
				} else {
					sc.Databases = []string{my.Name}
				}
			}
			c.Clusters = append(c.Clusters, sc)
			c.Instances = append(c.Instances, sc)
		}
	}, nil)
	owner := s.RDS
	shared := regionClient(s.URL(), testRegion, sharedKey, sharedSecret)
	ctx := t.Context()

	// Every source is exported and copied by its owner; the shared account
	// exports and copies a few of them.
	// The shared account writes into a bucket of its own.
	const sharedBucket = "shared-exports"
	if _, err := s3Client(s.URL(), aws.Credentials{AccessKeyID: sharedKey, SecretAccessKey: sharedSecret}).CreateBucket(ctx,
		&s3.CreateBucketInput{Bucket: aws.String(sharedBucket)}); err != nil {
		t.Fatal(err)
	}
	start := func(c *rds.Client, account, id, source string) {
		t.Helper()
		bucket := testBucket
		if account == sharedAccount {
			bucket = sharedBucket
		}
		_, err := c.StartExportTask(ctx, &rds.StartExportTaskInput{
			ExportTaskIdentifier: aws.String(id),
			SourceArn:            aws.String(fmt.Sprintf("arn:aws:rds:%s:%s:cluster:%s", testRegion, account, source)),
			S3BucketName:         aws.String(bucket), IamRoleArn: aws.String(roleArn), KmsKeyId: aws.String("k"),
		})
		if err != nil {
			t.Fatalf("StartExportTask %s: %v", id, err)
		}
	}
	snapshot := func(c *rds.Client, source string) {
		t.Helper()
		if _, err := c.CreateDBClusterSnapshot(ctx, &rds.CreateDBClusterSnapshotInput{
			DBClusterSnapshotIdentifier: aws.String("cs-" + source), DBClusterIdentifier: aws.String(source),
		}); err != nil {
			t.Fatalf("CreateDBClusterSnapshot %s: %v", source, err)
		}
		if _, err := c.CreateDBSnapshot(ctx, &rds.CreateDBSnapshotInput{
			DBSnapshotIdentifier: aws.String("s-" + source), DBInstanceIdentifier: aws.String(source),
		}); err != nil {
			t.Fatalf("CreateDBSnapshot %s: %v", source, err)
		}
	}
	for _, src := range sources {
		start(owner, testAccount, "exp-"+src.id, src.id)
		snapshot(owner, src.id)
	}
	for _, id := range []string{"postgres-kvquoted", "aurora-postgresql-query", "mariadb-params", "mysql-down"} {
		start(shared, sharedAccount, "exp-"+id, id)
		snapshot(shared, id)
	}

	// Wait for every export and snapshot to end.
	deadline := time.Now().Add(5 * time.Minute)
	for _, c := range []*rds.Client{owner, shared} {
		for {
			busy := 0
			tasks, err := c.DescribeExportTasks(ctx, &rds.DescribeExportTasksInput{})
			if err != nil {
				t.Fatal(err)
			}
			for _, task := range tasks.ExportTasks {
				if st := aws.ToString(task.Status); st == "STARTING" || st == "IN_PROGRESS" {
					busy++
				}
			}
			snaps, err := c.DescribeDBSnapshots(ctx, &rds.DescribeDBSnapshotsInput{})
			if err != nil {
				t.Fatal(err)
			}
			for _, sn := range snaps.DBSnapshots {
				if aws.ToString(sn.Status) == "creating" {
					busy++
				}
			}
			csnaps, err := c.DescribeDBClusterSnapshots(ctx, &rds.DescribeDBClusterSnapshotsInput{})
			if err != nil {
				t.Fatal(err)
			}
			for _, sn := range csnaps.DBClusterSnapshots {
				if aws.ToString(sn.Status) == "creating" {
					busy++
				}
			}
			if busy == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d exports and snapshots still running", busy)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// source returns the source named id, failing on an unknown one.
	source := func(id string) passwordSource {
		t.Helper()
		src, ok := byID[strings.ToLower(id)]
		if !ok {
			t.Fatalf("unknown source %q", id)
		}
		return src
	}
	for _, c := range []struct {
		name    string
		client  *rds.Client
		creds   aws.Credentials
		exports int
	}{
		{"owner", owner, aws.Credentials{AccessKeyID: hostileKey, SecretAccessKey: hostileSecret}, len(sources)},
		{"shared", shared, aws.Credentials{AccessKeyID: sharedKey, SecretAccessKey: sharedSecret}, 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			clusters, err := c.client.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{})
			if err != nil {
				t.Fatal(err)
			}
			if len(clusters.DBClusters) != len(sources) {
				t.Errorf("%d clusters, want %d", len(clusters.DBClusters), len(sources))
			}
			for _, cl := range clusters.DBClusters {
				src := source(aws.ToString(cl.DBClusterIdentifier))
				if aws.ToString(cl.Endpoint) != src.host || aws.ToString(cl.ReaderEndpoint) != src.host || aws.ToInt32(cl.Port) != int32(src.port) ||
					aws.ToString(cl.MasterUsername) != src.user || aws.ToString(cl.DatabaseName) != src.database {
					t.Errorf("cluster %s: endpoint %q reader %q port %d user %q database %q; want %s:%d %q %q", src.id,
						aws.ToString(cl.Endpoint), aws.ToString(cl.ReaderEndpoint), aws.ToInt32(cl.Port), aws.ToString(cl.MasterUsername),
						aws.ToString(cl.DatabaseName), src.host, src.port, src.user, src.database)
				}
			}
			instances, err := c.client.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{})
			if err != nil {
				t.Fatal(err)
			}
			if len(instances.DBInstances) != len(sources) {
				t.Errorf("%d instances, want %d", len(instances.DBInstances), len(sources))
			}
			for _, in := range instances.DBInstances {
				src := source(aws.ToString(in.DBInstanceIdentifier))
				if in.Endpoint == nil || aws.ToString(in.Endpoint.Address) != src.host || aws.ToInt32(in.Endpoint.Port) != int32(src.port) ||
					aws.ToInt32(in.DbInstancePort) != int32(src.port) || aws.ToString(in.MasterUsername) != src.user || aws.ToString(in.DBName) != src.database {
					t.Errorf("instance %s: endpoint %+v port %d user %q database %q; want %s:%d %q %q", src.id, in.Endpoint,
						aws.ToInt32(in.DbInstancePort), aws.ToString(in.MasterUsername), aws.ToString(in.DBName), src.host, src.port, src.user, src.database)
				}
			}
			snaps, err := c.client.DescribeDBSnapshots(ctx, &rds.DescribeDBSnapshotsInput{})
			if err != nil {
				t.Fatal(err)
			}
			csnaps, err := c.client.DescribeDBClusterSnapshots(ctx, &rds.DescribeDBClusterSnapshotsInput{})
			if err != nil {
				t.Fatal(err)
			}
			if len(snaps.DBSnapshots) != c.exports || len(csnaps.DBClusterSnapshots) != c.exports {
				t.Errorf("%d DB snapshots, %d cluster snapshots; want %d each", len(snaps.DBSnapshots), len(csnaps.DBClusterSnapshots), c.exports)
			}
			for _, sn := range snaps.DBSnapshots {
				src := source(aws.ToString(sn.DBInstanceIdentifier))
				want := map[bool]string{false: "available", true: "failed"}[src.down]
				if aws.ToString(sn.Status) != want || aws.ToString(sn.MasterUsername) != src.user || aws.ToInt32(sn.Port) != int32(src.port) {
					t.Errorf("snapshot of %s: status %s user %q port %d; want %s %q %d", src.id, aws.ToString(sn.Status),
						aws.ToString(sn.MasterUsername), aws.ToInt32(sn.Port), want, src.user, src.port)
				}
			}
			for _, sn := range csnaps.DBClusterSnapshots {
				src := source(aws.ToString(sn.DBClusterIdentifier))
				want := map[bool]string{false: "available", true: "failed"}[src.down]
				if aws.ToString(sn.Status) != want || aws.ToString(sn.MasterUsername) != src.user || aws.ToInt32(sn.Port) != int32(src.port) {
					t.Errorf("cluster snapshot of %s: status %s user %q port %d; want %s %q %d", src.id, aws.ToString(sn.Status),
						aws.ToString(sn.MasterUsername), aws.ToInt32(sn.Port), want, src.user, src.port)
				}
			}
			tasks, err := c.client.DescribeExportTasks(ctx, &rds.DescribeExportTasksInput{})
			if err != nil {
				t.Fatal(err)
			}
			if len(tasks.ExportTasks) != c.exports {
				t.Errorf("%d export tasks, want %d", len(tasks.ExportTasks), c.exports)
			}
			for _, task := range tasks.ExportTasks {
				src := source(strings.TrimPrefix(aws.ToString(task.ExportTaskIdentifier), "exp-"))
				want := map[bool]string{false: "COMPLETE", true: "FAILED"}[src.down]
				if st := aws.ToString(task.Status); st != want {
					t.Errorf("export of %s: %s (%s), want %s", src.id, st, aws.ToString(task.FailureCause), want)
				}
			}
			// Every member the SDK parsed, whatever its name.
			for name, out := range map[string]any{"DescribeDBClusters": clusters, "DescribeDBInstances": instances,
				"DescribeDBSnapshots": snaps, "DescribeDBClusterSnapshots": csnaps, "DescribeExportTasks": tasks} {
				b, err := json.Marshal(out)
				if err != nil {
					t.Fatal(err)
				}
				noSecret(t, name+" (SDK)", b)
			}
			// The documents as sent, every page.
			for _, action := range []string{"DescribeDBClusters", "DescribeDBInstances", "DescribeDBSnapshots", "DescribeDBClusterSnapshots", "DescribeExportTasks"} {
				marker := ""
				for page := 0; ; page++ {
					body := "Action=" + action + "&Version=2014-10-31&MaxRecords=20"
					if marker != "" {
						body += "&Marker=" + url.QueryEscape(marker)
					}
					status, doc := rawRDS(t, s.URL(), c.creds, testRegion, body)
					if status != http.StatusOK {
						t.Fatalf("%s: %d %s", action, status, doc)
					}
					noSecret(t, action+" (XML)", doc)
					marker = ""
					if m := markerRE.FindSubmatch(doc); m != nil {
						marker = string(m[1])
					}
					if marker == "" || page > 10 {
						break
					}
				}
			}
		})
	}
	noSecret(t, "the server log", []byte(logs.String()))
	// startHostile checks the log again once the server has stopped.
}

// TestHostileAPI_ConfigErrors: a malformed source URL is a configuration
// error that names the source and not the password, from the command line
// as from Validate.
func TestHostileAPI_ConfigErrors(t *testing.T) {
	for _, c := range []struct{ engine, url string }{
		{"postgres", "postgres://u:" + hostileDBSecret + "@h:xx/db"},
		{"aurora-postgresql", "host=h user=u password='" + hostileDBSecret},
		{"postgres", "postgres://u:" + hostileDBSecret + "%@h/db"},
		{"postgres", "postgres://u:12/" + hostileDBSecret + "@h/db"},
		{"mysql", "mysql://root:" + hostileDBSecret + "@h:port/"},
		{"mariadb", "root:" + hostileDBSecret + "@tcp(h:3306)/db"},
		{"aurora-mysql", "mysql://root@h/?password=" + hostileDBSecret},
	} {
		dir := t.TempDir()
		path := dir + "/rdsexport.yaml"
		cfg := fmt.Sprintf("data_dir: %q\nclusters:\n  - {identifier: src, engine: %s, url: %q}\n", dir, c.engine, c.url)
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr strings.Builder
		// An accepted configuration would serve until the context ends.
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		err := run(ctx, []string{"serve", "--config", path, "--listen", "127.0.0.1:0"}, func(string) string { return "" }, &stdout, &stderr)
		cancel()
		if err == nil {
			t.Fatalf("%s accepted", c.engine)
		}
		text := err.Error() + stdout.String() + stderr.String()
		if strings.Contains(text, hostileDBSecret) || !strings.Contains(text, "clusters[0] src: url") {
			t.Errorf("%s: configuration error %q", c.engine, text)
		}
	}
}

// TestHostileAPI_Parameters sends values past every bound: a prefix whose
// keys S3 could not hold, role and key ARNs longer than IAM and KMS allow,
// text that is not UTF-8 in every operation, and tasks big enough that a
// page of 100 would be tens of megabytes.
func TestHostileAPI_Parameters(t *testing.T) {
	const tasks = 30
	s, _ := startHostile(t, func(c *Config) {
		for i := range tasks {
			c.Clusters = append(c.Clusters, SourceConfig{Identifier: fmt.Sprintf("big-%d", i), Engine: "aurora-postgresql",
				URL: "postgres://exporter@127.0.0.1:1/postgres?connect_timeout=2"})
		}
		// A source per subtest: the one-export-per-source check comes
		// before the role and key checks.
		for _, id := range []string{"prefix", "role", "key"} {
			c.Clusters = append(c.Clusters, SourceConfig{Identifier: id, Engine: "aurora-postgresql",
				URL: "postgres://exporter@127.0.0.1:1/postgres?connect_timeout=2"})
		}
	}, nil)
	creds := aws.Credentials{AccessKeyID: hostileKey, SecretAccessKey: hostileSecret}
	ctx := t.Context()
	in := func(id, source string) *rds.StartExportTaskInput {
		return &rds.StartExportTaskInput{ExportTaskIdentifier: aws.String(id), SourceArn: aws.String(clusterArn(source)),
			S3BucketName: aws.String(testBucket), IamRoleArn: aws.String(roleArn), KmsKeyId: aws.String("alias/export")}
	}

	t.Run("S3Prefix", func(t *testing.T) {
		for _, n := range []int{257, 900 << 10} {
			req := in("long-prefix", "prefix")
			req.S3Prefix = aws.String(strings.Repeat("p", n))
			_, err := s.RDS.StartExportTask(ctx, req)
			wantAPIError(t, fmt.Sprintf("S3Prefix of %d bytes", n), err, "InvalidParameterValue")
			if err != nil && len(err.Error()) > 1000 {
				t.Errorf("the error quotes the prefix back: %d bytes", len(err.Error()))
			}
		}
		// The longest prefix is accepted.
		req := in("longest-prefix", "prefix")
		req.S3Prefix = aws.String(strings.Repeat("p", 256))
		if _, err := s.RDS.StartExportTask(ctx, req); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("IamRoleArn", func(t *testing.T) {
		req := in("long-role", "role")
		req.IamRoleArn = aws.String(roleArn + strings.Repeat("r", 2049-len(roleArn)))
		_, err := s.RDS.StartExportTask(ctx, req)
		wantAPIError(t, "IamRoleArn of 2049 bytes", err, "IamRoleNotFound")
		req.IamRoleArn = aws.String("arn:aws-cn:iam::000000000000:role/export")
		_, err = s.RDS.StartExportTask(ctx, req)
		wantAPIError(t, "IamRoleArn of aws-cn", err, "IamRoleNotFound")
	})
	t.Run("KmsKeyId", func(t *testing.T) {
		req := in("long-key", "key")
		req.KmsKeyId = aws.String("alias/" + strings.Repeat("k", 2043))
		_, err := s.RDS.StartExportTask(ctx, req)
		wantAPIError(t, "KmsKeyId of 2049 bytes", err, "KMSKeyNotAccessibleFault")
	})
	t.Run("InvalidUTF8", func(t *testing.T) {
		for _, body := range []string{
			"Action=StartExportTask&ExportTaskIdentifier=x&SourceArn=" + url.QueryEscape(clusterArn("pg")) + "&S3BucketName=" + testBucket +
				"&IamRoleArn=" + url.QueryEscape(roleArn) + "&KmsKeyId=k&S3Prefix=a%FFb",
			"Action=StartExportTask&ExportTaskIdentifier=x&SourceArn=" + url.QueryEscape(clusterArn("pg")) + "&S3BucketName=" + testBucket +
				"&IamRoleArn=" + url.QueryEscape(roleArn) + "&KmsKeyId=k%C0%80",
			"Action=DescribeExportTasks&Filters.Filter.1.Name=status&Filters.Filter.1.Values.Value.1=%FE",
			"Action=CancelExportTask&ExportTaskIdentifier=%ED%A0%80",
			"Action=DescribeDBClusters&DBClusterIdentifier=pg%FF",
			"Action=DescribeDBInstances&Marker=%80",
			"Action=CreateDBSnapshot&DBSnapshotIdentifier=s&DBInstanceIdentifier=i&Tags.Tag.1.Key=k&Tags.Tag.1.Value=%E2%82",
			"Action=DescribeDBSnapshots&SnapshotType=manual%FF",
			"Action=DeleteDBSnapshot&DBSnapshotIdentifier=%FF",
			"Action=CreateDBClusterSnapshot&DBClusterSnapshotIdentifier=s%FF&DBClusterIdentifier=pg",
			"Action=DescribeDBClusterSnapshots&Unknown%FF=1",
			"Action=DeleteDBClusterSnapshot&DBClusterSnapshotIdentifier=x&X=%F8%88%80%80%80",
		} {
			status, doc := rawRDS(t, s.URL(), creds, testRegion, body+"&Version=2014-10-31")
			if e := parseQueryError(t, doc); status != http.StatusBadRequest || e.Error.Code != "InvalidParameterValue" {
				t.Errorf("%s: %d %s", body, status, doc)
			}
			wellFormed(t, doc)
		}
	})
	t.Run("PageSize", func(t *testing.T) {
		// Tasks with ExportOnly lists of nearly 200 KB, the most
		// StartExportTask takes; their sources refuse connections, so
		// they fail at once.
		var exportOnly []string
		for i := 0; len(exportOnly)*64 < 199<<10; i++ {
			exportOnly = append(exportOnly, fmt.Sprintf("db%05d_%s", i, strings.Repeat("x", 56)))
		}
		var want []string
		for i := range tasks {
			req := in(fmt.Sprintf("big-%02d", i), fmt.Sprintf("big-%d", i))
			req.ExportOnly = exportOnly
			if _, err := s.RDS.StartExportTask(ctx, req); err != nil {
				t.Fatal(err)
			}
			want = append(want, aws.ToString(req.ExportTaskIdentifier))
		}
		status, first := rawRDS(t, s.URL(), creds, testRegion, "Action=DescribeExportTasks&Version=2014-10-31")
		if status != http.StatusOK || !strings.Contains(string(first), "<Marker>") {
			t.Fatalf("first page: %d, %d bytes, no marker", status, len(first))
		}
		t.Logf("first DescribeExportTasks page: %d bytes, %d tasks", len(first), strings.Count(string(first), "<ExportTask>"))
		if len(first) > 3<<19 {
			t.Errorf("first page is %d bytes", len(first))
		}
		var got []string
		pages := 0
		p := rds.NewDescribeExportTasksPaginator(s.RDS, &rds.DescribeExportTasksInput{}, func(o *rds.DescribeExportTasksPaginatorOptions) {
			o.StopOnDuplicateToken = true
		})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, task := range out.ExportTasks {
				if strings.HasPrefix(aws.ToString(task.ExportTaskIdentifier), "big-") {
					got = append(got, aws.ToString(task.ExportTaskIdentifier))
				}
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("pages give %v, want %v", got, want)
		}
		t.Logf("%d tasks of %d KB in %d pages", tasks, len(strings.Join(exportOnly, ""))>>10, pages)
	})
}

// TestHostileAPI_ARNAliases: one source has one active export, whatever
// partition, region or case its ARN is written in; ARNs of other
// partitions are refused, ARNs of other regions name nothing, and requests
// signed for a region the server does not serve are refused.
func TestHostileAPI_ARNAliases(t *testing.T) {
	hung, _ := hungServer(t)
	s, _ := startHostile(t, func(c *Config) {
		c.ExtraRegions = []string{"us-west-2"}
		// Connecting hangs: the first export stays active until canceled.
		c.Clusters = append(c.Clusters, SourceConfig{Identifier: "hung", Engine: "aurora-postgresql",
			URL: "postgres://exporter:" + hostileDBSecret + "@" + hung + "/postgres?connect_timeout=60"})
	}, nil)
	ctx := t.Context()
	east := s.RDS
	west := regionClient(s.URL(), "us-west-2", hostileKey, hostileSecret)
	elsewhere := regionClient(s.URL(), "eu-central-1", hostileKey, hostileSecret)
	arn := func(partition, region, id string) string {
		return fmt.Sprintf("arn:%s:rds:%s:%s:cluster:%s", partition, region, testAccount, id)
	}
	start := func(c *rds.Client, id, source string) error {
		_, err := c.StartExportTask(ctx, &rds.StartExportTaskInput{ExportTaskIdentifier: aws.String(id), SourceArn: aws.String(source),
			S3BucketName: aws.String(testBucket), IamRoleArn: aws.String(roleArn), KmsKeyId: aws.String("k")})
		return err
	}
	cancel := func(id string) {
		t.Helper()
		if _, err := east.CancelExportTask(ctx, &rds.CancelExportTaskInput{ExportTaskIdentifier: aws.String(id)}); err != nil {
			t.Fatal(err)
		}
		s.waitStatus(t, id, time.Minute, "CANCELED")
	}

	if err := start(east, "first", arn("aws", testRegion, "hung")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		client *rds.Client
		source string
		code   string
	}{
		{"OtherServedRegion", west, arn("aws", "us-west-2", "hung"), "ExportTaskAlreadyExists"},
		{"OtherCase", east, arn("aws", testRegion, "HUNG"), "ExportTaskAlreadyExists"},
		{"OtherCaseOtherRegion", west, arn("aws", "us-west-2", "Hung"), "ExportTaskAlreadyExists"},
		{"ChinaPartition", east, arn("aws-cn", testRegion, "hung"), "InvalidParameterValue"},
		{"GovCloudPartition", east, arn("aws-us-gov", testRegion, "hung"), "InvalidParameterValue"},
		{"ChinaRegion", east, arn("aws-cn", "cn-north-1", "hung"), "InvalidParameterValue"},
		{"RegionNotTheCallers", east, arn("aws", "us-west-2", "hung"), "DBClusterNotFoundFault"},
		{"RegionNotServed", east, arn("aws", "eu-central-1", "hung"), "DBClusterNotFoundFault"},
		{"CallerRegionNotServed", elsewhere, arn("aws", "eu-central-1", "hung"), "SignatureDoesNotMatch"},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantAPIError(t, c.source, start(c.client, "alias-"+strings.ToLower(c.name), c.source), c.code)
		})
	}
	_, err := elsewhere.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{})
	wantAPIError(t, "DescribeDBClusters signed for eu-central-1", err, "SignatureDoesNotMatch")
	status, doc := rawRDS(t, s.URL(), aws.Credentials{AccessKeyID: hostileKey, SecretAccessKey: hostileSecret}, "eu-central-1",
		"Action=DescribeExportTasks&Version=2014-10-31")
	if e := parseQueryError(t, doc); status != http.StatusForbidden || e.Error.Code != "SignatureDoesNotMatch" {
		t.Errorf("raw request signed for eu-central-1: %d %s", status, doc)
	}
	_, err = east.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(arn("aws-cn", testRegion, "hung"))})
	wantAPIError(t, "DescribeDBClusters of an aws-cn ARN", err, "InvalidParameterValue")
	// West sees the cluster under its own region's ARN.
	out, err := west.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(arn("aws", "us-west-2", "hung"))})
	if err != nil || len(out.DBClusters) != 1 || aws.ToString(out.DBClusters[0].DBClusterArn) != arn("aws", "us-west-2", "hung") {
		t.Fatalf("DescribeDBClusters from us-west-2: %v, %+v", err, out)
	}
	if ids := s.taskIDs(t); !slices.Equal(ids, []string{"first"}) {
		t.Fatalf("tasks %v, want only first", ids)
	}

	// Once the first export has ended the source is free, from any served
	// region.
	cancel("first")
	if err := start(west, "second", arn("aws", "us-west-2", "hung")); err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, "east while west exports", start(east, "third", arn("aws", testRegion, "hung")), "ExportTaskAlreadyExists")
	cancel("second")
}
