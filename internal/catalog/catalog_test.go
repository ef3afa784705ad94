package catalog_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/rdsexport/rdsexport/internal/catalog"
	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/sqlitetaskstore"
)

const (
	account = "000000000000"
	other   = "111122223333"
)

// named is an engine.Source that is never opened here: the tests only
// check which one is resolved.
type named string

func (n named) Version(context.Context) (string, error) { return string(n), nil }
func (n named) Open(context.Context, engine.OpenParams) (engine.Snapshot, error) {
	return nil, errors.New("not opened in these tests")
}

func newCatalog(t *testing.T) (*catalog.Catalog, *sqlitetaskstore.Store) {
	t.Helper()
	store, err := sqlitetaskstore.New(t.Context(), filepath.Join(t.TempDir(), "tasks.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	src := func(id, engineName string, shared ...string) catalog.Source {
		return catalog.Source{Identifier: id, Engine: engineName, SharedWith: shared, Server: "server-" + id,
			Endpoint: catalog.Endpoint{Host: "db-" + id, Port: 5432, User: "u"},
			New:      func() engine.Source { return named(id) }}
	}
	c := catalog.New(catalog.Params{
		AccountID: account, Started: time.Now(),
		Clusters:  []catalog.Source{src("Prod", "aurora-postgresql", other), src("private", "aurora-mysql")},
		Instances: []catalog.Source{src("db1", "postgres")},
		Snapshots: store,
		SnapshotSource: func(s *export.Snapshot) engine.Source {
			return named("copy:" + s.Location)
		},
	})
	return c, store
}

func TestExportSource(t *testing.T) {
	c, store := newCatalog(t)
	snap := &export.Snapshot{Kind: export.SnapshotKindCluster, Identifier: "snap1", AccountID: account, Region: "us-east-1",
		SourceIdentifier: "prod", Engine: "aurora-postgresql", Status: export.SnapshotAvailable, Type: export.SnapshotTypeManual,
		Location: "cluster/snap1-x"}
	if err := store.CreateSnapshot(t.Context(), snap); err != nil {
		t.Fatal(err)
	}
	arn := func(acct, typ, id string) string { return "arn:aws:rds:us-east-1:" + acct + ":" + typ + ":" + id }
	for _, tc := range []struct {
		name, caller, arn string
		want              engine.Source
		code              string
	}{
		{"Cluster", account, arn(account, "cluster", "prod"), named("Prod"), ""},
		{"SharedCluster", other, arn(account, "cluster", "PROD"), named("Prod"), ""},
		{"NotShared", other, arn(account, "cluster", "private"), nil, export.CodeDBClusterNotFound},
		{"UnknownCluster", account, arn(account, "cluster", "nope"), nil, export.CodeDBClusterNotFound},
		{"ClusterSnapshot", account, arn(account, "cluster-snapshot", "SNAP1"), named("copy:cluster/snap1-x"), ""},
		{"MissingSnapshot", account, arn(account, "snapshot", "snap1"), nil, export.CodeDBSnapshotNotFound},
		{"InstanceIsNoCluster", account, arn(account, "db", "db1"), nil, export.CodeDBClusterNotFound},
		{"NotAnARN", account, "cluster:prod", nil, export.CodeDBClusterNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.ExportSource(t.Context(), &export.Task{AccountID: tc.caller, SourceArn: tc.arn})
			if tc.code != "" {
				if export.ErrorCode(err) != tc.code {
					t.Fatalf("err %v, want code %s", err, tc.code)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestSnapshotSource(t *testing.T) {
	c, _ := newCatalog(t)
	got, err := c.SnapshotSource(t.Context(), &export.Snapshot{Kind: export.SnapshotKindDB, AccountID: account, SourceIdentifier: "DB1"})
	if err != nil || got != named("db1") {
		t.Fatalf("instance: %v, %v", got, err)
	}
	_, err = c.SnapshotSource(t.Context(), &export.Snapshot{Kind: export.SnapshotKindCluster, AccountID: other, SourceIdentifier: "private"})
	if export.ErrorCode(err) != export.CodeDBClusterNotFound {
		t.Fatalf("unshared cluster: %v", err)
	}
	if s := c.SnapshotServer(&export.Snapshot{Kind: export.SnapshotKindCluster, SourceIdentifier: "prod"}); s != "server-Prod" {
		t.Errorf("server %q", s)
	}
}

func TestDescribe(t *testing.T) {
	c, _ := newCatalog(t)
	clusters, err := c.Clusters(t.Context(), other)
	if err != nil || len(clusters) != 1 || clusters[0].Identifier != "Prod" || clusters[0].EngineVersion != "Prod" || clusters[0].AccountID != other {
		t.Fatalf("clusters of the shared account: %+v, %v", clusters, err)
	}
	instances, err := c.Instances(t.Context(), account)
	if err != nil || len(instances) != 1 || instances[0].Address != "db-db1" || instances[0].EngineVersion != "db1" {
		t.Fatalf("instances: %+v, %v", instances, err)
	}
	if _, ok, _ := c.FindCluster(t.Context(), other, "private"); ok {
		t.Error("FindCluster found an unshared cluster")
	}
}
