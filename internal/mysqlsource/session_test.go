package mysqlsource_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/mysqlsource"
)

// TestSnapshot_UserStatementTimeLimit exports as a user whose statements
// MariaDB limits to 1 ms (a per-user MAX_STATEMENT_TIME, which sets the
// session's max_statement_time): the export's sessions lift the limit, so
// catalog queries and a long read go through.
func TestSnapshot_UserStatementTimeLimit(t *testing.T) {
	t.Parallel()
	db := newTestDB(t,
		"CREATE TABLE big (id INT PRIMARY KEY, s VARCHAR(100)) ENGINE=InnoDB",
		"INSERT INTO big SELECT seq, REPEAT('x', 100) FROM seq_1_to_200000",
	)
	var version string
	if err := db.SQL.QueryRow("SELECT VERSION()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.ToLower(version), "mariadb") {
		t.Skip("per-user MAX_STATEMENT_TIME is MariaDB's")
	}
	user, pw := "rdsx_"+db.Name[len(db.Name)-10:], "pw-"+db.Name[len(db.Name)-6:]
	for _, h := range []string{"%", "localhost"} {
		db.exec(t, fmt.Sprintf("CREATE USER '%s'@'%s' IDENTIFIED BY '%s' WITH MAX_STATEMENT_TIME 0.001", user, h, pw))
		db.exec(t, fmt.Sprintf("GRANT SELECT, RELOAD ON *.* TO '%s'@'%s'", user, h))
	}
	t.Cleanup(func() {
		for _, h := range []string{"%", "localhost"} {
			_, _ = db.SQL.Exec(fmt.Sprintf("DROP USER IF EXISTS '%s'@'%s'", user, h))
		}
	})
	p, _ := url.Parse(db.URL)
	p.User = url.UserPassword(user, pw)
	src := mysqlsource.New(p.String(), mysqlsource.Params{})
	snap, err := src.Open(t.Context(), engine.OpenParams{ExportOnly: []string{db.Name}, Connections: 2, Alloc: checkedAlloc(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	byTarget, _, _ := tables(t, snap)
	if rows := readRows(t, snap, byTarget[db.Name+".big"], 0); len(rows) != 200000 {
		t.Errorf("%d rows, want 200000", len(rows))
	}
}
