package service_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/service"
)

const identifierMessage = "The parameter ExportTaskIdentifier is not a valid identifier. Identifiers must begin with a letter; " +
	"must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens."

func TestService_StartExportTask(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t)
		in := validStart("My-Export-1")
		in.S3Prefix = ptr("exports/daily")
		in.ExportOnly = []string{"db1", "db1.public", "db1", "db2.s.t"}
		got, err := s.StartExportTask(callerCtx(t), in)
		if err != nil {
			t.Fatal(err)
		}
		wantTime := testNow.Truncate(time.Microsecond)
		switch {
		case got.Identifier != "My-Export-1", got.AccountID != testAccount, got.Region != testRegion,
			got.SourceArn != in.SourceArn, got.SourceType != export.SourceTypeCluster,
			got.Status != export.StatusStarting, got.S3Bucket != "bkt", got.S3Prefix != "exports/daily",
			got.IamRoleArn != testRole, got.KmsKeyID != in.KmsKeyId,
			!got.TaskStartTime.Equal(wantTime), !got.SnapshotTime.Equal(wantTime), !got.TaskEndTime.IsZero(),
			got.PercentProgress != 0, got.TotalExtractedDataInGB() != 0, got.Seq == 0:
			t.Fatalf("task = %+v", got)
		}
		if strings.Join(got.ExportOnly, ",") != "db1,db1.public,db1,db2.s.t" {
			t.Fatalf("ExportOnly = %q, want the list as given", got.ExportOnly)
		}
		stored, err := b.store.GetTask(t.Context(), testAccount, "My-Export-1")
		if err != nil {
			t.Fatal(err)
		}
		if stored.Status != export.StatusStarting || stored.Seq != got.Seq || len(stored.ExportOnly) != 4 {
			t.Fatalf("stored = %+v", stored)
		}
		if wakes, _ := b.runner.state(); wakes != 1 {
			t.Fatalf("wakes = %d, want 1", wakes)
		}
	})

	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()
		s, _ := setup(t)
		for i, eo := range [][]string{nil, {}} {
			in := validStart("defaults-" + string(rune('a'+i)))
			in.SourceArn = clusterARN("maria")
			if i == 1 {
				in.SourceArn = clusterARN("my-main")
			}
			in.ExportOnly = eo
			got, err := s.StartExportTask(callerCtx(t), in)
			if err != nil {
				t.Fatal(err)
			}
			if got.ExportOnly != nil || got.S3Prefix != "" {
				t.Fatalf("ExportOnly = %#v, S3Prefix = %q; want nil and empty", got.ExportOnly, got.S3Prefix)
			}
		}
	})

	t.Run("ClusterIdentifierCaseInsensitive", func(t *testing.T) {
		t.Parallel()
		s, _ := setup(t)
		for _, id := range []string{"PG-MAIN", "mixedcase"} {
			in := validStart("case-" + id)
			in.SourceArn = clusterARN(id)
			got, err := s.StartExportTask(callerCtx(t), in)
			if err != nil {
				t.Fatalf("%s: %v", id, err)
			}
			if got.SourceArn != in.SourceArn {
				t.Fatalf("SourceArn = %s, want as given", got.SourceArn)
			}
		}
	})

	t.Run("ValidIdentifiers", func(t *testing.T) {
		t.Parallel()
		s, _ := setup(t)
		for i, id := range []string{"a", "A1", "a-b-c", "x" + strings.Repeat("1", 59)} {
			in := validStart(id)
			in.SourceArn = clusterARN([]string{"pg-main", "maria", "my-main", "MixedCase"}[i])
			if _, err := s.StartExportTask(callerCtx(t), in); err != nil {
				t.Fatalf("%q: %v", id, err)
			}
		}
	})

	t.Run("ErrNoCaller", func(t *testing.T) {
		t.Parallel()
		s, _ := setup(t)
		_, err := s.StartExportTask(t.Context(), validStart("x"))
		if !errors.Is(err, service.ErrNoCaller) || export.ErrorCode(err) != export.CodeInternalFailure {
			t.Fatalf("err = %v, want ErrNoCaller", err)
		}
	})

	type edit func(*testing.T, *service.StartExportTaskInput, *testBundle)
	cases := []struct {
		name string
		edit edit
		code string
		msg  string
	}{
		// 1. MissingParameter, in model order.
		{"MissingIdentifier", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) { in.ExportTaskIdentifier = "" },
			export.CodeMissingParameter, "The request must contain the parameter ExportTaskIdentifier"},
		{"MissingSourceArn", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) { in.SourceArn = "" },
			export.CodeMissingParameter, "The request must contain the parameter SourceArn"},
		{"MissingBucket", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) { in.S3BucketName = "" },
			export.CodeMissingParameter, "The request must contain the parameter S3BucketName"},
		{"MissingRole", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) { in.IamRoleArn = "" },
			export.CodeMissingParameter, "The request must contain the parameter IamRoleArn"},
		{"MissingKms", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) { in.KmsKeyId = "" },
			export.CodeMissingParameter, "The request must contain the parameter KmsKeyId"},
		{"MissingSeveral", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) {
			in.KmsKeyId, in.SourceArn = "", ""
		},
			export.CodeMissingParameter, "The request must contain the parameter SourceArn"},
		{"MissingBeatsBadIdentifier", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) {
			in.ExportTaskIdentifier, in.IamRoleArn = "1x", ""
		},
			export.CodeMissingParameter, "The request must contain the parameter IamRoleArn"},

		// 2. Identifier syntax.
		{"IdentifierDigitFirst", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) { in.ExportTaskIdentifier = "1abc" },
			export.CodeInvalidParameterValue, identifierMessage},
		{"IdentifierHyphenFirst", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) { in.ExportTaskIdentifier = "-abc" },
			export.CodeInvalidParameterValue, identifierMessage},
		{"IdentifierTrailingHyphen", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) { in.ExportTaskIdentifier = "abc-" },
			export.CodeInvalidParameterValue, identifierMessage},
		{"IdentifierDoubleHyphen", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) { in.ExportTaskIdentifier = "a--b" },
			export.CodeInvalidParameterValue, identifierMessage},
		{"IdentifierUnderscore", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) { in.ExportTaskIdentifier = "a_b" },
			export.CodeInvalidParameterValue, identifierMessage},
		{"IdentifierNonASCII", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) { in.ExportTaskIdentifier = "café" },
			export.CodeInvalidParameterValue, identifierMessage},
		{"IdentifierSpace", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) { in.ExportTaskIdentifier = " a" },
			export.CodeInvalidParameterValue, identifierMessage},
		{"IdentifierTooLong", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) {
			in.ExportTaskIdentifier = "x" + strings.Repeat("1", 60)
		},
			export.CodeInvalidParameterValue, identifierMessage},

		// 3. SourceArn and S3Prefix syntax.
		{"ArnGarbage", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) { in.SourceArn = "pg-main" },
			export.CodeInvalidParameterValue, ""},
		{"ArnInstance", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) {
			in.SourceArn = "arn:aws:rds:us-east-1:123456789012:db:pg-main-1"
		}, export.CodeInvalidParameterValue, ""},
		{"ArnOtherService", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) { in.SourceArn = "arn:aws:s3:::bkt" },
			export.CodeInvalidParameterValue, ""},
		{"ArnNoID", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) {
			in.SourceArn = "arn:aws:rds:us-east-1:123456789012:cluster:"
		}, export.CodeInvalidParameterValue, ""},
		{"PrefixColon", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) { in.S3Prefix = ptr("a:b") },
			export.CodeInvalidParameterValue, ""},
		{"PrefixTooLong", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) {
			in.S3Prefix = ptr(strings.Repeat("p/", service.MaxS3PrefixBytes/2) + "x")
		}, export.CodeInvalidParameterValue, "The parameter S3Prefix is not valid: it is 257 bytes long; the maximum is 256 bytes."},
		{"PrefixHuge", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) {
			in.S3Prefix = ptr(strings.Repeat("a:", 450<<10))
		}, export.CodeInvalidParameterValue, "The parameter S3Prefix is not valid: it is 921600 bytes long; the maximum is 256 bytes."},
		{"ArnOtherPartition", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) {
			in.SourceArn = "arn:aws-cn:rds:us-east-1:123456789012:cluster:pg-main"
		}, export.CodeInvalidParameterValue, ""},
		{"ArnGovPartition", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) {
			in.SourceArn = "arn:aws-us-gov:rds:us-east-1:123456789012:snapshot:s1"
		}, export.CodeInvalidParameterValue, ""},
		{"ArnTooLong", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) {
			in.SourceArn = clusterARN(strings.Repeat("a", 3000))
		}, export.CodeInvalidParameterValue, "The parameter SourceArn is not valid: it is 3043 bytes long; an ARN has at most 2048."},
		{"BadIdentifierBeatsBadArn", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) {
			in.ExportTaskIdentifier, in.SourceArn = "a--b", "nope"
		}, export.CodeInvalidParameterValue, identifierMessage},

		// 4. Source existence.
		{"SnapshotNotFound", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) {
			in.SourceArn = "arn:aws:rds:us-east-1:123456789012:snapshot:s1"
		}, export.CodeDBSnapshotNotFound, "DBSnapshot s1 not found."},
		{"AutomatedSnapshotNotFound", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) {
			in.SourceArn = "arn:aws:rds:us-east-1:123456789012:snapshot:rds:db1-2026-11-27-08-00"
		}, export.CodeDBSnapshotNotFound, "DBSnapshot rds:db1-2026-11-27-08-00 not found."},
		{"ClusterSnapshotNotFound", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) {
			in.SourceArn = "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:cs1"
		}, export.CodeDBClusterSnapshotNotFound, "DBClusterSnapshot cs1 not found."},
		{"ClusterNotFound", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) { in.SourceArn = clusterARN("nope") },
			export.CodeDBClusterNotFound, "DBCluster nope not found."},
		{"ClusterOfOtherAccount", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) {
			in.SourceArn = "arn:aws:rds:us-east-1:210987654321:cluster:other"
		}, export.CodeDBClusterNotFound, "DBCluster arn:aws:rds:us-east-1:210987654321:cluster:other not found."},
		{"ClusterOfOtherRegion", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) {
			in.SourceArn = "arn:aws:rds:eu-west-1:123456789012:cluster:pg-main"
		}, export.CodeDBClusterNotFound, "DBCluster arn:aws:rds:eu-west-1:123456789012:cluster:pg-main not found."},
		{"PrefixBeatsNotFound", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) {
			in.SourceArn, in.S3Prefix = clusterARN("nope"), ptr("x:y")
		}, export.CodeInvalidParameterValue, ""},

		// 5. Identifier taken, source busy.
		{"IdentifierTaken", func(t *testing.T, in *service.StartExportTaskInput, b *testBundle) {
			seedTask(t, b.store, testAccount, in.ExportTaskIdentifier, clusterARN("maria"), "bkt", export.SourceTypeCluster, export.StatusComplete)
		}, export.CodeExportTaskAlreadyExists, "The export task with the ID exp-1 already exists."},
		{"SourceBusy", func(t *testing.T, in *service.StartExportTaskInput, b *testBundle) {
			seedTask(t, b.store, testAccount, "running", in.SourceArn, "bkt", export.SourceTypeCluster, export.StatusInProgress)
		}, export.CodeExportTaskAlreadyExists, ""},
		{"SourceBusyCanceling", func(t *testing.T, in *service.StartExportTaskInput, b *testBundle) {
			seedTask(t, b.store, testAccount, "stopping", in.SourceArn, "bkt", export.SourceTypeCluster, export.StatusCanceling)
		}, export.CodeExportTaskAlreadyExists, ""},
		{"SourceBusyOtherCase", func(t *testing.T, in *service.StartExportTaskInput, b *testBundle) {
			seedTask(t, b.store, testAccount, "running", clusterARN("PG-Main"), "bkt", export.SourceTypeCluster, export.StatusStarting)
		}, export.CodeExportTaskAlreadyExists, ""},
		// A task started in another region the server serves reads the
		// same cluster.
		{"SourceBusyOtherRegion", func(t *testing.T, in *service.StartExportTaskInput, b *testBundle) {
			seedTask(t, b.store, testAccount, "running", "arn:aws:rds:eu-west-1:123456789012:cluster:pg-main", "bkt", export.SourceTypeCluster, export.StatusInProgress)
		}, export.CodeExportTaskAlreadyExists, "The export task running for the source arn:aws:rds:eu-west-1:123456789012:cluster:pg-main is already running."},
		{"TakenBeatsSourceState", func(t *testing.T, in *service.StartExportTaskInput, b *testBundle) {
			seedTask(t, b.store, testAccount, in.ExportTaskIdentifier, clusterARN("maria"), "bkt", export.SourceTypeCluster, export.StatusFailed)
			in.SourceArn = clusterARN("ora")
		}, export.CodeExportTaskAlreadyExists, ""},

		// 6. Source state.
		{"UnsupportedEngine", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) { in.SourceArn = clusterARN("ora") },
			export.CodeInvalidExportSourceState, ""},
		{"ClusterNotAvailable", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) {
			in.SourceArn = clusterARN("busy-pg")
		},
			export.CodeInvalidExportSourceState, ""},
		{"SourceStateBeatsExportOnly", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) {
			in.SourceArn, in.ExportOnly = clusterARN("busy-pg"), []string{"a-b"}
		}, export.CodeInvalidExportSourceState, ""},

		// 7. ExportOnly.
		{"ExportOnlyBadName", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) {
			in.ExportOnly = []string{"db", "my-db"}
		},
			export.CodeInvalidExportOnly, ""},
		{"ExportOnlyEmptyPart", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) { in.ExportOnly = []string{"db..t"} },
			export.CodeInvalidExportOnly, ""},
		{"ExportOnlyEmptyEntry", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) { in.ExportOnly = []string{""} },
			export.CodeInvalidExportOnly, ""},
		{"ExportOnlyFourPartsPostgres", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) {
			in.ExportOnly = []string{"a.b.c.d"}
		},
			export.CodeInvalidExportOnly, ""},
		{"ExportOnlyThreePartsMySQL", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) {
			in.SourceArn, in.ExportOnly = clusterARN("my-main"), []string{"db.s.t"}
		}, export.CodeInvalidExportOnly, ""},
		{"ExportOnlyThreePartsMariaDB", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) {
			in.SourceArn, in.ExportOnly = clusterARN("maria"), []string{"db.t", "db.s.t"}
		}, export.CodeInvalidExportOnly, ""},
		{"ExportOnlyTooLarge", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) {
			in.ExportOnly = []string{strings.Repeat("a", service.MaxExportOnlyBytes), "b"}
		}, export.CodeInvalidExportOnly, ""},
		{"ExportOnlyBeatsBucket", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) {
			in.ExportOnly, in.S3BucketName = []string{"x y"}, "missing"
		}, export.CodeInvalidExportOnly, ""},

		// 8. Bucket.
		{"BucketMissing", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) { in.S3BucketName = "missing" },
			export.CodeInvalidS3Bucket, "The S3 bucket missing isn't valid. Either it isn't located in the current AWS Region or it doesn't exist. Review your S3 bucket name and retry the export."},
		{"BucketOfAnotherAccount", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) { in.S3BucketName = "foreign-bkt" },
			export.CodeInvalidS3Bucket, "The IAM role arn:aws:iam::123456789012:role/rds-s3-export isn't authorized to call s3:PutObject on the S3 bucket foreign-bkt: the bucket belongs to another account. Review your permissions and retry the export."},
		{"BucketError", func(t *testing.T, in *service.StartExportTaskInput, b *testBundle) {
			b.buckets.err = errors.New("connection refused")
		},
			export.CodeInvalidS3Bucket, ""},
		{"BucketBeatsRole", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) {
			in.S3BucketName, in.IamRoleArn = "missing", "role"
		},
			export.CodeInvalidS3Bucket, ""},

		// 9. Role.
		{"RoleNotArn", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) { in.IamRoleArn = "rds-s3-export" },
			export.CodeIamRoleNotFound, "IAM role rds-s3-export not found."},
		{"RoleShortAccount", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) {
			in.IamRoleArn = "arn:aws:iam::1234:role/r"
		},
			export.CodeIamRoleNotFound, ""},
		{"RoleUser", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) {
			in.IamRoleArn = "arn:aws:iam::123456789012:user/r"
		},
			export.CodeIamRoleNotFound, ""},
		{"RoleEmptyName", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) {
			in.IamRoleArn = "arn:aws:iam::123456789012:role/"
		},
			export.CodeIamRoleNotFound, ""},
		{"RoleOtherPartition", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) {
			in.IamRoleArn = "arn:aws-cn:iam::123456789012:role/r"
		},
			export.CodeIamRoleNotFound, ""},
		{"RoleTooLong", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) {
			in.IamRoleArn = testRole + strings.Repeat("r", 2049-len(testRole))
		},
			export.CodeIamRoleNotFound, "IAM role not found: the role ARN is 2049 bytes long; a role ARN has at most 2048."},
		{"RoleBeatsKms", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) {
			in.IamRoleArn, in.KmsKeyId = "r", " "
		},
			export.CodeIamRoleNotFound, ""},

		// 10. KMS key.
		{"KmsBlank", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) { in.KmsKeyId = "  \t" },
			export.CodeKMSKeyNotAccessible, ""},
		{"KmsTooLong", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) {
			in.KmsKeyId = "alias/" + strings.Repeat("k", 2043)
		},
			export.CodeKMSKeyNotAccessible, "The KMS key is not accessible: the key identifier is 2049 bytes long; a key identifier has at most 2048."},

		// The example of the brief: a bad identifier and an unknown bucket.
		{"BadIdentifierAndUnknownBucket", func(t *testing.T, in *service.StartExportTaskInput, _ *testBundle) {
			in.ExportTaskIdentifier, in.S3BucketName = "bad--id", "missing"
		}, export.CodeInvalidParameterValue, identifierMessage},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, b := setup(t)
			in := validStart("exp-1")
			tc.edit(t, &in, b)
			before, _ := b.store.ListTasks(t.Context(), export.TaskFilter{AccountID: testAccount})
			_, err := s.StartExportTask(callerCtx(t), in)
			wantCode(t, err, tc.code, tc.msg)
			after, _ := b.store.ListTasks(t.Context(), export.TaskFilter{AccountID: testAccount})
			if len(after) != len(before) {
				t.Fatalf("a failed start created a task: %d -> %d", len(before), len(after))
			}
			if wakes, _ := b.runner.state(); wakes != 0 {
				t.Fatalf("a failed start woke the runner %d times", wakes)
			}
		})
	}

	t.Run("SourceFreeAfterTerminal", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t)
		for i, st := range []export.Status{export.StatusComplete, export.StatusFailed, export.StatusCanceled} {
			seedTask(t, b.store, testAccount, "old-"+string(rune('a'+i)), clusterARN("pg-main"), "bkt", export.SourceTypeCluster, st)
		}
		if _, err := s.StartExportTask(callerCtx(t), validStart("new")); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("OtherAccountDoesNotConflict", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t)
		seedTask(t, b.store, "210987654321", "exp-1", clusterARN("pg-main"), "bkt", export.SourceTypeCluster, export.StatusInProgress)
		if _, err := s.StartExportTask(callerCtx(t), validStart("exp-1")); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("CancelDoesNotFreeIdentifier", func(t *testing.T) {
		t.Parallel()
		s, _ := setup(t)
		ctx := callerCtx(t)
		if _, err := s.StartExportTask(ctx, validStart("exp-1")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CancelExportTask(ctx, "exp-1"); err != nil {
			t.Fatal(err)
		}
		in := validStart("exp-1")
		in.SourceArn = clusterARN("maria")
		_, err := s.StartExportTask(ctx, in)
		wantCode(t, err, export.CodeExportTaskAlreadyExists, "The export task with the ID exp-1 already exists.")
	})

	t.Run("IdentifierCaseSensitive", func(t *testing.T) {
		t.Parallel()
		s, _ := setup(t)
		ctx := callerCtx(t)
		if _, err := s.StartExportTask(ctx, validStart("exp")); err != nil {
			t.Fatal(err)
		}
		in := validStart("EXP")
		in.SourceArn = clusterARN("maria")
		if _, err := s.StartExportTask(ctx, in); err != nil {
			t.Fatalf("identifiers are stored as given and compared case-sensitively: %v", err)
		}
	})

	t.Run("ConcurrentSameIdentifier", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t)
		ctx := callerCtx(t)
		sources := []string{"pg-main", "maria", "my-main", "MixedCase"}
		var wg sync.WaitGroup
		errs := make([]error, len(sources))
		for i, src := range sources {
			wg.Go(func() {
				in := validStart("race")
				in.SourceArn = clusterARN(src)
				_, errs[i] = s.StartExportTask(ctx, in)
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case export.ErrorCode(err) != export.CodeExportTaskAlreadyExists:
				t.Fatalf("err = %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d starts succeeded, want exactly 1", ok)
		}
		if wakes, _ := b.runner.state(); wakes != 1 {
			t.Fatalf("wakes = %d, want 1", wakes)
		}
	})

	t.Run("ErrCatalog", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t)
		b.catalog.err = errors.New("catalog down")
		_, err := s.StartExportTask(callerCtx(t), validStart("x"))
		if export.ErrorCode(err) != export.CodeInternalFailure {
			t.Fatalf("err = %v, want an internal error", err)
		}
	})
}
