package botonom

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tlsServer is a TLS httptest.Server that counts the connections it
// accepts and the protocol of each request.
type tlsServer struct {
	*httptest.Server
	conns  atomic.Int64
	protos sync.Map // "HTTP/2.0" → *atomic.Int64
}

// newTLSServer starts a TLS server answering as benchAPI, over HTTP/2 when
// h2, else over HTTP/1.1 only. wrap, if not nil, runs before each answer.
func newTLSServer(t testing.TB, h2 bool, wrap func(r *http.Request)) *tlsServer {
	t.Helper()
	s := &tlsServer{}
	api := benchAPI()
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := s.protos.LoadOrStore(r.Proto, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
		if wrap != nil {
			wrap(r)
		}
		api.ServeHTTP(w, r)
	}))
	s.EnableHTTP2 = h2
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// protoCounts returns how many requests came over each protocol.
func (s *tlsServer) protoCounts() map[string]int64 {
	m := map[string]int64{}
	s.protos.Range(func(k, v any) bool {
		m[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return m
}

// defaultTransportOf is the *http.Transport behind c's dialGate: a default
// transport of c's own (ownDefaultTransport), for the test to change.
func defaultTransportOf(t testing.TB, c *Client) *http.Transport {
	t.Helper()
	return ownDefaultTransport(t, c).next.(*http.Transport)
}

// tlsClient is a client with the SDK's default transport, trusting srv's
// certificate (and proxied through proxy when not nil).
func tlsClient(t testing.TB, srv *tlsServer, proxy *url.URL) *Client {
	t.Helper()
	c, err := NewClient(benchToken, WithBaseURL(srv.URL+"/v1/"), WithMaxRetries(0))
	require.NoError(t, err)
	tr := defaultTransportOf(t, c)
	tr.TLSClientConfig = &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
	if proxy != nil {
		tr.Proxy = http.ProxyURL(proxy)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return c
}

// burst makes n first calls at once on c and returns their errors.
func burst(c *Client, n int) []error {
	start := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, _, errs[i] = c.Agents.Get(context.Background(), benchAgentID)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

func TestDefaultTransport_BurstOfFirstCallsOverHTTP2OpensOneConnection(t *testing.T) {
	srv := newTLSServer(t, true, nil)
	for i, err := range burst(tlsClient(t, srv, nil), 64) {
		require.NoError(t, err, "call %d", i)
	}
	assert.Equal(t, int64(1), srv.conns.Load(), "one TLS connection for 64 first calls")
	assert.Equal(t, map[string]int64{"HTTP/2.0": 64}, srv.protoCounts())
}

func TestDefaultTransport_BurstOverHTTP1DialsAsNeeded(t *testing.T) {
	// Every caller waits in the handler until all 64 of its burst are in:
	// were the waiters held until the first call's answer (not its
	// connection), no second call would arrive and the handler would give
	// up. The second burst comes after every connection was closed.
	const n = 64
	var in atomic.Int64
	all := []chan struct{}{make(chan struct{}), make(chan struct{})}
	srv := newTLSServer(t, false, func(*http.Request) {
		k := in.Add(1)
		burst := all[(k-1)/n]
		if k%n == 0 {
			close(burst)
		}
		select {
		case <-burst:
		case <-time.After(5 * time.Second):
		}
	})
	c := tlsClient(t, srv, nil)
	for round := range all {
		if round > 0 {
			defaultTransportOf(t, c).CloseIdleConnections()
		}
		for i, err := range burst(c, n) {
			require.NoError(t, err, "call %d", i)
		}
		select {
		case <-all[round]:
		default:
			t.Fatalf("burst %d: the callers were not in flight at once", round+1)
		}
		assert.Equal(t, int64(n*(round+1)), srv.conns.Load(), "HTTP/1.1: a connection per caller in flight, as net/http dials")
	}
	assert.Equal(t, map[string]int64{"HTTP/1.1": 2 * n}, srv.protoCounts())
}

func TestDefaultTransport_BurstAfterTheConnectionIsGoneOpensOneConnection(t *testing.T) {
	closedByTheClient := func(t *testing.T, _ *tlsServer, c *Client) {
		defaultTransportOf(t, c).CloseIdleConnections()
	}
	for _, tc := range []struct {
		name    string
		proxied bool
		drop    func(t *testing.T, srv *tlsServer, c *Client)
	}{
		{"closed by the client", false, closedByTheClient},
		{"closed by the client, through a proxy", true, closedByTheClient},
		{"closed by the server", false, func(t *testing.T, srv *tlsServer, c *Client) {
			srv.CloseClientConnections()
			// The client notices the connection gone in its own time.
			gate := c.hc.HTTPClient.Transport.(*transport).next().(*dialGate).host(strings.TrimPrefix(srv.URL, "https://"))
			require.Eventually(t, func() bool { return !gate.open.Load() }, 2*time.Second, time.Millisecond,
				"the gate closes again once the connection is gone")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newTLSServer(t, true, nil)
			var proxy *connectProxy
			var proxyURL *url.URL
			if tc.proxied {
				proxy = newConnectProxy(t)
				proxyURL, _ = url.Parse(proxy.URL)
			}
			c := tlsClient(t, srv, proxyURL)
			for i, err := range burst(c, 64) {
				require.NoError(t, err, "call %d", i)
			}
			require.Equal(t, int64(1), srv.conns.Load())
			tc.drop(t, srv, c)
			for i, err := range burst(c, 64) {
				require.NoError(t, err, "call %d", i)
			}
			assert.Equal(t, int64(2), srv.conns.Load(), "one new TLS connection for the second burst")
			assert.Equal(t, map[string]int64{"HTTP/2.0": 128}, srv.protoCounts())
			if proxy != nil {
				assert.Equal(t, int64(2), proxy.connects.Load(), "one CONNECT a burst")
			}
		})
	}
}

// connectProxy is a forward proxy for HTTPS that counts its CONNECTs.
type connectProxy struct {
	*httptest.Server
	connects atomic.Int64
	mu       sync.Mutex
	tunnels  []net.Conn
	wg       sync.WaitGroup
}

func newConnectProxy(t testing.TB) *connectProxy {
	t.Helper()
	p := &connectProxy{}
	p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(func() {
		p.Close()
		p.mu.Lock()
		for _, c := range p.tunnels {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *connectProxy) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
		return
	}
	p.connects.Add(1)
	up, err := net.Dial("tcp", r.Host)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	down, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		up.Close()
		return
	}
	p.mu.Lock()
	p.tunnels = append(p.tunnels, up, down)
	p.mu.Unlock()
	_, _ = down.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
	pipe := func(dst net.Conn, src io.Reader) {
		defer p.wg.Done()
		_, _ = io.Copy(dst, src)
		up.Close()
		down.Close()
	}
	p.wg.Add(2)
	go pipe(up, rw.Reader)
	go pipe(down, up)
}

func TestDefaultTransport_ProxyFromTheEnvironmentStillUsed(t *testing.T) {
	c, err := NewClient(testToken)
	require.NoError(t, err)
	assert.Equal(t, reflect.ValueOf(http.ProxyFromEnvironment).Pointer(), reflect.ValueOf(defaultTransportOf(t, c).Proxy).Pointer(),
		"the default transport reads HTTPS_PROXY and friends")

	// Through a proxy, the burst opens one tunnel and one connection.
	srv := newTLSServer(t, true, nil)
	proxy := newConnectProxy(t)
	u, err := url.Parse(proxy.URL)
	require.NoError(t, err)
	for i, err := range burst(tlsClient(t, srv, u), 64) {
		require.NoError(t, err, "call %d", i)
	}
	assert.Equal(t, int64(1), proxy.connects.Load(), "one CONNECT")
	assert.Equal(t, int64(1), srv.conns.Load())
	assert.Equal(t, map[string]int64{"HTTP/2.0": 64}, srv.protoCounts())
}

func TestDefaultTransport_WithHTTPClientIsNotGated(t *testing.T) {
	mine := &http.Transport{}
	c, err := NewClient(testToken, WithHTTPClient(&http.Client{Transport: mine}))
	require.NoError(t, err)
	assert.Same(t, mine, c.hc.HTTPClient.Transport.(*transport).next())
}

// fakeDialer is a RoundTripper whose calls block until told how to end:
// with a connection (GotConn, then an answer) or with an error (or fail
// after two seconds).
type fakeDialer struct {
	calls chan fakeCall
}

type fakeCall struct {
	req *http.Request
	end chan error // nil: connected and answered
}

func newFakeDialer() *fakeDialer { return &fakeDialer{calls: make(chan fakeCall, 16)} }

func (f *fakeDialer) RoundTrip(req *http.Request) (*http.Response, error) {
	call := fakeCall{req: req, end: make(chan error, 1)}
	f.calls <- call
	select {
	case err := <-call.end:
		if err != nil {
			return nil, err
		}
	case <-time.After(2 * time.Second): // a broken gate fails, not hangs
		return nil, errors.New("fakeDialer: the test never ended this call")
	}
	if trace := httptrace.ContextClientTrace(req.Context()); trace != nil && trace.GotConn != nil {
		trace.GotConn(httptrace.GotConnInfo{})
	}
	return &http.Response{StatusCode: 200, Body: http.NoBody, Request: req}, nil
}

// next returns the next call to reach the fake, failing after a second.
func (f *fakeDialer) next(t *testing.T) fakeCall {
	t.Helper()
	select {
	case c := <-f.calls:
		return c
	case <-time.After(time.Second):
		t.Fatal("no request reached the transport")
		return fakeCall{}
	}
}

// quiet fails when a request reaches the fake within a few milliseconds.
func (f *fakeDialer) quiet(t *testing.T) {
	t.Helper()
	select {
	case c := <-f.calls:
		t.Fatalf("%s went through the gate", c.req.Header.Get("X-Who"))
	case <-time.After(20 * time.Millisecond):
	}
}

func gatedRequest(ctx context.Context, who string, body io.ReadCloser) *http.Request {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "https://api.test/v1/agents", body)
	req.Header.Set("X-Who", who)
	return req
}

// closeRecorder is a request body that records its closing.
type closeRecorder struct {
	io.Reader
	closed atomic.Bool
}

func (b *closeRecorder) Close() error { b.closed.Store(true); return nil }

func TestDialGate_WaiterNeverBlocksPastItsContext(t *testing.T) {
	f := newFakeDialer()
	g := newDialGate(f)
	firstDone := make(chan error, 1)
	go func() {
		_, err := g.RoundTrip(gatedRequest(context.Background(), "first", nil))
		firstDone <- err
	}()
	first := f.next(t)
	release := sync.OnceFunc(func() { first.end <- nil })
	timer := time.AfterFunc(time.Second, release) // a broken gate fails, not hangs
	defer timer.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	body := &closeRecorder{Reader: strings.NewReader("{}")}
	start := time.Now()
	_, err := g.RoundTrip(gatedRequest(ctx, "waiter", body))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), time.Second)
	assert.True(t, body.closed.Load(), "a RoundTripper closes the body, even on error")
	f.quiet(t)

	release()
	require.NoError(t, <-firstDone)
}

func TestDialGate_FailedFirstDialDoesNotWedgeTheHost(t *testing.T) {
	f := newFakeDialer()
	g := newDialGate(f)
	errs := make(chan error, 3)
	send := func(who string) {
		_, err := g.RoundTrip(gatedRequest(context.Background(), who, nil))
		errs <- err
	}
	go send("first")
	first := f.next(t)
	go send("waiter")
	go send("waiter")
	f.quiet(t) // the others wait while the first dials

	dialErr := errors.New("dial tcp: connection refused")
	first.end <- dialErr
	// Its waiters go on at once, together (each would dial as without
	// the gate), so that a host that cannot be reached fails them
	// together, not one after another.
	second, third := f.next(t), f.next(t)
	second.end <- nil
	third.end <- nil
	var got []error
	for range 3 {
		got = append(got, <-errs)
	}
	assert.ElementsMatch(t, []error{dialErr, nil, nil}, got)

	// They went around the gate: the next request is the first again,
	// and opens it.
	go send("next")
	f.next(t).end <- nil
	require.NoError(t, <-errs)
	assert.True(t, g.host("api.test").open.Load())
}

// A first request that gives up (its context ends) before it has a
// connection hands its turn to one waiter, which goes ahead alone.
func TestDialGate_FirstThatGivesUpHandsItsTurnToOneWaiter(t *testing.T) {
	f := newFakeDialer()
	g := newDialGate(f)
	errs := make(chan error, 3)
	send := func(ctx context.Context, who string) {
		_, err := g.RoundTrip(gatedRequest(ctx, who, nil))
		errs <- err
	}
	ctx, cancel := context.WithCancel(context.Background())
	go send(ctx, "first")
	first := f.next(t)
	go send(context.Background(), "waiter")
	go send(context.Background(), "waiter")
	f.quiet(t)
	cancel()
	first.end <- context.Canceled
	second := f.next(t) // one waiter goes ahead in its place…
	f.quiet(t)          // …alone
	second.end <- nil
	f.next(t).end <- nil // connected: the gate is open
	var got []error
	for range 3 {
		got = append(got, <-errs)
	}
	assert.ElementsMatch(t, []error{context.Canceled, nil, nil}, got)
	assert.True(t, g.host("api.test").open.Load())
}

// A host that accepts connections and never completes a TLS handshake:
// the callers of a burst fail together, within about one handshake
// timeout, not one after another (16 callers: 16 timeouts in a row).
func TestDialGate_UnreachableHostFailsTheBurstTogether(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, silent
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	c, err := NewClient(benchToken, WithBaseURL("https://"+ln.Addr().String()+"/v1/"), WithMaxRetries(0))
	require.NoError(t, err)
	tr := defaultTransportOf(t, c)
	tr.TLSHandshakeTimeout = 100 * time.Millisecond // 10 s, scaled down
	start := time.Now()
	for i, err := range burst(c, 16) {
		require.ErrorContains(t, err, "handshake timeout", "call %d", i)
	}
	assert.Less(t, time.Since(start), 1200*time.Millisecond, "16 handshake timeouts of 100 ms, not in a row (1.6 s)")
}

func TestDialGate_PlainHTTPAndOpenGatePassStraightThrough(t *testing.T) {
	f := newFakeDialer()
	g := newDialGate(f)
	go func() { _, _ = g.RoundTrip(gatedRequest(context.Background(), "first", nil)) }()
	first := f.next(t)

	// The https gate of api.test is closed, yet plain http and another
	// host go through.
	req, _ := http.NewRequest(http.MethodGet, "http://api.test/v1/agents", nil)
	go func() { _, _ = g.RoundTrip(req) }()
	f.next(t).end <- nil
	req, _ = http.NewRequest(http.MethodGet, "https://other.test/v1/agents", nil)
	go func() { _, _ = g.RoundTrip(req) }()
	f.next(t).end <- nil
	first.end <- nil
}

func TestDialGate_OpenGateCostsNoAllocation(t *testing.T) {
	resp := &http.Response{StatusCode: 200, Body: http.NoBody}
	g := newDialGate(roundTripFunc(func(*http.Request) (*http.Response, error) { return resp, nil }))
	req, _ := http.NewRequest(http.MethodGet, "https://api.test/v1/agents", nil)
	_, err := g.RoundTrip(req) // the first: opens the gate on its answer
	require.NoError(t, err)
	require.True(t, g.host("api.test").open.Load())
	assert.Zero(t, testing.AllocsPerRun(100, func() { _, _ = g.RoundTrip(req) }))
}

// roundTripFunc is a RoundTripper from a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
