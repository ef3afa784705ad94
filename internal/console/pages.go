package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/service"
)

// pageRecords is the page size of the console's lists (the API's largest).
const pageRecords = 100

// dashboard is the data of the main page.
type dashboard struct {
	Exports      []*export.Task
	Status       string // the status filter, lowercase, or ""
	Marker       string // of this page
	Next         string // of the next page
	ExportsError *export.Error

	Snapshots      []*export.Snapshot
	SnapshotsMore  bool
	SnapshotsError *export.Error

	// The forms: their choices (left out of live refreshes) and values.
	ExportSources   []option
	SnapshotSources []option
	Buckets         []string
	Export          exportForm
	Snapshot        snapshotForm
}

type option struct{ Value, Label string }

// exportForm is the "new export" form as posted.
type exportForm struct {
	Identifier, Source, ExportOnly, Bucket, Prefix, IamRole, KmsKey string
}

// snapshotForm is the "new snapshot" form: Source is "cluster:<id>" or
// "instance:<id>".
type snapshotForm struct {
	Identifier, Source string
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.sessions.session(r); ok {
		http.Redirect(w, r, "/console/", http.StatusSeeOther)
		return
	}
	c.render(w, http.StatusOK, "login", page{Title: "Sign in"})
}

func (c *Console) dashboard(w http.ResponseWriter, r *http.Request, sess *session) {
	c.renderDashboard(w, r, sess, http.StatusOK, nil, c.defaultForms(sess))
}

// defaultForms are the forms of a fresh page.
func (c *Console) defaultForms(sess *session) dashboard {
	now := c.p.Now().UTC()
	return dashboard{
		Export: exportForm{
			Identifier: "export-" + now.Format("20060102-150405"),
			IamRole:    "arn:aws:iam::" + sess.AccountID + ":role/rds-s3-export",
			KmsKey:     "alias/rdsexport",
		},
		Snapshot: snapshotForm{Identifier: "snapshot-" + now.Format("20060102-150405")},
	}
}

// renderDashboard fills d's lists for the request's account and writes
// the page, with actionErr (the failure of a posted form) at its top.
func (c *Console) renderDashboard(w http.ResponseWriter, r *http.Request, sess *session, status int, actionErr error, d dashboard) {
	ctx := r.Context()
	q := r.URL.Query()
	in := service.DescribeExportTasksInput{MaxRecords: ptr(pageRecords)}
	if m := q.Get("marker"); m != "" {
		d.Marker = m
		in.Marker = &m
	}
	if st := q.Get("status"); st != "" {
		d.Status = st
		in.Filters = []service.Filter{{Name: service.FilterStatus, Values: []string{st}}}
	}
	if out, err := c.p.Service.DescribeExportTasks(ctx, in); err != nil {
		d.ExportsError = c.shownError(r, err)
	} else {
		d.Exports, d.Next = out.ExportTasks, out.Marker
	}
	d.Snapshots, d.SnapshotsMore, d.SnapshotsError = c.snapshots(r)

	// A live refresh replaces the lists only: the forms' choices are not
	// needed (and the catalog may ask database servers for versions).
	live := r.Header.Get("X-Console-Live") != ""
	if !live {
		c.formChoices(r, sess, &d)
	}
	p := page{Title: "Exports and snapshots", Session: sess, Live: true, Data: d}
	if actionErr != nil {
		p.Error = c.shownError(r, actionErr)
	}
	c.render(w, status, "dashboard", p)
}

// snapshots returns the account's DB cluster snapshots and DB snapshots
// (the first page of each), and whether more exist.
func (c *Console) snapshots(r *http.Request) ([]*export.Snapshot, bool, *export.Error) {
	ctx := r.Context()
	cs, err := c.p.Service.DescribeDBClusterSnapshots(ctx, service.DescribeDBClusterSnapshotsInput{MaxRecords: ptr(pageRecords)})
	if err != nil {
		return nil, false, c.shownError(r, err)
	}
	ds, err := c.p.Service.DescribeDBSnapshots(ctx, service.DescribeDBSnapshotsInput{MaxRecords: ptr(pageRecords)})
	if err != nil {
		return nil, false, c.shownError(r, err)
	}
	all := append(append([]*export.Snapshot{}, cs.DBClusterSnapshots...), ds.DBSnapshots...)
	return all, cs.Marker != "" || ds.Marker != "", nil
}

// formChoices lists the sources and buckets the forms offer. A failure
// leaves a list short: the forms still accept typed values.
func (c *Console) formChoices(r *http.Request, sess *session, d *dashboard) {
	ctx := r.Context()
	arn := func(kind, id string) string {
		return fmt.Sprintf("arn:aws:rds:%s:%s:%s:%s", c.p.Region, sess.AccountID, kind, id)
	}
	if out, err := c.p.Service.DescribeDBClusters(ctx, service.DescribeDBClustersInput{MaxRecords: ptr(pageRecords)}); err != nil {
		c.logger.WarnContext(ctx, "console: list clusters", "err", err)
	} else {
		for _, cl := range out.DBClusters {
			d.ExportSources = append(d.ExportSources, option{arn("cluster", cl.Identifier), "cluster " + cl.Identifier + " (" + cl.Engine + ")"})
			d.SnapshotSources = append(d.SnapshotSources, option{"cluster:" + cl.Identifier, "cluster " + cl.Identifier})
		}
	}
	if out, err := c.p.Service.DescribeDBInstances(ctx, service.DescribeDBInstancesInput{MaxRecords: ptr(pageRecords)}); err != nil {
		c.logger.WarnContext(ctx, "console: list instances", "err", err)
	} else {
		for _, in := range out.DBInstances {
			d.SnapshotSources = append(d.SnapshotSources, option{"instance:" + in.Identifier, "instance " + in.Identifier})
		}
	}
	for _, s := range d.Snapshots {
		if s.Status != export.SnapshotAvailable {
			continue
		}
		if s.Kind == export.SnapshotKindCluster {
			d.ExportSources = append(d.ExportSources, option{arn("cluster-snapshot", s.Identifier), "cluster snapshot " + s.Identifier})
		} else {
			d.ExportSources = append(d.ExportSources, option{arn("snapshot", s.Identifier), "snapshot " + s.Identifier})
		}
	}
	if c.p.Objects != nil {
		if b, err := c.p.Objects.Buckets(ctx); err != nil {
			c.logger.WarnContext(ctx, "console: list buckets", "err", err)
		} else {
			d.Buckets = b
		}
	}
	// A fresh form proposes the first choices.
	if d.Export.Source == "" && len(d.ExportSources) > 0 {
		d.Export.Source = d.ExportSources[0].Value
	}
	if d.Export.Bucket == "" && len(d.Buckets) > 0 {
		d.Export.Bucket = d.Buckets[0]
	}
}

// exportView is the data of an export's page.
type exportView struct {
	T *export.Task
	// Warnings is WarningMessage parsed; RawWarning is the message when it
	// is not the usual JSON document.
	Warnings   *engine.Warnings
	RawWarning string
	// Live is the per-table progress and throughput, when known.
	Live   *taskView
	Tables []tableRow
	Chart  chart
}

// tableRow is one table of an export's page.
type tableRow struct {
	engine.TableProgress
	Percent int
}

func (c *Console) exportPage(w http.ResponseWriter, r *http.Request, sess *session) {
	id := r.PathValue("id")
	out, err := c.p.Service.DescribeExportTasks(r.Context(), service.DescribeExportTasksInput{ExportTaskIdentifier: &id})
	if err != nil {
		c.render(w, http.StatusBadRequest, "message", page{Title: "Export", Session: sess, Error: c.shownError(r, err), Data: ""})
		return
	}
	// Describe matches identifiers exactly; another account's task is
	// not found, as in the API.
	if len(out.ExportTasks) != 1 {
		c.render(w, http.StatusNotFound, "message", page{Title: "Export not found", Session: sess,
			Error: export.Errorf(export.CodeExportTaskNotFound, "The export task %s cannot be found.", id), Data: ""})
		return
	}
	t := out.ExportTasks[0]
	v := exportView{T: t}
	if t.WarningMessage != "" {
		var wm engine.Warnings
		if err := json.Unmarshal([]byte(t.WarningMessage), &wm); err == nil && !wm.Empty() {
			v.Warnings = &wm
		} else {
			v.RawWarning = t.WarningMessage
		}
	}
	if lv, ok := c.p.Progress.view(sess.AccountID, t.Identifier); ok {
		v.Live = &lv
		for _, tp := range lv.Tables {
			v.Tables = append(v.Tables, tableRow{TableProgress: tp, Percent: tablePercent(tp)})
		}
		v.Chart = throughputChart(lv.Samples)
	}
	c.render(w, http.StatusOK, "export", page{Title: "Export " + t.Identifier, Session: sess, Live: true, Data: v})
}

// tablePercent is a table's bytes read over its estimate, 100 once done,
// at most 99 before.
func tablePercent(t engine.TableProgress) int {
	switch {
	case t.Done:
		return 100
	case t.EstimatedBytes <= 0:
		return 0
	}
	return int(min(99, t.Bytes*100/t.EstimatedBytes))
}

// chart is a bar chart of bytes read per second over time, drawn as SVG
// rectangles (no inline style, which the console's CSP refuses). The time
// axis spans Window: the run so far, at least chartWindow.
type chart struct {
	Width, Height int
	Bars          []bar
	// Peak and Mean are bytes per second.
	Peak, Mean float64
	Span       time.Duration
	Window     time.Duration
}

type bar struct {
	X, Y, W, H float64
	Title      string
}

// chartWindow is the shortest time the chart's axis spans, so that the
// first seconds of an export are not drawn as a few wide blocks.
const chartWindow = time.Minute

// throughputChart turns samples of bytes read into one bar per interval
// between two samples, placed on a time axis.
func throughputChart(samples []sample) chart {
	ch := chart{Width: 600, Height: 120, Window: chartWindow}
	if len(samples) < 2 {
		return ch
	}
	start := samples[0].At
	ch.Span = samples[len(samples)-1].At.Sub(start)
	ch.Window = max(ch.Span, chartWindow)
	rates := make([]float64, len(samples))
	for i := 1; i < len(samples); i++ {
		if dt := samples[i].At.Sub(samples[i-1].At).Seconds(); dt > 0 {
			rates[i] = max(0, float64(samples[i].Bytes-samples[i-1].Bytes)/dt)
		}
		ch.Peak = max(ch.Peak, rates[i])
	}
	if s := ch.Span.Seconds(); s > 0 {
		ch.Mean = float64(samples[len(samples)-1].Bytes-samples[0].Bytes) / s
	}
	scale := float64(ch.Width) / ch.Window.Seconds()
	top := 20.0 // room for the peak's label
	for i := 1; i < len(samples); i++ {
		h := 0.0
		if ch.Peak > 0 {
			h = rates[i] / ch.Peak * (float64(ch.Height) - top)
		}
		x := samples[i-1].At.Sub(start).Seconds() * scale
		w := samples[i].At.Sub(samples[i-1].At).Seconds() * scale
		ch.Bars = append(ch.Bars, bar{
			X: x, Y: float64(ch.Height) - h, W: max(w-1, 1), H: h,
			Title: fmt.Sprintf("%s/s at %s", humanBytes(int64(rates[i])), samples[i].At.UTC().Format("15:04:05")),
		})
	}
	return ch
}

func ptr[T any](v T) *T { return &v }

// splitList splits an ExportOnly text on commas and line breaks.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// statusFilters are the choices of the status filter.
var statusFilters = func() []string {
	var out []string
	for _, s := range export.Statuses() {
		out = append(out, s.FilterValue())
	}
	return out
}()
