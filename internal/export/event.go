package export

import (
	"context"
	"strings"
	"time"
)

// Event is one entry of DescribeEvents: something that happened to a
// source the server knows, kept per account.
type Event struct {
	// ID is the AWS event ID (RDS-EVENT-0042); "" for events AWS
	// documents no ID for. It is not on the wire.
	ID        string
	AccountID string
	Region    string
	// SourceType is one of the EventSource* values.
	SourceType       string
	SourceIdentifier string
	SourceArn        string
	Message          string
	Categories       []string
	Date             time.Time
	// Seq orders events by recording; assigned by the store.
	Seq int64
}

// The source types of DescribeEvents (the SourceType enum of the RDS API).
// The server records events of snapshots and of live-cluster exports.
const (
	EventSourceDBInstance        = "db-instance"
	EventSourceDBCluster         = "db-cluster"
	EventSourceDBSnapshot        = "db-snapshot"
	EventSourceDBClusterSnapshot = "db-cluster-snapshot"
)

// EventSourceTypes lists every SourceType value the RDS API accepts;
// DescribeEvents refuses others.
func EventSourceTypes() []string {
	return []string{EventSourceDBInstance, "db-parameter-group", "db-security-group", EventSourceDBSnapshot,
		EventSourceDBCluster, EventSourceDBClusterSnapshot, "custom-engine-version", "db-proxy",
		"blue-green-deployment", "db-shard-group", "zero-etl"}
}

// EventRetention is how long events can be described (RDS: the past 14 days).
const EventRetention = 14 * 24 * time.Hour

// EventsPrunedPerInsert bounds how many of an account's events past
// EventRetention a store removes when it records a new one: more than
// one, so that removal outpaces recording.
const EventsPrunedPerInsert = 16

// EventFilter selects events for ListEvents; empty fields match all.
type EventFilter struct {
	AccountID        string
	SourceType       string
	SourceIdentifier string // compared case-insensitively
	// Start and End bound Date (inclusive); zero means unbounded.
	Start, End time.Time
	// Categories: an event matches when it has one of them.
	Categories []string
	AfterSeq   int64
	Limit      int
}

// EventStore keeps events durable. Stores record them themselves, in the
// same transaction as the change they report (TaskEvent, SnapshotEvent),
// so an event is never lost nor told of a change that did not happen.
type EventStore interface {
	// ListEvents returns the matching events ordered by Seq (oldest first).
	ListEvents(ctx context.Context, f EventFilter) ([]*Event, error)
}

// The messages of AWS's "Amazon RDS event categories and event messages"
// (Amazon RDS User Guide), with the IDs it gives them.
const (
	msgDBSnapshotCreating  = "Creating manual DB snapshot."               // RDS-EVENT-0040
	msgDBSnapshotCreated   = "Manual DB snapshot has been created."       // RDS-EVENT-0042
	msgDBSnapshotDeleted   = "Deleted user snapshot."                     // RDS-EVENT-0041
	msgClusterSnapCreating = "Creating manual DB cluster snapshot."       // RDS-EVENT-0074
	msgClusterSnapCreated  = "Manual DB cluster snapshot created."        // RDS-EVENT-0075
	msgExportFailed        = "The snapshot export task failed."           // RDS-EVENT-0159
	msgExportCanceled      = "The snapshot export task was canceled."     // RDS-EVENT-0160
	msgExportCompleted     = "The snapshot export task completed."        // RDS-EVENT-0161
	msgClusterExportFailed = "DB cluster snapshot export task failed."    // RDS-EVENT-0162
	msgClusterExportCancel = "DB cluster snapshot export task canceled."  // RDS-EVENT-0163
	msgClusterExportDone   = "DB cluster snapshot export task completed." // RDS-EVENT-0164
	// Ours: AWS documents no event for these.
	msgDBSnapshotFailed   = "Manual DB snapshot creation failed."
	msgClusterSnapFailed  = "Manual DB cluster snapshot creation failed."
	msgClusterSnapDeleted = "Deleted manual DB cluster snapshot."
)

// TaskEvent is the event of a task that reached a terminal status
// (RDS-EVENT-0159..0164, category notification), at `at`; nil for any
// other status. The source is the snapshot exported, or for a live
// cluster the cluster (AWS documents no events for those exports; the
// cluster snapshot IDs are reused). The message names the task and, for a
// failure, its cause.
func TaskEvent(t *Task, at time.Time) *Event {
	var kind, id string
	if i := strings.LastIndex(t.SourceArn, ":"); i >= 0 {
		id = t.SourceArn[i+1:]
		if j := strings.LastIndex(t.SourceArn[:i], ":"); j >= 0 {
			kind = t.SourceArn[j+1 : i]
		}
	}
	e := &Event{AccountID: t.AccountID, Region: t.Region, SourceIdentifier: id, SourceArn: t.SourceArn,
		Categories: []string{"notification"}, Date: at.UTC()}
	snapshot := kind == "snapshot"
	switch kind {
	case "snapshot":
		e.SourceType = EventSourceDBSnapshot
	case "cluster-snapshot":
		e.SourceType = EventSourceDBClusterSnapshot
	case "cluster":
		e.SourceType = EventSourceDBCluster
	default:
		return nil
	}
	pick := func(dbID, dbMsg, clID, clMsg string) {
		e.ID, e.Message = clID, clMsg
		if snapshot {
			e.ID, e.Message = dbID, dbMsg
		}
	}
	switch t.Status {
	case StatusComplete:
		pick("RDS-EVENT-0161", msgExportCompleted, "RDS-EVENT-0164", msgClusterExportDone)
	case StatusCanceled:
		pick("RDS-EVENT-0160", msgExportCanceled, "RDS-EVENT-0163", msgClusterExportCancel)
	case StatusFailed:
		pick("RDS-EVENT-0159", msgExportFailed, "RDS-EVENT-0162", msgClusterExportFailed)
	default:
		return nil
	}
	e.Message += " Export task: " + t.Identifier + "."
	if t.Status == StatusFailed && t.FailureCause != "" {
		e.Message += " " + t.FailureCause
	}
	return e
}

// SnapshotEvent is the event of snapshot s entering status (creating,
// available, failed or deleted) at `at`; nil for any other status. A
// failure's message ends with s.FailureReason.
func SnapshotEvent(s *Snapshot, status SnapshotStatus, at time.Time) *Event {
	e := &Event{AccountID: s.AccountID, Region: s.Region, SourceIdentifier: s.Identifier, Date: at.UTC()}
	db := s.Kind == SnapshotKindDB
	if db {
		e.SourceType, e.SourceArn = EventSourceDBSnapshot, "arn:aws:rds:"+s.Region+":"+s.AccountID+":snapshot:"+s.Identifier
	} else {
		e.SourceType, e.SourceArn = EventSourceDBClusterSnapshot, "arn:aws:rds:"+s.Region+":"+s.AccountID+":cluster-snapshot:"+s.Identifier
	}
	// AWS files DB snapshot events under creation and deletion, DB cluster
	// snapshot events under backup.
	pick := func(dbID, dbMsg, dbCat, clID, clMsg, clCat string) {
		e.ID, e.Message, e.Categories = clID, clMsg, []string{clCat}
		if db {
			e.ID, e.Message, e.Categories = dbID, dbMsg, []string{dbCat}
		}
	}
	switch status {
	case SnapshotCreating:
		pick("RDS-EVENT-0040", msgDBSnapshotCreating, "creation", "RDS-EVENT-0074", msgClusterSnapCreating, "backup")
	case SnapshotAvailable:
		pick("RDS-EVENT-0042", msgDBSnapshotCreated, "creation", "RDS-EVENT-0075", msgClusterSnapCreated, "backup")
	case SnapshotFailed:
		pick("", msgDBSnapshotFailed, "failure", "", msgClusterSnapFailed, "failure")
		if r := strings.TrimSpace(s.FailureReason); r != "" {
			e.Message = strings.TrimSuffix(e.Message, ".") + ": " + strings.TrimSuffix(r, ".") + "."
		}
	case SnapshotDeleted:
		pick("RDS-EVENT-0041", msgDBSnapshotDeleted, "deletion", "", msgClusterSnapDeleted, "deletion")
	default:
		return nil
	}
	return e
}
