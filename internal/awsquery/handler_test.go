package awsquery_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rdsexport/rdsexport/internal/awsquery"
	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/service"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const testRequestID = "4f3c2d1e-0b1a-4c5d-8e9f-0123456789ab"

// fakeService returns canned results or errors and records the last input
// it received.
type fakeService struct {
	mu        sync.Mutex
	err       error
	panicWith any
	task      *export.Task
	tasks     *service.DescribeExportTasksOutput
	clusters  *service.DescribeDBClustersOutput
	instances *service.DescribeDBInstancesOutput
	snapshot  *export.Snapshot
	snapshots *service.DescribeDBSnapshotsOutput
	clusterSn *service.DescribeDBClusterSnapshotsOutput
	events    *service.DescribeEventsOutput
	got       any
}

var _ awsquery.Service = (*fakeService)(nil)

func (f *fakeService) record(in any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = in
	if f.panicWith != nil {
		panic(f.panicWith)
	}
	return f.err
}

func (f *fakeService) input() any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.got
}

func (f *fakeService) StartExportTask(_ context.Context, in service.StartExportTaskInput) (*export.Task, error) {
	if err := f.record(in); err != nil {
		return nil, err
	}
	return f.task, nil
}

func (f *fakeService) DescribeExportTasks(_ context.Context, in service.DescribeExportTasksInput) (*service.DescribeExportTasksOutput, error) {
	if err := f.record(in); err != nil {
		return nil, err
	}
	return f.tasks, nil
}

func (f *fakeService) CancelExportTask(_ context.Context, id string) (*export.Task, error) {
	if err := f.record(id); err != nil {
		return nil, err
	}
	return f.task, nil
}

func (f *fakeService) DescribeDBClusters(_ context.Context, in service.DescribeDBClustersInput) (*service.DescribeDBClustersOutput, error) {
	if err := f.record(in); err != nil {
		return nil, err
	}
	return f.clusters, nil
}

func (f *fakeService) DescribeDBInstances(_ context.Context, in service.DescribeDBInstancesInput) (*service.DescribeDBInstancesOutput, error) {
	if err := f.record(in); err != nil {
		return nil, err
	}
	return f.instances, nil
}

func (f *fakeService) CreateDBSnapshot(_ context.Context, in service.CreateDBSnapshotInput) (*export.Snapshot, error) {
	if err := f.record(in); err != nil {
		return nil, err
	}
	return f.snapshot, nil
}

func (f *fakeService) DescribeDBSnapshots(_ context.Context, in service.DescribeDBSnapshotsInput) (*service.DescribeDBSnapshotsOutput, error) {
	if err := f.record(in); err != nil {
		return nil, err
	}
	return f.snapshots, nil
}

func (f *fakeService) DeleteDBSnapshot(_ context.Context, id string) (*export.Snapshot, error) {
	if err := f.record(id); err != nil {
		return nil, err
	}
	return f.snapshot, nil
}

func (f *fakeService) CreateDBClusterSnapshot(_ context.Context, in service.CreateDBClusterSnapshotInput) (*export.Snapshot, error) {
	if err := f.record(in); err != nil {
		return nil, err
	}
	return f.snapshot, nil
}

func (f *fakeService) DescribeDBClusterSnapshots(_ context.Context, in service.DescribeDBClusterSnapshotsInput) (*service.DescribeDBClusterSnapshotsOutput, error) {
	if err := f.record(in); err != nil {
		return nil, err
	}
	return f.clusterSn, nil
}

func (f *fakeService) DeleteDBClusterSnapshot(_ context.Context, id string) (*export.Snapshot, error) {
	if err := f.record(id); err != nil {
		return nil, err
	}
	return f.snapshot, nil
}

func (f *fakeService) DescribeEvents(_ context.Context, in service.DescribeEventsInput) (*service.DescribeEventsOutput, error) {
	if err := f.record(in); err != nil {
		return nil, err
	}
	return f.events, nil
}

// testEvents are events of each kind the server records, as the store
// builds them.
func testEvents() []*export.Event {
	at := time.Date(2025, 1, 31, 12, 0, 0, 0, time.UTC)
	snap := &export.Snapshot{Kind: export.SnapshotKindDB, Identifier: "mydbsnapshot", AccountID: "123456789012", Region: "us-east-1"}
	cl := &export.Snapshot{Kind: export.SnapshotKindCluster, Identifier: "nightly", AccountID: "123456789012", Region: "us-east-1",
		FailureReason: "the server stopped while the snapshot was being created"}
	task := &export.Task{Identifier: "my-exp", AccountID: "123456789012", Region: "us-east-1",
		SourceArn: "arn:aws:rds:us-east-1:123456789012:snapshot:mydbsnapshot", Status: export.StatusComplete}
	live := &export.Task{Identifier: "live-exp", AccountID: "123456789012", Region: "us-east-1",
		SourceArn: "arn:aws:rds:us-east-1:123456789012:cluster:pg-main", Status: export.StatusFailed,
		FailureCause: "An unknown internal error occurred."}
	return []*export.Event{
		export.SnapshotEvent(snap, export.SnapshotCreating, at),
		export.SnapshotEvent(snap, export.SnapshotAvailable, at.Add(time.Minute)),
		export.TaskEvent(task, at.Add(2*time.Minute)),
		export.SnapshotEvent(snap, export.SnapshotDeleted, at.Add(3*time.Minute)),
		export.SnapshotEvent(cl, export.SnapshotCreating, at.Add(4*time.Minute)),
		export.SnapshotEvent(cl, export.SnapshotFailed, at.Add(5*time.Minute)),
		export.TaskEvent(live, at.Add(6*time.Minute)),
	}
}

var (
	t0 = time.Date(2024, 1, 2, 3, 4, 5, 123_000_000, time.UTC)
	t1 = time.Date(2024, 1, 2, 3, 10, 0, 0, time.UTC)
	t2 = time.Date(2024, 1, 2, 3, 40, 12, 345_000_000, time.FixedZone("CET", 3600))
)

func startingTask() *export.Task {
	return &export.Task{
		Identifier:    "my-exp",
		AccountID:     "123456789012",
		Region:        "us-east-1",
		SourceArn:     "arn:aws:rds:us-east-1:123456789012:snapshot:s1",
		SourceType:    export.SourceTypeSnapshot,
		ExportOnly:    []string{"db1", "db2.public.t1"},
		S3Bucket:      "bkt",
		S3Prefix:      "p/q",
		IamRoleArn:    "arn:aws:iam::123456789012:role/r",
		KmsKeyID:      "k",
		Status:        export.StatusStarting,
		SnapshotTime:  t0,
		TaskStartTime: t1,
	}
}

func completeTask() *export.Task {
	t := startingTask()
	t.Identifier = "done-exp"
	t.ExportOnly = nil
	t.S3Prefix = ""
	t.Status = export.StatusComplete
	t.PercentProgress = 100
	t.ExtractedBytes = 3*export.GiB + export.GiB/2
	t.TaskEndTime = t2
	return t
}

func failedTask() *export.Task {
	t := startingTask()
	t.Identifier = "bad-exp"
	t.Status = export.StatusFailed
	t.PercentProgress = 40
	t.TaskEndTime = t2
	t.FailureCause = "The source & target <differ>."
	t.WarningMessage = `{"skipped":["db1.t\"1"]}`
	return t
}

func clusterTask() *export.Task {
	t := startingTask()
	t.Identifier = "live-exp"
	t.SourceArn = "arn:aws:rds:us-east-1:123456789012:cluster:c1"
	t.SourceType = export.SourceTypeCluster
	t.ExportOnly = []string{}
	t.Status = export.StatusInProgress
	t.PercentProgress = 12
	return t
}

func testClusters() []export.DBCluster {
	return []export.DBCluster{{
		Identifier:     "pg-main",
		AccountID:      "123456789012",
		Engine:         "aurora-postgresql",
		EngineVersion:  "16.4",
		Status:         "available",
		Endpoint:       "127.0.0.1",
		Port:           5432,
		MasterUsername: "postgres",
		DatabaseName:   "app",
		CreateTime:     t0,
		ResourceID:     "cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ",
	}}
}

func testInstances() []export.DBInstance {
	return []export.DBInstance{{
		Identifier:       "my-mysql",
		AccountID:        "123456789012",
		Engine:           "mysql",
		EngineVersion:    "8.0.36",
		Status:           "available",
		Address:          "127.0.0.1",
		Port:             3306,
		MasterUsername:   "root",
		DBName:           "shop",
		CreateTime:       t0,
		ResourceID:       "db-ABCDEFGHIJKLMNOPQRSTUVWXY",
		AllocatedStorage: 20,
	}, {
		Identifier:        "pg-main-1",
		Engine:            "aurora-postgresql",
		EngineVersion:     "16.4",
		Status:            "available",
		Address:           "127.0.0.1",
		Port:              5432,
		MasterUsername:    "postgres",
		DBName:            "app",
		CreateTime:        t1,
		ResourceID:        "db-ZYXWVUTSRQPONMLKJIHGFEDCBA",
		ClusterIdentifier: "pg-main",
	}}
}

// availableSnapshot is a DB snapshot with every field the wire shows set.
func availableSnapshot() *export.Snapshot {
	return &export.Snapshot{
		Kind:             export.SnapshotKindDB,
		Identifier:       "mydbsnapshot",
		AccountID:        "123456789012",
		Region:           "us-east-1",
		SourceIdentifier: "my-mysql",
		Engine:           "mysql",
		EngineVersion:    "8.0.36",
		Status:           export.SnapshotAvailable,
		PercentProgress:  100,
		Type:             export.SnapshotTypeManual,
		CreateTime:       t2,
		SourceCreateTime: t0,
		AllocatedStorage: 20,
		Port:             3306,
		MasterUsername:   "root",
		Tags:             []export.Tag{{Key: "env", Value: "dev & <test>"}, {Key: "empty", Value: ""}},
		SourceResourceID: "db-ABCDEFGHIJKLMNOPQRSTUVWXY",
		Seq:              7,
	}
}

// creatingSnapshot is a DB snapshot just accepted: no SnapshotCreateTime,
// no tags, an automated-style identifier of a PostgreSQL instance.
func creatingSnapshot() *export.Snapshot {
	s := availableSnapshot()
	s.Identifier = "rds:solo-2024-01-02-03-04"
	s.SourceIdentifier = "Solo"
	s.Engine = "postgres"
	s.EngineVersion = "16.4"
	s.Port = 5432
	s.MasterUsername = "postgres"
	s.Status = export.SnapshotCreating
	s.PercentProgress = 0
	s.Type = export.SnapshotTypeAutomated
	s.CreateTime = time.Time{}
	s.Tags = nil
	return s
}

// clusterSnapshot is an available DB cluster snapshot of pg-main.
func clusterSnapshot() *export.Snapshot {
	return &export.Snapshot{
		Kind:             export.SnapshotKindCluster,
		Identifier:       "nightly",
		AccountID:        "123456789012",
		Region:           "eu-west-1",
		SourceIdentifier: "pg-main",
		Engine:           "aurora-postgresql",
		EngineVersion:    "16.4",
		Status:           export.SnapshotAvailable,
		PercentProgress:  100,
		Type:             export.SnapshotTypeManual,
		CreateTime:       t1,
		SourceCreateTime: t0,
		AllocatedStorage: 1,
		Port:             5432,
		MasterUsername:   "postgres",
		Tags:             []export.Tag{{Key: "team", Value: "data"}},
		SourceResourceID: "cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ",
	}
}

// newHandler returns a handler over f with a fixed request ID and a logger
// writing into logs.
func newHandler(f *fakeService, logs *bytes.Buffer) *awsquery.Handler {
	h := &awsquery.Handler{
		Service:      f,
		NewRequestID: func() string { return testRequestID },
	}
	if logs != nil {
		h.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	return h
}

// serve runs one form POST through h with a caller in the context.
func serve(h http.Handler, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	r = r.WithContext(export.WithCaller(r.Context(), export.Caller{
		AccessKeyID: "AKIDEXAMPLE", AccountID: "123456789012", Region: "us-east-1",
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// checkGolden compares got with testdata/<dir>/<name>.xml, or rewrites the
// file with -update.
func checkGolden(t *testing.T, dir, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", dir, name+".xml")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the response:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

type goldenCase struct {
	dir, name string
	body      string
	setup     func(f *fakeService)
	status    int
}

func errCase(dir, query string, code, msg string, status int) goldenCase {
	return goldenCase{
		dir: dir, name: code, body: query, status: status,
		setup: func(f *fakeService) { f.err = export.Errorf(code, "%s", msg) },
	}
}

const (
	startQuery    = "Action=StartExportTask&Version=2014-10-31&ExportTaskIdentifier=my-exp&SourceArn=arn%3Aaws%3Ards%3Aus-east-1%3A123456789012%3Asnapshot%3As1&S3BucketName=bkt&IamRoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fr&KmsKeyId=k&S3Prefix=p%2Fq&ExportOnly.member.1=db1&ExportOnly.member.2=db2.public.t1"
	describeQuery = "Action=DescribeExportTasks&Version=2014-10-31"
	cancelQuery   = "Action=CancelExportTask&Version=2014-10-31&ExportTaskIdentifier=my-exp"
	clustersQuery = "Action=DescribeDBClusters&Version=2014-10-31"
	instanceQuery = "Action=DescribeDBInstances&Version=2014-10-31"

	createSnapshotQuery          = "Action=CreateDBSnapshot&Version=2014-10-31&DBSnapshotIdentifier=mydbsnapshot&DBInstanceIdentifier=my-mysql&Tags.Tag.1.Key=env&Tags.Tag.1.Value=dev"
	describeSnapshotsQuery       = "Action=DescribeDBSnapshots&Version=2014-10-31"
	deleteSnapshotQuery          = "Action=DeleteDBSnapshot&Version=2014-10-31&DBSnapshotIdentifier=mydbsnapshot"
	createClusterSnapshotQuery   = "Action=CreateDBClusterSnapshot&Version=2014-10-31&DBClusterSnapshotIdentifier=nightly&DBClusterIdentifier=pg-main"
	describeClusterSnapshotQuery = "Action=DescribeDBClusterSnapshots&Version=2014-10-31"
	deleteClusterSnapshotQuery   = "Action=DeleteDBClusterSnapshot&Version=2014-10-31&DBClusterSnapshotIdentifier=nightly"
)

func goldenCases() []goldenCase {
	cs := []goldenCase{
		{dir: "StartExportTask", name: "OK", body: startQuery, status: 200,
			setup: func(f *fakeService) { f.task = startingTask() }},
		{dir: "DescribeExportTasks", name: "OK", body: describeQuery, status: 200,
			setup: func(f *fakeService) {
				f.tasks = &service.DescribeExportTasksOutput{ExportTasks: []*export.Task{
					startingTask(), completeTask(), failedTask(), clusterTask(),
				}}
			}},
		{dir: "DescribeExportTasks", name: "Marker", body: describeQuery + "&MaxRecords=20", status: 200,
			setup: func(f *fakeService) {
				f.tasks = &service.DescribeExportTasksOutput{ExportTasks: []*export.Task{completeTask()}, Marker: "eyJrIjoibXktZXhwIn0"}
			}},
		{dir: "DescribeExportTasks", name: "Empty", body: describeQuery + "&ExportTaskIdentifier=nothing", status: 200,
			setup: func(f *fakeService) { f.tasks = &service.DescribeExportTasksOutput{} }},
		{dir: "DescribeExportTasks", name: "InvalidParameterValue-MaxRecords", body: describeQuery + "&MaxRecords=many", status: 400},
		{dir: "CancelExportTask", name: "OK", body: cancelQuery, status: 200,
			setup: func(f *fakeService) {
				t := startingTask()
				t.Status = export.StatusCanceling
				f.task = t
			}},
		{dir: "DescribeDBClusters", name: "OK", body: clustersQuery, status: 200,
			setup: func(f *fakeService) { f.clusters = &service.DescribeDBClustersOutput{DBClusters: testClusters()} }},
		{dir: "DescribeDBClusters", name: "Empty", body: clustersQuery, status: 200,
			setup: func(f *fakeService) { f.clusters = &service.DescribeDBClustersOutput{} }},
		{dir: "DescribeDBInstances", name: "OK", body: instanceQuery, status: 200,
			setup: func(f *fakeService) {
				f.instances = &service.DescribeDBInstancesOutput{DBInstances: testInstances(), Marker: "next"}
			}},
		{dir: "Handler", name: "MissingAction", body: "Version=2014-10-31", status: 400},
		{dir: "Handler", name: "InvalidAction", body: "Action=DeleteDBInstance&Version=2014-10-31", status: 400},
		{dir: "Handler", name: "InvalidParameterValue-Version", body: "Action=DescribeExportTasks&Version=2013-09-09", status: 400},
		{dir: "Handler", name: "MalformedQueryString", body: "Action=DescribeExportTasks&Marker=%zz", status: 404},
		{dir: "Handler", name: "InvalidParameterValue-UTF8", body: "Action=DescribeExportTasks&Marker=%FFabc", status: 400},
		{dir: "Handler", name: "InvalidParameterValue-UTF8Name", body: "Action=StartExportTask&S3Prefix%FF=x&S3Prefix=%C3%28", status: 400},
		{dir: "Handler", name: "InternalFailure", body: describeQuery, status: 500,
			setup: func(f *fakeService) { f.err = errors.New("database is on fire: password=hunter2") }},
		{dir: "Handler", name: "InternalFailure-Panic", body: describeQuery, status: 500,
			setup: func(f *fakeService) { f.panicWith = "boom" }},
		errCase("Handler", describeQuery, export.CodeServiceUnavailable, "The service is shutting down.", 503),
		errCase("Handler", describeQuery, export.CodeThrottling, "Rate exceeded", 400),
	}
	for _, e := range []struct {
		code, msg string
		status    int
	}{
		{export.CodeMissingParameter, "The request must contain the parameter ExportTaskIdentifier", 400},
		{export.CodeInvalidParameterValue, "The parameter ExportTaskIdentifier is not a valid identifier. Identifiers must begin with a letter; must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens.", 400},
		{export.CodeDBSnapshotNotFound, "DBSnapshot s1 not found.", 404},
		{export.CodeDBClusterSnapshotNotFound, "DBClusterSnapshot cs1 not found.", 404},
		{export.CodeDBClusterNotFound, "DBCluster c1 not found.", 404},
		{export.CodeExportTaskAlreadyExists, "The export task with the ID my-exp already exists.", 400},
		{export.CodeInvalidExportSourceState, "The source snapshot s1 is not in the available state.", 400},
		{export.CodeInvalidExportOnly, "The ExportOnly entry a.b.c.d is not valid.", 400},
		{export.CodeInvalidS3Bucket, "The S3 bucket bkt doesn't exist.", 400},
		{export.CodeIamRoleNotFound, "The IAM role arn:aws:iam::123456789012:role/r is not found.", 404},
		{export.CodeIamRoleMissingPermissions, "The IAM role lacks the required permissions.", 400},
		{export.CodeKMSKeyNotAccessible, "The KMS key k is not accessible.", 400},
	} {
		cs = append(cs, errCase("StartExportTask", startQuery, e.code, e.msg, e.status))
	}
	cs = append(cs,
		errCase("DescribeExportTasks", describeQuery, export.CodeInvalidParameterValue, "Unrecognized filter name: owner", 400),
		errCase("DescribeExportTasks", describeQuery, export.CodeExportTaskNotFound, "The export task with the ID my-exp is not found.", 404),
		errCase("CancelExportTask", cancelQuery, export.CodeExportTaskNotFound, "The export task with the ID my-exp is not found.", 404),
		errCase("CancelExportTask", cancelQuery, export.CodeInvalidExportTaskState, "Cannot cancel export task my-exp because it is in state COMPLETE.", 400),
		errCase("CancelExportTask", "Action=CancelExportTask&Version=2014-10-31", export.CodeMissingParameter, "The request must contain the parameter ExportTaskIdentifier", 400),
		errCase("DescribeDBClusters", clustersQuery, export.CodeDBClusterNotFound, "DBCluster nope not found.", 404),
		errCase("DescribeDBClusters", clustersQuery, export.CodeInvalidParameterValue, "Invalid value 5 for MaxRecords. Must be between 20 and 100", 400),
		errCase("DescribeDBInstances", instanceQuery, export.CodeDBInstanceNotFound, "DBInstance nope not found.", 404),
		errCase("DescribeDBInstances", instanceQuery, export.CodeInvalidParameterValue, "Unrecognized filter name: owner", 400),
	)
	cs = append(cs, eventGoldenCases()...)
	return append(cs, snapshotGoldenCases()...)
}

func TestHandler_Golden(t *testing.T) {
	for _, c := range goldenCases() {
		t.Run(c.dir+"/"+c.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeService{}
			if c.setup != nil {
				c.setup(f)
			}
			var logs bytes.Buffer
			w := serve(newHandler(f, &logs), c.body)
			if w.Code != c.status {
				t.Errorf("status = %d, want %d", w.Code, c.status)
			}
			if got := w.Header().Get("Content-Type"); got != "text/xml" {
				t.Errorf("Content-Type = %q", got)
			}
			if got := w.Header().Get("X-Amzn-Requestid"); got != testRequestID {
				t.Errorf("x-amzn-RequestId = %q", got)
			}
			if strings.Contains(w.Body.String(), "hunter2") || strings.Contains(w.Body.String(), "boom") {
				t.Error("response leaks an internal error")
			}
			if c.status == 500 && !strings.Contains(logs.String(), "request_id="+testRequestID) {
				t.Errorf("internal failure not logged with request_id: %q", logs.String())
			}
			if c.status != 500 && logs.Len() != 0 {
				t.Errorf("unexpected log output: %q", logs.String())
			}
			checkGolden(t, c.dir, c.name, w.Body.Bytes())
		})
	}
}

func TestWriteError(t *testing.T) {
	for _, c := range []struct {
		name   string
		err    error
		status int
	}{
		{"MissingAuthenticationToken", export.Errorf(export.CodeMissingAuthenticationToken, "Request is missing Authentication Token"), 403},
		{"InvalidClientTokenId", export.Errorf(export.CodeInvalidClientTokenID, "The security token included in the request is invalid."), 403},
		{"SignatureDoesNotMatch", export.Errorf(export.CodeSignatureDoesNotMatch, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."), 403},
		{"IncompleteSignature", export.Errorf(export.CodeIncompleteSignature, "Authorization header requires 'Signature' parameter."), 400},
		{"RequestExpired", export.Errorf(export.CodeRequestExpired, "Signature expired: 20240102T030405Z is now earlier than 20240102T032000Z (20240102T033500Z - 15 min.)"), 403},
		{"InternalFailure", errors.New("secret detail"), 500},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			awsquery.WriteError(w, testRequestID, c.err)
			if w.Code != c.status {
				t.Errorf("status = %d, want %d", w.Code, c.status)
			}
			if w.Header().Get("X-Amzn-Requestid") != testRequestID {
				t.Error("missing x-amzn-RequestId")
			}
			checkGolden(t, "WriteError", c.name, w.Body.Bytes())
		})
	}
}

func TestStatusCode(t *testing.T) {
	for code, want := range map[string]int{
		export.CodeDBClusterNotFound:          404,
		export.CodeDBClusterSnapshotNotFound:  404,
		export.CodeDBInstanceNotFound:         404,
		export.CodeDBSnapshotNotFound:         404,
		export.CodeExportTaskNotFound:         404,
		export.CodeIamRoleNotFound:            404,
		export.CodeMissingAuthenticationToken: 403,
		export.CodeInvalidClientTokenID:       403,
		export.CodeSignatureDoesNotMatch:      403,
		export.CodeRequestExpired:             403,
		export.CodeIncompleteSignature:        400,
		export.CodeInternalFailure:            500,
		export.CodeServiceUnavailable:         503,
		export.CodeExportTaskAlreadyExists:    400,
		export.CodeInvalidExportTaskState:     400,
		export.CodeThrottling:                 400,
		"SomethingNew":                        400,
	} {
		if got := awsquery.StatusCode(code); got != want {
			t.Errorf("StatusCode(%s) = %d, want %d", code, got, want)
		}
	}
}

// snapshotGoldenCases are the golden cases of the six snapshot operations:
// each success and each error the service returns for it.
const describeEventsQuery = "Action=DescribeEvents&Version=2014-10-31"

func eventGoldenCases() []goldenCase {
	return []goldenCase{
		{dir: "DescribeEvents", name: "OK", body: describeEventsQuery + "&Duration=1440", status: 200,
			setup: func(f *fakeService) { f.events = &service.DescribeEventsOutput{Events: testEvents()} }},
		{dir: "DescribeEvents", name: "Marker", body: describeEventsQuery + "&MaxRecords=20&SourceType=db-snapshot&SourceIdentifier=mydbsnapshot" +
			"&StartTime=2025-01-31T00%3A00Z&EndTime=2025-02-01T00%3A00%3A00Z&EventCategories.EventCategory.1=creation", status: 200,
			setup: func(f *fakeService) {
				f.events = &service.DescribeEventsOutput{Events: testEvents()[:1], Marker: "MQ"}
			}},
		{dir: "DescribeEvents", name: "Empty", body: describeEventsQuery, status: 200,
			setup: func(f *fakeService) { f.events = &service.DescribeEventsOutput{} }},
		{dir: "DescribeEvents", name: "InvalidParameterValue-StartTime", body: describeEventsQuery + "&StartTime=yesterday", status: 400},
		{dir: "DescribeEvents", name: "InvalidParameterValue-Duration", body: describeEventsQuery + "&Duration=an-hour", status: 400},
		errCase("DescribeEvents", describeEventsQuery, export.CodeInvalidParameterValue, "Invalid value 5 for MaxRecords. Must be between 20 and 100", 400),
		errCase("DescribeEvents", describeEventsQuery+"&SourceIdentifier=x", export.CodeInvalidParameterCombination, "Cannot specify SourceIdentifier without SourceType.", 400),
	}
}

func snapshotGoldenCases() []goldenCase {
	deleted := availableSnapshot()
	deleted.Status = export.SnapshotDeleted
	creatingCluster := clusterSnapshot()
	creatingCluster.Status = export.SnapshotCreating
	creatingCluster.PercentProgress = 0
	creatingCluster.CreateTime = time.Time{}
	creatingCluster.Tags = nil
	mysqlCluster := clusterSnapshot()
	mysqlCluster.Identifier = "rds:my-main-2024-01-02-03-04"
	mysqlCluster.SourceIdentifier = "my-main"
	mysqlCluster.Engine = "mysql"
	mysqlCluster.Region = ""
	mysqlCluster.Type = export.SnapshotTypeAutomated
	mysqlCluster.Port = 0
	cs := []goldenCase{
		{dir: "CreateDBSnapshot", name: "OK", body: createSnapshotQuery, status: 200,
			setup: func(f *fakeService) { f.snapshot = creatingSnapshot() }},
		{dir: "CreateDBSnapshot", name: "InvalidParameterValue-Tags", body: createSnapshotQuery + "&Tags.Tag.01.Key=x", status: 400},
		{dir: "DescribeDBSnapshots", name: "OK", body: describeSnapshotsQuery, status: 200,
			setup: func(f *fakeService) {
				f.snapshots = &service.DescribeDBSnapshotsOutput{DBSnapshots: []*export.Snapshot{availableSnapshot(), creatingSnapshot()}}
			}},
		{dir: "DescribeDBSnapshots", name: "Marker", body: describeSnapshotsQuery + "&MaxRecords=20", status: 200,
			setup: func(f *fakeService) {
				f.snapshots = &service.DescribeDBSnapshotsOutput{DBSnapshots: []*export.Snapshot{availableSnapshot()}, Marker: "Nw"}
			}},
		{dir: "DescribeDBSnapshots", name: "Empty", body: describeSnapshotsQuery + "&SnapshotType=shared", status: 200,
			setup: func(f *fakeService) { f.snapshots = &service.DescribeDBSnapshotsOutput{} }},
		{dir: "DescribeDBSnapshots", name: "InvalidParameterValue-IncludeShared", body: describeSnapshotsQuery + "&IncludeShared=yes", status: 400},
		{dir: "DeleteDBSnapshot", name: "OK", body: deleteSnapshotQuery, status: 200,
			setup: func(f *fakeService) { f.snapshot = deleted }},
		{dir: "CreateDBClusterSnapshot", name: "OK", body: createClusterSnapshotQuery, status: 200,
			setup: func(f *fakeService) { f.snapshot = creatingCluster }},
		{dir: "DescribeDBClusterSnapshots", name: "OK", body: describeClusterSnapshotQuery, status: 200,
			setup: func(f *fakeService) {
				f.clusterSn = &service.DescribeDBClusterSnapshotsOutput{DBClusterSnapshots: []*export.Snapshot{clusterSnapshot(), mysqlCluster}, Marker: "OA"}
			}},
		{dir: "DescribeDBClusterSnapshots", name: "Empty", body: describeClusterSnapshotQuery, status: 200,
			setup: func(f *fakeService) { f.clusterSn = &service.DescribeDBClusterSnapshotsOutput{} }},
		{dir: "DeleteDBClusterSnapshot", name: "OK", body: deleteClusterSnapshotQuery, status: 200,
			setup: func(f *fakeService) { f.snapshot = clusterSnapshot() }},
	}
	type e struct {
		code, msg string
		status    int
	}
	for dir, errs := range map[string]struct {
		query string
		errs  []e
	}{
		"CreateDBSnapshot": {createSnapshotQuery, []e{
			{export.CodeMissingParameter, "The request must contain the parameter DBSnapshotIdentifier", 400},
			{export.CodeInvalidParameterValue, "The parameter DBSnapshotIdentifier is not a valid identifier. Identifiers must begin with a letter; must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens.", 400},
			{export.CodeDBInstanceNotFound, "DBInstance my-mysql not found.", 404},
			{export.CodeInvalidDBInstanceState, "Cannot create a snapshot because the database instance my-mysql is not currently in the available state.", 400},
			{export.CodeSnapshotQuotaExceeded, "Cannot create the snapshot because the maximum number of manual DBSnapshots (100) has been reached.", 400},
			{export.CodeDBSnapshotAlreadyExists, "Cannot create the snapshot because a snapshot with the identifier mydbsnapshot already exists.", 400},
		}},
		"DescribeDBSnapshots": {describeSnapshotsQuery, []e{
			{export.CodeDBSnapshotNotFound, "DBSnapshot mydbsnapshot not found.", 404},
			{export.CodeInvalidParameterValue, "Unrecognized filter name: status", 400},
		}},
		"DeleteDBSnapshot": {deleteSnapshotQuery, []e{
			{export.CodeMissingParameter, "The request must contain the parameter DBSnapshotIdentifier", 400},
			{export.CodeDBSnapshotNotFound, "DBSnapshot mydbsnapshot not found.", 404},
			{export.CodeInvalidDBSnapshotState, "Cannot delete the snapshot mydbsnapshot because its status is creating; only available snapshots can be deleted.", 400},
		}},
		"CreateDBClusterSnapshot": {createClusterSnapshotQuery, []e{
			{export.CodeMissingParameter, "The request must contain the parameter DBClusterIdentifier", 400},
			{export.CodeInvalidParameterValue, "The parameter DBClusterSnapshotIdentifier is not a valid identifier. Identifiers must begin with a letter; must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens.", 400},
			{export.CodeDBClusterNotFound, "DBCluster pg-main not found.", 404},
			{export.CodeInvalidDBClusterState, "Cannot create a snapshot because the DB cluster pg-main is not currently in the available state.", 400},
			{export.CodeSnapshotQuotaExceeded, "Cannot create the snapshot because the maximum number of manual DBClusterSnapshots (100) has been reached.", 400},
			{export.CodeDBClusterSnapshotAlreadyExists, "Cannot create the cluster snapshot because one with the identifier nightly already exists.", 400},
		}},
		"DescribeDBClusterSnapshots": {describeClusterSnapshotQuery, []e{
			{export.CodeDBClusterSnapshotNotFound, "DBClusterSnapshot nightly not found.", 404},
			{export.CodeInvalidParameterCombination, "DBClusterIdentifier and DBClusterSnapshotIdentifier cannot be used together.", 400},
			{export.CodeInvalidParameterValue, "Invalid value 5 for MaxRecords. Must be between 20 and 100", 400},
		}},
		"DeleteDBClusterSnapshot": {deleteClusterSnapshotQuery, []e{
			{export.CodeMissingParameter, "The request must contain the parameter DBClusterSnapshotIdentifier", 400},
			{export.CodeDBClusterSnapshotNotFound, "DBClusterSnapshot nightly not found.", 404},
			{export.CodeInvalidDBClusterSnapshotState, "Cannot delete the snapshot nightly because the export task exp is reading it (status IN_PROGRESS).", 400},
		}},
	} {
		for _, x := range errs.errs {
			cs = append(cs, errCase(dir, errs.query, x.code, x.msg, x.status))
		}
	}
	return cs
}
