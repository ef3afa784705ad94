package awsquery_test

import (
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rdsexport/rdsexport/internal/awsquery"
	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/service"
)

// errorCode extracts <Code> from an ErrorResponse body.
func errorCode(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		Code string `xml:"Error>Code"`
	}
	if err := xml.Unmarshal(body, &e); err != nil {
		t.Fatalf("parse error response %q: %v", body, err)
	}
	return e.Code
}

func TestHandler_Decode(t *testing.T) {
	const (
		start    = "Action=StartExportTask&Version=2014-10-31&ExportTaskIdentifier=e"
		describe = "Action=DescribeExportTasks&Version=2014-10-31"
		clusters = "Action=DescribeDBClusters"
		create   = "Action=CreateDBSnapshot&DBSnapshotIdentifier=s&DBInstanceIdentifier=i"
	)
	createIn := func(tags []export.Tag) service.CreateDBSnapshotInput {
		return service.CreateDBSnapshotInput{DBSnapshotIdentifier: "s", DBInstanceIdentifier: "i", Tags: tags}
	}
	startIn := func(exportOnly []string) service.StartExportTaskInput {
		return service.StartExportTaskInput{ExportTaskIdentifier: "e", ExportOnly: exportOnly}
	}
	for _, c := range []struct {
		name   string
		method string
		query  string // URL query string
		body   string
		limit  int64
		want   any    // input the service must receive
		code   string // or the error code of the response
		status int
	}{
		{name: "GetQueryString", method: "GET", query: describe + "&ExportTaskIdentifier=a%20b&SourceType=CLUSTER",
			want: service.DescribeExportTasksInput{ExportTaskIdentifier: aws.String("a b"), SourceType: aws.String("CLUSTER")}},
		{name: "PlusIsSpace", body: describe + "&ExportTaskIdentifier=a+b",
			want: service.DescribeExportTasksInput{ExportTaskIdentifier: aws.String("a b")}},
		{name: "EscapedPlus", body: describe + "&ExportTaskIdentifier=a%2Bb%26c%3Dd",
			want: service.DescribeExportTasksInput{ExportTaskIdentifier: aws.String("a+b&c=d")}},
		{name: "BodyWinsOverQuery", query: "Action=DescribeDBClusters&Marker=q", body: describe + "&Marker=b",
			want: service.DescribeExportTasksInput{Marker: aws.String("b")}},
		{name: "QueryAndBodyMerged", query: describe, body: "Marker=b",
			want: service.DescribeExportTasksInput{Marker: aws.String("b")}},
		{name: "EmptyValueIsPresent", body: describe + "&Marker=",
			want: service.DescribeExportTasksInput{Marker: aws.String("")}},
		{name: "ListInOrder", body: start + "&ExportOnly.member.1=a&ExportOnly.member.2=b",
			want: startIn([]string{"a", "b"})},
		{name: "ListGapsSorted", body: start + "&ExportOnly.member.10=d&ExportOnly.member.3=c&ExportOnly.member.1=a&ExportOnly.member.2=b",
			want: startIn([]string{"a", "b", "c", "d"})},
		{name: "ListDuplicateLastWins", body: start + "&ExportOnly.member.1=a&ExportOnly.member.2=x&ExportOnly.member.1=b",
			want: startIn([]string{"b", "x"})},
		{name: "ListHugeIndex", body: start + "&ExportOnly.member.99999999999999999999999999999=z&ExportOnly.member.18446744073709551616=y&ExportOnly.member.2=x",
			want: startIn([]string{"x", "y", "z"})},
		{name: "ListEmpty", body: start + "&ExportOnly=", want: startIn([]string{})},
		{name: "ListBareAndMembers", body: start + "&ExportOnly=&ExportOnly.member.1=a", want: startIn([]string{"a"})},
		{name: "ListAbsent", body: start, want: startIn(nil)},
		{name: "ListLeadingZero", body: start + "&ExportOnly.member.01=a", code: export.CodeInvalidParameterValue, status: 400},
		{name: "ListZeroIndex", body: start + "&ExportOnly.member.0=a", code: export.CodeInvalidParameterValue, status: 400},
		{name: "ListNegativeIndex", body: start + "&ExportOnly.member.-1=a", code: export.CodeInvalidParameterValue, status: 400},
		{name: "ListSuffix", body: start + "&ExportOnly.member.1.x=a", code: export.CodeInvalidParameterValue, status: 400},
		{name: "ListBareWithValue", body: start + "&ExportOnly=a", code: export.CodeInvalidParameterValue, status: 400},
		{name: "OtherListNamesIgnored", body: start + "&ExportOnly.item.1=a&ExportOnlyX.member.1=b", want: startIn(nil)},
		{name: "Filters", body: describe +
			"&Filters.Filter.2.Name=s3-bucket&Filters.Filter.2.Values.Value.1=bkt" +
			"&Filters.Filter.1.Name=status&Filters.Filter.1.Values.Value.3=failed&Filters.Filter.1.Values.Value.1=complete",
			want: service.DescribeExportTasksInput{Filters: []service.Filter{
				{Name: "status", Values: []string{"complete", "failed"}},
				{Name: "s3-bucket", Values: []string{"bkt"}},
			}}},
		{name: "FiltersEmpty", body: describe + "&Filters=",
			want: service.DescribeExportTasksInput{Filters: []service.Filter{}}},
		{name: "FilterValuesEmpty", body: describe + "&Filters.Filter.1.Name=status&Filters.Filter.1.Values=",
			want: service.DescribeExportTasksInput{Filters: []service.Filter{{Name: "status", Values: []string{}}}}},
		{name: "FilterNoValues", body: describe + "&Filters.Filter.1.Name=status",
			want: service.DescribeExportTasksInput{Filters: []service.Filter{{Name: "status"}}}},
		{name: "FilterWithoutName", body: describe + "&Filters.Filter.1.Values.Value.1=x", code: export.CodeMissingParameter, status: 400},
		{name: "FilterBadValueIndex", body: describe + "&Filters.Filter.1.Name=a&Filters.Filter.1.Values.Value.x=1", code: export.CodeInvalidParameterValue, status: 400},
		{name: "Tags", body: create + "&Tags.Tag.2.Key=b&Tags.Tag.10.Value=v10&Tags.Tag.10.Key=c&Tags.Tag.1.Value=1&Tags.Tag.1.Key=a",
			want: createIn([]export.Tag{{Key: "a", Value: "1"}, {Key: "b"}, {Key: "c", Value: "v10"}})},
		{name: "TagsEmpty", body: create + "&Tags=", want: createIn([]export.Tag{})},
		{name: "TagsAbsent", body: create, want: createIn(nil)},
		{name: "TagWithoutKey", body: create + "&Tags.Tag.1.Value=v", want: createIn([]export.Tag{{Value: "v"}})},
		{name: "TagOtherMembersIgnored", body: create + "&Tags.Tag.1.Key=k&Tags.Tag.1.Color=red", want: createIn([]export.Tag{{Key: "k"}})},
		{name: "TagsBadIndex", body: create + "&Tags.Tag.x.Key=k", code: export.CodeInvalidParameterValue, status: 400},
		{name: "TagsBareWithValue", body: create + "&Tags=k", code: export.CodeInvalidParameterValue, status: 400},
		{name: "IncludePublicJunk", body: "Action=DescribeDBClusterSnapshots&IncludePublic=1", code: export.CodeInvalidParameterValue, status: 400},
		{name: "SnapshotMaxRecordsNotInteger", body: "Action=DescribeDBSnapshots&MaxRecords=x", code: export.CodeInvalidParameterValue, status: 400},
		{name: "SnapshotFilterWithoutName", body: "Action=DescribeDBSnapshots&Filters.Filter.1.Values.Value.1=x", code: export.CodeMissingParameter, status: 400},
		{name: "DeleteIdentifier", body: "Action=DeleteDBClusterSnapshot&DBClusterSnapshotIdentifier=a+b", want: "a b"},
		{name: "MaxRecords", body: describe + "&MaxRecords=20", want: service.DescribeExportTasksInput{MaxRecords: aws.Int(20)}},
		{name: "MaxRecordsNegativePassedOn", body: describe + "&MaxRecords=-5", want: service.DescribeExportTasksInput{MaxRecords: aws.Int(-5)}},
		{name: "MaxRecordsNotInteger", body: describe + "&MaxRecords=twenty", code: export.CodeInvalidParameterValue, status: 400},
		{name: "MaxRecordsEmpty", body: describe + "&MaxRecords=", code: export.CodeInvalidParameterValue, status: 400},
		{name: "MaxRecordsFraction", body: describe + "&MaxRecords=20.5", code: export.CodeInvalidParameterValue, status: 400},
		{name: "MaxRecordsOverflow", body: describe + "&MaxRecords=99999999999", code: export.CodeInvalidParameterValue, status: 400},
		{name: "BoolTrue", body: clusters + "&IncludeShared=TRUE", want: service.DescribeDBClustersInput{IncludeShared: aws.Bool(true)}},
		{name: "BoolFalse", body: clusters + "&IncludeShared=false", want: service.DescribeDBClustersInput{IncludeShared: aws.Bool(false)}},
		{name: "BoolJunk", body: clusters + "&IncludeShared=yes", code: export.CodeInvalidParameterValue, status: 400},
		{name: "VersionMissing", body: "Action=CancelExportTask&ExportTaskIdentifier=x", want: "x"},
		{name: "VersionWrong", body: "Action=CancelExportTask&Version=2014-09-01&ExportTaskIdentifier=x", code: export.CodeInvalidParameterValue, status: 400},
		{name: "ActionMissing", body: "Version=2014-10-31", code: export.CodeMissingAction, status: 400},
		{name: "ActionEmpty", body: "Action=&Version=2014-10-31", code: export.CodeMissingAction, status: 400},
		{name: "EmptyBody", body: "", code: export.CodeMissingAction, status: 400},
		{name: "ActionUnknown", body: "Action=CreateDBInstance&Version=2014-10-31", code: export.CodeInvalidAction, status: 400},
		{name: "ActionCaseSensitive", body: "Action=startexporttask&Version=2014-10-31", code: export.CodeInvalidAction, status: 400},
		{name: "BadEscape", body: describe + "&Marker=%G1", code: export.CodeMalformedQueryString, status: 404},
		{name: "BadEscapeInQuery", method: "GET", query: describe + "&Marker=%", code: export.CodeMalformedQueryString, status: 404},
		{name: "BodyOverLimit", body: describe + "&Marker=" + strings.Repeat("m", 100), limit: 64, code: export.CodeInvalidParameterValue, status: 400},
		{name: "BodyAtLimit", body: describe + "&Marker=" + strings.Repeat("m", 64-len(describe+"&Marker=")), limit: 64,
			want: service.DescribeExportTasksInput{Marker: aws.String(strings.Repeat("m", 64-len(describe+"&Marker=")))}},
		{name: "StrayAmpersands", body: "&&" + describe + "&&Marker=x&", want: service.DescribeExportTasksInput{Marker: aws.String("x")}},
		{name: "UnknownParametersIgnored", body: describe + "&Foo=bar&Tags.Tag.1.Key=k", want: service.DescribeExportTasksInput{}},
		// Text that is not UTF-8 is refused in any parameter, known or not,
		// of any operation, in the body or the query string.
		{name: "InvalidUTF8Value", body: start + "&S3Prefix=a%FFb", code: export.CodeInvalidParameterValue, status: 400},
		{name: "InvalidUTF8Truncated", body: describe + "&Marker=%E2%82", code: export.CodeInvalidParameterValue, status: 400},
		{name: "InvalidUTF8Surrogate", body: create + "&Tags.Tag.1.Key=k&Tags.Tag.1.Value=%ED%A0%80", code: export.CodeInvalidParameterValue, status: 400},
		{name: "InvalidUTF8Overlong", body: "Action=CancelExportTask&ExportTaskIdentifier=%C0%AF", code: export.CodeInvalidParameterValue, status: 400},
		{name: "InvalidUTF8ListItem", body: start + "&ExportOnly.member.1=%80", code: export.CodeInvalidParameterValue, status: 400},
		{name: "InvalidUTF8FilterValue", body: describe + "&Filters.Filter.1.Name=status&Filters.Filter.1.Values.Value.1=%FE", code: export.CodeInvalidParameterValue, status: 400},
		{name: "InvalidUTF8UnknownParameter", body: describe + "&Foo=%FF", code: export.CodeInvalidParameterValue, status: 400},
		{name: "InvalidUTF8Name", body: describe + "&%FF=x", code: export.CodeInvalidParameterValue, status: 400},
		{name: "InvalidUTF8InQuery", method: "GET", query: clusters + "&DBClusterIdentifier=%FF", code: export.CodeInvalidParameterValue, status: 400},
		{name: "InvalidUTF8Action", body: "Action=Describe%FF", code: export.CodeInvalidAction, status: 400},
		{name: "InvalidUTF8NoAction", body: "%FF=%FE", code: export.CodeMissingAction, status: 400},
		{name: "InvalidUTF8ReplacedByBody", query: describe + "&Marker=%FF", body: "Marker=ok", want: service.DescribeExportTasksInput{Marker: aws.String("ok")}},
		{name: "ValidUTF8", body: describe + "&Marker=%E2%82%AC%F0%9F%98%80", want: service.DescribeExportTasksInput{Marker: aws.String("€😀")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeService{
				task:      startingTask(),
				tasks:     &service.DescribeExportTasksOutput{},
				clusters:  &service.DescribeDBClustersOutput{},
				instances: &service.DescribeDBInstancesOutput{},
				snapshot:  availableSnapshot(),
				snapshots: &service.DescribeDBSnapshotsOutput{},
				clusterSn: &service.DescribeDBClusterSnapshotsOutput{},
			}
			h := newHandler(f, nil)
			h.MaxBodyBytes = c.limit
			method := c.method
			if method == "" {
				method = http.MethodPost
			}
			r := httptest.NewRequest(method, "/some/prefix", strings.NewReader(c.body))
			r.URL.RawQuery = c.query
			if method == http.MethodPost {
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if c.code != "" {
				if w.Code != c.status {
					t.Errorf("status = %d, want %d", w.Code, c.status)
				}
				if got := errorCode(t, w.Body.Bytes()); got != c.code {
					t.Errorf("code = %s, want %s (%s)", got, c.code, w.Body)
				}
				if got := f.input(); got != nil {
					t.Errorf("service called with %#v", got)
				}
				return
			}
			if w.Code != http.StatusOK {
				t.Fatalf("status = %d: %s", w.Code, w.Body)
			}
			if got := f.input(); !reflect.DeepEqual(got, c.want) {
				t.Errorf("service got %#v\nwant %#v", got, c.want)
			}
		})
	}
}

func TestHandler_Regions(t *testing.T) {
	f := &fakeService{clusters: &service.DescribeDBClustersOutput{DBClusters: []export.DBCluster{{Identifier: "c1"}}}}
	h := newHandler(f, nil)
	h.Regions = []string{"us-east-1", "eu-west-3"}
	for _, c := range []struct {
		region string
		caller bool
		status int
	}{
		{"us-east-1", true, 200},
		{"eu-west-3", true, 200},
		{"us-west-2", true, 403},
		{"cn-north-1", true, 403},
		{"", false, 200}, // no verified caller: the handler's defaults
	} {
		t.Run(c.region, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("Action=DescribeDBClusters"))
			if c.caller {
				r = r.WithContext(export.WithCaller(r.Context(), export.Caller{AccountID: "111122223333", Region: c.region}))
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != c.status {
				t.Fatalf("status = %d, want %d: %s", w.Code, c.status, w.Body)
			}
			if c.status == 403 {
				if got := errorCode(t, w.Body.Bytes()); got != export.CodeSignatureDoesNotMatch {
					t.Errorf("code = %s, want SignatureDoesNotMatch", got)
				}
				if want := "Credential should be scoped to a valid region, not '" + c.region + "'."; !strings.Contains(w.Body.String(), want) {
					t.Errorf("missing %q in %s", want, w.Body)
				}
			}
		})
	}
}

func TestHandler_ARNs(t *testing.T) {
	t.Run("CallerRegion", func(t *testing.T) {
		f := &fakeService{instances: &service.DescribeDBInstancesOutput{DBInstances: []export.DBInstance{{Identifier: "d1"}}}}
		h := newHandler(f, nil)
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("Action=DescribeDBInstances"))
		r = r.WithContext(export.WithCaller(r.Context(), export.Caller{AccountID: "111122223333", Region: "eu-west-3"}))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if want := "<DBInstanceArn>arn:aws:rds:eu-west-3:111122223333:db:d1</DBInstanceArn>"; !strings.Contains(w.Body.String(), want) {
			t.Errorf("missing %s in\n%s", want, w.Body)
		}
	})
	t.Run("Defaults", func(t *testing.T) {
		f := &fakeService{clusters: &service.DescribeDBClustersOutput{DBClusters: []export.DBCluster{{Identifier: "c1"}}}}
		h := newHandler(f, nil)
		h.Region, h.AccountID = "ap-south-1", "444455556666"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("Action=DescribeDBClusters")))
		if want := "<DBClusterArn>arn:aws:rds:ap-south-1:444455556666:cluster:c1</DBClusterArn>"; !strings.Contains(w.Body.String(), want) {
			t.Errorf("missing %s in\n%s", want, w.Body)
		}
	})
	t.Run("BuiltInDefaults", func(t *testing.T) {
		f := &fakeService{clusters: &service.DescribeDBClustersOutput{DBClusters: []export.DBCluster{{Identifier: "c1"}}}}
		h := &awsquery.Handler{Service: f}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("Action=DescribeDBClusters")))
		if want := "arn:aws:rds:" + export.DefaultRegion + ":" + awsquery.DefaultAccountID + ":cluster:c1"; !strings.Contains(w.Body.String(), want) {
			t.Errorf("missing %s in\n%s", want, w.Body)
		}
		if id := w.Header().Get("X-Amzn-Requestid"); len(id) != 36 || !strings.Contains(w.Body.String(), "<RequestId>"+id+"</RequestId>") {
			t.Errorf("request id %q not a UUID in header and body", id)
		}
	})
}

func TestHandler_Escaping(t *testing.T) {
	task := startingTask()
	task.FailureCause = "a&b<c>d\r\ne\x00f\xffg\"h'i"
	f := &fakeService{task: task}
	w := serve(newHandler(f, nil), "Action=CancelExportTask&ExportTaskIdentifier=x")
	want := "<FailureCause>a&amp;b&lt;c&gt;d&#xD;\ne\uFFFDf\uFFFDg\"h'i</FailureCause>"
	if !strings.Contains(w.Body.String(), want) {
		t.Errorf("missing %q in\n%s", want, w.Body)
	}
	var doc struct {
		FailureCause string `xml:"CancelExportTaskResult>FailureCause"`
	}
	if err := xml.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if want := "a&b<c>d\r\ne\uFFFDf\uFFFDg\"h'i"; doc.FailureCause != want {
		t.Errorf("parsed %q, want %q", doc.FailureCause, want)
	}
}
