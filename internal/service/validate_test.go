package service_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/service"
)

func TestParseExportOnly(t *testing.T) {
	t.Parallel()
	type obj = service.ExportObject
	ok := []struct {
		name    string
		entries []string
		family  string
		want    []obj
	}{
		{"PostgresDatabase", []string{"db1"}, "postgres", []obj{{Database: "db1"}}},
		{"PostgresSchema", []string{"db1.public"}, "postgres", []obj{{Database: "db1", Schema: "public"}}},
		{"PostgresTable", []string{"db1.public.t_1"}, "postgres", []obj{{Database: "db1", Schema: "public", Table: "t_1"}}},
		{"MySQLTable", []string{"db1.t$1"}, "mysql", []obj{{Database: "db1", Table: "t$1"}}},
		{"Duplicates", []string{"a.b", "c", "a.b"}, "mysql", []obj{{Database: "a", Table: "b"}, {Database: "c"}}},
		{"DatabaseCoversTable", []string{"a.t", "a", "b.t"}, "mysql", []obj{{Database: "a"}, {Database: "b", Table: "t"}}},
		{"DatabaseCoversSchema", []string{"a.s.t", "a.s", "a"}, "postgres", []obj{{Database: "a"}}},
		{"SchemaCoversTable", []string{"a.s.t", "a.s", "a.s2.t"}, "postgres",
			[]obj{{Database: "a", Schema: "s"}, {Database: "a", Schema: "s2", Table: "t"}}},
		{"CaseSensitive", []string{"A", "a"}, "postgres", []obj{{Database: "A"}, {Database: "a"}}},
		{"ExactlyAtLimit", []string{strings.Repeat("a", service.MaxExportOnlyBytes-1), "b"}, "postgres",
			[]obj{{Database: strings.Repeat("a", service.MaxExportOnlyBytes-1)}, {Database: "b"}}},
		{"Empty", nil, "mysql", []obj{}},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			got, err := service.ParseExportOnly(tc.entries, tc.family)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	bad := []struct {
		name    string
		entries []string
		family  string
	}{
		{"EmptyEntry", []string{""}, "postgres"},
		{"EmptyPart", []string{"a."}, "postgres"},
		{"LeadingDot", []string{".a"}, "mysql"},
		{"Hyphen", []string{"my-db"}, "postgres"},
		{"Space", []string{"my db"}, "mysql"},
		{"Quote", []string{`"db"`}, "postgres"},
		{"NonLatin", []string{"données"}, "postgres"},
		{"ThreePartsMySQL", []string{"a.b.c"}, "mysql"},
		{"FourPartsPostgres", []string{"a.b.c.d"}, "postgres"},
		{"OverLimit", []string{strings.Repeat("a", service.MaxExportOnlyBytes+1)}, "postgres"},
		{"OverLimitTotal", []string{strings.Repeat("a", service.MaxExportOnlyBytes/2), strings.Repeat("b", service.MaxExportOnlyBytes/2+1)}, "mysql"},
		{"UnknownFamily", []string{"a"}, "oracle"},
	}
	for _, tc := range bad {
		t.Run("Err"+tc.name, func(t *testing.T) {
			_, err := service.ParseExportOnly(tc.entries, tc.family)
			wantCode(t, err, export.CodeInvalidExportOnly, "")
		})
	}
}

func FuzzParseExportOnly(f *testing.F) {
	f.Add("db1\ndb1.public\ndb2.s.t", true)
	f.Add("db1.t\ndb1\ndb1.t", false)
	f.Add("a.b.c", false)
	f.Add("", true)
	f.Add("x..y\n$_$", true)
	f.Fuzz(func(t *testing.T, list string, postgres bool) {
		family := "mysql"
		if postgres {
			family = "postgres"
		}
		entries := strings.Split(list, "\n")
		objs, err := service.ParseExportOnly(entries, family)
		if err != nil {
			if export.ErrorCode(err) != export.CodeInvalidExportOnly {
				t.Fatalf("err = %v, want InvalidExportOnly", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, o := range objs {
			s := o.String()
			if seen[s] {
				t.Fatalf("duplicate %q in %+v", s, objs)
			}
			seen[s] = true
			if !slices.Contains(entries, s) {
				t.Fatalf("object %q is not one of the entries", s)
			}
			if family == "mysql" && o.Schema != "" {
				t.Fatalf("MySQL object with a schema: %+v", o)
			}
		}
		// Every entry is kept or covered by a kept, broader object.
		for _, e := range entries {
			covered := false
			for s := range seen {
				if e == s || strings.HasPrefix(e, s+".") {
					covered = true
				}
			}
			if !covered {
				t.Fatalf("entry %q lost in %+v", e, objs)
			}
		}
	})
}
