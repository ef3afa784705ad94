package service

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/rdsexport/rdsexport/internal/export"
)

// DescribeDBInstances returns the caller's DB instances ordered by
// identifier (case-insensitively), one page of at most MaxRecords (default
// 100); Marker is set only when more instances follow.
//
// DBInstanceIdentifier is an identifier or a db ARN, compared
// case-insensitively; an empty one counts as absent. Filters: db-instance-id
// (identifiers or db ARNs), db-cluster-id (cluster identifiers or ARNs),
// both case-insensitive; dbi-resource-id and engine (exact); domain (no
// configured instance belongs to a domain, so it matches nothing).
//
// Errors (*export.Error): DBInstanceNotFound when DBInstanceIdentifier
// names no instance of the caller (an ARN of another account or region
// included); InvalidParameterValue for a malformed or non-db ARN,
// MaxRecords outside 20..100, an undecodable Marker, an unknown filter name
// or a filter without values. Catalog errors are returned wrapped;
// ErrNoCaller when ctx carries no caller.
func (s *Service) DescribeDBInstances(ctx context.Context, in DescribeDBInstancesInput) (*DescribeDBInstancesOutput, error) {
	caller, err := callerFrom(ctx)
	if err != nil {
		return nil, err
	}
	var want string
	given := in.DBInstanceIdentifier != nil && *in.DBInstanceIdentifier != ""
	notFound := func() error {
		return export.Errorf(export.CodeDBInstanceNotFound, "DBInstance %s not found.", *in.DBInstanceIdentifier)
	}
	visible := true
	if given {
		want, visible, err = resolveIdentifier(caller, "DBInstanceIdentifier", *in.DBInstanceIdentifier, ResourceDB)
		if err != nil {
			return nil, err
		}
	}
	limit, err := pageSize(in.MaxRecords)
	if err != nil {
		return nil, err
	}
	after, err := decodeKeyMarker(in.Marker)
	if err != nil {
		return nil, err
	}
	if err := checkFilters(in.Filters, FilterDBClusterID, FilterDBInstanceID, FilterDBIResourceID, FilterDomain, FilterEngine); err != nil {
		return nil, err
	}
	if !visible {
		return nil, notFound()
	}

	var instances []export.DBInstance
	if s.catalog != nil {
		if instances, err = s.catalog.Instances(ctx, caller.AccountID); err != nil {
			return nil, fmt.Errorf("list instances: %w", err)
		}
	}
	if given {
		instances = slices.DeleteFunc(slices.Clone(instances), func(i export.DBInstance) bool {
			return !strings.EqualFold(i.Identifier, want)
		})
		if len(instances) == 0 {
			return nil, notFound()
		}
	}

	var ids, clusterIDs, resourceIDs, engines, none valueSet
	for _, f := range in.Filters {
		switch f.Name {
		case FilterDBInstanceID:
			ids.constrain(filterIdentifiers(caller, f.Values, ResourceDB))
		case FilterDBClusterID:
			clusterIDs.constrain(filterIdentifiers(caller, f.Values, ResourceCluster))
		case FilterDBIResourceID:
			resourceIDs.constrain(f.Values)
		case FilterEngine:
			engines.constrain(f.Values)
		case FilterDomain:
			none.constrain(nil)
		}
	}
	var matched []export.DBInstance
	for _, i := range instances {
		if none.impossible() || !ids.accepts(i.Identifier, true) || !clusterIDs.accepts(i.ClusterIdentifier, true) ||
			!resourceIDs.accepts(i.ResourceID, false) || !engines.accepts(i.Engine, false) {
			continue
		}
		matched = append(matched, i)
	}
	page, marker := pageByKey(matched, func(i export.DBInstance) string { return i.Identifier }, after, limit)
	return &DescribeDBInstancesOutput{DBInstances: page, Marker: marker}, nil
}
