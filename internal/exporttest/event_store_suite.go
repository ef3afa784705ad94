package exporttest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rdsexport/rdsexport/internal/export"
)

// EventfulStore is a task and snapshot store that records the events of
// its changes itself (export.EventStore).
type EventfulStore interface {
	export.Store
	export.SnapshotStore
	export.EventStore
}

// EventStoreSuite checks that a store records the event of each change
// that has one (export.TaskEvent, export.SnapshotEvent) with the change,
// none for a refused or eventless change, that ListEvents filters,
// orders and pages them by Seq, and that an account's events past
// export.EventRetention go when it records a new one.
//
// newStore must return a new, empty store whose events are dated by now,
// and arrange for it to be closed when the test ends (t.Cleanup).
// Subtests run in parallel, each on its own store.
func EventStoreSuite(t *testing.T, newStore func(t *testing.T, now func() time.Time) EventfulStore) {
	t.Helper()

	run := func(t *testing.T, name string, f func(t *testing.T, s EventfulStore, clock *suiteClock)) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clock := &suiteClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
			f(t, newStore(t, clock.Now), clock)
		})
	}
	run(t, "Recorded", eventsRecorded)
	run(t, "Filters", eventsFilters)
	run(t, "RefusedChanges", eventsRefused)
	run(t, "NoEvent", eventsNone)
	run(t, "TaskEventDate", eventsTaskDate)
	run(t, "EveryAccount", eventsEveryAccount)
	run(t, "Paging", eventsPaging)
	run(t, "Concurrent", eventsConcurrent)
	run(t, "Retention", eventsRetention)
}

// suiteClock is a clock the test moves; the store reads it from its own
// goroutines.
type suiteClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *suiteClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *suiteClock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

func mustListEvents(t *testing.T, s export.EventStore, f export.EventFilter) []*export.Event {
	t.Helper()
	events, err := s.ListEvents(t.Context(), f)
	if err != nil {
		t.Fatalf("ListEvents(%+v): %v", f, err)
	}
	for i := 1; i < len(events); i++ {
		if events[i].Seq <= events[i-1].Seq {
			t.Fatalf("ListEvents: seq %d after %d", events[i].Seq, events[i-1].Seq)
		}
	}
	return events
}

// eventRow is what the suite compares of an event.
type eventRow struct{ id, typ, src, msg string }

func eventRows(events []*export.Event) []eventRow {
	rows := make([]eventRow, 0, len(events))
	for _, e := range events {
		rows = append(rows, eventRow{e.ID, e.SourceType, e.SourceIdentifier, e.Message})
	}
	return rows
}

func suiteDBSnapshot(account, id, source string) *export.Snapshot {
	return &export.Snapshot{Kind: export.SnapshotKindDB, Identifier: id, AccountID: account, Region: "us-east-1",
		SourceIdentifier: source, Engine: "postgres", Status: export.SnapshotCreating, Type: export.SnapshotTypeManual}
}

func suiteClusterSnapshot(account, id, source string) *export.Snapshot {
	return &export.Snapshot{Kind: export.SnapshotKindCluster, Identifier: id, AccountID: account, Region: "us-east-1",
		SourceIdentifier: source, Engine: "aurora-postgresql", Status: export.SnapshotCreating, Type: export.SnapshotTypeManual}
}

// recordSuiteEvents makes the changes of the Recorded and Filters cases:
// six events of suiteAccount over two minutes and one of
// suiteOtherAccount.
func recordSuiteEvents(t *testing.T, s EventfulStore, clock *suiteClock) (task *export.Task, end time.Time) {
	t.Helper()
	ctx := t.Context()
	snap := mustCreateSnapshot(t, s, suiteDBSnapshot(suiteAccount, "snap1", "db1"))
	clock.Add(time.Minute)
	pct := 50
	mustUpdateSnapshot(t, s, snap, []export.SnapshotStatus{export.SnapshotCreating}, export.SnapshotCreating, export.SnapshotUpdate{PercentProgress: &pct})
	mustUpdateSnapshot(t, s, snap, []export.SnapshotStatus{export.SnapshotCreating}, export.SnapshotAvailable, export.SnapshotUpdate{})
	cl := suiteClusterSnapshot(suiteAccount, "csnap", "c1")
	if err := s.CreateSnapshotWithin(ctx, cl, 10); err != nil {
		t.Fatal(err)
	}
	reason := "the server stopped while the snapshot was being created"
	mustUpdateSnapshot(t, s, cl, []export.SnapshotStatus{export.SnapshotCreating}, export.SnapshotFailed, export.SnapshotUpdate{FailureReason: &reason})
	now := clock.Add(time.Minute)
	if _, err := s.DeleteSnapshot(ctx, suiteAccount, snap.Kind, snap.Identifier, []export.SnapshotStatus{export.SnapshotAvailable}); err != nil {
		t.Fatal(err)
	}
	task = &export.Task{Identifier: "exp1", AccountID: suiteAccount, Region: "us-east-1",
		SourceArn:  "arn:aws:rds:us-east-1:" + suiteAccount + ":cluster-snapshot:csnap",
		SourceType: export.SourceTypeSnapshot, S3Bucket: "b", Status: export.StatusStarting}
	mustCreate(t, s, task)
	cause := "An unknown internal error occurred."
	end = now.Add(time.Second)
	mustTransition(t, s, task, export.StatusStarting, export.StatusFailed, export.TaskUpdate{FailureCause: &cause, TaskEndTime: &end})
	mustCreateSnapshot(t, s, suiteDBSnapshot(suiteOtherAccount, "snap1", "db1"))
	return task, end
}

func eventsRecorded(t *testing.T, s EventfulStore, clock *suiteClock) {
	task, end := recordSuiteEvents(t, s, clock)
	all := mustListEvents(t, s, export.EventFilter{AccountID: suiteAccount})
	want := []eventRow{
		{"RDS-EVENT-0040", "db-snapshot", "snap1", "Creating manual DB snapshot."},
		{"RDS-EVENT-0042", "db-snapshot", "snap1", "Manual DB snapshot has been created."},
		{"RDS-EVENT-0074", "db-cluster-snapshot", "csnap", "Creating manual DB cluster snapshot."},
		{"", "db-cluster-snapshot", "csnap", "Manual DB cluster snapshot creation failed: the server stopped while the snapshot was being created."},
		{"RDS-EVENT-0041", "db-snapshot", "snap1", "Deleted user snapshot."},
		{"RDS-EVENT-0162", "db-cluster-snapshot", "csnap", "DB cluster snapshot export task failed. Export task: exp1. An unknown internal error occurred."},
	}
	if got := eventRows(all); !slices.Equal(got, want) {
		t.Fatalf("events:\n got %q\nwant %q", got, want)
	}
	for _, e := range all {
		if e.AccountID != suiteAccount || e.Region != "us-east-1" || e.Seq == 0 || e.Date.Location() != time.UTC {
			t.Errorf("event %+v", e)
		}
	}
	if e := all[5]; !e.Date.Equal(end) || e.SourceArn != task.SourceArn || !slices.Equal(e.Categories, []string{"notification"}) {
		t.Errorf("export event %+v", e)
	}
	if e := all[0]; e.SourceArn != "arn:aws:rds:us-east-1:"+suiteAccount+":snapshot:snap1" || !slices.Equal(e.Categories, []string{"creation"}) ||
		!e.Date.Equal(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("creation event %+v", e)
	}
	if e := all[2]; e.SourceArn != "arn:aws:rds:us-east-1:"+suiteAccount+":cluster-snapshot:csnap" || !slices.Equal(e.Categories, []string{"backup"}) ||
		!e.Date.Equal(time.Date(2026, 3, 1, 12, 1, 0, 0, time.UTC)) {
		t.Errorf("cluster creation event %+v", e)
	}
}

func eventsFilters(t *testing.T, s EventfulStore, clock *suiteClock) {
	recordSuiteEvents(t, s, clock)
	all := mustListEvents(t, s, export.EventFilter{AccountID: suiteAccount})
	if len(all) != 6 {
		t.Fatalf("%d events, want 6", len(all))
	}
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		f    export.EventFilter
		want []int // indexes into all
	}{
		{"None", export.EventFilter{}, []int{0, 1, 2, 3, 4, 5}},
		{"SourceType", export.EventFilter{SourceType: "db-cluster-snapshot"}, []int{2, 3, 5}},
		{"SourceIdentifierFoldsCase", export.EventFilter{SourceType: "db-snapshot", SourceIdentifier: "SNAP1"}, []int{0, 1, 4}},
		{"SourceIdentifierOtherType", export.EventFilter{SourceType: "db-cluster-snapshot", SourceIdentifier: "snap1"}, nil},
		{"Categories", export.EventFilter{Categories: []string{"deletion", "backup"}}, []int{2, 4}},
		{"CategoryNone", export.EventFilter{Categories: []string{"maintenance"}}, nil},
		{"StartInclusive", export.EventFilter{Start: t0.Add(2 * time.Minute)}, []int{4, 5}},
		{"EndInclusive", export.EventFilter{End: t0.Add(time.Minute)}, []int{0, 1, 2, 3}},
		{"StartEnd", export.EventFilter{Start: t0.Add(time.Minute), End: t0.Add(2 * time.Minute)}, []int{1, 2, 3, 4}},
		{"AfterSeqLimit", export.EventFilter{AfterSeq: all[1].Seq, Limit: 2}, []int{2, 3}},
		{"Combined", export.EventFilter{SourceType: "db-snapshot", Categories: []string{"creation"}, AfterSeq: all[0].Seq}, []int{1}},
	} {
		c.f.AccountID = suiteAccount
		got := mustListEvents(t, s, c.f)
		var want []*export.Event
		for _, i := range c.want {
			want = append(want, all[i])
		}
		if !slices.Equal(eventRows(got), eventRows(want)) {
			t.Errorf("%s: events\n got %q\nwant %q", c.name, eventRows(got), eventRows(want))
		}
	}
}

// eventsRefused: a change the store refuses records nothing.
func eventsRefused(t *testing.T, s EventfulStore, _ *suiteClock) {
	ctx := t.Context()
	snap := mustCreateSnapshot(t, s, suiteDBSnapshot(suiteAccount, "snap1", "db1"))
	mustUpdateSnapshot(t, s, snap, []export.SnapshotStatus{export.SnapshotCreating}, export.SnapshotAvailable, export.SnapshotUpdate{})
	if _, err := s.UpdateSnapshot(ctx, suiteAccount, snap.Kind, snap.Identifier, []export.SnapshotStatus{export.SnapshotCreating},
		export.SnapshotFailed, export.SnapshotUpdate{}); !errors.Is(err, export.ErrStatusConflict) {
		t.Fatalf("update of an available snapshot: %v", err)
	}
	if _, err := s.DeleteSnapshot(ctx, suiteAccount, snap.Kind, snap.Identifier, []export.SnapshotStatus{export.SnapshotCreating}); !errors.Is(err, export.ErrStatusConflict) {
		t.Fatalf("delete of an available snapshot from creating: %v", err)
	}
	if err := s.CreateSnapshot(ctx, suiteDBSnapshot(suiteAccount, "snap1", "db2")); export.ErrorCode(err) != snapExistsCode(export.SnapshotKindDB) {
		t.Fatalf("duplicate snapshot: %v", err)
	}
	if err := s.CreateSnapshotWithin(ctx, suiteDBSnapshot(suiteAccount, "snap2", "db1"), 1); export.ErrorCode(err) != export.CodeSnapshotQuotaExceeded {
		t.Fatalf("snapshot over the quota: %v", err)
	}
	if _, err := s.UpdateSnapshot(ctx, suiteAccount, snap.Kind, "nosuch", []export.SnapshotStatus{export.SnapshotCreating},
		export.SnapshotAvailable, export.SnapshotUpdate{}); export.ErrorCode(err) != snapNotFoundCode(export.SnapshotKindDB) {
		t.Fatalf("update of a missing snapshot: %v", err)
	}
	task := mustCreate(t, s, newSuiteTask(suiteAccount, "exp1", snapshotArn(suiteAccount, "snap1")))
	task = mustTransition(t, s, task, export.StatusStarting, export.StatusCanceling, export.TaskUpdate{})
	mustTransition(t, s, task, export.StatusCanceling, export.StatusCanceled, export.TaskUpdate{})
	if _, err := s.Transition(ctx, suiteAccount, task.Identifier, []export.Status{export.StatusStarting, export.StatusInProgress},
		export.StatusFailed, export.TaskUpdate{}); !errors.Is(err, export.ErrStatusConflict) {
		t.Fatalf("transition of a canceled task: %v", err)
	}
	if _, err := s.Transition(ctx, suiteAccount, "nosuch", []export.Status{export.StatusStarting}, export.StatusFailed,
		export.TaskUpdate{}); export.ErrorCode(err) != export.CodeExportTaskNotFound {
		t.Fatalf("transition of a missing task: %v", err)
	}
	got := eventRows(mustListEvents(t, s, export.EventFilter{}))
	want := []eventRow{
		{"RDS-EVENT-0040", "db-snapshot", "snap1", "Creating manual DB snapshot."},
		{"RDS-EVENT-0042", "db-snapshot", "snap1", "Manual DB snapshot has been created."},
		{"RDS-EVENT-0160", "db-snapshot", "snap1", "The snapshot export task was canceled. Export task: exp1."},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("events:\n got %q\nwant %q", got, want)
	}
}

// eventsNone: progress, moves to an active status and exports of a source
// that names no snapshot or cluster record no event.
func eventsNone(t *testing.T, s EventfulStore, _ *suiteClock) {
	ctx := t.Context()
	snap := mustCreateSnapshot(t, s, suiteDBSnapshot(suiteAccount, "snap1", "db1"))
	for _, pct := range []int{10, 90} {
		mustUpdateSnapshot(t, s, snap, []export.SnapshotStatus{export.SnapshotCreating}, export.SnapshotCreating, export.SnapshotUpdate{PercentProgress: &pct})
	}
	task := mustCreate(t, s, newSuiteTask(suiteAccount, "exp1", snapshotArn(suiteAccount, "snap1")))
	task = mustTransition(t, s, task, export.StatusStarting, export.StatusInProgress, export.TaskUpdate{})
	pct := 40
	if err := s.UpdateProgress(ctx, suiteAccount, task.Identifier, export.TaskUpdate{PercentProgress: &pct}); err != nil {
		t.Fatal(err)
	}
	mustTransition(t, s, task, export.StatusInProgress, export.StatusCanceling, export.TaskUpdate{})
	odd := mustCreate(t, s, newSuiteTask(suiteAccount, "exp2", "not-an-arn"))
	mustTransition(t, s, odd, export.StatusStarting, export.StatusFailed, export.TaskUpdate{})
	got := eventRows(mustListEvents(t, s, export.EventFilter{}))
	want := []eventRow{{"RDS-EVENT-0040", "db-snapshot", "snap1", "Creating manual DB snapshot."}}
	if !slices.Equal(got, want) {
		t.Fatalf("events:\n got %q\nwant %q", got, want)
	}
}

// eventsTaskDate: a task's event is dated by its end time, or without one
// by the store's clock; a live cluster's export is an event of the cluster.
func eventsTaskDate(t *testing.T, s EventfulStore, clock *suiteClock) {
	now := clock.Add(time.Hour)
	live := newSuiteTask(suiteAccount, "exp-live", "arn:aws:rds:us-east-1:"+suiteAccount+":cluster:Pg1")
	live.SourceType = export.SourceTypeCluster
	mustCreate(t, s, live)
	mustTransition(t, s, live, export.StatusStarting, export.StatusInProgress, export.TaskUpdate{})
	mustTransition(t, s, live, export.StatusInProgress, export.StatusComplete, export.TaskUpdate{})
	snap := mustCreate(t, s, newSuiteTask(suiteAccount, "exp-snap", snapshotArn(suiteAccount, "s1")))
	end := time.Date(2026, 2, 1, 0, 0, 0, 123000, time.FixedZone("x", 3600))
	mustTransition(t, s, snap, export.StatusStarting, export.StatusFailed, export.TaskUpdate{TaskEndTime: &end})

	events := mustListEvents(t, s, export.EventFilter{AccountID: suiteAccount})
	want := []eventRow{
		{"RDS-EVENT-0164", "db-cluster", "Pg1", "DB cluster snapshot export task completed. Export task: exp-live."},
		{"RDS-EVENT-0159", "db-snapshot", "s1", "The snapshot export task failed. Export task: exp-snap."},
	}
	if got := eventRows(events); !slices.Equal(got, want) {
		t.Fatalf("events:\n got %q\nwant %q", got, want)
	}
	if !events[0].Date.Equal(now) || !events[1].Date.Equal(end) || events[1].Date.Location() != time.UTC {
		t.Errorf("dates %v and %v, want %v and %v", events[0].Date, events[1].Date, now, end.UTC())
	}
	if got := mustListEvents(t, s, export.EventFilter{SourceType: "db-cluster", SourceIdentifier: "pg1"}); len(got) != 1 {
		t.Errorf("cluster pg1: %d events, want 1", len(got))
	}
}

func eventsEveryAccount(t *testing.T, s EventfulStore, _ *suiteClock) {
	for i, acct := range []string{suiteAccount, suiteOtherAccount, suiteAccount} {
		mustCreateSnapshot(t, s, suiteDBSnapshot(acct, fmt.Sprintf("snap%d", i), "db1"))
	}
	all := mustListEvents(t, s, export.EventFilter{})
	if len(all) != 3 || all[1].AccountID != suiteOtherAccount || all[1].SourceIdentifier != "snap1" {
		t.Fatalf("every account: %+v", all)
	}
	if n := len(mustListEvents(t, s, export.EventFilter{AccountID: suiteOtherAccount})); n != 1 {
		t.Fatalf("%s: %d events, want 1", suiteOtherAccount, n)
	}
	if n := len(mustListEvents(t, s, export.EventFilter{AccountID: "999999999999"})); n != 0 {
		t.Fatalf("an account without events: %d events", n)
	}
}

// eventsPaging: pages of Limit after the last Seq seen list every event
// once, in order.
func eventsPaging(t *testing.T, s EventfulStore, _ *suiteClock) {
	const n = 23
	for i := range n {
		mustCreateSnapshot(t, s, suiteDBSnapshot(suiteAccount, fmt.Sprintf("snap%02d", i), "db1"))
	}
	var got []string
	var after int64
	for pages := 0; ; pages++ {
		if pages > n {
			t.Fatal("paging does not end")
		}
		page := mustListEvents(t, s, export.EventFilter{AccountID: suiteAccount, AfterSeq: after, Limit: 5})
		for _, e := range page {
			got = append(got, e.SourceIdentifier)
			after = e.Seq
		}
		if len(page) < 5 {
			break
		}
	}
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("snap%02d", i))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged events %q, want %q", got, want)
	}
}

// eventsConcurrent: concurrent changes each record their event once, with
// distinct Seqs.
func eventsConcurrent(t *testing.T, s EventfulStore, _ *suiteClock) {
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			snap := suiteDBSnapshot(suiteAccount, fmt.Sprintf("snap%02d", i), "db1")
			if errs[i] = s.CreateSnapshot(t.Context(), snap); errs[i] != nil {
				return
			}
			_, errs[i] = s.UpdateSnapshot(t.Context(), suiteAccount, snap.Kind, snap.Identifier,
				[]export.SnapshotStatus{export.SnapshotCreating}, export.SnapshotAvailable, export.SnapshotUpdate{})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	events := mustListEvents(t, s, export.EventFilter{AccountID: suiteAccount})
	count := map[eventRow]int{}
	for _, r := range eventRows(events) {
		count[r]++
	}
	for i := range n {
		id := fmt.Sprintf("snap%02d", i)
		for _, r := range []eventRow{
			{"RDS-EVENT-0040", "db-snapshot", id, "Creating manual DB snapshot."},
			{"RDS-EVENT-0042", "db-snapshot", id, "Manual DB snapshot has been created."},
		} {
			if count[r] != 1 {
				t.Errorf("%q recorded %d times", r, count[r])
			}
		}
	}
	if len(events) != 2*n {
		t.Errorf("%d events, want %d", len(events), 2*n)
	}
}

// eventsRetention: an account's new event removes its events past
// export.EventRetention, and only those: newer ones and other accounts'
// stay.
func eventsRetention(t *testing.T, s EventfulStore, clock *suiteClock) {
	mustCreateSnapshot(t, s, suiteDBSnapshot(suiteAccount, "old", "db1"))
	mustCreateSnapshot(t, s, suiteDBSnapshot(suiteOtherAccount, "other", "db1"))
	clock.Add(24 * time.Hour)
	mustCreateSnapshot(t, s, suiteDBSnapshot(suiteAccount, "day-later", "db1"))
	clock.Add(export.EventRetention - 23*time.Hour) // "old" is an hour past retention
	mustCreateSnapshot(t, s, suiteDBSnapshot(suiteAccount, "new", "db1"))
	var got []string
	for _, e := range mustListEvents(t, s, export.EventFilter{}) {
		got = append(got, e.SourceIdentifier)
	}
	if want := []string{"other", "day-later", "new"}; !slices.Equal(got, want) {
		t.Fatalf("events of %v, want %v", got, want)
	}
}
