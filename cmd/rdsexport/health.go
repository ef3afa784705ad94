package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// healthTimeout bounds each check of GET /health, so that a load
// balancer's probe gets an answer even when a dependency hangs.
const healthTimeout = 3 * time.Second

// health answers GET /health without a signature: the server's version
// and whether its task store and object store are reachable. It tells
// nothing of any account. The status is 503 when the store cannot take a
// write (no request that changes anything could succeed); an unreachable
// S3 is reported with 200 and status "degraded", since describes and
// cancels still work.
type health struct {
	version string
	store   func(context.Context) error
	s3      func(context.Context) error
	logger  *slog.Logger

	// The checks run at most once per healthCacheFor: a flood of unsigned
	// probes must not take the store's one write connection from exports.
	mu      sync.Mutex
	checked time.Time
	last    healthReport
}

// healthCacheFor is how long one round of checks answers probes.
const healthCacheFor = time.Second

// healthReport is the JSON body of GET /health. Store and S3 are "ok" or
// "unreachable"; the reason is logged, not shown.
type healthReport struct {
	Status  string `json:"status"` // ok, degraded or unavailable
	Version string `json:"version"`
	Store   string `json:"store"`
	S3      string `json:"s3"`
}

func (h *health) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rep := h.report(r.Context())
	status := http.StatusOK
	if rep.Status == "unavailable" {
		status = http.StatusServiceUnavailable
	}
	body, _ := json.Marshal(rep)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// report runs the checks, or returns the last round's result when it is
// recent; concurrent probes wait for the one round in progress.
func (h *health) report(ctx context.Context) healthReport {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.checked.IsZero() && time.Since(h.checked) < healthCacheFor {
		return h.last
	}
	check := func(name string, f func(context.Context) error) string {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), healthTimeout)
		defer cancel()
		if err := f(ctx); err != nil {
			h.logger.Warn("health check failed", "check", name, "err", err)
			return "unreachable"
		}
		return "ok"
	}
	rep := healthReport{Status: "ok", Version: h.version, Store: check("store", h.store), S3: check("s3", h.s3)}
	switch {
	case rep.Store != "ok":
		rep.Status = "unavailable"
	case rep.S3 != "ok":
		rep.Status = "degraded"
	}
	h.last, h.checked = rep, time.Now()
	return rep
}
