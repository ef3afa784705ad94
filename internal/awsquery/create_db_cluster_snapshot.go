package awsquery

import (
	"context"

	"github.com/rdsexport/rdsexport/internal/service"
)

// createDBClusterSnapshot serves CreateDBClusterSnapshot (spec §4.4):
// CreateDBClusterSnapshotMessage in, CreateDBClusterSnapshotResult
// {DBClusterSnapshot} out.
func createDBClusterSnapshot(h *Handler, ctx context.Context, p params, a arnContext, x *xmlWriter) error {
	in := service.CreateDBClusterSnapshotInput{
		DBClusterSnapshotIdentifier: p["DBClusterSnapshotIdentifier"],
		DBClusterIdentifier:         p["DBClusterIdentifier"],
	}
	var err error
	if in.Tags, err = p.tags(); err != nil {
		return err
	}
	s, err := h.Service.CreateDBClusterSnapshot(ctx, in)
	if err != nil {
		return err
	}
	x.open("DBClusterSnapshot")
	x.dbClusterSnapshot(a, s)
	x.close("DBClusterSnapshot")
	return nil
}
