package botonom

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Edges of the transport every client shares: the body bound over
// HTTP/2, the dial gate with many clients.

// h2Server is a TLS server speaking HTTP/2 that counts its connections
// and TLS handshakes; hold, while not nil, holds each handshake until it
// is closed.
type h2Server struct {
	*httptest.Server
	conns, handshakes atomic.Int64
	hold              atomic.Pointer[chan struct{}]
}

func newH2Server(t *testing.T, hold chan struct{}, h http.HandlerFunc) *h2Server {
	t.Helper()
	s := &h2Server{}
	s.hold.Store(&hold)
	s.Server = httptest.NewUnstartedServer(h)
	s.EnableHTTP2 = true
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.TLS = &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		s.handshakes.Add(1)
		if hold := *s.hold.Load(); hold != nil {
			<-hold
		}
		return nil, nil
	}}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// shareTransportWith makes a fresh default transport, trusting srv, the
// one every client the test makes without WithHTTPClient shares.
func shareTransportWith(t *testing.T, srv *httptest.Server) *dialGate {
	t.Helper()
	g := newDefaultTransport().(*dialGate)
	g.next.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
	t.Cleanup(g.CloseIdleConnections)
	useSharedTransport(t, g)
	return g
}

func TestSharedTransport_HasTheBoundsTheGateAndHealthChecks(t *testing.T) {
	g, ok := sharedTransport().(*dialGate)
	require.True(t, ok, "the shared transport is behind a dialGate")
	ht := g.next.(*http.Transport)
	assert.Equal(t, DefaultTimeout, ht.ResponseHeaderTimeout)
	require.NotNil(t, ht.HTTP2, "HTTP/2 health checks")
	assert.Equal(t, http2PingAfter, ht.HTTP2.SendPingTimeout)
	assert.Equal(t, http2PingTimeout, ht.HTTP2.PingTimeout)
	c, err := NewClient(benchToken)
	require.NoError(t, err)
	d, err := c.WithToken(otherToken)
	require.NoError(t, err)
	for _, cl := range []*Client{c, d} {
		tr := cl.hc.HTTPClient.Transport.(*transport)
		assert.Same(t, g, tr.next().(*dialGate), "one transport for every client")
		assert.Equal(t, DefaultTimeout, tr.bodyTimeout, "the body bound")
	}
}

// A body that stops after its headers, over HTTP/2 on the shared
// transport: the bound resets that one stream; the connection, and the
// calls of other clients on it, go on.
func TestTimeout_BodyBoundOverHTTP2ResetsTheStreamOnly(t *testing.T) {
	var stalled, reset atomic.Int64
	entered := make(chan struct{}, 4)
	srv := newH2Server(t, nil, func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 {
			http.Error(w, "HTTP/2 only", http.StatusHTTPVersionNotSupported)
			return
		}
		if r.URL.Path != "/v1/agents/stall" {
			benchAnswer(w, http.StatusOK, benchAgentJSON)
			return
		}
		stalled.Add(1)
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, `{"id":`)
		w.(http.Flusher).Flush()
		entered <- struct{}{}
		select {
		case <-r.Context().Done(): // the client reset the stream
			reset.Add(1)
		case <-time.After(5 * time.Second):
		}
	})
	shareTransportWith(t, srv.Server)
	c, err := NewClient(benchToken, WithBaseURL(srv.URL+"/v1/"), WithMaxRetries(1),
		WithRetryWait(time.Millisecond, 2*time.Millisecond))
	require.NoError(t, err)
	other, err := c.WithToken(otherToken)
	require.NoError(t, err)
	c.hc.HTTPClient.Transport.(*transport).bodyTimeout = 200 * time.Millisecond // DefaultTimeout, scaled down

	_, _, err = other.Agents.Get(context.Background(), benchAgentID)
	require.NoError(t, err)

	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, _, err := c.Agents.Get(context.Background(), "stall")
		done <- err
	}()
	<-entered
	for range 5 { // on the same connection, while the body stalls
		_, _, err := other.Agents.Get(context.Background(), benchAgentID)
		require.NoError(t, err)
	}
	select {
	case err = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the stalled body was not bounded over HTTP/2")
	}
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorContains(t, err, "did not arrive whole")
	assert.Less(t, time.Since(start), 3*time.Second)
	assert.Equal(t, int64(2), stalled.Load(), "retried once, like a dropped connection")
	require.Eventually(t, func() bool { return reset.Load() == 2 }, 2*time.Second, time.Millisecond,
		"each stalled stream is reset, its handler released")
	_, _, err = other.Agents.Get(context.Background(), benchAgentID)
	require.NoError(t, err)
	assert.Equal(t, int64(1), srv.conns.Load(), "the connection outlives its stalled streams")
}

// Many clients, one per token, on the shared transport: a burst of their
// first calls opens one connection; once it is gone, a burst of other
// clients opens one again; a client whose context ends while it waits at
// the gate leaves at once, and the others go on.
func TestDialGate_ManyClientsOneConnectionPerBurst(t *testing.T) {
	hold := make(chan struct{})
	srv := newH2Server(t, hold, func(w http.ResponseWriter, r *http.Request) {
		benchAnswer(w, http.StatusOK, benchAgentJSON)
	})
	g := shareTransportWith(t, srv.Server)
	base, err := NewClient(benchToken, WithBaseURL(srv.URL+"/v1/"), WithMaxRetries(0))
	require.NoError(t, err)
	clientBurst := func(round, n int) (errs []error, done chan struct{}) {
		var wg sync.WaitGroup
		errs = make([]error, n)
		for i := range n {
			c, err := base.WithToken(otherToken + strconv.Itoa(round*1000+i))
			require.NoError(t, err)
			wg.Go(func() { _, _, errs[i] = c.Agents.Get(context.Background(), benchAgentID) })
		}
		done = make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		return errs, done
	}

	for round := range 2 {
		if round > 0 {
			srv.CloseClientConnections()
			gate := g.host(srv.Listener.Addr().String())
			require.Eventually(t, func() bool { return !gate.open.Load() }, 2*time.Second, time.Millisecond,
				"the gate closes again once the connection is gone")
			hold = make(chan struct{})
			srv.hold.Store(&hold)
		}
		errs, done := clientBurst(round, 32)
		require.Eventually(t, func() bool { return srv.handshakes.Load() == int64(round+1) }, 2*time.Second, time.Millisecond)
		// The first call's handshake is held: a client whose context ends
		// while it waits at the gate leaves at once.
		waiter, err := base.WithToken(otherToken + "waiter")
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		_, _, err = waiter.Agents.Get(ctx, benchAgentID)
		cancel()
		assert.ErrorIs(t, err, context.DeadlineExceeded, "round %d", round)
		select {
		case <-done:
			t.Fatalf("round %d: the burst ended before its handshake was released", round)
		default:
		}
		close(hold)
		<-done
		for i, err := range errs {
			require.NoError(t, err, "round %d, call %d", round, i)
		}
		assert.Equal(t, int64(round+1), srv.conns.Load(), "round %d: one connection a burst, for 32 clients", round)
		assert.Equal(t, int64(round+1), srv.handshakes.Load(), "round %d: one TLS handshake a burst", round)
	}
}

// A token net/http cannot send (a control character inside) is refused by
// NewClient and WithToken, never shown, and nothing is sent — not a call
// that fails at every attempt.
func TestNewClient_RefusesATokenWithAControlCharacter(t *testing.T) {
	srv := newAttemptServer(t, func(w http.ResponseWriter, r *http.Request, n int) { writeStatus(w, 200) })
	parent := srv.client(t)
	for _, tok := range []string{"btm_sk_a\x00bcdefgh", "btm_sk_a\vbcdefgh", "btm_sk_a\x1bbcdefgh", "btm_sk_a\x7fbcdefgh"} {
		c, err := NewClient(tok, WithBaseURL(srv.URL+"/v1/"))
		require.ErrorIs(t, err, ErrInvalidArgument, "NewClient %q", tok)
		assert.Nil(t, c)
		assert.ErrorContains(t, err, "control character")
		assert.NotContains(t, err.Error(), "bcdefgh", "the error never shows the token")
		d, err := parent.WithToken(tok)
		require.ErrorIs(t, err, ErrInvalidArgument, "WithToken %q", tok)
		assert.Nil(t, d)
	}
	assert.Zero(t, srv.count(), "nothing sent")
}

// The body bound costs a call no allocation: its watch and timer come
// from a pool (a context deadline per attempt would cost about ten).
func TestTimeout_BodyBoundCostsNoAllocation(t *testing.T) {
	if raceEnabled {
		t.Skip("under -race, sync.Pool drops some of what it is given")
	}
	c, err := NewClient(benchToken, WithBaseURL("https://api.example.test/v1/"))
	require.NoError(t, err)
	tr := c.hc.HTTPClient.Transport.(*transport)
	mem := newBenchMemTransport(http.StatusCreated, benchMessageJSON)
	tr.next = func() http.RoundTripper { return mem }
	send := benchSDKSender(c)
	allocs := func(bound time.Duration) float64 {
		tr.bodyTimeout = bound
		return testing.AllocsPerRun(200, func() {
			if err := send(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
	unbounded := allocs(0)
	bounded := allocs(DefaultTimeout)
	assert.InDelta(t, unbounded, bounded, 0.5, "allocations per call: %v unbounded, %v bounded", unbounded, bounded)
}

// A server or gateway that echoes the request's token back in its error
// body or request ID: the error (its text, its fields, a %+v of it) shows
// no 8 characters in a row of the token — of a client from NewClient or
// WithToken, for an *APIError and a *RateLimitError.
func TestAPIError_NeverShowsATokenTheServerEchoes(t *testing.T) {
	srv := newAttemptServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		auth := r.Header.Get("Authorization")
		w.Header().Set("X-Request-Id", "req_"+auth)
		w.WriteHeader(map[bool]int{false: 401, true: 429}[r.URL.Path == "/v1/agents/limited"])
		fmt.Fprintf(w, `{"error":{"type":"t %[1]s","code":"c %[1]s","message":"bad header: %[1]s","param":"p %[1]s"}}`, auth)
	})
	parent := srv.client(t, WithMaxRetries(0))
	derived, err := parent.WithToken("btm_sk_derived_workspace_token_0123")
	require.NoError(t, err)
	for _, c := range []*Client{parent, derived} {
		token := bearerToken(http.Header{"Authorization": {c.cfg.authorization()}})
		for _, id := range []string{"agt_1", "limited"} {
			_, _, err := c.Agents.Get(context.Background(), id)
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			shown := fmt.Sprintf("%v %+v %#v", err, *apiErr, *apiErr)
			assert.Contains(t, shown, "bad header: Bearer btm_sk_")
			for i := 0; i+8 <= len(token); i++ {
				require.NotContains(t, shown, token[i:i+8], "a run of the token shows (%s)", id)
			}
		}
	}
}

// WithTimeout longer than DefaultTimeout lengthens the wait for an
// answer's headers too (the shared transport stops it at DefaultTimeout):
// such attempts go through a second shared pool without that bound.
func TestWithTimeout_LongerThanDefaultTimeoutLengthensTheWaitForHeaders(t *testing.T) {
	srv := newAttemptServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		time.Sleep(150 * time.Millisecond)
		writeStatus(w, 200)
	})
	g := newDefaultTransport().(*dialGate)
	g.next.(*http.Transport).ResponseHeaderTimeout = 50 * time.Millisecond // DefaultTimeout, scaled down
	t.Cleanup(g.CloseIdleConnections)
	useSharedTransport(t, g)
	long, ok := sharedLongTransport().(*dialGate)
	require.True(t, ok, "behind a dialGate too")
	assert.Zero(t, long.next.(*http.Transport).ResponseHeaderTimeout)
	assert.NotNil(t, long.next.(*http.Transport).HTTP2, "HTTP/2 health checks too")

	c := srv.client(t, WithMaxRetries(0))
	_, _, err := c.Agents.Get(context.Background(), "agt_1")
	assert.ErrorContains(t, err, "timeout awaiting response headers", "without WithTimeout, the default bound")
	_, _, err = c.Agents.Get(context.Background(), "agt_1", WithTimeout(DefaultTimeout))
	assert.ErrorContains(t, err, "timeout awaiting response headers", "not longer: the same")
	_, _, err = c.Agents.Get(context.Background(), "agt_1", WithTimeout(DefaultTimeout+time.Second))
	require.NoError(t, err, "a longer WithTimeout for the call")
	d, err := c.WithToken(otherToken, WithTimeout(time.Minute))
	require.NoError(t, err)
	_, _, err = d.Agents.Get(context.Background(), "agt_1")
	require.NoError(t, err, "a longer WithTimeout for the client")
}
