package sqlitetaskstore

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/exporttest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func newTestStore(t testing.TB) *Store {
	t.Helper()
	s, err := New(t.Context(), filepath.Join(t.TempDir(), "tasks.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestStore(t *testing.T) {
	exporttest.StoreSuite(t, func(t *testing.T) export.Store { return newTestStore(t) })
}

func TestSnapshotStore(t *testing.T) {
	exporttest.SnapshotStoreSuite(t, func(t *testing.T) export.SnapshotStore { return newTestStore(t) })
}

func TestNew_Reopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "tasks.db")
	s, err := New(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	task := &export.Task{
		Identifier:    "exp-reopen",
		AccountID:     "123456789012",
		Region:        "us-east-1",
		SourceArn:     "arn:aws:rds:us-east-1:123456789012:snapshot:s",
		SourceType:    export.SourceTypeSnapshot,
		ExportOnly:    []string{"db.t"},
		S3Bucket:      "bucket",
		IamRoleArn:    "arn:aws:iam::123456789012:role/r",
		KmsKeyID:      "k",
		TaskStartTime: time.Date(2024, 1, 2, 3, 4, 5, 6000, time.UTC),
	}
	if err := s.CreateTask(ctx, task); err != nil {
		t.Fatal(err)
	}
	pct := 40
	want, err := s.Transition(ctx, task.AccountID, task.Identifier, []export.Status{export.StatusStarting}, export.StatusInProgress, export.TaskUpdate{PercentProgress: &pct})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Opening again runs no migration twice and finds the task as it was.
	s, err = New(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.GetTask(ctx, task.AccountID, task.Identifier)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != export.StatusInProgress || got.PercentProgress != 40 || got.Seq != want.Seq ||
		!got.TaskStartTime.Equal(task.TaskStartTime) || len(got.ExportOnly) != 1 {
		t.Fatalf("after reopen: %+v, want %+v", got, want)
	}
	// Seq keeps increasing across reopen.
	next := *task
	next.Identifier, next.SourceArn = "exp-next", "arn:aws:rds:us-east-1:123456789012:snapshot:t"
	if err := s.CreateTask(ctx, &next); err != nil {
		t.Fatal(err)
	}
	if next.Seq <= want.Seq {
		t.Fatalf("Seq after reopen = %d, want > %d", next.Seq, want.Seq)
	}
}

func TestNew_ErrInvalidPath(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:x.db", "a?b", filepath.Join(t.TempDir(), "missing", "tasks.db")} {
		if s, err := New(t.Context(), p); err == nil {
			s.Close()
			t.Errorf("New(%q) succeeded", p)
		}
	}
}

func TestNew_ErrNewerSchema(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "tasks.db")
	s, err := New(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.write.ExecContext(ctx, "PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err := New(ctx, path); err == nil {
		s.Close()
		t.Fatal("New opened a file with a newer schema")
	}
}

// seedTasks inserts n tasks for benchmarks in one transaction, bypassing
// CreateTask's fsync per task. Tasks spread over 4 accounts, 10 buckets and
// every status but CANCELING.
func seedTasks(b testing.TB, s *Store, n int) {
	b.Helper()
	ctx := b.Context()
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO export_tasks (
		account_id, identifier, region, source_arn, source_type, export_only,
		s3_bucket, s3_prefix, iam_role_arn, kms_key_id, status, task_start_time)
		VALUES (?, ?, 'us-east-1', ?, 'SNAPSHOT', '["db"]', ?, '', 'role', 'key', ?, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	defer stmt.Close()
	// As in a long-running server, nearly all tasks are finished; only the
	// newest few are active, each with its own source (spec §6.5).
	terminal := []export.Status{export.StatusComplete, export.StatusFailed, export.StatusCanceled, export.StatusComplete}
	active := []export.Status{export.StatusStarting, export.StatusInProgress}
	for i := range n {
		st := terminal[i%len(terminal)]
		arn := fmt.Sprintf("arn:aws:rds:us-east-1:1:snapshot:s%d", i%100)
		if i >= n-40 {
			st = active[i%len(active)]
			arn = fmt.Sprintf("arn:aws:rds:us-east-1:1:snapshot:active-%d", i)
		}
		if _, err := stmt.ExecContext(ctx, fmt.Sprintf("acct-%d", i%4), fmt.Sprintf("exp-%06d", i),
			arn, fmt.Sprintf("bucket-%d", i%10), string(st), int64(1_700_000_000_000_000+i)); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkListTasks(b *testing.B) {
	s := newTestStore(b)
	seedTasks(b, s, 100_000)
	snapshot := export.SourceTypeSnapshot
	filters := []struct {
		name string
		f    export.TaskFilter
	}{
		{"All", export.TaskFilter{AccountID: "acct-1"}},
		{"Status", export.TaskFilter{AccountID: "acct-1", Statuses: []export.Status{export.StatusFailed}}},
		{"Bucket", export.TaskFilter{AccountID: "acct-1", Buckets: []string{"bucket-3"}, SourceType: &snapshot}},
		{"SourceArn", export.TaskFilter{AccountID: "acct-1", SourceArns: []string{"arn:aws:rds:us-east-1:1:snapshot:s1"}}},
		{"Active", export.TaskFilter{AccountID: "acct-1", Statuses: export.ActiveStatuses()}},
		{"ActiveOne", export.TaskFilter{AccountID: "acct-1", Statuses: []export.Status{export.StatusInProgress}}},
		{"Terminal", export.TaskFilter{AccountID: "acct-1", Statuses: []export.Status{export.StatusComplete, export.StatusFailed, export.StatusCanceled}}},
		{"Identifiers", export.TaskFilter{AccountID: "acct-1", Identifiers: []string{"exp-099997", "exp-000001", "exp-050001"}}},
		{"StatusMidway", export.TaskFilter{AccountID: "acct-1", Statuses: []export.Status{export.StatusFailed}, AfterSeq: 50_000}},
	}
	for _, bf := range filters {
		b.Run(bf.name, func(b *testing.B) {
			f := bf.f
			f.Limit = 100
			b.ReportAllocs()
			for b.Loop() {
				tasks, err := s.ListTasks(b.Context(), f)
				if err != nil {
					b.Fatal(err)
				}
				if len(tasks) == 0 {
					b.Fatal("empty page")
				}
			}
		})
	}
}

// BenchmarkCreateTask creates tasks in an account that has 25,000 of the
// store's 100,000 tasks, nearly all finished, as in a long-running server.
func BenchmarkCreateTask(b *testing.B) {
	s := newTestStore(b)
	seedTasks(b, s, 100_000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		task := &export.Task{
			Identifier:    fmt.Sprintf("new-%d", i),
			AccountID:     "acct-1",
			SourceArn:     fmt.Sprintf("arn:aws:rds:us-east-1:123456789012:snapshot:s%d", i),
			SourceType:    export.SourceTypeSnapshot,
			S3Bucket:      "bucket",
			TaskStartTime: time.Now(),
		}
		if err := s.CreateTask(b.Context(), task); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCreateTask_UsesIndex: CreateTask's check for an active task of the
// same source reads the account's active tasks through the status index,
// not every task the account ever had.
func TestCreateTask_UsesIndex(t *testing.T) {
	s := newTestStore(t)
	active := export.ActiveStatuses()
	args := []any{"a"}
	for _, st := range active {
		args = append(args, string(st))
	}
	var id, parent, notused int
	var detail string
	if err := s.read.QueryRowContext(t.Context(), "EXPLAIN QUERY PLAN "+activeOfAccountQuery(len(active)), args...).
		Scan(&id, &parent, &notused, &detail); err != nil {
		t.Fatal(err)
	}
	if want := "SEARCH export_tasks USING INDEX export_tasks_account_status (account_id=? AND status=?)"; detail != want {
		t.Fatalf("plan %q, want %q", detail, want)
	}
}

func TestNew_Pragmas(t *testing.T) {
	s := newTestStore(t)
	ctx := t.Context()
	for _, tc := range []struct {
		db     string
		pragma string
		want   string
	}{
		{"write", "journal_mode", "wal"},
		{"write", "synchronous", "2"}, // FULL
		{"write", "busy_timeout", "5000"},
		{"write", "foreign_keys", "1"},
		{"write", "user_version", "3"},
		{"read", "journal_mode", "wal"},
		{"read", "query_only", "1"},
		{"read", "busy_timeout", "5000"},
	} {
		db := s.write
		if tc.db == "read" {
			db = s.read
		}
		var got string
		if err := db.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%s PRAGMA %s = %s, want %s", tc.db, tc.pragma, got, tc.want)
		}
	}
}

// TestListTasks_UsesIndex guards the indexes that keep a filtered page fast
// on a large table: every plan searches an index of the account, and a
// filter known to match few rows uses its own index.
func TestListTasks_UsesIndex(t *testing.T) {
	s := newTestStore(t)
	cluster := export.SourceTypeCluster
	tests := []struct {
		name  string
		f     export.TaskFilter
		index string
	}{
		{"All", export.TaskFilter{}, "export_tasks_account_seq"},
		{"Status", export.TaskFilter{Statuses: []export.Status{export.StatusFailed}}, "export_tasks_account_status"},
		{"Active", export.TaskFilter{Statuses: export.ActiveStatuses()}, "export_tasks_account_status"},
		{"SourceArn", export.TaskFilter{SourceArns: []string{"x"}}, "export_tasks_account_source"},
		{"Bucket", export.TaskFilter{Buckets: []string{"x"}, SourceType: &cluster}, "export_tasks_account_bucket"},
		{"Identifiers", export.TaskFilter{Identifiers: []string{"x", "y"}, Statuses: export.ActiveStatuses()}, "export_tasks_account_identifier"},
		{"Terminal", export.TaskFilter{Statuses: []export.Status{export.StatusComplete, export.StatusFailed}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.f
			f.AccountID, f.AfterSeq, f.Limit = "a", 10, 100
			query, args := listQuery(f)
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
			if len(plan) == 0 || !strings.HasPrefix(plan[0], "SEARCH export_tasks USING") || !strings.Contains(plan[0], "account_id=?") {
				t.Fatalf("plan does not search an account index: %v", plan)
			}
			if tt.index != "" && !strings.Contains(plan[0], " "+tt.index+" ") {
				t.Fatalf("plan %v, want index %s", plan, tt.index)
			}
		})
	}
}
