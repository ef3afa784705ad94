package awsquery

import (
	"context"

	"github.com/rdsexport/rdsexport/internal/service"
)

// describeDBInstances serves DescribeDBInstances (spec §4.7):
// DescribeDBInstancesMessage in, DBInstanceMessage out.
func describeDBInstances(h *Handler, ctx context.Context, p params, a arnContext, x *xmlWriter) error {
	in := service.DescribeDBInstancesInput{
		DBInstanceIdentifier: p.str("DBInstanceIdentifier"),
		Marker:               p.str("Marker"),
	}
	var err error
	if in.Filters, err = p.filters(); err != nil {
		return err
	}
	if in.MaxRecords, err = p.int("MaxRecords"); err != nil {
		return err
	}
	out, err := h.Service.DescribeDBInstances(ctx, in)
	if err != nil {
		return err
	}
	if len(out.DBInstances) == 0 {
		x.empty("DBInstances")
	} else {
		x.open("DBInstances")
		for i := range out.DBInstances {
			x.open("DBInstance")
			x.dbInstance(a, &out.DBInstances[i])
			x.close("DBInstance")
		}
		x.close("DBInstances")
	}
	x.optStr("Marker", out.Marker)
	return nil
}
