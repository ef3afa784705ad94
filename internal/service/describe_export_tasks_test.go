package service_test

import (
	"encoding/base64"
	"fmt"
	"slices"
	"testing"

	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/service"
)

// seedMix creates one task per status over two buckets, two sources per
// type, plus a task of another account.
func seedMix(t *testing.T, store export.Store) {
	t.Helper()
	snap := "arn:aws:rds:us-east-1:123456789012:snapshot:s1"
	// Terminal tasks first: a source may have only one active task.
	seedTask(t, store, testAccount, "t-complete", clusterARN("pg-main"), "other-bkt", export.SourceTypeCluster, export.StatusComplete)
	seedTask(t, store, testAccount, "t-starting", clusterARN("pg-main"), "bkt", export.SourceTypeCluster, export.StatusStarting)
	seedTask(t, store, testAccount, "t-canceled", snap, "other-bkt", export.SourceTypeSnapshot, export.StatusCanceled)
	seedTask(t, store, testAccount, "t-progress", snap, "bkt", export.SourceTypeSnapshot, export.StatusInProgress)
	seedTask(t, store, testAccount, "t-failed", clusterARN("maria"), "other-bkt", export.SourceTypeCluster, export.StatusFailed)
	seedTask(t, store, testAccount, "t-canceling", clusterARN("maria"), "bkt", export.SourceTypeCluster, export.StatusCanceling)
	seedTask(t, store, "210987654321", "t-foreign", clusterARN("pg-main"), "bkt", export.SourceTypeCluster, export.StatusComplete)
}

// seedOrder is the acceptance order of seedMix.
var seedOrder = []string{"t-complete", "t-starting", "t-canceled", "t-progress", "t-failed", "t-canceling"}

func ids(tasks []*export.Task) []string {
	out := []string{}
	for _, t := range tasks {
		out = append(out, t.Identifier)
	}
	return out
}

func TestService_DescribeExportTasks(t *testing.T) {
	t.Parallel()
	f := func(name string, values ...string) service.Filter { return service.Filter{Name: name, Values: values} }
	snap := "arn:aws:rds:us-east-1:123456789012:snapshot:s1"

	cases := []struct {
		name string
		in   service.DescribeExportTasksInput
		want []string
	}{
		{"All", service.DescribeExportTasksInput{},
			[]string{"t-starting", "t-progress", "t-complete", "t-canceling", "t-canceled", "t-failed"}},
		{"Identifier", service.DescribeExportTasksInput{ExportTaskIdentifier: ptr("t-failed")}, []string{"t-failed"}},
		{"IdentifierUnknown", service.DescribeExportTasksInput{ExportTaskIdentifier: ptr("nope")}, []string{}},
		{"IdentifierCaseSensitive", service.DescribeExportTasksInput{ExportTaskIdentifier: ptr("T-FAILED")}, []string{}},
		{"IdentifierOfOtherAccount", service.DescribeExportTasksInput{ExportTaskIdentifier: ptr("t-foreign")}, []string{}},
		{"IdentifierEmptyIsAbsent", service.DescribeExportTasksInput{ExportTaskIdentifier: ptr(""), SourceArn: ptr("")},
			[]string{"t-starting", "t-progress", "t-complete", "t-canceling", "t-canceled", "t-failed"}},
		{"SourceArn", service.DescribeExportTasksInput{SourceArn: ptr(snap)}, []string{"t-progress", "t-canceled"}},
		{"SourceTypeSnapshot", service.DescribeExportTasksInput{SourceType: ptr("SNAPSHOT")}, []string{"t-progress", "t-canceled"}},
		{"SourceTypeCluster", service.DescribeExportTasksInput{SourceType: ptr("CLUSTER")},
			[]string{"t-starting", "t-complete", "t-canceling", "t-failed"}},
		{"FilterIdentifier", service.DescribeExportTasksInput{Filters: []service.Filter{f("export-task-identifier", "t-complete", "t-failed", "nope")}},
			[]string{"t-complete", "t-failed"}},
		{"FilterBucket", service.DescribeExportTasksInput{Filters: []service.Filter{f("s3-bucket", "other-bkt")}},
			[]string{"t-complete", "t-canceled", "t-failed"}},
		{"FilterSourceArn", service.DescribeExportTasksInput{Filters: []service.Filter{f("source-arn", clusterARN("maria"))}},
			[]string{"t-canceling", "t-failed"}},
		{"FilterStatus", service.DescribeExportTasksInput{Filters: []service.Filter{f("status", "complete", "failed")}},
			[]string{"t-complete", "t-failed"}},
		{"FilterStatusInProgress", service.DescribeExportTasksInput{Filters: []service.Filter{f("status", "in_progress")}},
			[]string{"t-progress"}},
		{"FilterStatusEach", service.DescribeExportTasksInput{Filters: []service.Filter{
			f("status", "starting", "in_progress", "complete", "canceling", "canceled", "failed")}},
			[]string{"t-starting", "t-progress", "t-complete", "t-canceling", "t-canceled", "t-failed"}},
		{"FilterStatusUppercaseMatchesNothing", service.DescribeExportTasksInput{Filters: []service.Filter{f("status", "COMPLETE")}},
			[]string{}},
		{"FilterStatusUnknownValue", service.DescribeExportTasksInput{Filters: []service.Filter{f("status", "running")}},
			[]string{}},
		{"FiltersAnd", service.DescribeExportTasksInput{Filters: []service.Filter{
			f("s3-bucket", "other-bkt"), f("status", "complete", "canceled", "starting")}},
			[]string{"t-complete", "t-canceled"}},
		{"SameFilterTwiceIntersects", service.DescribeExportTasksInput{Filters: []service.Filter{
			f("status", "complete", "failed"), f("status", "failed", "canceled")}},
			[]string{"t-failed"}},
		{"SameFilterTwiceDisjoint", service.DescribeExportTasksInput{Filters: []service.Filter{
			f("s3-bucket", "bkt"), f("s3-bucket", "other-bkt")}},
			[]string{}},
		{"ParamAndFilterAnd", service.DescribeExportTasksInput{ExportTaskIdentifier: ptr("t-failed"),
			Filters: []service.Filter{f("export-task-identifier", "t-complete")}}, []string{}},
		{"ParamAndFilterMatch", service.DescribeExportTasksInput{ExportTaskIdentifier: ptr("t-failed"),
			Filters: []service.Filter{f("export-task-identifier", "t-complete", "t-failed")}}, []string{"t-failed"}},
		{"EverythingCombined", service.DescribeExportTasksInput{SourceArn: ptr(clusterARN("pg-main")), SourceType: ptr("CLUSTER"),
			MaxRecords: ptr(20), Filters: []service.Filter{f("s3-bucket", "other-bkt"), f("status", "complete"),
				f("source-arn", clusterARN("pg-main"))}}, []string{"t-complete"}},
		{"SourceArnAndSourceTypeDisagree", service.DescribeExportTasksInput{SourceArn: ptr(snap), SourceType: ptr("CLUSTER")},
			[]string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, b := setup(t)
			seedMix(t, b.store)
			out, err := s.DescribeExportTasks(callerCtx(t), tc.in)
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Clone(tc.want)
			slices.SortFunc(want, func(a, b string) int { return slices.Index(seedOrder, a) - slices.Index(seedOrder, b) })
			if got := ids(out.ExportTasks); !slices.Equal(got, want) {
				t.Fatalf("tasks = %v, want %v", got, want)
			}
			if out.ExportTasks == nil {
				t.Fatal("ExportTasks is nil, want an empty list")
			}
			if out.Marker != "" {
				t.Fatalf("Marker = %q on the only page", out.Marker)
			}
		})
	}

	errCases := []struct {
		name string
		in   service.DescribeExportTasksInput
		msg  string
	}{
		{"MaxRecordsLow", service.DescribeExportTasksInput{MaxRecords: ptr(19)}, "Invalid value 19 for MaxRecords. Must be between 20 and 100"},
		{"MaxRecordsHigh", service.DescribeExportTasksInput{MaxRecords: ptr(101)}, "Invalid value 101 for MaxRecords. Must be between 20 and 100"},
		{"MaxRecordsNegative", service.DescribeExportTasksInput{MaxRecords: ptr(-1)}, "Invalid value -1 for MaxRecords. Must be between 20 and 100"},
		{"MarkerNotBase64", service.DescribeExportTasksInput{Marker: ptr("!!!")}, ""},
		{"MarkerNotSeq", service.DescribeExportTasksInput{Marker: ptr(base64.RawURLEncoding.EncodeToString([]byte("pg-main")))}, ""},
		{"MarkerNegative", service.DescribeExportTasksInput{Marker: ptr(base64.RawURLEncoding.EncodeToString([]byte("-5")))}, ""},
		{"SourceTypeLowercase", service.DescribeExportTasksInput{SourceType: ptr("snapshot")}, ""},
		{"SourceTypeEmpty", service.DescribeExportTasksInput{SourceType: ptr("")}, ""},
		{"UnknownFilter", service.DescribeExportTasksInput{Filters: []service.Filter{{Name: "source-type", Values: []string{"SNAPSHOT"}}}},
			"Unrecognized filter name: source-type"},
		{"FilterNameCase", service.DescribeExportTasksInput{Filters: []service.Filter{{Name: "Status", Values: []string{"complete"}}}},
			"Unrecognized filter name: Status"},
		{"FilterWithoutValues", service.DescribeExportTasksInput{Filters: []service.Filter{{Name: "status"}}}, ""},
		{"SecondFilterWithoutValues", service.DescribeExportTasksInput{Filters: []service.Filter{
			{Name: "status", Values: []string{"complete"}}, {Name: "s3-bucket", Values: []string{}}}}, ""},
	}
	for _, tc := range errCases {
		t.Run("Err"+tc.name, func(t *testing.T) {
			t.Parallel()
			s, b := setup(t)
			seedMix(t, b.store)
			_, err := s.DescribeExportTasks(callerCtx(t), tc.in)
			wantCode(t, err, export.CodeInvalidParameterValue, tc.msg)
		})
	}

	t.Run("ErrNoCaller", func(t *testing.T) {
		t.Parallel()
		s, _ := setup(t)
		if _, err := s.DescribeExportTasks(t.Context(), service.DescribeExportTasksInput{}); export.ErrorCode(err) != export.CodeInternalFailure {
			t.Fatalf("err = %v, want an internal error", err)
		}
	})

	t.Run("Paging", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t)
		const n = 250
		var want []string
		for i := range n {
			id := fmt.Sprintf("task-%03d", i)
			status := export.StatusComplete
			if i%7 == 0 {
				status = export.StatusFailed
			}
			seedTask(t, b.store, testAccount, id, fmt.Sprintf("arn:aws:rds:us-east-1:123456789012:snapshot:s%d", i), "bkt", export.SourceTypeSnapshot, status)
			want = append(want, id)
		}
		ctx := callerCtx(t)
		for _, max := range []int{20, 21, 33, 50, 99, 100} {
			t.Run(fmt.Sprint(max), func(t *testing.T) {
				var got []string
				seen := map[string]bool{}
				var marker *string
				pages := 0
				for {
					out, err := s.DescribeExportTasks(ctx, service.DescribeExportTasksInput{MaxRecords: ptr(max), Marker: marker})
					if err != nil {
						t.Fatal(err)
					}
					pages++
					if len(out.ExportTasks) > max {
						t.Fatalf("page of %d > MaxRecords %d", len(out.ExportTasks), max)
					}
					got = append(got, ids(out.ExportTasks)...)
					if out.Marker == "" {
						break
					}
					if seen[out.Marker] {
						t.Fatalf("marker %q returned twice", out.Marker)
					}
					seen[out.Marker] = true
					marker = ptr(out.Marker)
					if pages > n {
						t.Fatal("paging does not end")
					}
				}
				if !slices.Equal(got, want) {
					t.Fatalf("got %d tasks (%v...), want %d in order", len(got), got[:min(5, len(got))], n)
				}
				if wantPages := (n + max - 1) / max; pages != wantPages {
					t.Fatalf("pages = %d, want %d", pages, wantPages)
				}
			})
		}

		t.Run("Filtered", func(t *testing.T) {
			var got []string
			var marker *string
			for {
				out, err := s.DescribeExportTasks(ctx, service.DescribeExportTasksInput{MaxRecords: ptr(20), Marker: marker,
					Filters: []service.Filter{{Name: "status", Values: []string{"failed"}}}})
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, ids(out.ExportTasks)...)
				if out.Marker == "" {
					break
				}
				marker = ptr(out.Marker)
			}
			if len(got) != (n+6)/7 {
				t.Fatalf("got %d failed tasks, want %d", len(got), (n+6)/7)
			}
		})

		t.Run("DefaultPageSize", func(t *testing.T) {
			out, err := s.DescribeExportTasks(ctx, service.DescribeExportTasksInput{})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.ExportTasks) != 100 || out.Marker == "" {
				t.Fatalf("first default page: %d tasks, marker %q", len(out.ExportTasks), out.Marker)
			}
		})
	})

	t.Run("PagingNoTrailingEmptyPage", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t)
		for i := range 40 {
			seedTask(t, b.store, testAccount, fmt.Sprintf("t%d", i), fmt.Sprintf("arn:aws:rds:us-east-1:123456789012:snapshot:s%d", i), "bkt", export.SourceTypeSnapshot, export.StatusComplete)
		}
		ctx := callerCtx(t)
		out, err := s.DescribeExportTasks(ctx, service.DescribeExportTasksInput{MaxRecords: ptr(20)})
		if err != nil {
			t.Fatal(err)
		}
		out, err = s.DescribeExportTasks(ctx, service.DescribeExportTasksInput{MaxRecords: ptr(20), Marker: ptr(out.Marker)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.ExportTasks) != 20 || out.Marker != "" {
			t.Fatalf("second page: %d tasks, marker %q; want 20 and none", len(out.ExportTasks), out.Marker)
		}
	})
}
