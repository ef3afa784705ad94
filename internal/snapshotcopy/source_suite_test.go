package snapshotcopy_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/exporttest"
	"github.com/rdsexport/rdsexport/internal/pgsource"
	"github.com/rdsexport/rdsexport/internal/snapshotcopy"
)

// copied is an engine.Source whose Open takes a copy of the live database
// and opens the stored copy: the moment of a snapshot is the copy's.
type copied struct {
	t    *testing.T
	e    *env
	seq  *atomic.Int64
	blob snapshotcopy.Blobs
}

func (c copied) Version(ctx context.Context) (string, error) { return c.e.source.Version(ctx) }

func (c copied) Open(ctx context.Context, p engine.OpenParams) (engine.Snapshot, error) {
	s := c.e.createAvailable(c.t, fmt.Sprintf("suite-%d", c.seq.Add(1)))
	return snapshotcopy.NewSource(c.blob, s.Location).Open(ctx, p)
}

// TestSourceSuite runs the shared source contract against stored copies
// of PostgreSQL databases.
func TestSourceSuite(t *testing.T) {
	fixture := func(pg pgsource.Params) func(t *testing.T) (engine.Source, string, func(string)) {
		return func(t *testing.T) (engine.Source, string, func(string)) {
			e := newEnv(t, "", envOpts{pg: pg})
			return copied{t: t, e: e, seq: new(atomic.Int64), blob: e.blobs}, e.db.Name, func(sql string) { e.db.Exec(t, sql) }
		}
	}
	exporttest.SourceSuite(t, exporttest.SourceFixture{
		New: fixture(pgsource.Params{}),
		Ranged: func(t *testing.T, minBytes int64) (engine.Source, string, func(string)) {
			return fixture(pgsource.Params{MinRangeBytes: minBytes})(t)
		},
		Analyze: "ANALYZE %s",
	})
}
