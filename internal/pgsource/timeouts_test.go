package pgsource_test

import (
	"testing"
	"time"
)

// TestSnapshot_ServerTimeouts: timeouts set on the database do not end the
// snapshot's idle transactions or its long statements.
func TestSnapshot_ServerTimeouts(t *testing.T) {
	db := newTestDB(t, "CREATE TABLE a (id int)", "INSERT INTO a SELECT generate_series(1, 1000)")
	db.exec(t, "ALTER DATABASE "+db.Name+" SET idle_in_transaction_session_timeout = '500ms'")
	db.exec(t, "ALTER DATABASE "+db.Name+" SET statement_timeout = '1ms'")
	snap := open(t, db, 1, checkedAlloc(t))
	byTarget, _, _ := tables(t, snap)
	readRows(t, snap, byTarget[db.Name+".public.a"], 0)
	time.Sleep(1500 * time.Millisecond) // the coordinator and the reader sit idle
	if rows := readRows(t, snap, byTarget[db.Name+".public.a"], 0); len(rows) != 1000 {
		t.Errorf("%d rows after idling, want 1000", len(rows))
	}
}
