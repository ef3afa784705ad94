package main

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/rdsexport/rdsexport/internal/exporttest"
)

// hungServer accepts connections and never answers, like a database host
// whose server process is stuck.
func hungServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
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
	return ln.Addr().String()
}

// TestCatalog_HungSource: a configured server that never answers costs a
// listing its version timeout once, not on every StartExportTask of the
// other sources, and the healthy ones keep their EngineVersion.
func TestCatalog_HungSource(t *testing.T) {
	db := exporttest.NewPostgresDB(t, "CREATE TABLE t (id int); INSERT INTO t VALUES (1);")
	s := startServer(t, db.URL, func(c *Config) {
		c.Clusters = append(c.Clusters,
			SourceConfig{Identifier: "hung-a", Engine: "aurora-postgresql", URL: "postgres://postgres@" + hungServer(t) + "/postgres"},
			SourceConfig{Identifier: "hung-b", Engine: "aurora-mysql", URL: "mysql://root@" + hungServer(t) + "/"})
	})

	describe := func() (map[string]string, time.Duration) {
		t.Helper()
		start := time.Now()
		out, err := s.RDS.DescribeDBClusters(t.Context(), &rds.DescribeDBClustersInput{})
		if err != nil {
			t.Fatal(err)
		}
		versions := map[string]string{}
		for _, c := range out.DBClusters {
			versions[aws.ToString(c.DBClusterIdentifier)] = aws.ToString(c.EngineVersion)
		}
		return versions, time.Since(start)
	}
	// The two hung servers are asked at once: one timeout, not two.
	versions, took := describe()
	if took > 3500*time.Millisecond {
		t.Errorf("first DescribeDBClusters took %v, want about one 2s timeout", took)
	}
	if versions["pg"] == "" || versions["hung-a"] != "" || versions["hung-b"] != "" || len(versions) != 3 {
		t.Errorf("versions = %v, want pg's only", versions)
	}

	for i := range 3 {
		start := time.Now()
		id := "after-hung-" + string(rune('a'+i))
		s.startExport(t, id, db.Name)
		if took := time.Since(start); took > time.Second {
			t.Errorf("StartExportTask %d took %v with hung sources configured", i, took)
		}
		s.waitStatus(t, id, time.Minute, "COMPLETE")
	}
	if versions, took := describe(); took > time.Second || versions["pg"] == "" {
		t.Errorf("DescribeDBClusters after a failure: %v in %v", versions, took)
	}
}
