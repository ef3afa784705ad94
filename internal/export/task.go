package export

import (
	"strings"
	"time"
)

// GiB is the unit of TotalExtractedDataInGB (spec §6.3: 1 GB = 2^30 bytes).
const GiB = 1 << 30

// Task is one export task as stored and as described on the wire.
type Task struct {
	// Identifier is the ExportTaskIdentifier, unique per account, stored as given.
	Identifier string
	// AccountID owns the task; tasks of other accounts are invisible.
	AccountID string
	// Region is the region the task was started in (ARN region).
	Region     string
	SourceArn  string
	SourceType SourceType
	// ExportOnly is nil when none was given (omitted on the wire).
	ExportOnly []string
	S3Bucket   string
	S3Prefix   string
	IamRoleArn string
	KmsKeyID   string
	Status     Status

	// SnapshotTime is the point in time of the data read.
	SnapshotTime  time.Time
	TaskStartTime time.Time
	// TaskEndTime is zero until the task reaches a terminal status.
	TaskEndTime time.Time

	PercentProgress int
	// ExtractedBytes is the amount of source data read so far.
	ExtractedBytes int64
	FailureCause   string
	WarningMessage string

	// Seq orders tasks by acceptance; assigned by the Store on Create.
	Seq int64
}

// TotalExtractedDataInGB is the wire value: whole GiB read, rounded down.
func (t *Task) TotalExtractedDataInGB() int { return int(t.ExtractedBytes / GiB) }

// Clone returns a deep copy of t.
func (t *Task) Clone() *Task {
	c := *t
	if t.ExportOnly != nil {
		c.ExportOnly = append([]string{}, t.ExportOnly...)
	}
	return &c
}

// SourceKey returns the identity of the source a task's SourceArn names,
// on which the rule of one active export per source rests (spec §6.5): its
// resource type, account and identifier, the identifier lowercased because
// cluster identifiers compare case-insensitively and snapshot identifiers
// are stored lowercase (spec §2.3). ARNs that differ only in partition,
// region or the case of the identifier name the same source and have the
// same key. A string that is not an ARN of seven fields is its own key.
func SourceKey(arn string) string {
	parts := strings.SplitN(arn, ":", 7)
	if len(parts) != 7 || parts[0] != "arn" {
		return arn
	}
	return parts[5] + ":" + parts[4] + ":" + strings.ToLower(parts[6])
}
