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

// checkFields compares pairs of (got, want) by name.
func checkFields(t *testing.T, fields map[string][2]any) {
	t.Helper()
	for name, pair := range fields {
		if !reflect.DeepEqual(pair[0], pair[1]) {
			t.Errorf("%s = %#v, want %#v", name, pair[0], pair[1])
		}
	}
}

func sdkTags(tags []types.Tag) []export.Tag {
	if tags == nil {
		return nil
	}
	out := []export.Tag{}
	for _, t := range tags {
		out = append(out, export.Tag{Key: aws.ToString(t.Key), Value: aws.ToString(t.Value)})
	}
	return out
}

// checkDBSnapshot asserts that the SDK parsed every member the server sends.
func checkDBSnapshot(t *testing.T, got *types.DBSnapshot, want *export.Snapshot) {
	t.Helper()
	if got == nil {
		t.Fatal("no DBSnapshot")
	}
	wantCreate := (*time.Time)(nil)
	if !want.CreateTime.IsZero() {
		wantCreate = aws.Time(want.CreateTime.UTC())
	}
	checkFields(t, map[string][2]any{
		"DBSnapshotIdentifier":             {aws.ToString(got.DBSnapshotIdentifier), want.Identifier},
		"DBInstanceIdentifier":             {aws.ToString(got.DBInstanceIdentifier), want.SourceIdentifier},
		"SnapshotCreateTime":               {got.SnapshotCreateTime, wantCreate},
		"OriginalSnapshotCreateTime":       {got.OriginalSnapshotCreateTime, wantCreate},
		"Engine":                           {aws.ToString(got.Engine), want.Engine},
		"AllocatedStorage":                 {aws.ToInt32(got.AllocatedStorage), int32(want.AllocatedStorage)},
		"Status":                           {aws.ToString(got.Status), string(want.Status)},
		"Port":                             {aws.ToInt32(got.Port), int32(want.Port)},
		"AvailabilityZone":                 {aws.ToString(got.AvailabilityZone), want.Region + "a"},
		"VpcId":                            {got.VpcId, (*string)(nil)},
		"InstanceCreateTime":               {aws.ToTime(got.InstanceCreateTime), want.SourceCreateTime.UTC()},
		"MasterUsername":                   {aws.ToString(got.MasterUsername), want.MasterUsername},
		"EngineVersion":                    {aws.ToString(got.EngineVersion), want.EngineVersion},
		"SnapshotType":                     {aws.ToString(got.SnapshotType), want.Type},
		"PercentProgress":                  {aws.ToInt32(got.PercentProgress), int32(want.PercentProgress)},
		"StorageType":                      {aws.ToString(got.StorageType), "gp3"},
		"Encrypted":                        {aws.ToBool(got.Encrypted), false},
		"DBSnapshotArn":                    {aws.ToString(got.DBSnapshotArn), "arn:aws:rds:" + want.Region + ":123456789012:snapshot:" + want.Identifier},
		"IAMDatabaseAuthenticationEnabled": {aws.ToBool(got.IAMDatabaseAuthenticationEnabled), false},
		"ProcessorFeatures":                {len(got.ProcessorFeatures), 0},
		"DbiResourceId":                    {aws.ToString(got.DbiResourceId), want.SourceResourceID},
		"TagList":                          {sdkTags(got.TagList), append([]export.Tag{}, want.Tags...)},
		"SnapshotTarget":                   {aws.ToString(got.SnapshotTarget), "region"},
		"MultiTenant":                      {aws.ToBool(got.MultiTenant), false},
		"DedicatedLogVolume":               {aws.ToBool(got.DedicatedLogVolume), false},
	})
}

// checkDBClusterSnapshot asserts that the SDK parsed every member the
// server sends.
func checkDBClusterSnapshot(t *testing.T, got *types.DBClusterSnapshot, want *export.Snapshot) {
	t.Helper()
	if got == nil {
		t.Fatal("no DBClusterSnapshot")
	}
	wantCreate := (*time.Time)(nil)
	if !want.CreateTime.IsZero() {
		wantCreate = aws.Time(want.CreateTime.UTC())
	}
	checkFields(t, map[string][2]any{
		"AvailabilityZones":                {got.AvailabilityZones, []string{want.Region + "a"}},
		"DBClusterSnapshotIdentifier":      {aws.ToString(got.DBClusterSnapshotIdentifier), want.Identifier},
		"DBClusterIdentifier":              {aws.ToString(got.DBClusterIdentifier), want.SourceIdentifier},
		"SnapshotCreateTime":               {got.SnapshotCreateTime, wantCreate},
		"Engine":                           {aws.ToString(got.Engine), want.Engine},
		"EngineMode":                       {aws.ToString(got.EngineMode), "provisioned"},
		"AllocatedStorage":                 {aws.ToInt32(got.AllocatedStorage), int32(want.AllocatedStorage)},
		"Status":                           {aws.ToString(got.Status), string(want.Status)},
		"Port":                             {aws.ToInt32(got.Port), int32(want.Port)},
		"ClusterCreateTime":                {aws.ToTime(got.ClusterCreateTime), want.SourceCreateTime.UTC()},
		"MasterUsername":                   {aws.ToString(got.MasterUsername), want.MasterUsername},
		"EngineVersion":                    {aws.ToString(got.EngineVersion), want.EngineVersion},
		"LicenseModel":                     {aws.ToString(got.LicenseModel), "postgresql-license"},
		"SnapshotType":                     {aws.ToString(got.SnapshotType), want.Type},
		"PercentProgress":                  {aws.ToInt32(got.PercentProgress), int32(want.PercentProgress)},
		"StorageEncrypted":                 {aws.ToBool(got.StorageEncrypted), false},
		"DBClusterSnapshotArn":             {aws.ToString(got.DBClusterSnapshotArn), "arn:aws:rds:" + want.Region + ":123456789012:cluster-snapshot:" + want.Identifier},
		"IAMDatabaseAuthenticationEnabled": {aws.ToBool(got.IAMDatabaseAuthenticationEnabled), false},
		"TagList":                          {sdkTags(got.TagList), append([]export.Tag{}, want.Tags...)},
		"StorageType":                      {aws.ToString(got.StorageType), "aurora"},
		"DbClusterResourceId":              {aws.ToString(got.DbClusterResourceId), want.SourceResourceID},
	})
}

func TestSDK_CreateDBSnapshot(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		f := &fakeService{snapshot: creatingSnapshot()}
		out, err := newSDKClient(t, f).CreateDBSnapshot(t.Context(), &rds.CreateDBSnapshotInput{
			DBSnapshotIdentifier: aws.String("My-Snap"),
			DBInstanceIdentifier: aws.String("Solo"),
			Tags: []types.Tag{
				{Key: aws.String("env"), Value: aws.String("dev & test")},
				{Key: aws.String("k=v"), Value: aws.String("")},
				{Key: aws.String("nil-value")},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		want := service.CreateDBSnapshotInput{DBSnapshotIdentifier: "My-Snap", DBInstanceIdentifier: "Solo",
			Tags: []export.Tag{{Key: "env", Value: "dev & test"}, {Key: "k=v"}, {Key: "nil-value"}}}
		if got := f.input(); !reflect.DeepEqual(got, want) {
			t.Errorf("service got %#v, want %#v", got, want)
		}
		checkDBSnapshot(t, out.DBSnapshot, creatingSnapshot())
		if aws.ToString(out.DBSnapshot.LicenseModel) != "postgresql-license" {
			t.Errorf("LicenseModel = %v", aws.ToString(out.DBSnapshot.LicenseModel))
		}
	})
	t.Run("TagsEmptyAndAbsent", func(t *testing.T) {
		f := &fakeService{snapshot: creatingSnapshot()}
		c := newSDKClient(t, f)
		if _, err := c.CreateDBSnapshot(t.Context(), &rds.CreateDBSnapshotInput{
			DBSnapshotIdentifier: aws.String("s"), DBInstanceIdentifier: aws.String("i"), Tags: []types.Tag{},
		}); err != nil {
			t.Fatal(err)
		}
		if in := f.input().(service.CreateDBSnapshotInput); in.Tags == nil || len(in.Tags) != 0 {
			t.Errorf("Tags = %#v, want empty non-nil", in.Tags)
		}
		if _, err := c.CreateDBSnapshot(t.Context(), &rds.CreateDBSnapshotInput{
			DBSnapshotIdentifier: aws.String("s"), DBInstanceIdentifier: aws.String("i"),
		}); err != nil {
			t.Fatal(err)
		}
		if in := f.input().(service.CreateDBSnapshotInput); in.Tags != nil {
			t.Errorf("Tags = %#v, want nil", in.Tags)
		}
	})
	for _, c := range []struct {
		code   string
		target any
	}{
		{export.CodeDBInstanceNotFound, new(*types.DBInstanceNotFoundFault)},
		{export.CodeSnapshotQuotaExceeded, new(*types.SnapshotQuotaExceededFault)},
		{export.CodeInvalidDBInstanceState, new(*types.InvalidDBInstanceStateFault)},
		{export.CodeDBSnapshotAlreadyExists, new(*types.DBSnapshotAlreadyExistsFault)},
		{export.CodeMissingParameter, nil},
		{export.CodeInvalidParameterValue, nil},
	} {
		t.Run(c.code, func(t *testing.T) {
			f := &fakeService{err: export.Errorf(c.code, "message for %s", c.code)}
			_, err := newSDKClient(t, f).CreateDBSnapshot(t.Context(), &rds.CreateDBSnapshotInput{
				DBSnapshotIdentifier: aws.String("s"), DBInstanceIdentifier: aws.String("i"),
			})
			checkSDKError(t, err, c.code, "message for "+c.code, c.target)
		})
	}
}

func TestSDK_DescribeDBSnapshots(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		want := []*export.Snapshot{availableSnapshot(), creatingSnapshot()}
		f := &fakeService{snapshots: &service.DescribeDBSnapshotsOutput{DBSnapshots: want, Marker: "Nw"}}
		out, err := newSDKClient(t, f).DescribeDBSnapshots(t.Context(), &rds.DescribeDBSnapshotsInput{
			DBInstanceIdentifier: aws.String("my-mysql"),
			DBSnapshotIdentifier: aws.String("rds:solo-2024-01-02-03-04"),
			SnapshotType:         aws.String("automated"),
			Filters: []types.Filter{
				{Name: aws.String("engine"), Values: []string{"mysql", "postgres"}},
				{Name: aws.String("dbi-resource-id"), Values: []string{"db-X"}},
			},
			MaxRecords:    aws.Int32(20),
			Marker:        aws.String("Mw"),
			IncludeShared: aws.Bool(true),
			IncludePublic: aws.Bool(false),
			DbiResourceId: aws.String("db-Y"),
		})
		if err != nil {
			t.Fatal(err)
		}
		wantIn := service.DescribeDBSnapshotsInput{
			DBInstanceIdentifier: aws.String("my-mysql"),
			DBSnapshotIdentifier: aws.String("rds:solo-2024-01-02-03-04"),
			SnapshotType:         aws.String("automated"),
			Filters: []service.Filter{
				{Name: "engine", Values: []string{"mysql", "postgres"}},
				{Name: "dbi-resource-id", Values: []string{"db-X"}},
			},
			MaxRecords:    aws.Int(20),
			Marker:        aws.String("Mw"),
			IncludeShared: aws.Bool(true),
			IncludePublic: aws.Bool(false),
			DbiResourceId: aws.String("db-Y"),
		}
		if got := f.input(); !reflect.DeepEqual(got, wantIn) {
			t.Errorf("service got %#v, want %#v", got, wantIn)
		}
		if len(out.DBSnapshots) != 2 || aws.ToString(out.Marker) != "Nw" {
			t.Fatalf("got %d snapshots, marker %v", len(out.DBSnapshots), out.Marker)
		}
		for i := range want {
			checkDBSnapshot(t, &out.DBSnapshots[i], want[i])
		}
	})
	t.Run("Empty", func(t *testing.T) {
		f := &fakeService{snapshots: &service.DescribeDBSnapshotsOutput{}}
		out, err := newSDKClient(t, f).DescribeDBSnapshots(t.Context(), &rds.DescribeDBSnapshotsInput{})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.DBSnapshots) != 0 || out.Marker != nil {
			t.Errorf("got %#v", out)
		}
		if got := f.input(); !reflect.DeepEqual(got, service.DescribeDBSnapshotsInput{}) {
			t.Errorf("service got %#v", got)
		}
	})
	for _, c := range []struct {
		code   string
		target any
	}{
		{export.CodeDBSnapshotNotFound, new(*types.DBSnapshotNotFoundFault)},
		{export.CodeInvalidParameterValue, nil},
	} {
		t.Run(c.code, func(t *testing.T) {
			f := &fakeService{err: export.Errorf(c.code, "message for %s", c.code)}
			_, err := newSDKClient(t, f).DescribeDBSnapshots(t.Context(), &rds.DescribeDBSnapshotsInput{})
			checkSDKError(t, err, c.code, "message for "+c.code, c.target)
		})
	}
}

func TestSDK_DeleteDBSnapshot(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		deleted := availableSnapshot()
		deleted.Status = export.SnapshotDeleted
		f := &fakeService{snapshot: deleted}
		out, err := newSDKClient(t, f).DeleteDBSnapshot(t.Context(), &rds.DeleteDBSnapshotInput{DBSnapshotIdentifier: aws.String("mydbsnapshot")})
		if err != nil {
			t.Fatal(err)
		}
		if got := f.input(); got != "mydbsnapshot" {
			t.Errorf("service got %#v", got)
		}
		checkDBSnapshot(t, out.DBSnapshot, deleted)
	})
	for _, c := range []struct {
		code   string
		target any
	}{
		{export.CodeDBSnapshotNotFound, new(*types.DBSnapshotNotFoundFault)},
		{export.CodeInvalidDBSnapshotState, new(*types.InvalidDBSnapshotStateFault)},
	} {
		t.Run(c.code, func(t *testing.T) {
			f := &fakeService{err: export.Errorf(c.code, "message for %s", c.code)}
			_, err := newSDKClient(t, f).DeleteDBSnapshot(t.Context(), &rds.DeleteDBSnapshotInput{DBSnapshotIdentifier: aws.String("s")})
			checkSDKError(t, err, c.code, "message for "+c.code, c.target)
		})
	}
}

func TestSDK_CreateDBClusterSnapshot(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		f := &fakeService{snapshot: clusterSnapshot()}
		out, err := newSDKClient(t, f).CreateDBClusterSnapshot(t.Context(), &rds.CreateDBClusterSnapshotInput{
			DBClusterSnapshotIdentifier: aws.String("Nightly"),
			DBClusterIdentifier:         aws.String("pg-main"),
			Tags:                        []types.Tag{{Key: aws.String("team"), Value: aws.String("data")}},
		})
		if err != nil {
			t.Fatal(err)
		}
		want := service.CreateDBClusterSnapshotInput{DBClusterSnapshotIdentifier: "Nightly", DBClusterIdentifier: "pg-main",
			Tags: []export.Tag{{Key: "team", Value: "data"}}}
		if got := f.input(); !reflect.DeepEqual(got, want) {
			t.Errorf("service got %#v, want %#v", got, want)
		}
		checkDBClusterSnapshot(t, out.DBClusterSnapshot, clusterSnapshot())
	})
	for _, c := range []struct {
		code   string
		target any
	}{
		{export.CodeDBClusterNotFound, new(*types.DBClusterNotFoundFault)},
		{export.CodeDBClusterSnapshotAlreadyExists, new(*types.DBClusterSnapshotAlreadyExistsFault)},
		{export.CodeInvalidDBClusterState, new(*types.InvalidDBClusterStateFault)},
		{export.CodeInvalidDBClusterSnapshotState, new(*types.InvalidDBClusterSnapshotStateFault)},
		{export.CodeSnapshotQuotaExceeded, new(*types.SnapshotQuotaExceededFault)},
	} {
		t.Run(c.code, func(t *testing.T) {
			f := &fakeService{err: export.Errorf(c.code, "message for %s", c.code)}
			_, err := newSDKClient(t, f).CreateDBClusterSnapshot(t.Context(), &rds.CreateDBClusterSnapshotInput{
				DBClusterSnapshotIdentifier: aws.String("s"), DBClusterIdentifier: aws.String("c"),
			})
			checkSDKError(t, err, c.code, "message for "+c.code, c.target)
		})
	}
}

func TestSDK_DescribeDBClusterSnapshots(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		f := &fakeService{clusterSn: &service.DescribeDBClusterSnapshotsOutput{DBClusterSnapshots: []*export.Snapshot{clusterSnapshot()}}}
		out, err := newSDKClient(t, f).DescribeDBClusterSnapshots(t.Context(), &rds.DescribeDBClusterSnapshotsInput{
			DBClusterIdentifier: aws.String("pg-main"),
			SnapshotType:        aws.String("manual"),
			Filters:             []types.Filter{{Name: aws.String("db-cluster-snapshot-id"), Values: []string{"a", "b"}}},
			MaxRecords:          aws.Int32(100),
			IncludePublic:       aws.Bool(true),
			DbClusterResourceId: aws.String("cluster-X"),
		})
		if err != nil {
			t.Fatal(err)
		}
		wantIn := service.DescribeDBClusterSnapshotsInput{
			DBClusterIdentifier: aws.String("pg-main"),
			SnapshotType:        aws.String("manual"),
			Filters:             []service.Filter{{Name: "db-cluster-snapshot-id", Values: []string{"a", "b"}}},
			MaxRecords:          aws.Int(100),
			IncludePublic:       aws.Bool(true),
			DbClusterResourceId: aws.String("cluster-X"),
		}
		if got := f.input(); !reflect.DeepEqual(got, wantIn) {
			t.Errorf("service got %#v, want %#v", got, wantIn)
		}
		if len(out.DBClusterSnapshots) != 1 || out.Marker != nil {
			t.Fatalf("got %#v", out)
		}
		checkDBClusterSnapshot(t, &out.DBClusterSnapshots[0], clusterSnapshot())
	})
	for _, c := range []struct {
		code   string
		target any
	}{
		{export.CodeDBClusterSnapshotNotFound, new(*types.DBClusterSnapshotNotFoundFault)},
		{export.CodeInvalidParameterCombination, nil},
	} {
		t.Run(c.code, func(t *testing.T) {
			f := &fakeService{err: export.Errorf(c.code, "message for %s", c.code)}
			_, err := newSDKClient(t, f).DescribeDBClusterSnapshots(t.Context(), &rds.DescribeDBClusterSnapshotsInput{})
			checkSDKError(t, err, c.code, "message for "+c.code, c.target)
		})
	}
}

func TestSDK_DeleteDBClusterSnapshot(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		f := &fakeService{snapshot: clusterSnapshot()}
		out, err := newSDKClient(t, f).DeleteDBClusterSnapshot(t.Context(), &rds.DeleteDBClusterSnapshotInput{
			DBClusterSnapshotIdentifier: aws.String("nightly"),
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := f.input(); got != "nightly" {
			t.Errorf("service got %#v", got)
		}
		checkDBClusterSnapshot(t, out.DBClusterSnapshot, clusterSnapshot())
	})
	for _, c := range []struct {
		code   string
		target any
	}{
		{export.CodeDBClusterSnapshotNotFound, new(*types.DBClusterSnapshotNotFoundFault)},
		{export.CodeInvalidDBClusterSnapshotState, new(*types.InvalidDBClusterSnapshotStateFault)},
	} {
		t.Run(c.code, func(t *testing.T) {
			f := &fakeService{err: export.Errorf(c.code, "message for %s", c.code)}
			_, err := newSDKClient(t, f).DeleteDBClusterSnapshot(t.Context(), &rds.DeleteDBClusterSnapshotInput{DBClusterSnapshotIdentifier: aws.String("c")})
			checkSDKError(t, err, c.code, "message for "+c.code, c.target)
		})
	}
}

// TestSDK_SnapshotWaiters runs the SDK's waiters (spec §1.6) against
// answers in which they must stop at the first attempt: success when the
// statuses are right, failure for a terminal wrong status.
func TestSDK_SnapshotWaiters(t *testing.T) {
	const wait = time.Minute
	failed := availableSnapshot()
	failed.Status = export.SnapshotFailed
	failedCluster := clusterSnapshot()
	failedCluster.Status = export.SnapshotFailed
	notFound := export.SnapshotNotFound(export.SnapshotKindDB, "s")
	clusterNotFound := export.SnapshotNotFound(export.SnapshotKindCluster, "c")

	dbIn := &rds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String("mydbsnapshot")}
	clIn := &rds.DescribeDBClusterSnapshotsInput{DBClusterSnapshotIdentifier: aws.String("nightly")}
	for _, c := range []struct {
		name string
		f    *fakeService
		run  func(*rds.Client) error
		ok   bool
	}{
		{"DBSnapshotAvailable", &fakeService{snapshots: &service.DescribeDBSnapshotsOutput{DBSnapshots: []*export.Snapshot{availableSnapshot()}}},
			func(c *rds.Client) error { return rds.NewDBSnapshotAvailableWaiter(c).Wait(t.Context(), dbIn, wait) }, true},
		{"DBSnapshotAvailableFailed", &fakeService{snapshots: &service.DescribeDBSnapshotsOutput{DBSnapshots: []*export.Snapshot{failed}}},
			func(c *rds.Client) error { return rds.NewDBSnapshotAvailableWaiter(c).Wait(t.Context(), dbIn, wait) }, false},
		{"DBSnapshotDeletedNotFound", &fakeService{err: notFound},
			func(c *rds.Client) error { return rds.NewDBSnapshotDeletedWaiter(c).Wait(t.Context(), dbIn, wait) }, true},
		{"DBSnapshotDeletedEmpty", &fakeService{snapshots: &service.DescribeDBSnapshotsOutput{}},
			func(c *rds.Client) error { return rds.NewDBSnapshotDeletedWaiter(c).Wait(t.Context(), dbIn, wait) }, true},
		{"DBSnapshotDeletedCreating", &fakeService{snapshots: &service.DescribeDBSnapshotsOutput{DBSnapshots: []*export.Snapshot{creatingSnapshot()}}},
			func(c *rds.Client) error { return rds.NewDBSnapshotDeletedWaiter(c).Wait(t.Context(), dbIn, wait) }, false},
		{"DBClusterSnapshotAvailable", &fakeService{clusterSn: &service.DescribeDBClusterSnapshotsOutput{DBClusterSnapshots: []*export.Snapshot{clusterSnapshot()}}},
			func(c *rds.Client) error {
				return rds.NewDBClusterSnapshotAvailableWaiter(c).Wait(t.Context(), clIn, wait)
			}, true},
		{"DBClusterSnapshotAvailableFailed", &fakeService{clusterSn: &service.DescribeDBClusterSnapshotsOutput{DBClusterSnapshots: []*export.Snapshot{failedCluster}}},
			func(c *rds.Client) error {
				return rds.NewDBClusterSnapshotAvailableWaiter(c).Wait(t.Context(), clIn, wait)
			}, false},
		{"DBClusterSnapshotDeletedNotFound", &fakeService{err: clusterNotFound},
			func(c *rds.Client) error {
				return rds.NewDBClusterSnapshotDeletedWaiter(c).Wait(t.Context(), clIn, wait)
			}, true},
		{"DBClusterSnapshotDeletedEmpty", &fakeService{clusterSn: &service.DescribeDBClusterSnapshotsOutput{}},
			func(c *rds.Client) error {
				return rds.NewDBClusterSnapshotDeletedWaiter(c).Wait(t.Context(), clIn, wait)
			}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.run(newSDKClient(t, c.f))
			if c.ok && err != nil {
				t.Fatalf("waiter failed: %v", err)
			}
			if !c.ok && err == nil {
				t.Fatal("waiter succeeded")
			}
		})
	}
}
