package awsquery

import "context"

// deleteDBClusterSnapshot serves DeleteDBClusterSnapshot (spec §4.6):
// DeleteDBClusterSnapshotMessage in, DeleteDBClusterSnapshotResult
// {DBClusterSnapshot} out.
func deleteDBClusterSnapshot(h *Handler, ctx context.Context, p params, a arnContext, x *xmlWriter) error {
	s, err := h.Service.DeleteDBClusterSnapshot(ctx, p["DBClusterSnapshotIdentifier"])
	if err != nil {
		return err
	}
	x.open("DBClusterSnapshot")
	x.dbClusterSnapshot(a, s)
	x.close("DBClusterSnapshot")
	return nil
}
