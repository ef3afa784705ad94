package pgtaskstore

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/exporttest"
)

// BenchmarkCreateTask times CreateTask alone, from about 8 goroutines for
// one account (they take turns under the account's lock) and from about 8
// goroutines with an account each; and a task's life without work: CreateTask
// then Transition to FAILED (which records the task's event).
//
//	go test -run '^$' -bench CreateTask -count 10 ./internal/pgtaskstore
func BenchmarkCreateTask(b *testing.B) {
	db := exporttest.NewPostgresDB(b, "")
	s, err := New(b.Context(), Params{URL: db.URL, MaxConns: 16})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var n atomic.Int64
	task := func(acct string) *export.Task {
		i := n.Add(1)
		return &export.Task{Identifier: fmt.Sprintf("exp-%d", i), AccountID: acct, Region: "us-east-1",
			SourceArn:  fmt.Sprintf("arn:aws:rds:us-east-1:%s:cluster:c-%d", acct, i),
			SourceType: export.SourceTypeCluster, S3Bucket: "b", TaskStartTime: time.Now()}
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := s.CreateTask(b.Context(), task(benchAccount)); err != nil {
				b.Fatal(err)
			}
		}
	})
	parallel := func(accounts int) func(b *testing.B) {
		return func(b *testing.B) {
			var g atomic.Int64
			// About 8 goroutines, whatever GOMAXPROCS.
			b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0)))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				acct := fmt.Sprintf("%012d", g.Add(1)%int64(accounts))
				for pb.Next() {
					if err := s.CreateTask(b.Context(), task(acct)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
	}
	b.Run("parallel-one-account", parallel(1))
	b.Run("parallel-many-accounts", parallel(1<<20))
	b.Run("create-fail", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			t := task(benchAccount)
			if err := s.CreateTask(b.Context(), t); err != nil {
				b.Fatal(err)
			}
			if _, err := s.Transition(b.Context(), t.AccountID, t.Identifier, []export.Status{export.StatusStarting}, export.StatusFailed, export.TaskUpdate{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
