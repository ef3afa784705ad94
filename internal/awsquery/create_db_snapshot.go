package awsquery

import (
	"context"

	"github.com/rdsexport/rdsexport/internal/service"
)

// createDBSnapshot serves CreateDBSnapshot (spec §4.1):
// CreateDBSnapshotMessage in, CreateDBSnapshotResult {DBSnapshot} out.
func createDBSnapshot(h *Handler, ctx context.Context, p params, a arnContext, x *xmlWriter) error {
	in := service.CreateDBSnapshotInput{
		DBSnapshotIdentifier: p["DBSnapshotIdentifier"],
		DBInstanceIdentifier: p["DBInstanceIdentifier"],
	}
	var err error
	if in.Tags, err = p.tags(); err != nil {
		return err
	}
	s, err := h.Service.CreateDBSnapshot(ctx, in)
	if err != nil {
		return err
	}
	x.open("DBSnapshot")
	x.dbSnapshot(a, s)
	x.close("DBSnapshot")
	return nil
}
