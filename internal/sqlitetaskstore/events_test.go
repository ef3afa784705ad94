package sqlitetaskstore

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/rdsexport/rdsexport/internal/export"
)

func TestStore_Events(t *testing.T) {
	ctx := t.Context()
	clock := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s, err := New(ctx, filepath.Join(t.TempDir(), "tasks.db"), WithNow(func() time.Time { return clock }))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const acct = "123456789012"
	snap := &export.Snapshot{Kind: export.SnapshotKindDB, Identifier: "snap1", AccountID: acct, Region: "us-east-1",
		SourceIdentifier: "db1", Engine: "postgres", Status: export.SnapshotCreating, Type: export.SnapshotTypeManual}
	if err := s.CreateSnapshot(ctx, snap); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(time.Minute)
	pct := 50
	if _, err := s.UpdateSnapshot(ctx, acct, snap.Kind, snap.Identifier, []export.SnapshotStatus{export.SnapshotCreating}, export.SnapshotCreating,
		export.SnapshotUpdate{PercentProgress: &pct}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateSnapshot(ctx, acct, snap.Kind, snap.Identifier, []export.SnapshotStatus{export.SnapshotCreating}, export.SnapshotAvailable,
		export.SnapshotUpdate{}); err != nil {
		t.Fatal(err)
	}
	// A refused change records nothing.
	if _, err := s.UpdateSnapshot(ctx, acct, snap.Kind, snap.Identifier, []export.SnapshotStatus{export.SnapshotCreating}, export.SnapshotFailed,
		export.SnapshotUpdate{}); !errors.Is(err, export.ErrStatusConflict) {
		t.Fatalf("update of an available snapshot: %v", err)
	}
	cl := &export.Snapshot{Kind: export.SnapshotKindCluster, Identifier: "csnap", AccountID: acct, Region: "us-east-1",
		SourceIdentifier: "c1", Engine: "aurora-postgresql", Status: export.SnapshotCreating, Type: export.SnapshotTypeManual}
	if err := s.CreateSnapshotWithin(ctx, cl, 10); err != nil {
		t.Fatal(err)
	}
	reason := "the server stopped while the snapshot was being created"
	if _, err := s.UpdateSnapshot(ctx, acct, cl.Kind, cl.Identifier, []export.SnapshotStatus{export.SnapshotCreating}, export.SnapshotFailed,
		export.SnapshotUpdate{FailureReason: &reason}); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(time.Minute)
	if _, err := s.DeleteSnapshot(ctx, acct, snap.Kind, snap.Identifier, []export.SnapshotStatus{export.SnapshotAvailable}); err != nil {
		t.Fatal(err)
	}
	task := &export.Task{Identifier: "exp1", AccountID: acct, Region: "us-east-1", SourceArn: "arn:aws:rds:us-east-1:" + acct + ":cluster-snapshot:csnap",
		SourceType: export.SourceTypeSnapshot, S3Bucket: "b", Status: export.StatusStarting}
	if err := s.CreateTask(ctx, task); err != nil {
		t.Fatal(err)
	}
	cause := "An unknown internal error occurred."
	end := clock.Add(time.Second)
	if _, err := s.Transition(ctx, acct, task.Identifier, []export.Status{export.StatusStarting}, export.StatusFailed,
		export.TaskUpdate{FailureCause: &cause, TaskEndTime: &end}); err != nil {
		t.Fatal(err)
	}
	// Another account's event.
	other := *snap
	other.AccountID, other.Seq = "210987654321", 0
	if err := s.CreateSnapshot(ctx, &other); err != nil {
		t.Fatal(err)
	}

	all, err := s.ListEvents(ctx, export.EventFilter{AccountID: acct})
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ id, typ, src, msg string }
	var got []row
	for _, e := range all {
		got = append(got, row{e.ID, e.SourceType, e.SourceIdentifier, e.Message})
	}
	want := []row{
		{"RDS-EVENT-0040", "db-snapshot", "snap1", "Creating manual DB snapshot."},
		{"RDS-EVENT-0042", "db-snapshot", "snap1", "Manual DB snapshot has been created."},
		{"RDS-EVENT-0074", "db-cluster-snapshot", "csnap", "Creating manual DB cluster snapshot."},
		{"", "db-cluster-snapshot", "csnap", "Manual DB cluster snapshot creation failed: the server stopped while the snapshot was being created."},
		{"RDS-EVENT-0041", "db-snapshot", "snap1", "Deleted user snapshot."},
		{"RDS-EVENT-0162", "db-cluster-snapshot", "csnap", "DB cluster snapshot export task failed. Export task: exp1. An unknown internal error occurred."},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("events:\n got %q\nwant %q", got, want)
	}
	if e := all[5]; !e.Date.Equal(end) || e.Region != "us-east-1" || e.SourceArn != task.SourceArn || !slices.Equal(e.Categories, []string{"notification"}) {
		t.Errorf("export event %+v", e)
	}
	if e := all[0]; e.SourceArn != "arn:aws:rds:us-east-1:"+acct+":snapshot:snap1" || !slices.Equal(e.Categories, []string{"creation"}) {
		t.Errorf("creation event %+v", e)
	}

	for name, c := range map[string]struct {
		f    export.EventFilter
		want int
	}{
		"SourceType":       {export.EventFilter{SourceType: "db-cluster-snapshot"}, 3},
		"SourceIdentifier": {export.EventFilter{SourceType: "db-snapshot", SourceIdentifier: "SNAP1"}, 3},
		"Categories":       {export.EventFilter{Categories: []string{"deletion", "backup"}}, 2},
		"Start":            {export.EventFilter{Start: clock}, 2},
		"End":              {export.EventFilter{End: clock.Add(-time.Minute)}, 4},
		"AfterSeqLimit":    {export.EventFilter{AfterSeq: all[1].Seq, Limit: 2}, 2},
	} {
		c.f.AccountID = acct
		got, err := s.ListEvents(ctx, c.f)
		if err != nil || len(got) != c.want {
			t.Errorf("%s: %d events, %v; want %d", name, len(got), err, c.want)
		}
	}
}
