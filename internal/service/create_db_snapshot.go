package service

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/rdsexport/rdsexport/internal/export"
)

// CreateDBSnapshot stores a manual DB snapshot of a DB instance in status
// creating and asks the Snapshotter to copy the instance's data (spec
// §4.1). The snapshot identifier is stored lowercase; engine, version,
// port, master user, allocated storage and resource id come from the
// instance, and the region and account from the caller. The checks run in
// this order, and the first failure is returned as an *export.Error:
//
//  1. MissingParameter: DBSnapshotIdentifier, then DBInstanceIdentifier,
//     is empty.
//  2. InvalidParameterValue: DBSnapshotIdentifier is not 1 to 255 letters,
//     digits and hyphens beginning with a letter, without a trailing
//     hyphen or two consecutive hyphens (spec §2.3); a tag has an empty or
//     too long key or a too long value, or there are more than 50 tags.
//  3. DBInstanceNotFound: the caller has no instance with that identifier
//     (compared case-insensitively).
//  4. InvalidDBInstanceState: the instance is not available, or its engine
//     cannot be exported (so a snapshot of it would be of no use here).
//  5. SnapshotQuotaExceeded: the account keeps Params.SnapshotQuota manual
//     DB snapshots already.
//  6. DBSnapshotAlreadyExists: the account has a DB snapshot with that
//     identifier, in any status.
//
// ErrNoSnapshotStore and ErrNoSnapshotter are returned when the Service
// lacks them, ErrNoCaller when ctx carries no caller; catalog and store
// errors are returned wrapped. All of these are internal.
func (s *Service) CreateDBSnapshot(ctx context.Context, in CreateDBSnapshotInput) (*export.Snapshot, error) {
	caller, err := callerFrom(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.canCreateSnapshots(); err != nil {
		return nil, err
	}
	if in.DBSnapshotIdentifier == "" {
		return nil, missingParameter("DBSnapshotIdentifier")
	}
	if in.DBInstanceIdentifier == "" {
		return nil, missingParameter("DBInstanceIdentifier")
	}
	if !validIdentifierLen(in.DBSnapshotIdentifier, maxDBSnapshotIdentifierLen) {
		return nil, invalidIdentifier("DBSnapshotIdentifier")
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	inst, err := s.findInstance(ctx, caller, in.DBInstanceIdentifier)
	if err != nil {
		return nil, err
	}
	if inst.Status != "available" {
		return nil, export.Errorf(export.CodeInvalidDBInstanceState,
			"Cannot create a snapshot because the database instance %s is not currently in the available state.", inst.Identifier)
	}
	if export.EngineFamily(inst.Engine) == "" {
		return nil, export.Errorf(export.CodeInvalidDBInstanceState,
			"Cannot create a snapshot of the database instance %s: its engine %s is not supported.", inst.Identifier, inst.Engine)
	}
	snap := s.newSnapshot(caller, dbSnapshotKind, in.DBSnapshotIdentifier, in.Tags)
	snap.SourceIdentifier = inst.Identifier
	snap.Engine = inst.Engine
	snap.EngineVersion = inst.EngineVersion
	snap.Port = inst.Port
	snap.MasterUsername = inst.MasterUsername
	snap.AllocatedStorage = inst.AllocatedStorage
	snap.SourceResourceID = inst.ResourceID
	snap.SourceCreateTime = inst.CreateTime.UTC().Truncate(time.Microsecond)
	return s.createSnapshot(ctx, snap)
}

// canCreateSnapshots reports the internal error of a Service that cannot
// create snapshots.
func (s *Service) canCreateSnapshots() error {
	if s.snapshots == nil {
		return ErrNoSnapshotStore
	}
	if s.snapshotter == nil {
		return ErrNoSnapshotter
	}
	return nil
}

// findInstance returns the caller's instance with the identifier, compared
// case-insensitively, or DBInstanceNotFound.
func (s *Service) findInstance(ctx context.Context, caller export.Caller, id string) (export.DBInstance, error) {
	if s.catalog != nil {
		instances, err := s.catalog.Instances(ctx, caller.AccountID)
		if err != nil {
			return export.DBInstance{}, fmt.Errorf("list instances: %w", err)
		}
		for _, i := range instances {
			if strings.EqualFold(i.Identifier, id) {
				return i, nil
			}
		}
	}
	return export.DBInstance{}, export.Errorf(export.CodeDBInstanceNotFound, "DBInstance %s not found.", id)
}
