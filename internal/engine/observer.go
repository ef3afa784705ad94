package engine

import (
	"sync/atomic"
	"time"
)

// Observer watches the tables of the exports this engine runs, for a live
// view (the web console). The engine calls it from its own goroutines:
// every ProgressInterval while a task reads its tables, and once more,
// with Ended set, when the run has recorded its outcome. It must return
// promptly. p is the Observer's to keep.
type Observer interface {
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

// TableProgress is one table of a Progress.
type TableProgress struct {
	// Target is db.schema.table (PostgreSQL) or db.table (MySQL).
	Target string
	// EstimatedBytes is the source's size estimate of the table.
	EstimatedBytes int64
	// Rows, Bytes (source bytes read) and Files (Parquet files stored)
	// count what is done so far.
	Rows, Bytes, Files int64
	// Done is set once every batch of the table is stored.
	Done bool
}

// tableCounters are the live counts of one table; the table's readers add
// to them and the progress reporter reads them.
type tableCounters struct {
	rows, bytes, files atomic.Int64
	done               atomic.Bool
}

// observe reports the run's progress to the Observer, if there is one.
func (r *taskRun) observe(ended bool) {
	if r.e.p.Observer == nil {
		return
	}
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
