package exporttest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// DefaultMySQLURL is the local server the tests use unless TEST_MYSQL_URL
// says otherwise.
const DefaultMySQLURL = "mysql://root@127.0.0.1:3306/"

// MySQLDB is a fresh MySQL/MariaDB database created for one test.
type MySQLDB struct {
	Name string
	// URL is the server URL in rdsexport's mysql:// form (no database).
	URL string
	// DB is a connection pool to the database Name.
	DB *sql.DB
}

// mysqlConfig turns a mysql://user:pass@host:port/db URL into a driver
// config.
func mysqlConfig(t testing.TB, raw string) *mysql.Config {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("TEST_MYSQL_URL: %v", err)
	}
	c := mysql.NewConfig()
	c.Net = "tcp"
	c.Addr = u.Host
	c.User = u.User.Username()
	c.Passwd, _ = u.User.Password()
	c.MultiStatements = true
	c.Params = map[string]string{"charset": "utf8mb4"}
	return c
}

// NewMySQLDB creates a database with a random name on the test server,
// runs setup in it (several statements allowed), and drops it at
// t.Cleanup. The test is skipped when the server is unreachable, unless
// CI=true, where it fails.
func NewMySQLDB(t testing.TB, setup string) *MySQLDB {
	t.Helper()
	server := os.Getenv("TEST_MYSQL_URL")
	if server == "" {
		server = DefaultMySQLURL
	}
	cfg := mysqlConfig(t, server)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err == nil {
		err = admin.PingContext(ctx)
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("MySQL unreachable (TEST_MYSQL_URL): %v", err)
		}
		t.Skipf("MySQL unreachable, set TEST_MYSQL_URL: %v", err)
	}
	defer admin.Close()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	db := &MySQLDB{Name: "rdsexport_test_" + hex.EncodeToString(b), URL: server}
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+db.Name+" CHARACTER SET utf8mb4"); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		a, err := sql.Open("mysql", cfg.FormatDSN())
		if err != nil {
			t.Errorf("drop database %s: %v", db.Name, err)
			return
		}
		defer a.Close()
		if _, err := a.ExecContext(ctx, "DROP DATABASE IF EXISTS "+db.Name); err != nil {
			t.Errorf("drop database %s: %v", db.Name, err)
		}
	})
	cfg.DBName = db.Name
	db.DB, err = sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.DB.Close() })
	if setup != "" {
		if _, err := db.DB.ExecContext(ctx, setup); err != nil {
			t.Fatalf("set up database: %v", err)
		}
	}
	return db
}

// Exec runs sql in the database and fails the test on error.
func (db *MySQLDB) Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	if _, err := db.DB.ExecContext(context.Background(), sql, args...); err != nil {
		t.Fatalf("exec: %v", err)
	}
}
