package main

import (
	"database/sql"
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// getHealth asks url/health without a signature.
func getHealth(t *testing.T, url string) (int, healthReport) {
	t.Helper()
	resp, err := http.Get(url + "/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	var rep healthReport
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, rep
}

// noSource is a cluster the health tests never connect to.
const noSource = "postgres://postgres@127.0.0.1:1/none"

func TestHealth(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		s := startServer(t, noSource, nil)
		code, rep := getHealth(t, s.URL())
		want := healthReport{Status: "ok", Version: buildVersion(), Store: "ok", S3: "ok"}
		if code != http.StatusOK || rep != want || rep.Version == "" {
			t.Fatalf("GET /health = %d %+v, want 200 %+v", code, rep, want)
		}
	})
	t.Run("StoreLocked", func(t *testing.T) {
		s := startServer(t, noSource, nil)
		// Another process holds SQLite's write lock: nothing can be
		// recorded, so the server is unavailable until it lets go.
		db, err := sql.Open("sqlite", filepath.Join(s.Config.DataDir, "tasks.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		conn, err := db.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(t.Context(), "BEGIN EXCLUSIVE"); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		code, rep := waitHealth(t, s.URL(), http.StatusServiceUnavailable)
		if rep.Status != "unavailable" || rep.Store != "unreachable" || rep.S3 != "ok" {
			t.Fatalf("GET /health = %d %+v", code, rep)
		}
		if d := time.Since(start); d > healthTimeout+healthCacheFor+2*time.Second {
			t.Errorf("the locked store took %s to be reported", d)
		}
		if _, err := conn.ExecContext(t.Context(), "ROLLBACK"); err != nil {
			t.Fatal(err)
		}
		if _, rep := waitHealth(t, s.URL(), http.StatusOK); rep.Status != "ok" {
			t.Fatalf("after the lock: %+v", rep)
		}
	})
	t.Run("S3Unreachable", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Listen = "127.0.0.1:0"
		cfg.DataDir = t.TempDir()
		cfg.S3 = S3Config{Endpoint: "http://127.0.0.1:1", AccessKeyID: "k", SecretAccessKey: "s"}
		m := &Main{Config: cfg, Logger: newLogger(cfg, testLogWriter{t})}
		if err := m.Open(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		code, rep := getHealth(t, m.URL())
		if code != http.StatusOK || rep.Status != "degraded" || rep.S3 != "unreachable" || rep.Store != "ok" {
			t.Fatalf("GET /health = %d %+v, want 200 degraded", code, rep)
		}
	})
	t.Run("BucketNamedHealth", func(t *testing.T) {
		// A signed request is S3's, whatever its path.
		s := startServer(t, noSource, nil)
		if err := s.Objects.CreateBucket(t.Context(), "health"); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.Objects.BucketExists(t.Context(), "health"); err != nil || !ok {
			t.Fatalf("BucketExists(health) = %v, %v", ok, err)
		}
		if code, _ := getHealth(t, s.URL()); code != http.StatusOK {
			t.Fatalf("GET /health = %d", code)
		}
	})
	t.Run("MethodNotAllowed", func(t *testing.T) {
		s := startServer(t, noSource, nil)
		resp, err := http.Post(s.URL()+"/health", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("POST /health = %d", resp.StatusCode)
		}
	})
}

// waitHealth polls GET /health until it answers code (a round of checks
// answers for healthCacheFor).
func waitHealth(t *testing.T, url string, code int) (int, healthReport) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got, rep := getHealth(t, url)
		if got == code {
			return got, rep
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /health still %d %+v, want %d", got, rep, code)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
