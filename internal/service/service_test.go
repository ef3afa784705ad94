package service_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/service"
	"github.com/rdsexport/rdsexport/internal/sqlitetaskstore"
)

const (
	testAccount = "123456789012"
	testRegion  = "us-east-1"
	testRole    = "arn:aws:iam::123456789012:role/rds-s3-export"
)

var testNow = time.Date(2026, 11, 27, 8, 0, 0, 123456789, time.UTC)

// runner records what the service told the engine.
type runner struct {
	mu       sync.Mutex
	wakes    int
	canceled []string
}

func (r *runner) Wake() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.wakes++
}

func (r *runner) CancelTask(accountID, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.canceled = append(r.canceled, accountID+"/"+id)
}

func (r *runner) state() (int, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.wakes, slices.Clone(r.canceled)
}

// catalog is a fixed list of configured sources.
type catalog struct {
	clusters  map[string][]export.DBCluster
	instances map[string][]export.DBInstance
	err       error
}

func (c *catalog) Clusters(ctx context.Context, accountID string) ([]export.DBCluster, error) {
	return c.clusters[accountID], c.err
}

func (c *catalog) FindCluster(ctx context.Context, accountID, id string) (export.DBCluster, bool, error) {
	for _, cl := range c.clusters[accountID] {
		if strings.EqualFold(cl.Identifier, id) {
			return cl, true, c.err
		}
	}
	return export.DBCluster{}, false, c.err
}

func (c *catalog) Instances(ctx context.Context, accountID string) ([]export.DBInstance, error) {
	return c.instances[accountID], c.err
}

// buckets is a fixed set of existing buckets, each owned by the account
// it maps to (testAccount when "").
type buckets struct {
	owners map[string]string
	err    error
}

func (b *buckets) BucketAccess(ctx context.Context, accountID, bucket string) (bool, bool, error) {
	if b.err != nil {
		return false, false, b.err
	}
	owner, ok := b.owners[bucket]
	if owner == "" {
		owner = testAccount
	}
	return ok, ok && owner == accountID, nil
}

// snapshotter records what the service asked of the snapshot storage.
type snapshotter struct {
	mu        sync.Mutex
	created   []*export.Snapshot
	dequeued  []*export.Snapshot
	deleted   []*export.Snapshot
	deleteErr error
}

func (s *snapshotter) CreateSnapshot(snap *export.Snapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.created = append(s.created, snap)
}

// Dequeue withdraws a created snapshot, as if every copy waited for its
// turn until then.
func (s *snapshotter) Dequeue(snap *export.Snapshot) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.created, func(c *export.Snapshot) bool {
		return c.AccountID == snap.AccountID && c.Kind == snap.Kind && c.Identifier == snap.Identifier
	})
	if i < 0 {
		return false
	}
	s.created = slices.Delete(s.created, i, i+1)
	s.dequeued = append(s.dequeued, snap)
	return true
}

func (s *snapshotter) DeleteSnapshotData(ctx context.Context, snap *export.Snapshot) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	s.deleted = append(s.deleted, snap)
	return s.deleteErr
}

func (s *snapshotter) state() (created, deleted []*export.Snapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.created), slices.Clone(s.deleted)
}

type testBundle struct {
	store       export.Store
	snapshots   export.SnapshotStore
	runner      *runner
	catalog     *catalog
	buckets     *buckets
	snapshotter *snapshotter
}

func testClusters() []export.DBCluster {
	c := func(id, engine, status string) export.DBCluster {
		return export.DBCluster{Identifier: id, AccountID: testAccount, Engine: engine, EngineVersion: "1",
			Status: status, Endpoint: id + ".local", Port: 5432, ResourceID: "cluster-" + id}
	}
	return []export.DBCluster{
		c("busy-pg", "postgres", "modifying"),
		c("maria", "mariadb", "available"),
		c("MixedCase", "postgres", "available"),
		c("my-main", "aurora-mysql", "available"),
		c("ora", "oracle-ee", "available"),
		c("pg-main", "aurora-postgresql", "available"),
	}
}

func testInstances() []export.DBInstance {
	i := func(id, engine, cluster string) export.DBInstance {
		return export.DBInstance{Identifier: id, AccountID: testAccount, Engine: engine, EngineVersion: "1",
			Status: "available", Port: 5432, ResourceID: "db-" + id, ClusterIdentifier: cluster}
	}
	return []export.DBInstance{
		i("my-main-1", "aurora-mysql", "my-main"),
		i("pg-main-1", "aurora-postgresql", "pg-main"),
		i("pg-main-2", "aurora-postgresql", "pg-main"),
		i("Solo", "postgres", ""),
	}
}

func setup(t *testing.T) (*service.Service, *testBundle) {
	t.Helper()
	return setupWith(t, nil)
}

// setupWith is setup with a chance to change the parameters of the service.
func setupWith(t *testing.T, edit func(*service.Params)) (*service.Service, *testBundle) {
	t.Helper()
	store, err := sqlitetaskstore.New(t.Context(), filepath.Join(t.TempDir(), "tasks.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := store.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	b := &testBundle{
		store:       store,
		snapshots:   store,
		snapshotter: &snapshotter{},
		runner:      &runner{},
		catalog: &catalog{
			clusters: map[string][]export.DBCluster{
				testAccount:    testClusters(),
				"210987654321": {{Identifier: "other", AccountID: "210987654321", Engine: "postgres", Status: "available"}},
			},
			instances: map[string][]export.DBInstance{testAccount: testInstances()},
		},
		buckets: &buckets{owners: map[string]string{"bkt": "", "other-bkt": "", "foreign-bkt": "210987654321"}},
	}
	p := service.Params{
		Store:       b.store,
		Runner:      b.runner,
		Catalog:     b.catalog,
		Buckets:     b.buckets,
		Snapshots:   b.snapshots,
		Snapshotter: b.snapshotter,
		Now:         func() time.Time { return testNow },
	}
	if edit != nil {
		edit(&p)
	}
	return service.New(p), b
}

func callerCtx(t *testing.T) context.Context {
	return export.WithCaller(t.Context(), export.Caller{AccessKeyID: "AKIDEXAMPLE", AccountID: testAccount, Region: testRegion})
}

func clusterARN(id string) string { return "arn:aws:rds:us-east-1:123456789012:cluster:" + id }

func validStart(id string) service.StartExportTaskInput {
	return service.StartExportTaskInput{
		ExportTaskIdentifier: id,
		SourceArn:            clusterARN("pg-main"),
		S3BucketName:         "bkt",
		IamRoleArn:           testRole,
		KmsKeyId:             "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
	}
}

// wantCode fails the test unless err carries an *export.Error with code
// (and message, when msg is not "").
func wantCode(t *testing.T, err error, code, msg string) {
	t.Helper()
	var e *export.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want *export.Error %s", err, code)
	}
	if e.Code != code {
		t.Fatalf("code = %s (%s), want %s", e.Code, e.Message, code)
	}
	if msg != "" && e.Message != msg {
		t.Fatalf("message = %q, want %q", e.Message, msg)
	}
}

// seedTask inserts a task straight into the store and moves it along the
// legal path to status.
func seedTask(t *testing.T, store export.Store, account, id, source, bucket string, st export.SourceType, status export.Status) *export.Task {
	t.Helper()
	ctx := t.Context()
	task := &export.Task{Identifier: id, AccountID: account, Region: testRegion, SourceArn: source, SourceType: st,
		S3Bucket: bucket, IamRoleArn: testRole, KmsKeyID: "k", Status: export.StatusStarting,
		TaskStartTime: testNow, SnapshotTime: testNow}
	if err := store.CreateTask(ctx, task); err != nil {
		t.Fatalf("seed %s: %v", id, err)
	}
	path := map[export.Status][]export.Status{
		export.StatusStarting:   nil,
		export.StatusInProgress: {export.StatusInProgress},
		export.StatusComplete:   {export.StatusInProgress, export.StatusComplete},
		export.StatusFailed:     {export.StatusFailed},
		export.StatusCanceling:  {export.StatusCanceling},
		export.StatusCanceled:   {export.StatusCanceling, export.StatusCanceled},
	}[status]
	cur := export.StatusStarting
	for _, next := range path {
		got, err := store.Transition(ctx, account, id, []export.Status{cur}, next, export.TaskUpdate{})
		if err != nil {
			t.Fatalf("seed %s %s -> %s: %v", id, cur, next, err)
		}
		cur, task = next, got
	}
	return task
}

func ptr[T any](v T) *T { return &v }
