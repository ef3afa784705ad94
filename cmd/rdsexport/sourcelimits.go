package main

import (
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/rdsexport/rdsexport/internal/connlimit"
	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/export"
)

// sourceLimits is the connection budget (max_source_connections) of each
// database server the sources point at. Sources of one engine family, host
// and port share a budget, whatever their user or databases, so that
// exports, snapshot copies and version queries of every source on a server
// stay within it together.
type sourceLimits struct {
	size    int
	logger  *slog.Logger
	servers map[string]*connlimit.Server
}

func newSourceLimits(size int, logger *slog.Logger) *sourceLimits {
	return &sourceLimits{size: size, logger: logger, servers: map[string]*connlimit.Server{}}
}

// wrap returns src drawing on the budget of its server. Built while the
// catalog is, before any request, so the map needs no lock.
func (l *sourceLimits) wrap(cfg SourceConfig, src engine.Source) engine.Source {
	key, name := serverKey(cfg)
	srv := l.servers[key]
	if srv == nil {
		srv = connlimit.NewServer(name, l.size, l.logger)
		l.servers[key] = srv
	}
	return connlimit.Wrap(src, srv, connectionsNeeded(cfg, l.size))
}

// inUse is the connections taken from every budget (0 once all jobs end).
func (l *sourceLimits) inUse() int {
	n := 0
	for _, s := range l.servers {
		n += s.InUse()
	}
	return n
}

// serverKey names the server of a source: engine family, host and port,
// from the URL in any accepted form. A URL that does not parse (Validate
// refuses those) gets a budget of its own. name is for logs and holds no
// credentials.
func serverKey(cfg SourceConfig) (key, name string) {
	family := export.EngineFamily(cfg.Engine)
	ep, err := parseSourceURL(cfg.Engine, cfg.URL)
	if err != nil || ep.Host == "" {
		return family + "\x00" + cfg.URL, family + " source " + cfg.Identifier
	}
	addr := net.JoinHostPort(strings.ToLower(ep.Host), strconv.Itoa(ep.Port))
	return family + "\x00" + addr, family + " " + addr
}

// connectionsNeeded is how many connections an Open of the source holds
// at most at once, with p.Connections readers:
//
//   - MySQL and MariaDB: the readers and one catalog connection.
//   - PostgreSQL: the readers and one coordinator per database read. The
//     databases are those ExportOnly names, else the source's databases;
//     when neither names them the job may open a connection to every
//     database of the server, which is not known before it connects, so
//     it takes the whole budget (size) and runs alone on the server.
func connectionsNeeded(cfg SourceConfig, size int) connlimit.NeedFunc {
	readers := func(p engine.OpenParams) int { return max(p.Connections, 1) }
	if export.EngineFamily(cfg.Engine) == "mysql" {
		return func(p engine.OpenParams) int { return readers(p) + 1 }
	}
	return func(p engine.OpenParams) int {
		dbs := exportOnlyDatabases(p.ExportOnly)
		switch {
		case dbs != nil && len(cfg.Databases) > 0:
			dbs = slices.DeleteFunc(dbs, func(db string) bool { return !slices.Contains(cfg.Databases, db) })
		case dbs == nil && len(cfg.Databases) > 0:
			dbs = slices.Compact(slices.Sorted(slices.Values(cfg.Databases)))
		case dbs == nil:
			return size
		}
		return readers(p) + len(dbs)
	}
}

// exportOnlyDatabases is the distinct databases ExportOnly entries name
// (the part before the first dot), or nil when ExportOnly is empty.
func exportOnlyDatabases(exportOnly []string) []string {
	if len(exportOnly) == 0 {
		return nil
	}
	dbs := []string{}
	for _, e := range exportOnly {
		db, _, _ := strings.Cut(e, ".")
		if !slices.Contains(dbs, db) {
			dbs = append(dbs, db)
		}
	}
	return dbs
}
