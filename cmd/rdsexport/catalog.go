package main

import (
	"github.com/rdsexport/rdsexport/internal/catalog"
	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/metrics"
	"github.com/rdsexport/rdsexport/internal/mysqlsource"
	"github.com/rdsexport/rdsexport/internal/pgsource"
	"github.com/rdsexport/rdsexport/internal/snapshotcopy"
)

// catalogSources are the configured sources as the catalog takes them,
// each built on the connection budget of its server in limits.
func catalogSources(list []SourceConfig, limits *sourceLimits) []catalog.Source {
	out := make([]catalog.Source, 0, len(list))
	for _, s := range list {
		// Validate has refused URLs that do not parse; a source built
		// without it shows nothing of its URL.
		ep, _ := parseSourceURL(s.Engine, s.URL)
		server, _ := serverKey(s)
		out = append(out, catalog.Source{
			Identifier: s.Identifier, Engine: s.Engine, SharedWith: s.SharedWith,
			Endpoint: ep, Server: server,
			New: func() engine.Source { return limits.wrap(s, newSource(s)) },
		})
	}
	return out
}

// newSource returns the Source for a configured server's engine family.
func newSource(s SourceConfig) engine.Source {
	if export.EngineFamily(s.Engine) == "mysql" {
		return mysqlsource.New(s.URL, mysqlsource.Params{Databases: s.Databases, ReadTimeout: s.ReadTimeout})
	}
	return pgsource.New(s.URL, pgsource.Params{Databases: s.Databases, ReadTimeout: s.ReadTimeout})
}

// countedCopier is the service.Snapshotter on the snapshot copier that
// counts the copies asked for.
type countedCopier struct {
	*snapshotcopy.Copier
	metrics *metrics.Metrics
}

func (c countedCopier) CreateSnapshot(s *export.Snapshot) {
	c.metrics.SnapshotCopyStarted()
	c.Copier.CreateSnapshot(s)
}
