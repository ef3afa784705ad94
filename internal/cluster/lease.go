package cluster

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"
)

// lease is this node's right to write. It is held by heartbeats into
// rdsexport_nodes; other nodes count an instance dead once its heartbeat is
// older than the TTL by the database's clock. Locally the lease ends a
// margin earlier, measured from when the last successful heartbeat was sent,
// so this node stops writing before anyone may take its work.
type lease struct {
	ttl, margin time.Duration

	mu       sync.Mutex
	instance string    // changes when a lease lapses: a lapsed instance stays dead
	until    time.Time // monotonic; zero before the first heartbeat
}

func newLease(ttl time.Duration) *lease {
	return &lease{ttl: ttl, margin: ttl / 4, instance: uuid.NewString()}
}

// valid reports whether this node may write now, for the given instance.
func (l *lease) valid(instance string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return instance == l.instance && time.Now().Before(l.until)
}

func (l *lease) current() (instance string, until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.instance, l.until
}

// renewed records a heartbeat of instance sent at sent. It reports false when
// the lease lapsed before (the heartbeat came too late to extend it).
func (l *lease) renewed(instance string, sent time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if instance != l.instance {
		return false
	}
	if !l.until.IsZero() && !sent.Before(l.until) {
		return false
	}
	l.until = sent.Add(l.ttl - l.margin)
	return true
}

// lapse ends the current instance and starts a new one, unless instance was
// already replaced. It reports whether it did.
func (l *lease) lapse(instance string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if instance != l.instance {
		return false
	}
	l.instance, l.until = uuid.NewString(), time.Time{}
	return true
}

// heartbeat keeps the lease and calls lapsed whenever it lapses. It returns
// when ctx ends.
func (n *Node) heartbeat(ctx context.Context) {
	every := n.lease.ttl / 5
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		inst, until := n.lease.current()
		if !until.IsZero() && !time.Now().Before(until) {
			// Paused, or the database was out of reach for too long:
			// whatever this instance runs may be taken already.
			if n.lease.lapse(inst) {
				n.logger.Warn("node lease lapsed: handing back its exports", "instance", inst)
				n.cancelRuns(inst)
			}
			t.Reset(0)
			continue
		}
		sent := time.Now()
		hctx, cancel := context.WithTimeout(ctx, every)
		_, err := n.p.Pool.Exec(hctx, `
			INSERT INTO rdsexport_nodes (instance, node_id) VALUES ($1, $2)
			ON CONFLICT (instance) DO UPDATE SET heartbeat_at = now()`, inst, n.p.NodeID)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				n.logger.Warn("node heartbeat", "err", err)
			}
		} else if !n.lease.renewed(inst, sent) {
			t.Reset(0) // too late: lapse at once
			continue
		}
		// Wake up at the next beat, or when the lease would end.
		next := every
		if _, until := n.lease.current(); !until.IsZero() {
			if d := time.Until(until); d < next {
				next = max(d, time.Millisecond)
			}
		}
		t.Reset(next)
	}
}
