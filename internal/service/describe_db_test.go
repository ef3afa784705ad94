package service_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/service"
)

func clusterIDs(cs []export.DBCluster) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.Identifier)
	}
	return out
}

func instanceIDs(is []export.DBInstance) []string {
	out := []string{}
	for _, i := range is {
		out = append(out, i.Identifier)
	}
	return out
}

func TestService_DescribeDBClusters(t *testing.T) {
	t.Parallel()
	f := func(name string, values ...string) service.Filter { return service.Filter{Name: name, Values: values} }
	all := []string{"busy-pg", "maria", "MixedCase", "my-main", "ora", "pg-main"}
	cases := []struct {
		name string
		in   service.DescribeDBClustersInput
		want []string
	}{
		{"All", service.DescribeDBClustersInput{}, all},
		{"IncludeSharedIgnored", service.DescribeDBClustersInput{IncludeShared: ptr(true)}, all},
		{"EmptyIdentifierIsAbsent", service.DescribeDBClustersInput{DBClusterIdentifier: ptr("")}, all},
		{"Identifier", service.DescribeDBClustersInput{DBClusterIdentifier: ptr("pg-main")}, []string{"pg-main"}},
		{"IdentifierCaseInsensitive", service.DescribeDBClustersInput{DBClusterIdentifier: ptr("MIXEDCASE")}, []string{"MixedCase"}},
		{"IdentifierARN", service.DescribeDBClustersInput{DBClusterIdentifier: ptr(clusterARN("My-Main"))}, []string{"my-main"}},
		{"IdentifierAndFilters", service.DescribeDBClustersInput{DBClusterIdentifier: ptr("pg-main"),
			Filters: []service.Filter{f("engine", "mysql")}}, []string{}},
		{"FilterClusterID", service.DescribeDBClustersInput{Filters: []service.Filter{f("db-cluster-id", "PG-MAIN", clusterARN("maria"), "nope")}},
			[]string{"maria", "pg-main"}},
		{"FilterClusterIDForeignARN", service.DescribeDBClustersInput{Filters: []service.Filter{
			f("db-cluster-id", "arn:aws:rds:us-east-1:210987654321:cluster:pg-main", "arn:aws:rds:us-east-1:123456789012:db:maria")}},
			[]string{}},
		{"FilterClusterIDTwiceFolded", service.DescribeDBClustersInput{Filters: []service.Filter{
			f("db-cluster-id", "PG-MAIN", "maria"), f("db-cluster-id", "pg-main")}}, []string{"pg-main"}},
		{"FilterEngine", service.DescribeDBClustersInput{Filters: []service.Filter{f("engine", "postgres", "mariadb")}},
			[]string{"busy-pg", "maria", "MixedCase"}},
		{"FilterEngineCaseSensitive", service.DescribeDBClustersInput{Filters: []service.Filter{f("engine", "Postgres")}}, []string{}},
		{"FilterResourceID", service.DescribeDBClustersInput{Filters: []service.Filter{f("db-cluster-resource-id", "cluster-ora")}},
			[]string{"ora"}},
		{"FilterCloneGroup", service.DescribeDBClustersInput{Filters: []service.Filter{f("clone-group-id", "g")}}, []string{}},
		{"FilterDomain", service.DescribeDBClustersInput{Filters: []service.Filter{f("domain", "d-123")}}, []string{}},
		{"FiltersAnd", service.DescribeDBClustersInput{Filters: []service.Filter{
			f("engine", "postgres", "aurora-postgresql"), f("db-cluster-id", "pg-main", "maria", "busy-pg")}},
			[]string{"busy-pg", "pg-main"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, _ := setup(t)
			out, err := s.DescribeDBClusters(callerCtx(t), tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := clusterIDs(out.DBClusters); !slices.Equal(got, tc.want) || out.Marker != "" {
				t.Fatalf("clusters = %v (marker %q), want %v", got, out.Marker, tc.want)
			}
		})
	}

	errCases := []struct {
		name string
		in   service.DescribeDBClustersInput
		code string
		msg  string
	}{
		{"NotFound", service.DescribeDBClustersInput{DBClusterIdentifier: ptr("nope")}, export.CodeDBClusterNotFound, "DBCluster nope not found."},
		{"NotFoundARN", service.DescribeDBClustersInput{DBClusterIdentifier: ptr(clusterARN("nope"))}, export.CodeDBClusterNotFound, ""},
		{"OtherAccountARN", service.DescribeDBClustersInput{DBClusterIdentifier: ptr("arn:aws:rds:us-east-1:210987654321:cluster:other")},
			export.CodeDBClusterNotFound, "DBCluster arn:aws:rds:us-east-1:210987654321:cluster:other not found."},
		{"OtherRegionARN", service.DescribeDBClustersInput{DBClusterIdentifier: ptr("arn:aws:rds:eu-west-1:123456789012:cluster:pg-main")},
			export.CodeDBClusterNotFound, ""},
		{"InstanceARN", service.DescribeDBClustersInput{DBClusterIdentifier: ptr("arn:aws:rds:us-east-1:123456789012:db:pg-main")},
			export.CodeInvalidParameterValue, ""},
		{"OtherPartitionARN", service.DescribeDBClustersInput{DBClusterIdentifier: ptr("arn:aws-cn:rds:us-east-1:123456789012:cluster:pg-main")},
			export.CodeInvalidParameterValue, ""},
		{"MalformedARN", service.DescribeDBClustersInput{DBClusterIdentifier: ptr("arn:aws:rds:pg-main")},
			export.CodeInvalidParameterValue, ""},
		{"MaxRecords", service.DescribeDBClustersInput{MaxRecords: ptr(10)}, export.CodeInvalidParameterValue,
			"Invalid value 10 for MaxRecords. Must be between 20 and 100"},
		{"Marker", service.DescribeDBClustersInput{Marker: ptr("%%%")}, export.CodeInvalidParameterValue, ""},
		{"UnknownFilter", service.DescribeDBClustersInput{Filters: []service.Filter{f("db-instance-id", "x")}},
			export.CodeInvalidParameterValue, "Unrecognized filter name: db-instance-id"},
		{"FilterWithoutValues", service.DescribeDBClustersInput{Filters: []service.Filter{f("engine")}}, export.CodeInvalidParameterValue, ""},
	}
	for _, tc := range errCases {
		t.Run("Err"+tc.name, func(t *testing.T) {
			t.Parallel()
			s, _ := setup(t)
			_, err := s.DescribeDBClusters(callerCtx(t), tc.in)
			wantCode(t, err, tc.code, tc.msg)
		})
	}

	t.Run("ErrCatalog", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t)
		b.catalog.err = errors.New("down")
		if _, err := s.DescribeDBClusters(callerCtx(t), service.DescribeDBClustersInput{}); export.ErrorCode(err) != export.CodeInternalFailure {
			t.Fatalf("err = %v, want an internal error", err)
		}
	})

	t.Run("Paging", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t)
		var many, want []export.DBCluster
		for i := range 45 {
			id := fmt.Sprintf("c%02d", i)
			if i%2 == 1 {
				id = fmt.Sprintf("C%02d", i) // ordering ignores case
			}
			many = append(many, export.DBCluster{Identifier: id, AccountID: testAccount, Engine: "postgres", Status: "available"})
		}
		want = slices.Clone(many)
		slices.Reverse(many) // the service sorts whatever the catalog returns
		b.catalog.clusters[testAccount] = many
		var got []string
		var marker *string
		pages := 0
		for {
			out, err := s.DescribeDBClusters(callerCtx(t), service.DescribeDBClustersInput{MaxRecords: ptr(20), Marker: marker})
			if err != nil {
				t.Fatal(err)
			}
			pages++
			got = append(got, clusterIDs(out.DBClusters)...)
			if out.Marker == "" {
				break
			}
			if marker != nil && *marker == out.Marker {
				t.Fatal("same marker twice")
			}
			marker = ptr(out.Marker)
		}
		if pages != 3 || !slices.Equal(got, clusterIDs(want)) {
			t.Fatalf("%d pages: %v", pages, got)
		}
	})
}

func TestService_DescribeDBInstances(t *testing.T) {
	t.Parallel()
	f := func(name string, values ...string) service.Filter { return service.Filter{Name: name, Values: values} }
	all := []string{"my-main-1", "pg-main-1", "pg-main-2", "Solo"}
	dbARN := func(id string) string { return "arn:aws:rds:us-east-1:123456789012:db:" + id }
	cases := []struct {
		name string
		in   service.DescribeDBInstancesInput
		want []string
	}{
		{"All", service.DescribeDBInstancesInput{}, all},
		{"Identifier", service.DescribeDBInstancesInput{DBInstanceIdentifier: ptr("solo")}, []string{"Solo"}},
		{"IdentifierARN", service.DescribeDBInstancesInput{DBInstanceIdentifier: ptr(dbARN("PG-MAIN-2"))}, []string{"pg-main-2"}},
		{"FilterInstanceID", service.DescribeDBInstancesInput{Filters: []service.Filter{f("db-instance-id", "pg-main-1", dbARN("solo"), clusterARN("my-main-1"))}},
			[]string{"pg-main-1", "Solo"}},
		{"FilterClusterID", service.DescribeDBInstancesInput{Filters: []service.Filter{f("db-cluster-id", "PG-MAIN")}},
			[]string{"pg-main-1", "pg-main-2"}},
		{"FilterClusterIDARN", service.DescribeDBInstancesInput{Filters: []service.Filter{f("db-cluster-id", clusterARN("my-main"))}},
			[]string{"my-main-1"}},
		{"FilterResourceID", service.DescribeDBInstancesInput{Filters: []service.Filter{f("dbi-resource-id", "db-Solo", "db-x")}},
			[]string{"Solo"}},
		{"FilterEngine", service.DescribeDBInstancesInput{Filters: []service.Filter{f("engine", "aurora-postgresql")}},
			[]string{"pg-main-1", "pg-main-2"}},
		{"FilterDomain", service.DescribeDBInstancesInput{Filters: []service.Filter{f("domain", "d-1")}}, []string{}},
		{"FiltersAnd", service.DescribeDBInstancesInput{Filters: []service.Filter{f("db-cluster-id", "pg-main"), f("db-instance-id", "pg-main-2", "solo")}},
			[]string{"pg-main-2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, _ := setup(t)
			out, err := s.DescribeDBInstances(callerCtx(t), tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := instanceIDs(out.DBInstances); !slices.Equal(got, tc.want) || out.Marker != "" {
				t.Fatalf("instances = %v (marker %q), want %v", got, out.Marker, tc.want)
			}
		})
	}

	errCases := []struct {
		name string
		in   service.DescribeDBInstancesInput
		code string
		msg  string
	}{
		{"NotFound", service.DescribeDBInstancesInput{DBInstanceIdentifier: ptr("nope")}, export.CodeDBInstanceNotFound, "DBInstance nope not found."},
		{"OtherAccountARN", service.DescribeDBInstancesInput{DBInstanceIdentifier: ptr("arn:aws:rds:us-east-1:210987654321:db:solo")},
			export.CodeDBInstanceNotFound, ""},
		{"ClusterARN", service.DescribeDBInstancesInput{DBInstanceIdentifier: ptr(clusterARN("pg-main"))}, export.CodeInvalidParameterValue, ""},
		{"MaxRecords", service.DescribeDBInstancesInput{MaxRecords: ptr(1000)}, export.CodeInvalidParameterValue,
			"Invalid value 1000 for MaxRecords. Must be between 20 and 100"},
		{"Marker", service.DescribeDBInstancesInput{Marker: ptr("a b")}, export.CodeInvalidParameterValue, ""},
		{"UnknownFilter", service.DescribeDBInstancesInput{Filters: []service.Filter{f("clone-group-id", "x")}},
			export.CodeInvalidParameterValue, "Unrecognized filter name: clone-group-id"},
		{"FilterWithoutValues", service.DescribeDBInstancesInput{Filters: []service.Filter{f("db-instance-id")}}, export.CodeInvalidParameterValue, ""},
	}
	for _, tc := range errCases {
		t.Run("Err"+tc.name, func(t *testing.T) {
			t.Parallel()
			s, _ := setup(t)
			_, err := s.DescribeDBInstances(callerCtx(t), tc.in)
			wantCode(t, err, tc.code, tc.msg)
		})
	}

	t.Run("Paging", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t)
		var many []export.DBInstance
		for i := range 40 {
			many = append(many, export.DBInstance{Identifier: fmt.Sprintf("i%02d", i), AccountID: testAccount, Engine: "mysql"})
		}
		b.catalog.instances[testAccount] = many
		out, err := s.DescribeDBInstances(callerCtx(t), service.DescribeDBInstancesInput{MaxRecords: ptr(20)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.DBInstances) != 20 || out.Marker != base64.RawURLEncoding.EncodeToString([]byte("i19")) {
			t.Fatalf("first page: %d, marker %q", len(out.DBInstances), out.Marker)
		}
		out, err = s.DescribeDBInstances(callerCtx(t), service.DescribeDBInstancesInput{MaxRecords: ptr(20), Marker: ptr(out.Marker)})
		if err != nil {
			t.Fatal(err)
		}
		if got := instanceIDs(out.DBInstances); len(got) != 20 || got[0] != "i20" || out.Marker != "" {
			t.Fatalf("second page: %v, marker %q", got, out.Marker)
		}
	})
}
