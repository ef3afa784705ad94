package service_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/service"
)

const (
	dbSnapshotIDMessage = "The parameter DBSnapshotIdentifier is not a valid identifier. Identifiers must begin with a letter; " +
		"must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens."
	clusterSnapshotIDMessage = "The parameter DBClusterSnapshotIdentifier is not a valid identifier. Identifiers must begin with a letter; " +
		"must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens."
	automatedID = "rds:solo-2026-11-27-08-00"
)

var snapshotTime = time.Date(2026, 11, 26, 23, 30, 0, 456000000, time.UTC)

func snapshotARN(id string) string {
	return "arn:aws:rds:us-east-1:123456789012:snapshot:" + id
}

func clusterSnapshotARN(id string) string {
	return "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:" + id
}

// seedSnapshot stores a snapshot of the test account straight into the
// store and moves it from creating to status. Sources have resource ids
// db-<source> (DB snapshots) or cluster-<source>.
func seedSnapshot(t *testing.T, b *testBundle, kind export.SnapshotKind, id, source, engine, typ string, status export.SnapshotStatus) *export.Snapshot {
	t.Helper()
	prefix := "db-"
	if kind == export.SnapshotKindCluster {
		prefix = "cluster-"
	}
	snap := &export.Snapshot{Kind: kind, Identifier: id, AccountID: testAccount, Region: testRegion,
		SourceIdentifier: source, Engine: engine, EngineVersion: "16.4", Status: export.SnapshotCreating,
		Type: typ, CreateTime: snapshotTime, SourceResourceID: prefix + source, Port: 5432}
	if err := b.snapshots.CreateSnapshot(t.Context(), snap); err != nil {
		t.Fatalf("seed snapshot %s: %v", id, err)
	}
	if status == export.SnapshotCreating {
		return snap
	}
	got, err := b.snapshots.UpdateSnapshot(t.Context(), testAccount, kind, id, []export.SnapshotStatus{export.SnapshotCreating}, status, export.SnapshotUpdate{})
	if err != nil {
		t.Fatalf("seed snapshot %s -> %s: %v", id, status, err)
	}
	return got
}

func snapshotIDs(snaps []*export.Snapshot) []string {
	ids := make([]string, 0, len(snaps))
	for _, s := range snaps {
		ids = append(ids, s.Identifier)
	}
	return ids
}

func wantInternal(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) || export.ErrorCode(err) != export.CodeInternalFailure {
		t.Fatalf("err = %v, want internal %v", err, target)
	}
}

func TestService_CreateDBSnapshot(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t)
		created := time.Date(2025, 3, 4, 5, 6, 7, 890123456, time.UTC)
		b.catalog.instances[testAccount] = append(b.catalog.instances[testAccount], export.DBInstance{
			Identifier: "Rich-DB", AccountID: testAccount, Engine: "mysql", EngineVersion: "8.0.36", Status: "available",
			Port: 3306, MasterUsername: "admin", CreateTime: created, ResourceID: "db-RICH", AllocatedStorage: 20,
		})
		tags := []export.Tag{{Key: "env", Value: "dev"}, {Key: "empty", Value: ""}}
		got, err := s.CreateDBSnapshot(callerCtx(t), service.CreateDBSnapshotInput{
			DBSnapshotIdentifier: "My-Snap-1", DBInstanceIdentifier: "rich-db", Tags: tags,
		})
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case got.Kind != export.SnapshotKindDB, got.Identifier != "my-snap-1", got.AccountID != testAccount,
			got.Region != testRegion, got.SourceIdentifier != "Rich-DB", got.Engine != "mysql",
			got.EngineVersion != "8.0.36", got.Status != export.SnapshotCreating, got.PercentProgress != 0,
			got.Type != export.SnapshotTypeManual, !got.CreateTime.IsZero(),
			!got.SourceCreateTime.Equal(created.Truncate(time.Microsecond)), got.AllocatedStorage != 20,
			got.Port != 3306, got.MasterUsername != "admin", got.SourceResourceID != "db-RICH", got.Seq == 0,
			!slices.Equal(got.Tags, tags):
			t.Fatalf("snapshot = %+v", got)
		}
		stored, err := b.snapshots.GetSnapshot(t.Context(), testAccount, export.SnapshotKindDB, "my-snap-1")
		if err != nil {
			t.Fatal(err)
		}
		if stored.Seq != got.Seq || stored.Status != export.SnapshotCreating || !slices.Equal(stored.Tags, tags) {
			t.Fatalf("stored = %+v", stored)
		}
		createdSnaps, _ := b.snapshotter.state()
		if len(createdSnaps) != 1 || createdSnaps[0].Identifier != "my-snap-1" || createdSnaps[0] == got {
			t.Fatalf("snapshotter got %+v, want its own copy of my-snap-1", createdSnaps)
		}
	})

	t.Run("LongestIdentifier", func(t *testing.T) {
		t.Parallel()
		s, _ := setup(t)
		id := "s" + strings.Repeat("1", 254)
		if _, err := s.CreateDBSnapshot(callerCtx(t), service.CreateDBSnapshotInput{DBSnapshotIdentifier: id, DBInstanceIdentifier: "Solo"}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("SameIdentifierOtherKind", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t)
		seedSnapshot(t, b, export.SnapshotKindCluster, "s1", "pg-main", "aurora-postgresql", export.SnapshotTypeManual, export.SnapshotAvailable)
		if _, err := s.CreateDBSnapshot(callerCtx(t), service.CreateDBSnapshotInput{DBSnapshotIdentifier: "s1", DBInstanceIdentifier: "Solo"}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("QuotaCountsManualDBSnapshotsOnly", func(t *testing.T) {
		t.Parallel()
		s, b := setupWith(t, func(p *service.Params) { p.SnapshotQuota = 2 })
		seedSnapshot(t, b, export.SnapshotKindDB, "m1", "Solo", "postgres", export.SnapshotTypeManual, export.SnapshotAvailable)
		seedSnapshot(t, b, export.SnapshotKindDB, automatedID, "Solo", "postgres", export.SnapshotTypeAutomated, export.SnapshotAvailable)
		seedSnapshot(t, b, export.SnapshotKindCluster, "c1", "pg-main", "aurora-postgresql", export.SnapshotTypeManual, export.SnapshotAvailable)
		ctx := callerCtx(t)
		if _, err := s.CreateDBSnapshot(ctx, service.CreateDBSnapshotInput{DBSnapshotIdentifier: "m2", DBInstanceIdentifier: "Solo"}); err != nil {
			t.Fatal(err)
		}
		_, err := s.CreateDBSnapshot(ctx, service.CreateDBSnapshotInput{DBSnapshotIdentifier: "m3", DBInstanceIdentifier: "Solo"})
		wantCode(t, err, export.CodeSnapshotQuotaExceeded, "")
	})

	t.Run("NoQuota", func(t *testing.T) {
		t.Parallel()
		s, b := setupWith(t, func(p *service.Params) { p.SnapshotQuota = -1 })
		for i := range 3 {
			seedSnapshot(t, b, export.SnapshotKindDB, fmt.Sprintf("m%d", i), "Solo", "postgres", export.SnapshotTypeManual, export.SnapshotAvailable)
		}
		if _, err := s.CreateDBSnapshot(callerCtx(t), service.CreateDBSnapshotInput{DBSnapshotIdentifier: "more", DBInstanceIdentifier: "Solo"}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ErrNoCaller", func(t *testing.T) {
		t.Parallel()
		s, _ := setup(t)
		_, err := s.CreateDBSnapshot(t.Context(), service.CreateDBSnapshotInput{DBSnapshotIdentifier: "s", DBInstanceIdentifier: "Solo"})
		wantInternal(t, err, service.ErrNoCaller)
	})
	t.Run("ErrNoSnapshotStore", func(t *testing.T) {
		t.Parallel()
		s, _ := setupWith(t, func(p *service.Params) { p.Snapshots = nil })
		_, err := s.CreateDBSnapshot(callerCtx(t), service.CreateDBSnapshotInput{DBSnapshotIdentifier: "s", DBInstanceIdentifier: "Solo"})
		wantInternal(t, err, service.ErrNoSnapshotStore)
	})
	t.Run("ErrNoSnapshotter", func(t *testing.T) {
		t.Parallel()
		s, _ := setupWith(t, func(p *service.Params) { p.Snapshotter = nil })
		_, err := s.CreateDBSnapshot(callerCtx(t), service.CreateDBSnapshotInput{DBSnapshotIdentifier: "s", DBInstanceIdentifier: "Solo"})
		wantInternal(t, err, service.ErrNoSnapshotter)
	})
	t.Run("ErrCatalog", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t)
		b.catalog.err = errors.New("catalog down")
		_, err := s.CreateDBSnapshot(callerCtx(t), service.CreateDBSnapshotInput{DBSnapshotIdentifier: "s", DBInstanceIdentifier: "Solo"})
		if export.ErrorCode(err) != export.CodeInternalFailure {
			t.Fatalf("err = %v, want internal", err)
		}
	})

	type edit func(*testing.T, *service.CreateDBSnapshotInput, *testBundle)
	cases := []struct {
		name string
		edit edit
		code string
		msg  string
	}{
		{"MissingSnapshotIdentifier", func(t *testing.T, in *service.CreateDBSnapshotInput, _ *testBundle) { in.DBSnapshotIdentifier = "" },
			export.CodeMissingParameter, "The request must contain the parameter DBSnapshotIdentifier"},
		{"MissingInstanceIdentifier", func(t *testing.T, in *service.CreateDBSnapshotInput, _ *testBundle) { in.DBInstanceIdentifier = "" },
			export.CodeMissingParameter, "The request must contain the parameter DBInstanceIdentifier"},
		{"MissingBoth", func(t *testing.T, in *service.CreateDBSnapshotInput, _ *testBundle) {
			in.DBSnapshotIdentifier, in.DBInstanceIdentifier = "", ""
		}, export.CodeMissingParameter, "The request must contain the parameter DBSnapshotIdentifier"},
		{"MissingBeatsBadIdentifier", func(t *testing.T, in *service.CreateDBSnapshotInput, _ *testBundle) {
			in.DBSnapshotIdentifier, in.DBInstanceIdentifier = "1x", ""
		}, export.CodeMissingParameter, "The request must contain the parameter DBInstanceIdentifier"},
		{"IdentifierDigitFirst", func(t *testing.T, in *service.CreateDBSnapshotInput, _ *testBundle) {
			in.DBSnapshotIdentifier = "1snap"
		},
			export.CodeInvalidParameterValue, dbSnapshotIDMessage},
		{"IdentifierTrailingHyphen", func(t *testing.T, in *service.CreateDBSnapshotInput, _ *testBundle) {
			in.DBSnapshotIdentifier = "snap-"
		},
			export.CodeInvalidParameterValue, dbSnapshotIDMessage},
		{"IdentifierDoubleHyphen", func(t *testing.T, in *service.CreateDBSnapshotInput, _ *testBundle) { in.DBSnapshotIdentifier = "a--b" },
			export.CodeInvalidParameterValue, dbSnapshotIDMessage},
		{"IdentifierUnderscore", func(t *testing.T, in *service.CreateDBSnapshotInput, _ *testBundle) { in.DBSnapshotIdentifier = "a_b" },
			export.CodeInvalidParameterValue, dbSnapshotIDMessage},
		{"IdentifierAutomated", func(t *testing.T, in *service.CreateDBSnapshotInput, _ *testBundle) {
			in.DBSnapshotIdentifier = automatedID
		},
			export.CodeInvalidParameterValue, dbSnapshotIDMessage},
		{"IdentifierTooLong", func(t *testing.T, in *service.CreateDBSnapshotInput, _ *testBundle) {
			in.DBSnapshotIdentifier = "s" + strings.Repeat("1", 255)
		}, export.CodeInvalidParameterValue, dbSnapshotIDMessage},
		{"TagEmptyKey", func(t *testing.T, in *service.CreateDBSnapshotInput, _ *testBundle) {
			in.Tags = []export.Tag{{Value: "v"}}
		},
			export.CodeInvalidParameterValue, ""},
		{"TagKeyTooLong", func(t *testing.T, in *service.CreateDBSnapshotInput, _ *testBundle) {
			in.Tags = []export.Tag{{Key: strings.Repeat("k", 129)}}
		}, export.CodeInvalidParameterValue, ""},
		{"TagValueTooLong", func(t *testing.T, in *service.CreateDBSnapshotInput, _ *testBundle) {
			in.Tags = []export.Tag{{Key: "k", Value: strings.Repeat("v", 257)}}
		}, export.CodeInvalidParameterValue, ""},
		{"TooManyTags", func(t *testing.T, in *service.CreateDBSnapshotInput, _ *testBundle) {
			for i := range 51 {
				in.Tags = append(in.Tags, export.Tag{Key: fmt.Sprint("k", i)})
			}
		}, export.CodeInvalidParameterValue, ""},
		{"InstanceNotFound", func(t *testing.T, in *service.CreateDBSnapshotInput, _ *testBundle) { in.DBInstanceIdentifier = "nope" },
			export.CodeDBInstanceNotFound, "DBInstance nope not found."},
		{"InstanceArnIsNotAnIdentifier", func(t *testing.T, in *service.CreateDBSnapshotInput, _ *testBundle) {
			in.DBInstanceIdentifier = "arn:aws:rds:us-east-1:123456789012:db:Solo"
		}, export.CodeDBInstanceNotFound, ""},
		{"BadIdentifierBeatsNotFound", func(t *testing.T, in *service.CreateDBSnapshotInput, _ *testBundle) {
			in.DBSnapshotIdentifier, in.DBInstanceIdentifier = "a--b", "nope"
		}, export.CodeInvalidParameterValue, dbSnapshotIDMessage},
		{"InstanceNotAvailable", func(t *testing.T, in *service.CreateDBSnapshotInput, b *testBundle) {
			b.catalog.instances[testAccount] = append(b.catalog.instances[testAccount], export.DBInstance{
				Identifier: "busy", AccountID: testAccount, Engine: "postgres", Status: "modifying"})
			in.DBInstanceIdentifier = "busy"
		}, export.CodeInvalidDBInstanceState, "Cannot create a snapshot because the database instance busy is not currently in the available state."},
		{"InstanceUnsupportedEngine", func(t *testing.T, in *service.CreateDBSnapshotInput, b *testBundle) {
			b.catalog.instances[testAccount] = append(b.catalog.instances[testAccount], export.DBInstance{
				Identifier: "ora", AccountID: testAccount, Engine: "oracle-ee", Status: "available"})
			in.DBInstanceIdentifier = "ora"
		}, export.CodeInvalidDBInstanceState, ""},
		{"NotFoundBeatsQuota", func(t *testing.T, in *service.CreateDBSnapshotInput, b *testBundle) {
			for i := range service.DefaultSnapshotQuota {
				seedSnapshot(t, b, export.SnapshotKindDB, fmt.Sprintf("m%d", i), "Solo", "postgres", export.SnapshotTypeManual, export.SnapshotAvailable)
			}
			in.DBInstanceIdentifier = "nope"
		}, export.CodeDBInstanceNotFound, ""},
		{"QuotaExceeded", func(t *testing.T, in *service.CreateDBSnapshotInput, b *testBundle) {
			for i := range service.DefaultSnapshotQuota {
				seedSnapshot(t, b, export.SnapshotKindDB, fmt.Sprintf("m%d", i), "Solo", "postgres", export.SnapshotTypeManual, export.SnapshotAvailable)
			}
		}, export.CodeSnapshotQuotaExceeded, ""},
		{"AlreadyExists", func(t *testing.T, in *service.CreateDBSnapshotInput, b *testBundle) {
			seedSnapshot(t, b, export.SnapshotKindDB, "snap-1", "pg-main-1", "aurora-postgresql", export.SnapshotTypeManual, export.SnapshotFailed)
		}, export.CodeDBSnapshotAlreadyExists, ""},
		{"AlreadyExistsOtherCase", func(t *testing.T, in *service.CreateDBSnapshotInput, b *testBundle) {
			seedSnapshot(t, b, export.SnapshotKindDB, "snap-1", "Solo", "postgres", export.SnapshotTypeManual, export.SnapshotCreating)
			in.DBSnapshotIdentifier = "SNAP-1"
		}, export.CodeDBSnapshotAlreadyExists, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, b := setup(t)
			in := service.CreateDBSnapshotInput{DBSnapshotIdentifier: "snap-1", DBInstanceIdentifier: "solo"}
			tc.edit(t, &in, b)
			before, _ := b.snapshots.ListSnapshots(t.Context(), export.SnapshotFilter{AccountID: testAccount})
			_, err := s.CreateDBSnapshot(callerCtx(t), in)
			wantCode(t, err, tc.code, tc.msg)
			after, _ := b.snapshots.ListSnapshots(t.Context(), export.SnapshotFilter{AccountID: testAccount})
			if len(after) != len(before) {
				t.Fatalf("a failed create stored a snapshot: %d -> %d", len(before), len(after))
			}
			if created, _ := b.snapshotter.state(); len(created) != 0 {
				t.Fatalf("a failed create started a copy: %+v", created)
			}
		})
	}
}

func TestService_CreateDBClusterSnapshot(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t)
		created := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
		b.catalog.clusters[testAccount][5].CreateTime = created // pg-main
		b.catalog.clusters[testAccount][5].MasterUsername = "postgres"
		got, err := s.CreateDBClusterSnapshot(callerCtx(t), service.CreateDBClusterSnapshotInput{
			DBClusterSnapshotIdentifier: "Nightly", DBClusterIdentifier: "PG-MAIN",
		})
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case got.Kind != export.SnapshotKindCluster, got.Identifier != "nightly", got.SourceIdentifier != "pg-main",
			got.Engine != "aurora-postgresql", got.EngineVersion != "1", got.Status != export.SnapshotCreating,
			got.Type != export.SnapshotTypeManual, got.Port != 5432, got.MasterUsername != "postgres",
			got.SourceResourceID != "cluster-pg-main", !got.SourceCreateTime.Equal(created), got.AllocatedStorage != 1,
			got.Region != testRegion, got.AccountID != testAccount, got.Tags != nil:
			t.Fatalf("snapshot = %+v", got)
		}
		if created, _ := b.snapshotter.state(); len(created) != 1 || created[0].Kind != export.SnapshotKindCluster {
			t.Fatalf("snapshotter got %+v", created)
		}
	})

	t.Run("LongestIdentifier", func(t *testing.T) {
		t.Parallel()
		s, _ := setup(t)
		id := "c" + strings.Repeat("1", 62)
		if _, err := s.CreateDBClusterSnapshot(callerCtx(t), service.CreateDBClusterSnapshotInput{DBClusterSnapshotIdentifier: id, DBClusterIdentifier: "maria"}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ErrNoSnapshotStore", func(t *testing.T) {
		t.Parallel()
		s, _ := setupWith(t, func(p *service.Params) { p.Snapshots = nil })
		_, err := s.CreateDBClusterSnapshot(callerCtx(t), service.CreateDBClusterSnapshotInput{DBClusterSnapshotIdentifier: "c", DBClusterIdentifier: "maria"})
		wantInternal(t, err, service.ErrNoSnapshotStore)
	})

	type edit func(*testing.T, *service.CreateDBClusterSnapshotInput, *testBundle)
	cases := []struct {
		name string
		edit edit
		code string
		msg  string
	}{
		{"MissingSnapshotIdentifier", func(t *testing.T, in *service.CreateDBClusterSnapshotInput, _ *testBundle) {
			in.DBClusterSnapshotIdentifier = ""
		},
			export.CodeMissingParameter, "The request must contain the parameter DBClusterSnapshotIdentifier"},
		{"MissingClusterIdentifier", func(t *testing.T, in *service.CreateDBClusterSnapshotInput, _ *testBundle) {
			in.DBClusterIdentifier = ""
		},
			export.CodeMissingParameter, "The request must contain the parameter DBClusterIdentifier"},
		{"IdentifierTooLong", func(t *testing.T, in *service.CreateDBClusterSnapshotInput, _ *testBundle) {
			in.DBClusterSnapshotIdentifier = "c" + strings.Repeat("1", 63)
		}, export.CodeInvalidParameterValue, clusterSnapshotIDMessage},
		{"IdentifierDoubleHyphen", func(t *testing.T, in *service.CreateDBClusterSnapshotInput, _ *testBundle) {
			in.DBClusterSnapshotIdentifier = "a--b"
		}, export.CodeInvalidParameterValue, clusterSnapshotIDMessage},
		{"IdentifierHyphenFirst", func(t *testing.T, in *service.CreateDBClusterSnapshotInput, _ *testBundle) {
			in.DBClusterSnapshotIdentifier = "-ab"
		}, export.CodeInvalidParameterValue, clusterSnapshotIDMessage},
		{"TagEmptyKey", func(t *testing.T, in *service.CreateDBClusterSnapshotInput, _ *testBundle) {
			in.Tags = []export.Tag{{}}
		},
			export.CodeInvalidParameterValue, ""},
		{"ClusterNotFound", func(t *testing.T, in *service.CreateDBClusterSnapshotInput, _ *testBundle) {
			in.DBClusterIdentifier = "nope"
		},
			export.CodeDBClusterNotFound, "DBCluster nope not found."},
		{"ClusterOfOtherAccount", func(t *testing.T, in *service.CreateDBClusterSnapshotInput, _ *testBundle) {
			in.DBClusterIdentifier = "other"
		},
			export.CodeDBClusterNotFound, ""},
		{"ClusterNotAvailable", func(t *testing.T, in *service.CreateDBClusterSnapshotInput, _ *testBundle) {
			in.DBClusterIdentifier = "busy-pg"
		},
			export.CodeInvalidDBClusterState, "Cannot create a snapshot because the DB cluster busy-pg is not currently in the available state."},
		{"ClusterUnsupportedEngine", func(t *testing.T, in *service.CreateDBClusterSnapshotInput, _ *testBundle) {
			in.DBClusterIdentifier = "ora"
		},
			export.CodeInvalidDBClusterState, ""},
		{"QuotaExceeded", func(t *testing.T, in *service.CreateDBClusterSnapshotInput, b *testBundle) {
			for i := range service.DefaultSnapshotQuota {
				seedSnapshot(t, b, export.SnapshotKindCluster, fmt.Sprintf("c%d", i), "pg-main", "aurora-postgresql", export.SnapshotTypeManual, export.SnapshotAvailable)
			}
		}, export.CodeSnapshotQuotaExceeded, ""},
		{"AlreadyExists", func(t *testing.T, in *service.CreateDBClusterSnapshotInput, b *testBundle) {
			seedSnapshot(t, b, export.SnapshotKindCluster, "nightly", "maria", "mariadb", export.SnapshotTypeManual, export.SnapshotAvailable)
			in.DBClusterSnapshotIdentifier = "NIGHTLY"
		}, export.CodeDBClusterSnapshotAlreadyExists, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, b := setup(t)
			in := service.CreateDBClusterSnapshotInput{DBClusterSnapshotIdentifier: "nightly", DBClusterIdentifier: "pg-main"}
			tc.edit(t, &in, b)
			_, err := s.CreateDBClusterSnapshot(callerCtx(t), in)
			wantCode(t, err, tc.code, tc.msg)
			if created, _ := b.snapshotter.state(); len(created) != 0 {
				t.Fatalf("a failed create started a copy: %+v", created)
			}
		})
	}
}

// seedDescribe stores the snapshots the Describe tests list, in this
// order: DB snapshots s1, s2, automatedID, s3 and cluster snapshots c1, c2,
// rds:pg-main-2026-11-27-08-00, plus a DB snapshot c1 and snapshots of
// another account, which must never show up in the cluster lists.
func seedDescribe(t *testing.T, b *testBundle) {
	t.Helper()
	db, cl := export.SnapshotKindDB, export.SnapshotKindCluster
	seedSnapshot(t, b, db, "s1", "Solo", "postgres", export.SnapshotTypeManual, export.SnapshotAvailable)
	seedSnapshot(t, b, db, "s2", "pg-main-1", "aurora-postgresql", export.SnapshotTypeManual, export.SnapshotCreating)
	seedSnapshot(t, b, db, automatedID, "Solo", "postgres", export.SnapshotTypeAutomated, export.SnapshotAvailable)
	seedSnapshot(t, b, db, "s3", "my-main-1", "aurora-mysql", export.SnapshotTypeManual, export.SnapshotFailed)
	seedSnapshot(t, b, cl, "c1", "pg-main", "aurora-postgresql", export.SnapshotTypeManual, export.SnapshotAvailable)
	seedSnapshot(t, b, cl, "c2", "my-main", "aurora-mysql", export.SnapshotTypeManual, export.SnapshotCreating)
	seedSnapshot(t, b, cl, "rds:pg-main-2026-11-27-08-00", "pg-main", "aurora-postgresql", export.SnapshotTypeAutomated, export.SnapshotAvailable)
	seedSnapshot(t, b, db, "c1", "Solo", "postgres", export.SnapshotTypeManual, export.SnapshotAvailable)
	for _, kind := range []export.SnapshotKind{db, cl} {
		other := &export.Snapshot{Kind: kind, Identifier: "s1", AccountID: "210987654321", Region: testRegion,
			SourceIdentifier: "Solo", Engine: "postgres", Status: export.SnapshotAvailable, Type: export.SnapshotTypeManual}
		if err := b.snapshots.CreateSnapshot(t.Context(), other); err != nil {
			t.Fatal(err)
		}
	}
}

func TestService_DescribeDBSnapshots(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	seedDescribe(t, b)
	all := []string{"s1", "s2", automatedID, "s3", "c1"}
	filter := func(name string, values ...string) []service.Filter {
		return []service.Filter{{Name: name, Values: values}}
	}
	for _, tc := range []struct {
		name string
		in   service.DescribeDBSnapshotsInput
		want []string
	}{
		{"All", service.DescribeDBSnapshotsInput{}, all},
		{"EmptyStringsAreAbsent", service.DescribeDBSnapshotsInput{DBSnapshotIdentifier: ptr(""), DBInstanceIdentifier: ptr(""),
			SnapshotType: ptr(""), DbiResourceId: ptr(""), Marker: ptr("")}, all},
		{"Identifier", service.DescribeDBSnapshotsInput{DBSnapshotIdentifier: ptr("s1")}, []string{"s1"}},
		{"IdentifierUppercase", service.DescribeDBSnapshotsInput{DBSnapshotIdentifier: ptr("S1")}, []string{"s1"}},
		{"IdentifierArn", service.DescribeDBSnapshotsInput{DBSnapshotIdentifier: ptr(snapshotARN("s1"))}, []string{"s1"}},
		{"AutomatedWithoutType", service.DescribeDBSnapshotsInput{DBSnapshotIdentifier: ptr(automatedID)}, []string{automatedID}},
		{"AutomatedWithType", service.DescribeDBSnapshotsInput{DBSnapshotIdentifier: ptr(automatedID), SnapshotType: ptr("automated")}, []string{automatedID}},
		{"AutomatedArn", service.DescribeDBSnapshotsInput{DBSnapshotIdentifier: ptr(snapshotARN(automatedID))}, []string{automatedID}},
		{"IdentifierOfOtherType", service.DescribeDBSnapshotsInput{DBSnapshotIdentifier: ptr("s1"), SnapshotType: ptr("automated")}, nil},
		{"Instance", service.DescribeDBSnapshotsInput{DBInstanceIdentifier: ptr("solo")}, []string{"s1", automatedID, "c1"}},
		{"InstanceArn", service.DescribeDBSnapshotsInput{DBInstanceIdentifier: ptr("arn:aws:rds:us-east-1:123456789012:db:SOLO")}, []string{"s1", automatedID, "c1"}},
		{"InstanceArnOtherAccount", service.DescribeDBSnapshotsInput{DBInstanceIdentifier: ptr("arn:aws:rds:us-east-1:210987654321:db:Solo")}, nil},
		{"InstanceGone", service.DescribeDBSnapshotsInput{DBInstanceIdentifier: ptr("gone")}, nil},
		{"InstanceAndIdentifier", service.DescribeDBSnapshotsInput{DBInstanceIdentifier: ptr("Solo"), DBSnapshotIdentifier: ptr("s2")}, nil},
		{"Manual", service.DescribeDBSnapshotsInput{SnapshotType: ptr("manual")}, []string{"s1", "s2", "s3", "c1"}},
		{"Automated", service.DescribeDBSnapshotsInput{SnapshotType: ptr("automated")}, []string{automatedID}},
		{"Shared", service.DescribeDBSnapshotsInput{SnapshotType: ptr("shared")}, nil},
		{"Public", service.DescribeDBSnapshotsInput{SnapshotType: ptr("public")}, nil},
		{"AWSBackup", service.DescribeDBSnapshotsInput{SnapshotType: ptr("awsbackup")}, nil},
		{"IncludeSharedAndPublic", service.DescribeDBSnapshotsInput{IncludeShared: ptr(true), IncludePublic: ptr(true)}, all},
		{"DbiResourceId", service.DescribeDBSnapshotsInput{DbiResourceId: ptr("db-pg-main-1")}, []string{"s2"}},
		{"FilterInstances", service.DescribeDBSnapshotsInput{Filters: filter("db-instance-id", "pg-main-1", "arn:aws:rds:us-east-1:123456789012:db:my-main-1", "not an arn:")},
			[]string{"s2", "s3"}},
		{"FilterSnapshotIDs", service.DescribeDBSnapshotsInput{Filters: filter("db-snapshot-id", "S3", snapshotARN("s1"), "nope")}, []string{"s1", "s3"}},
		{"FilterResourceIDs", service.DescribeDBSnapshotsInput{Filters: filter("dbi-resource-id", "db-Solo")}, []string{"s1", automatedID, "c1"}},
		{"FilterResourceIDCaseSensitive", service.DescribeDBSnapshotsInput{Filters: filter("dbi-resource-id", "db-solo")}, nil},
		{"FilterType", service.DescribeDBSnapshotsInput{Filters: filter("snapshot-type", "automated")}, []string{automatedID}},
		{"FilterEngine", service.DescribeDBSnapshotsInput{Filters: filter("engine", "aurora-mysql", "aurora-postgresql")}, []string{"s2", "s3"}},
		{"FiltersAnd", service.DescribeDBSnapshotsInput{Filters: []service.Filter{
			{Name: "engine", Values: []string{"postgres"}}, {Name: "db-instance-id", Values: []string{"pg-main-1"}}}}, nil},
		{"SameFilterTwiceIntersects", service.DescribeDBSnapshotsInput{Filters: []service.Filter{
			{Name: "snapshot-type", Values: []string{"manual", "automated"}}, {Name: "snapshot-type", Values: []string{"automated"}}}},
			[]string{automatedID}},
		{"FilterAndParameter", service.DescribeDBSnapshotsInput{SnapshotType: ptr("manual"), Filters: filter("engine", "postgres")}, []string{"s1", "c1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := s.DescribeDBSnapshots(callerCtx(t), tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := snapshotIDs(out.DBSnapshots); !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if out.DBSnapshots == nil || out.Marker != "" {
				t.Fatalf("DBSnapshots = %#v, Marker = %q", out.DBSnapshots, out.Marker)
			}
			for _, sn := range out.DBSnapshots {
				if sn.Kind != export.SnapshotKindDB || sn.AccountID != testAccount {
					t.Fatalf("listed %+v", sn)
				}
			}
		})
	}

	for _, tc := range []struct {
		name string
		in   service.DescribeDBSnapshotsInput
		code string
		msg  string
	}{
		{"NotFound", service.DescribeDBSnapshotsInput{DBSnapshotIdentifier: ptr("Nope")}, export.CodeDBSnapshotNotFound, "DBSnapshot Nope not found."},
		{"NotFoundClusterSnapshotID", service.DescribeDBSnapshotsInput{DBSnapshotIdentifier: ptr("c2")}, export.CodeDBSnapshotNotFound, ""},
		{"NotFoundOtherAccount", service.DescribeDBSnapshotsInput{DBSnapshotIdentifier: ptr("arn:aws:rds:us-east-1:210987654321:snapshot:s1")},
			export.CodeDBSnapshotNotFound, "DBSnapshot arn:aws:rds:us-east-1:210987654321:snapshot:s1 not found."},
		{"NotFoundOtherRegion", service.DescribeDBSnapshotsInput{DBSnapshotIdentifier: ptr("arn:aws:rds:eu-west-1:123456789012:snapshot:s1")},
			export.CodeDBSnapshotNotFound, ""},
		{"NotFoundBeatsFilters", service.DescribeDBSnapshotsInput{DBSnapshotIdentifier: ptr("nope"), SnapshotType: ptr("shared")},
			export.CodeDBSnapshotNotFound, ""},
		{"IdentifierWrongArnType", service.DescribeDBSnapshotsInput{DBSnapshotIdentifier: ptr(clusterSnapshotARN("c1"))}, export.CodeInvalidParameterValue, ""},
		{"InstanceWrongArnType", service.DescribeDBSnapshotsInput{DBInstanceIdentifier: ptr(clusterARN("pg-main"))}, export.CodeInvalidParameterValue, ""},
		{"MaxRecordsLow", service.DescribeDBSnapshotsInput{MaxRecords: ptr(19)}, export.CodeInvalidParameterValue,
			"Invalid value 19 for MaxRecords. Must be between 20 and 100"},
		{"MaxRecordsHigh", service.DescribeDBSnapshotsInput{MaxRecords: ptr(101)}, export.CodeInvalidParameterValue, ""},
		{"BadMarker", service.DescribeDBSnapshotsInput{Marker: ptr("!!")}, export.CodeInvalidParameterValue, ""},
		{"BadSnapshotType", service.DescribeDBSnapshotsInput{SnapshotType: ptr("Manual")}, export.CodeInvalidParameterValue, ""},
		{"UnknownFilter", service.DescribeDBSnapshotsInput{Filters: filter("status", "available")}, export.CodeInvalidParameterValue,
			"Unrecognized filter name: status"},
		{"ClusterFilter", service.DescribeDBSnapshotsInput{Filters: filter("db-cluster-id", "pg-main")}, export.CodeInvalidParameterValue, ""},
		{"FilterWithoutValues", service.DescribeDBSnapshotsInput{Filters: filter("engine")}, export.CodeInvalidParameterValue, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := s.DescribeDBSnapshots(callerCtx(t), tc.in)
			wantCode(t, err, tc.code, tc.msg)
		})
	}

	t.Run("ErrNoCaller", func(t *testing.T) {
		t.Parallel()
		_, err := s.DescribeDBSnapshots(t.Context(), service.DescribeDBSnapshotsInput{})
		wantInternal(t, err, service.ErrNoCaller)
	})
	t.Run("ErrNoSnapshotStore", func(t *testing.T) {
		t.Parallel()
		s, _ := setupWith(t, func(p *service.Params) { p.Snapshots = nil })
		_, err := s.DescribeDBSnapshots(callerCtx(t), service.DescribeDBSnapshotsInput{})
		wantInternal(t, err, service.ErrNoSnapshotStore)
	})
}

func TestService_DescribeDBClusterSnapshots(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	seedDescribe(t, b)
	const auto = "rds:pg-main-2026-11-27-08-00"
	all := []string{"c1", "c2", auto}
	filter := func(name string, values ...string) []service.Filter {
		return []service.Filter{{Name: name, Values: values}}
	}
	for _, tc := range []struct {
		name string
		in   service.DescribeDBClusterSnapshotsInput
		want []string
	}{
		{"All", service.DescribeDBClusterSnapshotsInput{}, all},
		{"EmptyStringsAreAbsent", service.DescribeDBClusterSnapshotsInput{DBClusterIdentifier: ptr(""), DBClusterSnapshotIdentifier: ptr("")}, all},
		{"Identifier", service.DescribeDBClusterSnapshotsInput{DBClusterSnapshotIdentifier: ptr("C2")}, []string{"c2"}},
		{"IdentifierArn", service.DescribeDBClusterSnapshotsInput{DBClusterSnapshotIdentifier: ptr(clusterSnapshotARN("c1"))}, []string{"c1"}},
		{"Automated", service.DescribeDBClusterSnapshotsInput{DBClusterSnapshotIdentifier: ptr(auto)}, []string{auto}},
		{"Cluster", service.DescribeDBClusterSnapshotsInput{DBClusterIdentifier: ptr("PG-MAIN")}, []string{"c1", auto}},
		{"ClusterArn", service.DescribeDBClusterSnapshotsInput{DBClusterIdentifier: ptr(clusterARN("my-main"))}, []string{"c2"}},
		{"ClusterGone", service.DescribeDBClusterSnapshotsInput{DBClusterIdentifier: ptr("gone")}, nil},
		{"Manual", service.DescribeDBClusterSnapshotsInput{SnapshotType: ptr("manual")}, []string{"c1", "c2"}},
		{"Shared", service.DescribeDBClusterSnapshotsInput{SnapshotType: ptr("shared"), IncludeShared: ptr(true)}, nil},
		{"ResourceID", service.DescribeDBClusterSnapshotsInput{DbClusterResourceId: ptr("cluster-my-main")}, []string{"c2"}},
		{"FilterCluster", service.DescribeDBClusterSnapshotsInput{Filters: filter("db-cluster-id", "MY-MAIN", clusterARN("pg-main"))}, all},
		{"FilterSnapshotID", service.DescribeDBClusterSnapshotsInput{Filters: filter("db-cluster-snapshot-id", "c1", clusterSnapshotARN(auto))}, []string{"c1", auto}},
		{"FilterType", service.DescribeDBClusterSnapshotsInput{Filters: filter("snapshot-type", "automated")}, []string{auto}},
		{"FilterEngine", service.DescribeDBClusterSnapshotsInput{Filters: filter("engine", "aurora-mysql")}, []string{"c2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := s.DescribeDBClusterSnapshots(callerCtx(t), tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := snapshotIDs(out.DBClusterSnapshots); !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			for _, sn := range out.DBClusterSnapshots {
				if sn.Kind != export.SnapshotKindCluster || sn.AccountID != testAccount {
					t.Fatalf("listed %+v", sn)
				}
			}
		})
	}

	for _, tc := range []struct {
		name string
		in   service.DescribeDBClusterSnapshotsInput
		code string
		msg  string
	}{
		{"ClusterAndSnapshot", service.DescribeDBClusterSnapshotsInput{DBClusterIdentifier: ptr("pg-main"), DBClusterSnapshotIdentifier: ptr("c1")},
			export.CodeInvalidParameterCombination, ""},
		{"CombinationBeatsBadMaxRecords", service.DescribeDBClusterSnapshotsInput{DBClusterIdentifier: ptr("x"), DBClusterSnapshotIdentifier: ptr("y"), MaxRecords: ptr(5)},
			export.CodeInvalidParameterCombination, ""},
		{"NotFound", service.DescribeDBClusterSnapshotsInput{DBClusterSnapshotIdentifier: ptr("s1")}, export.CodeDBClusterSnapshotNotFound,
			"DBClusterSnapshot s1 not found."},
		{"NotFoundOtherAccount", service.DescribeDBClusterSnapshotsInput{DBClusterSnapshotIdentifier: ptr("arn:aws:rds:us-east-1:210987654321:cluster-snapshot:s1")},
			export.CodeDBClusterSnapshotNotFound, ""},
		{"IdentifierWrongArnType", service.DescribeDBClusterSnapshotsInput{DBClusterSnapshotIdentifier: ptr(snapshotARN("c1"))}, export.CodeInvalidParameterValue, ""},
		{"ClusterWrongArnType", service.DescribeDBClusterSnapshotsInput{DBClusterIdentifier: ptr("arn:aws:rds:us-east-1:123456789012:db:x")}, export.CodeInvalidParameterValue, ""},
		{"AWSBackupNotForClusters", service.DescribeDBClusterSnapshotsInput{SnapshotType: ptr("awsbackup")}, export.CodeInvalidParameterValue, ""},
		{"MaxRecords", service.DescribeDBClusterSnapshotsInput{MaxRecords: ptr(0)}, export.CodeInvalidParameterValue, ""},
		{"BadMarker", service.DescribeDBClusterSnapshotsInput{Marker: ptr("-5")}, export.CodeInvalidParameterValue, ""},
		{"InstanceFilter", service.DescribeDBClusterSnapshotsInput{Filters: filter("dbi-resource-id", "x")}, export.CodeInvalidParameterValue, ""},
		{"SnapshotIDFilterOfDB", service.DescribeDBClusterSnapshotsInput{Filters: filter("db-snapshot-id", "x")}, export.CodeInvalidParameterValue, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := s.DescribeDBClusterSnapshots(callerCtx(t), tc.in)
			wantCode(t, err, tc.code, tc.msg)
		})
	}
	t.Run("ErrNoSnapshotStore", func(t *testing.T) {
		t.Parallel()
		s, _ := setupWith(t, func(p *service.Params) { p.Snapshots = nil })
		_, err := s.DescribeDBClusterSnapshots(callerCtx(t), service.DescribeDBClusterSnapshotsInput{})
		wantInternal(t, err, service.ErrNoSnapshotStore)
	})
}

func TestService_DescribeDBSnapshots_Paging(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	var want, wantSolo []string
	for i := range 45 {
		id, source := fmt.Sprintf("p%02d", i), "pg-main-1"
		if i%2 == 0 {
			source = "Solo"
			wantSolo = append(wantSolo, id)
		}
		seedSnapshot(t, b, export.SnapshotKindDB, id, source, "postgres", export.SnapshotTypeManual, export.SnapshotAvailable)
		seedSnapshot(t, b, export.SnapshotKindCluster, id, "pg-main", "aurora-postgresql", export.SnapshotTypeManual, export.SnapshotAvailable)
		want = append(want, id)
	}
	pages := func(t *testing.T, in service.DescribeDBSnapshotsInput) ([]string, []int) {
		t.Helper()
		var got []string
		var sizes []int
		seen := map[string]bool{}
		for {
			out, err := s.DescribeDBSnapshots(callerCtx(t), in)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, snapshotIDs(out.DBSnapshots)...)
			sizes = append(sizes, len(out.DBSnapshots))
			if out.Marker == "" {
				return got, sizes
			}
			if seen[out.Marker] {
				t.Fatalf("marker %q returned twice", out.Marker)
			}
			seen[out.Marker] = true
			in.Marker = ptr(out.Marker)
		}
	}
	t.Run("MaxRecords20", func(t *testing.T) {
		t.Parallel()
		got, sizes := pages(t, service.DescribeDBSnapshotsInput{MaxRecords: ptr(20)})
		if !slices.Equal(got, want) || !slices.Equal(sizes, []int{20, 20, 5}) {
			t.Fatalf("got %q in pages %v", got, sizes)
		}
	})
	t.Run("Default", func(t *testing.T) {
		t.Parallel()
		got, sizes := pages(t, service.DescribeDBSnapshotsInput{})
		if !slices.Equal(got, want) || !slices.Equal(sizes, []int{45}) {
			t.Fatalf("got %q in pages %v", got, sizes)
		}
	})
	t.Run("ExactlyOnePage", func(t *testing.T) {
		t.Parallel()
		got, sizes := pages(t, service.DescribeDBSnapshotsInput{MaxRecords: ptr(45)})
		if !slices.Equal(got, want) || !slices.Equal(sizes, []int{45}) {
			t.Fatalf("got %q in pages %v", got, sizes)
		}
	})
	t.Run("FilteredInMemory", func(t *testing.T) {
		t.Parallel()
		got, sizes := pages(t, service.DescribeDBSnapshotsInput{MaxRecords: ptr(20), DbiResourceId: ptr("db-Solo")})
		if !slices.Equal(got, wantSolo) || !slices.Equal(sizes, []int{20, 3}) {
			t.Fatalf("got %q in pages %v", got, sizes)
		}
	})
	t.Run("FilteredInStore", func(t *testing.T) {
		t.Parallel()
		got, sizes := pages(t, service.DescribeDBSnapshotsInput{MaxRecords: ptr(20), DBInstanceIdentifier: ptr("SOLO")})
		if !slices.Equal(got, wantSolo) || !slices.Equal(sizes, []int{20, 3}) {
			t.Fatalf("got %q in pages %v", got, sizes)
		}
	})
	t.Run("Clusters", func(t *testing.T) {
		t.Parallel()
		in := service.DescribeDBClusterSnapshotsInput{MaxRecords: ptr(20)}
		var got []string
		for {
			out, err := s.DescribeDBClusterSnapshots(callerCtx(t), in)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, snapshotIDs(out.DBClusterSnapshots)...)
			if out.Marker == "" {
				break
			}
			in.Marker = ptr(out.Marker)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("got %q", got)
		}
	})
}

func TestService_DeleteDBSnapshot(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t)
		seedSnapshot(t, b, export.SnapshotKindDB, "s1", "Solo", "postgres", export.SnapshotTypeManual, export.SnapshotAvailable)
		seedSnapshot(t, b, export.SnapshotKindCluster, "s1", "pg-main", "aurora-postgresql", export.SnapshotTypeManual, export.SnapshotAvailable)
		got, err := s.DeleteDBSnapshot(callerCtx(t), "S1")
		if err != nil {
			t.Fatal(err)
		}
		if got.Identifier != "s1" || got.Status != export.SnapshotDeleted || got.Kind != export.SnapshotKindDB ||
			!got.CreateTime.Equal(snapshotTime) || got.SourceIdentifier != "Solo" {
			t.Fatalf("snapshot = %+v", got)
		}
		_, err = b.snapshots.GetSnapshot(t.Context(), testAccount, export.SnapshotKindDB, "s1")
		wantCode(t, err, export.CodeDBSnapshotNotFound, "")
		if _, err := b.snapshots.GetSnapshot(t.Context(), testAccount, export.SnapshotKindCluster, "s1"); err != nil {
			t.Fatalf("the cluster snapshot of the same name is gone: %v", err)
		}
		if _, deleted := b.snapshotter.state(); len(deleted) != 1 || deleted[0].Identifier != "s1" || deleted[0].Kind != export.SnapshotKindDB {
			t.Fatalf("snapshotter deleted %+v", deleted)
		}
		_, err = s.DeleteDBSnapshot(callerCtx(t), "s1")
		wantCode(t, err, export.CodeDBSnapshotNotFound, "DBSnapshot s1 not found.")
	})

	t.Run("Arn", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t)
		seedSnapshot(t, b, export.SnapshotKindDB, automatedID, "Solo", "postgres", export.SnapshotTypeAutomated, export.SnapshotAvailable)
		if _, err := s.DeleteDBSnapshot(callerCtx(t), snapshotARN(automatedID)); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("DataErrorIsLogged", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t)
		b.snapshotter.deleteErr = errors.New("disk gone")
		seedSnapshot(t, b, export.SnapshotKindDB, "s1", "Solo", "postgres", export.SnapshotTypeManual, export.SnapshotAvailable)
		got, err := s.DeleteDBSnapshot(callerCtx(t), "s1")
		if err != nil || got.Status != export.SnapshotDeleted {
			t.Fatalf("got %+v, %v", got, err)
		}
	})

	t.Run("AfterExportEnded", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t)
		seedSnapshot(t, b, export.SnapshotKindDB, "s1", "Solo", "postgres", export.SnapshotTypeManual, export.SnapshotAvailable)
		for i, st := range []export.Status{export.StatusComplete, export.StatusFailed, export.StatusCanceled} {
			seedTask(t, b.store, testAccount, fmt.Sprint("old", i), snapshotARN("s1"), "bkt", export.SourceTypeSnapshot, st)
		}
		seedTask(t, b.store, testAccount, "other", clusterSnapshotARN("s1"), "bkt", export.SourceTypeSnapshot, export.StatusInProgress)
		seedTask(t, b.store, "210987654321", "foreign", "arn:aws:rds:us-east-1:210987654321:snapshot:s1", "bkt", export.SourceTypeSnapshot, export.StatusInProgress)
		if _, err := s.DeleteDBSnapshot(callerCtx(t), "s1"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ErrNoSnapshotStore", func(t *testing.T) {
		t.Parallel()
		s, _ := setupWith(t, func(p *service.Params) { p.Snapshots = nil })
		_, err := s.DeleteDBSnapshot(callerCtx(t), "s1")
		wantInternal(t, err, service.ErrNoSnapshotStore)
	})
	t.Run("ErrNoCaller", func(t *testing.T) {
		t.Parallel()
		s, _ := setup(t)
		_, err := s.DeleteDBSnapshot(t.Context(), "s1")
		wantInternal(t, err, service.ErrNoCaller)
	})

	for _, tc := range []struct {
		name  string
		id    string
		setup func(*testing.T, *testBundle)
		code  string
		msg   string
	}{
		{"Missing", "", nil, export.CodeMissingParameter, "The request must contain the parameter DBSnapshotIdentifier"},
		{"NotFound", "nope", nil, export.CodeDBSnapshotNotFound, "DBSnapshot nope not found."},
		{"ClusterSnapshotIsNotADBSnapshot", "c1", func(t *testing.T, b *testBundle) {
			seedSnapshot(t, b, export.SnapshotKindCluster, "c1", "pg-main", "aurora-postgresql", export.SnapshotTypeManual, export.SnapshotAvailable)
		}, export.CodeDBSnapshotNotFound, ""},
		{"OtherAccountArn", "arn:aws:rds:us-east-1:210987654321:snapshot:s1", nil, export.CodeDBSnapshotNotFound, ""},
		{"WrongArnType", clusterSnapshotARN("s1"), nil, export.CodeInvalidParameterValue, ""},
		{"Creating", "s1", func(t *testing.T, b *testBundle) {
			seedSnapshot(t, b, export.SnapshotKindDB, "s1", "Solo", "postgres", export.SnapshotTypeManual, export.SnapshotCreating)
		}, export.CodeInvalidDBSnapshotState, "Cannot delete the snapshot s1 because it is being created; only available snapshots, and creating ones still waiting for their turn, can be deleted."},
		{"Failed", "s1", func(t *testing.T, b *testBundle) {
			seedSnapshot(t, b, export.SnapshotKindDB, "s1", "Solo", "postgres", export.SnapshotTypeManual, export.SnapshotFailed)
		}, export.CodeInvalidDBSnapshotState, ""},
		{"BeingExported", "s1", func(t *testing.T, b *testBundle) {
			seedSnapshot(t, b, export.SnapshotKindDB, "s1", "Solo", "postgres", export.SnapshotTypeManual, export.SnapshotAvailable)
			seedTask(t, b.store, testAccount, "exp", snapshotARN("S1"), "bkt", export.SourceTypeSnapshot, export.StatusInProgress)
		}, export.CodeInvalidDBSnapshotState, "Cannot delete the snapshot s1 because the export task exp is reading it (status IN_PROGRESS)."},
		{"ExportStarting", "s1", func(t *testing.T, b *testBundle) {
			seedSnapshot(t, b, export.SnapshotKindDB, "s1", "Solo", "postgres", export.SnapshotTypeManual, export.SnapshotAvailable)
			seedTask(t, b.store, testAccount, "exp", snapshotARN("s1"), "bkt", export.SourceTypeSnapshot, export.StatusStarting)
		}, export.CodeInvalidDBSnapshotState, ""},
		{"ExportCanceling", "s1", func(t *testing.T, b *testBundle) {
			seedSnapshot(t, b, export.SnapshotKindDB, "s1", "Solo", "postgres", export.SnapshotTypeManual, export.SnapshotAvailable)
			seedTask(t, b.store, testAccount, "exp", snapshotARN("s1"), "bkt", export.SourceTypeSnapshot, export.StatusCanceling)
		}, export.CodeInvalidDBSnapshotState, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, b := setup(t)
			if tc.setup != nil {
				tc.setup(t, b)
			}
			before, _ := b.snapshots.ListSnapshots(t.Context(), export.SnapshotFilter{AccountID: testAccount})
			_, err := s.DeleteDBSnapshot(callerCtx(t), tc.id)
			wantCode(t, err, tc.code, tc.msg)
			after, _ := b.snapshots.ListSnapshots(t.Context(), export.SnapshotFilter{AccountID: testAccount})
			if len(after) != len(before) {
				t.Fatal("a failed delete removed a snapshot")
			}
			if _, deleted := b.snapshotter.state(); len(deleted) != 0 {
				t.Fatal("a failed delete removed data")
			}
		})
	}
}

func TestService_DeleteDBClusterSnapshot(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t)
		seedSnapshot(t, b, export.SnapshotKindCluster, "c1", "pg-main", "aurora-postgresql", export.SnapshotTypeManual, export.SnapshotAvailable)
		got, err := s.DeleteDBClusterSnapshot(callerCtx(t), clusterSnapshotARN("C1"))
		if err != nil {
			t.Fatal(err)
		}
		// AWS shows the status before the delete (spec §4.6).
		if got.Identifier != "c1" || got.Status != export.SnapshotAvailable || got.Kind != export.SnapshotKindCluster {
			t.Fatalf("snapshot = %+v", got)
		}
		out, err := s.DescribeDBClusterSnapshots(callerCtx(t), service.DescribeDBClusterSnapshotsInput{})
		if err != nil || len(out.DBClusterSnapshots) != 0 {
			t.Fatalf("after delete: %+v, %v", out, err)
		}
		_, err = s.DescribeDBClusterSnapshots(callerCtx(t), service.DescribeDBClusterSnapshotsInput{DBClusterSnapshotIdentifier: ptr("c1")})
		wantCode(t, err, export.CodeDBClusterSnapshotNotFound, "")
		if _, deleted := b.snapshotter.state(); len(deleted) != 1 {
			t.Fatalf("snapshotter deleted %+v", deleted)
		}
	})

	for _, tc := range []struct {
		name  string
		id    string
		setup func(*testing.T, *testBundle)
		code  string
	}{
		{"Missing", "", nil, export.CodeMissingParameter},
		{"NotFound", "nope", nil, export.CodeDBClusterSnapshotNotFound},
		{"DBSnapshotIsNotAClusterSnapshot", "s1", func(t *testing.T, b *testBundle) {
			seedSnapshot(t, b, export.SnapshotKindDB, "s1", "Solo", "postgres", export.SnapshotTypeManual, export.SnapshotAvailable)
		}, export.CodeDBClusterSnapshotNotFound},
		{"Creating", "c1", func(t *testing.T, b *testBundle) {
			seedSnapshot(t, b, export.SnapshotKindCluster, "c1", "pg-main", "aurora-postgresql", export.SnapshotTypeManual, export.SnapshotCreating)
		}, export.CodeInvalidDBClusterSnapshotState},
		{"BeingExported", "c1", func(t *testing.T, b *testBundle) {
			seedSnapshot(t, b, export.SnapshotKindCluster, "c1", "pg-main", "aurora-postgresql", export.SnapshotTypeManual, export.SnapshotAvailable)
			seedTask(t, b.store, testAccount, "exp", clusterSnapshotARN("c1"), "bkt", export.SourceTypeSnapshot, export.StatusInProgress)
		}, export.CodeInvalidDBClusterSnapshotState},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, b := setup(t)
			if tc.setup != nil {
				tc.setup(t, b)
			}
			_, err := s.DeleteDBClusterSnapshot(callerCtx(t), tc.id)
			wantCode(t, err, tc.code, "")
		})
	}
}

func TestService_StartExportTask_Snapshots(t *testing.T) {
	t.Parallel()

	start := func(id, source string) service.StartExportTaskInput {
		in := validStart(id)
		in.SourceArn = source
		return in
	}
	t.Run("DBSnapshot", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t)
		seedSnapshot(t, b, export.SnapshotKindDB, "s1", "Solo", "postgres", export.SnapshotTypeManual, export.SnapshotAvailable)
		in := start("exp", snapshotARN("S1"))
		in.ExportOnly = []string{"app.public.t1"}
		got, err := s.StartExportTask(callerCtx(t), in)
		if err != nil {
			t.Fatal(err)
		}
		if got.SourceType != export.SourceTypeSnapshot || !got.SnapshotTime.Equal(snapshotTime) || got.SourceArn != snapshotARN("S1") ||
			got.Status != export.StatusStarting {
			t.Fatalf("task = %+v", got)
		}
	})
	t.Run("ClusterSnapshot", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t)
		seedSnapshot(t, b, export.SnapshotKindCluster, "c1", "my-main", "aurora-mysql", export.SnapshotTypeManual, export.SnapshotAvailable)
		in := start("exp", clusterSnapshotARN("c1"))
		in.ExportOnly = []string{"shop.orders"}
		got, err := s.StartExportTask(callerCtx(t), in)
		if err != nil {
			t.Fatal(err)
		}
		if got.SourceType != export.SourceTypeSnapshot || !got.SnapshotTime.Equal(snapshotTime) {
			t.Fatalf("task = %+v", got)
		}
	})
	t.Run("AutomatedSnapshot", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t)
		seedSnapshot(t, b, export.SnapshotKindDB, "rds:db1-2026-11-27-08-00", "Solo", "postgres", export.SnapshotTypeAutomated, export.SnapshotAvailable)
		if _, err := s.StartExportTask(callerCtx(t), start("exp", snapshotARN("rds:db1-2026-11-27-08-00"))); err != nil {
			t.Fatal(err)
		}
	})

	for _, tc := range []struct {
		name  string
		in    service.StartExportTaskInput
		setup func(*testing.T, *testBundle)
		code  string
		msg   string
	}{
		{"SnapshotNotFound", start("exp", snapshotARN("nope")), nil, export.CodeDBSnapshotNotFound, "DBSnapshot nope not found."},
		{"ClusterSnapshotIsNotADBSnapshot", start("exp", snapshotARN("c1")), func(t *testing.T, b *testBundle) {
			seedSnapshot(t, b, export.SnapshotKindCluster, "c1", "pg-main", "aurora-postgresql", export.SnapshotTypeManual, export.SnapshotAvailable)
		}, export.CodeDBSnapshotNotFound, ""},
		{"ClusterSnapshotNotFound", start("exp", clusterSnapshotARN("nope")), nil, export.CodeDBClusterSnapshotNotFound, "DBClusterSnapshot nope not found."},
		{"SnapshotOfOtherRegion", start("exp", "arn:aws:rds:eu-west-1:123456789012:snapshot:s1"), func(t *testing.T, b *testBundle) {
			seedSnapshot(t, b, export.SnapshotKindDB, "s1", "Solo", "postgres", export.SnapshotTypeManual, export.SnapshotAvailable)
		}, export.CodeDBSnapshotNotFound, "DBSnapshot arn:aws:rds:eu-west-1:123456789012:snapshot:s1 not found."},
		{"SnapshotCreating", start("exp", snapshotARN("s1")), func(t *testing.T, b *testBundle) {
			seedSnapshot(t, b, export.SnapshotKindDB, "s1", "Solo", "postgres", export.SnapshotTypeManual, export.SnapshotCreating)
		}, export.CodeInvalidExportSourceState, "DBSnapshot s1 is not available for export: its status is creating."},
		{"ClusterSnapshotFailed", start("exp", clusterSnapshotARN("c1")), func(t *testing.T, b *testBundle) {
			seedSnapshot(t, b, export.SnapshotKindCluster, "c1", "pg-main", "aurora-postgresql", export.SnapshotTypeManual, export.SnapshotFailed)
		}, export.CodeInvalidExportSourceState, ""},
		{"SnapshotUnsupportedEngine", start("exp", snapshotARN("s1")), func(t *testing.T, b *testBundle) {
			seedSnapshot(t, b, export.SnapshotKindDB, "s1", "ora", "oracle-ee", export.SnapshotTypeManual, export.SnapshotAvailable)
		}, export.CodeInvalidExportSourceState, "The engine oracle-ee of DBSnapshot s1 doesn't support exporting data to Amazon S3."},
		{"SnapshotBusy", start("exp", snapshotARN("s1")), func(t *testing.T, b *testBundle) {
			seedSnapshot(t, b, export.SnapshotKindDB, "s1", "Solo", "postgres", export.SnapshotTypeManual, export.SnapshotAvailable)
			seedTask(t, b.store, testAccount, "running", snapshotARN("S1"), "bkt", export.SourceTypeSnapshot, export.StatusInProgress)
		}, export.CodeExportTaskAlreadyExists, ""},
		{"BusyBeatsNotAvailable", start("exp", snapshotARN("s1")), func(t *testing.T, b *testBundle) {
			seedSnapshot(t, b, export.SnapshotKindDB, "s1", "Solo", "postgres", export.SnapshotTypeManual, export.SnapshotCreating)
			seedTask(t, b.store, testAccount, "running", snapshotARN("s1"), "bkt", export.SourceTypeSnapshot, export.StatusStarting)
		}, export.CodeExportTaskAlreadyExists, ""},
		{"ExportOnlyOfMySQLSnapshot", func() service.StartExportTaskInput {
			in := start("exp", snapshotARN("s1"))
			in.ExportOnly = []string{"db.schema.table"}
			return in
		}(), func(t *testing.T, b *testBundle) {
			seedSnapshot(t, b, export.SnapshotKindDB, "s1", "my-main-1", "mysql", export.SnapshotTypeManual, export.SnapshotAvailable)
		}, export.CodeInvalidExportOnly, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, b := setup(t)
			if tc.setup != nil {
				tc.setup(t, b)
			}
			_, err := s.StartExportTask(callerCtx(t), tc.in)
			wantCode(t, err, tc.code, tc.msg)
		})
	}

	t.Run("NoSnapshotStore", func(t *testing.T) {
		t.Parallel()
		s, _ := setupWith(t, func(p *service.Params) { p.Snapshots = nil })
		_, err := s.StartExportTask(callerCtx(t), start("exp", snapshotARN("s1")))
		wantCode(t, err, export.CodeDBSnapshotNotFound, "DBSnapshot s1 not found.")
	})
}
