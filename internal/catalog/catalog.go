// Package catalog owns the configured sources: the DB clusters and DB
// instances each account may see (DescribeDBClusters, DescribeDBInstances),
// their engine versions, asked of their servers with a bound on the
// queries in flight, and the resolution of an export's SourceArn or a
// snapshot's source to the engine.Source that reads it.
//
// It builds no source itself: main hands it each source's constructor
// (pgsource, mysqlsource behind the connection budgets) and the
// constructor of stored snapshot copies, so that it imports no adapter.
package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/service"
)

// Source is one configured DB cluster or DB instance: a database server.
type Source struct {
	Identifier string
	Engine     string
	// SharedWith lists other accounts that see and may export or snapshot
	// the source; it always belongs to the catalog's account.
	SharedWith []string
	// Endpoint is all Describe shows of the connection string, parsed by
	// the caller; zero when it could not be parsed.
	Endpoint Endpoint
	// Server names the database server in connection budgets: snapshot
	// copies of sources with one Server count together (SnapshotServer).
	Server string
	// New builds the engine.Source; it is called once, by New.
	New func() engine.Source
}

// Endpoint is what may be told of a source's connection string.
type Endpoint struct {
	// Host is the first host the connection tries.
	Host     string
	Port     int
	User     string
	Database string
}

// Params configures New.
type Params struct {
	// AccountID owns every source.
	AccountID string
	// Started is the CreateTime of every source.
	Started   time.Time
	Clusters  []Source
	Instances []Source
	// Snapshots finds the stored snapshot an export's SourceArn names.
	Snapshots export.SnapshotStore
	// SnapshotSource returns the engine.Source of a stored snapshot copy.
	SnapshotSource func(s *export.Snapshot) engine.Source
	// MaxVersionLookups bounds the version queries in flight. Default
	// DefaultMaxVersionLookups.
	MaxVersionLookups int
}

// DefaultMaxVersionLookups is used when Params leave MaxVersionLookups 0:
// the first listing of many servers does not open a connection to each at
// once.
const DefaultMaxVersionLookups = 16

// Catalog is the configured sources. It implements service.Catalog, and
// its ExportSource, SnapshotSource and SnapshotServer methods are the
// resolvers of the export engine and the snapshot copier.
type Catalog struct {
	p         Params
	started   time.Time
	clusters  []*entry
	instances []*entry
	lookups   chan struct{} // a slot per version query in flight
}

var _ service.Catalog = (*Catalog)(nil)

type entry struct {
	src    Source
	source engine.Source
	server *server
}

// New builds every source of p.
func New(p Params) *Catalog {
	if p.MaxVersionLookups <= 0 {
		p.MaxVersionLookups = DefaultMaxVersionLookups
	}
	c := &Catalog{p: p, started: p.Started.UTC(), lookups: make(chan struct{}, p.MaxVersionLookups)}
	servers := map[string]*server{}
	build := func(list []Source) []*entry {
		var out []*entry
		for _, s := range list {
			e := &entry{src: s, source: s.New()}
			// Sources with the same engine family, host, port and user
			// share one version query. An unparsed endpoint shares none.
			ep := s.Endpoint
			key := export.EngineFamily(s.Engine) + "\x00" + net.JoinHostPort(ep.Host, strconv.Itoa(ep.Port)) + "\x00" + ep.User
			if ep.Host != "" && servers[key] != nil {
				e.server = servers[key]
			} else {
				e.server = &server{source: e.source}
				if ep.Host != "" {
					servers[key] = e.server
				}
			}
			out = append(out, e)
		}
		slices.SortFunc(out, func(a, b *entry) int {
			return strings.Compare(strings.ToLower(a.src.Identifier), strings.ToLower(b.src.Identifier))
		})
		return out
	}
	c.clusters, c.instances = build(p.Clusters), build(p.Instances)
	return c
}

// resourceID is a stable id derived from the identifier, shaped like AWS's.
func resourceID(prefix, id string) string {
	h := sha256.Sum256([]byte(strings.ToLower(id)))
	return prefix + strings.ToUpper(hex.EncodeToString(h[:13]))
}

// visible reports whether a source belongs to the account: the catalog's
// account owns every source; others see those shared with them.
func (c *Catalog) visible(e *entry, accountID string) bool {
	return accountID == c.p.AccountID || slices.Contains(e.src.SharedWith, accountID)
}

// visibleOf returns the entries of list visible to the account.
func (c *Catalog) visibleOf(list []*entry, accountID string) []*entry {
	var out []*entry
	for _, e := range list {
		if c.visible(e, accountID) {
			out = append(out, e)
		}
	}
	return out
}

// find returns the entry of list whose identifier is id, ignoring case.
func find(list []*entry, id string) *entry {
	for _, e := range list {
		if strings.EqualFold(e.src.Identifier, id) {
			return e
		}
	}
	return nil
}

// Clusters implements service.Catalog.
func (c *Catalog) Clusters(ctx context.Context, accountID string) ([]export.DBCluster, error) {
	entries := c.visibleOf(c.clusters, accountID)
	versions := c.engineVersions(ctx, entries)
	out := make([]export.DBCluster, 0, len(entries))
	for i, e := range entries {
		out = append(out, c.cluster(e, accountID, versions[i]))
	}
	return out, nil
}

// FindCluster implements service.Catalog. The version is there once a
// listing has asked for it.
func (c *Catalog) FindCluster(_ context.Context, accountID, id string) (export.DBCluster, bool, error) {
	e := find(c.clusters, id)
	if e == nil || !c.visible(e, accountID) {
		return export.DBCluster{}, false, nil
	}
	return c.cluster(e, accountID, e.server.knownVersion()), true, nil
}

func (c *Catalog) cluster(e *entry, accountID, version string) export.DBCluster {
	return export.DBCluster{
		Identifier:     e.src.Identifier,
		AccountID:      accountID,
		Engine:         e.src.Engine,
		EngineVersion:  version,
		Status:         "available",
		Endpoint:       e.src.Endpoint.Host,
		Port:           e.src.Endpoint.Port,
		MasterUsername: e.src.Endpoint.User,
		DatabaseName:   e.src.Endpoint.Database,
		CreateTime:     c.started,
		ResourceID:     resourceID("cluster-", e.src.Identifier),
	}
}

// Instances implements service.Catalog.
func (c *Catalog) Instances(ctx context.Context, accountID string) ([]export.DBInstance, error) {
	entries := c.visibleOf(c.instances, accountID)
	versions := c.engineVersions(ctx, entries)
	out := make([]export.DBInstance, 0, len(entries))
	for i, e := range entries {
		ep := e.src.Endpoint
		out = append(out, export.DBInstance{
			Identifier:       e.src.Identifier,
			AccountID:        accountID,
			Engine:           e.src.Engine,
			EngineVersion:    versions[i],
			Status:           "available",
			Address:          ep.Host,
			Port:             ep.Port,
			MasterUsername:   ep.User,
			DBName:           ep.Database,
			CreateTime:       c.started,
			ResourceID:       resourceID("db-", e.src.Identifier),
			AllocatedStorage: 20,
		})
	}
	return out, nil
}
