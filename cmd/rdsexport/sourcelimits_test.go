package main

import (
	"strings"
	"testing"

	"github.com/rdsexport/rdsexport/internal/engine"
)

func TestConfig_ValidateSourceLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string // in the error; "" means valid
	}{
		{"Defaults", func(*Config) {}, ""},
		{"SnapshotsPerAccount", func(c *Config) { c.MaxConcurrentSnapshots = 0 }, "max_concurrent_snapshots must be at least 1"},
		{"SnapshotsPerServer", func(c *Config) { c.MaxConcurrentSnapshotsPerServer = -1 }, "max_concurrent_snapshots_per_server must be at least 1"},
		{"ConnectionsBelowOneJob", func(c *Config) { c.ExportConnections, c.MaxSourceConnections = 4, 4 }, "max_source_connections must be at least export_connections + 1 (5)"},
		{"ConnectionsOneJob", func(c *Config) { c.ExportConnections, c.MaxSourceConnections = 4, 5 }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate = %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestServerKey(t *testing.T) {
	key := func(engine, url string) string {
		k, name := serverKey(SourceConfig{Identifier: "x", Engine: engine, URL: url})
		if strings.Contains(name, "secret") {
			t.Errorf("name %q shows the password", name)
		}
		return k
	}
	for _, p := range [][4]string{
		{"mariadb", "mysql://a:secret@DB.example:3306/", "aurora-mysql", "mysql://b@db.example/"},
		{"postgres", "postgres://u@db:5432/one", "aurora-postgresql", "postgres://v:secret@db/two?sslmode=disable"},
	} {
		if key(p[0], p[1]) != key(p[2], p[3]) {
			t.Errorf("%s and %s are one server", p[1], p[3])
		}
	}
	if key("postgres", "postgres://db:5432/a") == key("postgres", "postgres://db:5433/a") {
		t.Error("two ports are one server")
	}
	if key("mysql", "mysql://db:5432/") == key("postgres", "postgres://db:5432/") {
		t.Error("two engine families are one server")
	}
	if key("postgres", "host=db port=5432") == key("postgres", "host=db port=5433") {
		t.Error("two key=value sources on two ports share a budget")
	}
	if key("postgres", "host=db port=5432 user=u password=secret dbname=a") != key("postgres", "postgres://v@db:5432/b") {
		t.Error("a key=value source and a URL of one server have two budgets")
	}
}

func TestConnectionsNeeded(t *testing.T) {
	const size = 16
	for _, tc := range []struct {
		name       string
		cfg        SourceConfig
		exportOnly []string
		want       int
	}{
		{"MySQL", SourceConfig{Engine: "mariadb"}, nil, 3},
		{"MySQLExportOnly", SourceConfig{Engine: "mysql"}, []string{"a", "b.t"}, 3},
		{"PostgresDatabases", SourceConfig{Engine: "postgres", Databases: []string{"a", "b", "a"}}, nil, 4},
		{"PostgresExportOnly", SourceConfig{Engine: "postgres"}, []string{"a.s.t", "a.s", "b"}, 4},
		{"PostgresExportOnlyWithinDatabases", SourceConfig{Engine: "postgres", Databases: []string{"a"}}, []string{"a.s", "z"}, 3},
		{"PostgresUnknown", SourceConfig{Engine: "aurora-postgresql"}, nil, size},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := connectionsNeeded(tc.cfg, size)(engine.OpenParams{Connections: 2, ExportOnly: tc.exportOnly}); got != tc.want {
				t.Errorf("need %d, want %d", got, tc.want)
			}
		})
	}
}
