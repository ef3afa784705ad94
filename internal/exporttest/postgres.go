package exporttest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultPostgresURL is the local server the tests use unless
// TEST_POSTGRES_URL says otherwise.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres"

// PostgresDB is a fresh database created for one test.
type PostgresDB struct {
	Name string
	// URL connects to Name.
	URL string
	// ServerURL connects to the server's maintenance database.
	ServerURL string
}

// NewPostgresDB creates a database with a random name on the test server,
// runs setup in it, and drops it at t.Cleanup. The test is skipped when the
// server is unreachable, unless CI=true, where it fails.
func NewPostgresDB(t testing.TB, setup string) *PostgresDB {
	t.Helper()
	server := os.Getenv("TEST_POSTGRES_URL")
	if server == "" {
		server = DefaultPostgresURL
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL unreachable (TEST_POSTGRES_URL): %v", err)
		}
		t.Skipf("PostgreSQL unreachable, set TEST_POSTGRES_URL: %v", err)
	}
	defer conn.Close(ctx)

	b := make([]byte, 6)
	_, _ = rand.Read(b)
	db := &PostgresDB{Name: "rdsexport_test_" + hex.EncodeToString(b), ServerURL: server}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+db.Name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := pgx.Connect(ctx, server)
		if err != nil {
			t.Errorf("drop database %s: %v", db.Name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+db.Name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", db.Name, err)
		}
	})
	u, err := url.Parse(server)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + db.Name
	db.URL = u.String()
	if setup != "" {
		c, err := pgx.Connect(ctx, db.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, setup); err != nil {
			t.Fatalf("set up database: %v", err)
		}
	}
	return db
}

// Exec runs sql in the database and fails the test on error.
func (db *PostgresDB) Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("exec: %v", err)
	}
}
