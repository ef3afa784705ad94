package awsquery

import "context"

// deleteDBSnapshot serves DeleteDBSnapshot (spec §4.3):
// DeleteDBSnapshotMessage in, DeleteDBSnapshotResult {DBSnapshot} out.
func deleteDBSnapshot(h *Handler, ctx context.Context, p params, a arnContext, x *xmlWriter) error {
	s, err := h.Service.DeleteDBSnapshot(ctx, p["DBSnapshotIdentifier"])
	if err != nil {
		return err
	}
	x.open("DBSnapshot")
	x.dbSnapshot(a, s)
	x.close("DBSnapshot")
	return nil
}
