package awsquery_test

import (
	"testing"
	"time"

	"github.com/rdsexport/rdsexport/internal/service"
)

func TestHandler_Observe(t *testing.T) {
	f := &fakeService{tasks: &service.DescribeExportTasksOutput{}}
	h := newHandler(f, nil)
	type call struct{ action, code string }
	var got []call
	h.Observe = func(action, code string, d time.Duration) {
		if d < 0 {
			t.Errorf("negative duration %v", d)
		}
		got = append(got, call{action, code})
	}
	for _, body := range []string{
		describeQuery,
		describeQuery + "&MaxRecords=5x",
		"Action=DeleteDBInstance&Version=2014-10-31",
		"Action=%E2%9C%93&Version=2014-10-31",
		"Version=2014-10-31",
	} {
		serve(h, body)
	}
	want := []call{
		{"DescribeExportTasks", "OK"},
		{"DescribeExportTasks", "InvalidParameterValue"},
		{"unknown", "InvalidAction"},
		{"unknown", "InvalidAction"},
		{"unknown", "MissingAction"},
	}
	if len(got) != len(want) {
		t.Fatalf("observed %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d observed %v, want %v", i, got[i], want[i])
		}
	}
}
