package exporttest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rdsexport/rdsexport/internal/export"
)

// SnapshotStoreSuite checks that an export.SnapshotStore keeps the contract
// documented on the interface: creation with its per-account, per-kind
// identifier namespace, creation under a quota that concurrent creations
// cannot overshoot, lookups, filtered and paged listing, compare-and-set
// updates and deletes, and the round-trip of every field.
//
// newStore must return a new, empty store each time it is called and arrange
// for it to be closed when the test ends (t.Cleanup). Subtests run in
// parallel, each on its own store.
func SnapshotStoreSuite(t *testing.T, newStore func(t *testing.T) export.SnapshotStore) {
	t.Helper()

	run := func(t *testing.T, name string, f func(t *testing.T, s export.SnapshotStore)) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, newStore(t))
		})
	}

	t.Run("CreateSnapshot", func(t *testing.T) {
		run(t, "OK", snapCreateOK)
		run(t, "SeqIncreases", snapCreateSeqIncreases)
		run(t, "ErrAlreadyExists", snapCreateDuplicate)
		run(t, "SameIdentifierOtherKind", snapCreateOtherKind)
		run(t, "SameIdentifierOtherAccount", snapCreateOtherAccount)
		run(t, "ConcurrentSameIdentifier", snapCreateConcurrent)
	})
	t.Run("CreateSnapshotWithin", func(t *testing.T) {
		run(t, "OK", snapWithinOK)
		run(t, "QuotaBeforeDuplicate", snapWithinQuotaFirst)
		run(t, "ZeroQuota", snapWithinZero)
		run(t, "Concurrent", snapWithinConcurrent)
	})
	t.Run("GetSnapshot", func(t *testing.T) {
		run(t, "ErrNotFound", snapGetNotFound)
	})
	t.Run("ListSnapshots", func(t *testing.T) {
		run(t, "Order", snapListOrder)
		run(t, "Paging", snapListPaging)
		run(t, "Filters", snapListFilters)
	})
	t.Run("UpdateSnapshot", func(t *testing.T) {
		run(t, "OK", snapUpdateOK)
		run(t, "FromList", snapUpdateFromList)
		run(t, "ErrStatusConflict", snapUpdateConflict)
		run(t, "ErrNotFound", snapUpdateNotFound)
		run(t, "Concurrent", snapUpdateConcurrent)
	})
	t.Run("DeleteSnapshot", func(t *testing.T) {
		run(t, "OK", snapDeleteOK)
		run(t, "ErrStatusConflict", snapDeleteConflict)
		run(t, "ErrNotFound", snapDeleteNotFound)
		run(t, "Concurrent", snapDeleteConcurrent)
	})
	t.Run("RoundTrip", func(t *testing.T) {
		run(t, "Tags", snapRoundTripTags)
		run(t, "Times", snapRoundTripTimes)
		run(t, "Isolation", snapRoundTripIsolation)
	})
}

var snapKinds = []export.SnapshotKind{export.SnapshotKindDB, export.SnapshotKindCluster}

// newSuiteSnapshot returns a creating manual snapshot with every field set.
// Times are microsecond-precise so that any store can keep them exactly.
func newSuiteSnapshot(account string, kind export.SnapshotKind, id, source string) *export.Snapshot {
	engine, port := "postgres", 5432
	if kind == export.SnapshotKindCluster {
		engine = "aurora-postgresql"
	}
	return &export.Snapshot{
		Kind:             kind,
		Identifier:       id,
		AccountID:        account,
		Region:           "us-east-1",
		SourceIdentifier: source,
		Engine:           engine,
		EngineVersion:    "16.3",
		Status:           export.SnapshotCreating,
		PercentProgress:  0,
		Type:             export.SnapshotTypeManual,
		CreateTime:       suiteStart,
		SourceCreateTime: suiteStart.Add(-30 * 24 * time.Hour),
		AllocatedStorage: 20,
		Port:             port,
		MasterUsername:   "postgres",
		Tags:             []export.Tag{{Key: "env", Value: "test"}, {Key: "id", Value: id}},
		SourceResourceID: "db-" + strings.ToUpper(source),
		Location:         "snapshots/" + account + "/" + string(kind) + "/" + id,
		SizeBytes:        12345,
		FailureReason:    "",
	}
}

func cloneSnapshot(s *export.Snapshot) *export.Snapshot {
	c := *s
	if s.Tags != nil {
		c.Tags = slices.Clone(s.Tags)
	}
	return &c
}

func mustCreateSnapshot(t *testing.T, s export.SnapshotStore, snap *export.Snapshot) *export.Snapshot {
	t.Helper()
	if err := s.CreateSnapshot(t.Context(), snap); err != nil {
		t.Fatalf("CreateSnapshot(%s/%s/%s): %v", snap.AccountID, snap.Kind, snap.Identifier, err)
	}
	return snap
}

func mustGetSnapshot(t *testing.T, s export.SnapshotStore, account string, kind export.SnapshotKind, id string) *export.Snapshot {
	t.Helper()
	got, err := s.GetSnapshot(t.Context(), account, kind, id)
	if err != nil {
		t.Fatalf("GetSnapshot(%s/%s/%s): %v", account, kind, id, err)
	}
	return got
}

func mustUpdateSnapshot(t *testing.T, s export.SnapshotStore, snap *export.Snapshot, from []export.SnapshotStatus, to export.SnapshotStatus, u export.SnapshotUpdate) *export.Snapshot {
	t.Helper()
	got, err := s.UpdateSnapshot(t.Context(), snap.AccountID, snap.Kind, snap.Identifier, from, to, u)
	if err != nil {
		t.Fatalf("UpdateSnapshot(%s/%s/%s, %v -> %s): %v", snap.AccountID, snap.Kind, snap.Identifier, from, to, err)
	}
	return got
}

func snapNotFoundCode(kind export.SnapshotKind) string {
	if kind == export.SnapshotKindCluster {
		return export.CodeDBClusterSnapshotNotFound
	}
	return export.CodeDBSnapshotNotFound
}

func snapExistsCode(kind export.SnapshotKind) string {
	if kind == export.SnapshotKindCluster {
		return export.CodeDBClusterSnapshotAlreadyExists
	}
	return export.CodeDBSnapshotAlreadyExists
}

// requireSnapshotEqual compares every field; times must be equal instants
// and in UTC, and Tags must keep nil apart from empty.
func requireSnapshotEqual(t *testing.T, got, want *export.Snapshot) {
	t.Helper()
	if got == nil {
		t.Fatalf("snapshot is nil, want %s/%s/%s", want.AccountID, want.Kind, want.Identifier)
	}
	var diffs []string
	check := func(name string, ok bool, g, w any) {
		if !ok {
			diffs = append(diffs, fmt.Sprintf("%s = %#v, want %#v", name, g, w))
		}
	}
	check("Kind", got.Kind == want.Kind, got.Kind, want.Kind)
	check("Identifier", got.Identifier == want.Identifier, got.Identifier, want.Identifier)
	check("AccountID", got.AccountID == want.AccountID, got.AccountID, want.AccountID)
	check("Region", got.Region == want.Region, got.Region, want.Region)
	check("SourceIdentifier", got.SourceIdentifier == want.SourceIdentifier, got.SourceIdentifier, want.SourceIdentifier)
	check("Engine", got.Engine == want.Engine, got.Engine, want.Engine)
	check("EngineVersion", got.EngineVersion == want.EngineVersion, got.EngineVersion, want.EngineVersion)
	check("Status", got.Status == want.Status, got.Status, want.Status)
	check("PercentProgress", got.PercentProgress == want.PercentProgress, got.PercentProgress, want.PercentProgress)
	check("Type", got.Type == want.Type, got.Type, want.Type)
	for _, tm := range []struct {
		name      string
		got, want time.Time
	}{
		{"CreateTime", got.CreateTime, want.CreateTime},
		{"SourceCreateTime", got.SourceCreateTime, want.SourceCreateTime},
	} {
		check(tm.name, tm.got.Equal(tm.want), tm.got, tm.want)
		if !tm.got.IsZero() {
			check(tm.name+".Location()", tm.got.Location() == time.UTC, tm.got.Location().String(), "UTC")
		}
	}
	check("AllocatedStorage", got.AllocatedStorage == want.AllocatedStorage, got.AllocatedStorage, want.AllocatedStorage)
	check("Port", got.Port == want.Port, got.Port, want.Port)
	check("MasterUsername", got.MasterUsername == want.MasterUsername, got.MasterUsername, want.MasterUsername)
	check("Tags", slices.Equal(got.Tags, want.Tags) && (got.Tags == nil) == (want.Tags == nil), got.Tags, want.Tags)
	check("SourceResourceID", got.SourceResourceID == want.SourceResourceID, got.SourceResourceID, want.SourceResourceID)
	check("Location", got.Location == want.Location, got.Location, want.Location)
	check("SizeBytes", got.SizeBytes == want.SizeBytes, got.SizeBytes, want.SizeBytes)
	check("FailureReason", got.FailureReason == want.FailureReason, got.FailureReason, want.FailureReason)
	check("Seq", got.Seq == want.Seq, got.Seq, want.Seq)
	if len(diffs) > 0 {
		t.Fatalf("snapshot %s/%s/%s differs:\n  %s", want.AccountID, want.Kind, want.Identifier, strings.Join(diffs, "\n  "))
	}
}

// snapIDs names snapshots as account/kind/identifier.
func snapIDs(snaps []*export.Snapshot) []string {
	out := make([]string, len(snaps))
	for i, s := range snaps {
		out[i] = s.AccountID + "/" + string(s.Kind) + "/" + s.Identifier
	}
	return out
}

func snapCreateOK(t *testing.T, s export.SnapshotStore) {
	for _, kind := range snapKinds {
		snap := newSuiteSnapshot(suiteAccount, kind, "snap-ok", "Source-One")
		mustCreateSnapshot(t, s, snap)
		if snap.Seq <= 0 {
			t.Fatalf("%s: Seq = %d, want > 0", kind, snap.Seq)
		}
		requireSnapshotEqual(t, mustGetSnapshot(t, s, suiteAccount, kind, "snap-ok"), snap)
	}

	// The status is stored as given, not forced to creating.
	avail := newSuiteSnapshot(suiteAccount, export.SnapshotKindDB, "rds:src-2024-01-02-03-04", "src")
	avail.Status, avail.PercentProgress, avail.Type = export.SnapshotAvailable, 100, export.SnapshotTypeAutomated
	mustCreateSnapshot(t, s, avail)
	requireSnapshotEqual(t, mustGetSnapshot(t, s, suiteAccount, export.SnapshotKindDB, avail.Identifier), avail)
}

func snapCreateSeqIncreases(t *testing.T, s export.SnapshotStore) {
	var last int64
	for i := range 8 {
		account := suiteAccount
		if i%2 == 1 {
			account = suiteOtherAccount
		}
		kind := snapKinds[(i/2)%2]
		snap := mustCreateSnapshot(t, s, newSuiteSnapshot(account, kind, fmt.Sprintf("snap-%d", i), "src"))
		if snap.Seq <= last {
			t.Fatalf("snapshot %d: Seq = %d, want > %d", i, snap.Seq, last)
		}
		last = snap.Seq
	}
}

func snapCreateDuplicate(t *testing.T, s export.SnapshotStore) {
	ctx := t.Context()
	for _, kind := range snapKinds {
		first := mustCreateSnapshot(t, s, newSuiteSnapshot(suiteAccount, kind, "snap-dup", "a"))

		dup := newSuiteSnapshot(suiteAccount, kind, "snap-dup", "b")
		dup.Seq = -7
		err := s.CreateSnapshot(ctx, dup)
		requireCode(t, err, snapExistsCode(kind))
		if dup.Seq != -7 {
			t.Fatalf("%s: failed creation set Seq to %d", kind, dup.Seq)
		}

		// Whatever the status, the identifier stays taken.
		for i, status := range []export.SnapshotStatus{export.SnapshotAvailable, export.SnapshotFailed} {
			id := fmt.Sprintf("snap-st-%d", i)
			snap := newSuiteSnapshot(suiteAccount, kind, id, "a")
			snap.Status = status
			mustCreateSnapshot(t, s, snap)
			err := s.CreateSnapshot(ctx, newSuiteSnapshot(suiteAccount, kind, id, "c"))
			requireCode(t, err, snapExistsCode(kind))
		}

		// The failed creation left the original untouched.
		requireSnapshotEqual(t, mustGetSnapshot(t, s, suiteAccount, kind, "snap-dup"), first)
	}
}

func snapCreateOtherKind(t *testing.T, s export.SnapshotStore) {
	db := mustCreateSnapshot(t, s, newSuiteSnapshot(suiteAccount, export.SnapshotKindDB, "shared", "inst"))
	cl := mustCreateSnapshot(t, s, newSuiteSnapshot(suiteAccount, export.SnapshotKindCluster, "shared", "clu"))
	if db.Seq == cl.Seq {
		t.Fatalf("both snapshots got Seq %d", db.Seq)
	}
	requireSnapshotEqual(t, mustGetSnapshot(t, s, suiteAccount, export.SnapshotKindDB, "shared"), db)
	requireSnapshotEqual(t, mustGetSnapshot(t, s, suiteAccount, export.SnapshotKindCluster, "shared"), cl)
}

func snapCreateOtherAccount(t *testing.T, s export.SnapshotStore) {
	for _, kind := range snapKinds {
		a := mustCreateSnapshot(t, s, newSuiteSnapshot(suiteAccount, kind, "same", "src"))
		b := mustCreateSnapshot(t, s, newSuiteSnapshot(suiteOtherAccount, kind, "same", "src"))
		if a.Seq == b.Seq {
			t.Fatalf("%s: both snapshots got Seq %d", kind, a.Seq)
		}
		requireSnapshotEqual(t, mustGetSnapshot(t, s, suiteAccount, kind, "same"), a)
		requireSnapshotEqual(t, mustGetSnapshot(t, s, suiteOtherAccount, kind, "same"), b)
	}
}

func snapCreateConcurrent(t *testing.T, s export.SnapshotStore) {
	ctx := t.Context()
	for _, kind := range snapKinds {
		const n = 12
		start := make(chan struct{})
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				errs[i] = s.CreateSnapshot(ctx, newSuiteSnapshot(suiteAccount, kind, "snap-race", fmt.Sprintf("src-%d", i)))
			})
		}
		close(start)
		wg.Wait()
		wins := 0
		for _, err := range errs {
			if err == nil {
				wins++
				continue
			}
			requireCode(t, err, snapExistsCode(kind))
		}
		if wins != 1 {
			t.Fatalf("%s: %d creations succeeded, want 1", kind, wins)
		}
		got, err := s.ListSnapshots(ctx, export.SnapshotFilter{AccountID: suiteAccount, Kind: kind})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 {
			t.Fatalf("%s: ListSnapshots = %v, want one snapshot", kind, snapIDs(got))
		}
	}
}

// snapCountManual returns how many manual snapshots of the kind the
// account keeps.
func snapCountManual(t *testing.T, s export.SnapshotStore, account string, kind export.SnapshotKind) int {
	t.Helper()
	got, err := s.ListSnapshots(t.Context(), export.SnapshotFilter{AccountID: account, Kind: kind, Types: []string{export.SnapshotTypeManual}})
	if err != nil {
		t.Fatal(err)
	}
	return len(got)
}

func snapWithinOK(t *testing.T, s export.SnapshotStore) {
	ctx := t.Context()
	for _, kind := range snapKinds {
		// Snapshots of another account, of the other kind or of another
		// type do not count; those of every status do.
		mustCreateSnapshot(t, s, newSuiteSnapshot(suiteOtherAccount, kind, "theirs-1", "src"))
		mustCreateSnapshot(t, s, newSuiteSnapshot(suiteOtherAccount, kind, "theirs-2", "src"))
		auto := newSuiteSnapshot(suiteAccount, kind, "rds:src-2024-01-02-03-04", "src")
		auto.Type, auto.Status = export.SnapshotTypeAutomated, export.SnapshotAvailable
		mustCreateSnapshot(t, s, auto)
		failed := newSuiteSnapshot(suiteAccount, kind, "failed", "src")
		failed.Status = export.SnapshotFailed
		if err := s.CreateSnapshotWithin(ctx, failed, 3); err != nil {
			t.Fatalf("%s: CreateSnapshotWithin below the quota: %v", kind, err)
		}
		if failed.Seq <= 0 {
			t.Fatalf("%s: Seq = %d, want > 0", kind, failed.Seq)
		}
		requireSnapshotEqual(t, mustGetSnapshot(t, s, suiteAccount, kind, "failed"), failed)
		for _, id := range []string{"second", "third"} {
			if err := s.CreateSnapshotWithin(ctx, newSuiteSnapshot(suiteAccount, kind, id, "src"), 3); err != nil {
				t.Fatalf("%s: CreateSnapshotWithin(%s): %v", kind, id, err)
			}
		}

		over := newSuiteSnapshot(suiteAccount, kind, "fourth", "src")
		over.Seq = -7
		err := s.CreateSnapshotWithin(ctx, over, 3)
		requireCode(t, err, export.CodeSnapshotQuotaExceeded)
		if over.Seq != -7 {
			t.Fatalf("%s: refused creation set Seq to %d", kind, over.Seq)
		}
		_, err = s.GetSnapshot(ctx, suiteAccount, kind, "fourth")
		requireCode(t, err, snapNotFoundCode(kind))
		// A larger quota admits it; below the quota a duplicate is still a
		// duplicate.
		if err := s.CreateSnapshotWithin(ctx, over, 4); err != nil {
			t.Fatalf("%s: CreateSnapshotWithin with a larger quota: %v", kind, err)
		}
		err = s.CreateSnapshotWithin(ctx, newSuiteSnapshot(suiteAccount, kind, "second", "src"), 10)
		requireCode(t, err, snapExistsCode(kind))
		if n := snapCountManual(t, s, suiteAccount, kind); n != 4 {
			t.Fatalf("%s: %d manual snapshots, want 4", kind, n)
		}
	}
}

func snapWithinQuotaFirst(t *testing.T, s export.SnapshotStore) {
	for _, kind := range snapKinds {
		mustCreateSnapshot(t, s, newSuiteSnapshot(suiteAccount, kind, "only", "src"))
		err := s.CreateSnapshotWithin(t.Context(), newSuiteSnapshot(suiteAccount, kind, "only", "src"), 1)
		requireCode(t, err, export.CodeSnapshotQuotaExceeded)
	}
}

func snapWithinZero(t *testing.T, s export.SnapshotStore) {
	for _, kind := range snapKinds {
		err := s.CreateSnapshotWithin(t.Context(), newSuiteSnapshot(suiteAccount, kind, "none", "src"), 0)
		requireCode(t, err, export.CodeSnapshotQuotaExceeded)
		if n := snapCountManual(t, s, suiteAccount, kind); n != 0 {
			t.Fatalf("%s: %d snapshots after a zero quota", kind, n)
		}
	}
}

// snapWithinConcurrent fires many creations at once, of both kinds and two
// accounts: each account and kind ends with exactly its quota, and every
// other call is refused with SnapshotQuotaExceeded.
func snapWithinConcurrent(t *testing.T, s export.SnapshotStore) {
	const (
		quota    = 10
		existing = 3
		calls    = 40 // per account and kind
	)
	type class struct {
		account string
		kind    export.SnapshotKind
	}
	var classes []class
	for _, account := range []string{suiteAccount, suiteOtherAccount} {
		for _, kind := range snapKinds {
			classes = append(classes, class{account, kind})
			for i := range existing {
				mustCreateSnapshot(t, s, newSuiteSnapshot(account, kind, fmt.Sprintf("old-%d", i), "src"))
			}
		}
	}
	start := make(chan struct{})
	errs := make([][]error, len(classes))
	var wg sync.WaitGroup
	for c, cl := range classes {
		errs[c] = make([]error, calls)
		for i := range calls {
			wg.Go(func() {
				<-start
				errs[c][i] = s.CreateSnapshotWithin(t.Context(), newSuiteSnapshot(cl.account, cl.kind, fmt.Sprintf("new-%d", i), "src"), quota)
			})
		}
	}
	close(start)
	wg.Wait()
	for c, cl := range classes {
		ok := 0
		for _, err := range errs[c] {
			if err == nil {
				ok++
				continue
			}
			requireCode(t, err, export.CodeSnapshotQuotaExceeded)
		}
		if ok != quota-existing {
			t.Errorf("%s/%s: %d of %d concurrent creations succeeded, want %d", cl.account, cl.kind, ok, calls, quota-existing)
		}
		if n := snapCountManual(t, s, cl.account, cl.kind); n != quota {
			t.Errorf("%s/%s: %d snapshots kept, want the quota %d", cl.account, cl.kind, n, quota)
		}
	}
}

func snapGetNotFound(t *testing.T, s export.SnapshotStore) {
	ctx := t.Context()
	for _, kind := range snapKinds {
		_, err := s.GetSnapshot(ctx, suiteAccount, kind, "missing")
		requireCode(t, err, snapNotFoundCode(kind))
	}

	// Snapshots of another account or of the other kind are invisible.
	mustCreateSnapshot(t, s, newSuiteSnapshot(suiteOtherAccount, export.SnapshotKindDB, "theirs", "src"))
	_, err := s.GetSnapshot(ctx, suiteAccount, export.SnapshotKindDB, "theirs")
	requireCode(t, err, export.CodeDBSnapshotNotFound)
	_, err = s.GetSnapshot(ctx, suiteOtherAccount, export.SnapshotKindCluster, "theirs")
	requireCode(t, err, export.CodeDBClusterSnapshotNotFound)
}

func snapListOrder(t *testing.T, s export.SnapshotStore) {
	// Identifiers deliberately sort differently from creation order.
	names := []string{"m", "b", "z", "a", "k"}
	var wantDB, wantCluster, wantBoth []*export.Snapshot
	for _, n := range names {
		db := mustCreateSnapshot(t, s, newSuiteSnapshot(suiteAccount, export.SnapshotKindDB, "snap-"+n, "src"))
		mustCreateSnapshot(t, s, newSuiteSnapshot(suiteOtherAccount, export.SnapshotKindDB, "other-"+n, "src"))
		cl := mustCreateSnapshot(t, s, newSuiteSnapshot(suiteAccount, export.SnapshotKindCluster, "csnap-"+n, "src"))
		wantDB = append(wantDB, db)
		wantCluster = append(wantCluster, cl)
		wantBoth = append(wantBoth, db, cl)
	}
	for _, tc := range []struct {
		kind export.SnapshotKind
		want []*export.Snapshot
	}{
		{export.SnapshotKindDB, wantDB},
		{export.SnapshotKindCluster, wantCluster},
		{"", wantBoth},
	} {
		got, err := s.ListSnapshots(t.Context(), export.SnapshotFilter{AccountID: suiteAccount, Kind: tc.kind})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(tc.want) {
			t.Fatalf("kind %q: ListSnapshots = %v, want %v", tc.kind, snapIDs(got), snapIDs(tc.want))
		}
		for i := range tc.want {
			requireSnapshotEqual(t, got[i], tc.want[i])
		}
	}
}

func snapListPaging(t *testing.T, s export.SnapshotStore) {
	ctx := t.Context()
	const n, pageSize = 23, 5
	var want []string
	for i := range n {
		snap := mustCreateSnapshot(t, s, newSuiteSnapshot(suiteAccount, export.SnapshotKindDB, fmt.Sprintf("snap-%02d", n-i), "src"))
		want = append(want, snapIDs([]*export.Snapshot{snap})[0])
		// Noise of the other kind and another account between the pages.
		mustCreateSnapshot(t, s, newSuiteSnapshot(suiteAccount, export.SnapshotKindCluster, fmt.Sprintf("snap-%02d", i), "src"))
		mustCreateSnapshot(t, s, newSuiteSnapshot(suiteOtherAccount, export.SnapshotKindDB, fmt.Sprintf("snap-%02d", i), "src"))
	}
	filter := export.SnapshotFilter{AccountID: suiteAccount, Kind: export.SnapshotKindDB}

	all, err := s.ListSnapshots(ctx, filter)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(snapIDs(all), want) {
		t.Fatalf("Limit 0: got %v, want %v", snapIDs(all), want)
	}

	var got []string
	var after int64
	pages := 0
	for {
		f := filter
		f.AfterSeq, f.Limit = after, pageSize
		page, err := s.ListSnapshots(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > pageSize {
			t.Fatalf("page of %d snapshots, limit %d", len(page), pageSize)
		}
		if len(page) == 0 {
			break
		}
		pages++
		for _, snap := range page {
			if snap.Seq <= after {
				t.Fatalf("Seq %d not after %d", snap.Seq, after)
			}
			after = snap.Seq
		}
		got = append(got, snapIDs(page)...)
		if pages > n {
			t.Fatal("paging does not end")
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged: got %v, want %v", got, want)
	}
	if wantPages := (n + pageSize - 1) / pageSize; pages != wantPages {
		t.Fatalf("%d non-empty pages, want %d", pages, wantPages)
	}

	// AfterSeq past the end gives an empty page.
	f := filter
	f.AfterSeq = all[n-1].Seq
	page, err := s.ListSnapshots(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 0 {
		t.Fatalf("after the last snapshot: got %v", snapIDs(page))
	}
}

func snapListFilters(t *testing.T, s export.SnapshotStore) {
	const (
		db      = export.SnapshotKindDB
		cluster = export.SnapshotKindCluster
	)
	type fixture struct {
		account            string
		kind               export.SnapshotKind
		id, source, engine string
		snapType           string
		status             export.SnapshotStatus
	}
	// Creation order is the expected list order. Source identifiers vary in
	// case, as callers give them.
	fixtures := []fixture{
		{suiteAccount, db, "snap-1", "DB-One", "postgres", export.SnapshotTypeManual, export.SnapshotAvailable},
		{suiteAccount, cluster, "snap-1", "cluster-a", "aurora-postgresql", export.SnapshotTypeManual, export.SnapshotCreating},
		{suiteOtherAccount, db, "snap-1", "db-one", "postgres", export.SnapshotTypeManual, export.SnapshotAvailable},
		{suiteAccount, db, "rds:db-one-2024-01-02-03-04", "db-one", "postgres", export.SnapshotTypeAutomated, export.SnapshotAvailable},
		{suiteAccount, db, "snap-2", "db-two", "mysql", export.SnapshotTypeManual, export.SnapshotCreating},
		{suiteAccount, cluster, "csnap-2", "Cluster-B", "aurora-mysql", export.SnapshotTypeAutomated, export.SnapshotFailed},
		{suiteAccount, db, "snap-3", "db-two", "mysql", export.SnapshotTypeManual, export.SnapshotFailed},
		{suiteOtherAccount, cluster, "csnap-9", "cluster-a", "aurora-postgresql", export.SnapshotTypeManual, export.SnapshotCreating},
	}
	seq := map[string]int64{}
	for _, f := range fixtures {
		snap := newSuiteSnapshot(f.account, f.kind, f.id, f.source)
		snap.Engine, snap.Type, snap.Status = f.engine, f.snapType, f.status
		mustCreateSnapshot(t, s, snap)
		seq[snapIDs([]*export.Snapshot{snap})[0]] = snap.Seq
	}

	// n names snapshots of suiteAccount as kind/identifier; o of the other.
	n := func(names ...string) []string {
		out := []string{}
		for _, name := range names {
			out = append(out, suiteAccount+"/"+name)
		}
		return out
	}
	o := func(name string) string { return suiteOtherAccount + "/" + name }

	tests := []struct {
		name   string
		filter export.SnapshotFilter
		want   []string
	}{
		{"None", export.SnapshotFilter{},
			n("db/snap-1", "cluster/snap-1", "db/rds:db-one-2024-01-02-03-04", "db/snap-2", "cluster/csnap-2", "db/snap-3")},
		{"EmptySlices", export.SnapshotFilter{Identifiers: []string{}, SourceIdentifiers: []string{}, Types: []string{}, Engines: []string{}, Statuses: []export.SnapshotStatus{}},
			n("db/snap-1", "cluster/snap-1", "db/rds:db-one-2024-01-02-03-04", "db/snap-2", "cluster/csnap-2", "db/snap-3")},
		{"KindDB", export.SnapshotFilter{Kind: db},
			n("db/snap-1", "db/rds:db-one-2024-01-02-03-04", "db/snap-2", "db/snap-3")},
		{"KindCluster", export.SnapshotFilter{Kind: cluster}, n("cluster/snap-1", "cluster/csnap-2")},
		{"Identifiers", export.SnapshotFilter{Identifiers: []string{"snap-1"}}, n("db/snap-1", "cluster/snap-1")},
		{"IdentifiersKind", export.SnapshotFilter{Kind: db, Identifiers: []string{"snap-3", "snap-1", "missing", "csnap-2"}}, n("db/snap-1", "db/snap-3")},
		{"IdentifiersAutomated", export.SnapshotFilter{Kind: db, Identifiers: []string{"rds:db-one-2024-01-02-03-04"}}, n("db/rds:db-one-2024-01-02-03-04")},
		{"IdentifiersNone", export.SnapshotFilter{Identifiers: []string{"snap-9"}}, n()},
		{"SourceIdentifiers", export.SnapshotFilter{Kind: db, SourceIdentifiers: []string{"db-one"}}, n("db/snap-1", "db/rds:db-one-2024-01-02-03-04")},
		{"SourceIdentifiersCase", export.SnapshotFilter{SourceIdentifiers: []string{"DB-TWO", "cluster-b"}}, n("db/snap-2", "cluster/csnap-2", "db/snap-3")},
		{"SourceIdentifiersNone", export.SnapshotFilter{SourceIdentifiers: []string{"db-three"}}, n()},
		{"Types", export.SnapshotFilter{Types: []string{export.SnapshotTypeAutomated}}, n("db/rds:db-one-2024-01-02-03-04", "cluster/csnap-2")},
		{"TypesKind", export.SnapshotFilter{Kind: cluster, Types: []string{export.SnapshotTypeManual}}, n("cluster/snap-1")},
		{"TypesNone", export.SnapshotFilter{Types: []string{"shared"}}, n()},
		{"Engines", export.SnapshotFilter{Engines: []string{"mysql", "aurora-mysql"}}, n("db/snap-2", "cluster/csnap-2", "db/snap-3")},
		{"EnginesNone", export.SnapshotFilter{Engines: []string{"mariadb"}}, n()},
		{"Statuses", export.SnapshotFilter{Statuses: []export.SnapshotStatus{export.SnapshotCreating}}, n("cluster/snap-1", "db/snap-2")},
		{"StatusesKind", export.SnapshotFilter{Kind: db, Statuses: []export.SnapshotStatus{export.SnapshotAvailable, export.SnapshotFailed}},
			n("db/snap-1", "db/rds:db-one-2024-01-02-03-04", "db/snap-3")},
		{"StatusesNone", export.SnapshotFilter{Statuses: []export.SnapshotStatus{export.SnapshotDeleted}}, n()},
		{"SourceAndType", export.SnapshotFilter{Kind: db, SourceIdentifiers: []string{"DB-ONE"}, Types: []string{export.SnapshotTypeManual}}, n("db/snap-1")},
		{"EngineAndStatus", export.SnapshotFilter{Engines: []string{"mysql", "aurora-postgresql"}, Statuses: []export.SnapshotStatus{export.SnapshotCreating}}, n("cluster/snap-1", "db/snap-2")},
		{"AllFields", export.SnapshotFilter{
			Kind: db, Identifiers: []string{"snap-3", "snap-2"}, SourceIdentifiers: []string{"DB-Two"},
			Types: []string{export.SnapshotTypeManual}, Engines: []string{"mysql"}, Statuses: []export.SnapshotStatus{export.SnapshotFailed},
		}, n("db/snap-3")},
		{"AllFieldsOneMismatch", export.SnapshotFilter{
			Kind: db, Identifiers: []string{"snap-3", "snap-2"}, SourceIdentifiers: []string{"DB-Two"},
			Types: []string{export.SnapshotTypeAutomated}, Engines: []string{"mysql"}, Statuses: []export.SnapshotStatus{export.SnapshotFailed},
		}, n()},
		{"FilterAndPage", export.SnapshotFilter{Kind: db, AfterSeq: seq[suiteAccount+"/db/snap-1"], Limit: 2},
			n("db/rds:db-one-2024-01-02-03-04", "db/snap-2")},
		{"FilterAndLimit", export.SnapshotFilter{Statuses: []export.SnapshotStatus{export.SnapshotAvailable}, Limit: 1}, n("db/snap-1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.filter
			f.AccountID = suiteAccount
			got, err := s.ListSnapshots(t.Context(), f)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(snapIDs(got), tt.want) {
				t.Fatalf("got %v, want %v", snapIDs(got), tt.want)
			}
		})
	}

	// An empty AccountID lists every account (start-up recovery's view),
	// still honouring the other filters.
	every := []struct {
		name   string
		filter export.SnapshotFilter
		want   []string
	}{
		{"EveryAccount", export.SnapshotFilter{}, []string{
			n("db/snap-1")[0], n("cluster/snap-1")[0], o("db/snap-1"), n("db/rds:db-one-2024-01-02-03-04")[0],
			n("db/snap-2")[0], n("cluster/csnap-2")[0], n("db/snap-3")[0], o("cluster/csnap-9"),
		}},
		{"EveryAccountCreating", export.SnapshotFilter{Statuses: []export.SnapshotStatus{export.SnapshotCreating}},
			[]string{n("cluster/snap-1")[0], n("db/snap-2")[0], o("cluster/csnap-9")}},
		{"EveryAccountKind", export.SnapshotFilter{Kind: cluster},
			[]string{n("cluster/snap-1")[0], n("cluster/csnap-2")[0], o("cluster/csnap-9")}},
		{"EveryAccountIdentifiers", export.SnapshotFilter{Kind: db, Identifiers: []string{"snap-1"}},
			[]string{n("db/snap-1")[0], o("db/snap-1")}},
		{"EveryAccountSource", export.SnapshotFilter{SourceIdentifiers: []string{"CLUSTER-A"}},
			[]string{n("cluster/snap-1")[0], o("cluster/csnap-9")}},
		{"EveryAccountPage", export.SnapshotFilter{AfterSeq: seq[suiteAccount+"/cluster/snap-1"], Limit: 2},
			[]string{o("db/snap-1"), n("db/rds:db-one-2024-01-02-03-04")[0]}},
		{"OtherAccount", export.SnapshotFilter{AccountID: suiteOtherAccount},
			[]string{o("db/snap-1"), o("cluster/csnap-9")}},
		{"UnknownAccount", export.SnapshotFilter{AccountID: "999999999999"}, []string{}},
	}
	for _, tt := range every {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListSnapshots(t.Context(), tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(snapIDs(got), tt.want) {
				t.Fatalf("got %v, want %v", snapIDs(got), tt.want)
			}
		})
	}
}

func snapUpdateOK(t *testing.T, s export.SnapshotStore) {
	for _, kind := range snapKinds {
		snap := newSuiteSnapshot(suiteAccount, kind, "snap-u", "src")
		snap.CreateTime, snap.Location, snap.SizeBytes = time.Time{}, "", 0
		mustCreateSnapshot(t, s, snap)
		want := cloneSnapshot(snap)
		creating := []export.SnapshotStatus{export.SnapshotCreating}

		// The copy begins: same status, the moment of the data recorded.
		taken := time.Date(2024, 1, 2, 3, 5, 0, 999999000, time.UTC)
		pct := 0
		got := mustUpdateSnapshot(t, s, snap, creating, export.SnapshotCreating, export.SnapshotUpdate{CreateTime: &taken, PercentProgress: &pct})
		want.CreateTime = taken
		requireSnapshotEqual(t, got, want)

		// Progress while creating; nil fields stay as they are.
		for _, p := range []int{10, 55, 90} {
			pct := p
			got = mustUpdateSnapshot(t, s, snap, creating, export.SnapshotCreating, export.SnapshotUpdate{PercentProgress: &pct})
			want.PercentProgress = p
			requireSnapshotEqual(t, got, want)
			requireSnapshotEqual(t, mustGetSnapshot(t, s, suiteAccount, kind, "snap-u"), want)
		}

		// creating -> available with every field at once.
		pct = 100
		loc, size, version, reason := "store/"+string(kind)+"/snap-u", int64(3<<30+17), "16.4", "none"
		got = mustUpdateSnapshot(t, s, snap, creating, export.SnapshotAvailable, export.SnapshotUpdate{
			PercentProgress: &pct,
			CreateTime:      &taken,
			Location:        &loc,
			SizeBytes:       &size,
			FailureReason:   &reason,
			EngineVersion:   &version,
		})
		want.Status, want.PercentProgress, want.Location, want.SizeBytes, want.FailureReason, want.EngineVersion =
			export.SnapshotAvailable, 100, loc, size, reason, version
		requireSnapshotEqual(t, got, want)
		requireSnapshotEqual(t, mustGetSnapshot(t, s, suiteAccount, kind, "snap-u"), want)

		// An empty update changes only the status.
		got = mustUpdateSnapshot(t, s, snap, []export.SnapshotStatus{export.SnapshotAvailable}, export.SnapshotFailed, export.SnapshotUpdate{})
		want.Status = export.SnapshotFailed
		requireSnapshotEqual(t, got, want)
		requireSnapshotEqual(t, mustGetSnapshot(t, s, suiteAccount, kind, "snap-u"), want)
	}
}

func snapUpdateFromList(t *testing.T, s export.SnapshotStore) {
	from := []export.SnapshotStatus{export.SnapshotCreating, export.SnapshotAvailable}
	for i, status := range from {
		snap := newSuiteSnapshot(suiteAccount, export.SnapshotKindDB, fmt.Sprintf("snap-%d", i), "src")
		snap.Status = status
		mustCreateSnapshot(t, s, snap)
		reason := "storage lost"
		got := mustUpdateSnapshot(t, s, snap, from, export.SnapshotFailed, export.SnapshotUpdate{FailureReason: &reason})
		want := cloneSnapshot(snap)
		want.Status, want.FailureReason = export.SnapshotFailed, reason
		requireSnapshotEqual(t, got, want)
	}
}

func snapUpdateConflict(t *testing.T, s export.SnapshotStore) {
	ctx := t.Context()
	for _, kind := range snapKinds {
		snap := mustCreateSnapshot(t, s, newSuiteSnapshot(suiteAccount, kind, "snap-c", "src"))
		want := cloneSnapshot(snap)

		pct, loc, reason := 50, "should/not/be/written", "should not be written"
		u := export.SnapshotUpdate{PercentProgress: &pct, Location: &loc, FailureReason: &reason}
		for _, from := range [][]export.SnapshotStatus{
			{export.SnapshotAvailable},
		} {
			got, err := s.UpdateSnapshot(ctx, suiteAccount, kind, "snap-c", from, export.SnapshotFailed, u)
			if !errors.Is(err, export.ErrStatusConflict) {
				t.Fatalf("%s from %v: err = %v, want ErrStatusConflict", kind, from, err)
			}
			requireSnapshotEqual(t, got, want)
			requireSnapshotEqual(t, mustGetSnapshot(t, s, suiteAccount, kind, "snap-c"), want)
		}

		// An illegal move (export.CanTransitionSnapshot) is refused
		// whatever the status, and touches nothing.
		for _, move := range [][2]export.SnapshotStatus{
			{export.SnapshotAvailable, export.SnapshotCreating},
			{export.SnapshotCreating, export.SnapshotDeleted},
			{export.SnapshotFailed, export.SnapshotAvailable},
		} {
			got, err := s.UpdateSnapshot(ctx, suiteAccount, kind, "snap-c", []export.SnapshotStatus{move[0]}, move[1], u)
			if err == nil || errors.Is(err, export.ErrStatusConflict) || got != nil {
				t.Fatalf("%s %s -> %s: got %v, err = %v, want a plain error", kind, move[0], move[1], got, err)
			}
			requireSnapshotEqual(t, mustGetSnapshot(t, s, suiteAccount, kind, "snap-c"), want)
		}

		// A same-status progress update conflicts too once the status moved.
		failed := mustUpdateSnapshot(t, s, snap, []export.SnapshotStatus{export.SnapshotCreating}, export.SnapshotFailed, export.SnapshotUpdate{})
		got, err := s.UpdateSnapshot(ctx, suiteAccount, kind, "snap-c", []export.SnapshotStatus{export.SnapshotCreating}, export.SnapshotCreating, u)
		if !errors.Is(err, export.ErrStatusConflict) {
			t.Fatalf("%s progress after failure: err = %v, want ErrStatusConflict", kind, err)
		}
		requireSnapshotEqual(t, got, failed)
		requireSnapshotEqual(t, mustGetSnapshot(t, s, suiteAccount, kind, "snap-c"), failed)
	}
}

func snapUpdateNotFound(t *testing.T, s export.SnapshotStore) {
	ctx := t.Context()
	creating := []export.SnapshotStatus{export.SnapshotCreating}
	for _, kind := range snapKinds {
		got, err := s.UpdateSnapshot(ctx, suiteAccount, kind, "missing", creating, export.SnapshotAvailable, export.SnapshotUpdate{})
		requireCode(t, err, snapNotFoundCode(kind))
		if got != nil {
			t.Fatalf("%s: snapshot = %+v, want nil", kind, got)
		}
	}

	// Neither another account's snapshot nor one of the other kind moves.
	theirs := mustCreateSnapshot(t, s, newSuiteSnapshot(suiteOtherAccount, export.SnapshotKindDB, "theirs", "src"))
	_, err := s.UpdateSnapshot(ctx, suiteAccount, export.SnapshotKindDB, "theirs", creating, export.SnapshotAvailable, export.SnapshotUpdate{})
	requireCode(t, err, export.CodeDBSnapshotNotFound)
	_, err = s.UpdateSnapshot(ctx, suiteOtherAccount, export.SnapshotKindCluster, "theirs", creating, export.SnapshotAvailable, export.SnapshotUpdate{})
	requireCode(t, err, export.CodeDBClusterSnapshotNotFound)
	requireSnapshotEqual(t, mustGetSnapshot(t, s, suiteOtherAccount, export.SnapshotKindDB, "theirs"), theirs)
}

func snapUpdateConcurrent(t *testing.T, s export.SnapshotStore) {
	ctx := t.Context()
	snap := mustCreateSnapshot(t, s, newSuiteSnapshot(suiteAccount, export.SnapshotKindCluster, "snap-race", "src"))

	targets := []export.SnapshotStatus{export.SnapshotAvailable, export.SnapshotFailed}
	const n = 24
	start := make(chan struct{})
	results := make([]*export.Snapshot, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			pct := i
			results[i], errs[i] = s.UpdateSnapshot(ctx, suiteAccount, snap.Kind, snap.Identifier,
				[]export.SnapshotStatus{export.SnapshotCreating}, targets[i%len(targets)], export.SnapshotUpdate{PercentProgress: &pct})
		})
	}
	close(start)
	wg.Wait()

	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("goroutines %d and %d both won", winner, i)
			}
			winner = i
		case errors.Is(err, export.ErrStatusConflict):
			if results[i] == nil || results[i].Status == export.SnapshotCreating {
				t.Fatalf("goroutine %d: conflict with current snapshot %+v", i, results[i])
			}
		default:
			t.Fatalf("goroutine %d: %v", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no goroutine won")
	}
	got := mustGetSnapshot(t, s, suiteAccount, snap.Kind, snap.Identifier)
	if got.Status != targets[winner%len(targets)] || got.PercentProgress != winner {
		t.Fatalf("final snapshot: status %s progress %d, want %s %d", got.Status, got.PercentProgress, targets[winner%len(targets)], winner)
	}
	requireSnapshotEqual(t, got, results[winner])
}

func snapDeleteOK(t *testing.T, s export.SnapshotStore) {
	ctx := t.Context()
	for _, kind := range snapKinds {
		snap := newSuiteSnapshot(suiteAccount, kind, "snap-d", "src")
		snap.Status, snap.PercentProgress = export.SnapshotAvailable, 100
		mustCreateSnapshot(t, s, snap)
		// A snapshot of the same identifier elsewhere is left alone.
		other := mustCreateSnapshot(t, s, newSuiteSnapshot(suiteOtherAccount, kind, "snap-d", "src"))

		got, err := s.DeleteSnapshot(ctx, suiteAccount, kind, "snap-d", []export.SnapshotStatus{export.SnapshotAvailable, export.SnapshotFailed})
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		// The record as it was: its last status, not deleted (spec §4.6).
		requireSnapshotEqual(t, got, snap)

		_, err = s.GetSnapshot(ctx, suiteAccount, kind, "snap-d")
		requireCode(t, err, snapNotFoundCode(kind))
		list, err := s.ListSnapshots(ctx, export.SnapshotFilter{AccountID: suiteAccount, Kind: kind})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 0 {
			t.Fatalf("%s: listed after delete: %v", kind, snapIDs(list))
		}
		requireSnapshotEqual(t, mustGetSnapshot(t, s, suiteOtherAccount, kind, "snap-d"), other)

		// The identifier is free again, under a new Seq.
		again := mustCreateSnapshot(t, s, newSuiteSnapshot(suiteAccount, kind, "snap-d", "src"))
		if again.Seq <= other.Seq {
			t.Fatalf("%s: Seq after re-creation = %d, want > %d", kind, again.Seq, other.Seq)
		}
	}
}

func snapDeleteConflict(t *testing.T, s export.SnapshotStore) {
	ctx := t.Context()
	for _, kind := range snapKinds {
		snap := mustCreateSnapshot(t, s, newSuiteSnapshot(suiteAccount, kind, "snap-c", "src"))
		got, err := s.DeleteSnapshot(ctx, suiteAccount, kind, "snap-c", []export.SnapshotStatus{export.SnapshotAvailable, export.SnapshotFailed})
		if !errors.Is(err, export.ErrStatusConflict) {
			t.Fatalf("%s: err = %v, want ErrStatusConflict", kind, err)
		}
		requireSnapshotEqual(t, got, snap)
		requireSnapshotEqual(t, mustGetSnapshot(t, s, suiteAccount, kind, "snap-c"), snap)
	}
}

func snapDeleteNotFound(t *testing.T, s export.SnapshotStore) {
	ctx := t.Context()
	from := []export.SnapshotStatus{export.SnapshotAvailable}
	for _, kind := range snapKinds {
		got, err := s.DeleteSnapshot(ctx, suiteAccount, kind, "missing", from)
		requireCode(t, err, snapNotFoundCode(kind))
		if got != nil {
			t.Fatalf("%s: snapshot = %+v, want nil", kind, got)
		}
	}

	theirs := newSuiteSnapshot(suiteOtherAccount, export.SnapshotKindCluster, "theirs", "src")
	theirs.Status = export.SnapshotAvailable
	mustCreateSnapshot(t, s, theirs)
	_, err := s.DeleteSnapshot(ctx, suiteAccount, export.SnapshotKindCluster, "theirs", from)
	requireCode(t, err, export.CodeDBClusterSnapshotNotFound)
	_, err = s.DeleteSnapshot(ctx, suiteOtherAccount, export.SnapshotKindDB, "theirs", from)
	requireCode(t, err, export.CodeDBSnapshotNotFound)
	requireSnapshotEqual(t, mustGetSnapshot(t, s, suiteOtherAccount, export.SnapshotKindCluster, "theirs"), theirs)
}

func snapDeleteConcurrent(t *testing.T, s export.SnapshotStore) {
	ctx := t.Context()
	snap := newSuiteSnapshot(suiteAccount, export.SnapshotKindDB, "snap-race", "src")
	snap.Status = export.SnapshotAvailable
	mustCreateSnapshot(t, s, snap)

	const n = 12
	start := make(chan struct{})
	results := make([]*export.Snapshot, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			results[i], errs[i] = s.DeleteSnapshot(ctx, suiteAccount, snap.Kind, snap.Identifier, []export.SnapshotStatus{export.SnapshotAvailable})
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	for i, err := range errs {
		if err == nil {
			wins++
			requireSnapshotEqual(t, results[i], snap)
			continue
		}
		// The losers find it gone.
		requireCode(t, err, export.CodeDBSnapshotNotFound)
	}
	if wins != 1 {
		t.Fatalf("%d deletions succeeded, want 1", wins)
	}
}

func snapRoundTripTags(t *testing.T, s export.SnapshotStore) {
	cases := []struct {
		name  string
		value []export.Tag
	}{
		{"nil", nil},
		{"empty", []export.Tag{}},
		{"one", []export.Tag{{Key: "k", Value: "v"}}},
		{"many", []export.Tag{{Key: "b", Value: ""}, {Key: "a", Value: `odd "quoted", value`}, {Key: "ünïcode", Value: "ключ"}, {Key: "b", Value: "dup key kept"}}},
	}
	for _, kind := range snapKinds {
		for _, c := range cases {
			snap := newSuiteSnapshot(suiteAccount, kind, "snap-"+c.name, "src")
			snap.Tags = c.value
			mustCreateSnapshot(t, s, snap)
			got := mustGetSnapshot(t, s, suiteAccount, kind, snap.Identifier)
			if (got.Tags == nil) != (c.value == nil) || !slices.Equal(got.Tags, c.value) {
				t.Fatalf("%s %s: Tags = %#v, want %#v", kind, c.name, got.Tags, c.value)
			}
			list, err := s.ListSnapshots(t.Context(), export.SnapshotFilter{AccountID: suiteAccount, Kind: kind, Identifiers: []string{snap.Identifier}})
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 1 || (list[0].Tags == nil) != (c.value == nil) || !slices.Equal(list[0].Tags, c.value) {
				t.Fatalf("%s %s: listed Tags differ: %v", kind, c.name, list)
			}
			pct := 5
			moved := mustUpdateSnapshot(t, s, snap, []export.SnapshotStatus{export.SnapshotCreating}, export.SnapshotCreating, export.SnapshotUpdate{PercentProgress: &pct})
			if (moved.Tags == nil) != (c.value == nil) || !slices.Equal(moved.Tags, c.value) {
				t.Fatalf("%s %s: updated Tags = %#v, want %#v", kind, c.name, moved.Tags, c.value)
			}
		}
	}
}

func snapRoundTripTimes(t *testing.T, s export.SnapshotStore) {
	ctx := t.Context()
	zone := time.FixedZone("UTC+05:30", 5*3600+1800)
	sourceCreated := time.Date(2024, 2, 29, 23, 59, 59, 654321000, zone)

	snap := newSuiteSnapshot(suiteAccount, export.SnapshotKindDB, "snap-time", "src")
	snap.SourceCreateTime = sourceCreated
	snap.CreateTime = time.Time{}
	mustCreateSnapshot(t, s, snap)

	got := mustGetSnapshot(t, s, suiteAccount, export.SnapshotKindDB, snap.Identifier)
	if !got.SourceCreateTime.Equal(sourceCreated) || got.SourceCreateTime.Location() != time.UTC {
		t.Fatalf("SourceCreateTime = %v, want %v in UTC", got.SourceCreateTime, sourceCreated.UTC())
	}
	if !got.CreateTime.IsZero() {
		t.Fatalf("zero CreateTime came back as %v", got.CreateTime)
	}

	// Sub-microsecond digits may be dropped, nothing coarser.
	taken := time.Date(2024, 3, 1, 0, 0, 1, 123456789, zone)
	moved, err := s.UpdateSnapshot(ctx, suiteAccount, export.SnapshotKindDB, snap.Identifier, []export.SnapshotStatus{export.SnapshotCreating}, export.SnapshotCreating, export.SnapshotUpdate{CreateTime: &taken})
	if err != nil {
		t.Fatal(err)
	}
	list, err := s.ListSnapshots(ctx, export.SnapshotFilter{AccountID: suiteAccount})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Fatalf("ListSnapshots = %v", snapIDs(list))
	}
	for _, g := range []*export.Snapshot{moved, mustGetSnapshot(t, s, suiteAccount, export.SnapshotKindDB, snap.Identifier), list[0]} {
		if d := g.CreateTime.Sub(taken); d < -time.Microsecond || d > time.Microsecond || g.CreateTime.Nanosecond()%1000 != 0 || g.CreateTime.Location() != time.UTC {
			t.Fatalf("CreateTime = %v, want %v at microsecond precision in UTC", g.CreateTime, taken.UTC())
		}
		if !g.SourceCreateTime.Equal(sourceCreated) || g.SourceCreateTime.Location() != time.UTC {
			t.Fatalf("SourceCreateTime = %v, want %v in UTC", g.SourceCreateTime, sourceCreated.UTC())
		}
	}

	// Setting a zero time through an update clears it.
	var zero time.Time
	moved, err = s.UpdateSnapshot(ctx, suiteAccount, export.SnapshotKindDB, snap.Identifier, []export.SnapshotStatus{export.SnapshotCreating}, export.SnapshotFailed, export.SnapshotUpdate{CreateTime: &zero})
	if err != nil {
		t.Fatal(err)
	}
	if !moved.CreateTime.IsZero() {
		t.Fatalf("CreateTime after clearing = %v, want zero", moved.CreateTime)
	}
}

// snapRoundTripIsolation checks that the store keeps its own copy: changing
// a snapshot given to or returned by the store does not change the record.
func snapRoundTripIsolation(t *testing.T, s export.SnapshotStore) {
	ctx := t.Context()
	snap := mustCreateSnapshot(t, s, newSuiteSnapshot(suiteAccount, export.SnapshotKindDB, "snap-iso", "src"))
	want := cloneSnapshot(snap)

	snap.Tags[0].Value = "mutated"
	snap.Location = "mutated"

	got := mustGetSnapshot(t, s, suiteAccount, export.SnapshotKindDB, "snap-iso")
	got.Tags[1].Value = "mutated"
	got.Status = export.SnapshotFailed
	list, err := s.ListSnapshots(ctx, export.SnapshotFilter{AccountID: suiteAccount})
	if err != nil {
		t.Fatal(err)
	}
	list[0].Tags[0].Key = "mutated"
	moved := mustUpdateSnapshot(t, s, want, []export.SnapshotStatus{export.SnapshotCreating}, export.SnapshotAvailable, export.SnapshotUpdate{})
	moved.Tags[0].Key = "mutated"

	want.Status = export.SnapshotAvailable
	requireSnapshotEqual(t, mustGetSnapshot(t, s, suiteAccount, export.SnapshotKindDB, "snap-iso"), want)
}
