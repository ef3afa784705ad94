package mysqlsource_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/mysqlsource"
)

// TestSnapshot_InstantDDL: an instant ALTER TABLE committed after the
// snapshot began is not versioned by InnoDB (the snapshot's reads see the
// new columns, without ER_TABLE_DEF_CHANGED), so the table cannot be read
// as it was: it is skipped loudly, never exported without a column.
func TestSnapshot_InstantDDL(t *testing.T) {
	t.Parallel()
	for _, conns := range []int{1, 2} {
		t.Run(fmt.Sprintf("Connections%d", conns), func(t *testing.T) {
			t.Parallel()
			db := newTestDB(t,
				"CREATE TABLE dropped (a INT, b INT, c VARCHAR(10)) ENGINE=InnoDB",
				"CREATE TABLE added (a INT) ENGINE=InnoDB",
				"CREATE TABLE renamed (a INT, b INT) ENGINE=InnoDB",
				"CREATE TABLE later (a INT, b INT) ENGINE=InnoDB",
				"CREATE TABLE kept (a INT, b INT) ENGINE=InnoDB",
				"INSERT INTO dropped VALUES (1, 2, 'x')",
				"INSERT INTO added VALUES (1)",
				"INSERT INTO renamed VALUES (1, 2)",
				"INSERT INTO later VALUES (1, 2)",
				"INSERT INTO kept VALUES (1, 2)",
			)
			snap := open(t, db, conns, checkedAlloc(t))
			// Between the snapshot's start and the listing.
			db.exec(t, "ALTER TABLE dropped DROP COLUMN b, ALGORITHM=INSTANT")
			db.exec(t, "ALTER TABLE added ADD COLUMN z INT, ALGORITHM=INSTANT")
			db.exec(t, "ALTER TABLE renamed RENAME COLUMN b TO b2, ALGORITHM=INSTANT")
			byTarget, _, warn := tables(t, snap)
			for _, n := range []string{"dropped", "added", "renamed"} {
				if tb, listed := byTarget[db.Name+"."+n]; listed {
					t.Errorf("%s listed with columns %v after an instant ALTER", n, tb.Schema)
				}
				if !slices.Contains(warn.SkippedTables, engine.Skipped{Target: db.Name + "." + n, Reason: engine.ReasonTableGone}) {
					t.Errorf("%s not reported skipped: %s", n, warn)
				}
			}
			if rows := readRows(t, snap, byTarget[db.Name+".kept"], 0); len(rows) != 1 || len(rows[0]) != 2 {
				t.Errorf("kept: %v", rows)
			}
			// Between the listing and the read: the read fails as gone.
			tb := byTarget[db.Name+".later"]
			if tb.Schema == nil || tb.Schema.NumFields() != 2 {
				t.Fatalf("later: %+v", tb)
			}
			db.exec(t, "ALTER TABLE later DROP COLUMN b, ALGORITHM=INSTANT")
			err := snap.ReadBatch(t.Context(), tb, 0, func(arrow.RecordBatch) error { return nil }, nil)
			if !errors.Is(err, mysqlsource.ErrTableGone) {
				t.Errorf("later: read after DROP COLUMN: %v, want ErrTableGone", err)
			}
		})
	}
}
