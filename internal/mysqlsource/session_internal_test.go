package mysqlsource

import (
	"context"
	"database/sql/driver"
	"os"
	"strings"
	"testing"
	"time"
)

func TestSessionSettings(t *testing.T) {
	for version, want := range map[string]string{
		"10.11.9-MariaDB-0+deb12u1": "SET SESSION max_statement_time = 0",
		"11.4.2-MariaDB":            "SET SESSION max_statement_time = 0",
		"10.1.48-MariaDB":           "SET SESSION max_statement_time = 0",
		"10.0.38-MariaDB":           "",
		"8.0.39":                    "SET SESSION max_execution_time = 0",
		"8.0.mysql_aurora.3.05.2":   "SET SESSION max_execution_time = 0",
		"5.7.8-log":                 "SET SESSION max_execution_time = 0",
		"5.7.7-rc":                  "",
		"5.6.51":                    "",
	} {
		if got := sessionSettings(version); got != want {
			t.Errorf("sessionSettings(%q) = %q, want %q", version, got, want)
		}
	}
}

// TestConnect_ServerTimeouts reads the session's timeouts back on an
// export connection: wait_timeout at its maximum, no statement time limit.
func TestConnect_ServerTimeouts(t *testing.T) {
	u := os.Getenv("TEST_MYSQL_URL")
	if u == "" {
		u = "mysql://root@127.0.0.1:3306/"
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c, err := New(u, Params{ConnectTimeout: 5 * time.Second}).connect(ctx)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skipf("MySQL unreachable, set TEST_MYSQL_URL: %v", err)
	}
	defer c.close()
	limit := "@@session.max_execution_time"
	if strings.Contains(strings.ToLower(c.version), "mariadb") {
		limit = "@@session.max_statement_time"
	}
	var wait, stmt string
	err = c.query(ctx, "SELECT @@session.wait_timeout, "+limit, func(row []driver.Value) error {
		wait, stmt = asString(row[0]), asString(row[1])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if wait != noWaitTimeout || strings.Trim(stmt, "0.") != "" {
		t.Errorf("wait_timeout %s, %s %s; want %s and 0", wait, limit, stmt, noWaitTimeout)
	}
}
