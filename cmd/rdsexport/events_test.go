package main

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/rdsexport/rdsexport/internal/exporttest"
)

// eventMessages lists the messages DescribeEvents gives for one source.
func (s *testServer) eventMessages(t *testing.T, typ types.SourceType, id string) []string {
	t.Helper()
	out, err := s.RDS.DescribeEvents(t.Context(), &rds.DescribeEventsInput{SourceType: typ, SourceIdentifier: aws.String(id)})
	if err != nil {
		t.Fatalf("DescribeEvents: %v", err)
	}
	var msgs []string
	for _, e := range out.Events {
		if string(e.SourceType) != string(typ) || aws.ToString(e.SourceIdentifier) != id || aws.ToTime(e.Date).IsZero() {
			t.Errorf("event %+v of another source", e)
		}
		msgs = append(msgs, aws.ToString(e.Message))
	}
	return msgs
}

// TestDescribeEvents follows snapshots and exports through the events the
// server records, and reads them back after a restart.
func TestDescribeEvents(t *testing.T) {
	db := exporttest.NewPostgresDB(t, "CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2);")
	dataDir := t.TempDir()
	s := snapshotServer(t, db, func(c *Config) { c.DataDir = dataDir })
	s.createDBSnapshot(t, "ev-db")
	if _, err := s.RDS.DeleteDBSnapshot(t.Context(), &rds.DeleteDBSnapshotInput{DBSnapshotIdentifier: aws.String("ev-db")}); err != nil {
		t.Fatal(err)
	}
	s.createClusterSnapshot(t, "ev-cluster")
	s.exportFrom(t, "ev-export", "arn:aws:rds:us-east-1:000000000000:cluster-snapshot:ev-cluster", db.Name+".public.t")
	s.exportFrom(t, "ev-live", clusterArn("pg"), db.Name+".public.t")

	check := func(s *testServer) {
		t.Helper()
		for _, c := range []struct {
			typ  types.SourceType
			id   string
			want []string
		}{
			{types.SourceTypeDbSnapshot, "ev-db", []string{"Creating manual DB snapshot.", "Manual DB snapshot has been created.", "Deleted user snapshot."}},
			{types.SourceTypeDbClusterSnapshot, "ev-cluster", []string{"Creating manual DB cluster snapshot.", "Manual DB cluster snapshot created.",
				"DB cluster snapshot export task completed. Export task: ev-export."}},
			{types.SourceTypeDbCluster, "pg", []string{"DB cluster snapshot export task completed. Export task: ev-live."}},
		} {
			if got := s.eventMessages(t, c.typ, c.id); strings.Join(got, "|") != strings.Join(c.want, "|") {
				t.Errorf("%s %s: events %q, want %q", c.typ, c.id, got, c.want)
			}
		}
	}
	check(s)
	// Durable: a new server on the same data_dir tells the same.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check(snapshotServer(t, db, func(c *Config) { c.DataDir = dataDir }))

	// Another account sees none of them.
	other := snapshotServer(t, db, func(c *Config) {
		c.Credentials = []Credential{{AccessKeyID: "other", SecretAccessKey: "other-secret", AccountID: "111122223333"}}
	})
	out, err := other.RDS.DescribeEvents(t.Context(), &rds.DescribeEventsInput{Duration: aws.Int32(600)})
	if err != nil || len(out.Events) != 0 {
		t.Fatalf("another account: %v, %d events", err, len(out.Events))
	}
}

// TestDescribeEvents_SnapshotFailed records the failure with its reason.
func TestDescribeEvents_SnapshotFailed(t *testing.T) {
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
		msgs := s.eventMessages(t, types.SourceTypeDbSnapshot, "unreachable")
		if len(msgs) == 2 {
			if msgs[0] != "Creating manual DB snapshot." || !strings.HasPrefix(msgs[1], "Manual DB snapshot creation failed: ") ||
				strings.Contains(msgs[1], "pw") {
				t.Fatalf("events %q", msgs)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("events after a minute: %q", msgs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
