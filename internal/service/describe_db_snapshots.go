package service

import (
	"context"

	"github.com/rdsexport/rdsexport/internal/export"
)

// DescribeDBSnapshots returns the caller's DB snapshots that match every
// criterion of in, in creation order, one page of at most MaxRecords
// (default 100); Marker is set only when more snapshots follow (spec §4.2).
//
// DBSnapshotIdentifier is an identifier or a snapshot ARN, compared with
// the stored lowercase identifier; automated identifiers (rds:...) are
// accepted without SnapshotType. DBInstanceIdentifier is an identifier or a
// db ARN, compared case-insensitively; an instance that no longer exists
// still has its snapshots listed. SnapshotType automated or manual
// restricts the list to that type; shared, public and awsbackup give an
// empty list, as do IncludeShared and IncludePublic nothing: no snapshot is
// shared or public here. DbiResourceId matches the source's resource id
// exactly. Filters: db-instance-id (identifiers or db ARNs,
// case-insensitive), db-snapshot-id (identifiers or snapshot ARNs),
// dbi-resource-id, snapshot-type and engine (exact). Empty strings count as
// absent.
//
// Errors (*export.Error): DBSnapshotNotFound when DBSnapshotIdentifier
// names no DB snapshot of the caller (an ARN of another account or region
// included); InvalidParameterValue for a malformed ARN or one of the wrong
// resource type, MaxRecords outside 20..100, an undecodable Marker, an
// unknown SnapshotType, an unknown filter name or a filter without values.
// ErrNoSnapshotStore when the Service has no snapshot store, ErrNoCaller
// when ctx carries no caller, and store errors, wrapped, are internal.
func (s *Service) DescribeDBSnapshots(ctx context.Context, in DescribeDBSnapshotsInput) (*DescribeDBSnapshotsOutput, error) {
	caller, err := callerFrom(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := s.snapshotStore(); err != nil {
		return nil, err
	}
	d := &describeSnapshots{k: dbSnapshotKind, visible: true}
	if in.DBInstanceIdentifier != nil && *in.DBInstanceIdentifier != "" {
		id, ok, err := resolveIdentifier(caller, "DBInstanceIdentifier", *in.DBInstanceIdentifier, ResourceDB)
		if err != nil {
			return nil, err
		}
		if ok {
			d.sources.constrain(filterIdentifiers(caller, []string{id}, ResourceDB))
		} else {
			d.sources.constrain(nil)
		}
	}
	if in.DBSnapshotIdentifier != nil && *in.DBSnapshotIdentifier != "" {
		d.given = *in.DBSnapshotIdentifier
		if d.id, d.visible, err = d.k.resolve(caller, d.given); err != nil {
			return nil, err
		}
	}
	if d.limit, err = pageSize(in.MaxRecords); err != nil {
		return nil, err
	}
	if d.after, err = decodeSeqMarker(in.Marker); err != nil {
		return nil, err
	}
	if err := d.snapshotType(in.SnapshotType); err != nil {
		return nil, err
	}
	if err := checkFilters(in.Filters, FilterDBInstanceID, FilterDBSnapshotID, FilterDBIResourceID, FilterSnapshotType, FilterEngine); err != nil {
		return nil, err
	}
	if in.DbiResourceId != nil && *in.DbiResourceId != "" {
		d.resourceIDs.constrain([]string{*in.DbiResourceId})
	}
	for _, f := range in.Filters {
		switch f.Name {
		case FilterDBInstanceID:
			d.sources.constrain(filterIdentifiers(caller, f.Values, ResourceDB))
		case FilterDBSnapshotID:
			d.ids.constrain(filterIdentifiers(caller, f.Values, ResourceSnapshot))
		case FilterDBIResourceID:
			d.resourceIDs.constrain(f.Values)
		case FilterSnapshotType:
			d.types.constrain(f.Values)
		case FilterEngine:
			d.engines.constrain(f.Values)
		}
	}
	page, marker, err := s.describeSnapshots(ctx, caller, d)
	if err != nil {
		return nil, err
	}
	return &DescribeDBSnapshotsOutput{DBSnapshots: page, Marker: marker}, nil
}

// snapshotType validates the SnapshotType parameter and narrows the types
// to it. Shared, public and AWS Backup snapshots do not exist here, so
// those types select nothing.
func (d *describeSnapshots) snapshotType(p *string) error {
	t, err := parseSnapshotType(d.k, p)
	if err != nil {
		return err
	}
	switch t {
	case "":
	case export.SnapshotTypeAutomated, export.SnapshotTypeManual:
		d.types.constrain([]string{t})
	default:
		d.types.constrain(nil)
	}
	return nil
}
