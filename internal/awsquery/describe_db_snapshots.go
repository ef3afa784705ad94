package awsquery

import (
	"context"

	"github.com/rdsexport/rdsexport/internal/service"
)

// describeDBSnapshots serves DescribeDBSnapshots (spec §4.2):
// DescribeDBSnapshotsMessage in, DBSnapshotMessage out.
func describeDBSnapshots(h *Handler, ctx context.Context, p params, a arnContext, x *xmlWriter) error {
	in := service.DescribeDBSnapshotsInput{
		DBInstanceIdentifier: p.str("DBInstanceIdentifier"),
		DBSnapshotIdentifier: p.str("DBSnapshotIdentifier"),
		SnapshotType:         p.str("SnapshotType"),
		Marker:               p.str("Marker"),
		DbiResourceId:        p.str("DbiResourceId"),
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
	out, err := h.Service.DescribeDBSnapshots(ctx, in)
	if err != nil {
		return err
	}
	x.optStr("Marker", out.Marker)
	if len(out.DBSnapshots) == 0 {
		x.empty("DBSnapshots")
		return nil
	}
	x.open("DBSnapshots")
	for _, s := range out.DBSnapshots {
		x.open("DBSnapshot")
		x.dbSnapshot(a, s)
		x.close("DBSnapshot")
	}
	x.close("DBSnapshots")
	return nil
}
