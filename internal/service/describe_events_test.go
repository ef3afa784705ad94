package service_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/service"
	"github.com/rdsexport/rdsexport/internal/sqlitetaskstore"
)

func TestService_DescribeEvents(t *testing.T) {
	clock := testNow.Add(-3 * time.Hour)
	store, err := sqlitetaskstore.New(t.Context(), filepath.Join(t.TempDir(), "tasks.db"),
		sqlitetaskstore.WithNow(func() time.Time { return clock }))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	create := func(account, id string) {
		t.Helper()
		err := store.CreateSnapshot(t.Context(), &export.Snapshot{Kind: export.SnapshotKindDB, Identifier: id, AccountID: account,
			Region: testRegion, SourceIdentifier: "db1", Engine: "postgres", Status: export.SnapshotCreating, Type: export.SnapshotTypeManual})
		if err != nil {
			t.Fatal(err)
		}
	}
	create(testAccount, "three-hours-ago")
	clock = testNow.Add(-90 * time.Minute)
	create(testAccount, "ninety-minutes-ago")
	clock = testNow.Add(-30 * time.Minute)
	for i := range 25 {
		create(testAccount, fmt.Sprintf("recent-%02d", i))
	}
	create("210987654321", "other-account")

	svc := service.New(service.Params{Events: store, Now: func() time.Time { return testNow }})
	ctx := export.WithCaller(t.Context(), export.Caller{AccountID: testAccount, Region: testRegion})
	count := func(in service.DescribeEventsInput) (int, string) {
		t.Helper()
		out, err := svc.DescribeEvents(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return len(out.Events), out.Marker
	}
	i := func(v int) *int { return &v }
	s := func(v string) *string { return &v }
	tm := func(v time.Time) *time.Time { return &v }

	t.Run("OK", func(t *testing.T) {
		for name, c := range map[string]struct {
			in   service.DescribeEventsInput
			want int
		}{
			"LastHour":        {service.DescribeEventsInput{}, 25},
			"Duration":        {service.DescribeEventsInput{Duration: i(120)}, 26},
			"StartTime":       {service.DescribeEventsInput{StartTime: tm(testNow.Add(-4 * time.Hour))}, 27},
			"StartDuration":   {service.DescribeEventsInput{StartTime: tm(testNow.Add(-4 * time.Hour)), Duration: i(120)}, 1},
			"EndTime":         {service.DescribeEventsInput{EndTime: tm(testNow.Add(-time.Hour))}, 1},
			"Source":          {service.DescribeEventsInput{Duration: i(600), SourceType: s("db-snapshot"), SourceIdentifier: s("Three-Hours-Ago")}, 1},
			"OtherSourceType": {service.DescribeEventsInput{Duration: i(600), SourceType: s("db-cluster")}, 0},
			"Category":        {service.DescribeEventsInput{Duration: i(600), EventCategories: []string{"creation"}}, 27},
			"OtherCategory":   {service.DescribeEventsInput{Duration: i(600), EventCategories: []string{"deletion"}}, 0},
			"Retention":       {service.DescribeEventsInput{StartTime: tm(testNow.Add(-30 * 24 * time.Hour)), EndTime: tm(testNow.Add(-15 * 24 * time.Hour))}, 0},
		} {
			if n, _ := count(c.in); n != c.want {
				t.Errorf("%s: %d events, want %d", name, n, c.want)
			}
		}
	})
	t.Run("Pages", func(t *testing.T) {
		n, marker := count(service.DescribeEventsInput{MaxRecords: i(20)})
		if n != 20 || marker == "" {
			t.Fatalf("first page: %d events, marker %q", n, marker)
		}
		n, marker = count(service.DescribeEventsInput{MaxRecords: i(20), Marker: &marker})
		if n != 5 || marker != "" {
			t.Fatalf("second page: %d events, marker %q", n, marker)
		}
	})
	t.Run("Errors", func(t *testing.T) {
		for name, c := range map[string]struct {
			in   service.DescribeEventsInput
			code string
		}{
			"MaxRecordsLow":    {service.DescribeEventsInput{MaxRecords: i(19)}, export.CodeInvalidParameterValue},
			"MaxRecordsHigh":   {service.DescribeEventsInput{MaxRecords: i(101)}, export.CodeInvalidParameterValue},
			"Marker":           {service.DescribeEventsInput{Marker: s("!!")}, export.CodeInvalidParameterValue},
			"SourceType":       {service.DescribeEventsInput{SourceType: s("db-table")}, export.CodeInvalidParameterValue},
			"IdentifierAlone":  {service.DescribeEventsInput{SourceIdentifier: s("x")}, export.CodeInvalidParameterCombination},
			"NegativeDuration": {service.DescribeEventsInput{Duration: i(-1)}, export.CodeInvalidParameterValue},
			"EndBeforeStart":   {service.DescribeEventsInput{StartTime: tm(testNow), EndTime: tm(testNow.Add(-time.Minute))}, export.CodeInvalidParameterValue},
			"Categories":       {service.DescribeEventsInput{EventCategories: make([]string, 21)}, export.CodeInvalidParameterValue},
		} {
			if _, err := svc.DescribeEvents(ctx, c.in); export.ErrorCode(err) != c.code {
				t.Errorf("%s: %v, want %s", name, err, c.code)
			}
		}
	})
}
