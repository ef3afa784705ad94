package engine

import (
	"context"
	"encoding/json"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Source is one configured database server (PostgreSQL or MySQL/MariaDB).
// Implemented by pgsource and mysqlsource.
type Source interface {
	// Version returns the server's version as RDS shows EngineVersion
	// (e.g. "16.4", "10.11.9"). Errors are connection failures.
	Version(ctx context.Context) (string, error)

	// Open begins a consistent read: every table read through the returned
	// Snapshot shows the data as of one moment, also when several
	// connections are used. The caller must Close the Snapshot. Errors are
	// connection or permission failures; their text must never contain a
	// password.
	Open(ctx context.Context, p OpenParams) (Snapshot, error)
}

// OpenParams configures Source.Open.
type OpenParams struct {
	// ExportOnly is the task's ExportOnly list, already checked for shape by
	// the service (spec §7.4). Empty means everything.
	ExportOnly []string
	// Connections is the most connections the snapshot may use at once.
	Connections int
	// Alloc allocates Arrow memory; nil means memory.DefaultAllocator.
	Alloc memory.Allocator
}

// Snapshot reads tables at one point in time. Its methods may be called
// from several goroutines at once (up to OpenParams.Connections readers).
type Snapshot interface {
	// Time is the point in time of the data (becomes SnapshotTime for
	// CLUSTER exports).
	Time() time.Time

	// Tables lists the tables to export, in export order, with what was
	// skipped or not found (spec §10, §11.2).
	Tables(ctx context.Context) ([]Table, Warnings, error)

	// ReadBatch streams the rows of one batch of t as Arrow record batches
	// with schema t.Schema, calling emit for each one in order. The batch is
	// released after emit returns; emit must Retain what it keeps. progress
	// is called with the number of source bytes read since its last call.
	// ReadBatch returns the first error of emit, or ctx's error promptly
	// after ctx is done.
	ReadBatch(ctx context.Context, t Table, batch int, emit func(arrow.RecordBatch) error, progress func(bytes int64)) error

	// Close ends the snapshot and releases its connections.
	Close() error
}

// RangeReader is implemented by a Snapshot that can split a batch into
// ranges read at once by several connections (spec §8.2: one ranged read
// per partition_index, all in batch folder 1). The engine uses it for a
// table whose Ranges is above 1, and ReadBatch otherwise.
type RangeReader interface {
	// ReadRange is ReadBatch restricted to range rng (0-based, below
	// t.Ranges) of batch. The ranges of a batch together return each of
	// its rows exactly once, all seen at the snapshot's moment; a range may
	// be empty. Errors are those of ReadBatch.
	ReadRange(ctx context.Context, t Table, batch, rng int, emit func(arrow.RecordBatch) error, progress func(bytes int64)) error
}

// Table is one exported table and how it maps to S3 and the manifests.
type Table struct {
	// Target names the table in manifests and warnings: db.schema.table
	// (PostgreSQL) or db.table (MySQL).
	Target string
	// Database is the first folder under the export root.
	Database string
	// Folder is the table folder under Database: "schema.table" or "db.table".
	Folder string
	// Schema is the Arrow schema of every batch, with the §9 type mapping.
	Schema *arrow.Schema
	// Columns describe the source columns for the manifest, in schema order.
	Columns []Column
	// Batches is the number of batch folders (1, or one per partition of a
	// partitioned table; spec §8.2). Batch indexes passed to ReadBatch are
	// 0-based; folders are 1-based.
	Batches int
	// Ranges is the number of ranged reads each batch is split into, read
	// in parallel through RangeReader.ReadRange and written as
	// part-<range>-... files of the batch folder. 0 or 1 means one read
	// through ReadBatch; a Snapshot that sets it above 1 must implement
	// RangeReader.
	Ranges int
	// EstimatedBytes is the source size estimate used for PercentProgress.
	EstimatedBytes int64
}

// Column is one source column as the export_tables_info manifest shows it
// (spec §8.4).
type Column struct {
	Name                 string `json:"columnName"`
	OriginalType         string `json:"originalType"`
	ExpectedExportedType string `json:"expectedExportedType"`
	CharMaxLength        int64  `json:"originalCharMaxLength"`
	NumPrecision         int64  `json:"originalNumPrecision"`
	DateTimePrecision    int64  `json:"originalDateTimePrecision"`
}

// Warnings is the WarningMessage document (spec §11.2).
type Warnings struct {
	SkippedTables     []Skipped `json:"skippedTables"`
	SkippedObjectives []Skipped `json:"skippedObjectives"`
	General           []General `json:"general"`
}

// Skipped is one skipped table or ExportOnly entry that matched nothing.
type Skipped struct {
	Target string `json:"target"`
	Reason string `json:"reason"`
}

// General is a warning not tied to one table.
type General struct {
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
}

// Reasons used in Warnings (spec §11.2).
const (
	ReasonUnsupportedColumnName = "UNSUPPORTED_COLUMN_NAME"
	ReasonUnsupportedTableName  = "UNSUPPORTED_TABLE_NAME"
	// ReasonUnsupportedSchemaName skips the tables of a schema whose name
	// cannot be a path segment (see SafeFolderName).
	ReasonUnsupportedSchemaName = "UNSUPPORTED_SCHEMA_NAME"
	// ReasonUnsupportedDatabaseName is a General warning (Detail: the
	// name) for a database whose name cannot be a path segment; none of
	// its tables is read or listed.
	ReasonUnsupportedDatabaseName = "UNSUPPORTED_DATABASE_NAME"
	ReasonTemporaryOrUnlogged     = "TEMPORARY_OR_UNLOGGED_TABLE"
	ReasonPermissions             = "PERMISSIONS_DO_NOT_EXIST"
	ReasonRowTooLarge             = "ROW_TOO_LARGE"
	ReasonNotFound                = "NOT_FOUND"
	ReasonTablesList              = "FAILED_TO_EXTRACT_TABLES_LIST_FOR_DATABASE"
)

// Empty reports whether there is nothing to warn about.
func (w Warnings) Empty() bool {
	return len(w.SkippedTables) == 0 && len(w.SkippedObjectives) == 0 && len(w.General) == 0
}

// Merge appends o's entries to w.
func (w *Warnings) Merge(o Warnings) {
	w.SkippedTables = append(w.SkippedTables, o.SkippedTables...)
	w.SkippedObjectives = append(w.SkippedObjectives, o.SkippedObjectives...)
	w.General = append(w.General, o.General...)
}

// String renders the JSON text sent as WarningMessage; "" when empty.
func (w Warnings) String() string {
	if w.Empty() {
		return ""
	}
	c := w
	if c.SkippedTables == nil {
		c.SkippedTables = []Skipped{}
	}
	if c.SkippedObjectives == nil {
		c.SkippedObjectives = []Skipped{}
	}
	if c.General == nil {
		c.General = []General{}
	}
	b, _ := json.Marshal(c)
	return string(b)
}
