package mysqlsource_test

import (
	"testing"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/exporttest"
	"github.com/rdsexport/rdsexport/internal/mysqlsource"
)

// TestSourceSuite runs the shared source contract. It is not parallel:
// its large INSERT would hold up other tests' global read locks.
func TestSourceSuite(t *testing.T) {
	exporttest.SourceSuite(t, exporttest.SourceFixture{
		New: func(t *testing.T) (engine.Source, string, func(string)) {
			db := exporttest.NewMySQLDB(t, "")
			return mysqlsource.New(db.URL, mysqlsource.Params{}), db.Name, func(sql string) { db.Exec(t, sql) }
		},
		Ranged: func(t *testing.T, minBytes int64) (engine.Source, string, func(string)) {
			db := exporttest.NewMySQLDB(t, "")
			return mysqlsource.New(db.URL, mysqlsource.Params{MinRangeBytes: minBytes}), db.Name, func(sql string) { db.Exec(t, sql) }
		},
		Analyze: "ANALYZE TABLE %s",
	})
}
