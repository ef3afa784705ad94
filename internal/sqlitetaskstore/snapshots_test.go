package sqlitetaskstore

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rdsexport/rdsexport/internal/export"
)

func TestSnapshotStore_Reopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "tasks.db")
	s, err := New(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	snap := &export.Snapshot{
		Kind:             export.SnapshotKindCluster,
		Identifier:       "snap-reopen",
		AccountID:        "123456789012",
		Region:           "us-east-1",
		SourceIdentifier: "Cluster-1",
		Engine:           "aurora-mysql",
		EngineVersion:    "8.0.mysql_aurora.3.05.2",
		Status:           export.SnapshotCreating,
		Type:             export.SnapshotTypeManual,
		SourceCreateTime: time.Date(2024, 1, 2, 3, 4, 5, 6000, time.UTC),
		Port:             3306,
		MasterUsername:   "admin",
		Tags:             []export.Tag{{Key: "k", Value: "v"}},
	}
	if err := s.CreateSnapshot(ctx, snap); err != nil {
		t.Fatal(err)
	}
	pct, loc, size := 100, "store/snap-reopen", int64(4096)
	taken := time.Date(2024, 1, 2, 4, 0, 0, 7000, time.UTC)
	want, err := s.UpdateSnapshot(ctx, snap.AccountID, snap.Kind, snap.Identifier, []export.SnapshotStatus{export.SnapshotCreating}, export.SnapshotAvailable,
		export.SnapshotUpdate{PercentProgress: &pct, Location: &loc, SizeBytes: &size, CreateTime: &taken})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = New(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.GetSnapshot(ctx, snap.AccountID, snap.Kind, snap.Identifier)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != export.SnapshotAvailable || got.PercentProgress != 100 || got.Seq != want.Seq || got.Location != loc ||
		got.SizeBytes != size || !got.CreateTime.Equal(taken) || !got.SourceCreateTime.Equal(snap.SourceCreateTime) ||
		len(got.Tags) != 1 || got.Tags[0] != snap.Tags[0] {
		t.Fatalf("after reopen: %+v, want %+v", got, want)
	}
	// The identifier is still taken, and Seq keeps increasing.
	dup := *snap
	if err := s.CreateSnapshot(ctx, &dup); export.ErrorCode(err) != export.CodeDBClusterSnapshotAlreadyExists {
		t.Fatalf("duplicate after reopen: %v", err)
	}
	next := *snap
	next.Identifier = "snap-next"
	if err := s.CreateSnapshot(ctx, &next); err != nil {
		t.Fatal(err)
	}
	if next.Seq <= want.Seq {
		t.Fatalf("Seq after reopen = %d, want > %d", next.Seq, want.Seq)
	}
}

// TestNew_UpgradeFromTasksOnly opens a file written before snapshots
// existed (schema version 1): its tasks stay and the snapshots table appears.
func TestNew_UpgradeFromTasksOnly(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "tasks.db")
	s, err := New(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	task := &export.Task{
		Identifier: "exp-old",
		AccountID:  "123456789012",
		SourceArn:  "arn:aws:rds:us-east-1:123456789012:snapshot:s",
		SourceType: export.SourceTypeSnapshot,
		S3Bucket:   "bucket",
	}
	if err := s.CreateTask(ctx, task); err != nil {
		t.Fatal(err)
	}
	// Undo migrations 0002 and later to get a version-1 file.
	for _, stmt := range []string{"DROP TABLE events", "DROP TABLE snapshots", "PRAGMA user_version = 1"} {
		if _, err := s.write.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = New(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.GetTask(ctx, task.AccountID, task.Identifier); err != nil {
		t.Fatalf("task after upgrade: %v", err)
	}
	snap := &export.Snapshot{Kind: export.SnapshotKindDB, Identifier: "snap", AccountID: task.AccountID, Status: export.SnapshotCreating}
	if err := s.CreateSnapshot(ctx, snap); err != nil {
		t.Fatalf("CreateSnapshot after upgrade: %v", err)
	}
	var version int
	if err := s.read.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version != 3 {
		t.Fatalf("user_version = %d, want 3", version)
	}
}

func TestCreateSnapshot_ErrInvalidKindOrStatus(t *testing.T) {
	s := newTestStore(t)
	for _, snap := range []*export.Snapshot{
		{Kind: "instance", Identifier: "a", AccountID: "1", Status: export.SnapshotCreating},
		{Kind: export.SnapshotKindDB, Identifier: "b", AccountID: "1", Status: "CREATING"},
	} {
		if err := s.CreateSnapshot(t.Context(), snap); err == nil || export.ErrorCode(err) != export.CodeInternalFailure {
			t.Errorf("CreateSnapshot(kind %q, status %q) = %v, want a plain error", snap.Kind, snap.Status, err)
		}
	}
}

func TestUpdateSnapshot_ErrNoFrom(t *testing.T) {
	s := newTestStore(t)
	ctx := t.Context()
	snap := &export.Snapshot{Kind: export.SnapshotKindDB, Identifier: "a", AccountID: "1", Status: export.SnapshotCreating}
	if err := s.CreateSnapshot(ctx, snap); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateSnapshot(ctx, "1", export.SnapshotKindDB, "a", nil, export.SnapshotAvailable, export.SnapshotUpdate{}); err == nil {
		t.Error("UpdateSnapshot with no from status succeeded")
	}
	if _, err := s.DeleteSnapshot(ctx, "1", export.SnapshotKindDB, "a", nil); err == nil {
		t.Error("DeleteSnapshot with no from status succeeded")
	}
	got, err := s.GetSnapshot(ctx, "1", export.SnapshotKindDB, "a")
	if err != nil || got.Status != export.SnapshotCreating {
		t.Fatalf("after refused calls: %+v, %v", got, err)
	}
}

// TestListSnapshots_UsesIndex guards the indexes that keep a filtered page
// fast on a large table: a page of one account searches an index of that
// account, a lookup by identifier or source uses its own index, and the
// start-up scan of creating snapshots reads only those.
func TestListSnapshots_UsesIndex(t *testing.T) {
	s := newTestStore(t)
	db := export.SnapshotKindDB
	tests := []struct {
		name  string
		f     export.SnapshotFilter
		index string
		cond  string
	}{
		{"All", export.SnapshotFilter{AccountID: "a", Kind: db}, "snapshots_account_kind_seq", "account_id=? AND kind=?"},
		{"BothKinds", export.SnapshotFilter{AccountID: "a"}, "snapshots_account_kind_seq", "account_id=?"},
		{"Status", export.SnapshotFilter{AccountID: "a", Kind: db, Statuses: []export.SnapshotStatus{export.SnapshotAvailable}}, "snapshots_account_kind_seq", "account_id=? AND kind=?"},
		{"StatusBothKinds", export.SnapshotFilter{AccountID: "a", Statuses: []export.SnapshotStatus{export.SnapshotAvailable}}, "snapshots_account_kind_seq", "account_id=?"},
		{"TypeEngine", export.SnapshotFilter{AccountID: "a", Kind: db, Types: []string{"manual"}, Engines: []string{"mysql"}}, "snapshots_account_kind_seq", "account_id=? AND kind=?"},
		{"Identifiers", export.SnapshotFilter{AccountID: "a", Kind: db, Identifiers: []string{"x", "y"}, SourceIdentifiers: []string{"s"}}, "snapshots_account_kind_identifier", "identifier=?"},
		{"Source", export.SnapshotFilter{AccountID: "a", Kind: db, SourceIdentifiers: []string{"s", "t"}, Statuses: []export.SnapshotStatus{export.SnapshotAvailable}}, "snapshots_account_kind_source", "source_identifier=?"},
		{"RecoveryScan", export.SnapshotFilter{Statuses: []export.SnapshotStatus{export.SnapshotCreating}}, "snapshots_status", "status=?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.f
			f.AfterSeq, f.Limit = 10, 100
			query, args := snapshotListQuery(f)
			rows, err := s.read.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, notused int
				var detail string
				if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if len(plan) == 0 || !strings.HasPrefix(plan[0], "SEARCH snapshots USING INDEX "+tt.index+" (") || !strings.Contains(plan[0], tt.cond) {
				t.Fatalf("plan %v, want a search of %s on %s", plan, tt.index, tt.cond)
			}
		})
	}
}
