package main

import (
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/rdsexport/rdsexport/internal/exporttest"
)

// TestAccounts_Isolation: two keys in two accounts, one source shared with
// the second. Each account sees only its own tasks and snapshots; another
// account's task can be neither described nor cancelled.
func TestAccounts_Isolation(t *testing.T) {
	const other = "111122223333"
	db := exporttest.NewPostgresDB(t, "CREATE TABLE t (id int); INSERT INTO t VALUES (1);")
	s := startServer(t, db.URL, func(c *Config) {
		c.Credentials = append(c.Credentials, Credential{AccessKeyID: "other", SecretAccessKey: "other-secret", AccountID: other})
		c.Clusters[0].Databases = []string{db.Name}
		c.Clusters = append(c.Clusters, SourceConfig{Identifier: "shared", Engine: "postgres", URL: db.URL, Databases: []string{db.Name}, SharedWith: []string{other}})
	})
	b := rdsClient(s.URL(), Credential{AccessKeyID: "other", SecretAccessKey: "other-secret"})

	// Account B sees only the shared cluster, under its own account.
	clusters, err := b.DescribeDBClusters(t.Context(), &rds.DescribeDBClustersInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(clusters.DBClusters) != 1 || aws.ToString(clusters.DBClusters[0].DBClusterArn) != "arn:aws:rds:us-east-1:"+other+":cluster:shared" {
		t.Fatalf("account B clusters: %+v", clusters.DBClusters)
	}
	// A's cluster "pg" does not exist for B.
	_, err = b.StartExportTask(t.Context(), &rds.StartExportTaskInput{
		ExportTaskIdentifier: aws.String("steal"), SourceArn: aws.String("arn:aws:rds:us-east-1:" + other + ":cluster:pg"),
		S3BucketName: aws.String(s.Bucket), IamRoleArn: aws.String("arn:aws:iam::" + other + ":role/r"), KmsKeyId: aws.String("k"),
	})
	if apiCode(err) != "DBClusterNotFoundFault" {
		t.Errorf("B exporting A's cluster: %v, want DBClusterNotFoundFault", err)
	}
	// Nor may B name A's account in an ARN.
	_, err = b.StartExportTask(t.Context(), &rds.StartExportTaskInput{
		ExportTaskIdentifier: aws.String("steal2"), SourceArn: aws.String(clusterArn("pg")),
		S3BucketName: aws.String(s.Bucket), IamRoleArn: aws.String("arn:aws:iam::" + other + ":role/r"), KmsKeyId: aws.String("k"),
	})
	if apiCode(err) != "DBClusterNotFoundFault" {
		t.Errorf("B using A's ARN: %v, want DBClusterNotFoundFault", err)
	}

	// Buckets of the embedded S3 are their creator's: B exports into its own.
	if _, err := s3Client(s.URL(), aws.Credentials{AccessKeyID: "other", SecretAccessKey: "other-secret"}).CreateBucket(t.Context(),
		&s3.CreateBucketInput{Bucket: aws.String("b-exports")}); err != nil {
		t.Fatal(err)
	}
	startB := func(id string) {
		t.Helper()
		if _, err := b.StartExportTask(t.Context(), &rds.StartExportTaskInput{
			ExportTaskIdentifier: aws.String(id), SourceArn: aws.String("arn:aws:rds:us-east-1:" + other + ":cluster:shared"),
			S3BucketName: aws.String("b-exports"), IamRoleArn: aws.String("arn:aws:iam::" + other + ":role/r"), KmsKeyId: aws.String("k"),
		}); err != nil {
			t.Fatalf("B starting %s: %v", id, err)
		}
	}
	waitB := func(id string) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
			out, err := b.DescribeExportTasks(t.Context(), &rds.DescribeExportTasksInput{ExportTaskIdentifier: aws.String(id)})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.ExportTasks) == 1 && aws.ToString(out.ExportTasks[0].Status) == "COMPLETE" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("B's %s not complete", id)
			}
		}
	}
	s.startExport(t, "a-only", db.Name)
	s.waitStatus(t, "a-only", time.Minute, "COMPLETE")
	s.startExport(t, "same-id", db.Name)
	s.waitStatus(t, "same-id", time.Minute, "COMPLETE")
	startB("b-only")
	waitB("b-only")
	// The same identifier is free in the other account.
	startB("same-id")
	waitB("same-id")

	ids := func(c *rds.Client) []string {
		out, err := c.DescribeExportTasks(t.Context(), &rds.DescribeExportTasksInput{})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, task := range out.ExportTasks {
			ids = append(ids, aws.ToString(task.ExportTaskIdentifier))
		}
		return ids
	}
	if got := ids(s.RDS); !slices.Equal(got, []string{"a-only", "same-id"}) {
		t.Errorf("account A sees %v", got)
	}
	if got := ids(b); !slices.Equal(got, []string{"b-only", "same-id"}) {
		t.Errorf("account B sees %v", got)
	}
	_, err = b.CancelExportTask(t.Context(), &rds.CancelExportTaskInput{ExportTaskIdentifier: aws.String("a-only")})
	if apiCode(err) != "ExportTaskNotFound" {
		t.Errorf("B cancelling A's task: %v, want ExportTaskNotFound", err)
	}

	// Snapshots are per account too.
	if _, err := b.CreateDBClusterSnapshot(t.Context(), &rds.CreateDBClusterSnapshotInput{
		DBClusterSnapshotIdentifier: aws.String("b-snap"), DBClusterIdentifier: aws.String("shared"),
	}); err != nil {
		t.Fatal(err)
	}
	snaps, err := s.RDS.DescribeDBClusterSnapshots(t.Context(), &rds.DescribeDBClusterSnapshotsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps.DBClusterSnapshots) != 0 {
		t.Errorf("account A sees B's snapshots: %+v", snaps.DBClusterSnapshots)
	}
	_, err = s.RDS.DeleteDBClusterSnapshot(t.Context(), &rds.DeleteDBClusterSnapshotInput{DBClusterSnapshotIdentifier: aws.String("b-snap")})
	if apiCode(err) != "DBClusterSnapshotNotFoundFault" {
		t.Errorf("A deleting B's snapshot: %v, want DBClusterSnapshotNotFoundFault", err)
	}
}
