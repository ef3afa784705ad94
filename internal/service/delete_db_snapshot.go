package service

import (
	"context"

	"github.com/rdsexport/rdsexport/internal/export"
)

// DeleteDBSnapshot deletes an available DB snapshot and then its stored
// data, or a creating one whose copy still waits for its turn (it has no
// data; the copy never begins), and returns the snapshot with Status
// deleted (spec §4.3). The identifier may also be given as a snapshot ARN;
// it is compared with the stored lowercase identifier. A failure to remove
// the data is logged and does not fail the call: the record is gone by
// then.
//
// Errors (*export.Error): MissingParameter when the identifier is empty;
// InvalidParameterValue for a malformed ARN or one of another resource
// type; DBSnapshotNotFound when the caller has no such DB snapshot;
// InvalidDBSnapshotState when it is failed, or creating with its copy
// begun (RDS refuses every creating snapshot), or while an export task in
// status STARTING, IN_PROGRESS or CANCELING reads it. The spec allows the delete in that last case (§4.3); it is refused
// here because the export reads the very data the delete removes.
// ErrNoSnapshotStore, ErrNoCaller and store errors (wrapped) are internal.
func (s *Service) DeleteDBSnapshot(ctx context.Context, identifier string) (*export.Snapshot, error) {
	snap, err := s.deleteSnapshot(ctx, dbSnapshotKind, identifier)
	if err != nil {
		return nil, err
	}
	snap.Status = export.SnapshotDeleted
	return snap, nil
}
