package main

import (
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rdsexport/rdsexport/internal/awsquery"
	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/s3server"
	"github.com/rdsexport/rdsexport/internal/sigv4"
)

// router serves the RDS Query API and, when embedded, S3 on one listener.
// The service of the SigV4 credential scope ("s3" or "rds") picks the
// handler; every request is verified before it is served.
//
// A request takes one of the server's request slots only once its
// signature is verified, so clients without credentials cannot hold any:
// before that an RDS request has authTimeout to send its body, and an S3
// request is verified from its headers alone. At most cap(slots) requests
// are served at once, RDS and S3 together, and one client address holds at
// most perAddress of them; past either limit a request is refused at once
// with the error each protocol's clients retry: Throttling for RDS,
// SlowDown for S3.
type router struct {
	verifier *sigv4.Verifier
	rds      http.Handler // signature verification, then a slot, then the Query API
	s3       http.Handler // nil when S3 is external
	// public serves the unsigned operator endpoints (/health, /metrics);
	// a request carrying AWS credentials never reaches it, so a bucket of
	// the same name stays reachable through S3.
	public *http.ServeMux
	logger *slog.Logger

	slots       chan struct{}
	perAddress  int
	authTimeout time.Duration
	mu          sync.Mutex
	held        map[string]int // slots held per client address
}

const (
	// rdsTimeout bounds reading a verified RDS request and writing its
	// answer; both are small (the body is at most
	// awsquery.DefaultMaxBodyBytes). S3 requests stream large objects and
	// keep the server-wide limits.
	rdsTimeout = time.Minute
	// defaultAuthTimeout bounds reading an RDS request's body before its
	// signature can be checked: SDKs send the body with the headers, so a
	// client that takes longer is holding a connection on purpose.
	defaultAuthTimeout = 10 * time.Second
)

func newRouter(v *sigv4.Verifier, rds *awsquery.Handler, s3 http.Handler, logger *slog.Logger, maxConcurrent int) *router {
	if maxConcurrent < 1 {
		maxConcurrent = 1
	}
	rt := &router{
		verifier: v,
		s3:       s3,
		logger:   logger,
		slots:    make(chan struct{}, maxConcurrent),
		// Three quarters: a quarter of the slots always stays for the
		// other clients, and a lone client still gets most of them.
		perAddress:  max(1, maxConcurrent-maxConcurrent/4),
		held:        map[string]int{},
		authTimeout: defaultAuthTimeout,
	}
	fail := func(w http.ResponseWriter, r *http.Request, err error) {
		awsquery.WriteError(w, newRequestID(), err)
	}
	// A Query API request must be signed for RDS; S3 requests are told
	// apart by their scope before they get here.
	rdsVerifier := *v
	rdsVerifier.Service = "rds"
	rt.rds = rdsVerifier.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		release, ok := rt.acquire(r, false)
		if !ok {
			awsquery.WriteError(w, newRequestID(), export.Errorf(export.CodeThrottling, "Rate exceeded"))
			return
		}
		defer release()
		// Verified: the rest of the request and its answer get the longer
		// deadline.
		deadline := time.Now().Add(rdsTimeout)
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(deadline)
		_ = rc.SetWriteDeadline(deadline)
		rds.ServeHTTP(w, r)
	}), awsquery.DefaultMaxBodyBytes, fail)
	return rt
}

// acquire takes a request slot for r's client address. It reports false,
// taking nothing, when every slot is held or the address holds its share.
func (rt *router) acquire(r *http.Request, isS3 bool) (release func(), ok bool) {
	addr := clientAddress(r)
	rt.mu.Lock()
	if rt.held[addr] >= rt.perAddress {
		rt.mu.Unlock()
		rt.logger.Debug("request throttled", "s3", isS3, "reason", "address share", "per_address", rt.perAddress)
		return nil, false
	}
	select {
	case rt.slots <- struct{}{}:
	default:
		rt.mu.Unlock()
		rt.logger.Debug("request throttled", "s3", isS3, "max_concurrent_requests", cap(rt.slots))
		return nil, false
	}
	rt.held[addr]++
	rt.mu.Unlock()
	return func() {
		rt.mu.Lock()
		if rt.held[addr]--; rt.held[addr] == 0 {
			delete(rt.held, addr)
		}
		rt.mu.Unlock()
		<-rt.slots
	}, true
}

// clientAddress is the IP address of r's peer; the port is left out so
// that one host's many connections share one account of slots.
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rt.public != nil && !hasAWSCredentials(r) {
		if h, pattern := rt.public.Handler(r); pattern != "" {
			h.ServeHTTP(w, r)
			return
		}
	}
	if rt.s3 != nil && isS3Request(r) {
		// S3 bodies stream, so they are not hashed here: the signature
		// covers the headers, including the declared X-Amz-Content-Sha256,
		// and the S3 server checks the body against it as it reads (the
		// hash, or the chunk signatures with the ChunkSigner).
		id, err := rt.verifier.Verify(r, nil)
		if err != nil {
			s3server.WriteAuthError(w, r, err)
			return
		}
		release, ok := rt.acquire(r, true)
		if !ok {
			s3server.WriteError(w, "SlowDown", "Please reduce your request rate.", http.StatusServiceUnavailable)
			return
		}
		defer release()
		ctx := export.WithCaller(r.Context(), id.Caller())
		if id.Chunks != nil {
			ctx = s3server.WithChunkSigner(ctx, id.Chunks)
		}
		rt.s3.ServeHTTP(w, r.WithContext(ctx))
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(rt.authTimeout))
	_ = rc.SetWriteDeadline(time.Now().Add(rt.authTimeout + rdsTimeout))
	// With no server-wide WriteTimeout the server never resets the write
	// deadline, so clear it for the next request on the connection, which
	// may be a long S3 download. What is still buffered is small.
	defer func() { _ = rc.SetWriteDeadline(time.Time{}) }()
	rt.rds.ServeHTTP(w, r)
}

// isS3Request tells the embedded S3's requests from RDS Query requests: by
// the service of the SigV4 credential scope when there is one, else every
// request that is not a Query request (POST / or ?Action=) is S3's: a path
// naming a bucket or key, SigV2 credentials, a bare GET /.
func isS3Request(r *http.Request) bool {
	if svc := scopeService(r); svc != "" {
		return svc == "s3"
	}
	if s3server.IsSigV2(r) || r.URL.Path != "/" && r.URL.Path != "" {
		return true
	}
	return r.Method != http.MethodPost && !r.URL.Query().Has("Action")
}

// hasAWSCredentials reports whether r is signed (or presigned) the AWS way,
// SigV4 or SigV2.
func hasAWSCredentials(r *http.Request) bool {
	q := r.URL.Query()
	return strings.HasPrefix(r.Header.Get("Authorization"), "AWS") || q.Has("X-Amz-Credential") || q.Has("X-Amz-Signature") || s3server.IsSigV2(r)
}

// scopeService returns the service named in the request's credential
// scope (Authorization header or presigned query), or "".
func scopeService(r *http.Request) string {
	cred := r.URL.Query().Get("X-Amz-Credential")
	if auth := r.Header.Get("Authorization"); auth != "" {
		_, after, ok := strings.Cut(auth, "Credential=")
		if !ok {
			return ""
		}
		cred, _, _ = strings.Cut(after, ",")
	}
	parts := strings.Split(strings.TrimSpace(cred), "/")
	if len(parts) != 5 {
		return ""
	}
	return parts[3]
}

// SecretFor implements sigv4.CredentialLookup for the configured keys.
func (c credentialTable) SecretFor(accessKeyID string) (string, string, bool) {
	k, ok := c.keys[accessKeyID]
	if !ok {
		return "", "", false
	}
	if k.AccountID != "" {
		return k.SecretAccessKey, k.AccountID, true
	}
	return k.SecretAccessKey, c.account, true
}
