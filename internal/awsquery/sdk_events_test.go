package awsquery_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/service"
)

func TestSDK_DescribeEvents(t *testing.T) {
	f := &fakeService{events: &service.DescribeEventsOutput{Events: testEvents(), Marker: "Nw"}}
	client := newSDKClient(t, f)
	start := time.Date(2025, 1, 31, 0, 0, 0, 0, time.UTC)
	end := start.Add(36 * time.Hour)
	out, err := client.DescribeEvents(t.Context(), &rds.DescribeEventsInput{
		SourceType:       types.SourceTypeDbSnapshot,
		SourceIdentifier: aws.String("mydbsnapshot"),
		StartTime:        aws.Time(start),
		EndTime:          aws.Time(end),
		Duration:         aws.Int32(90),
		EventCategories:  []string{"creation", "deletion"},
		MaxRecords:       aws.Int32(20),
		Marker:           aws.String("Mw"),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := service.DescribeEventsInput{
		SourceType: aws.String("db-snapshot"), SourceIdentifier: aws.String("mydbsnapshot"),
		StartTime: &start, EndTime: &end, Duration: ptr(90), EventCategories: []string{"creation", "deletion"},
		MaxRecords: ptr(20), Marker: aws.String("Mw"),
	}
	if got := f.input(); !reflect.DeepEqual(got, want) {
		t.Errorf("decoded input\n got %+v\nwant %+v", got, want)
	}
	if aws.ToString(out.Marker) != "Nw" || len(out.Events) != len(testEvents()) {
		t.Fatalf("marker %q, %d events", aws.ToString(out.Marker), len(out.Events))
	}
	for i, e := range testEvents() {
		g := out.Events[i]
		if aws.ToString(g.SourceIdentifier) != e.SourceIdentifier || string(g.SourceType) != e.SourceType ||
			aws.ToString(g.Message) != e.Message || !reflect.DeepEqual(g.EventCategories, e.Categories) ||
			!aws.ToTime(g.Date).Equal(e.Date) || aws.ToString(g.SourceArn) != e.SourceArn {
			t.Errorf("event %d: got %+v, want %+v", i, g, e)
		}
	}

	t.Run("InvalidParameterCombination", func(t *testing.T) {
		f := &fakeService{err: export.Errorf(export.CodeInvalidParameterCombination, "Cannot specify SourceIdentifier without SourceType.")}
		_, err := newSDKClient(t, f).DescribeEvents(t.Context(), &rds.DescribeEventsInput{SourceIdentifier: aws.String("x")})
		checkSDKError(t, err, export.CodeInvalidParameterCombination, "Cannot specify SourceIdentifier without SourceType.", nil)
	})
}

func ptr[T any](v T) *T { return &v }
