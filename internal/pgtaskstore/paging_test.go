package pgtaskstore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/exporttest"
)

// pagingNodes is how many stores (pools, as separate nodes have) create
// records at once in the paging tests, and pagingWriters how many
// goroutines write through each.
const (
	pagingNodes   = 4
	pagingWriters = 3
)

// checkPagingWhileCreating runs create from several goroutines on several
// stores of one database for d while a reader pages list by Seq, the way
// a client follows Marker, and fails when the reader missed a record that
// was created: that happens when a record with a lower Seq commits after
// one with a higher Seq that the reader already passed.
//
// create(s, w, i) creates record i of writer w and returns its Seq; list
// returns the Seqs after afterSeq, at most limit of them, ascending.
func checkPagingWhileCreating(t *testing.T, d time.Duration,
	create func(ctx context.Context, s *Store, w, i int) (int64, error),
	list func(ctx context.Context, s *Store, afterSeq int64, limit int) ([]int64, error)) {
	t.Helper()
	db := exporttest.NewPostgresDB(t, "")
	stores := make([]*Store, pagingNodes)
	for i := range stores {
		s, err := New(t.Context(), Params{URL: db.URL, MaxConns: pagingWriters + 1})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores[i] = s
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	var (
		mu      sync.Mutex
		created []int64
		werr    error
		done    atomic.Bool
		wg      sync.WaitGroup
	)
	deadline := time.Now().Add(d)
	for n, s := range stores {
		for k := range pagingWriters {
			w := n*pagingWriters + k
			wg.Go(func() {
				for i := 0; time.Now().Before(deadline); i++ {
					seq, err := create(ctx, s, w, i)
					mu.Lock()
					if err != nil {
						if werr == nil {
							werr = fmt.Errorf("writer %d, record %d: %w", w, i, err)
						}
						mu.Unlock()
						cancel()
						return
					}
					created = append(created, seq)
					mu.Unlock()
				}
			})
		}
	}
	go func() { wg.Wait(); done.Store(true) }()

	// The reader pages as DescribeExportTasks with a Marker does, and once
	// the writers are done reads to the end.
	seen := map[int64]bool{}
	var after int64
	for {
		last := done.Load()
		seqs, err := list(ctx, stores[0], after, 10)
		if err != nil {
			wg.Wait()
			if werr != nil {
				t.Fatal(werr) // the writer's failure ended the pager's context
			}
			t.Fatalf("page after %d: %v", after, err)
		}
		for _, seq := range seqs {
			seen[seq] = true
			after = seq
		}
		if last && len(seqs) < 10 {
			break
		}
	}
	if werr != nil {
		t.Fatal(werr)
	}
	var missed []int64
	for _, seq := range created {
		if !seen[seq] {
			missed = append(missed, seq)
		}
	}
	t.Logf("%d records created by %d writers, %d paged", len(created), pagingNodes*pagingWriters, len(seen))
	if len(missed) > 0 {
		t.Fatalf("the pager missed %d of %d records created while it paged, e.g. seq %v", len(missed), len(created), missed[:min(len(missed), 10)])
	}
}

// TestListTasks_PagingWhileCreating: tasks of one account created at once
// by several nodes commit in Seq order, so a client paging by Marker
// meanwhile misses none.
func TestListTasks_PagingWhileCreating(t *testing.T) {
	const acct = "123456789012"
	checkPagingWhileCreating(t, 2*time.Second,
		func(ctx context.Context, s *Store, w, i int) (int64, error) {
			task := &export.Task{Identifier: fmt.Sprintf("exp-%d-%d", w, i), AccountID: acct, Region: "us-east-1",
				SourceArn:  fmt.Sprintf("arn:aws:rds:us-east-1:%s:cluster:c-%d-%d", acct, w, i),
				SourceType: export.SourceTypeCluster, S3Bucket: "b", TaskStartTime: time.Now()}
			err := s.CreateTask(ctx, task)
			return task.Seq, err
		},
		func(ctx context.Context, s *Store, afterSeq int64, limit int) ([]int64, error) {
			tasks, err := s.ListTasks(ctx, export.TaskFilter{AccountID: acct, AfterSeq: afterSeq, Limit: limit})
			seqs := make([]int64, len(tasks))
			for i, t := range tasks {
				seqs[i] = t.Seq
			}
			return seqs, err
		})
}

// TestListSnapshots_PagingWhileCreating: the same for snapshots, which
// DescribeDBSnapshots pages by Seq.
func TestListSnapshots_PagingWhileCreating(t *testing.T) {
	const acct = "123456789012"
	checkPagingWhileCreating(t, 2*time.Second,
		func(ctx context.Context, s *Store, w, i int) (int64, error) {
			snap := &export.Snapshot{Kind: export.SnapshotKindDB, Identifier: fmt.Sprintf("snap-%d-%d", w, i), AccountID: acct,
				Region: "us-east-1", SourceIdentifier: "db1", Engine: "postgres", Status: export.SnapshotCreating, Type: export.SnapshotTypeManual}
			err := s.CreateSnapshot(ctx, snap)
			return snap.Seq, err
		},
		func(ctx context.Context, s *Store, afterSeq int64, limit int) ([]int64, error) {
			snaps, err := s.ListSnapshots(ctx, export.SnapshotFilter{AccountID: acct, Kind: export.SnapshotKindDB, AfterSeq: afterSeq, Limit: limit})
			seqs := make([]int64, len(snaps))
			for i, snap := range snaps {
				seqs[i] = snap.Seq
			}
			return seqs, err
		})
}

// TestListEvents_PagingWhileRecording: the same for events, which
// DescribeEvents pages by Seq; each task's terminal move records one.
func TestListEvents_PagingWhileRecording(t *testing.T) {
	const acct = "123456789012"
	checkPagingWhileCreating(t, 2*time.Second,
		func(ctx context.Context, s *Store, w, i int) (int64, error) {
			task := &export.Task{Identifier: fmt.Sprintf("exp-%d-%d", w, i), AccountID: acct, Region: "us-east-1",
				SourceArn:  fmt.Sprintf("arn:aws:rds:us-east-1:%s:cluster:c-%d-%d", acct, w, i),
				SourceType: export.SourceTypeCluster, S3Bucket: "b", TaskStartTime: time.Now()}
			if err := s.CreateTask(ctx, task); err != nil {
				return 0, err
			}
			if _, err := s.Transition(ctx, acct, task.Identifier, []export.Status{export.StatusStarting}, export.StatusFailed, export.TaskUpdate{}); err != nil {
				return 0, err
			}
			events, err := s.ListEvents(ctx, export.EventFilter{AccountID: acct, SourceType: export.EventSourceDBCluster,
				SourceIdentifier: fmt.Sprintf("c-%d-%d", w, i)})
			if err != nil || len(events) != 1 {
				return 0, fmt.Errorf("events of task %s: %d, %v", task.Identifier, len(events), err)
			}
			return events[0].Seq, nil
		},
		func(ctx context.Context, s *Store, afterSeq int64, limit int) ([]int64, error) {
			events, err := s.ListEvents(ctx, export.EventFilter{AccountID: acct, AfterSeq: afterSeq, Limit: limit})
			seqs := make([]int64, len(events))
			for i, e := range events {
				seqs[i] = e.Seq
			}
			return seqs, err
		})
}
