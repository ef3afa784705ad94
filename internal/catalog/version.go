package catalog

import (
	"context"
	"sync"
	"time"

	"github.com/rdsexport/rdsexport/internal/engine"
)

const (
	// versionRetry is how long a server that did not give its version is
	// left alone: a request that lists the sources must not wait on an
	// unreachable server each time.
	versionRetry = 30 * time.Second

	// versionTimeout bounds one version query.
	versionTimeout = 2 * time.Second
)

// server is one database server that sources point at, as far as its
// version goes: sources on it share one version query.
type server struct {
	source engine.Source // of the first source on the server: it asks

	mu       sync.Mutex
	version  string
	failedAt time.Time     // last failed version query
	asking   chan struct{} // closed when the query in flight ends
}

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
// MaxVersionLookups at a time (see engineVersion), so that unreachable
// servers delay a listing by one versionTimeout per MaxVersionLookups of
// them, not by one each.
func (c *Catalog) engineVersions(ctx context.Context, entries []*entry) []string {
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
