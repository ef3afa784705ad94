package engine

import (
	"sync/atomic"
	"time"

	"github.com/rdsexport/rdsexport/internal/export"
)

// Observer watches the exports this engine runs: the metrics count from
// it, the web console shows its progress reports. The engine calls it from
// its own goroutines, several at once: every method must be safe for
// concurrent use and return promptly. Params.Observer nil means nobody
// watches; several observers are combined by the caller.
type Observer interface {
	// ExportStarted is called when a task begins to run.
	ExportStarted(t *export.Task)
	// BatchRead is called for each Arrow record batch a source delivers:
	// its rows, and how long the source took to deliver it (since the
	// read began or the previous batch was written).
	BatchRead(t *export.Task, rows int64, wait time.Duration)
	// BytesRead is called as the sources read: n more source bytes (the
	// ExtractedBytes count), as they come, for a live throughput.
	BytesRead(t *export.Task, n int64)
	// ObserveExport reports what the run has done so far: every
	// ProgressInterval while it reads its tables, and once more, with
	// Ended set, when its outcome is recorded (or could not be). p is the
	// Observer's to keep.
	ObserveExport(p Progress)
}

// Progress is what one running export has done so far.
type Progress struct {
	AccountID  string
	Identifier string
	// At is when the counts were taken (Params.Now).
	At time.Time
	// Bytes is the source data read so far, as ExtractedBytes.
	Bytes int64
	// Tables are the selected tables in export order; empty until the
	// tables are listed.
	Tables []TableProgress
	// Ended is set on the last report of a run, whatever its outcome.
	Ended bool
}

// Files is the number of Parquet files the run has stored so far.
func (p Progress) Files() int64 {
	var n int64
	for _, t := range p.Tables {
		n += t.Files
	}
	return n
}

// TableProgress is one table of a Progress.
type TableProgress struct {
	// Target is db.schema.table (PostgreSQL) or db.table (MySQL).
	Target string
	// EstimatedBytes is the source's size estimate of the table.
	EstimatedBytes int64
	// Rows (delivered by the source), Bytes (source bytes read) and Files
	// (Parquet files stored) count what is done so far.
	Rows, Bytes, Files int64
	// Done is set once every batch of the table is stored.
	Done bool
}

// tableCounters are the live counts of one table; the table's readers add
// to them and the progress reports read them.
type tableCounters struct {
	rows, bytes, files atomic.Int64
	done               atomic.Bool
}

// observe reports the run's progress to the Observer.
func (r *taskRun) observe(ended bool) {
	p := Progress{AccountID: r.task.AccountID, Identifier: r.task.Identifier, At: r.e.p.Now(), Bytes: r.extracted.Load(), Ended: ended}
	if r.counters != nil {
		p.Tables = make([]TableProgress, len(r.selected))
		for i, t := range r.selected {
			c := r.counters[i]
			p.Tables[i] = TableProgress{Target: t.Target, EstimatedBytes: t.EstimatedBytes,
				Rows: c.rows.Load(), Bytes: c.bytes.Load(), Files: c.files.Load(), Done: c.done.Load()}
		}
	}
	r.e.p.Observer.ObserveExport(p)
}

// nopObserver is the Observer of an engine without one.
type nopObserver struct{}

func (nopObserver) ExportStarted(*export.Task)                   {}
func (nopObserver) BatchRead(*export.Task, int64, time.Duration) {}
func (nopObserver) BytesRead(*export.Task, int64)                {}
func (nopObserver) ObserveExport(Progress)                       {}
