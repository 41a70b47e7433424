package botonom

import (
	"context"
	"crypto/tls"
	"maps"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
)

// dialGate stands in front of the SDK's default *http.Transport so that a
// burst of first calls to an HTTPS host opens one connection, not one per
// caller.
//
// net/http dials a connection for every request that finds none idle; over
// HTTP/2 it keeps one of them and closes the rest, after paying a TLS
// handshake for each (64 callers, 64 handshakes). The gate lets the first
// https request to a host go ahead alone; the others wait until it has its
// connection (httptrace GotConn, or its answer), then the gate opens for
// that host. Over HTTP/2 the waiters then multiplex on the connection the
// transport now holds; over HTTP/1.1 they dial as before. If the first
// request fails to get a connection (a refused or timed-out dial or
// handshake), its waiters go on at once, each dialing as without the gate,
// so that a host that cannot be reached fails them together, never one
// after another; if it gave up (its context ended), the next waiter goes
// ahead in its place. A waiter waits no longer than its context.
//
// The gate closes again when the HTTP/2 connection it opened on is closed
// (idle timeout, GOAWAY, a failed health check, the server gone): the next
// burst dials one connection, like the first. It sees the closing through
// the transport's DialContext, which it wraps (through a proxy, the
// tunnel's connection). Opened on an HTTP/1.1 connection, or one it did
// not dial, the gate stays open for good.
//
// Plain http:// requests pass straight through (they never negotiate
// HTTP/2), and so does every request once its host's gate is open: an
// atomic load and a map lookup, no lock, no allocation.
type dialGate struct {
	next  http.RoundTripper
	mu    sync.Mutex                           // serialises adding a host
	hosts atomic.Pointer[map[string]*hostGate] // copied on write, read without a lock
}

// maxGatedHosts bounds the hosts a dialGate tracks (the API is one host;
// redirects or Do may reach a few more); past it, requests pass through.
const maxGatedHosts = 64

// newDialGate puts a gate in front of next; when next is an
// *http.Transport, its DialContext is wrapped so that the gate sees its
// connections close.
func newDialGate(next http.RoundTripper) *dialGate {
	if t, ok := next.(*http.Transport); ok {
		dial := t.DialContext
		if dial == nil {
			dial = (&net.Dialer{}).DialContext
		}
		t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &watchedConn{Conn: conn}, nil
		}
	}
	return &dialGate{next: next}
}

// RoundTrip sends req through the gate of its host.
func (d *dialGate) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" {
		return d.next.RoundTrip(req)
	}
	g := d.host(req.URL.Host)
	if g == nil || g.open.Load() {
		return d.next.RoundTrip(req)
	}
	return g.roundTrip(req, d.next)
}

// CloseIdleConnections closes the idle connections of the transport behind
// the gate.
func (d *dialGate) CloseIdleConnections() {
	if ci, ok := d.next.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// host returns the gate of host, adding it if needed; nil when the gate
// already tracks maxGatedHosts others.
func (d *dialGate) host(host string) *hostGate {
	if m := d.hosts.Load(); m != nil {
		if g, ok := (*m)[host]; ok {
			return g
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	old := d.hosts.Load()
	if old != nil {
		if g, ok := (*old)[host]; ok {
			return g
		}
		if len(*old) >= maxGatedHosts {
			return nil
		}
	}
	m := make(map[string]*hostGate, 1)
	if old != nil {
		maps.Copy(m, *old)
	}
	g := &hostGate{turn: newTurn()}
	m[host] = g
	d.hosts.Store(&m)
	return g
}

// hostGate is the gate of one host.
type hostGate struct {
	open atomic.Bool // a request has got a connection, not closed since
	mu   sync.Mutex
	busy bool         // a first request is on its way to a connection
	turn *turn        // that request's
	conn *watchedConn // the connection the gate opened on, if it dialed it
}

// roundTrip sends req once it is the host's first request or the gate has
// opened, or returns the cause of its context's end.
func (g *hostGate) roundTrip(req *http.Request, next http.RoundTripper) (*http.Response, error) {
	first, err := g.enter(req.Context())
	if err != nil {
		if req.Body != nil {
			req.Body.Close() // a RoundTripper closes the body, even on error
		}
		return nil, err
	}
	if !first {
		return next.RoundTrip(req)
	}
	var once sync.Once
	leave := func(connected, failed bool, conn net.Conn) { once.Do(func() { g.leave(connected, failed, conn) }) }
	traced := req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { leave(true, false, info.Conn) },
	}))
	resp, err := next.RoundTrip(traced)
	leave(err == nil, err != nil && req.Context().Err() == nil, nil)
	if resp != nil && resp.Request == traced {
		resp.Request = req
	}
	return resp, err
}

// enter waits for the request's turn: first reports whether it is the
// host's first request, which must call leave.
func (g *hostGate) enter(ctx context.Context) (first bool, err error) {
	for {
		g.mu.Lock()
		if g.open.Load() {
			g.mu.Unlock()
			return false, nil
		}
		if !g.busy {
			g.busy = true
			g.mu.Unlock()
			return true, nil
		}
		turn := g.turn
		g.mu.Unlock()
		select {
		case <-turn.done:
			if turn.failed {
				return false, nil // the host could not be reached: go on as without the gate
			}
		case <-ctx.Done():
			return false, context.Cause(ctx)
		}
	}
}

// leave ends the first request's turn: the gate opens when it got a
// connection, until conn closes when the gate dialed it; otherwise, when
// it failed to get one, its waiters go on without the gate, and when it
// gave up, the next waiter becomes the first.
func (g *hostGate) leave(connected, failed bool, conn net.Conn) {
	wc := watched(conn)
	g.mu.Lock()
	if connected {
		g.conn = wc
		g.open.Store(true)
	}
	g.busy = false
	g.turn.failed = failed
	close(g.turn.done)
	g.turn = newTurn()
	g.mu.Unlock()
	if connected && wc != nil {
		wc.onClose(func() { g.reclose(wc) })
	}
}

// turn is a first request's turn at the gate of its host.
type turn struct {
	done   chan struct{} // closed when the request gets its connection, fails or gives up
	failed bool          // it failed to get one (set before done is closed)
}

func newTurn() *turn { return &turn{done: make(chan struct{})} }

// watched returns the watchedConn under conn, an HTTP/2 *tls.Conn (over
// a TLS proxy's tunnel, a *tls.Conn over another); nil when there is none
// or conn speaks HTTP/1.1, whose callers dial as they need anyway.
func watched(conn net.Conn) *watchedConn {
	if tc, ok := conn.(*tls.Conn); !ok || tc.ConnectionState().NegotiatedProtocol != "h2" {
		return nil
	}
	for range 3 {
		switch c := conn.(type) {
		case *watchedConn:
			return c
		case interface{ NetConn() net.Conn }:
			conn = c.NetConn()
		default:
			return nil
		}
	}
	return nil
}

// reclose closes the gate again if it is still open on conn, now closed.
func (g *hostGate) reclose(conn *watchedConn) {
	g.mu.Lock()
	if g.conn == conn {
		g.conn = nil
		g.open.Store(false)
	}
	g.mu.Unlock()
}

// watchedConn is a connection the transport dialed, which calls a function
// once closed.
type watchedConn struct {
	net.Conn
	mu     sync.Mutex
	closed bool
	f      func() // called once closed
}

// Close closes the connection, then calls the function given to onClose.
func (c *watchedConn) Close() error {
	err := c.Conn.Close()
	c.mu.Lock()
	f := c.f
	c.closed, c.f = true, nil
	c.mu.Unlock()
	if f != nil {
		f()
	}
	return err
}

// onClose has f called once c is closed, at once if it already is. It
// replaces a function given before.
func (c *watchedConn) onClose(f func()) {
	c.mu.Lock()
	closed := c.closed
	if !closed {
		c.f = f
	}
	c.mu.Unlock()
	if closed {
		f()
	}
}
