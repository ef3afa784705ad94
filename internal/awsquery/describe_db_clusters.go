package awsquery

import (
	"context"

	"github.com/rdsexport/rdsexport/internal/service"
)

// describeDBClusters serves DescribeDBClusters (spec §4.8):
// DescribeDBClustersMessage in, DBClusterMessage out.
func describeDBClusters(h *Handler, ctx context.Context, p params, a arnContext, x *xmlWriter) error {
	in := service.DescribeDBClustersInput{
		DBClusterIdentifier: p.str("DBClusterIdentifier"),
		Marker:              p.str("Marker"),
	}
	var err error
	if in.Filters, err = p.filters(); err != nil {
		return err
	}
	if in.MaxRecords, err = p.int("MaxRecords"); err != nil {
		return err
	}
	if in.IncludeShared, err = p.bool("IncludeShared"); err != nil {
		return err
	}
	out, err := h.Service.DescribeDBClusters(ctx, in)
	if err != nil {
		return err
	}
	if len(out.DBClusters) == 0 {
		x.empty("DBClusters")
	} else {
		x.open("DBClusters")
		for i := range out.DBClusters {
			x.open("DBCluster")
			x.dbCluster(a, &out.DBClusters[i])
			x.close("DBCluster")
		}
		x.close("DBClusters")
	}
	x.optStr("Marker", out.Marker)
	return nil
}
