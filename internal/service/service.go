// Package service implements the RDS export operations: it validates input
// exactly as RDS does (spec §3, §5, §7), moves tasks through their lifecycle
// with export.Store.Transition, and tells the engine about new and
// cancelled tasks. It also implements the DB snapshot and DB cluster
// snapshot operations (spec §4.1–§4.6): records live in an
// export.SnapshotStore, and a Snapshotter copies and removes their data.
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
	// FindCluster returns the DB cluster visible to the account whose
	// identifier is id (case-insensitive), and false when there is none.
	// Unlike Clusters it does not contact the cluster's server, so
	// EngineVersion may be empty.
	FindCluster(ctx context.Context, accountID, id string) (export.DBCluster, bool, error)
	// Instances returns the DB instances visible to the account, ordered by
	// identifier.
	Instances(ctx context.Context, accountID string) ([]export.DBInstance, error)
}

// Buckets checks S3 buckets before a task is accepted (spec §7.3).
type Buckets interface {
	// BucketAccess reports whether the bucket exists and is reachable, and
	// whether the account may write into it (where the store knows owners:
	// the embedded S3 server; elsewhere writable follows exists).
	BucketAccess(ctx context.Context, accountID, bucket string) (exists, writable bool, err error)
}

// Snapshotter keeps the data of DB snapshots and DB cluster snapshots.
type Snapshotter interface {
	// CreateSnapshot begins copying the data of the snapshot's source in
	// the background. The caller has already stored s in status creating;
	// the Snapshotter moves it on (to available or failed) through the
	// export.SnapshotStore. s is the Snapshotter's own copy.
	CreateSnapshot(s *export.Snapshot)
	// Dequeue withdraws s if its copy is still waiting for its turn and
	// reports whether it was: a withdrawn copy never begins, and nothing of
	// s has been copied. It reports false once the copy has begun or
	// ended, and for a snapshot it was not given.
	Dequeue(s *export.Snapshot) bool
	// DeleteSnapshotData removes the stored copy of a snapshot whose record
	// has already been deleted. An error means data may be left behind.
	DeleteSnapshotData(ctx context.Context, s *export.Snapshot) error
}

// DefaultSnapshotQuota is the number of manual snapshots of each kind an
// account may keep when Params.SnapshotQuota is 0 (the RDS default quotas
// "Manual DB instance snapshots" and "Manual DB cluster snapshots").
const DefaultSnapshotQuota = 100

// DefaultMaxPageBytes is the size bound of one Describe page when
// Params.MaxPageBytes is 0: far above a page of 100 ordinary items (about
// 1 KB each), far below what the largest items allowed (ExportOnly lists of
// 200 KB, long warnings) would make of 100 of them.
const DefaultMaxPageBytes = 1 << 20

// Service runs the operations. Create it with New.
type Service struct {
	store         export.Store
	runner        Runner
	catalog       Catalog
	buckets       Buckets
	snapshots     export.SnapshotStore
	snapshotter   Snapshotter
	snapshotQuota int
	events        export.EventStore
	maxPageBytes  int
	logger        *slog.Logger
	now           func() time.Time
}

// Params configures New.
type Params struct {
	Store   export.Store
	Runner  Runner
	Catalog Catalog
	Buckets Buckets
	// Snapshots keeps snapshot records. Without it the snapshot operations
	// fail with ErrNoSnapshotStore (an internal error) and StartExportTask
	// finds no snapshots.
	Snapshots export.SnapshotStore
	// Snapshotter copies and removes snapshot data. CreateDBSnapshot and
	// CreateDBClusterSnapshot fail with ErrNoSnapshotter without it.
	Snapshotter Snapshotter
	// SnapshotQuota is how many manual snapshots of each kind (DB, DB
	// cluster) an account may keep: 0 means DefaultSnapshotQuota, a
	// negative value means no limit.
	SnapshotQuota int
	// Events lists the recorded events; DescribeEvents fails with
	// ErrNoEventStore (an internal error) without it.
	Events export.EventStore
	// MaxPageBytes bounds the size of one page of DescribeExportTasks,
	// DescribeDBSnapshots and DescribeDBClusterSnapshots, as an estimate of
	// the XML of its items: a page is cut early, with a Marker, before the
	// item that would take it past the bound. A page always holds at least
	// one item. 0 means DefaultMaxPageBytes.
	MaxPageBytes int
	Logger       *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// New returns a Service.
func New(p Params) *Service {
	s := &Service{store: p.Store, runner: p.Runner, catalog: p.Catalog, buckets: p.Buckets,
		snapshots: p.Snapshots, snapshotter: p.Snapshotter, snapshotQuota: p.SnapshotQuota,
		events: p.Events, maxPageBytes: p.MaxPageBytes, logger: p.Logger, now: p.Now}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxPageBytes <= 0 {
		s.maxPageBytes = DefaultMaxPageBytes
	}
	if s.snapshotQuota == 0 {
		s.snapshotQuota = DefaultSnapshotQuota
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

// CreateDBSnapshotInput is the CreateDBSnapshotMessage.
type CreateDBSnapshotInput struct {
	DBSnapshotIdentifier string
	DBInstanceIdentifier string
	// Tags is nil when absent.
	Tags []export.Tag
}

// CreateDBClusterSnapshotInput is the CreateDBClusterSnapshotMessage.
type CreateDBClusterSnapshotInput struct {
	DBClusterSnapshotIdentifier string
	DBClusterIdentifier         string
	// Tags is nil when absent.
	Tags []export.Tag
}

// DescribeDBSnapshotsInput is the DescribeDBSnapshotsMessage.
type DescribeDBSnapshotsInput struct {
	DBInstanceIdentifier *string
	DBSnapshotIdentifier *string
	SnapshotType         *string
	Filters              []Filter
	MaxRecords           *int
	Marker               *string
	IncludeShared        *bool
	IncludePublic        *bool
	DbiResourceId        *string
}

// DescribeDBSnapshotsOutput is the DBSnapshotMessage.
type DescribeDBSnapshotsOutput struct {
	DBSnapshots []*export.Snapshot
	// Marker is "" on the last page.
	Marker string
}

// DescribeDBClusterSnapshotsInput is the DescribeDBClusterSnapshotsMessage.
type DescribeDBClusterSnapshotsInput struct {
	DBClusterIdentifier         *string
	DBClusterSnapshotIdentifier *string
	SnapshotType                *string
	Filters                     []Filter
	MaxRecords                  *int
	Marker                      *string
	IncludeShared               *bool
	IncludePublic               *bool
	DbClusterResourceId         *string
}

// DescribeDBClusterSnapshotsOutput is the DBClusterSnapshotMessage.
type DescribeDBClusterSnapshotsOutput struct {
	DBClusterSnapshots []*export.Snapshot
	// Marker is "" on the last page.
	Marker string
}
