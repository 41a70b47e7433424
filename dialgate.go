package botonom

import (
	"context"
	"maps"
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
// good for that host. Over HTTP/2 the waiters then multiplex on the
// connection the transport now holds; over HTTP/1.1 they dial as before. If
// the first request fails before it gets a connection, the next waiter goes
// ahead in its place. A waiter waits no longer than its context.
//
// Plain http:// requests pass straight through (they never negotiate
// HTTP/2), and so does every request once its host's gate is open: an
// atomic load and a map lookup, no lock, no allocation. The gate closes
// again for no host: a burst after the transport has dropped its idle
// connection to a host dials as net/http does.
type dialGate struct {
	next  http.RoundTripper
	mu    sync.Mutex                           // serialises adding a host
	hosts atomic.Pointer[map[string]*hostGate] // copied on write, read without a lock
}

// maxGatedHosts bounds the hosts a dialGate tracks (the API is one host;
// redirects or Do may reach a few more); past it, requests pass through.
const maxGatedHosts = 64

func newDialGate(next http.RoundTripper) *dialGate {
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
	g := &hostGate{turn: make(chan struct{})}
	m[host] = g
	d.hosts.Store(&m)
	return g
}

// hostGate is the gate of one host.
type hostGate struct {
	open atomic.Bool // for good: a request has got a connection
	mu   sync.Mutex
	busy bool          // a first request is on its way to a connection
	turn chan struct{} // closed when that request gets its connection or fails
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
	leave := func(connected bool) { once.Do(func() { g.leave(connected) }) }
	traced := req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { leave(true) },
	}))
	resp, err := next.RoundTrip(traced)
	leave(err == nil)
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
		case <-turn:
		case <-ctx.Done():
			return false, context.Cause(ctx)
		}
	}
}

// leave ends the first request's turn: the gate opens for good when it got
// a connection; otherwise the next waiter becomes the first.
func (g *hostGate) leave(connected bool) {
	g.mu.Lock()
	if connected {
		g.open.Store(true)
	}
	g.busy = false
	close(g.turn)
	g.turn = make(chan struct{})
	g.mu.Unlock()
}
