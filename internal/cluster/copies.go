package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/snapshotcopy"
)

// Snapshotter takes snapshot copies (service.Snapshotter).
type Snapshotter interface {
	CreateSnapshot(s *export.Snapshot)
	Dequeue(s *export.Snapshot) bool
	DeleteSnapshotData(ctx context.Context, s *export.Snapshot) error
}

// Snapshotter returns s with every copy it is given recorded as this
// node's. Copies run on the node that took the call; when its lease
// lapses, every node's reaper fails the copies it had (creating → failed,
// their partial data removed), so that no snapshot stays creating. A
// paused node that wakes afterwards finds its snapshot failed and removes
// what it wrote.
func (n *Node) Snapshotter(s Snapshotter) Snapshotter {
	n.copies = s
	return nodeSnapshotter{Snapshotter: s, n: n}
}

type nodeSnapshotter struct {
	Snapshotter
	n *Node
}

func (s nodeSnapshotter) CreateSnapshot(snap *export.Snapshot) {
	n := s.n
	inst, _ := n.lease.current()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := n.p.Pool.Exec(ctx, `INSERT INTO rdsexport_copies (account_id, kind, identifier, instance) VALUES ($1, $2, $3, $4)
		ON CONFLICT (account_id, kind, identifier) DO UPDATE SET instance = excluded.instance`,
		snap.AccountID, string(snap.Kind), snap.Identifier, inst); err != nil {
		// Unrecorded, it is failed only if it stays creating for
		// lostCopyAfter (see reapCopies).
		n.logger.Warn("record snapshot copy", "snapshot_id", snap.Identifier, "err", err)
	}
	s.Snapshotter.CreateSnapshot(snap)
}

// lostCopyAfter is how long a snapshot may stay creating without a node
// recorded as copying it before it is failed.
const lostCopyAfter = time.Minute

type copyKey struct{ account, kind, id string }

// reapCopies fails the creating snapshots whose node's lease lapsed, or
// that no node has recorded for lostCopyAfter, and forgets the records of
// snapshots no longer creating.
func (n *Node) reapCopies(ctx context.Context) error {
	if n.copies == nil || n.p.Snapshots == nil {
		return nil
	}
	creating, err := n.p.Snapshots.ListSnapshots(ctx, export.SnapshotFilter{Statuses: []export.SnapshotStatus{export.SnapshotCreating}})
	if err != nil {
		return err
	}
	rows, err := n.p.Pool.Query(ctx, `SELECT c.account_id, c.kind, c.identifier,
			EXISTS (SELECT 1 FROM rdsexport_nodes nd WHERE nd.instance = c.instance
				AND nd.heartbeat_at > now() - make_interval(secs => $1))
		FROM rdsexport_copies c`, n.p.LeaseTTL.Seconds())
	if err != nil {
		return err
	}
	alive := map[copyKey]bool{}
	for rows.Next() {
		var k copyKey
		var live bool
		if err := rows.Scan(&k.account, &k.kind, &k.id, &live); err != nil {
			rows.Close()
			return err
		}
		alive[k] = live
	}
	if err := rows.Err(); err != nil {
		return err
	}
	now := time.Now()
	seen := map[copyKey]time.Time{}
	for _, s := range creating {
		k := copyKey{s.AccountID, string(s.Kind), s.Identifier}
		live, recorded := alive[k]
		delete(alive, k)
		switch {
		case live:
			continue
		case !recorded:
			first, ok := n.unrecorded[k]
			if !ok {
				first = now
			}
			seen[k] = first
			if now.Sub(first) < lostCopyAfter {
				continue
			}
		}
		n.failCopy(ctx, s)
	}
	n.unrecorded = seen
	// What is left are records of snapshots no longer creating.
	for k := range alive {
		if _, err := n.p.Pool.Exec(ctx, `DELETE FROM rdsexport_copies WHERE account_id = $1 AND kind = $2 AND identifier = $3`,
			k.account, k.kind, k.id); err != nil {
			return err
		}
	}
	return nil
}

// failCopy ends a copy whose node is gone: failed, its partial data
// removed. Another node doing the same at once is harmless.
func (n *Node) failCopy(ctx context.Context, s *export.Snapshot) {
	logger := n.logger.With("snapshot_id", s.Identifier, "account_id", s.AccountID)
	reason := snapshotcopy.ReasonServerStopped
	failed, err := n.p.Snapshots.UpdateSnapshot(ctx, s.AccountID, s.Kind, s.Identifier,
		[]export.SnapshotStatus{export.SnapshotCreating}, export.SnapshotFailed, export.SnapshotUpdate{FailureReason: &reason})
	if errors.Is(err, export.ErrStatusConflict) || export.ErrorCode(err) == export.SnapshotNotFound(s.Kind, s.Identifier).Code {
		return
	}
	if err != nil {
		logger.Warn("fail the snapshot copy of a lost node", "err", err)
		return
	}
	if err := n.copies.DeleteSnapshotData(ctx, failed); err != nil {
		logger.Warn("remove the partial copy of a lost node", "err", err)
	}
	logger.Warn("failed the snapshot copy of a lost node", "location", failed.Location)
}
