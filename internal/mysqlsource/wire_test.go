package mysqlsource_test

import (
	"bytes"
	"testing"

	"github.com/rdsexport/rdsexport/internal/mysqlsource"
)

// TestReadBatch_LongRows reads rows of 16 MiB - 1 bytes and more, which
// the server sends as a full packet followed by an empty one or by the
// rest; the table is MyISAM because InnoDB refuses a 16 MiB value with a
// small redo log.
func TestReadBatch_LongRows(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, "CREATE TABLE big (id INT PRIMARY KEY, b LONGBLOB, n INT) ENGINE=MyISAM")
	// A row's payload is id (1 + 1 bytes), b (4 + len bytes) and n
	// (1 + 1 bytes).
	sizes := map[int32]int{1: 1<<24 - 1 - 8, 2: 1<<24 - 8, 3: 0, 4: 1<<24 - 1 - 9}
	for id, n := range sizes {
		db.exec(t, "INSERT INTO big VALUES (?, REPEAT('x', ?), 7)", id, n)
	}
	snap := open(t, db, 1, checkedAlloc(t))
	if !mysqlsource.ReadsOnWire(snap) {
		t.Fatal("the snapshot does not read on the wire")
	}
	byTarget, _, _ := tables(t, snap)
	rows := readRows(t, snap, byTarget[db.Name+".big"], 0)
	if len(rows) != len(sizes) {
		t.Fatalf("%d rows", len(rows))
	}
	for _, r := range rows {
		id, b := r[0].(int32), r[1].([]byte)
		if len(b) != sizes[id] || bytes.Count(b, []byte("x")) != len(b) || r[2] != int32(7) {
			t.Errorf("row %d: %d bytes, n %v; want %d bytes of x, 7", id, len(b), r[2], sizes[id])
		}
	}
}
