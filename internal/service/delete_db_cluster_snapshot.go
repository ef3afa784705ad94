package service

import (
	"context"

	"github.com/rdsexport/rdsexport/internal/export"
)

// DeleteDBClusterSnapshot deletes an available DB cluster snapshot and then
// its stored data, or a creating one whose copy still waits for its turn
// (see DeleteDBSnapshot), and returns the snapshot as it was before the
// delete, with Status available (or creating), as AWS does (spec §4.6). The identifier may also
// be given as a cluster-snapshot ARN; it is compared with the stored
// lowercase identifier. A failure to remove the data is logged and does not
// fail the call: the record is gone by then.
//
// Errors (*export.Error): MissingParameter when the identifier is empty;
// InvalidParameterValue for a malformed ARN or one of another resource
// type; DBClusterSnapshotNotFoundFault when the caller has no such DB
// cluster snapshot; InvalidDBClusterSnapshotStateFault when it is failed
// or its copy has begun, or while an export task in status STARTING, IN_PROGRESS or
// CANCELING reads it (see DeleteDBSnapshot). ErrNoSnapshotStore,
// ErrNoCaller and store errors (wrapped) are internal.
func (s *Service) DeleteDBClusterSnapshot(ctx context.Context, identifier string) (*export.Snapshot, error) {
	return s.deleteSnapshot(ctx, clusterSnapshotKind, identifier)
}
