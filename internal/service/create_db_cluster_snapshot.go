package service

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/rdsexport/rdsexport/internal/export"
)

// clusterAllocatedStorage is the AllocatedStorage of cluster snapshots: 1,
// as DescribeDBClusters reports for the clusters themselves (Aurora storage
// grows on demand).
const clusterAllocatedStorage = 1

// CreateDBClusterSnapshot stores a manual DB cluster snapshot of a DB
// cluster in status creating and asks the Snapshotter to copy the
// cluster's data (spec §4.4). The snapshot identifier is stored lowercase;
// engine, version, port, master user and resource id come from the
// cluster, and the region and account from the caller. The checks run in
// this order, and the first failure is returned as an *export.Error:
//
//  1. MissingParameter: DBClusterSnapshotIdentifier, then
//     DBClusterIdentifier, is empty.
//  2. InvalidParameterValue: DBClusterSnapshotIdentifier is not 1 to 63
//     letters, digits and hyphens beginning with a letter, without a
//     trailing hyphen or two consecutive hyphens (spec §2.3); a tag has an
//     empty or too long key or a too long value, or there are more than 50.
//  3. DBClusterNotFoundFault: the caller has no cluster with that
//     identifier (compared case-insensitively).
//  4. InvalidDBClusterStateFault: the cluster is not available, or its
//     engine cannot be exported.
//  5. SnapshotQuotaExceeded: the account keeps Params.SnapshotQuota manual
//     DB cluster snapshots already.
//  6. DBClusterSnapshotAlreadyExistsFault: the account has a DB cluster
//     snapshot with that identifier, in any status.
//
// ErrNoSnapshotStore and ErrNoSnapshotter are returned when the Service
// lacks them, ErrNoCaller when ctx carries no caller; catalog and store
// errors are returned wrapped. All of these are internal.
func (s *Service) CreateDBClusterSnapshot(ctx context.Context, in CreateDBClusterSnapshotInput) (*export.Snapshot, error) {
	caller, err := callerFrom(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.canCreateSnapshots(); err != nil {
		return nil, err
	}
	if in.DBClusterSnapshotIdentifier == "" {
		return nil, missingParameter("DBClusterSnapshotIdentifier")
	}
	if in.DBClusterIdentifier == "" {
		return nil, missingParameter("DBClusterIdentifier")
	}
	if !validIdentifierLen(in.DBClusterSnapshotIdentifier, maxDBClusterSnapshotIdentifierLen) {
		return nil, invalidIdentifier("DBClusterSnapshotIdentifier")
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	cluster, err := s.findCluster(ctx, caller, in.DBClusterIdentifier)
	if err != nil {
		return nil, err
	}
	if cluster.Status != "available" {
		return nil, export.Errorf(export.CodeInvalidDBClusterState,
			"Cannot create a snapshot because the DB cluster %s is not currently in the available state.", cluster.Identifier)
	}
	if export.EngineFamily(cluster.Engine) == "" {
		return nil, export.Errorf(export.CodeInvalidDBClusterState,
			"Cannot create a snapshot of the DB cluster %s: its engine %s is not supported.", cluster.Identifier, cluster.Engine)
	}
	snap := s.newSnapshot(caller, clusterSnapshotKind, in.DBClusterSnapshotIdentifier, in.Tags)
	snap.SourceIdentifier = cluster.Identifier
	snap.Engine = cluster.Engine
	snap.EngineVersion = cluster.EngineVersion
	snap.Port = cluster.Port
	snap.MasterUsername = cluster.MasterUsername
	snap.AllocatedStorage = clusterAllocatedStorage
	snap.SourceResourceID = cluster.ResourceID
	snap.SourceCreateTime = cluster.CreateTime.UTC().Truncate(time.Microsecond)
	return s.createSnapshot(ctx, snap)
}

// findCluster returns the caller's cluster with the identifier, compared
// case-insensitively, or DBClusterNotFoundFault.
func (s *Service) findCluster(ctx context.Context, caller export.Caller, id string) (export.DBCluster, error) {
	if s.catalog != nil {
		clusters, err := s.catalog.Clusters(ctx, caller.AccountID)
		if err != nil {
			return export.DBCluster{}, fmt.Errorf("list clusters: %w", err)
		}
		for _, c := range clusters {
			if strings.EqualFold(c.Identifier, id) {
				return c, nil
			}
		}
	}
	return export.DBCluster{}, export.Errorf(export.CodeDBClusterNotFound, "DBCluster %s not found.", id)
}
