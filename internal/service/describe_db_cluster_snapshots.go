package service

import (
	"context"

	"github.com/rdsexport/rdsexport/internal/export"
)

// DescribeDBClusterSnapshots returns the caller's DB cluster snapshots
// that match every criterion of in, in creation order, one page of at most
// MaxRecords (default 100); Marker is set only when more snapshots follow
// (spec §4.5).
//
// DBClusterSnapshotIdentifier is an identifier or a cluster-snapshot ARN,
// compared with the stored lowercase identifier; automated identifiers are
// accepted without SnapshotType. DBClusterIdentifier is an identifier or a
// cluster ARN, compared case-insensitively; a cluster that no longer exists
// still has its snapshots listed. SnapshotType automated or manual
// restricts the list to that type; shared and public give an empty list,
// as do IncludeShared and IncludePublic nothing. DbClusterResourceId
// matches the source's resource id exactly. Filters: db-cluster-id
// (identifiers or cluster ARNs, case-insensitive), db-cluster-snapshot-id
// (identifiers or cluster-snapshot ARNs), snapshot-type and engine (exact).
// Empty strings count as absent.
//
// Errors (*export.Error): InvalidParameterCombination when both
// DBClusterIdentifier and DBClusterSnapshotIdentifier are given;
// DBClusterSnapshotNotFoundFault when DBClusterSnapshotIdentifier names no
// DB cluster snapshot of the caller (an ARN of another account or region
// included); InvalidParameterValue for a malformed ARN or one of the wrong
// resource type, MaxRecords outside 20..100, an undecodable Marker, an
// unknown SnapshotType, an unknown filter name or a filter without values.
// ErrNoSnapshotStore when the Service has no snapshot store, ErrNoCaller
// when ctx carries no caller, and store errors, wrapped, are internal.
func (s *Service) DescribeDBClusterSnapshots(ctx context.Context, in DescribeDBClusterSnapshotsInput) (*DescribeDBClusterSnapshotsOutput, error) {
	caller, err := callerFrom(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := s.snapshotStore(); err != nil {
		return nil, err
	}
	clusterGiven := in.DBClusterIdentifier != nil && *in.DBClusterIdentifier != ""
	snapshotGiven := in.DBClusterSnapshotIdentifier != nil && *in.DBClusterSnapshotIdentifier != ""
	if clusterGiven && snapshotGiven {
		return nil, export.Errorf(export.CodeInvalidParameterCombination,
			"DBClusterIdentifier and DBClusterSnapshotIdentifier cannot be used together.")
	}
	d := &describeSnapshots{k: clusterSnapshotKind, visible: true}
	if clusterGiven {
		id, ok, err := resolveIdentifier(caller, "DBClusterIdentifier", *in.DBClusterIdentifier, ResourceCluster)
		if err != nil {
			return nil, err
		}
		if ok {
			d.sources.constrain(filterIdentifiers(caller, []string{id}, ResourceCluster))
		} else {
			d.sources.constrain(nil)
		}
	}
	if snapshotGiven {
		d.given = *in.DBClusterSnapshotIdentifier
		if d.id, d.visible, err = d.k.resolve(caller, d.given); err != nil {
			return nil, err
		}
	}
	if d.limit, err = pageSize(in.MaxRecords); err != nil {
		return nil, err
	}
	if d.after, err = decodeSeqMarker(in.Marker); err != nil {
		return nil, err
	}
	if err := d.snapshotType(in.SnapshotType); err != nil {
		return nil, err
	}
	if err := checkFilters(in.Filters, FilterDBClusterID, FilterDBClusterSnapshotID, FilterSnapshotType, FilterEngine); err != nil {
		return nil, err
	}
	if in.DbClusterResourceId != nil && *in.DbClusterResourceId != "" {
		d.resourceIDs.constrain([]string{*in.DbClusterResourceId})
	}
	for _, f := range in.Filters {
		switch f.Name {
		case FilterDBClusterID:
			d.sources.constrain(filterIdentifiers(caller, f.Values, ResourceCluster))
		case FilterDBClusterSnapshotID:
			d.ids.constrain(filterIdentifiers(caller, f.Values, ResourceClusterSnapshot))
		case FilterSnapshotType:
			d.types.constrain(f.Values)
		case FilterEngine:
			d.engines.constrain(f.Values)
		}
	}
	page, marker, err := s.describeSnapshots(ctx, caller, d)
	if err != nil {
		return nil, err
	}
	return &DescribeDBClusterSnapshotsOutput{DBClusterSnapshots: page, Marker: marker}, nil
}
