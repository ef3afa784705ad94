package engine

import (
	"time"

	"github.com/rdsexport/rdsexport/internal/export"
)

// Observer is told what running exports do, for metrics. The engine calls
// it from the export goroutines, several at once: every method must be
// safe for concurrent use and return at once. Params.Observer nil means
// nobody listens.
type Observer interface {
	// ExportStarted is called when a task begins to run, ExportEnded once
	// its outcome is recorded (or could not be).
	ExportStarted(t *export.Task)
	ExportEnded(t *export.Task)
	// BatchRead is called for each Arrow record batch a source delivers:
	// its rows, and how long the source took to deliver it (since the
	// read began or the previous batch was written).
	BatchRead(t *export.Task, rows int64, wait time.Duration)
	// BytesRead adds source bytes read by t (the ExtractedBytes count).
	BytesRead(t *export.Task, n int64)
	// FileWritten is called for each Parquet file stored in S3.
	FileWritten(t *export.Task)
}

// nopObserver is the Observer of an engine without one.
type nopObserver struct{}

func (nopObserver) ExportStarted(*export.Task)                   {}
func (nopObserver) ExportEnded(*export.Task)                     {}
func (nopObserver) BatchRead(*export.Task, int64, time.Duration) {}
func (nopObserver) BytesRead(*export.Task, int64)                {}
func (nopObserver) FileWritten(*export.Task)                     {}
