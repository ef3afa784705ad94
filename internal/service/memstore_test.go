package service_test

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/rdsexport/rdsexport/internal/export"
)

// memStore is an in-memory export.Store honouring the Store contract:
// atomic conflict checks on create and compare-and-set transitions.
type memStore struct {
	mu    sync.Mutex
	seq   int64
	tasks []*export.Task // in Seq order
}

var _ export.Store = (*memStore)(nil)

func newMemStore() *memStore { return &memStore{} }

func (m *memStore) find(accountID, id string) *export.Task {
	for _, t := range m.tasks {
		if t.AccountID == accountID && t.Identifier == id {
			return t
		}
	}
	return nil
}

func (m *memStore) CreateTask(ctx context.Context, t *export.Task) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.tasks {
		if o.AccountID != t.AccountID {
			continue
		}
		if o.Identifier == t.Identifier || o.SourceArn == t.SourceArn && o.Status.Active() {
			return export.TaskAlreadyExists(t.Identifier)
		}
	}
	m.seq++
	t.Seq = m.seq
	t.Status = export.StatusStarting
	m.tasks = append(m.tasks, t.Clone())
	return nil
}

func (m *memStore) GetTask(ctx context.Context, accountID, id string) (*export.Task, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t := m.find(accountID, id); t != nil {
		return t.Clone(), nil
	}
	return nil, export.TaskNotFound(id)
}

func (m *memStore) ListTasks(ctx context.Context, f export.TaskFilter) ([]*export.Task, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*export.Task
	for _, t := range m.tasks {
		switch {
		case t.AccountID != f.AccountID, t.Seq <= f.AfterSeq,
			len(f.Identifiers) > 0 && !slices.Contains(f.Identifiers, t.Identifier),
			len(f.SourceArns) > 0 && !slices.Contains(f.SourceArns, t.SourceArn),
			len(f.Buckets) > 0 && !slices.Contains(f.Buckets, t.S3Bucket),
			len(f.Statuses) > 0 && !slices.Contains(f.Statuses, t.Status),
			f.SourceType != nil && *f.SourceType != t.SourceType:
			continue
		}
		out = append(out, t.Clone())
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
	}
	return out, nil
}

func (m *memStore) Transition(ctx context.Context, accountID, id string, from []export.Status, to export.Status, u export.TaskUpdate) (*export.Task, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.find(accountID, id)
	if t == nil {
		return nil, export.TaskNotFound(id)
	}
	if !slices.Contains(from, t.Status) {
		return t.Clone(), fmt.Errorf("transition %s %s -> %s: %w", id, t.Status, to, export.ErrStatusConflict)
	}
	if !export.CanTransition(t.Status, to) {
		return nil, fmt.Errorf("illegal transition %s -> %s", t.Status, to)
	}
	t.Status = to
	apply(t, u)
	return t.Clone(), nil
}

func (m *memStore) UpdateProgress(ctx context.Context, accountID, id string, u export.TaskUpdate) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.find(accountID, id)
	if t == nil {
		return export.TaskNotFound(id)
	}
	if !t.Status.Terminal() {
		apply(t, u)
	}
	return nil
}

func (m *memStore) Close() error { return nil }

func apply(t *export.Task, u export.TaskUpdate) {
	if u.PercentProgress != nil {
		t.PercentProgress = *u.PercentProgress
	}
	if u.ExtractedBytes != nil {
		t.ExtractedBytes = *u.ExtractedBytes
	}
	if u.FailureCause != nil {
		t.FailureCause = *u.FailureCause
	}
	if u.WarningMessage != nil {
		t.WarningMessage = *u.WarningMessage
	}
	if u.SnapshotTime != nil {
		t.SnapshotTime = *u.SnapshotTime
	}
	if u.TaskEndTime != nil {
		t.TaskEndTime = *u.TaskEndTime
	}
}
