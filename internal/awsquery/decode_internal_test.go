package awsquery

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/service"
)

// FuzzDecode feeds arbitrary form strings to the decoder. It must never
// panic, every list it returns must come from keys that were sent, and a
// decoded form re-encoded canonically must decode to the same parameters.
func FuzzDecode(f *testing.F) {
	f.Add("Action=StartExportTask&ExportOnly.member.1=a&ExportOnly.member.3=c")
	f.Add("Filters.Filter.1.Name=status&Filters.Filter.1.Values.Value.1=complete&MaxRecords=20")
	f.Fuzz(func(t *testing.T, s string) {
		p := params{}
		if err := parseForm(p, s); err != nil {
			if export.ErrorCode(err) != export.CodeMalformedQueryString {
				t.Fatalf("parse error %v", err)
			}
			return
		}
		if list, err := p.list("ExportOnly", "member"); err == nil && len(list) > len(p) {
			t.Fatalf("%d items from %d keys", len(list), len(p))
		}
		if fs, err := p.filters(); err == nil {
			n := 0
			for _, f := range fs {
				n += 1 + len(f.Values)
			}
			if n > len(p) {
				t.Fatalf("%d filter parts from %d keys", n, len(p))
			}
		}
		_, _ = p.int("MaxRecords")
		_, _ = p.bool("IncludeShared")
		_, _ = dispatch(p)

		v := url.Values{}
		for k, val := range p {
			v.Set(k, val)
		}
		q := params{}
		if err := parseForm(q, v.Encode()); err != nil {
			t.Fatalf("re-encoded form %q: %v", v.Encode(), err)
		}
		if !maps.Equal(p, q) {
			t.Fatalf("round trip changed %v into %v", p, q)
		}
	})
}

func TestSortedIndexes(t *testing.T) {
	items := map[string]int{"10": 0, "9": 0, "100000000000000000000000": 0, "2": 0, "11": 0}
	want := []string{"2", "9", "10", "11", "100000000000000000000000"}
	if got := sortedIndexes(items); !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, n := range []int{1, 10, 100, 1000} {
		var sb strings.Builder
		sb.WriteString("Action=StartExportTask&Version=2014-10-31&ExportTaskIdentifier=my-exp" +
			"&SourceArn=arn%3Aaws%3Ards%3Aus-east-1%3A123456789012%3Asnapshot%3As1&S3BucketName=bkt" +
			"&IamRoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fr&KmsKeyId=k&S3Prefix=p%2Fq")
		for i := range n {
			fmt.Fprintf(&sb, "&ExportOnly.member.%d=db%d.public.table_%d", i+1, i, i)
		}
		for i := range n {
			fmt.Fprintf(&sb, "&Filters.Filter.%d.Name=status&Filters.Filter.%d.Values.Value.1=complete", i+1, i+1)
		}
		body := sb.String()
		b.Run(fmt.Sprintf("items=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				p := params{}
				if err := parseForm(p, body); err != nil {
					b.Fatal(err)
				}
				if _, err := dispatch(p); err != nil {
					b.Fatal(err)
				}
				list, err := p.list("ExportOnly", "member")
				if err != nil || len(list) != n {
					b.Fatal(len(list), err)
				}
				fs, err := p.filters()
				if err != nil || len(fs) != n {
					b.Fatal(len(fs), err)
				}
			}
		})
	}
}

// stubService answers DescribeExportTasks with fixed tasks.
type stubService struct {
	Service
	tasks []*export.Task
}

func (s stubService) DescribeExportTasks(context.Context, service.DescribeExportTasksInput) (*service.DescribeExportTasksOutput, error) {
	return &service.DescribeExportTasksOutput{ExportTasks: s.tasks, Marker: "eyJrIjoibXktZXhwIn0"}, nil
}

func BenchmarkEncodeDescribeExportTasks(b *testing.B) {
	start := time.Date(2024, 1, 2, 3, 4, 5, 123_000_000, time.UTC)
	for _, n := range []int{1, 20, 100} {
		tasks := make([]*export.Task, n)
		for i := range tasks {
			tasks[i] = &export.Task{
				Identifier:      fmt.Sprintf("export-%04d", i),
				SourceArn:       "arn:aws:rds:us-east-1:123456789012:snapshot:s1",
				SourceType:      export.SourceTypeSnapshot,
				ExportOnly:      []string{"db1", "db2.public.t1"},
				S3Bucket:        "bkt",
				S3Prefix:        "exports/2024",
				IamRoleArn:      "arn:aws:iam::123456789012:role/r",
				KmsKeyID:        "alias/export",
				Status:          export.StatusComplete,
				SnapshotTime:    start,
				TaskStartTime:   start.Add(time.Minute),
				TaskEndTime:     start.Add(time.Hour),
				PercentProgress: 100,
				ExtractedBytes:  5 * export.GiB,
				WarningMessage:  `{"skipped":["db1.t<1>"]}`,
			}
		}
		h := &Handler{Service: stubService{tasks: tasks}}
		a := arnContext{Region: "us-east-1", AccountID: "123456789012"}
		b.Run(fmt.Sprintf("tasks=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var size int
			for b.Loop() {
				x := xmlWriter{depth: 2}
				if err := describeExportTasks(h, context.Background(), params{}, a, &x); err != nil {
					b.Fatal(err)
				}
				size = x.buf.Len()
			}
			b.SetBytes(int64(size))
		})
	}
}
