package main

import (
	"time"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/export"
)

// observers hands the engine's observations to each of its observers (the
// metrics and the console), in order.
type observers []engine.Observer

var _ engine.Observer = observers(nil)

func (obs observers) ExportStarted(t *export.Task) {
	for _, o := range obs {
		o.ExportStarted(t)
	}
}

func (obs observers) BatchRead(t *export.Task, rows int64, wait time.Duration) {
	for _, o := range obs {
		o.BatchRead(t, rows, wait)
	}
}

func (obs observers) BytesRead(t *export.Task, n int64) {
	for _, o := range obs {
		o.BytesRead(t, n)
	}
}

// ObserveExport gives each observer its own copy of p's tables, which it
// may keep.
func (obs observers) ObserveExport(p engine.Progress) {
	for i, o := range obs {
		if i > 0 {
			p.Tables = append([]engine.TableProgress(nil), p.Tables...)
		}
		o.ObserveExport(p)
	}
}
