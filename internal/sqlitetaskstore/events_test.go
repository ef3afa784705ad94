package sqlitetaskstore

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/rdsexport/rdsexport/internal/exporttest"
)

func TestEventStore(t *testing.T) {
	exporttest.EventStoreSuite(t, func(t *testing.T, now func() time.Time) exporttest.EventfulStore {
		s, err := New(t.Context(), filepath.Join(t.TempDir(), "tasks.db"), WithNow(now))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func TestCounts(t *testing.T) {
	exporttest.CountsSuite(t, func(t *testing.T) exporttest.CountingStore { return newTestStore(t) })
}
