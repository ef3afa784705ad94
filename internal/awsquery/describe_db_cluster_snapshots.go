package awsquery

import (
	"context"

	"github.com/rdsexport/rdsexport/internal/service"
)

// describeDBClusterSnapshots serves DescribeDBClusterSnapshots (spec
// §4.5): DescribeDBClusterSnapshotsMessage in, DBClusterSnapshotMessage out.
func describeDBClusterSnapshots(h *Handler, ctx context.Context, p params, a arnContext, x *xmlWriter) error {
	in := service.DescribeDBClusterSnapshotsInput{
		DBClusterIdentifier:         p.str("DBClusterIdentifier"),
		DBClusterSnapshotIdentifier: p.str("DBClusterSnapshotIdentifier"),
		SnapshotType:                p.str("SnapshotType"),
		Marker:                      p.str("Marker"),
		DbClusterResourceId:         p.str("DbClusterResourceId"),
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
	if in.IncludePublic, err = p.bool("IncludePublic"); err != nil {
		return err
	}
	out, err := h.Service.DescribeDBClusterSnapshots(ctx, in)
	if err != nil {
		return err
	}
	x.optStr("Marker", out.Marker)
	if len(out.DBClusterSnapshots) == 0 {
		x.empty("DBClusterSnapshots")
		return nil
	}
	x.open("DBClusterSnapshots")
	for _, s := range out.DBClusterSnapshots {
		x.open("DBClusterSnapshot")
		x.dbClusterSnapshot(a, s)
		x.close("DBClusterSnapshot")
	}
	x.close("DBClusterSnapshots")
	return nil
}
