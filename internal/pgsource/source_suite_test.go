package pgsource_test

import (
	"testing"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/exporttest"
	"github.com/rdsexport/rdsexport/internal/pgsource"
)

// TestSourceSuite runs the shared source contract.
func TestSourceSuite(t *testing.T) {
	exporttest.SourceSuite(t, exporttest.SourceFixture{
		New: func(t *testing.T) (engine.Source, string, func(string)) {
			db := exporttest.NewPostgresDB(t, "")
			return pgsource.New(db.ServerURL, pgsource.Params{}), db.Name, func(sql string) { db.Exec(t, sql) }
		},
		Ranged: func(t *testing.T, minBytes int64) (engine.Source, string, func(string)) {
			db := exporttest.NewPostgresDB(t, "")
			return pgsource.New(db.ServerURL, pgsource.Params{MinRangeBytes: minBytes}), db.Name, func(sql string) { db.Exec(t, sql) }
		},
		Analyze: "ANALYZE %s",
	})
}
