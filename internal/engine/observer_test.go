package engine_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/exporttest"
)

// recorder is an engine.Observer that keeps every report and counts the
// starts and the rows of the batches read.
type recorder struct {
	mu      sync.Mutex
	reports []engine.Progress
	started int
	rows    int64
}

func (r *recorder) ExportStarted(*export.Task) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started++
}

func (r *recorder) BytesRead(*export.Task, int64) {}

func (r *recorder) BatchRead(_ *export.Task, rows int64, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rows += rows
}

func (r *recorder) ObserveExport(p engine.Progress) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reports = append(r.reports, p)
}

// TestEngine_Observer: the Observer sees each table's rows, bytes and
// files while the export runs, and a last report with every table done
// whose counts match what was stored.
func TestEngine_Observer(t *testing.T) {
	db := exporttest.NewPostgresDB(t, fixture)
	rec := &recorder{}
	b := setup(t, func(p *engine.Params) {
		p.FileBytes = 256 << 10
		p.Parquet.MaxRowGroupRows = 10000
		p.Observer = rec
	})
	arn := b.addSource(t, "pg", db)
	b.start(t)
	b.create(t, "obs", arn, db.Name+".public")
	task := b.wait(t, "obs", time.Minute, export.StatusComplete)
	// The last report comes after the outcome is recorded.
	deadline := time.Now().Add(10 * time.Second)
	var reports []engine.Progress
	for {
		rec.mu.Lock()
		reports = append([]engine.Progress(nil), rec.reports...)
		rec.mu.Unlock()
		if len(reports) > 0 && reports[len(reports)-1].Ended || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(reports) < 2 {
		t.Fatalf("%d reports, want progress reports and a last one", len(reports))
	}
	last := reports[len(reports)-1]
	if !last.Ended || last.AccountID != account || last.Identifier != "obs" || last.Bytes != task.ExtractedBytes {
		t.Fatalf("last report %+v, want Ended with bytes %d", last, task.ExtractedBytes)
	}
	keys, err := b.objects.List(t.Context(), bucket, "obs/")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{db.Name + ".public.t": 50000, db.Name + ".public.p": 1000, db.Name + ".public.e": 0}
	if len(last.Tables) != len(want) {
		t.Fatalf("tables %+v, want %d", last.Tables, len(want))
	}
	var sum int64
	for _, tp := range last.Tables {
		rows, ok := want[tp.Target]
		if !ok || tp.Rows != rows || !tp.Done {
			t.Errorf("table %+v, want %d rows, done", tp, rows)
		}
		folder := "obs/" + db.Name + "/" + strings.TrimPrefix(tp.Target, db.Name+".") + "/"
		var files int64
		for _, k := range keys {
			if strings.HasPrefix(k, folder) && strings.HasSuffix(k, ".parquet") {
				files++
			}
		}
		if tp.Files != files {
			t.Errorf("table %s: %d files reported, %d stored", tp.Target, tp.Files, files)
		}
		sum += tp.Bytes
	}
	rec.mu.Lock()
	started, batchRows := rec.started, rec.rows
	rec.mu.Unlock()
	if started != 1 || batchRows != 51000 {
		t.Errorf("%d starts and %d rows in batches, want 1 and 51000", started, batchRows)
	}
	if sum != last.Bytes {
		t.Errorf("tables' bytes add up to %d, export read %d", sum, last.Bytes)
	}
	// Counts only grow from one report to the next.
	for i := 1; i < len(reports); i++ {
		if reports[i].Bytes < reports[i-1].Bytes {
			t.Errorf("report %d: bytes %d after %d", i, reports[i].Bytes, reports[i-1].Bytes)
		}
	}
}
