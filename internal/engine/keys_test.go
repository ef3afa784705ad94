package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/exporttest"
)

// renamingSource reads through a real source but names every table's
// folders as rename says, as a source that let a hostile name through
// would.
type renamingSource struct {
	engine.Source
	database, folder string
}

func (s renamingSource) Open(ctx context.Context, p engine.OpenParams) (engine.Snapshot, error) {
	snap, err := s.Source.Open(ctx, p)
	if err != nil {
		return nil, err
	}
	return renamingSnapshot{Snapshot: snap, src: s}, nil
}

type renamingSnapshot struct {
	engine.Snapshot
	src renamingSource
}

func (s renamingSnapshot) Tables(ctx context.Context) ([]engine.Table, engine.Warnings, error) {
	ts, w, err := s.Snapshot.Tables(ctx)
	for i := range ts {
		ts[i].Database, ts[i].Folder = s.src.database, s.src.folder
	}
	return ts, w, err
}

// TestEngine_UnsafeKeys: a key with an empty, "." or ".." segment, or an
// S3Prefix that makes one, fails the export without writing anything
// outside the export's folder.
func TestEngine_UnsafeKeys(t *testing.T) {
	db := exporttest.NewPostgresDB(t, "CREATE TABLE t (id int); INSERT INTO t VALUES (1);")
	b := setup(t, nil)
	base := b.addSource(t, "pg", db)
	b.start(t)
	cases := []struct {
		name, database, folder, prefix string
	}{
		{name: "DatabaseDotDot", database: "..", folder: "public.t"},
		{name: "DatabaseDot", database: ".", folder: "public.t"},
		{name: "DatabaseClimbs", database: "a/../../..", folder: "public.t"},
		{name: "DatabaseEmpty", database: "", folder: "public.t"},
		{name: "FolderClimbs", database: "d", folder: "../../../tmp/x.t"},
		{name: "FolderDotDot", database: "d", folder: ".."},
		{name: "FolderSlashes", database: "d", folder: "a//b"},
		{name: "PrefixDotDot", database: "d", folder: "public.t", prefix: "a/../../b"},
		{name: "PrefixEmptySegment", database: "d", folder: "public.t", prefix: "a//b"},
	}
	for i, c := range cases {
		arn := "arn:aws:rds:us-east-1:" + account + ":cluster:unsafe" + string(rune('a'+i))
		b.sources[arn] = renamingSource{Source: b.sources[base], database: c.database, folder: c.folder}
		id := "unsafe-" + strings.ToLower(c.name)
		now := time.Now().UTC()
		if err := b.store.CreateTask(t.Context(), &export.Task{
			Identifier: id, AccountID: account, Region: "us-east-1", SourceArn: arn, SourceType: export.SourceTypeCluster,
			ExportOnly: []string{db.Name}, S3Bucket: bucket, S3Prefix: c.prefix, IamRoleArn: "arn:aws:iam::000000000000:role/r",
			KmsKeyID: "k", Status: export.StatusStarting, SnapshotTime: now, TaskStartTime: now,
		}); err != nil {
			t.Fatal(err)
		}
		b.engine.Wake()
		task := b.wait(t, id, time.Minute, export.StatusFailed)
		if !strings.Contains(task.FailureCause, "would not stay under the export folder") || !strings.Contains(task.FailureCause, arn) {
			t.Errorf("%s: failure cause %q", c.name, task.FailureCause)
		}
	}
	keys, err := b.objects.List(t.Context(), bucket, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Errorf("objects written: %q", keys)
	}
}

func TestSafeKey(t *testing.T) {
	for key, want := range map[string]bool{
		"p/id/db/s.t/1/part-00000-x.gz.parquet": true,
		"id/db/...t/1/_SUCCESS":                 true,
		"p/id/":                                 true,
		"p/id/../x":                             false,
		"p/id/./x":                              false,
		"p//id/x":                               false,
		"/p/id/x":                               false,
		"..":                                    false,
		"":                                      false,
	} {
		if got := engine.SafeKey(key); got != want {
			t.Errorf("SafeKey(%q) = %v, want %v", key, got, want)
		}
	}
	for name, want := range map[string]bool{
		"db": true, "...": true, "a.b": true, "..": false, ".": false, "a/b": false, "": false, "../../tmp/x": false,
	} {
		if got := engine.SafeFolderName(name); got != want {
			t.Errorf("SafeFolderName(%q) = %v, want %v", name, got, want)
		}
	}
}
