package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/export"
)

// errFenced: the run no longer owns its task (taken over, or this node's
// lease lapsed). It wraps export.ErrStatusConflict, so the engine gives up
// at once instead of retrying.
var errFenced = fmt.Errorf("run fenced off: %w", export.ErrStatusConflict)

// fence names one run of a task; it travels in the run's context.
type fence struct {
	account, id string
	attempt     int
	instance    string
}

type fenceKey struct{}

func withFence(ctx context.Context, f fence) context.Context {
	return context.WithValue(ctx, fenceKey{}, f)
}

func fenceOf(ctx context.Context) (fence, bool) {
	f, ok := ctx.Value(fenceKey{}).(fence)
	return f, ok
}

// Store returns s with every write of a run fenced: the write happens only
// while the run still owns its task, checked under a share lock on the run
// row, which a takeover's update must wait for. Writes outside a run (the
// API's) go straight through.
func (n *Node) Store(s export.Store) export.Store { return fencedStore{Store: s, n: n} }

type fencedStore struct {
	export.Store
	n *Node
}

func (s fencedStore) Transition(ctx context.Context, accountID, identifier string, from []export.Status, to export.Status, u export.TaskUpdate) (*export.Task, error) {
	var t *export.Task
	err := s.n.fenced(ctx, func() error {
		var err error
		t, err = s.Store.Transition(ctx, accountID, identifier, from, to, u)
		return err
	})
	return t, err
}

func (s fencedStore) UpdateProgress(ctx context.Context, accountID, identifier string, u export.TaskUpdate) error {
	return s.n.fenced(ctx, func() error { return s.Store.UpdateProgress(ctx, accountID, identifier, u) })
}

func (n *Node) fenced(ctx context.Context, write func() error) error {
	f, ok := fenceOf(ctx)
	if !ok {
		return write()
	}
	if !n.lease.valid(f.instance) {
		return errFenced
	}
	return pgx.BeginFunc(ctx, n.p.Pool, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM rdsexport_runs WHERE account_id = $1 AND identifier = $2
			AND attempt = $3 AND instance = $4 FOR SHARE`, f.account, f.id, f.attempt, f.instance).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return errFenced
		}
		if err != nil {
			return err
		}
		return write()
	})
}

// owns reports, with errFenced, whether the run or range read of ctx no
// longer owns its work: this node's lease lapsed, the run was taken over
// (its row names another attempt or instance), or the range was taken from
// it.
func (n *Node) owns(ctx context.Context) error {
	if f, ok := fenceOf(ctx); ok {
		if !n.lease.valid(f.instance) {
			return errFenced
		}
		var one int
		err := n.p.Pool.QueryRow(ctx, `SELECT 1 FROM rdsexport_runs WHERE account_id = $1 AND identifier = $2
			AND attempt = $3 AND instance = $4`, f.account, f.id, f.attempt, f.instance).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return errFenced
		}
		if err != nil {
			return err
		}
	}
	return n.checkRange(ctx)
}

// Objects returns o with every write of a run fenced by this node's lease:
// once the lease lapses, the run's Puts and Deletes fail before they start.
func (n *Node) Objects(o engine.ObjectStore) engine.ObjectStore {
	f := fencedObjects{ObjectStore: o, n: n}
	if a, ok := o.(engine.UploadAborter); ok {
		return fencedAborter{fencedObjects: f, a: a}
	}
	return f
}

type fencedObjects struct {
	engine.ObjectStore
	n *Node
}

func (o fencedObjects) check(ctx context.Context) error {
	if f, ok := fenceOf(ctx); ok && !o.n.lease.valid(f.instance) {
		return errFenced
	}
	return o.n.checkRange(ctx)
}

func (o fencedObjects) Put(ctx context.Context, bucket, key string, r io.Reader) error {
	if err := o.check(ctx); err != nil {
		return err
	}
	f, ok := fenceOf(ctx)
	if ok && strings.HasPrefix(path.Base(key), "export_tables_info_") {
		// The manifests come last: first remove whatever an earlier run
		// of the task wrote after the takeover had cleared the prefix (a
		// paused node's upload that was on the wire when it stopped).
		if err := o.sweep(ctx, f, bucket, path.Dir(key)+"/"); err != nil {
			return err
		}
	}
	if err := o.put(ctx, bucket, key, r); err != nil {
		return err
	}
	if ok {
		o.n.wrote(f, key)
	}
	return nil
}

// put stores a run's object so that it appears only while the run (or the
// range read) still owns its work: the ownership is checked again once the
// body is uploaded, just before the object is made.
func (o fencedObjects) put(ctx context.Context, bucket, key string, r io.Reader) error {
	_, run := fenceOf(ctx)
	_, rng := ctx.Value(rangeFenceKey{}).(rangeFence)
	cp, checked := o.ObjectStore.(engine.CheckedPutter)
	if !checked || !run && !rng {
		return o.ObjectStore.Put(ctx, bucket, key, r)
	}
	return cp.PutChecked(ctx, bucket, key, r, o.n.owns)
}

// sweep deletes the objects under prefix that run f did not write. It
// first aborts the uploads still open there (the run's own are complete by
// then): an earlier run's upload held up on the network can no longer be
// completed afterwards.
func (o fencedObjects) sweep(ctx context.Context, f fence, bucket, prefix string) error {
	if a, ok := o.ObjectStore.(engine.UploadAborter); ok {
		if n, err := a.AbortUploads(ctx, bucket, prefix); err != nil {
			return err
		} else if n > 0 {
			o.n.logger.Warn("aborted uploads an earlier run left open", "task_id", f.id, "uploads", n)
		}
	}
	keys, err := o.ObjectStore.List(ctx, bucket, prefix)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if o.n.written(f, k) {
			continue
		}
		if err := o.ObjectStore.Delete(ctx, bucket, k); err != nil {
			return err
		}
		o.n.logger.Warn("removed an object an earlier run wrote late", "task_id", f.id, "key", k)
	}
	return nil
}

func (o fencedObjects) Delete(ctx context.Context, bucket, key string) error {
	if err := o.check(ctx); err != nil {
		return err
	}
	return o.ObjectStore.Delete(ctx, bucket, key)
}

type fencedAborter struct {
	fencedObjects
	a engine.UploadAborter
}

func (o fencedAborter) AbortUploads(ctx context.Context, bucket, prefix string) (int, error) {
	if err := o.check(ctx); err != nil {
		return 0, err
	}
	return o.a.AbortUploads(ctx, bucket, prefix)
}
