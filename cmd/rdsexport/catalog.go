package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/metrics"
	"github.com/rdsexport/rdsexport/internal/mysqlsource"
	"github.com/rdsexport/rdsexport/internal/pgsource"
	"github.com/rdsexport/rdsexport/internal/snapshotcopy"
)

// catalog is the configured sources: it answers DescribeDBClusters and
// DescribeDBInstances and resolves a task's SourceArn to its Source.
type catalog struct {
	accountID string
	started   time.Time
	clusters  []*entry
	instances []*entry
	lookups   chan struct{} // a slot per version query in flight
}

type entry struct {
	cfg SourceConfig
	// ep is what Describe shows of cfg.URL, parsed once; the URL itself
	// is never shown.
	ep     sourceEndpoint
	source engine.Source
	server *server
}

// server is one database server that sources point at. Sources with the
// same engine family, host, port and user share it, so that many sources
// on one server cost one version query, not one each.
type server struct {
	source engine.Source // of the first source on the server: it asks

	mu       sync.Mutex
	version  string
	failedAt time.Time     // last failed version query
	asking   chan struct{} // closed when the query in flight ends
}

// newCatalog builds the sources of cfg, each drawing on the connection
// budget of its server in limits.
func newCatalog(cfg Config, started time.Time, limits *sourceLimits) *catalog {
	c := &catalog{accountID: cfg.AccountID, started: started.UTC(), lookups: make(chan struct{}, maxVersionLookups)}
	servers := map[string]*server{}
	build := func(list []SourceConfig) []*entry {
		var out []*entry
		for _, s := range list {
			// Validate has refused URLs that do not parse; an entry built
			// without it shows nothing of its URL.
			ep, _ := parseSourceURL(s.Engine, s.URL)
			e := &entry{cfg: s, ep: ep, source: limits.wrap(s, newSource(s))}
			key := export.EngineFamily(s.Engine) + "\x00" + net.JoinHostPort(ep.Host, strconv.Itoa(ep.Port)) + "\x00" + ep.User
			if ep.Host == "" { // unparsed: no sharing
				key = s.URL
			}
			if servers[key] == nil {
				servers[key] = &server{source: e.source}
			}
			e.server = servers[key]
			out = append(out, e)
		}
		slices.SortFunc(out, func(a, b *entry) int {
			return strings.Compare(strings.ToLower(a.cfg.Identifier), strings.ToLower(b.cfg.Identifier))
		})
		return out
	}
	c.clusters, c.instances = build(cfg.Clusters), build(cfg.Instances)
	return c
}

// newSource returns the Source for a configured server's engine family.
func newSource(s SourceConfig) engine.Source {
	if export.EngineFamily(s.Engine) == "mysql" {
		return mysqlsource.New(s.URL, mysqlsource.Options{Databases: s.Databases, ReadTimeout: s.ReadTimeout})
	}
	return pgsource.New(s.URL, pgsource.Options{Databases: s.Databases, ReadTimeout: s.ReadTimeout})
}

const (
	// versionRetry is how long a server that did not give its version is
	// left alone: a request that lists the sources must not wait on an
	// unreachable server each time.
	versionRetry = 30 * time.Second

	// versionTimeout bounds one version query.
	versionTimeout = 2 * time.Second

	// maxVersionLookups bounds the version queries in flight, so that the
	// first listing of many servers does not open a connection to each at
	// once.
	maxVersionLookups = 16
)

// knownVersion is the server's version if it is known, without asking.
func (s *server) knownVersion() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version
}

// engineVersion asks the server once, holding one of slots while it does;
// until it answers, the version is unknown and omitted. After a failed
// attempt it is omitted without asking for versionRetry. A caller that
// finds a query in flight waits for its answer, so the query belongs to
// every such caller: it is bounded by versionTimeout, not by the context of
// the caller that started it.
func (s *server) engineVersion(ctx context.Context, slots chan struct{}) string {
	s.mu.Lock()
	if s.version != "" || time.Since(s.failedAt) < versionRetry {
		defer s.mu.Unlock()
		return s.version
	}
	if s.asking != nil {
		asking := s.asking
		s.mu.Unlock()
		select {
		case <-asking:
		case <-ctx.Done():
		}
		return s.knownVersion()
	}
	asking := make(chan struct{})
	s.asking = asking
	s.mu.Unlock()

	var version string
	var failed bool
	select {
	case slots <- struct{}{}:
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), versionTimeout)
		v, err := s.source.Version(qctx)
		cancel()
		<-slots
		version, failed = v, err != nil
	case <-ctx.Done(): // not asked: no verdict on the server
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.version = version
	if failed {
		s.failedAt = time.Now()
	}
	s.asking = nil
	close(asking)
	return version
}

// engineVersions returns the versions of the entries' servers, asking the
// servers whose version is not known yet at once, at most
// maxVersionLookups at a time (see engineVersion), so that unreachable
// servers delay a listing by one versionTimeout per maxVersionLookups of
// them, not by one each.
func (c *catalog) engineVersions(ctx context.Context, entries []*entry) []string {
	var wg sync.WaitGroup
	asked := map[*server]bool{}
	for _, e := range entries {
		if asked[e.server] || e.server.knownVersion() != "" {
			continue
		}
		asked[e.server] = true
		wg.Go(func() { e.server.engineVersion(ctx, c.lookups) })
	}
	wg.Wait()
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.server.knownVersion()
	}
	return out
}

// resourceID is a stable id derived from the identifier, shaped like AWS's.
func resourceID(prefix, id string) string {
	h := sha256.Sum256([]byte(strings.ToLower(id)))
	return prefix + strings.ToUpper(hex.EncodeToString(h[:13]))
}

// visible reports whether a source belongs to the account: the server's
// account owns every source; others see those shared with them.
func (c *catalog) visible(e *entry, accountID string) bool {
	return accountID == c.accountID || slices.Contains(e.cfg.SharedWith, accountID)
}

// visibleOf returns the entries of list visible to the account.
func (c *catalog) visibleOf(list []*entry, accountID string) []*entry {
	var out []*entry
	for _, e := range list {
		if c.visible(e, accountID) {
			out = append(out, e)
		}
	}
	return out
}

// Clusters implements service.Catalog.
func (c *catalog) Clusters(ctx context.Context, accountID string) ([]export.DBCluster, error) {
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
func (c *catalog) FindCluster(_ context.Context, accountID, id string) (export.DBCluster, bool, error) {
	e := c.find(c.clusters, id)
	if e == nil || !c.visible(e, accountID) {
		return export.DBCluster{}, false, nil
	}
	return c.cluster(e, accountID, e.server.knownVersion()), true, nil
}

func (c *catalog) cluster(e *entry, accountID, version string) export.DBCluster {
	return export.DBCluster{
		Identifier:     e.cfg.Identifier,
		AccountID:      accountID,
		Engine:         e.cfg.Engine,
		EngineVersion:  version,
		Status:         "available",
		Endpoint:       e.ep.Host,
		Port:           e.ep.Port,
		MasterUsername: e.ep.User,
		DatabaseName:   e.ep.Database,
		CreateTime:     c.started,
		ResourceID:     resourceID("cluster-", e.cfg.Identifier),
	}
}

// Instances implements service.Catalog.
func (c *catalog) Instances(ctx context.Context, accountID string) ([]export.DBInstance, error) {
	entries := c.visibleOf(c.instances, accountID)
	versions := c.engineVersions(ctx, entries)
	out := make([]export.DBInstance, 0, len(entries))
	for i, e := range entries {
		out = append(out, export.DBInstance{
			Identifier:       e.cfg.Identifier,
			AccountID:        accountID,
			Engine:           e.cfg.Engine,
			EngineVersion:    versions[i],
			Status:           "available",
			Address:          e.ep.Host,
			Port:             e.ep.Port,
			MasterUsername:   e.ep.User,
			DBName:           e.ep.Database,
			CreateTime:       c.started,
			ResourceID:       resourceID("db-", e.cfg.Identifier),
			AllocatedStorage: 20,
		})
	}
	return out, nil
}

// resolver finds the Source of an export task or of a snapshot being
// created: a configured server, or a stored snapshot copy.
type resolver struct {
	catalog   *catalog
	snapshots export.SnapshotStore
	blobs     snapshotcopy.Blobs
}

// exportSource is the engine.Resolver: a cluster ARN names a configured
// cluster; a snapshot or cluster-snapshot ARN names a stored copy.
func (r *resolver) exportSource(ctx context.Context, t *export.Task) (engine.Source, error) {
	for _, k := range []struct {
		marker string
		kind   export.SnapshotKind
	}{{":snapshot:", export.SnapshotKindDB}, {":cluster-snapshot:", export.SnapshotKindCluster}} {
		if i := strings.Index(t.SourceArn, k.marker); i >= 0 {
			id := strings.ToLower(t.SourceArn[i+len(k.marker):])
			s, err := r.snapshots.GetSnapshot(ctx, t.AccountID, k.kind, id)
			if err != nil {
				return nil, err
			}
			return snapshotcopy.NewSource(r.blobs, s.Location), nil
		}
	}
	if i := strings.LastIndex(t.SourceArn, ":cluster:"); i >= 0 {
		if e := r.catalog.find(r.catalog.clusters, t.SourceArn[i+len(":cluster:"):]); e != nil && r.catalog.visible(e, t.AccountID) {
			return e.source, nil
		}
	}
	return nil, export.Errorf(export.CodeDBClusterNotFound, "DBCluster %s not found.", t.SourceArn)
}

// snapshotSource is the snapshotcopy.Resolver: the instance or cluster a
// snapshot copies.
func (r *resolver) snapshotSource(_ context.Context, s *export.Snapshot) (engine.Source, error) {
	list, code := r.catalog.instances, export.CodeDBInstanceNotFound
	if s.Kind == export.SnapshotKindCluster {
		list, code = r.catalog.clusters, export.CodeDBClusterNotFound
	}
	if e := r.catalog.find(list, s.SourceIdentifier); e != nil && r.catalog.visible(e, s.AccountID) {
		return e.source, nil
	}
	return nil, export.Errorf(code, "%s not found.", s.SourceIdentifier)
}

func (c *catalog) find(list []*entry, id string) *entry {
	for _, e := range list {
		if strings.EqualFold(e.cfg.Identifier, id) {
			return e
		}
	}
	return nil
}

// snapshotter is the service.Snapshotter on the snapshot copier.
type snapshotter struct {
	copier  *snapshotcopy.Copier
	store   export.SnapshotStore
	logger  *slog.Logger
	metrics *metrics.Metrics
}

func (s snapshotter) CreateSnapshot(snap *export.Snapshot) {
	err := s.copier.Create(snap)
	if err == nil {
		s.metrics.SnapshotCopyStarted()
		return
	}
	// The copier is stopping: the snapshot must not stay creating.
	s.logger.Error("start snapshot copy", "snapshot", snap.Identifier, "err", err)
	reason := err.Error()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.store.UpdateSnapshot(ctx, snap.AccountID, snap.Kind, snap.Identifier,
		[]string{export.SnapshotCreating}, export.SnapshotFailed, export.SnapshotUpdate{FailureReason: &reason}); err != nil {
		s.logger.Error("mark snapshot failed", "snapshot", snap.Identifier, "err", err)
	}
}

func (s snapshotter) DeleteSnapshotData(ctx context.Context, snap *export.Snapshot) error {
	return s.copier.Delete(ctx, snap)
}
