// Package idleconn wraps a net.Conn so that a read or a write that makes
// no progress for a set time fails, whatever deadlines its user sets.
//
// Database drivers wait on a socket with no deadline of their own while a
// query runs: a server that accepts a connection and then never answers
// would keep such a wait blocked forever. A Conn bounds every single Read
// and Write call, not the whole exchange, so a long result that keeps
// arriving is never cut. Deadlines set by the user of the Conn (drivers
// use them to interrupt a read when a context ends) still apply, and win
// when they come first.
//
// It imports only the standard library.
package idleconn

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// ErrIdle is matched (errors.Is) by the error of a Read or Write that
// timed out because the peer made no progress for the Conn's idle time.
var ErrIdle = errors.New("no progress")

// Conn is a net.Conn whose Read and Write calls fail with an *IdleError
// after Idle without progress. It is safe for concurrent use as far as
// the wrapped net.Conn is.
type Conn struct {
	net.Conn
	idle time.Duration

	mu         sync.Mutex
	userRead   time.Time // deadlines set through SetDeadline and friends
	userWrite  time.Time
	idleExpiry atomic.Bool
}

// New wraps c. An idle of 0 or less wraps c without an idle bound (its
// deadlines pass through).
func New(c net.Conn, idle time.Duration) *Conn {
	return &Conn{Conn: c, idle: idle}
}

// IdleError is returned by Read and Write when the peer made no progress
// for Idle. It is a net.Error whose Timeout is true, so drivers treat it
// as the network timeout it is.
type IdleError struct {
	Op   string // "read" or "write"
	Idle time.Duration
}

func (e *IdleError) Error() string {
	if e.Op == "write" {
		return fmt.Sprintf("the server accepted no data for %s", e.Idle)
	}
	return fmt.Sprintf("no answer from the server for %s", e.Idle)
}

// Timeout is true: the error is a timeout.
func (e *IdleError) Timeout() bool { return true }

// Temporary is false (net.Error).
func (e *IdleError) Temporary() bool { return false }

// Is makes errors.Is(err, ErrIdle) and errors.Is(err,
// os.ErrDeadlineExceeded) true.
func (e *IdleError) Is(target error) bool {
	return target == ErrIdle || target == os.ErrDeadlineExceeded
}

// TimedOut reports whether a Read or Write of c ever failed for lack of
// progress. A driver may hide the error itself behind a generic "bad
// connection"; this tells why the connection was lost.
func (c *Conn) TimedOut() bool { return c.idleExpiry.Load() }

// deadline is the sooner of user and now + idle; c.mu is held.
func (c *Conn) deadline(user time.Time) time.Time {
	if c.idle <= 0 {
		return user
	}
	d := time.Now().Add(c.idle)
	if !user.IsZero() && user.Before(d) {
		return user
	}
	return d
}

// Read reads with a deadline of Idle from now, or the user's read
// deadline when it is sooner.
func (c *Conn) Read(b []byte) (int, error) {
	c.mu.Lock()
	user := c.userRead
	err := c.Conn.SetReadDeadline(c.deadline(user))
	c.mu.Unlock()
	if err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(b)
	return n, c.check("read", err)
}

// Write writes with a deadline of Idle from now, or the user's write
// deadline when it is sooner.
func (c *Conn) Write(b []byte) (int, error) {
	c.mu.Lock()
	user := c.userWrite
	err := c.Conn.SetWriteDeadline(c.deadline(user))
	c.mu.Unlock()
	if err != nil {
		return 0, err
	}
	n, err := c.Conn.Write(b)
	return n, c.check("write", err)
}

// check turns a timeout that is not the user's deadline into an
// *IdleError.
func (c *Conn) check(op string, err error) error {
	if err == nil || c.idle <= 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	c.mu.Lock()
	user := c.userRead
	if op == "write" {
		user = c.userWrite
	}
	c.mu.Unlock()
	if !user.IsZero() && !time.Now().Before(user) {
		return err // the user's deadline (a cancelled context, say)
	}
	c.idleExpiry.Store(true)
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: &IdleError{Op: op, Idle: c.idle}}
}

// SetDeadline sets the user's read and write deadlines; they apply at once
// (also to a Read or Write in progress) when sooner than the idle bound.
func (c *Conn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.userRead, c.userWrite = t, t
	if err := c.Conn.SetReadDeadline(c.deadline(t)); err != nil {
		return err
	}
	return c.Conn.SetWriteDeadline(c.deadline(t))
}

// SetReadDeadline sets the user's read deadline (see SetDeadline).
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.userRead = t
	return c.Conn.SetReadDeadline(c.deadline(t))
}

// SetWriteDeadline sets the user's write deadline (see SetDeadline).
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.userWrite = t
	return c.Conn.SetWriteDeadline(c.deadline(t))
}
