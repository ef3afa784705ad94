package catalog

import (
	"context"
	"strings"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/service"
)

// ExportSource is the engine.Resolver: the SourceArn of t, parsed by
// service.ParseARN, names a configured cluster the task's account may see
// (type cluster) or a stored snapshot of the account (snapshot,
// cluster-snapshot). Errors are DBClusterNotFound for an ARN that names
// no visible cluster, and the store's for a snapshot (its not-found
// error among them).
func (c *Catalog) ExportSource(ctx context.Context, t *export.Task) (engine.Source, error) {
	arn, err := service.ParseARN(t.SourceArn)
	if err == nil {
		switch arn.ResourceType {
		case "snapshot", "cluster-snapshot":
			kind := export.SnapshotKindDB
			if arn.ResourceType == "cluster-snapshot" {
				kind = export.SnapshotKindCluster
			}
			s, err := c.p.Snapshots.GetSnapshot(ctx, t.AccountID, kind, strings.ToLower(arn.ID))
			if err != nil {
				return nil, err
			}
			return c.p.SnapshotSource(s), nil
		case "cluster":
			if e := find(c.clusters, arn.ID); e != nil && c.visible(e, t.AccountID) {
				return e.source, nil
			}
		}
	}
	return nil, export.Errorf(export.CodeDBClusterNotFound, "DBCluster %s not found.", t.SourceArn)
}

// SnapshotSource is the snapshotcopy.Resolver: the instance or cluster a
// snapshot copies, if the snapshot's account may see it. Errors are
// DBInstanceNotFound or DBClusterNotFound.
func (c *Catalog) SnapshotSource(_ context.Context, s *export.Snapshot) (engine.Source, error) {
	list, code := c.instances, export.CodeDBInstanceNotFound
	if s.Kind == export.SnapshotKindCluster {
		list, code = c.clusters, export.CodeDBClusterNotFound
	}
	if e := find(list, s.SourceIdentifier); e != nil && c.visible(e, s.AccountID) {
		return e.source, nil
	}
	return nil, export.Errorf(code, "%s not found.", s.SourceIdentifier)
}

// SnapshotServer is the snapshotcopy ServerOf: the Server of the instance
// or cluster a snapshot copies, so that copies of sources on one database
// server count together. A source no longer configured is a server of its
// own; its copy fails when it begins.
func (c *Catalog) SnapshotServer(s *export.Snapshot) string {
	list := c.instances
	if s.Kind == export.SnapshotKindCluster {
		list = c.clusters
	}
	if e := find(list, s.SourceIdentifier); e != nil {
		return e.src.Server
	}
	return "unknown\x00" + string(s.Kind) + "\x00" + s.SourceIdentifier
}
