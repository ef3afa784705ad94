package awsquery_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/smithy-go"

	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/service"
)

// newSDKClient starts the handler over f behind httptest and returns a real
// RDS client pointed at it.
func newSDKClient(t *testing.T, f *fakeService) *rds.Client {
	t.Helper()
	h := newHandler(f, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Stand-in for signature verification: the caller comes from the
		// credential scope.
		r = r.WithContext(export.WithCaller(r.Context(), export.Caller{
			AccessKeyID: "AKIDEXAMPLE", AccountID: "123456789012", Region: "us-east-1",
		}))
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return rds.New(rds.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}, nil
		}),
		RetryMaxAttempts: 1,
		HTTPClient:       srv.Client(),
	})
}

func checkTask(t *testing.T, got *types.ExportTask, want *export.Task) {
	t.Helper()
	if got == nil {
		t.Fatal("no task")
	}
	check := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", name, got, want)
		}
	}
	check("ExportTaskIdentifier", aws.ToString(got.ExportTaskIdentifier), want.Identifier)
	check("SourceArn", aws.ToString(got.SourceArn), want.SourceArn)
	check("ExportOnly", got.ExportOnly, want.ExportOnly)
	check("SnapshotTime", aws.ToTime(got.SnapshotTime), want.SnapshotTime.UTC())
	check("TaskStartTime", aws.ToTime(got.TaskStartTime), want.TaskStartTime.UTC())
	if want.TaskEndTime.IsZero() {
		check("TaskEndTime", got.TaskEndTime, (*time.Time)(nil))
	} else {
		check("TaskEndTime", aws.ToTime(got.TaskEndTime), want.TaskEndTime.UTC())
	}
	check("S3Bucket", aws.ToString(got.S3Bucket), want.S3Bucket)
	check("S3Prefix", got.S3Prefix, aws.String(want.S3Prefix))
	check("IamRoleArn", aws.ToString(got.IamRoleArn), want.IamRoleArn)
	check("KmsKeyId", aws.ToString(got.KmsKeyId), want.KmsKeyID)
	check("Status", aws.ToString(got.Status), string(want.Status))
	check("PercentProgress", got.PercentProgress, aws.Int32(int32(want.PercentProgress)))
	check("TotalExtractedDataInGB", got.TotalExtractedDataInGB, aws.Int32(int32(want.TotalExtractedDataInGB())))
	check("FailureCause", aws.ToString(got.FailureCause), want.FailureCause)
	check("WarningMessage", aws.ToString(got.WarningMessage), want.WarningMessage)
	check("SourceType", string(got.SourceType), string(want.SourceType))
}

func TestSDK_StartExportTask(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		f := &fakeService{task: startingTask()}
		c := newSDKClient(t, f)
		out, err := c.StartExportTask(t.Context(), &rds.StartExportTaskInput{
			ExportTaskIdentifier: aws.String("my-exp"),
			SourceArn:            aws.String("arn:aws:rds:us-east-1:123456789012:snapshot:s1"),
			S3BucketName:         aws.String("bkt"),
			IamRoleArn:           aws.String("arn:aws:iam::123456789012:role/r"),
			KmsKeyId:             aws.String("k"),
			S3Prefix:             aws.String("p/q r+s"),
			ExportOnly:           []string{"db1", "db2.public.t1", "a&b=c"},
		})
		if err != nil {
			t.Fatal(err)
		}
		want := service.StartExportTaskInput{
			ExportTaskIdentifier: "my-exp",
			SourceArn:            "arn:aws:rds:us-east-1:123456789012:snapshot:s1",
			S3BucketName:         "bkt",
			IamRoleArn:           "arn:aws:iam::123456789012:role/r",
			KmsKeyId:             "k",
			S3Prefix:             aws.String("p/q r+s"),
			ExportOnly:           []string{"db1", "db2.public.t1", "a&b=c"},
		}
		if got := f.input(); !reflect.DeepEqual(got, want) {
			t.Errorf("service got %#v, want %#v", got, want)
		}
		tk := types.ExportTask{
			ExportTaskIdentifier: out.ExportTaskIdentifier, SourceArn: out.SourceArn, ExportOnly: out.ExportOnly,
			SnapshotTime: out.SnapshotTime, TaskStartTime: out.TaskStartTime, TaskEndTime: out.TaskEndTime,
			S3Bucket: out.S3Bucket, S3Prefix: out.S3Prefix, IamRoleArn: out.IamRoleArn, KmsKeyId: out.KmsKeyId,
			Status: out.Status, PercentProgress: out.PercentProgress, TotalExtractedDataInGB: out.TotalExtractedDataInGB,
			FailureCause: out.FailureCause, WarningMessage: out.WarningMessage, SourceType: out.SourceType,
		}
		checkTask(t, &tk, startingTask())
		if id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata); id != testRequestID {
			t.Errorf("request id = %q", id)
		}
	})
	t.Run("ExportOnlyEmpty", func(t *testing.T) {
		f := &fakeService{task: startingTask()}
		c := newSDKClient(t, f)
		_, err := c.StartExportTask(t.Context(), &rds.StartExportTaskInput{
			ExportTaskIdentifier: aws.String("e"), SourceArn: aws.String("s"), S3BucketName: aws.String("b"),
			IamRoleArn: aws.String("r"), KmsKeyId: aws.String("k"), ExportOnly: []string{},
		})
		if err != nil {
			t.Fatal(err)
		}
		in := f.input().(service.StartExportTaskInput)
		if in.ExportOnly == nil || len(in.ExportOnly) != 0 {
			t.Errorf("ExportOnly = %#v, want empty non-nil", in.ExportOnly)
		}
		if in.S3Prefix != nil {
			t.Errorf("S3Prefix = %q, want absent", *in.S3Prefix)
		}
	})
	t.Run("ExportOnlyAbsent", func(t *testing.T) {
		f := &fakeService{task: startingTask()}
		c := newSDKClient(t, f)
		_, err := c.StartExportTask(t.Context(), &rds.StartExportTaskInput{
			ExportTaskIdentifier: aws.String("e"), SourceArn: aws.String("s"), S3BucketName: aws.String("b"),
			IamRoleArn: aws.String("r"), KmsKeyId: aws.String("k"),
		})
		if err != nil {
			t.Fatal(err)
		}
		if in := f.input().(service.StartExportTaskInput); in.ExportOnly != nil {
			t.Errorf("ExportOnly = %#v, want nil", in.ExportOnly)
		}
	})

	start := func(c *rds.Client) error {
		_, err := c.StartExportTask(context.Background(), &rds.StartExportTaskInput{
			ExportTaskIdentifier: aws.String("e"), SourceArn: aws.String("s"), S3BucketName: aws.String("b"),
			IamRoleArn: aws.String("r"), KmsKeyId: aws.String("k"),
		})
		return err
	}
	for _, c := range []struct {
		code   string
		target any
	}{
		{export.CodeDBSnapshotNotFound, new(*types.DBSnapshotNotFoundFault)},
		{export.CodeDBClusterSnapshotNotFound, new(*types.DBClusterSnapshotNotFoundFault)},
		{export.CodeDBClusterNotFound, new(*types.DBClusterNotFoundFault)},
		{export.CodeExportTaskAlreadyExists, new(*types.ExportTaskAlreadyExistsFault)},
		{export.CodeInvalidExportSourceState, new(*types.InvalidExportSourceStateFault)},
		{export.CodeInvalidExportOnly, new(*types.InvalidExportOnlyFault)},
		{export.CodeInvalidS3Bucket, new(*types.InvalidS3BucketFault)},
		{export.CodeIamRoleNotFound, new(*types.IamRoleNotFoundFault)},
		{export.CodeIamRoleMissingPermissions, new(*types.IamRoleMissingPermissionsFault)},
		{export.CodeKMSKeyNotAccessible, new(*types.KMSKeyNotAccessibleFault)},
		{export.CodeMissingParameter, nil},
		{export.CodeInvalidParameterValue, nil},
	} {
		t.Run(c.code, func(t *testing.T) {
			f := &fakeService{err: export.Errorf(c.code, "message for %s", c.code)}
			checkSDKError(t, start(newSDKClient(t, f)), c.code, "message for "+c.code, c.target)
		})
	}
}

// checkSDKError asserts that the SDK parsed err into the typed fault target
// points to (nil for unmodeled codes), with the code, message, fault and
// request ID the server sent.
func checkSDKError(t *testing.T, err error, code, msg string, target any) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	if target != nil && !errors.As(err, target) {
		t.Errorf("error %T %v is not %T", err, err, target)
	}
	var api smithy.APIError
	if !errors.As(err, &api) {
		t.Fatalf("error %v is not a smithy.APIError", err)
	}
	if api.ErrorCode() != code || api.ErrorMessage() != msg {
		t.Errorf("got %s %q, want %s %q", api.ErrorCode(), api.ErrorMessage(), code, msg)
	}
	wantFault := smithy.FaultClient
	if code == export.CodeInternalFailure || code == export.CodeServiceUnavailable {
		wantFault = smithy.FaultServer
	}
	if target != nil && api.ErrorFault() != wantFault {
		t.Errorf("fault = %v, want %v", api.ErrorFault(), wantFault)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.ServiceRequestID() != testRequestID {
		t.Errorf("request id not parsed from %v", err)
	}
}

func TestSDK_DescribeExportTasks(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		want := []*export.Task{startingTask(), completeTask(), failedTask(), clusterTask()}
		f := &fakeService{tasks: &service.DescribeExportTasksOutput{ExportTasks: want, Marker: "m2"}}
		c := newSDKClient(t, f)
		out, err := c.DescribeExportTasks(t.Context(), &rds.DescribeExportTasksInput{
			ExportTaskIdentifier: aws.String("my-exp"),
			SourceArn:            aws.String("arn:aws:rds:us-east-1:123456789012:snapshot:s1"),
			Filters: []types.Filter{
				{Name: aws.String("status"), Values: []string{"complete", "failed"}},
				{Name: aws.String("s3-bucket"), Values: []string{"bkt"}},
				{Name: aws.String("source-arn"), Values: []string{}},
			},
			Marker:     aws.String("m1"),
			MaxRecords: aws.Int32(20),
			SourceType: types.ExportSourceTypeSnapshot,
		})
		if err != nil {
			t.Fatal(err)
		}
		wantIn := service.DescribeExportTasksInput{
			ExportTaskIdentifier: aws.String("my-exp"),
			SourceArn:            aws.String("arn:aws:rds:us-east-1:123456789012:snapshot:s1"),
			Filters: []service.Filter{
				{Name: "status", Values: []string{"complete", "failed"}},
				{Name: "s3-bucket", Values: []string{"bkt"}},
				{Name: "source-arn", Values: []string{}},
			},
			Marker:     aws.String("m1"),
			MaxRecords: aws.Int(20),
			SourceType: aws.String("SNAPSHOT"),
		}
		if got := f.input(); !reflect.DeepEqual(got, wantIn) {
			t.Errorf("service got %#v, want %#v", got, wantIn)
		}
		if len(out.ExportTasks) != len(want) {
			t.Fatalf("got %d tasks, want %d", len(out.ExportTasks), len(want))
		}
		for i := range want {
			checkTask(t, &out.ExportTasks[i], want[i])
		}
		if aws.ToString(out.Marker) != "m2" {
			t.Errorf("Marker = %v", out.Marker)
		}
	})
	t.Run("Empty", func(t *testing.T) {
		f := &fakeService{tasks: &service.DescribeExportTasksOutput{}}
		out, err := newSDKClient(t, f).DescribeExportTasks(t.Context(), &rds.DescribeExportTasksInput{})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.ExportTasks) != 0 || out.Marker != nil {
			t.Errorf("got %#v", out)
		}
		if got := f.input(); !reflect.DeepEqual(got, service.DescribeExportTasksInput{}) {
			t.Errorf("service got %#v", got)
		}
	})
	for _, c := range []struct {
		code   string
		target any
	}{
		{export.CodeExportTaskNotFound, new(*types.ExportTaskNotFoundFault)},
		{export.CodeInvalidParameterValue, nil},
		{export.CodeThrottling, nil},
		{export.CodeInternalFailure, nil},
		{export.CodeServiceUnavailable, nil},
	} {
		t.Run(c.code, func(t *testing.T) {
			f := &fakeService{err: export.Errorf(c.code, "message for %s", c.code)}
			_, err := newSDKClient(t, f).DescribeExportTasks(t.Context(), &rds.DescribeExportTasksInput{})
			checkSDKError(t, err, c.code, "message for "+c.code, c.target)
		})
	}
	t.Run("Internal", func(t *testing.T) {
		f := &fakeService{err: errors.New("secret")}
		_, err := newSDKClient(t, f).DescribeExportTasks(t.Context(), &rds.DescribeExportTasksInput{})
		checkSDKError(t, err, export.CodeInternalFailure, "An internal error has occurred. Please try your request again later.", nil)
	})
}

func TestSDK_CancelExportTask(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		task := startingTask()
		task.Status = export.StatusCanceling
		f := &fakeService{task: task}
		out, err := newSDKClient(t, f).CancelExportTask(t.Context(), &rds.CancelExportTaskInput{ExportTaskIdentifier: aws.String("my-exp")})
		if err != nil {
			t.Fatal(err)
		}
		if got := f.input(); got != "my-exp" {
			t.Errorf("service got %#v", got)
		}
		if aws.ToString(out.Status) != "CANCELING" || aws.ToString(out.ExportTaskIdentifier) != "my-exp" {
			t.Errorf("got %v %v", aws.ToString(out.Status), aws.ToString(out.ExportTaskIdentifier))
		}
	})
	for _, c := range []struct {
		code   string
		target any
	}{
		{export.CodeExportTaskNotFound, new(*types.ExportTaskNotFoundFault)},
		{export.CodeInvalidExportTaskState, new(*types.InvalidExportTaskStateFault)},
	} {
		t.Run(c.code, func(t *testing.T) {
			f := &fakeService{err: export.Errorf(c.code, "message for %s", c.code)}
			_, err := newSDKClient(t, f).CancelExportTask(t.Context(), &rds.CancelExportTaskInput{ExportTaskIdentifier: aws.String("x")})
			checkSDKError(t, err, c.code, "message for "+c.code, c.target)
		})
	}
}

func TestSDK_DescribeDBClusters(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		f := &fakeService{clusters: &service.DescribeDBClustersOutput{DBClusters: testClusters(), Marker: "n"}}
		out, err := newSDKClient(t, f).DescribeDBClusters(t.Context(), &rds.DescribeDBClustersInput{
			DBClusterIdentifier: aws.String("pg-main"),
			Filters:             []types.Filter{{Name: aws.String("engine"), Values: []string{"aurora-postgresql"}}},
			IncludeShared:       aws.Bool(true),
			MaxRecords:          aws.Int32(100),
			Marker:              aws.String("m"),
		})
		if err != nil {
			t.Fatal(err)
		}
		wantIn := service.DescribeDBClustersInput{
			DBClusterIdentifier: aws.String("pg-main"),
			Filters:             []service.Filter{{Name: "engine", Values: []string{"aurora-postgresql"}}},
			IncludeShared:       aws.Bool(true),
			MaxRecords:          aws.Int(100),
			Marker:              aws.String("m"),
		}
		if got := f.input(); !reflect.DeepEqual(got, wantIn) {
			t.Errorf("service got %#v, want %#v", got, wantIn)
		}
		if len(out.DBClusters) != 1 || aws.ToString(out.Marker) != "n" {
			t.Fatalf("got %#v", out)
		}
		c := out.DBClusters[0]
		for name, pair := range map[string][2]any{
			"DBClusterIdentifier": {aws.ToString(c.DBClusterIdentifier), "pg-main"},
			"DBClusterArn":        {aws.ToString(c.DBClusterArn), "arn:aws:rds:us-east-1:123456789012:cluster:pg-main"},
			"Engine":              {aws.ToString(c.Engine), "aurora-postgresql"},
			"EngineVersion":       {aws.ToString(c.EngineVersion), "16.4"},
			"EngineMode":          {aws.ToString(c.EngineMode), "provisioned"},
			"Status":              {aws.ToString(c.Status), "available"},
			"Endpoint":            {aws.ToString(c.Endpoint), "127.0.0.1"},
			"ReaderEndpoint":      {aws.ToString(c.ReaderEndpoint), "127.0.0.1"},
			"Port":                {aws.ToInt32(c.Port), int32(5432)},
			"MasterUsername":      {aws.ToString(c.MasterUsername), "postgres"},
			"DatabaseName":        {aws.ToString(c.DatabaseName), "app"},
			"ClusterCreateTime":   {aws.ToTime(c.ClusterCreateTime), t0},
			"DbClusterResourceId": {aws.ToString(c.DbClusterResourceId), "cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
			"StorageEncrypted":    {aws.ToBool(c.StorageEncrypted), false},
			"MultiAZ":             {aws.ToBool(c.MultiAZ), false},
			"AllocatedStorage":    {aws.ToInt32(c.AllocatedStorage), int32(1)},
		} {
			if !reflect.DeepEqual(pair[0], pair[1]) {
				t.Errorf("%s = %#v, want %#v", name, pair[0], pair[1])
			}
		}
	})
	t.Run(export.CodeDBClusterNotFound, func(t *testing.T) {
		f := &fakeService{err: export.Errorf(export.CodeDBClusterNotFound, "DBCluster x not found.")}
		_, err := newSDKClient(t, f).DescribeDBClusters(t.Context(), &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("x")})
		checkSDKError(t, err, export.CodeDBClusterNotFound, "DBCluster x not found.", new(*types.DBClusterNotFoundFault))
	})
}

func TestSDK_DescribeDBInstances(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		f := &fakeService{instances: &service.DescribeDBInstancesOutput{DBInstances: testInstances()}}
		out, err := newSDKClient(t, f).DescribeDBInstances(t.Context(), &rds.DescribeDBInstancesInput{
			Filters:    []types.Filter{{Name: aws.String("db-cluster-id"), Values: []string{"pg-main"}}},
			MaxRecords: aws.Int32(50),
		})
		if err != nil {
			t.Fatal(err)
		}
		wantIn := service.DescribeDBInstancesInput{
			Filters:    []service.Filter{{Name: "db-cluster-id", Values: []string{"pg-main"}}},
			MaxRecords: aws.Int(50),
		}
		if got := f.input(); !reflect.DeepEqual(got, wantIn) {
			t.Errorf("service got %#v, want %#v", got, wantIn)
		}
		if len(out.DBInstances) != 2 || out.Marker != nil {
			t.Fatalf("got %#v", out)
		}
		d := out.DBInstances[0]
		for name, pair := range map[string][2]any{
			"DBInstanceIdentifier": {aws.ToString(d.DBInstanceIdentifier), "my-mysql"},
			"DBInstanceArn":        {aws.ToString(d.DBInstanceArn), "arn:aws:rds:us-east-1:123456789012:db:my-mysql"},
			"DBInstanceClass":      {aws.ToString(d.DBInstanceClass), "db.t3.medium"},
			"Engine":               {aws.ToString(d.Engine), "mysql"},
			"DBInstanceStatus":     {aws.ToString(d.DBInstanceStatus), "available"},
			"DBName":               {aws.ToString(d.DBName), "shop"},
			"Endpoint.Address":     {aws.ToString(d.Endpoint.Address), "127.0.0.1"},
			"Endpoint.Port":        {aws.ToInt32(d.Endpoint.Port), int32(3306)},
			"DbInstancePort":       {aws.ToInt32(d.DbInstancePort), int32(3306)},
			"AllocatedStorage":     {aws.ToInt32(d.AllocatedStorage), int32(20)},
			"InstanceCreateTime":   {aws.ToTime(d.InstanceCreateTime), t0},
			"StorageType":          {aws.ToString(d.StorageType), "gp3"},
			"DbiResourceId":        {aws.ToString(d.DbiResourceId), "db-ABCDEFGHIJKLMNOPQRSTUVWXY"},
			"DBClusterIdentifier":  {d.DBClusterIdentifier, (*string)(nil)},
			"Cluster member":       {aws.ToString(out.DBInstances[1].DBClusterIdentifier), "pg-main"},
			"PubliclyAccessible":   {aws.ToBool(d.PubliclyAccessible), false},
		} {
			if !reflect.DeepEqual(pair[0], pair[1]) {
				t.Errorf("%s = %#v, want %#v", name, pair[0], pair[1])
			}
		}
	})
	t.Run(export.CodeDBInstanceNotFound, func(t *testing.T) {
		f := &fakeService{err: export.Errorf(export.CodeDBInstanceNotFound, "DBInstance x not found.")}
		_, err := newSDKClient(t, f).DescribeDBInstances(t.Context(), &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("x")})
		checkSDKError(t, err, export.CodeDBInstanceNotFound, "DBInstance x not found.", new(*types.DBInstanceNotFoundFault))
	})
}
