// Package metrics keeps the server's Prometheus metrics with
// prometheus/client_golang and serves them in the text exposition format.
//
// It owns the metric names (README.md, "Metrics", documents each), the
// registry and the adapters that feed it: an engine.Observer for exports,
// an engine.ObjectStore wrapper for S3 requests, a per-request hook for the
// RDS API and collectors that count tasks and snapshots in the store at
// scrape time. It imports engine and export; it must not import other
// adapters, the service or the HTTP layer of the API.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/export"
)

const namespace = "rdsexport"

// Counts reads the store at scrape time: export tasks by status and
// snapshots by kind and status, of every account.
type Counts interface {
	TaskCounts(ctx context.Context) (map[export.Status]int64, error)
	SnapshotCounts(ctx context.Context) (map[export.SnapshotKind]map[string]int64, error)
}

// countTimeout bounds the store queries of one scrape.
const countTimeout = 5 * time.Second

// Metrics is the registry and every metric of the server. Create it with
// New; it is safe for concurrent use.
type Metrics struct {
	reg    *prometheus.Registry
	logger *slog.Logger
	now    func() time.Time

	apiRequests  *prometheus.CounterVec
	apiDuration  *prometheus.HistogramVec
	s3Duration   *prometheus.HistogramVec
	s3Errors     *prometheus.CounterVec
	s3Bytes      prometheus.Counter
	files        prometheus.Counter
	rows         prometheus.Counter
	sourceBytes  prometheus.Counter
	sourceRead   prometheus.Histogram
	exportsTotal prometheus.Counter
	copies       prometheus.Counter

	mu      sync.Mutex
	running map[taskKey]*exportRun
}

type taskKey struct{ account, id string }

func keyOf(t *export.Task) taskKey { return taskKey{t.AccountID, t.Identifier} }

// exportRun is what the throughput gauge knows of one running export.
type exportRun struct {
	start time.Time
	bytes int64
}

// Params configures New.
type Params struct {
	// Counts feeds the task and snapshot gauges; nil leaves them out.
	Counts Counts
	// Logger receives the errors of the store queries; nil discards them.
	Logger *slog.Logger
	// Now is the clock of the throughput gauge; nil means time.Now.
	Now func() time.Time
}

// New registers every metric, the Go runtime's and the process's.
func New(p Params) *Metrics {
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	m := &Metrics{reg: prometheus.NewRegistry(), logger: p.Logger, now: p.Now, running: map[taskKey]*exportRun{}}
	f := func(name, help string) prometheus.CounterOpts {
		return prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}
	}
	m.apiRequests = prometheus.NewCounterVec(f("api_requests_total",
		"RDS API requests answered, by action and result code (OK or the error code)."), []string{"action", "code"})
	m.apiDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "api_request_duration_seconds",
		Help:    "Time to answer an RDS API request once its signature is verified, by action.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"action"})
	m.s3Duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "s3_request_duration_seconds",
		Help: "Duration of the object store requests of exports, by operation (put, list, delete, bucket_access, abort_uploads); " +
			"a put lasts as long as its Parquet file is being written.",
		Buckets: []float64{.001, .005, .01, .05, .1, .5, 1, 5, 10, 30, 60, 300}}, []string{"operation"})
	m.s3Errors = prometheus.NewCounterVec(f("s3_request_errors_total",
		"Object store requests of exports that failed, by operation (cancelled requests included)."), []string{"operation"})
	m.s3Bytes = prometheus.NewCounter(f("export_bytes_written_total", "Bytes of the objects exports stored in S3 (Parquet files, markers, manifests)."))
	m.files = prometheus.NewCounter(f("parquet_files_written_total", "Parquet files exports stored in S3."))
	m.rows = prometheus.NewCounter(f("export_rows_total", "Rows read from sources by exports."))
	m.sourceBytes = prometheus.NewCounter(f("export_source_bytes_total", "Source bytes read by exports (the sum of their ExtractedBytes)."))
	m.sourceRead = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: "source_read_duration_seconds",
		Help:    "Time a source took to deliver one record batch to an export.",
		Buckets: []float64{.0005, .001, .005, .01, .05, .1, .5, 1, 5, 30}})
	m.exportsTotal = prometheus.NewCounter(f("exports_started_total", "Exports that began to run."))
	m.copies = prometheus.NewCounter(f("snapshot_copies_started_total", "Snapshot copies begun (CreateDBSnapshot, CreateDBClusterSnapshot)."))
	// Zero error series from the start, so that a rate of errors exists
	// before the first error.
	for _, op := range []string{"put", "list", "delete", "bucket_access", "abort_uploads"} {
		m.s3Errors.WithLabelValues(op)
	}
	m.reg.MustRegister(m.apiRequests, m.apiDuration, m.s3Duration, m.s3Errors, m.s3Bytes, m.files, m.rows,
		m.sourceBytes, m.sourceRead, m.exportsTotal, m.copies,
		runningCollector{m},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if p.Counts != nil {
		m.reg.MustRegister(countsCollector{p.Counts, m.logger})
	}
	return m
}

// Handler serves the metrics in the Prometheus text format. A store query
// that fails leaves its gauges out of the scrape rather than failing it.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// APIRequest records one answered RDS API request. action must be one the
// server serves ("unknown" otherwise, so that callers cannot mint label
// values); code is "OK" or the error code.
func (m *Metrics) APIRequest(action, code string, d time.Duration) {
	m.apiRequests.WithLabelValues(action, code).Inc()
	m.apiDuration.WithLabelValues(action).Observe(d.Seconds())
}

// SnapshotCopyStarted counts one snapshot copy begun.
func (m *Metrics) SnapshotCopyStarted() { m.copies.Inc() }

var _ engine.Observer = (*Metrics)(nil)

// ExportStarted implements engine.Observer.
func (m *Metrics) ExportStarted(t *export.Task) {
	m.exportsTotal.Inc()
	m.mu.Lock()
	m.running[keyOf(t)] = &exportRun{start: m.now()}
	m.mu.Unlock()
}

// ExportEnded implements engine.Observer.
func (m *Metrics) ExportEnded(t *export.Task) {
	m.mu.Lock()
	delete(m.running, keyOf(t))
	m.mu.Unlock()
}

// BatchRead implements engine.Observer.
func (m *Metrics) BatchRead(_ *export.Task, rows int64, wait time.Duration) {
	m.rows.Add(float64(rows))
	m.sourceRead.Observe(wait.Seconds())
}

// BytesRead implements engine.Observer.
func (m *Metrics) BytesRead(t *export.Task, n int64) {
	m.sourceBytes.Add(float64(n))
	m.mu.Lock()
	if r := m.running[keyOf(t)]; r != nil {
		r.bytes += n
	}
	m.mu.Unlock()
}

// FileWritten implements engine.Observer.
func (m *Metrics) FileWritten(*export.Task) { m.files.Inc() }

var (
	runningDesc = prometheus.NewDesc(namespace+"_exports_running", "Exports running in this process.", nil, nil)
	rateDesc    = prometheus.NewDesc(namespace+"_export_throughput_bytes_per_second",
		"Source bytes read per second by each running export, since it began to run.", []string{"account_id", "export_task_identifier"}, nil)
	tasksDesc = prometheus.NewDesc(namespace+"_export_tasks",
		"Export tasks in the store, of every account, by status.", []string{"status"}, nil)
	snapshotsDesc = prometheus.NewDesc(namespace+"_snapshots",
		"Snapshots in the store, of every account, by kind (db, cluster) and status.", []string{"kind", "status"}, nil)
)

// runningCollector reports the running exports and their throughput.
type runningCollector struct{ m *Metrics }

func (c runningCollector) Describe(ch chan<- *prometheus.Desc) { ch <- runningDesc; ch <- rateDesc }

func (c runningCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(runningDesc, prometheus.GaugeValue, float64(len(m.running)))
	for k, r := range m.running {
		rate := 0.0
		if d := now.Sub(r.start).Seconds(); d > 0 {
			rate = float64(r.bytes) / d
		}
		ch <- prometheus.MustNewConstMetric(rateDesc, prometheus.GaugeValue, rate, k.account, k.id)
	}
}

// countsCollector reads the task and snapshot counts at scrape time.
type countsCollector struct {
	counts Counts
	logger *slog.Logger
}

func (c countsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- tasksDesc; ch <- snapshotsDesc }

func (c countsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), countTimeout)
	defer cancel()
	tasks, err := c.counts.TaskCounts(ctx)
	if err != nil {
		c.logger.Warn("metrics: count tasks", "err", err)
		ch <- prometheus.NewInvalidMetric(tasksDesc, err)
	} else {
		// Every status is reported, zero included, so that rates and
		// alerts see a series from the start.
		for _, st := range export.Statuses() {
			ch <- prometheus.MustNewConstMetric(tasksDesc, prometheus.GaugeValue, float64(tasks[st]), string(st))
		}
	}
	snaps, err := c.counts.SnapshotCounts(ctx)
	if err != nil {
		c.logger.Warn("metrics: count snapshots", "err", err)
		ch <- prometheus.NewInvalidMetric(snapshotsDesc, err)
		return
	}
	for _, kind := range []export.SnapshotKind{export.SnapshotKindDB, export.SnapshotKindCluster} {
		for _, st := range []export.SnapshotStatus{export.SnapshotCreating, export.SnapshotAvailable, export.SnapshotFailed} {
			ch <- prometheus.MustNewConstMetric(snapshotsDesc, prometheus.GaugeValue, float64(snaps[kind][string(st)]), string(kind), string(st))
		}
	}
}
