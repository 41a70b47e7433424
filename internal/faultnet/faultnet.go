// Package faultnet is a TCP listener on 127.0.0.1 that misbehaves on
// purpose, for tests of what a client does when the network or the server
// fails in the ways a mock transport cannot show: a connection reset before
// the answer, an answer cut off halfway, headers that never come.
//
// A Listener decides the fate of each connection it accepts, in order, by
// the plan given to Listen; NewServer puts an http.Handler behind one.
// Every fault ends its connection, so a client that retries does so on a
// new connection, the next one in the plan.
package faultnet

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// Fault is what a Listener does to one connection.
type Fault struct {
	kind     kind
	cutAfter int64
}

type kind int

const (
	pass kind = iota
	blackHole
	resetOnAccept
	resetBeforeAnswer
	cut
)

var (
	// Pass serves the connection normally.
	Pass = Fault{}
	// BlackHole accepts the connection and then neither reads nor writes:
	// the request is sent into the kernel's buffers and headers never
	// come. The connection is closed when the Listener is.
	BlackHole = Fault{kind: blackHole}
	// ResetOnAccept resets the connection (TCP RST) as soon as it is
	// accepted: the request is never read, nothing is done.
	ResetOnAccept = Fault{kind: resetOnAccept}
	// ResetBeforeAnswer lets the handler read and act on the request, then
	// resets the connection at the first byte of the answer: the server
	// acted and the client never hears of it.
	ResetBeforeAnswer = Fault{kind: resetBeforeAnswer}
)

// CutAfter lets the first n bytes of the answer (status line and headers
// included) through, then closes the connection: with n past the headers,
// the body is cut off halfway.
func CutAfter(n int) Fault { return Fault{kind: cut, cutAfter: int64(n)} }

// Listener is a net.Listener on 127.0.0.1 that applies a Fault to each
// connection it accepts.
type Listener struct {
	net.Listener
	plan func(conn int) Fault

	written  atomic.Int64 // answer bytes that reached the socket
	mu       sync.Mutex
	accepted int
	held     []net.Conn // black holes, closed with the listener
	closed   bool
}

// Listen listens on a free port of 127.0.0.1. plan(n) is the fault for the
// n-th connection accepted, counting from 0; a nil plan passes everything.
func Listen(plan func(conn int) Fault) (*Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	if plan == nil {
		plan = func(int) Fault { return Pass }
	}
	return &Listener{Listener: ln, plan: plan}, nil
}

// Accept returns the next connection to serve; connections planned as
// BlackHole or ResetOnAccept are dealt with here and never returned.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		conn, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		n := l.accepted
		l.accepted++
		l.mu.Unlock()
		f := l.plan(n)
		switch f.kind {
		case blackHole:
			l.mu.Lock()
			if l.closed {
				l.mu.Unlock()
				_ = conn.Close()
				return nil, net.ErrClosed
			}
			l.held = append(l.held, conn)
			l.mu.Unlock()
			continue
		case resetOnAccept:
			reset(conn)
			continue
		}
		return &faultConn{Conn: conn, l: l, fault: f}, nil
	}
}

// Close stops listening and closes the black-holed connections.
func (l *Listener) Close() error {
	err := l.Listener.Close()
	l.mu.Lock()
	held := l.held
	l.held, l.closed = nil, true
	l.mu.Unlock()
	for _, c := range held {
		_ = c.Close()
	}
	return err
}

// Accepted is the number of connections accepted so far, faulty ones
// included.
func (l *Listener) Accepted() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.accepted
}

// Written is the number of answer bytes (status lines, headers and bodies)
// that reached the sockets of all connections so far.
func (l *Listener) Written() int64 { return l.written.Load() }

// reset closes conn with a TCP RST rather than a FIN.
func reset(conn net.Conn) {
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

var errFault = errors.New("faultnet: connection ended by the fault plan")

// faultConn is a served connection with its fault applied to writes.
type faultConn struct {
	net.Conn
	l     *Listener
	fault Fault
	mu    sync.Mutex
	sent  int64
	ended bool
}

func (c *faultConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return 0, errFault
	}
	switch c.fault.kind {
	case resetBeforeAnswer:
		c.ended = true
		reset(c.Conn)
		return 0, errFault
	case cut:
		if left := c.fault.cutAfter - c.sent; int64(len(p)) >= left {
			n, _ := c.Conn.Write(p[:max(left, 0)])
			c.sent += int64(n)
			c.l.written.Add(int64(n))
			c.ended = true
			_ = c.Conn.Close()
			return n, errFault
		}
	}
	n, err := c.Conn.Write(p)
	c.sent += int64(n)
	c.l.written.Add(int64(n))
	return n, err
}

// NewServer serves h on a Listener with the given plan and closes it when
// the test ends. Its URL is the server's address ("http://127.0.0.1:port").
func NewServer(t testing.TB, plan func(conn int) Fault, h http.Handler) (*httptest.Server, *Listener) {
	t.Helper()
	ln, err := Listen(plan)
	if err != nil {
		t.Fatalf("faultnet: %v", err)
	}
	srv := httptest.NewUnstartedServer(h)
	_ = srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, ln
}

// Script is a plan that applies faults to the first connections, in order,
// and passes every later one.
func Script(faults ...Fault) func(conn int) Fault {
	return func(n int) Fault {
		if n < len(faults) {
			return faults[n]
		}
		return Pass
	}
}

// Always is a plan that applies f to every connection.
func Always(f Fault) func(conn int) Fault {
	return func(int) Fault { return f }
}
