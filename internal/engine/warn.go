package engine

import (
	"errors"
	"sync"
)

// ErrTableGone is wrapped by Snapshot.ReadBatch when a table was dropped or
// rebuilt after the snapshot began and can no longer be read at its moment
// (MySQL's consistent snapshots do not cover DDL). The engine reports the
// table as skipped instead of failing the export.
var ErrTableGone = errors.New("table dropped or changed after the snapshot")

// ReasonTableGone is the skipped-table reason for ErrTableGone.
const ReasonTableGone = "TABLE_NOT_FOUND"

// ReadWarner is implemented by Snapshots that learn of problems while
// reading, such as MySQL zero dates written as NULL; the engine adds its
// warnings once every table has been read.
type ReadWarner interface {
	ReadWarnings() Warnings
}

// warningList collects warnings from the table goroutines of one export.
type warningList struct {
	mu sync.Mutex
	w  Warnings
}

func (l *warningList) skip(target, reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.w.SkippedTables = append(l.w.SkippedTables, Skipped{Target: target, Reason: reason})
}
