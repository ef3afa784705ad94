// Package s3server is the S3-compatible server that rdsexport serves itself
// when no external S3 endpoint is configured. It is an http.Handler that
// stores buckets, objects and multipart uploads in one directory
// (data_dir/s3), so they survive restarts.
//
// The S3 REST protocol (routing, XML, errors, conditional and range
// requests) comes from gofakes3; this package adds the disk storage
// (streaming, atomic, multipart uploads on disk) and the decoding of
// aws-chunked request bodies sent by current AWS SDKs and the AWS CLI.
//
// Requests are not authenticated here: the SigV4 layer wraps this handler.
// Only path-style addressing (http://host/bucket/key) is served. It must
// not import other adapters.
package s3server

import (
	"encoding/xml"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/johannesboyne/gofakes3"
)

// Server serves the S3 REST API from a directory. It is safe for concurrent
// use. Only one Server may use a directory at a time.
type Server struct {
	backend *diskBackend
	handler http.Handler
}

// Option configures New.
type Option func(*options)

type options struct {
	now    func() time.Time
	logger *slog.Logger
}

// WithNow sets the clock that stamps bucket creation, object modification
// and upload initiation times; time.Now by default.
func WithNow(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithLogger sets the logger for internal errors; discarded by default.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// New opens (creating if needed) the store in dir and returns its server.
// Partial uploads left by a crash are cleaned up. It returns an error when
// dir cannot be created or read, or holds a corrupt metadata file.
func New(dir string, opts ...Option) (*Server, error) {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	b, err := openDiskBackend(dir, o.now)
	if err != nil {
		return nil, fmt.Errorf("open s3 store %s: %w", dir, err)
	}
	faker := gofakes3.New(b,
		gofakes3.WithTimeSource(clock(o.now)),
		// Clock skew is checked with the signature, by the SigV4 layer.
		gofakes3.WithTimeSkewLimit(0),
		gofakes3.WithLogger(slogLogger{o.logger}),
	)
	return &Server{backend: b, handler: decodeAWSChunked(faker.Server())}, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
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
		s.l.Error("s3 server", "error", msg)
	case gofakes3.LogWarn:
		s.l.Warn("s3 server", "detail", msg)
	default:
		s.l.Debug("s3 server", "detail", msg)
	}
}

// writeError writes an S3 error document for errors raised before gofakes3
// sees the request.
func writeError(w http.ResponseWriter, r *http.Request, code gofakes3.ErrorCode) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(code.Status())
	if r.Method == http.MethodHead {
		return
	}
	_ = xml.NewEncoder(w).Encode(struct {
		XMLName xml.Name `xml:"Error"`
		Code    string   `xml:"Code"`
		Message string   `xml:"Message"`
	}{Code: string(code), Message: code.Message()})
}
