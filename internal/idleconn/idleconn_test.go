package idleconn_test

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rdsexport/rdsexport/internal/idleconn"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// pair returns both ends of a loopback TCP connection, the client's
// wrapped with idle.
func pair(t *testing.T, idle time.Duration) (*idleconn.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); peer.Close() })
	return idleconn.New(c, idle), peer
}

func TestConn_Read(t *testing.T) {
	t.Run("ErrIdle", func(t *testing.T) {
		c, _ := pair(t, 100*time.Millisecond)
		start := time.Now()
		_, err := c.Read(make([]byte, 10))
		if !errors.Is(err, idleconn.ErrIdle) || !c.TimedOut() {
			t.Fatalf("read from a silent peer: %v (timed out %v)", err, c.TimedOut())
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("error %v is not a net.Error timeout", err)
		}
		if took := time.Since(start); took < 100*time.Millisecond {
			t.Errorf("failed after %v", took)
		}
	})
	t.Run("Progress", func(t *testing.T) {
		// Bytes every 40 ms for 8 idle periods: no read fails.
		c, peer := pair(t, 100*time.Millisecond)
		go func() {
			for range 20 {
				if _, err := peer.Write([]byte("x")); err != nil {
					return
				}
				time.Sleep(40 * time.Millisecond)
			}
			peer.Close()
		}()
		n, err := io.Copy(io.Discard, c)
		if err != nil || n != 20 || c.TimedOut() {
			t.Errorf("read %d bytes, err %v, timed out %v", n, err, c.TimedOut())
		}
	})
	t.Run("UserDeadline", func(t *testing.T) {
		// A deadline set while a read waits (a driver interrupting it for
		// a cancelled context) applies at once and is not an idle timeout.
		c, peer := pair(t, time.Hour)
		done := make(chan error, 1)
		go func() {
			_, err := c.Read(make([]byte, 10))
			done <- err
		}()
		time.Sleep(50 * time.Millisecond)
		if err := c.SetReadDeadline(time.Unix(1, 0)); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if !errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, idleconn.ErrIdle) || c.TimedOut() {
				t.Errorf("interrupted read: %v (timed out %v)", err, c.TimedOut())
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a past deadline did not interrupt the read")
		}
		// Cleared, reads work again.
		if err := c.SetDeadline(time.Time{}); err != nil {
			t.Fatal(err)
		}
		if _, err := peer.Write([]byte("y")); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 1)
		if _, err := c.Read(b); err != nil || b[0] != 'y' {
			t.Errorf("read after clearing the deadline: %q %v", b, err)
		}
	})
	t.Run("UserDeadlineLater", func(t *testing.T) {
		// A user deadline later than the idle bound does not extend it.
		c, _ := pair(t, 100*time.Millisecond)
		if err := c.SetReadDeadline(time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, idleconn.ErrIdle) {
			t.Errorf("read: %v, want ErrIdle", err)
		}
	})
}

func TestConn_Write(t *testing.T) {
	// A peer that reads nothing: once the socket buffers are full, the
	// write waits and fails.
	c, _ := pair(t, 200*time.Millisecond)
	buf := make([]byte, 1<<20)
	var err error
	for range 256 {
		if _, err = c.Write(buf); err != nil {
			break
		}
	}
	if !errors.Is(err, idleconn.ErrIdle) || !c.TimedOut() {
		t.Errorf("write to a peer that reads nothing: %v", err)
	}
}
