package main

import (
	"github.com/rdsexport/rdsexport/internal/export"
)

// Dequeue implements service.Snapshotter: it withdraws a copy still
// waiting for its turn.
func (s snapshotter) Dequeue(snap *export.Snapshot) bool {
	return s.copier.Dequeue(snap)
}

// snapshotServer is the snapshotcopy ServerOf: the connection budget key of
// the instance or cluster a snapshot copies, so that copies of sources on
// one database server count together. A source no longer configured is a
// server of its own; its copy fails when it begins.
func (r *resolver) snapshotServer(s *export.Snapshot) string {
	list := r.catalog.instances
	if s.Kind == export.SnapshotKindCluster {
		list = r.catalog.clusters
	}
	if e := r.catalog.find(list, s.SourceIdentifier); e != nil {
		key, _ := serverKey(e.cfg)
		return key
	}
	return "unknown\x00" + string(s.Kind) + "\x00" + s.SourceIdentifier
}
