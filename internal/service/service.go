// Package service implements the RDS export operations: it validates input
// exactly as RDS does (spec §3, §5, §7), moves tasks through their lifecycle
// with export.Store.Transition, and tells the engine about new and
// cancelled tasks.
//
// It must not import net/http, database/sql, the AWS SDK or any adapter.
package service

import (
	"context"
	"log/slog"
	"time"

	"github.com/rdsexport/rdsexport/internal/export"
)

// Runner is told about task changes; implemented by *engine.Engine.
type Runner interface {
	// Wake asks the runner to look for STARTING tasks now.
	Wake()
	// CancelTask stops the running export of the task, if this process runs
	// it. The status has already been set to CANCELING.
	CancelTask(accountID, identifier string)
}

// Catalog lists the configured live sources of an account.
type Catalog interface {
	// Clusters returns the DB clusters visible to the account, ordered by
	// identifier.
	Clusters(ctx context.Context, accountID string) ([]export.DBCluster, error)
	// Instances returns the DB instances visible to the account, ordered by
	// identifier.
	Instances(ctx context.Context, accountID string) ([]export.DBInstance, error)
}

// Buckets checks S3 buckets before a task is accepted (spec §7.3).
type Buckets interface {
	// BucketExists reports whether the bucket exists and is reachable.
	BucketExists(ctx context.Context, bucket string) (bool, error)
}

// Service runs the operations. Create it with New.
type Service struct {
	store   export.Store
	runner  Runner
	catalog Catalog
	buckets Buckets
	logger  *slog.Logger
	now     func() time.Time
}

// Params configures New.
type Params struct {
	Store   export.Store
	Runner  Runner
	Catalog Catalog
	Buckets Buckets
	Logger  *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// New returns a Service.
func New(p Params) *Service {
	s := &Service{store: p.Store, runner: p.Runner, catalog: p.Catalog, buckets: p.Buckets, logger: p.Logger, now: p.Now}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Filter is one entry of a Filters list (spec §2.2).
type Filter struct {
	Name   string
	Values []string
}

// StartExportTaskInput is the StartExportTaskMessage. Optional members are
// pointers: nil means absent.
type StartExportTaskInput struct {
	ExportTaskIdentifier string
	SourceArn            string
	S3BucketName         string
	IamRoleArn           string
	KmsKeyId             string
	S3Prefix             *string
	// ExportOnly is nil when absent; an empty non-nil list means "everything"
	// too (sent as ExportOnly=).
	ExportOnly []string
}

// DescribeExportTasksInput is the DescribeExportTasksMessage.
type DescribeExportTasksInput struct {
	ExportTaskIdentifier *string
	SourceArn            *string
	Filters              []Filter
	Marker               *string
	MaxRecords           *int
	SourceType           *string
}

// DescribeExportTasksOutput is the ExportTasksMessage.
type DescribeExportTasksOutput struct {
	ExportTasks []*export.Task
	// Marker is "" on the last page.
	Marker string
}

// DescribeDBClustersInput is the DescribeDBClustersMessage.
type DescribeDBClustersInput struct {
	DBClusterIdentifier *string
	Filters             []Filter
	MaxRecords          *int
	Marker              *string
	IncludeShared       *bool
}

// DescribeDBClustersOutput is the DBClusterMessage.
type DescribeDBClustersOutput struct {
	DBClusters []export.DBCluster
	Marker     string
}

// DescribeDBInstancesInput is the DescribeDBInstancesMessage.
type DescribeDBInstancesInput struct {
	DBInstanceIdentifier *string
	Filters              []Filter
	MaxRecords           *int
	Marker               *string
}

// DescribeDBInstancesOutput is the DBInstanceMessage.
type DescribeDBInstancesOutput struct {
	DBInstances []export.DBInstance
	Marker      string
}
