// Package s3server is the S3-compatible server that rdsexport serves itself
// when no external S3 endpoint is configured. It is an http.Handler that
// stores buckets, objects and multipart uploads in one directory
// (data_dir/s3), so they survive restarts.
//
// The S3 REST protocol (routing, XML, conditional and range requests) comes
// from gofakes3; this package adds the disk storage (streaming, atomic,
// multipart uploads on disk), bucket ownership, the checks of what a
// request's body claims (the signed x-amz-content-sha256, the aws-chunked
// encoding of current AWS SDKs and CLI with its chunk signatures and
// checksums) and S3's error documents.
//
// Signatures are verified in front of this handler, by the SigV4 layer: it
// passes the verified caller in the request context (export.WithCaller)
// and, for signed aws-chunked bodies, a ChunkSigner (WithChunkSigner). A
// request without a caller is refused. Every bucket belongs to the account
// that created it; other accounts get AccessDenied for everything in it.
// Only path-style addressing (http://host/bucket/key) is served. It must
// not import other adapters; export is its only project import besides
// engine, whose ObjectStore the in-process Objects implements.
package s3server

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/johannesboyne/gofakes3"

	"github.com/rdsexport/rdsexport/internal/export"
)

// Server serves the S3 REST API from a directory. It is safe for concurrent
// use. Only one Server may use a directory at a time.
type Server struct {
	backend   *diskBackend
	account   string
	fakeOpt   []gofakes3.Option
	hostnames []string // ".base" suffixes of virtual-hosted-style hosts, longest first
}

// Params configures New. Zero fields take the defaults.
type Params struct {
	// Now stamps bucket creation, object modification and upload
	// initiation times; time.Now when nil.
	Now func() time.Time
	// Logger receives internal errors; discarded when nil.
	Logger *slog.Logger
	// AccountID is the server's own account (12 digits): it owns the
	// buckets stored before owners were recorded (durably, from then on),
	// and the in-process Objects act for it when their context names no
	// caller. Without it such buckets belong to no account.
	AccountID string
	// Hostnames turns on virtual-hosted-style addressing for these base
	// host names: a request to host <bucket>.<base> (any port) addresses
	// bucket, its path being the key, as Amazon S3 does. Other hosts use
	// path style. When bases nest (localhost and s3.localhost), the
	// longest that matches wins, so b.s3.localhost is bucket b.
	Hostnames []string
}

// New opens (creating if needed) the store in dir and returns its server.
// Partial uploads left by a crash are cleaned up. It returns an error when
// dir cannot be created or read, or holds a corrupt metadata file.
func New(dir string, p Params) (*Server, error) {
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	b, err := openDiskBackend(dir, p.Now, p.AccountID)
	if err != nil {
		return nil, fmt.Errorf("open s3 store %s: %w", dir, err)
	}
	var hosts []string
	for _, h := range p.Hostnames {
		if h = strings.Trim(strings.ToLower(h), "."); h != "" {
			hosts = append(hosts, "."+h)
		}
	}
	slices.SortFunc(hosts, func(a, b string) int { return len(b) - len(a) })
	return &Server{
		backend:   b,
		account:   p.AccountID,
		hostnames: hosts,
		fakeOpt: []gofakes3.Option{
			gofakes3.WithTimeSource(clock(p.Now)),
			// Clock skew is checked with the signature, by the SigV4 layer.
			gofakes3.WithTimeSkewLimit(0),
			gofakes3.WithLogger(slogLogger{p.Logger}),
		},
	}, nil
}

// ServeHTTP implements http.Handler. The request must carry its verified
// caller (export.WithCaller); without one it is refused with AccessDenied.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rw := newResponseWriter(w, r)
	defer rw.finish()
	caller, ok := export.CallerFrom(r.Context())
	if !ok || caller.AccountID == "" {
		rw.fail(gofakes3.ErrorMessage(codeAccessDenied, "Access Denied: sign every request with AWS Signature Version 4 (AWS4-HMAC-SHA256)."))
		return
	}
	if bucket, ok := s.hostBucket(r.Host); ok {
		// The signature was verified on the request as sent; from here on
		// it is served as its path-style equivalent.
		if r.URL.RawPath != "" {
			r.URL.RawPath = prefixPath(bucket, r.URL.RawPath)
		}
		r.URL.Path = prefixPath(bucket, r.URL.Path)
	}
	t := parseTarget(r.URL.Path)
	if err := s.prepare(r, t, caller.AccountID); err != nil {
		rw.fail(err)
		return
	}
	// gofakes3 asks its backend nothing about the request, so each request
	// gets a handler over the store as its caller's account sees it. It
	// costs a few small allocations.
	gofakes3.New(accountBackend{b: s.backend, account: caller.AccountID}, s.fakeOpt...).Server().ServeHTTP(rw, r)
}

// hostBucket returns the bucket a virtual-hosted-style host names, if host
// (with or without a port) is <bucket>.<base> for a configured base.
func (s *Server) hostBucket(host string) (string, bool) {
	if len(s.hostnames) == 0 {
		return "", false
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, base := range s.hostnames {
		if bucket, ok := strings.CutSuffix(host, base); ok && bucket != "" {
			return bucket, true
		}
	}
	return "", false
}

// prefixPath puts /bucket in front of a path ("" and "/" become /bucket).
func prefixPath(bucket, p string) string {
	if p == "" || p == "/" {
		return "/" + bucket
	}
	return "/" + bucket + p
}

// clock adapts a func to gofakes3.TimeSource.
type clock func() time.Time

func (c clock) Now() time.Time                  { return c() }
func (c clock) Since(t time.Time) time.Duration { return c().Sub(t) }

// slogLogger adapts slog to gofakes3.Logger: gofakes3 logs every request at
// INFO, which is debug detail for us.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Print(level gofakes3.LogLevel, v ...any) {
	msg := fmt.Sprint(v...)
	switch level {
	case gofakes3.LogErr:
		s.l.Error("s3 server", "err", msg)
	case gofakes3.LogWarn:
		s.l.Warn("s3 server", "detail", msg)
	default:
		s.l.Debug("s3 server", "detail", msg)
	}
}
