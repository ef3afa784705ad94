package service_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/service"
)

// taskBytes is the text a task carries on the wire.
func taskBytes(t *export.Task) int {
	n := len(t.Identifier) + len(t.SourceArn) + len(t.S3Bucket) + len(t.S3Prefix) + len(t.IamRoleArn) +
		len(t.KmsKeyID) + len(t.FailureCause) + len(t.WarningMessage)
	for _, e := range t.ExportOnly {
		n += len(e)
	}
	return n
}

// exportOnlyOf returns an ExportOnly list of about size bytes.
func exportOnlyOf(size int) []string {
	var out []string
	for i := 0; size > 0; i++ {
		e := fmt.Sprintf("db%d_%s", i, strings.Repeat("x", 990))
		out = append(out, e)
		size -= len(e)
	}
	return out
}

// pageAll reads every page of describe and checks that paging is exact:
// each page within maxRecords, no marker twice, the items in order once.
func pageAll[T any](t *testing.T, describe func(marker *string) ([]T, string), id func(T) string, want []string) [][]T {
	t.Helper()
	var pages [][]T
	var got []string
	seen := map[string]bool{}
	var marker *string
	for {
		items, next := describe(marker)
		pages = append(pages, items)
		for _, it := range items {
			got = append(got, id(it))
		}
		if next == "" {
			break
		}
		if seen[next] || len(pages) > len(want)+1 {
			t.Fatalf("marker %q again after %d pages", next, len(pages))
		}
		seen[next] = true
		marker = &next
	}
	if !slices.Equal(got, want) {
		t.Fatalf("pages give %d items %v, want %d %v", len(got), got, len(want), want)
	}
	return pages
}

func TestService_DescribeExportTasks_PageBytes(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	ctx := callerCtx(t)
	// Tasks as big as StartExportTask lets them be (ExportOnly of 200 KB)
	// and one whose warnings alone exceed a page.
	var want []string
	for i := range 30 {
		id := fmt.Sprintf("big-%02d", i)
		task := &export.Task{Identifier: id, AccountID: testAccount, Region: testRegion,
			SourceArn: fmt.Sprintf("arn:aws:rds:us-east-1:123456789012:snapshot:s%d", i), SourceType: export.SourceTypeSnapshot,
			ExportOnly: exportOnlyOf(service.MaxExportOnlyBytes - 1000), S3Bucket: "bkt", IamRoleArn: testRole, KmsKeyID: "k",
			TaskStartTime: testNow, SnapshotTime: testNow}
		if i%3 == 0 {
			task.ExportOnly = nil
		}
		if err := b.store.CreateTask(ctx, task); err != nil {
			t.Fatal(err)
		}
		if i == 7 {
			warn := `{"skippedTables":[` + strings.Repeat(`{"target":"db.t<&>","reason":"UNSUPPORTED_TABLE_NAME"},`, 40000) + `{}]}`
			failed := "failed"
			if _, err := b.store.Transition(ctx, testAccount, id, []export.Status{export.StatusStarting}, export.StatusFailed,
				export.TaskUpdate{WarningMessage: &warn, FailureCause: &failed}); err != nil {
				t.Fatal(err)
			}
		}
		want = append(want, id)
	}
	pages := pageAll(t, func(marker *string) ([]*export.Task, string) {
		out, err := s.DescribeExportTasks(ctx, service.DescribeExportTasksInput{Marker: marker})
		if err != nil {
			t.Fatal(err)
		}
		return out.ExportTasks, out.Marker
	}, func(task *export.Task) string { return task.Identifier }, want)

	for i, page := range pages {
		n := 0
		for _, task := range page {
			n += taskBytes(task)
		}
		if n > service.DefaultMaxPageBytes && len(page) > 1 {
			t.Errorf("page %d carries %d bytes in %d tasks, over the %d bytes of a page", i, n, len(page), service.DefaultMaxPageBytes)
		}
		if len(page) == 0 {
			t.Errorf("page %d is empty", i)
		}
	}
	if len(pages) < 6 {
		t.Errorf("%d pages for 20 tasks of 200 KB: pages are not cut by size", len(pages))
	}

	// Small tasks still come 100 to a page.
	s2, b2 := setup(t)
	for i := range 150 {
		seedTask(t, b2.store, testAccount, fmt.Sprintf("t%03d", i), fmt.Sprintf("arn:aws:rds:us-east-1:123456789012:snapshot:s%d", i), "bkt", export.SourceTypeSnapshot, export.StatusComplete)
	}
	out, err := s2.DescribeExportTasks(ctx, service.DescribeExportTasksInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.ExportTasks) != 100 || out.Marker == "" {
		t.Fatalf("first page of small tasks: %d tasks, marker %q", len(out.ExportTasks), out.Marker)
	}
}

func TestService_DescribeSnapshots_PageBytes(t *testing.T) {
	t.Parallel()
	const budget = 64 << 10
	s, b := setupWith(t, func(p *service.Params) { p.MaxPageBytes = budget })
	ctx := callerCtx(t)
	// 50 tags of the longest key and value: about 19 KB a snapshot.
	var tags []export.Tag
	for i := range 50 {
		tags = append(tags, export.Tag{Key: fmt.Sprintf("%03d%s", i, strings.Repeat("k", 125)), Value: strings.Repeat("v", 256)})
	}
	for _, kind := range []export.SnapshotKind{export.SnapshotKindDB, export.SnapshotKindCluster} {
		var want []string
		for i := range 25 {
			id := fmt.Sprintf("snap-%02d", i)
			snap := &export.Snapshot{Kind: kind, Identifier: id, AccountID: testAccount, Region: testRegion,
				SourceIdentifier: "pg-main", Engine: "postgres", Status: export.SnapshotAvailable, Type: export.SnapshotTypeManual,
				CreateTime: snapshotTime, Tags: tags}
			if err := b.snapshots.CreateSnapshot(ctx, snap); err != nil {
				t.Fatal(err)
			}
			want = append(want, id)
		}
		describe := func(marker *string) ([]*export.Snapshot, string) {
			if kind == export.SnapshotKindDB {
				out, err := s.DescribeDBSnapshots(ctx, service.DescribeDBSnapshotsInput{Marker: marker})
				if err != nil {
					t.Fatal(err)
				}
				return out.DBSnapshots, out.Marker
			}
			out, err := s.DescribeDBClusterSnapshots(ctx, service.DescribeDBClusterSnapshotsInput{Marker: marker})
			if err != nil {
				t.Fatal(err)
			}
			return out.DBClusterSnapshots, out.Marker
		}
		pages := pageAll(t, describe, func(sn *export.Snapshot) string { return sn.Identifier }, want)
		for i, page := range pages {
			n := 0
			for _, sn := range page {
				for _, tag := range sn.Tags {
					n += len(tag.Key) + len(tag.Value)
				}
			}
			if n > budget {
				t.Errorf("%s page %d carries %d bytes of tags in %d snapshots, over %d", kind, i, n, len(page), budget)
			}
		}
		if len(pages) < 5 {
			t.Errorf("%s: %d pages for 25 snapshots of 19 KB in pages of 64 KB", kind, len(pages))
		}
	}
}
