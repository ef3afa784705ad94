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

// StoreSuite checks that an export.Store keeps the contract documented on
// the interface: creation and its two conflicts, lookups, filtered and
// paged listing, compare-and-set transitions, progress updates and the
// round-trip of every field.
//
// newStore must return a new, empty store each time it is called and arrange
// for it to be closed when the test ends (t.Cleanup). Subtests run in
// parallel, each on its own store.
func StoreSuite(t *testing.T, newStore func(t *testing.T) export.Store) {
	t.Helper()

	run := func(t *testing.T, name string, f func(t *testing.T, s export.Store)) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, newStore(t))
		})
	}

	t.Run("CreateTask", func(t *testing.T) {
		run(t, "OK", storeCreateOK)
		run(t, "SeqIncreases", storeCreateSeqIncreases)
		run(t, "ErrAlreadyExists/SameIdentifier", storeCreateDuplicateIdentifier)
		run(t, "OtherAccountSameIdentifier", storeCreateOtherAccount)
		run(t, "ErrAlreadyExists/ActiveSource", storeCreateActiveSource)
		run(t, "ConcurrentSameIdentifier", storeCreateConcurrentIdentifier)
		run(t, "ConcurrentSameSource", storeCreateConcurrentSource)
		run(t, "ErrAlreadyExists/SourceAlias", storeCreateSourceAlias)
		run(t, "ConcurrentSourceAliases", storeCreateConcurrentSourceAliases)
	})
	t.Run("GetTask", func(t *testing.T) {
		run(t, "ErrNotFound", storeGetNotFound)
	})
	t.Run("ListTasks", func(t *testing.T) {
		run(t, "Order", storeListOrder)
		run(t, "Paging", storeListPaging)
		run(t, "Filters", storeListFilters)
		run(t, "EveryAccount", storeListEveryAccount)
	})
	t.Run("Transition", func(t *testing.T) {
		run(t, "OK", storeTransitionOK)
		run(t, "ErrStatusConflict", storeTransitionConflict)
		run(t, "ErrNotFound", storeTransitionNotFound)
		run(t, "IllegalMove", storeTransitionIllegal)
		run(t, "Concurrent", storeTransitionConcurrent)
	})
	t.Run("UpdateProgress", func(t *testing.T) {
		run(t, "OK", storeUpdateProgressOK)
		run(t, "Terminal", storeUpdateProgressTerminal)
		run(t, "ErrNotFound", storeUpdateProgressNotFound)
	})
	t.Run("RoundTrip", func(t *testing.T) {
		run(t, "ExportOnly", storeRoundTripExportOnly)
		run(t, "Times", storeRoundTripTimes)
		run(t, "Clone", storeRoundTripClone)
	})
}

const (
	suiteAccount      = "123456789012"
	suiteOtherAccount = "210987654321"
)

// suiteStart is a fixed, microsecond-precise acceptance time.
var suiteStart = time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC)

// newSuiteTask returns a task with every creation field set. Times are
// microsecond-precise so that any store can keep them exactly.
func newSuiteTask(account, id, sourceArn string) *export.Task {
	return &export.Task{
		Identifier:    id,
		AccountID:     account,
		Region:        "us-east-1",
		SourceArn:     sourceArn,
		SourceType:    export.SourceTypeSnapshot,
		ExportOnly:    []string{"db.schema.table", "db2"},
		S3Bucket:      "bucket-" + id,
		S3Prefix:      "prefix/" + id,
		IamRoleArn:    "arn:aws:iam::" + account + ":role/export",
		KmsKeyID:      "arn:aws:kms:us-east-1:" + account + ":key/k-" + id,
		SnapshotTime:  suiteStart.Add(-time.Hour),
		TaskStartTime: suiteStart,
	}
}

func snapshotArn(account, name string) string {
	return "arn:aws:rds:us-east-1:" + account + ":snapshot:" + name
}

func mustCreate(t *testing.T, s export.Store, task *export.Task) *export.Task {
	t.Helper()
	if err := s.CreateTask(t.Context(), task); err != nil {
		t.Fatalf("CreateTask(%s/%s): %v", task.AccountID, task.Identifier, err)
	}
	return task
}

func mustGet(t *testing.T, s export.Store, account, id string) *export.Task {
	t.Helper()
	got, err := s.GetTask(t.Context(), account, id)
	if err != nil {
		t.Fatalf("GetTask(%s/%s): %v", account, id, err)
	}
	return got
}

func mustTransition(t *testing.T, s export.Store, task *export.Task, from export.Status, to export.Status, u export.TaskUpdate) *export.Task {
	t.Helper()
	got, err := s.Transition(t.Context(), task.AccountID, task.Identifier, []export.Status{from}, to, u)
	if err != nil {
		t.Fatalf("Transition(%s, %s -> %s): %v", task.Identifier, from, to, err)
	}
	return got
}

// moveTo drives a freshly created task through legal moves to status to.
func moveTo(t *testing.T, s export.Store, task *export.Task, to export.Status) *export.Task {
	t.Helper()
	var path []export.Status
	switch to {
	case export.StatusStarting:
	case export.StatusInProgress:
		path = []export.Status{export.StatusInProgress}
	case export.StatusComplete:
		path = []export.Status{export.StatusInProgress, export.StatusComplete}
	case export.StatusCanceling:
		path = []export.Status{export.StatusCanceling}
	case export.StatusCanceled:
		path = []export.Status{export.StatusCanceling, export.StatusCanceled}
	case export.StatusFailed:
		path = []export.Status{export.StatusFailed}
	default:
		t.Fatalf("moveTo: unknown status %q", to)
	}
	cur := export.StatusStarting
	for _, next := range path {
		var u export.TaskUpdate
		if next.Terminal() {
			end := suiteStart.Add(time.Minute)
			u.TaskEndTime = &end
		}
		task = mustTransition(t, s, task, cur, next, u)
		cur = next
	}
	return task
}

func requireCode(t *testing.T, err error, code string) {
	t.Helper()
	var e *export.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want *export.Error with code %s", err, err, code)
	}
	if e.Code != code {
		t.Fatalf("error code = %s (%v), want %s", e.Code, err, code)
	}
}

// requireTaskEqual compares every field; times must be equal instants and
// in UTC.
func requireTaskEqual(t *testing.T, got, want *export.Task) {
	t.Helper()
	if got == nil {
		t.Fatalf("task is nil, want %s/%s", want.AccountID, want.Identifier)
	}
	var diffs []string
	check := func(name string, ok bool, g, w any) {
		if !ok {
			diffs = append(diffs, fmt.Sprintf("%s = %#v, want %#v", name, g, w))
		}
	}
	check("Identifier", got.Identifier == want.Identifier, got.Identifier, want.Identifier)
	check("AccountID", got.AccountID == want.AccountID, got.AccountID, want.AccountID)
	check("Region", got.Region == want.Region, got.Region, want.Region)
	check("SourceArn", got.SourceArn == want.SourceArn, got.SourceArn, want.SourceArn)
	check("SourceType", got.SourceType == want.SourceType, got.SourceType, want.SourceType)
	check("ExportOnly", slices.Equal(got.ExportOnly, want.ExportOnly) && (got.ExportOnly == nil) == (want.ExportOnly == nil), got.ExportOnly, want.ExportOnly)
	check("S3Bucket", got.S3Bucket == want.S3Bucket, got.S3Bucket, want.S3Bucket)
	check("S3Prefix", got.S3Prefix == want.S3Prefix, got.S3Prefix, want.S3Prefix)
	check("IamRoleArn", got.IamRoleArn == want.IamRoleArn, got.IamRoleArn, want.IamRoleArn)
	check("KmsKeyID", got.KmsKeyID == want.KmsKeyID, got.KmsKeyID, want.KmsKeyID)
	check("Status", got.Status == want.Status, got.Status, want.Status)
	for _, tm := range []struct {
		name      string
		got, want time.Time
	}{
		{"SnapshotTime", got.SnapshotTime, want.SnapshotTime},
		{"TaskStartTime", got.TaskStartTime, want.TaskStartTime},
		{"TaskEndTime", got.TaskEndTime, want.TaskEndTime},
	} {
		check(tm.name, tm.got.Equal(tm.want), tm.got, tm.want)
		if !tm.got.IsZero() {
			check(tm.name+".Location()", tm.got.Location() == time.UTC, tm.got.Location().String(), "UTC")
		}
	}
	check("PercentProgress", got.PercentProgress == want.PercentProgress, got.PercentProgress, want.PercentProgress)
	check("ExtractedBytes", got.ExtractedBytes == want.ExtractedBytes, got.ExtractedBytes, want.ExtractedBytes)
	check("FailureCause", got.FailureCause == want.FailureCause, got.FailureCause, want.FailureCause)
	check("WarningMessage", got.WarningMessage == want.WarningMessage, got.WarningMessage, want.WarningMessage)
	check("Seq", got.Seq == want.Seq, got.Seq, want.Seq)
	if len(diffs) > 0 {
		t.Fatalf("task %s/%s differs:\n  %s", want.AccountID, want.Identifier, strings.Join(diffs, "\n  "))
	}
}

func ids(tasks []*export.Task) []string {
	out := make([]string, len(tasks))
	for i, task := range tasks {
		out[i] = task.AccountID + "/" + task.Identifier
	}
	return out
}

func storeCreateOK(t *testing.T, s export.Store) {
	task := newSuiteTask(suiteAccount, "exp-ok", snapshotArn(suiteAccount, "snap"))
	// Whatever status the caller left in the task, it starts as STARTING.
	task.Status = export.StatusComplete
	mustCreate(t, s, task)
	if task.Seq <= 0 {
		t.Fatalf("Seq = %d, want > 0", task.Seq)
	}
	if task.Status != export.StatusStarting {
		t.Fatalf("Status after create = %s, want STARTING", task.Status)
	}
	requireTaskEqual(t, mustGet(t, s, suiteAccount, "exp-ok"), task)
}

func storeCreateSeqIncreases(t *testing.T, s export.Store) {
	var last int64
	for i := range 6 {
		account := suiteAccount
		if i%2 == 1 {
			account = suiteOtherAccount
		}
		task := mustCreate(t, s, newSuiteTask(account, fmt.Sprintf("exp-%d", i), snapshotArn(account, fmt.Sprintf("s%d", i))))
		if task.Seq <= last {
			t.Fatalf("task %d: Seq = %d, want > %d", i, task.Seq, last)
		}
		last = task.Seq
	}
}

func storeCreateDuplicateIdentifier(t *testing.T, s export.Store) {
	ctx := t.Context()
	first := mustCreate(t, s, newSuiteTask(suiteAccount, "exp-dup", snapshotArn(suiteAccount, "a")))

	// Active, with a different source: the identifier alone conflicts.
	err := s.CreateTask(ctx, newSuiteTask(suiteAccount, "exp-dup", snapshotArn(suiteAccount, "b")))
	requireCode(t, err, export.CodeExportTaskAlreadyExists)

	// Identifiers compare case-sensitively (spec §7.1).
	mustCreate(t, s, newSuiteTask(suiteAccount, "EXP-dup", snapshotArn(suiteAccount, "c")))

	// Terminal statuses do not free the identifier (spec §6.4).
	for i, status := range []export.Status{export.StatusComplete, export.StatusFailed, export.StatusCanceled} {
		id := fmt.Sprintf("exp-term-%d", i)
		task := mustCreate(t, s, newSuiteTask(suiteAccount, id, snapshotArn(suiteAccount, id)))
		moveTo(t, s, task, status)
		err := s.CreateTask(ctx, newSuiteTask(suiteAccount, id, snapshotArn(suiteAccount, id+"-other")))
		requireCode(t, err, export.CodeExportTaskAlreadyExists)
	}

	// The failed creations left the original untouched.
	requireTaskEqual(t, mustGet(t, s, suiteAccount, "exp-dup"), first)
}

func storeCreateOtherAccount(t *testing.T, s export.Store) {
	arn := snapshotArn(suiteAccount, "shared")
	a := mustCreate(t, s, newSuiteTask(suiteAccount, "exp-same", arn))
	b := mustCreate(t, s, newSuiteTask(suiteOtherAccount, "exp-same", arn))
	if a.Seq == b.Seq {
		t.Fatalf("both tasks got Seq %d", a.Seq)
	}
	requireTaskEqual(t, mustGet(t, s, suiteAccount, "exp-same"), a)
	requireTaskEqual(t, mustGet(t, s, suiteOtherAccount, "exp-same"), b)
}

func storeCreateActiveSource(t *testing.T, s export.Store) {
	ctx := t.Context()
	for i, status := range []export.Status{export.StatusStarting, export.StatusInProgress, export.StatusCanceling} {
		arn := snapshotArn(suiteAccount, fmt.Sprintf("active-%d", i))
		first := mustCreate(t, s, newSuiteTask(suiteAccount, fmt.Sprintf("first-%d", i), arn))
		moveTo(t, s, first, status)

		secondID := fmt.Sprintf("second-%d", i)
		err := s.CreateTask(ctx, newSuiteTask(suiteAccount, secondID, arn))
		requireCode(t, err, export.CodeExportTaskAlreadyExists)
		if _, err := s.GetTask(ctx, suiteAccount, secondID); err == nil {
			t.Fatalf("%s: rejected task was stored", status)
		}

		// Another account may export the same source at the same time.
		mustCreate(t, s, newSuiteTask(suiteOtherAccount, secondID, arn))
	}

	for i, status := range []export.Status{export.StatusComplete, export.StatusFailed, export.StatusCanceled} {
		arn := snapshotArn(suiteAccount, fmt.Sprintf("done-%d", i))
		first := mustCreate(t, s, newSuiteTask(suiteAccount, fmt.Sprintf("done-first-%d", i), arn))
		moveTo(t, s, first, status)
		mustCreate(t, s, newSuiteTask(suiteAccount, fmt.Sprintf("done-second-%d", i), arn))
		// The second one is active again, so a third conflicts.
		err := s.CreateTask(ctx, newSuiteTask(suiteAccount, fmt.Sprintf("done-third-%d", i), arn))
		requireCode(t, err, export.CodeExportTaskAlreadyExists)
	}
}

// sourceAliases are ARNs of one cluster of suiteAccount: partition, region
// and the case of the identifier do not make another source (spec §6.5).
func sourceAliases(name string) []string {
	return []string{
		"arn:aws:rds:us-east-1:" + suiteAccount + ":cluster:" + name,
		"arn:aws:rds:eu-west-1:" + suiteAccount + ":cluster:" + name,
		"arn:aws-cn:rds:cn-north-1:" + suiteAccount + ":cluster:" + name,
		"arn:aws:rds:us-east-1:" + suiteAccount + ":cluster:" + strings.ToUpper(name),
	}
}

func storeCreateSourceAlias(t *testing.T, s export.Store) {
	ctx := t.Context()
	aliases := sourceAliases("alias")
	mustCreate(t, s, newSuiteTask(suiteAccount, "alias-first", aliases[0]))
	for i, arn := range aliases {
		id := fmt.Sprintf("alias-%d", i)
		err := s.CreateTask(ctx, newSuiteTask(suiteAccount, id, arn))
		requireCode(t, err, export.CodeExportTaskAlreadyExists)
		if _, err := s.GetTask(ctx, suiteAccount, id); err == nil {
			t.Fatalf("task of %s was stored while the same source is exported", arn)
		}
	}
	// The same identifier in another resource type is another source.
	mustCreate(t, s, newSuiteTask(suiteAccount, "alias-snapshot", snapshotArn(suiteAccount, "alias")))
}

func storeCreateConcurrentSourceAliases(t *testing.T, s export.Store) {
	var tasks []*export.Task
	for i := range 12 {
		aliases := sourceAliases("race-alias")
		tasks = append(tasks, newSuiteTask(suiteAccount, fmt.Sprintf("exp-alias-%d", i), aliases[i%len(aliases)]))
	}
	if wins := createConcurrently(t, s, tasks); wins != 1 {
		t.Fatalf("%d creations succeeded, want 1", wins)
	}
}

// createConcurrently runs CreateTask for every task at once and returns how
// many succeeded; every failure must be ExportTaskAlreadyExists.
func createConcurrently(t *testing.T, s export.Store, tasks []*export.Task) int {
	t.Helper()
	ctx := t.Context()
	start := make(chan struct{})
	errs := make([]error, len(tasks))
	var wg sync.WaitGroup
	for i, task := range tasks {
		wg.Go(func() {
			<-start
			errs[i] = s.CreateTask(ctx, task)
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
		requireCode(t, err, export.CodeExportTaskAlreadyExists)
	}
	return wins
}

func storeCreateConcurrentIdentifier(t *testing.T, s export.Store) {
	var tasks []*export.Task
	for i := range 12 {
		tasks = append(tasks, newSuiteTask(suiteAccount, "exp-race", snapshotArn(suiteAccount, fmt.Sprintf("s%d", i))))
	}
	if wins := createConcurrently(t, s, tasks); wins != 1 {
		t.Fatalf("%d creations succeeded, want 1", wins)
	}
}

func storeCreateConcurrentSource(t *testing.T, s export.Store) {
	arn := snapshotArn(suiteAccount, "race")
	var tasks []*export.Task
	for i := range 12 {
		tasks = append(tasks, newSuiteTask(suiteAccount, fmt.Sprintf("exp-race-%d", i), arn))
	}
	if wins := createConcurrently(t, s, tasks); wins != 1 {
		t.Fatalf("%d creations succeeded, want 1", wins)
	}
	got, err := s.ListTasks(t.Context(), export.TaskFilter{AccountID: suiteAccount})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("ListTasks = %v, want one task", ids(got))
	}
}

func storeGetNotFound(t *testing.T, s export.Store) {
	ctx := t.Context()
	_, err := s.GetTask(ctx, suiteAccount, "missing")
	requireCode(t, err, export.CodeExportTaskNotFound)

	// Tasks of another account are invisible.
	mustCreate(t, s, newSuiteTask(suiteOtherAccount, "theirs", snapshotArn(suiteOtherAccount, "x")))
	_, err = s.GetTask(ctx, suiteAccount, "theirs")
	requireCode(t, err, export.CodeExportTaskNotFound)

	// Lookups are case-sensitive (spec §7.1).
	_, err = s.GetTask(ctx, suiteOtherAccount, "THEIRS")
	requireCode(t, err, export.CodeExportTaskNotFound)
}

func storeListOrder(t *testing.T, s export.Store) {
	// Identifiers deliberately sort differently from creation order.
	names := []string{"m", "b", "z", "a", "k"}
	var want []*export.Task
	for _, n := range names {
		want = append(want, mustCreate(t, s, newSuiteTask(suiteAccount, "exp-"+n, snapshotArn(suiteAccount, n))))
		mustCreate(t, s, newSuiteTask(suiteOtherAccount, "other-"+n, snapshotArn(suiteOtherAccount, n)))
	}
	got, err := s.ListTasks(t.Context(), export.TaskFilter{AccountID: suiteAccount})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("ListTasks = %v, want %v", ids(got), ids(want))
	}
	for i := range want {
		requireTaskEqual(t, got[i], want[i])
	}
}

func storeListPaging(t *testing.T, s export.Store) {
	ctx := t.Context()
	const n, pageSize = 23, 5
	var want []string
	for i := range n {
		task := mustCreate(t, s, newSuiteTask(suiteAccount, fmt.Sprintf("exp-%02d", n-i), snapshotArn(suiteAccount, fmt.Sprint(i))))
		want = append(want, suiteAccount+"/"+task.Identifier)
	}

	all, err := s.ListTasks(ctx, export.TaskFilter{AccountID: suiteAccount})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(all), want) {
		t.Fatalf("Limit 0: got %v, want %v", ids(all), want)
	}

	var got []string
	var after int64
	pages := 0
	for {
		page, err := s.ListTasks(ctx, export.TaskFilter{AccountID: suiteAccount, AfterSeq: after, Limit: pageSize})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > pageSize {
			t.Fatalf("page of %d tasks, limit %d", len(page), pageSize)
		}
		if len(page) == 0 {
			break
		}
		pages++
		for _, task := range page {
			if task.Seq <= after {
				t.Fatalf("Seq %d not after %d", task.Seq, after)
			}
			after = task.Seq
		}
		got = append(got, ids(page)...)
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
	page, err := s.ListTasks(ctx, export.TaskFilter{AccountID: suiteAccount, AfterSeq: all[n-1].Seq})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 0 {
		t.Fatalf("after the last task: got %v", ids(page))
	}
}

func storeListFilters(t *testing.T, s export.Store) {
	snap1 := snapshotArn(suiteAccount, "snap1")
	snap2 := snapshotArn(suiteAccount, "snap2")
	cluster1 := "arn:aws:rds:us-east-1:" + suiteAccount + ":cluster:c1"
	cluster2 := "arn:aws:rds:us-east-1:" + suiteAccount + ":cluster:c2"

	type fixture struct {
		account, id, arn, bucket string
		sourceType               export.SourceType
		status                   export.Status
	}
	// Creation order is the expected list order. exp-1 is finished before
	// exp-3 reuses its source.
	fixtures := []fixture{
		{suiteAccount, "exp-1", snap1, "bucket-a", export.SourceTypeSnapshot, export.StatusComplete},
		{suiteAccount, "exp-2", cluster1, "bucket-b", export.SourceTypeCluster, export.StatusInProgress},
		{suiteOtherAccount, "exp-1", snap1, "bucket-a", export.SourceTypeSnapshot, export.StatusStarting},
		{suiteAccount, "exp-3", snap1, "bucket-b", export.SourceTypeSnapshot, export.StatusStarting},
		{suiteAccount, "exp-4", snap2, "bucket-a", export.SourceTypeSnapshot, export.StatusCanceled},
		{suiteOtherAccount, "exp-9", cluster2, "bucket-b", export.SourceTypeCluster, export.StatusFailed},
		{suiteAccount, "exp-5", cluster2, "bucket-a", export.SourceTypeCluster, export.StatusFailed},
	}
	seq := map[string]int64{}
	for _, f := range fixtures {
		task := newSuiteTask(f.account, f.id, f.arn)
		task.S3Bucket = f.bucket
		task.SourceType = f.sourceType
		mustCreate(t, s, task)
		moveTo(t, s, task, f.status)
		seq[f.account+"/"+f.id] = task.Seq
	}

	cluster := export.SourceTypeCluster
	snapshot := export.SourceTypeSnapshot
	a := func(names ...string) []string {
		out := []string{}
		for _, n := range names {
			out = append(out, suiteAccount+"/"+n)
		}
		return out
	}
	tests := []struct {
		name   string
		filter export.TaskFilter
		want   []string
	}{
		{"None", export.TaskFilter{}, a("exp-1", "exp-2", "exp-3", "exp-4", "exp-5")},
		{"EmptySlices", export.TaskFilter{Identifiers: []string{}, SourceArns: []string{}, Buckets: []string{}, Statuses: []export.Status{}}, a("exp-1", "exp-2", "exp-3", "exp-4", "exp-5")},
		{"Identifiers", export.TaskFilter{Identifiers: []string{"exp-3", "exp-1", "missing", "exp-9"}}, a("exp-1", "exp-3")},
		{"IdentifiersCase", export.TaskFilter{Identifiers: []string{"EXP-1"}}, a()},
		{"SourceArns", export.TaskFilter{SourceArns: []string{snap1}}, a("exp-1", "exp-3")},
		{"SourceArnsMany", export.TaskFilter{SourceArns: []string{cluster2, snap2}}, a("exp-4", "exp-5")},
		{"Buckets", export.TaskFilter{Buckets: []string{"bucket-a"}}, a("exp-1", "exp-4", "exp-5")},
		{"BucketsNone", export.TaskFilter{Buckets: []string{"bucket-z"}}, a()},
		{"Statuses", export.TaskFilter{Statuses: []export.Status{export.StatusStarting, export.StatusInProgress}}, a("exp-2", "exp-3")},
		{"StatusesTerminal", export.TaskFilter{Statuses: []export.Status{export.StatusComplete, export.StatusCanceled, export.StatusFailed}}, a("exp-1", "exp-4", "exp-5")},
		{"StatusesNone", export.TaskFilter{Statuses: []export.Status{export.StatusCanceling}}, a()},
		{"SourceTypeCluster", export.TaskFilter{SourceType: &cluster}, a("exp-2", "exp-5")},
		{"SourceTypeSnapshot", export.TaskFilter{SourceType: &snapshot}, a("exp-1", "exp-3", "exp-4")},
		{"BucketAndSourceType", export.TaskFilter{Buckets: []string{"bucket-a"}, SourceType: &snapshot}, a("exp-1", "exp-4")},
		{"SourceArnsAndStatuses", export.TaskFilter{SourceArns: []string{snap1, snap2}, Statuses: []export.Status{export.StatusCanceled, export.StatusStarting}}, a("exp-3", "exp-4")},
		{"IdentifiersBucketSourceType", export.TaskFilter{Identifiers: []string{"exp-1", "exp-2"}, Buckets: []string{"bucket-b"}, SourceType: &cluster}, a("exp-2")},
		{"AllFields", export.TaskFilter{Identifiers: []string{"exp-5"}, SourceArns: []string{cluster2}, Buckets: []string{"bucket-a"}, Statuses: []export.Status{export.StatusFailed}, SourceType: &cluster}, a("exp-5")},
		{"AllFieldsOneMismatch", export.TaskFilter{Identifiers: []string{"exp-5"}, SourceArns: []string{cluster2}, Buckets: []string{"bucket-b"}, Statuses: []export.Status{export.StatusFailed}, SourceType: &cluster}, a()},
		{"FilterAndPage", export.TaskFilter{Buckets: []string{"bucket-a"}, AfterSeq: seq[suiteAccount+"/exp-1"], Limit: 1}, a("exp-4")},
		{"FilterAndLimit", export.TaskFilter{SourceType: &snapshot, Limit: 2}, a("exp-1", "exp-3")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.filter
			f.AccountID = suiteAccount
			got, err := s.ListTasks(t.Context(), f)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), tt.want) {
				t.Fatalf("got %v, want %v", ids(got), tt.want)
			}
		})
	}

	t.Run("AccountIsolation", func(t *testing.T) {
		ctx := t.Context()
		got, err := s.ListTasks(ctx, export.TaskFilter{AccountID: suiteOtherAccount})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{suiteOtherAccount + "/exp-1", suiteOtherAccount + "/exp-9"}
		if !slices.Equal(ids(got), want) {
			t.Fatalf("got %v, want %v", ids(got), want)
		}
		got, err = s.ListTasks(ctx, export.TaskFilter{AccountID: suiteOtherAccount, SourceArns: []string{snap1}, Identifiers: []string{"exp-1", "exp-3"}})
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{suiteOtherAccount + "/exp-1"}; !slices.Equal(ids(got), want) {
			t.Fatalf("got %v, want %v", ids(got), want)
		}
		got, err = s.ListTasks(ctx, export.TaskFilter{AccountID: "999999999999"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 0 {
			t.Fatalf("unknown account: got %v", ids(got))
		}
	})
}

func storeTransitionOK(t *testing.T, s export.Store) {
	task := mustCreate(t, s, newSuiteTask(suiteAccount, "exp-t", snapshotArn(suiteAccount, "t")))
	want := task.Clone()

	// STARTING -> IN_PROGRESS, recording the point in time of the data.
	snap := time.Date(2024, 1, 2, 3, 5, 0, 999999000, time.UTC)
	pct := 0
	got := mustTransition(t, s, task, export.StatusStarting, export.StatusInProgress, export.TaskUpdate{
		SnapshotTime:    &snap,
		PercentProgress: &pct,
	})
	want.Status = export.StatusInProgress
	want.SnapshotTime = snap
	requireTaskEqual(t, got, want)
	requireTaskEqual(t, mustGet(t, s, suiteAccount, "exp-t"), want)

	// An empty update changes only the status.
	got, err := s.Transition(t.Context(), suiteAccount, "exp-t", []export.Status{export.StatusStarting, export.StatusInProgress}, export.StatusCanceling, export.TaskUpdate{})
	if err != nil {
		t.Fatal(err)
	}
	want.Status = export.StatusCanceling
	requireTaskEqual(t, got, want)

	// CANCELING -> CANCELED with every field at once.
	end := time.Date(2024, 1, 2, 4, 0, 0, 1000, time.UTC)
	pct, extracted := 42, int64(3*export.GiB+17)
	cause, warning := "cause text", `[{"table":"t","warning":"w"}]`
	got = mustTransition(t, s, task, export.StatusCanceling, export.StatusCanceled, export.TaskUpdate{
		PercentProgress: &pct,
		ExtractedBytes:  &extracted,
		FailureCause:    &cause,
		WarningMessage:  &warning,
		TaskEndTime:     &end,
	})
	want.Status = export.StatusCanceled
	want.PercentProgress = pct
	want.ExtractedBytes = extracted
	want.FailureCause = cause
	want.WarningMessage = warning
	want.TaskEndTime = end
	requireTaskEqual(t, got, want)
	requireTaskEqual(t, mustGet(t, s, suiteAccount, "exp-t"), want)
	if got.TotalExtractedDataInGB() != 3 {
		t.Fatalf("TotalExtractedDataInGB = %d, want 3", got.TotalExtractedDataInGB())
	}

	// The failure path: STARTING -> FAILED with cause and end time.
	other := mustCreate(t, s, newSuiteTask(suiteAccount, "exp-f", snapshotArn(suiteAccount, "f")))
	cause = "An unknown internal error occurred."
	got = mustTransition(t, s, other, export.StatusStarting, export.StatusFailed, export.TaskUpdate{FailureCause: &cause, TaskEndTime: &end})
	wantOther := other.Clone()
	wantOther.Status = export.StatusFailed
	wantOther.FailureCause = cause
	wantOther.TaskEndTime = end
	requireTaskEqual(t, got, wantOther)

	// The complete path: IN_PROGRESS -> COMPLETE.
	third := mustCreate(t, s, newSuiteTask(suiteAccount, "exp-c", snapshotArn(suiteAccount, "c")))
	moveTo(t, s, third, export.StatusInProgress)
	pct, extracted = 100, 12345
	got = mustTransition(t, s, third, export.StatusInProgress, export.StatusComplete, export.TaskUpdate{PercentProgress: &pct, ExtractedBytes: &extracted, TaskEndTime: &end})
	wantThird := third.Clone()
	wantThird.Status = export.StatusComplete
	wantThird.PercentProgress = 100
	wantThird.ExtractedBytes = extracted
	wantThird.TaskEndTime = end
	requireTaskEqual(t, got, wantThird)
}

func storeTransitionConflict(t *testing.T, s export.Store) {
	ctx := t.Context()
	task := mustCreate(t, s, newSuiteTask(suiteAccount, "exp-c", snapshotArn(suiteAccount, "c")))
	want := task.Clone()

	pct := 50
	cause := "should not be written"
	end := suiteStart.Add(time.Hour)
	u := export.TaskUpdate{PercentProgress: &pct, FailureCause: &cause, TaskEndTime: &end}

	got, err := s.Transition(ctx, suiteAccount, "exp-c", []export.Status{export.StatusInProgress}, export.StatusComplete, u)
	if !errors.Is(err, export.ErrStatusConflict) {
		t.Fatalf("err = %v, want ErrStatusConflict", err)
	}
	requireTaskEqual(t, got, want)
	requireTaskEqual(t, mustGet(t, s, suiteAccount, "exp-c"), want)

	// From a terminal status nothing moves.
	done := moveTo(t, s, task, export.StatusCanceled)
	got, err = s.Transition(ctx, suiteAccount, "exp-c", []export.Status{export.StatusStarting, export.StatusInProgress}, export.StatusCanceling, u)
	if !errors.Is(err, export.ErrStatusConflict) {
		t.Fatalf("err = %v, want ErrStatusConflict", err)
	}
	requireTaskEqual(t, got, done)
	requireTaskEqual(t, mustGet(t, s, suiteAccount, "exp-c"), done)
}

func storeTransitionNotFound(t *testing.T, s export.Store) {
	ctx := t.Context()
	from := []export.Status{export.StatusStarting}
	got, err := s.Transition(ctx, suiteAccount, "missing", from, export.StatusInProgress, export.TaskUpdate{})
	requireCode(t, err, export.CodeExportTaskNotFound)
	if got != nil {
		t.Fatalf("task = %+v, want nil", got)
	}

	mustCreate(t, s, newSuiteTask(suiteOtherAccount, "theirs", snapshotArn(suiteOtherAccount, "x")))
	_, err = s.Transition(ctx, suiteAccount, "theirs", from, export.StatusInProgress, export.TaskUpdate{})
	requireCode(t, err, export.CodeExportTaskNotFound)
	if got := mustGet(t, s, suiteOtherAccount, "theirs"); got.Status != export.StatusStarting {
		t.Fatalf("other account's task moved to %s", got.Status)
	}
}

// storeTransitionIllegal checks that a store refuses a move the transition
// table does not allow, even when the current status matches from.
func storeTransitionIllegal(t *testing.T, s export.Store) {
	task := mustCreate(t, s, newSuiteTask(suiteAccount, "exp-i", snapshotArn(suiteAccount, "i")))
	want := task.Clone()
	for _, to := range []export.Status{export.StatusComplete, export.StatusCanceled, export.StatusStarting, "BOGUS"} {
		_, err := s.Transition(t.Context(), suiteAccount, "exp-i", []export.Status{export.StatusStarting}, to, export.TaskUpdate{})
		if err == nil {
			t.Fatalf("STARTING -> %s accepted", to)
		}
	}
	requireTaskEqual(t, mustGet(t, s, suiteAccount, "exp-i"), want)
}

func storeTransitionConcurrent(t *testing.T, s export.Store) {
	ctx := t.Context()
	task := mustCreate(t, s, newSuiteTask(suiteAccount, "exp-race", snapshotArn(suiteAccount, "race")))

	targets := []export.Status{export.StatusInProgress, export.StatusCanceling, export.StatusFailed}
	const n = 24
	start := make(chan struct{})
	results := make([]*export.Task, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			pct := i
			results[i], errs[i] = s.Transition(ctx, suiteAccount, task.Identifier,
				[]export.Status{export.StatusStarting}, targets[i%len(targets)], export.TaskUpdate{PercentProgress: &pct})
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
			if results[i] == nil || results[i].Status == export.StatusStarting {
				t.Fatalf("goroutine %d: conflict with current task %+v", i, results[i])
			}
		default:
			t.Fatalf("goroutine %d: %v", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no goroutine won")
	}
	got := mustGet(t, s, suiteAccount, task.Identifier)
	if got.Status != targets[winner%len(targets)] || got.PercentProgress != winner {
		t.Fatalf("final task: status %s progress %d, want %s %d", got.Status, got.PercentProgress, targets[winner%len(targets)], winner)
	}
	requireTaskEqual(t, got, results[winner])
}

func storeUpdateProgressOK(t *testing.T, s export.Store) {
	ctx := t.Context()
	task := mustCreate(t, s, newSuiteTask(suiteAccount, "exp-p", snapshotArn(suiteAccount, "p")))
	want := task.Clone()

	// Progress may be recorded while STARTING, IN_PROGRESS and CANCELING.
	for i, status := range []export.Status{export.StatusStarting, export.StatusInProgress, export.StatusCanceling} {
		if status != want.Status {
			from := []export.Status{want.Status}
			if _, err := s.Transition(ctx, suiteAccount, "exp-p", from, status, export.TaskUpdate{}); err != nil {
				t.Fatal(err)
			}
			want.Status = status
		}
		pct, extracted := 10*(i+1), int64(1000*(i+1))
		warning := fmt.Sprintf("warning %d", i)
		if err := s.UpdateProgress(ctx, suiteAccount, "exp-p", export.TaskUpdate{PercentProgress: &pct, ExtractedBytes: &extracted, WarningMessage: &warning}); err != nil {
			t.Fatalf("%s: %v", status, err)
		}
		want.PercentProgress, want.ExtractedBytes, want.WarningMessage = pct, extracted, warning
		requireTaskEqual(t, mustGet(t, s, suiteAccount, "exp-p"), want)
	}

	// Nil fields stay as they are.
	pct := 77
	if err := s.UpdateProgress(ctx, suiteAccount, "exp-p", export.TaskUpdate{PercentProgress: &pct}); err != nil {
		t.Fatal(err)
	}
	want.PercentProgress = pct
	requireTaskEqual(t, mustGet(t, s, suiteAccount, "exp-p"), want)
}

func storeUpdateProgressTerminal(t *testing.T, s export.Store) {
	for i, status := range []export.Status{export.StatusComplete, export.StatusFailed, export.StatusCanceled} {
		id := fmt.Sprintf("exp-%d", i)
		task := mustCreate(t, s, newSuiteTask(suiteAccount, id, snapshotArn(suiteAccount, id)))
		done := moveTo(t, s, task, status)
		pct, extracted := 99, int64(5)
		if err := s.UpdateProgress(t.Context(), suiteAccount, id, export.TaskUpdate{PercentProgress: &pct, ExtractedBytes: &extracted}); err != nil {
			t.Fatalf("%s: %v", status, err)
		}
		requireTaskEqual(t, mustGet(t, s, suiteAccount, id), done)
	}
}

func storeUpdateProgressNotFound(t *testing.T, s export.Store) {
	pct := 1
	err := s.UpdateProgress(t.Context(), suiteAccount, "missing", export.TaskUpdate{PercentProgress: &pct})
	requireCode(t, err, export.CodeExportTaskNotFound)
}

func storeRoundTripExportOnly(t *testing.T, s export.Store) {
	cases := []struct {
		name  string
		value []string
	}{
		{"nil", nil},
		{"empty", []string{}},
		{"one", []string{"db"}},
		{"many", []string{"db.schema.table", "db2.t", `odd "quoted", name`, "ünïcode"}},
	}
	for _, c := range cases {
		task := newSuiteTask(suiteAccount, "exp-"+c.name, snapshotArn(suiteAccount, c.name))
		task.ExportOnly = c.value
		mustCreate(t, s, task)
		got := mustGet(t, s, suiteAccount, task.Identifier)
		if (got.ExportOnly == nil) != (c.value == nil) || !slices.Equal(got.ExportOnly, c.value) {
			t.Fatalf("%s: ExportOnly = %#v, want %#v", c.name, got.ExportOnly, c.value)
		}
		list, err := s.ListTasks(t.Context(), export.TaskFilter{AccountID: suiteAccount, Identifiers: []string{task.Identifier}})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || (list[0].ExportOnly == nil) != (c.value == nil) || !slices.Equal(list[0].ExportOnly, c.value) {
			t.Fatalf("%s: listed ExportOnly differs: %v", c.name, list)
		}
	}
}

func storeRoundTripTimes(t *testing.T, s export.Store) {
	ctx := t.Context()
	zone := time.FixedZone("UTC+05:30", 5*3600+1800)
	start := time.Date(2024, 2, 29, 23, 59, 59, 654321000, zone)

	task := newSuiteTask(suiteAccount, "exp-time", snapshotArn(suiteAccount, "time"))
	task.TaskStartTime = start
	task.SnapshotTime = time.Time{}
	mustCreate(t, s, task)

	got := mustGet(t, s, suiteAccount, task.Identifier)
	if !got.TaskStartTime.Equal(start) || got.TaskStartTime.Location() != time.UTC {
		t.Fatalf("TaskStartTime = %v, want %v in UTC", got.TaskStartTime, start.UTC())
	}
	if !got.SnapshotTime.IsZero() || !got.TaskEndTime.IsZero() {
		t.Fatalf("zero times came back as %v, %v", got.SnapshotTime, got.TaskEndTime)
	}

	// Sub-microsecond digits may be dropped, nothing coarser.
	end := time.Date(2024, 3, 1, 0, 0, 1, 123456789, zone)
	got, err := s.Transition(ctx, suiteAccount, task.Identifier, []export.Status{export.StatusStarting}, export.StatusFailed, export.TaskUpdate{TaskEndTime: &end, SnapshotTime: &start})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []*export.Task{got, mustGet(t, s, suiteAccount, task.Identifier)} {
		if d := g.TaskEndTime.Sub(end); d < -time.Microsecond || d > time.Microsecond || g.TaskEndTime.Nanosecond()%1000 != 0 || g.TaskEndTime.Location() != time.UTC {
			t.Fatalf("TaskEndTime = %v, want %v at microsecond precision in UTC", g.TaskEndTime, end.UTC())
		}
		if !g.SnapshotTime.Equal(start) || g.SnapshotTime.Location() != time.UTC {
			t.Fatalf("SnapshotTime = %v, want %v in UTC", g.SnapshotTime, start.UTC())
		}
	}
}

func storeRoundTripClone(t *testing.T, s export.Store) {
	ctx := t.Context()
	task := mustCreate(t, s, newSuiteTask(suiteAccount, "exp-clone", snapshotArn(suiteAccount, "clone")))
	want := task.Clone()

	// Mutating the task given to CreateTask does not reach the store.
	task.ExportOnly[0] = "mutated"
	task.S3Bucket = "mutated"

	// Mutating a returned task does not reach the store either.
	got := mustGet(t, s, suiteAccount, "exp-clone")
	got.ExportOnly[1] = "mutated"
	got.Status = export.StatusFailed
	list, err := s.ListTasks(ctx, export.TaskFilter{AccountID: suiteAccount})
	if err != nil {
		t.Fatal(err)
	}
	list[0].ExportOnly[0] = "mutated"
	moved := mustTransition(t, s, want, export.StatusStarting, export.StatusInProgress, export.TaskUpdate{})
	moved.ExportOnly[0] = "mutated"

	want.Status = export.StatusInProgress
	requireTaskEqual(t, mustGet(t, s, suiteAccount, "exp-clone"), want)

	// Task.Clone itself is deep.
	c := want.Clone()
	c.ExportOnly[0] = "changed"
	if want.ExportOnly[0] == "changed" {
		t.Fatal("Clone shares ExportOnly")
	}
	var empty export.Task
	if empty.Clone().ExportOnly != nil {
		t.Fatal("Clone turned nil ExportOnly into non-nil")
	}
	e := export.Task{ExportOnly: []string{}}
	if e.Clone().ExportOnly == nil {
		t.Fatal("Clone turned empty ExportOnly into nil")
	}
}

// storeListEveryAccount: an empty AccountID lists the tasks of all accounts
// in Seq order (the engine's view), still honouring the other filters.
func storeListEveryAccount(t *testing.T, s export.Store) {
	a := mustCreate(t, s, newSuiteTask(suiteAccount, "exp-a", snapshotArn(suiteAccount, "a")))
	b := mustCreate(t, s, newSuiteTask(suiteOtherAccount, "exp-b", snapshotArn(suiteOtherAccount, "b")))
	c := mustCreate(t, s, newSuiteTask(suiteAccount, "exp-c", snapshotArn(suiteAccount, "c")))
	moveTo(t, s, c, export.StatusFailed)
	all, err := s.ListTasks(t.Context(), export.TaskFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || all[0].Seq != a.Seq || all[1].Seq != b.Seq || all[2].Seq != c.Seq {
		t.Fatalf("every account: got %d tasks %v", len(all), all)
	}
	active, err := s.ListTasks(t.Context(), export.TaskFilter{Statuses: export.ActiveStatuses()})
	if err != nil {
		t.Fatal(err)
	}
	if len(active) != 2 || active[0].Identifier != "exp-a" || active[1].Identifier != "exp-b" {
		t.Fatalf("active in every account: %v", active)
	}
}
