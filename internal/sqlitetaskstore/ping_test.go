package sqlitetaskstore

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"
)

func TestStore_Ping(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		if err := newTestStore(t).Ping(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ErrLocked", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "tasks.db")
		s, err := New(t.Context(), path, WithBusyTimeout(200*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		// Another process holding the write lock leaves the store unable
		// to record anything.
		other, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		conn, err := other.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(t.Context(), "BEGIN EXCLUSIVE"); err != nil {
			t.Fatal(err)
		}
		if err := s.Ping(t.Context()); err == nil {
			t.Fatal("Ping succeeded while another connection holds the write lock")
		}
		if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
			t.Fatal(err)
		}
		if err := s.Ping(t.Context()); err != nil {
			t.Fatalf("Ping after the lock was released: %v", err)
		}
	})
	t.Run("ErrClosed", func(t *testing.T) {
		s, err := New(t.Context(), filepath.Join(t.TempDir(), "tasks.db"))
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if err := s.Ping(t.Context()); err == nil {
			t.Fatal("Ping of a closed store succeeded")
		}
	})
}
