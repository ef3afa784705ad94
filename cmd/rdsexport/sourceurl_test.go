package main

import (
	"strings"
	"testing"

	"github.com/rdsexport/rdsexport/internal/catalog"
)

func endpoint(host string, port int, user, database string) catalog.Endpoint {
	return catalog.Endpoint{Host: host, Port: port, User: user, Database: database}
}

func TestParseSourceURL(t *testing.T) {
	t.Setenv("PGHOST", "")
	t.Setenv("PGPORT", "")
	t.Setenv("PGUSER", "")
	t.Setenv("PGDATABASE", "")
	const pw = "Zq7Xv-secret"
	for _, c := range []struct {
		name, engine, url string
		want              catalog.Endpoint
	}{
		{"PostgresURL", "postgres", "postgres://u:" + pw + "@db.local:5433/app?sslmode=disable",
			endpoint("db.local", 5433, "u", "app")},
		{"PostgresqlURL", "aurora-postgresql", "postgresql://u:" + pw + "@db.local/app",
			endpoint("db.local", 5432, "u", "app")},
		{"PasswordInQuery", "postgres", "postgres://u@db.local/app?password=" + pw,
			endpoint("db.local", 5432, "u", "app")},
		{"EncodedPassword", "postgres", "postgres://u:%40%2F%3A%20" + pw + "@db.local/app",
			endpoint("db.local", 5432, "u", "app")},
		{"MultiHostURL", "postgres", "postgres://u:" + pw + "@h1:5001,h2:5002/app",
			endpoint("h1", 5001, "u", "app")},
		{"KeywordValue", "postgres", "host=db.local port=5434 user=u password=" + pw + " dbname=app sslmode=disable",
			endpoint("db.local", 5434, "u", "app")},
		{"KeywordValueQuoted", "aurora-postgresql", `host='db.local' user='u x' password='` + pw + ` \' \\ x' dbname='my app'`,
			endpoint("db.local", 5432, "u x", "my app")},
		{"KeywordValuePasswordFirst", "postgres", "password=" + pw + " user=u dbname=app host=db.local",
			endpoint("db.local", 5432, "u", "app")},
		{"KeywordValueMultiHost", "postgres", "host=h1,h2 port=5001,5002 user=u password=" + pw,
			endpoint("h1", 5001, "u", "")},
		{"KeywordValueSocket", "postgres", "host=/var/run/postgresql user=u password=" + pw + " dbname=app",
			endpoint("/var/run/postgresql", 5432, "u", "app")},
		{"MySQL", "mysql", "mysql://root:" + pw + "@db.local:3307/",
			endpoint("db.local", 3307, "root", "")},
		{"MySQLDefaultPort", "mariadb", "mysql://root:" + pw + "@db.local/shop?tls=preferred&timeout=10s",
			endpoint("db.local", 3306, "root", "shop")},
		{"MySQLEncodedPassword", "aurora-mysql", "mysql://root:%40%2F" + pw + "@db.local/",
			endpoint("db.local", 3306, "root", "")},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseSourceURL(c.engine, c.url)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestConfigValidate_SourceURLErrors(t *testing.T) {
	const pw = "Zq7Xv-secret"
	for _, c := range []struct{ name, engine, url string }{
		{"PostgresBadPort", "postgres", "postgres://u:" + pw + "@h:xx/db"},
		{"PostgresBadEscape", "postgres", "postgres://u:" + pw + "%zz@h/db"},
		{"PostgresUnterminatedQuote", "postgres", "host=h password='" + pw},
		{"PostgresKeywordBadPort", "postgres", "host=h password=" + pw + " port=abc"},
		{"PostgresSlashInPassword", "postgres", "postgres://u:12/" + pw + "@h/db"},
		{"PostgresGivenMySQL", "aurora-postgresql", "mysql://root:" + pw + "@h/"},
		{"MySQLBadPort", "mysql", "mysql://root:" + pw + "@h:xx/"},
		{"MySQLDriverDSN", "mariadb", "root:" + pw + "@tcp(h:3306)/db"},
		{"MySQLGivenPostgres", "mysql", "postgres://u:" + pw + "@h/db"},
		{"MySQLNoHost", "mysql", "mysql://root:" + pw + "@/db"},
		{"MySQLUnknownParameter", "mysql", "mysql://root@h/?" + pw + "=1"},
		{"MySQLPasswordParameter", "mysql", "mysql://root@h/?password=" + pw},
		{"MySQLBadTLS", "aurora-mysql", "mysql://root:" + pw + "@h/?tls=maybe"},
		{"MySQLSlashInPassword", "mysql", "mysql://root:12/" + pw + "@h/"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Clusters = []SourceConfig{{Identifier: "src", Engine: c.engine, URL: c.url}}
			err := cfg.Validate()
			if err == nil {
				t.Fatal("configuration accepted")
			}
			if msg := err.Error(); strings.Contains(msg, pw) || strings.Contains(msg, "Zq7Xv") || !strings.Contains(msg, "clusters[0] src: url") {
				t.Fatalf("error %q quotes the password or does not name the source", msg)
			}
		})
	}
}

func TestConfig_ExtraRegions(t *testing.T) {
	cfg := DefaultConfig()
	if err := cfg.LoadEnv(func(k string) string {
		if k == "RDSEXPORT_EXTRA_REGIONS" {
			return "us-west-2, eu-central-1,"
		}
		return ""
	}); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Regions(), ","); got != "us-east-1,us-west-2,eu-central-1" {
		t.Fatalf("regions %s", got)
	}
	for _, bad := range [][]string{{"us-east-1"}, {"us-west-2", "us-west-2"}, {"mars"}, {""}} {
		cfg.ExtraRegions = bad
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "extra_regions") {
			t.Errorf("extra_regions %q: err %v", bad, err)
		}
	}
}
