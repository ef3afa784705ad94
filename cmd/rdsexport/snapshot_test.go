package main

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/rdsexport/rdsexport/internal/exporttest"
)

const snapshotFixture = `
CREATE SCHEMA app;
CREATE TABLE app.items (id bigint PRIMARY KEY, name text, price numeric(10,2), tags text[], seen timestamptz, small smallint, raw bytea);
INSERT INTO app.items SELECT i, 'item ' || i, i * 1.5, ARRAY['a', i::text], timestamptz '2024-01-01' + i * interval '1 min', (i % 100)::smallint, decode(md5(i::text), 'hex')
	FROM generate_series(1, 5000) i;
CREATE TABLE app.doomed (id int);
INSERT INTO app.doomed VALUES (1), (2), (3);
CREATE TABLE app.parts (id int, d date) PARTITION BY RANGE (d);
CREATE TABLE app.parts_a PARTITION OF app.parts FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
CREATE TABLE app.parts_b PARTITION OF app.parts FOR VALUES FROM ('2021-01-01') TO ('2022-01-01');
INSERT INTO app.parts SELECT i, date '2020-01-01' + i % 700 FROM generate_series(1, 700) i;
`

// mutate changes every table after the snapshot: the snapshot export must
// show none of it.
const mutateSQL = `
INSERT INTO app.items (id, name) VALUES (100000, 'late');
UPDATE app.items SET name = 'changed' WHERE id <= 10;
DELETE FROM app.items WHERE id > 4990;
DROP TABLE app.doomed;
TRUNCATE app.parts;
`

func snapshotServer(t *testing.T, db *exporttest.PostgresDB, mod func(*Config)) *testServer {
	return startServer(t, db.URL, func(c *Config) {
		// Snapshots copy whole servers: keep other tests' databases out.
		c.Clusters[0].Databases = []string{db.Name}
		c.Instances = []SourceConfig{{Identifier: "pgi", Engine: "postgres", URL: db.URL, Databases: []string{db.Name}}}
		if mod != nil {
			mod(c)
		}
	})
}

func (s *testServer) createClusterSnapshot(t *testing.T, id string) {
	t.Helper()
	out, err := s.RDS.CreateDBClusterSnapshot(t.Context(), &rds.CreateDBClusterSnapshotInput{
		DBClusterSnapshotIdentifier: aws.String(id), DBClusterIdentifier: aws.String("pg"),
	})
	if err != nil {
		t.Fatalf("CreateDBClusterSnapshot: %v", err)
	}
	if st := aws.ToString(out.DBClusterSnapshot.Status); st != "creating" {
		t.Errorf("new cluster snapshot status %s", st)
	}
	w := rds.NewDBClusterSnapshotAvailableWaiter(s.RDS, func(o *rds.DBClusterSnapshotAvailableWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
	})
	if err := w.Wait(t.Context(), &rds.DescribeDBClusterSnapshotsInput{DBClusterSnapshotIdentifier: aws.String(id)}, time.Minute); err != nil {
		t.Fatalf("cluster snapshot %s not available: %v", id, err)
	}
}

func (s *testServer) createDBSnapshot(t *testing.T, id string) {
	t.Helper()
	if _, err := s.RDS.CreateDBSnapshot(t.Context(), &rds.CreateDBSnapshotInput{
		DBSnapshotIdentifier: aws.String(id), DBInstanceIdentifier: aws.String("pgi"),
	}); err != nil {
		t.Fatalf("CreateDBSnapshot: %v", err)
	}
	w := rds.NewDBSnapshotAvailableWaiter(s.RDS, func(o *rds.DBSnapshotAvailableWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
	})
	if err := w.Wait(t.Context(), &rds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String(id)}, time.Minute); err != nil {
		t.Fatalf("snapshot %s not available: %v", id, err)
	}
}

func (s *testServer) exportFrom(t *testing.T, id, arn string, exportOnly ...string) {
	t.Helper()
	out, err := s.RDS.StartExportTask(t.Context(), &rds.StartExportTaskInput{
		ExportTaskIdentifier: aws.String(id), SourceArn: aws.String(arn), S3BucketName: aws.String(s.Bucket),
		IamRoleArn: aws.String(roleArn), KmsKeyId: aws.String("k"), ExportOnly: exportOnly,
	})
	if err != nil {
		t.Fatalf("StartExportTask from %s: %v", arn, err)
	}
	if out.SourceType != "SNAPSHOT" && out.SourceType != "CLUSTER" {
		t.Errorf("source type %s", out.SourceType)
	}
	s.waitStatus(t, id, 2*time.Minute, "COMPLETE")
}

// tableRows reads every row of one exported table (all batches) with DuckDB
// as sorted text.
func tableRows(t *testing.T, duck *sql.DB, dir, exportID, db, folder string) []string {
	t.Helper()
	glob := filepath.Join(dir, exportID, db, folder, "*", "*.parquet")
	matches, _ := filepath.Glob(glob)
	if len(matches) == 0 {
		return nil
	}
	rows, err := duck.Query(fmt.Sprintf("SELECT CAST(COLUMNS(*) AS VARCHAR) FROM read_parquet('%s')", glob))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprint(vals))
	}
	slices.Sort(out)
	return out
}

// TestSnapshot_PointInTime: a live export, then a cluster snapshot and a DB
// snapshot; the source changes; exports of both snapshots hold exactly the
// rows of the live export (same types), none of the later changes.
func TestSnapshot_PointInTime(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	db := exporttest.NewPostgresDB(t, snapshotFixture)
	s := snapshotServer(t, db, nil)

	s.startExport(t, "live", db.Name)
	s.waitStatus(t, "live", time.Minute, "COMPLETE")
	s.createClusterSnapshot(t, "cs1")
	s.createDBSnapshot(t, "ds1")
	db.Exec(t, mutateSQL)

	s.exportFrom(t, "from-cluster-snap", fmt.Sprintf("arn:aws:rds:%s:%s:cluster-snapshot:cs1", testRegion, testAccount))
	s.exportFrom(t, "from-db-snap", fmt.Sprintf("arn:aws:rds:%s:%s:snapshot:ds1", testRegion, testAccount))
	task := s.describe(t, "from-cluster-snap")
	snaps, err := s.RDS.DescribeDBClusterSnapshots(t.Context(), &rds.DescribeDBClusterSnapshotsInput{DBClusterSnapshotIdentifier: aws.String("cs1")})
	if err != nil {
		t.Fatal(err)
	}
	if task.SnapshotTime == nil || !task.SnapshotTime.Equal(aws.ToTime(snaps.DBClusterSnapshots[0].SnapshotCreateTime)) {
		t.Errorf("SnapshotTime %v, want the snapshot's create time %v", task.SnapshotTime, snaps.DBClusterSnapshots[0].SnapshotCreateTime)
	}
	if task.SourceType != "SNAPSHOT" {
		t.Errorf("SourceType %s", task.SourceType)
	}

	dir, _ := s.download(t, "")
	duck, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer duck.Close()
	for _, folder := range []string{"app.items", "app.doomed", "app.parts"} {
		live := tableRows(t, duck, dir, "live", db.Name, folder)
		if len(live) == 0 {
			t.Fatalf("live export of %s is empty", folder)
		}
		for _, exp := range []string{"from-cluster-snap", "from-db-snap"} {
			got := tableRows(t, duck, dir, exp, db.Name, folder)
			if !slices.Equal(got, live) {
				t.Errorf("%s %s: %d rows differ from the live export's %d", exp, folder, len(got), len(live))
			}
			var liveSchema, snapSchema string
			q := "SELECT string_agg(name || ':' || type || ':' || COALESCE(logical_type::VARCHAR, ''), ',' ORDER BY name) FROM parquet_schema('%s')"
			first := func(e string) string {
				m, _ := filepath.Glob(filepath.Join(dir, e, db.Name, folder, "*", "*.parquet"))
				return m[0]
			}
			if err := duck.QueryRow(fmt.Sprintf(q, first("live"))).Scan(&liveSchema); err != nil {
				t.Fatal(err)
			}
			if err := duck.QueryRow(fmt.Sprintf(q, first(exp))).Scan(&snapSchema); err != nil {
				t.Fatal(err)
			}
			if liveSchema != snapSchema {
				t.Errorf("%s %s: parquet schema\n%s\nwant (live)\n%s", exp, folder, snapSchema, liveSchema)
			}
		}
	}
	// The live source did change.
	if now := tableRows(t, duck, dir, "from-db-snap", db.Name, "app.items"); len(now) != 5000 {
		t.Errorf("snapshot export has %d item rows, want 5000", len(now))
	}
}

// TestSnapshot_S3Storage keeps snapshot copies in a bucket of a real
// third-party S3 server.
func TestSnapshot_S3Storage(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	gw := exporttest.StartVersityGW(t)
	db := exporttest.NewPostgresDB(t, snapshotFixture)
	s := snapshotServer(t, db, func(c *Config) {
		c.S3 = S3Config{Endpoint: gw.Endpoint, AccessKeyID: gw.AccessKeyID, SecretAccessKey: gw.SecretAccessKey, Region: "us-east-1"}
		c.Snapshots = SnapshotStorage{Bucket: "snapshot-store", Prefix: "copies"}
	})
	if err := s.Objects.CreateBucket(t.Context(), "snapshot-store"); err != nil {
		t.Fatal(err)
	}
	s.createClusterSnapshot(t, "in-s3")
	keys, err := s.Objects.List(t.Context(), "snapshot-store", "copies/")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) < 2 {
		t.Fatalf("snapshot copy objects in S3: %v", keys)
	}
	db.Exec(t, mutateSQL)
	s.exportFrom(t, "from-s3-snap", fmt.Sprintf("arn:aws:rds:%s:%s:cluster-snapshot:in-s3", testRegion, testAccount), db.Name+".app.items")
	dir, _ := s.download(t, "from-s3-snap/")
	duck, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer duck.Close()
	if n := len(tableRows(t, duck, dir, "from-s3-snap", db.Name, "app.items")); n != 5000 {
		t.Errorf("%d rows, want 5000", n)
	}
	// Deleting the snapshot deletes its stored copy.
	if _, err := s.RDS.DeleteDBClusterSnapshot(t.Context(), &rds.DeleteDBClusterSnapshotInput{DBClusterSnapshotIdentifier: aws.String("in-s3")}); err != nil {
		t.Fatal(err)
	}
	keys, err = s.Objects.List(t.Context(), "snapshot-store", "copies/")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Errorf("objects left after delete: %v", keys)
	}
}

// TestSnapshot_UnreachableSource: a snapshot of a database that cannot be
// reached ends failed, and the API keeps answering meanwhile.
func TestSnapshot_UnreachableSource(t *testing.T) {
	s := startServer(t, "", func(c *Config) {
		c.Clusters = nil
		c.Instances = []SourceConfig{{Identifier: "gone", Engine: "postgres", URL: "postgres://postgres:pw@127.0.0.1:1/x?connect_timeout=2"}}
	})
	if _, err := s.RDS.CreateDBSnapshot(t.Context(), &rds.CreateDBSnapshotInput{
		DBSnapshotIdentifier: aws.String("unreachable"), DBInstanceIdentifier: aws.String("gone"),
	}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		out, err := s.RDS.DescribeDBSnapshots(t.Context(), &rds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String("unreachable")})
		if err != nil {
			t.Fatal(err)
		}
		if st := aws.ToString(out.DBSnapshots[0].Status); st == "failed" {
			break
		} else if st != "creating" {
			t.Fatalf("status %s, want failed", st)
		}
		if time.Now().After(deadline) {
			t.Fatal("still creating after a minute")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
