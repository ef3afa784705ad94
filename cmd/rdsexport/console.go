package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/rdsexport/rdsexport/internal/console"
	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/s3server"
	"github.com/rdsexport/rdsexport/internal/service"
)

// newConsole builds the web console on the same service and credentials
// as the RDS API. local is the embedded S3 (nil when S3 is external: the
// console then has no object browser).
func newConsole(cfg Config, svc *service.Service, progress *console.Progress, creds credentialTable,
	local *s3server.Objects, logger *slog.Logger, now func() time.Time) *console.Console {
	p := console.Params{
		Service: svc, Credentials: creds, Progress: progress, Region: cfg.Region,
		Logger: logger, Now: now,
	}
	if local != nil {
		p.Objects = consoleObjects{local}
	}
	return console.New(p)
}

// isConsoleRequest reports whether r is for the console: a path of
// /console or under /console/ without SigV4 or SigV2 credentials. A signed
// request for a bucket named "console" is still the embedded S3's.
func isConsoleRequest(r *http.Request) bool {
	if r.URL.Path != "/console" && !strings.HasPrefix(r.URL.Path, "/console/") {
		return false
	}
	return r.Header.Get("Authorization") == "" && scopeService(r) == "" && !s3server.IsSigV2(r)
}

// serveConsole serves a console request within the request slots.
func (rt *router) serveConsole(w http.ResponseWriter, r *http.Request) {
	release, ok := rt.acquire(r, false)
	if !ok {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "The server is busy; try again in a moment.", http.StatusServiceUnavailable)
		return
	}
	defer release()
	// Console forms are small: a client sending one slowly is cut off as
	// an RDS request would be.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(rt.authTimeout))
	rt.console.ServeHTTP(w, r)
}

// consoleObjects is the console's object browser on the embedded S3.
type consoleObjects struct{ o *s3server.Objects }

var _ console.Objects = consoleObjects{}

func (c consoleObjects) Buckets(ctx context.Context) ([]string, error) { return c.o.Buckets(ctx), nil }

func (c consoleObjects) List(ctx context.Context, bucket, prefix string, limit int) (console.Listing, error) {
	f, err := c.o.ListFolder(ctx, bucket, prefix, limit)
	if err != nil {
		return console.Listing{}, consoleObjectError(err)
	}
	l := console.Listing{Folders: f.Prefixes, Truncated: f.Truncated}
	for _, o := range f.Objects {
		l.Objects = append(l.Objects, console.Object{Key: o.Key, Size: o.Size, Modified: o.Modified})
	}
	return l, nil
}

func (c consoleObjects) Open(ctx context.Context, bucket, key string) (io.ReadCloser, int64, error) {
	rc, n, err := c.o.Open(ctx, bucket, key)
	if err != nil {
		return nil, 0, consoleObjectError(err)
	}
	return rc, n, nil
}

// consoleObjectError makes what the account cannot see console.ErrNotFound.
func consoleObjectError(err error) error {
	var oe *engine.ObjectStoreError
	if errors.As(err, &oe) {
		switch oe.Code {
		case "NoSuchBucket", "NoSuchKey", "AccessDenied", "InvalidArgument", "KeyTooLongError", "InvalidBucketName":
			return console.ErrNotFound
		}
	}
	return err
}
