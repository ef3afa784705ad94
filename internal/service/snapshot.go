package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rdsexport/rdsexport/internal/export"
)

// ErrNoSnapshotStore is returned (as an internal error) by the snapshot
// operations of a Service built without Params.Snapshots.
var ErrNoSnapshotStore = errors.New("service: no snapshot store configured")

// ErrNoSnapshotter is returned (as an internal error) by CreateDBSnapshot
// and CreateDBClusterSnapshot of a Service built without Params.Snapshotter.
var ErrNoSnapshotter = errors.New("service: no snapshotter configured")

// Longest snapshot identifiers (spec §2.3).
const (
	maxDBSnapshotIdentifierLen        = 255
	maxDBClusterSnapshotIdentifierLen = 63
)

// Filter names of DescribeDBSnapshots and DescribeDBClusterSnapshots (spec
// §4.2, §4.5), besides db-instance-id, dbi-resource-id, db-cluster-id and
// engine, which DescribeDBInstances and DescribeDBClusters share.
const (
	FilterDBSnapshotID        = "db-snapshot-id"
	FilterDBClusterSnapshotID = "db-cluster-snapshot-id"
	FilterSnapshotType        = "snapshot-type"
)

// Tag limits of RDS (AWS tagging rules): at most 50 tags, keys of 1 to 128
// characters, values of at most 256.
const (
	maxTags        = 50
	maxTagKeyLen   = 128
	maxTagValueLen = 256
)

// snapshotKind describes the parameters, ARN type and error codes of one
// kind of snapshot, so that the DB and DB cluster operations share code.
type snapshotKind struct {
	kind export.SnapshotKind
	// label names the resource in messages: DBSnapshot, DBClusterSnapshot.
	label string
	// param is the identifier parameter: DBSnapshotIdentifier, ...
	param        string
	maxLen       int
	resourceType string // snapshot, cluster-snapshot
	// invalidState is InvalidDBSnapshotState or InvalidDBClusterSnapshotStateFault.
	invalidState string
	// types are the accepted SnapshotType values (the model documentation).
	types []string
}

var (
	dbSnapshotKind = snapshotKind{
		kind: export.SnapshotKindDB, label: "DBSnapshot", param: "DBSnapshotIdentifier",
		maxLen: maxDBSnapshotIdentifierLen, resourceType: ResourceSnapshot,
		invalidState: export.CodeInvalidDBSnapshotState,
		types:        []string{"automated", "manual", "shared", "public", "awsbackup"},
	}
	clusterSnapshotKind = snapshotKind{
		kind: export.SnapshotKindCluster, label: "DBClusterSnapshot", param: "DBClusterSnapshotIdentifier",
		maxLen: maxDBClusterSnapshotIdentifierLen, resourceType: ResourceClusterSnapshot,
		invalidState: export.CodeInvalidDBClusterSnapshotState,
		types:        []string{"automated", "manual", "shared", "public"},
	}
)

// notFound is the not-found error naming the snapshot as the caller gave it.
func (k snapshotKind) notFound(name string) *export.Error {
	return export.SnapshotNotFound(k.kind, name)
}

// resolve turns an identifier parameter (a snapshot identifier or an ARN of
// the kind's resource type) into the stored, lowercase identifier. ok is
// false for an ARN of another account or region, which the caller cannot
// see. A malformed ARN or one of another type is InvalidParameterValue.
func (k snapshotKind) resolve(c export.Caller, value string) (id string, ok bool, err error) {
	id, ok, err = resolveIdentifier(c, k.param, value, k.resourceType)
	return strings.ToLower(id), ok, err
}

// snapshotStore returns the configured store, or ErrNoSnapshotStore.
func (s *Service) snapshotStore() (export.SnapshotStore, error) {
	if s.snapshots == nil {
		return nil, ErrNoSnapshotStore
	}
	return s.snapshots, nil
}

// checkTags validates the Tags of a Create operation.
func checkTags(tags []export.Tag) error {
	if len(tags) > maxTags {
		return invalidParameter("Too many tags: %d. A resource can have at most %d tags.", len(tags), maxTags)
	}
	for _, t := range tags {
		if t.Key == "" || len(t.Key) > maxTagKeyLen {
			return invalidParameter("The tag key %q is not valid: tag keys must be 1 to %d characters long.", t.Key, maxTagKeyLen)
		}
		if len(t.Value) > maxTagValueLen {
			return invalidParameter("The value of tag %q is not valid: tag values must be at most %d characters long.", t.Key, maxTagValueLen)
		}
	}
	return nil
}

// createSnapshot stores snap (status creating) and hands a copy to the
// Snapshotter. The quota is checked by the store in the same atomic step
// as the insert, so concurrent creations never keep more than
// Params.SnapshotQuota manual snapshots of a kind: SnapshotQuotaExceeded
// at the quota, then DBSnapshotAlreadyExists /
// DBClusterSnapshotAlreadyExistsFault for a duplicate identifier.
func (s *Service) createSnapshot(ctx context.Context, snap *export.Snapshot) (*export.Snapshot, error) {
	var err error
	if s.snapshotQuota < 0 {
		err = s.snapshots.CreateSnapshot(ctx, snap)
	} else {
		err = s.snapshots.CreateSnapshotWithin(ctx, snap, s.snapshotQuota)
	}
	if err != nil {
		return nil, storeError(err, "create snapshot %s", snap.Identifier)
	}
	s.logger.InfoContext(ctx, "snapshot creating", "snapshot_id", snap.Identifier, "kind", string(snap.Kind),
		"account_id", snap.AccountID, "source", snap.SourceIdentifier)
	s.snapshotter.CreateSnapshot(cloneSnapshot(snap))
	return snap, nil
}

// newSnapshot is the record of a new manual snapshot in status creating.
func (s *Service) newSnapshot(caller export.Caller, k snapshotKind, id string, tags []export.Tag) *export.Snapshot {
	snap := &export.Snapshot{
		Kind:       k.kind,
		Identifier: strings.ToLower(id),
		AccountID:  caller.AccountID,
		Region:     caller.Region,
		Status:     export.SnapshotCreating,
		Type:       export.SnapshotTypeManual,
	}
	if tags != nil {
		snap.Tags = append([]export.Tag{}, tags...)
	}
	return snap
}

// cloneSnapshot returns a deep copy of s.
func cloneSnapshot(s *export.Snapshot) *export.Snapshot {
	c := *s
	if s.Tags != nil {
		c.Tags = append([]export.Tag{}, s.Tags...)
	}
	return &c
}

// parseSnapshotType validates the SnapshotType parameter of a Describe
// operation against the kind's documented values.
func parseSnapshotType(k snapshotKind, p *string) (string, error) {
	if p == nil || *p == "" {
		return "", nil
	}
	for _, t := range k.types {
		if *p == t {
			return t, nil
		}
	}
	return "", invalidParameter("Invalid value %s for SnapshotType. Must be one of %s", *p, strings.Join(k.types, ", "))
}

// describeSnapshots holds the criteria of a Describe operation once they
// have been validated.
type describeSnapshots struct {
	k           snapshotKind
	given       string // the identifier parameter as given, "" when absent
	id          string // its stored form
	visible     bool   // false when given names a resource of another account
	limit       int
	after       int64
	ids         valueSet
	sources     valueSet
	types       valueSet
	engines     valueSet
	resourceIDs valueSet
}

// run answers the Describe operation: not-found for an unknown given
// identifier, else one page of the matching snapshots in creation order.
func (s *Service) describeSnapshots(ctx context.Context, caller export.Caller, d *describeSnapshots) ([]*export.Snapshot, string, error) {
	if d.given != "" {
		if !d.visible {
			return nil, "", d.k.notFound(d.given)
		}
		if _, err := s.snapshots.GetSnapshot(ctx, caller.AccountID, d.k.kind, d.id); err != nil {
			if export.ErrorCode(err) == export.CodeInternalFailure {
				return nil, "", fmt.Errorf("get snapshot %s: %w", d.id, err)
			}
			return nil, "", d.k.notFound(d.given)
		}
		d.ids.constrain([]string{d.id})
	}
	if d.ids.impossible() || d.sources.impossible() || d.types.impossible() || d.engines.impossible() || d.resourceIDs.impossible() {
		return []*export.Snapshot{}, "", nil
	}
	f := export.SnapshotFilter{
		AccountID:         caller.AccountID,
		Kind:              d.k.kind,
		Identifiers:       d.ids.list(),
		SourceIdentifiers: d.sources.list(),
		Types:             d.types.list(),
		Engines:           d.engines.list(),
		AfterSeq:          d.after,
	}
	// The store cannot filter by resource id; such pages are filled by
	// reading on until enough snapshots match.
	var keep func(*export.Snapshot) bool
	if d.resourceIDs.constrained {
		keep = func(sn *export.Snapshot) bool { return d.resourceIDs.accepts(sn.SourceResourceID, false) }
	}
	return s.pageSnapshots(ctx, f, keep, d.limit)
}

// pageSnapshots lists the snapshots of f that keep accepts (all when keep
// is nil), at most limit and, past the first, no more than
// Params.MaxPageBytes of them, with the marker of the next page ("" when
// none follows). Markers are Seq markers, as for export tasks (spec §5).
func (s *Service) pageSnapshots(ctx context.Context, f export.SnapshotFilter, keep func(*export.Snapshot) bool, limit int) ([]*export.Snapshot, string, error) {
	out := []*export.Snapshot{}
	size := 0
	for {
		f.Limit = limit + 1 // one more tells whether a next page exists
		batch, err := s.snapshots.ListSnapshots(ctx, f)
		if err != nil {
			return nil, "", fmt.Errorf("list snapshots: %w", err)
		}
		for _, sn := range batch {
			if keep != nil && !keep(sn) {
				continue
			}
			n := snapshotWireBytes(sn)
			if len(out) > 0 && (len(out) == limit || size+n > s.maxPageBytes) {
				return out, encodeSeqMarker(out[len(out)-1].Seq), nil
			}
			out = append(out, sn)
			size += n
		}
		if len(batch) < f.Limit {
			return out, "", nil
		}
		f.AfterSeq = batch[len(batch)-1].Seq
	}
}

// snapshotWireBytes estimates the size of a snapshot in a response, as
// taskWireBytes does for a task.
func snapshotWireBytes(sn *export.Snapshot) int {
	n := 1500 + 2*wireLen(sn.Identifier) + wireLen(sn.SourceIdentifier) + wireLen(sn.MasterUsername) +
		wireLen(sn.EngineVersion) + wireLen(sn.SourceResourceID)
	for _, t := range sn.Tags {
		n += 40 + wireLen(t.Key) + wireLen(t.Value)
	}
	return n
}

// deleteSnapshot is DeleteDBSnapshot and DeleteDBClusterSnapshot: it
// deletes an available snapshot that no active export task reads, then
// removes its data, or a creating one whose copy has not begun, and
// returns the record as it was before the delete.
func (s *Service) deleteSnapshot(ctx context.Context, k snapshotKind, value string) (*export.Snapshot, error) {
	caller, err := callerFrom(ctx)
	if err != nil {
		return nil, err
	}
	store, err := s.snapshotStore()
	if err != nil {
		return nil, err
	}
	if value == "" {
		return nil, missingParameter(k.param)
	}
	id, visible, err := k.resolve(caller, value)
	if err != nil {
		return nil, err
	}
	if !visible {
		return nil, k.notFound(value)
	}
	snap, err := store.GetSnapshot(ctx, caller.AccountID, k.kind, id)
	if err != nil {
		if export.ErrorCode(err) == export.CodeInternalFailure {
			return nil, fmt.Errorf("get snapshot %s: %w", id, err)
		}
		return nil, k.notFound(value)
	}
	if snap.Status == export.SnapshotCreating {
		return s.deleteQueued(ctx, k, value, snap)
	}
	if snap.Status != export.SnapshotAvailable {
		return nil, notAvailable(k, snap)
	}
	// Spec §4.3 lets an export outlive the snapshot it reads, but the
	// engine reads the stored copy that a delete removes, so a snapshot
	// being exported is kept until the export ends. A task started between
	// this check and the delete below can still lose its data; it then
	// fails like any export whose source vanished.
	if err := s.checkNotExporting(ctx, caller, k, snap); err != nil {
		return nil, err
	}
	deleted, err := store.DeleteSnapshot(ctx, caller.AccountID, k.kind, id, []export.SnapshotStatus{export.SnapshotAvailable})
	switch {
	case err == nil:
	case errors.Is(err, export.ErrStatusConflict) && deleted != nil:
		return nil, notAvailable(k, deleted)
	case export.ErrorCode(err) != export.CodeInternalFailure:
		return nil, k.notFound(value)
	default:
		return nil, fmt.Errorf("delete snapshot %s: %w", id, err)
	}
	s.logger.InfoContext(ctx, "snapshot deleted", "snapshot_id", id, "kind", string(k.kind), "account_id", caller.AccountID)
	if s.snapshotter != nil {
		// The record is gone whatever happens next: the data is removed on
		// a context of its own so that a client hanging up does not leave
		// it half deleted.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), snapshotDataDeleteTimeout)
		err := s.snapshotter.DeleteSnapshotData(dctx, cloneSnapshot(deleted))
		cancel()
		if err != nil {
			s.logger.ErrorContext(ctx, "delete snapshot data", "snapshot_id", id, "kind", string(k.kind),
				"account_id", caller.AccountID, "err", err)
		}
	}
	return deleted, nil
}

// deleteQueued deletes a creating snapshot whose copy is still waiting
// for its turn. RDS refuses to delete creating snapshots (spec §4.3), but
// here a snapshot may wait behind many others, and until its copy begins
// nothing has been read or stored: deleting it withdraws the request. A
// copy that has begun must end first, as on RDS.
func (s *Service) deleteQueued(ctx context.Context, k snapshotKind, value string, snap *export.Snapshot) (*export.Snapshot, error) {
	if s.snapshotter == nil || !s.snapshotter.Dequeue(snap) {
		return nil, export.Errorf(k.invalidState, "Cannot delete the snapshot %s because it is being created; only available snapshots, and creating ones still waiting for their turn, can be deleted.",
			snap.Identifier)
	}
	deleted, err := s.snapshots.DeleteSnapshot(ctx, snap.AccountID, k.kind, snap.Identifier, []export.SnapshotStatus{export.SnapshotCreating})
	switch {
	case err == nil:
	case errors.Is(err, export.ErrStatusConflict) && deleted != nil:
		return nil, notAvailable(k, deleted)
	case export.ErrorCode(err) != export.CodeInternalFailure:
		return nil, k.notFound(value)
	default:
		// The record is still there: its copy must still happen (after
		// the copies queued meanwhile).
		s.snapshotter.CreateSnapshot(cloneSnapshot(snap))
		return nil, fmt.Errorf("delete snapshot %s: %w", snap.Identifier, err)
	}
	s.logger.InfoContext(ctx, "queued snapshot deleted", "snapshot_id", snap.Identifier, "kind", string(k.kind), "account_id", snap.AccountID)
	return deleted, nil
}

// snapshotDataDeleteTimeout bounds the removal of a deleted snapshot's data.
const snapshotDataDeleteTimeout = 5 * time.Minute

func notAvailable(k snapshotKind, snap *export.Snapshot) *export.Error {
	return export.Errorf(k.invalidState, "Cannot delete the snapshot %s because its status is %s; only available snapshots can be deleted.",
		snap.Identifier, snap.Status)
}

// checkNotExporting fails with the kind's invalid-state error while an
// export task in an active status (STARTING, IN_PROGRESS, CANCELING) reads
// the snapshot.
func (s *Service) checkNotExporting(ctx context.Context, caller export.Caller, k snapshotKind, snap *export.Snapshot) error {
	if s.store == nil {
		return nil
	}
	active, err := s.store.ListTasks(ctx, export.TaskFilter{AccountID: caller.AccountID, Statuses: export.ActiveStatuses()})
	if err != nil {
		return fmt.Errorf("list active export tasks: %w", err)
	}
	for _, t := range active {
		a, err := ParseARN(t.SourceArn)
		if err != nil || a.ResourceType != k.resourceType || !strings.EqualFold(a.ID, snap.Identifier) {
			continue
		}
		return export.Errorf(k.invalidState, "Cannot delete the snapshot %s because the export task %s is reading it (status %s).",
			snap.Identifier, t.Identifier, t.Status)
	}
	return nil
}
