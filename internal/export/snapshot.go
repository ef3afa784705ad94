package export

import (
	"context"
	"slices"
	"time"
)

// SnapshotKind tells a DB snapshot (of a DB instance) from a DB cluster
// snapshot (of a DB cluster). They live in separate namespaces and answer
// different error codes.
type SnapshotKind string

const (
	SnapshotKindDB      SnapshotKind = "db"
	SnapshotKindCluster SnapshotKind = "cluster"
)

// SnapshotStatus is the lifecycle state of a snapshot, lowercase as RDS
// sends it (spec §1.6 waiters).
type SnapshotStatus string

const (
	// SnapshotCreating: the copy is queued or being taken.
	SnapshotCreating SnapshotStatus = "creating"
	// SnapshotAvailable: the copy is complete and can be exported.
	SnapshotAvailable SnapshotStatus = "available"
	// SnapshotFailed: the copy stopped or its data was lost;
	// FailureReason says why. Its data has been removed.
	SnapshotFailed SnapshotStatus = "failed"
	// SnapshotDeleted is only shown in the answer to a delete: a deleted
	// snapshot has no record.
	SnapshotDeleted SnapshotStatus = "deleted"
)

// snapshotTransitions is the one table of legal snapshot moves. A copy
// records its progress as creating -> creating; a copy whose stored data
// is lost fails after it was available.
var snapshotTransitions = map[SnapshotStatus][]SnapshotStatus{
	SnapshotCreating:  {SnapshotCreating, SnapshotAvailable, SnapshotFailed},
	SnapshotAvailable: {SnapshotFailed},
}

// CanTransitionSnapshot reports whether a snapshot may move from one
// status to another.
func CanTransitionSnapshot(from, to SnapshotStatus) bool {
	return slices.Contains(snapshotTransitions[from], to)
}

// Snapshot types (SnapshotType).
const (
	SnapshotTypeManual    = "manual"
	SnapshotTypeAutomated = "automated"
)

// Tag is a resource tag.
type Tag struct {
	Key   string
	Value string
}

// Snapshot is a DB snapshot or DB cluster snapshot: a copy of a source's
// data at one moment, kept by rdsexport so that it can be exported later
// whatever happens to the source.
type Snapshot struct {
	Kind SnapshotKind
	// Identifier is stored lowercase (spec §2.3); automated snapshots have
	// identifiers of the form rds:<source>-<yyyy-mm-dd-hh-mm>.
	Identifier string
	AccountID  string
	Region     string
	// SourceIdentifier is the DBInstanceIdentifier or DBClusterIdentifier.
	SourceIdentifier string
	Engine           string
	EngineVersion    string
	Status           SnapshotStatus
	PercentProgress  int
	Type             string
	// CreateTime is SnapshotCreateTime: the moment of the data. Zero until
	// the copy has begun.
	CreateTime time.Time
	// SourceCreateTime is the InstanceCreateTime / ClusterCreateTime.
	SourceCreateTime time.Time
	AllocatedStorage int
	Port             int
	MasterUsername   string
	Tags             []Tag
	// SourceResourceID is the DbiResourceId / DbClusterResourceId of the source.
	SourceResourceID string
	// Location names the stored copy (opaque outside the snapshot storage).
	Location string
	// SizeBytes is the size of the stored copy.
	SizeBytes int64
	// FailureReason says why a snapshot is failed (logged, not on the wire).
	FailureReason string
	// Seq orders snapshots by creation; assigned by the store.
	Seq int64
}

// SnapshotFilter selects snapshots for ListSnapshots. Empty fields match
// all; within a slice any value matches; fields combine with AND.
type SnapshotFilter struct {
	AccountID         string // "" means every account
	Kind              SnapshotKind
	Identifiers       []string
	SourceIdentifiers []string // compared case-insensitively
	Types             []string
	Engines           []string
	Statuses          []SnapshotStatus
	AfterSeq          int64
	Limit             int
}

// SnapshotUpdate carries the fields written with a snapshot status change.
// Nil fields are left unchanged.
type SnapshotUpdate struct {
	PercentProgress *int
	CreateTime      *time.Time
	Location        *string
	SizeBytes       *int64
	FailureReason   *string
	EngineVersion   *string
}

// SnapshotStore keeps snapshot records durable.
//
// Not-found is an *Error with DBSnapshotNotFound or
// DBClusterSnapshotNotFoundFault (by kind); a duplicate identifier is
// DBSnapshotAlreadyExists or DBClusterSnapshotAlreadyExistsFault; a failed
// compare-and-set wraps ErrStatusConflict.
type SnapshotStore interface {
	// CreateSnapshot inserts s (status as given, normally creating) and
	// assigns s.Seq. Identifiers are unique per account and kind.
	CreateSnapshot(ctx context.Context, s *Snapshot) error
	// CreateSnapshotWithin is CreateSnapshot under a quota of limit
	// snapshots (limit >= 0) of s.AccountID, s.Kind and s.Type, counted in
	// any status. The count and the insert are one atomic step: when limit
	// or more such snapshots exist it inserts nothing, leaves s unchanged
	// and returns the *Error of SnapshotQuotaExceeded(s.Kind, limit). So N
	// concurrent calls for an account that keeps E such snapshots create
	// exactly max(0, min(N, limit-E)), whichever processes share the
	// store. The quota is checked first: at the quota, a duplicate
	// identifier is SnapshotQuotaExceeded too. Below it, the errors are
	// those of CreateSnapshot.
	//
	// A count and an insert in one statement are not enough where
	// concurrent transactions do not see each other's inserts (PostgreSQL
	// at READ COMMITTED): such a store must serialize the creations of an
	// account and kind, for example with a transaction-scoped lock on them.
	CreateSnapshotWithin(ctx context.Context, s *Snapshot, limit int) error
	// GetSnapshot returns one snapshot.
	GetSnapshot(ctx context.Context, accountID string, kind SnapshotKind, identifier string) (*Snapshot, error)
	// ListSnapshots returns the matching snapshots ordered by Seq.
	ListSnapshots(ctx context.Context, f SnapshotFilter) ([]*Snapshot, error)
	// UpdateSnapshot sets status `to` (and u) only if the current status is
	// one of from; `to` may equal a from status to record progress.
	// Callers must pass only legal moves (CanTransitionSnapshot).
	UpdateSnapshot(ctx context.Context, accountID string, kind SnapshotKind, identifier string, from []SnapshotStatus, to SnapshotStatus, u SnapshotUpdate) (*Snapshot, error)
	// DeleteSnapshot removes the record if its status is one of from and
	// returns it as it was.
	DeleteSnapshot(ctx context.Context, accountID string, kind SnapshotKind, identifier string, from []SnapshotStatus) (*Snapshot, error)
}

// SnapshotNotFound returns the not-found error of the snapshot kind.
func SnapshotNotFound(kind SnapshotKind, id string) *Error {
	if kind == SnapshotKindCluster {
		return Errorf(CodeDBClusterSnapshotNotFound, "DBClusterSnapshot %s not found.", id)
	}
	return Errorf(CodeDBSnapshotNotFound, "DBSnapshot %s not found.", id)
}

// SnapshotQuotaExceeded returns the SnapshotQuotaExceeded error of an
// account that keeps limit manual snapshots of the kind already.
func SnapshotQuotaExceeded(kind SnapshotKind, limit int) *Error {
	label := "DBSnapshot"
	if kind == SnapshotKindCluster {
		label = "DBClusterSnapshot"
	}
	return Errorf(CodeSnapshotQuotaExceeded,
		"Cannot create the snapshot because the maximum number of manual %ss (%d) has been reached.", label, limit)
}

// SnapshotAlreadyExists returns the duplicate error of the snapshot kind.
func SnapshotAlreadyExists(kind SnapshotKind, id string) *Error {
	if kind == SnapshotKindCluster {
		return Errorf(CodeDBClusterSnapshotAlreadyExists, "Cannot create the cluster snapshot because one with the identifier %s already exists.", id)
	}
	return Errorf(CodeDBSnapshotAlreadyExists, "Cannot create the snapshot because a snapshot with the identifier %s already exists.", id)
}
