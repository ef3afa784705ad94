package main

import (
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/rdsexport/rdsexport/internal/catalog"
	"github.com/rdsexport/rdsexport/internal/exporttest"
)

// hungServer accepts connections and never answers, like a database host
// whose server process is stuck. It returns the address and the times at
// which connections were accepted.
func hungServer(t *testing.T) (string, func() []time.Time) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	var accepted []time.Time
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			accepted = append(accepted, time.Now())
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String(), func() []time.Time {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(accepted)
	}
}

func TestCatalog_HungSource(t *testing.T) {
	db := exporttest.NewPostgresDB(t, "CREATE TABLE t (id int); INSERT INTO t VALUES (1);")
	hungA, acceptedA := hungServer(t)
	hungB, acceptedB := hungServer(t)
	s := startServer(t, db.URL, func(c *Config) {
		c.Clusters = append(c.Clusters,
			SourceConfig{Identifier: "hung-a", Engine: "aurora-postgresql", URL: "postgres://postgres@" + hungA + "/postgres"},
			SourceConfig{Identifier: "hung-b", Engine: "aurora-mysql", URL: "mysql://root@" + hungB + "/"})
	})

	// StartExportTask finds its cluster without asking any server for its
	// version, so the hung ones do not delay it, even before any listing.
	start := time.Now()
	s.startExport(t, "before-describe", db.Name)
	if took := time.Since(start); took > time.Second {
		t.Errorf("first StartExportTask took %v with hung sources configured", took)
	}
	s.waitStatus(t, "before-describe", time.Minute, "COMPLETE")

	describe := func() (map[string]string, time.Duration, error) {
		start := time.Now()
		out, err := s.RDS.DescribeDBClusters(t.Context(), &rds.DescribeDBClustersInput{})
		if err != nil {
			return nil, 0, err
		}
		versions := map[string]string{}
		for _, c := range out.DBClusters {
			versions[aws.ToString(c.DBClusterIdentifier)] = aws.ToString(c.EngineVersion)
		}
		return versions, time.Since(start), nil
	}
	// The first listing asks the two hung servers at once: one timeout,
	// not two. A StartExportTask meanwhile does not wait for it.
	var (
		versions map[string]string
		took     time.Duration
		err      error
		listed   = make(chan struct{})
	)
	go func() {
		defer close(listed)
		versions, took, err = describe()
	}()
	// The listing is under way once both hung servers were asked.
	for deadline := time.Now().Add(10 * time.Second); len(acceptedA()) == 0 || len(acceptedB()) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the listing did not ask the hung servers")
		}
	}
	start = time.Now()
	s.startExport(t, "during-describe", db.Name)
	if took := time.Since(start); took > time.Second {
		t.Errorf("StartExportTask during a listing took %v with hung sources configured", took)
	}
	<-listed
	if err != nil {
		t.Fatal(err)
	}
	if took > 3500*time.Millisecond {
		t.Errorf("first DescribeDBClusters took %v, want about one 2s timeout", took)
	}
	if versions["pg"] == "" || versions["hung-a"] != "" || versions["hung-b"] != "" || len(versions) != 3 {
		t.Errorf("versions = %v, want pg's only", versions)
	}
	s.waitStatus(t, "during-describe", time.Minute, "COMPLETE")

	for i := range 3 {
		start := time.Now()
		id := "after-hung-" + string(rune('a'+i))
		s.startExport(t, id, db.Name)
		if took := time.Since(start); took > time.Second {
			t.Errorf("StartExportTask %d took %v with hung sources configured", i, took)
		}
		s.waitStatus(t, id, time.Minute, "COMPLETE")
	}
	if versions, took, err := describe(); err != nil || took > time.Second || versions["pg"] == "" {
		t.Errorf("DescribeDBClusters after a failure: %v in %v (%v)", versions, took, err)
	}
}

// TestCatalog_SharedServer: sources on one server share one version query,
// and no more than catalog.DefaultMaxVersionLookups servers are asked at once.
func TestCatalog_SharedServer(t *testing.T) {
	db := exporttest.NewPostgresDB(t, "CREATE TABLE t (id int);")
	shared, sharedAccepted := hungServer(t)
	const nOthers = catalog.DefaultMaxVersionLookups + 2
	var others []func() []time.Time
	s := startServer(t, db.URL, func(c *Config) {
		for i := range 12 {
			c.Clusters = append(c.Clusters, SourceConfig{Identifier: fmt.Sprintf("shared-%02d", i),
				Engine: "aurora-postgresql", URL: fmt.Sprintf("postgres://postgres@%s/db%d", shared, i)})
		}
		for i := range nOthers {
			addr, accepted := hungServer(t)
			others = append(others, accepted)
			c.Clusters = append(c.Clusters, SourceConfig{Identifier: fmt.Sprintf("other-%02d", i),
				Engine: "aurora-mysql", URL: "mysql://root@" + addr + "/"})
		}
	})

	begin := time.Now()
	out, err := s.RDS.DescribeDBClusters(t.Context(), &rds.DescribeDBClustersInput{})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(begin)
	if len(out.DBClusters) != 1+12+nOthers {
		t.Fatalf("%d clusters, want %d", len(out.DBClusters), 1+12+nOthers)
	}
	// Two rounds of the 2s timeout: catalog.DefaultMaxVersionLookups servers, then the rest.
	if took < 3*time.Second || took > 6*time.Second {
		t.Errorf("DescribeDBClusters took %v, want two rounds of the 2s version timeout", took)
	}
	// Hung servers hold their slot for the whole timeout: at most
	// catalog.DefaultMaxVersionLookups of them can have been asked in the first second.
	early := 0
	for i, accepted := range append(others, sharedAccepted) {
		a := accepted()
		if len(a) != 1 {
			t.Errorf("hung server %d was connected to %d times, want 1", i, len(a))
		}
		if len(a) > 0 && a[0].Sub(begin) < time.Second {
			early++
		}
	}
	if early > catalog.DefaultMaxVersionLookups {
		t.Errorf("%d hung servers were asked in the first second, want at most %d", early, catalog.DefaultMaxVersionLookups)
	}
}
