package export

import "strings"

// Status is the lifecycle state of an export task, spelled as RDS sends it
// on the wire (uppercase).
type Status string

const (
	// StatusStarting: accepted, waiting for a slot or preparing the source.
	StatusStarting Status = "STARTING"
	// StatusInProgress: tables are being read and written to S3.
	StatusInProgress Status = "IN_PROGRESS"
	// StatusComplete: every selected table was processed; manifests written.
	StatusComplete Status = "COMPLETE"
	// StatusCanceling: a cancel was requested; workers are stopping.
	StatusCanceling Status = "CANCELING"
	// StatusCanceled: stopped by a cancel; partial output stays in S3.
	StatusCanceled Status = "CANCELED"
	// StatusFailed: stopped by an error; FailureCause says why.
	StatusFailed Status = "FAILED"
)

// Statuses lists every status in lifecycle order.
func Statuses() []Status {
	return []Status{StatusStarting, StatusInProgress, StatusComplete, StatusCanceling, StatusCanceled, StatusFailed}
}

// ActiveStatuses are the statuses that occupy a concurrency slot and block a
// second export of the same source (spec §6.5).
func ActiveStatuses() []Status {
	return []Status{StatusStarting, StatusInProgress, StatusCanceling}
}

// transitions is the one table of legal moves (spec §6.2).
var transitions = map[Status][]Status{
	StatusStarting:   {StatusInProgress, StatusCanceling, StatusFailed},
	StatusInProgress: {StatusComplete, StatusCanceling, StatusFailed},
	StatusCanceling:  {StatusCanceled},
}

// CanTransition reports whether a task may move from one status to another.
func CanTransition(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Terminal reports whether no transition leaves s.
func (s Status) Terminal() bool { return len(transitions[s]) == 0 }

// Active reports whether s is one of ActiveStatuses.
func (s Status) Active() bool {
	return s == StatusStarting || s == StatusInProgress || s == StatusCanceling
}

// Valid reports whether s is one of the six statuses.
func (s Status) Valid() bool {
	for _, v := range Statuses() {
		if v == s {
			return true
		}
	}
	return false
}

// FilterValue is the lowercase spelling used by the DescribeExportTasks
// "status" filter (spec §5).
func (s Status) FilterValue() string { return strings.ToLower(string(s)) }

// SourceType says what an export reads: a snapshot (DB or DB cluster) or a
// live DB cluster. Values are the model's ExportSourceType enum.
type SourceType string

const (
	SourceTypeSnapshot SourceType = "SNAPSHOT"
	SourceTypeCluster  SourceType = "CLUSTER"
)
