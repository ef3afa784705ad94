package console

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/service"
)

// Service is the part of *service.Service the console uses: the same
// operations, with the same validation, limits and errors, as the RDS API.
type Service interface {
	StartExportTask(ctx context.Context, in service.StartExportTaskInput) (*export.Task, error)
	DescribeExportTasks(ctx context.Context, in service.DescribeExportTasksInput) (*service.DescribeExportTasksOutput, error)
	CancelExportTask(ctx context.Context, id string) (*export.Task, error)
	DescribeDBClusters(ctx context.Context, in service.DescribeDBClustersInput) (*service.DescribeDBClustersOutput, error)
	DescribeDBInstances(ctx context.Context, in service.DescribeDBInstancesInput) (*service.DescribeDBInstancesOutput, error)
	DescribeDBSnapshots(ctx context.Context, in service.DescribeDBSnapshotsInput) (*service.DescribeDBSnapshotsOutput, error)
	DescribeDBClusterSnapshots(ctx context.Context, in service.DescribeDBClusterSnapshotsInput) (*service.DescribeDBClusterSnapshotsOutput, error)
	CreateDBSnapshot(ctx context.Context, in service.CreateDBSnapshotInput) (*export.Snapshot, error)
	CreateDBClusterSnapshot(ctx context.Context, in service.CreateDBClusterSnapshotInput) (*export.Snapshot, error)
	DeleteDBSnapshot(ctx context.Context, id string) (*export.Snapshot, error)
	DeleteDBClusterSnapshot(ctx context.Context, id string) (*export.Snapshot, error)
}

var _ Service = (*service.Service)(nil)

// Objects browses the buckets of the embedded S3 as the account of the
// export.Caller in ctx sees them: another account's bucket is ErrNotFound.
type Objects interface {
	// Buckets returns the account's bucket names, sorted.
	Buckets(ctx context.Context) ([]string, error)
	// List returns the objects and the "folders" (common prefixes, by "/")
	// directly under prefix, at most limit entries in key order.
	// Errors: ErrNotFound for a missing or foreign bucket.
	List(ctx context.Context, bucket, prefix string, limit int) (Listing, error)
	// Open returns the content and size of an object. Errors: ErrNotFound
	// for a missing object or a missing or foreign bucket.
	Open(ctx context.Context, bucket, key string) (io.ReadCloser, int64, error)
}

// Listing is one level of a bucket.
type Listing struct {
	Folders []string // full prefixes, ending in "/"
	Objects []Object
	// Truncated is set when more entries follow than were returned.
	Truncated bool
}

// Object is one stored object.
type Object struct {
	Key      string
	Size     int64
	Modified time.Time
}

// ErrNotFound is returned by Objects for what the account cannot see.
var ErrNotFound = errors.New("no such bucket or object")

// Params configures New.
type Params struct {
	Service     Service
	Credentials Credentials
	// Progress is the engine's Observer; nil shows no per-table progress.
	Progress *Progress
	// Objects browses the embedded S3; nil (an external S3) hides the
	// object browser.
	Objects Objects
	// Region is the region of the ARNs the console shows and starts
	// exports with.
	Region string
	// SessionTTL is how long a sign-in lasts; 0 means DefaultSessionTTL.
	SessionTTL time.Duration
	Logger     *slog.Logger
	Now        func() time.Time
}

// DefaultSessionTTL is how long a sign-in lasts by default.
const DefaultSessionTTL = 12 * time.Hour

// maxFormBytes bounds a posted form (an ExportOnly list may be long).
const maxFormBytes = 1 << 20

// Console serves the pages under /console/. Create it with New.
type Console struct {
	p        Params
	sessions *sessions
	mux      *http.ServeMux
	pages    map[string]*template.Template
	logger   *slog.Logger
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// New returns the console. It panics if its embedded templates do not
// parse, which the tests catch.
func New(p Params) *Console {
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.SessionTTL <= 0 {
		p.SessionTTL = DefaultSessionTTL
	}
	if p.Progress == nil {
		p.Progress = NewProgress(0)
	}
	c := &Console{p: p, sessions: newSessions(p.Credentials, p.SessionTTL, p.Now), logger: p.Logger, pages: map[string]*template.Template{}}
	for _, name := range []string{"login", "dashboard", "export", "objects", "message"} {
		c.pages[name] = template.Must(template.New("").Funcs(funcs).ParseFS(templateFS,
			"templates/layout.html", "templates/parts.html", "templates/"+name+".html"))
	}
	static, _ := fs.Sub(staticFS, "static")
	m := http.NewServeMux()
	m.Handle("GET /console/static/", http.StripPrefix("/console/static/", http.FileServerFS(static)))
	m.HandleFunc("GET /console", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console/", http.StatusSeeOther)
	})
	m.HandleFunc("GET /console/login", c.loginPage)
	m.HandleFunc("POST /console/login", c.login)
	m.HandleFunc("POST /console/logout", c.authed(c.logout))
	m.HandleFunc("GET /console/{$}", c.authed(c.dashboard))
	m.HandleFunc("GET /console/exports", c.authed(c.dashboard))
	m.HandleFunc("GET /console/snapshots", c.authed(c.dashboard))
	m.HandleFunc("GET /console/exports/{id}", c.authed(c.exportPage))
	m.HandleFunc("POST /console/exports", c.authed(c.startExport))
	m.HandleFunc("POST /console/exports/{id}/cancel", c.authed(c.cancelExport))
	m.HandleFunc("POST /console/snapshots", c.authed(c.createSnapshot))
	m.HandleFunc("POST /console/snapshots/{kind}/{id}/delete", c.authed(c.deleteSnapshot))
	m.HandleFunc("GET /console/objects", c.authed(c.objectsPage))
	m.HandleFunc("GET /console/objects/download", c.authed(c.download))
	m.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) {
		c.message(w, r, nil, http.StatusNotFound, "Not found", "There is no such page.")
	})
	c.mux = m
	return c
}

// ServeHTTP serves a request whose path is /console or under /console/.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Nothing of the console may be framed, sniffed, cached or loaded from
	// elsewhere; no inline script or style is needed.
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if !sameOrigin(r) {
			c.message(w, r, nil, http.StatusForbidden, "Forbidden", "The form was sent from another site.")
			return
		}
	}
	c.mux.ServeHTTP(w, r)
}

// authed runs h with the request's session and the caller of its account
// in the context, or sends the browser to the sign-in page.
func (c *Console) authed(h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, ok := c.sessions.session(r)
		if !ok {
			if r.Method == http.MethodGet && r.Header.Get("X-Console-Live") == "" {
				http.Redirect(w, r, "/console/login", http.StatusSeeOther)
				return
			}
			c.message(w, r, nil, http.StatusUnauthorized, "Signed out", "Your session has ended: sign in again.")
			return
		}
		if r.Method == http.MethodPost {
			if err := r.ParseForm(); err != nil {
				c.message(w, r, sess, http.StatusBadRequest, "Bad request", "The form could not be read.")
				return
			}
			if !c.sessions.checkCSRF(r, sess) {
				c.message(w, r, sess, http.StatusForbidden, "Forbidden", "The form is out of date or not from this session: reload the page and try again.")
				return
			}
		}
		ctx := export.WithCaller(r.Context(), export.Caller{AccessKeyID: sess.AccessKeyID, AccountID: sess.AccountID, Region: c.p.Region})
		h(w, r.WithContext(ctx), sess)
	}
}

// page is the data of every template.
type page struct {
	Title   string
	Session *session
	CSRF    string
	// Error is shown at the top of the page.
	Error *export.Error
	// Live pages refresh their data-live parts (and, without JavaScript,
	// the whole page).
	Live bool
	// Browse is set when the object browser is available.
	Browse bool
	Data   any
}

// render writes the named page with status.
func (c *Console) render(w http.ResponseWriter, status int, name string, p page) {
	if p.Session != nil {
		p.CSRF = c.sessions.csrf(p.Session)
	}
	p.Browse = c.p.Objects != nil
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := c.pages[name].ExecuteTemplate(w, "layout", p); err != nil {
		c.logger.Error("render console page", "page", name, "err", err)
	}
}

// message writes a page that says one thing.
func (c *Console) message(w http.ResponseWriter, _ *http.Request, sess *session, status int, title, text string) {
	c.render(w, status, "message", page{Title: title, Session: sess, Data: text})
}

// shownError is the error a person may see: an *export.Error as it is
// (code and message, as the API sends them), anything else logged and
// shown as InternalFailure without details.
func (c *Console) shownError(r *http.Request, err error) *export.Error {
	var e *export.Error
	if errors.As(err, &e) {
		return e
	}
	c.logger.ErrorContext(r.Context(), "console request failed", "path", r.URL.Path, "err", err)
	return &export.Error{Code: export.CodeInternalFailure, Message: "An internal error occurred; it has been logged."}
}
