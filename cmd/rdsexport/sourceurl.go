package main

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rdsexport/rdsexport/internal/catalog"
	"github.com/rdsexport/rdsexport/internal/export"
)

// Errors of parseSourceURL. They name the form expected and never quote
// the string, which holds a password.
var (
	errPostgresURL = errors.New("not a PostgreSQL connection string (postgres:// or postgresql:// URL, or libpq keyword/value form)")
	errMySQLURL    = errors.New("not a MySQL URL (mysql://user:password@host:port/?tls=...&timeout=...)")
	// errCutUserinfo is a URL whose path holds an '@': a '/' in the
	// password ended the user information early, and the rest of the
	// password would be taken, and shown, as the database.
	errCutUserinfo = errors.New("the URL's path holds '@': percent-encode '/', '?', '#' and '@' in the user name and password")
)

// parseSourceURL splits a source's connection string into the parts that
// may be shown (DescribeDBClusters, DescribeDBInstances, the snapshots of
// a source and the logs show these and nothing else of it, whatever else,
// password, TLS keys, options, the string holds), with the parser that connects to it:
//
//   - PostgreSQL engines: every form pgx (libpq) accepts, the
//     postgres:// and postgresql:// URLs and the keyword/value form with
//     its quoting, several hosts in either; PG* environment variables fill
//     in what the string leaves out, as they do when connecting. With
//     several hosts, the first is shown.
//   - MySQL engines: mysql://user:password@host[:port]/[database] with the
//     parameters tls (true, false, skip-verify, preferred) and timeout (a
//     Go duration) only, as package mysqlsource connects. The port
//     defaults to 3306.
//
// Errors: errPostgresURL or errMySQLURL, possibly wrapped with a reason
// that quotes nothing of raw; an engine of no known family is an error too.
func parseSourceURL(engine, raw string) (catalog.Endpoint, error) {
	switch export.EngineFamily(engine) {
	case "postgres":
		if strings.HasPrefix(raw, "postgres://") || strings.HasPrefix(raw, "postgresql://") {
			if u, err := url.Parse(raw); err == nil && strings.Contains(u.Path, "@") {
				return catalog.Endpoint{}, errCutUserinfo
			}
		}
		c, err := pgconn.ParseConfig(raw)
		if err != nil {
			// The parser's message quotes the string with the password
			// masked by a pattern; it is not repeated.
			return catalog.Endpoint{}, errPostgresURL
		}
		return catalog.Endpoint{Host: c.Host, Port: int(c.Port), User: c.User, Database: c.Database}, nil
	case "mysql":
		return parseMySQLURL(raw)
	}
	return catalog.Endpoint{}, errors.New("unknown engine")
}

func parseMySQLURL(raw string) (catalog.Endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "mysql" || u.Opaque != "" || u.Hostname() == "" {
		// url.Parse's error quotes raw.
		return catalog.Endpoint{}, errMySQLURL
	}
	ep := catalog.Endpoint{Host: u.Hostname(), Port: 3306}
	if p := u.Port(); p != "" {
		if ep.Port, err = strconv.Atoi(p); err != nil || ep.Port < 1 || ep.Port > 65535 {
			return catalog.Endpoint{}, errMySQLURL
		}
	}
	if u.User != nil {
		ep.User = u.User.Username()
	}
	if strings.Contains(u.Path, "@") {
		return catalog.Endpoint{}, errCutUserinfo
	}
	ep.Database = u.Path
	if len(ep.Database) > 0 && ep.Database[0] == '/' {
		ep.Database = ep.Database[1:]
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return catalog.Endpoint{}, errMySQLURL
	}
	for k, vs := range q {
		v := vs[len(vs)-1]
		switch k {
		case "tls":
			switch v {
			case "true", "false", "skip-verify", "preferred":
			default:
				return catalog.Endpoint{}, errors.New("tls must be true, false, skip-verify or preferred")
			}
		case "timeout":
			if d, err := time.ParseDuration(v); err != nil || d <= 0 {
				return catalog.Endpoint{}, errors.New("timeout must be a positive Go duration such as 10s")
			}
		default:
			// The name is not quoted: a password pasted in the wrong place
			// would be.
			return catalog.Endpoint{}, errors.New("unknown URL parameter: only tls and timeout are accepted")
		}
	}
	return ep, nil
}
