package engine_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/exporttest"
	"github.com/rdsexport/rdsexport/internal/pgsource"
)

// otherProcess reads the ranges an export shares with a second engine and
// a source of its own, as another node of a cluster would.
type otherProcess struct {
	engine *engine.Engine
	mu     sync.Mutex
	jobs   []engine.RangeJob
}

func (o *otherProcess) ReadRange(ctx context.Context, t *export.Task, j engine.RangeJob, progress func(bytes, rows int64)) (engine.RangeRead, error) {
	o.mu.Lock()
	o.jobs = append(o.jobs, j)
	o.mu.Unlock()
	return o.engine.ReadShared(ctx, t, j, progress)
}

// TestEngine_SharedRanges: with Params.Ranges set, the ranges of a table
// split into ranges are read through it (by ReadShared, joining the
// export's snapshot from another source) and stored as the export's own
// reads would be; the small table is read by the export itself.
func TestEngine_SharedRanges(t *testing.T) {
	db := exporttest.NewPostgresDB(t, fixture)
	other := &otherProcess{}
	b := setup(t, func(p *engine.Params) {
		p.Connections = 2
		p.Ranges = other
	})
	arn := "arn:aws:rds:us-east-1:" + account + ":cluster:shared"
	b.sources[arn] = pgsource.New(db.URL, pgsource.Params{MinRangeBytes: 256 << 10})
	other.engine = engine.New(engine.Params{
		Store: b.store, Objects: b.objects, Alloc: b.alloc,
		Resolve: func(context.Context, *export.Task) (engine.Source, error) {
			return pgsource.New(db.URL, pgsource.Params{}), nil
		},
	})
	b.start(t)
	b.create(t, "shared", arn, db.Name)
	task := b.wait(t, "shared", time.Minute, export.StatusComplete)
	ranges := map[int]bool{}
	for _, j := range other.jobs {
		if j.Table != db.Name+".public.t" || j.Ranges != 4 || j.Batch != 0 {
			t.Errorf("read elsewhere: %+v", j)
		}
		ranges[j.Range] = true
	}
	if len(other.jobs) != 4 || len(ranges) != 4 {
		t.Errorf("%d reads elsewhere of ranges %v, want the 4 ranges of t once each", len(other.jobs), ranges)
	}
	prefix := "shared/" + db.Name + "/public.t/1/"
	keys, err := b.objects.List(t.Context(), bucket, prefix)
	if err != nil {
		t.Fatal(err)
	}
	var rows int64
	for _, k := range keys {
		if k != prefix+"_SUCCESS" {
			rows += parquetRows(t, b.objects, k)
		}
	}
	if rows != 50000 {
		t.Errorf("%d rows of t stored, want 50000", rows)
	}
	if task.ExtractedBytes == 0 {
		t.Error("no progress counted for the ranges read elsewhere")
	}
	b.engine.Stop()
	b.alloc.AssertSize(t, 0)
}
