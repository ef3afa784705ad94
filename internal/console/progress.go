package console

import (
	"sync"
	"time"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/export"
)

// Progress is the engine.Observer of the console: it keeps, in memory,
// the latest per-table counts of recent exports and a short history of
// their bytes read, for the throughput chart. It forgets everything at a
// restart (the task store keeps the overall progress).
type Progress struct {
	mu    sync.Mutex
	max   int
	tasks map[progressKey]*taskProgress
}

var _ engine.Observer = (*Progress)(nil)

type progressKey struct{ account, id string }

type taskProgress struct {
	tables  []engine.TableProgress
	samples []sample
	ended   bool
	updated time.Time
}

// sample is the bytes an export had read at a moment.
type sample struct {
	At    time.Time
	Bytes int64
}

// maxSamples bounds the history of one export: two minutes of reports at
// the engine's default interval of one second, then older ones are merged
// away two by two.
const maxSamples = 120

// DefaultProgressTasks is how many exports a Progress remembers when
// NewProgress is given 0; the oldest ended export is forgotten first.
const DefaultProgressTasks = 256

// NewProgress returns an empty Progress remembering up to maxTasks exports.
func NewProgress(maxTasks int) *Progress {
	if maxTasks <= 0 {
		maxTasks = DefaultProgressTasks
	}
	return &Progress{max: maxTasks, tasks: map[progressKey]*taskProgress{}}
}

// ExportStarted implements engine.Observer; the first progress report
// shows the export.
func (p *Progress) ExportStarted(*export.Task) {}

// BatchRead implements engine.Observer; the reports count the rows.
func (p *Progress) BatchRead(*export.Task, int64, time.Duration) {}

// BytesRead implements engine.Observer; the reports count the bytes.
func (p *Progress) BytesRead(*export.Task, int64) {}

// ObserveExport implements engine.Observer.
func (p *Progress) ObserveExport(pr engine.Progress) {
	k := progressKey{pr.AccountID, pr.Identifier}
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.tasks[k]
	if t == nil {
		p.evict()
		t = &taskProgress{}
		p.tasks[k] = t
	}
	if pr.Tables != nil || t.tables == nil {
		t.tables = pr.Tables
	}
	t.ended, t.updated = pr.Ended, pr.At
	t.samples = append(t.samples, sample{At: pr.At, Bytes: pr.Bytes})
	if len(t.samples) > maxSamples {
		// Keep the whole run in view at a coarser grain: drop every other
		// sample (the first and last stay).
		kept := t.samples[:0]
		for i, s := range t.samples {
			if i%2 == 0 || i == len(t.samples)-1 {
				kept = append(kept, s)
			}
		}
		t.samples = kept
	}
}

// evict makes room for one more export, forgetting the oldest ended one
// (or, when none has ended, the oldest). The caller holds p.mu.
func (p *Progress) evict() {
	if len(p.tasks) < p.max {
		return
	}
	var victim progressKey
	var found, foundEnded bool
	var oldest time.Time
	for k, t := range p.tasks {
		better := !found || t.ended && !foundEnded || t.ended == foundEnded && t.updated.Before(oldest)
		if better {
			victim, oldest, found, foundEnded = k, t.updated, true, t.ended
		}
	}
	delete(p.tasks, victim)
}

// taskView is what the console shows of one export's live progress.
type taskView struct {
	Tables  []engine.TableProgress
	Samples []sample
	Ended   bool
}

// view returns a copy of what is known of the account's export, and
// false when nothing is (it ran before this process started, or was
// forgotten).
func (p *Progress) view(account, id string) (taskView, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.tasks[progressKey{account, id}]
	if t == nil {
		return taskView{}, false
	}
	return taskView{
		Tables:  append([]engine.TableProgress(nil), t.tables...),
		Samples: append([]sample(nil), t.samples...),
		Ended:   t.ended,
	}, true
}
