package service

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/rdsexport/rdsexport/internal/export"
)

// Filter names of DescribeDBClusters and DescribeDBInstances (spec §4.7,
// §4.8).
const (
	FilterCloneGroupID        = "clone-group-id"
	FilterDBClusterID         = "db-cluster-id"
	FilterDBClusterResourceID = "db-cluster-resource-id"
	FilterDBInstanceID        = "db-instance-id"
	FilterDBIResourceID       = "dbi-resource-id"
	FilterDomain              = "domain"
	FilterEngine              = "engine"
)

// DescribeDBClusters returns the caller's DB clusters ordered by
// identifier (case-insensitively), one page of at most MaxRecords (default
// 100); Marker is set only when more clusters follow.
//
// DBClusterIdentifier is an identifier or a cluster ARN, compared
// case-insensitively; an empty one counts as absent. Filters: db-cluster-id
// (identifiers or ARNs, case-insensitive), engine, db-cluster-resource-id
// (exact), clone-group-id and domain (no configured cluster belongs to a
// clone group or a domain, so these match nothing). IncludeShared is
// accepted and ignored: there are no shared clusters.
//
// Errors (*export.Error): DBClusterNotFoundFault when DBClusterIdentifier
// names no cluster of the caller (an ARN of another account or region
// included); InvalidParameterValue for a malformed or non-cluster ARN,
// MaxRecords outside 20..100, an undecodable Marker, an unknown filter name
// or a filter without values. Catalog errors are returned wrapped;
// ErrNoCaller when ctx carries no caller.
func (s *Service) DescribeDBClusters(ctx context.Context, in DescribeDBClustersInput) (*DescribeDBClustersOutput, error) {
	caller, err := callerFrom(ctx)
	if err != nil {
		return nil, err
	}
	var want string
	given := in.DBClusterIdentifier != nil && *in.DBClusterIdentifier != ""
	notFound := func() error {
		return export.Errorf(export.CodeDBClusterNotFound, "DBCluster %s not found.", *in.DBClusterIdentifier)
	}
	visible := true
	if given {
		want, visible, err = resolveIdentifier(caller, "DBClusterIdentifier", *in.DBClusterIdentifier, ResourceCluster)
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
	if err := checkFilters(in.Filters, FilterCloneGroupID, FilterDBClusterID, FilterDBClusterResourceID, FilterDomain, FilterEngine); err != nil {
		return nil, err
	}
	if !visible {
		return nil, notFound()
	}

	var clusters []export.DBCluster
	if s.catalog != nil {
		if clusters, err = s.catalog.Clusters(ctx, caller.AccountID); err != nil {
			return nil, fmt.Errorf("list clusters: %w", err)
		}
	}
	if given {
		clusters = slices.DeleteFunc(slices.Clone(clusters), func(c export.DBCluster) bool {
			return !strings.EqualFold(c.Identifier, want)
		})
		if len(clusters) == 0 {
			return nil, notFound()
		}
	}

	var ids, engines, resourceIDs, none valueSet
	for _, f := range in.Filters {
		switch f.Name {
		case FilterDBClusterID:
			ids.constrain(filterIdentifiers(caller, f.Values, ResourceCluster))
		case FilterEngine:
			engines.constrain(f.Values)
		case FilterDBClusterResourceID:
			resourceIDs.constrain(f.Values)
		case FilterCloneGroupID, FilterDomain:
			none.constrain(nil)
		}
	}
	var matched []export.DBCluster
	for _, c := range clusters {
		if none.impossible() || !ids.accepts(c.Identifier, true) || !engines.accepts(c.Engine, false) ||
			!resourceIDs.accepts(c.ResourceID, false) {
			continue
		}
		matched = append(matched, c)
	}
	page, marker := pageByKey(matched, func(c export.DBCluster) string { return c.Identifier }, after, limit)
	return &DescribeDBClustersOutput{DBClusters: page, Marker: marker}, nil
}

// filterIdentifiers resolves the values of an id filter that accepts ARNs;
// ARNs that are malformed or name another account match nothing. Values
// are lowercased: identifiers compare case-insensitively.
func filterIdentifiers(c export.Caller, values []string, resourceType string) []string {
	out := make([]string, 0, len(values))
	for _, v := range values {
		if id, ok := filterIdentifier(c, v, resourceType); ok {
			out = append(out, strings.ToLower(id))
		}
	}
	return out
}

// pageByKey sorts items by lowercase identifier, keeps those after the
// marker key and returns at most limit of them, with the marker of the
// next page ("" when there is none).
func pageByKey[T any](items []T, ident func(T) string, after string, limit int) ([]T, string) {
	key := func(t T) string { return strings.ToLower(ident(t)) }
	items = slices.Clone(items)
	slices.SortStableFunc(items, func(a, b T) int { return strings.Compare(key(a), key(b)) })
	start := 0
	if after != "" {
		start, _ = slices.BinarySearchFunc(items, after, func(t T, k string) int {
			if key(t) <= k {
				return -1
			}
			return 1
		})
	}
	items = items[start:]
	page := make([]T, 0, min(limit, len(items)))
	page = append(page, items[:min(limit, len(items))]...)
	if len(items) > limit {
		return page, encodeKeyMarker(key(page[len(page)-1]))
	}
	return page, ""
}
