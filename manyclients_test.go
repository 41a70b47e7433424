package botonom

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Many clients in one process, one per API token: they share one pool,
// never one rate limit.

const otherToken = "btm_sk_other_workspace_456"

// tokenServer is a real HTTP server (TLS or not) that counts the
// connections it accepts, the TLS handshakes it runs and the requests of
// each token, and answers each request with answer(token).
type tokenServer struct {
	*httptest.Server
	conns, handshakes atomic.Int64
	mu                sync.Mutex
	calls             map[string]int // requests per token
}

func newTokenServer(t testing.TB, useTLS bool, answer func(w http.ResponseWriter, token string)) *tokenServer {
	t.Helper()
	s := &tokenServer{calls: map[string]int{}}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		s.calls[token]++
		s.mu.Unlock()
		answer(w, token)
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	if useTLS {
		s.EnableHTTP2 = true
		s.TLS = &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			s.handshakes.Add(1)
			return nil, nil // the server's own config
		}}
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

func (s *tokenServer) callsOf(token string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[token]
}

// answerAgent answers the agent of benchAgentJSON with the usual headers.
func answerAgent(w http.ResponseWriter, _ string) { benchAnswer(w, http.StatusOK, benchAgentJSON) }

// ownDefaultTransport gives c a default transport of its own, built as
// the shared one is, for a test that changes it (a test must not change
// the one every client of the process shares), and returns it; the same
// one on every call for c.
func ownDefaultTransport(t testing.TB, c *Client) *dialGate {
	t.Helper()
	tr := c.hc.HTTPClient.Transport.(*transport)
	if g, ok := tr.next().(*dialGate); ok && g != sharedTransport() {
		return g // c's own already
	}
	g, ok := newDefaultTransport().(*dialGate)
	require.True(t, ok, "the default transport is behind a dialGate")
	tr.next = func() http.RoundTripper { return g }
	t.Cleanup(g.CloseIdleConnections)
	return g
}

// useSharedTransport makes rt the transport of the clients the test makes
// without WithHTTPClient, as if the process had built it (so that they can
// trust a test server's certificate).
func useSharedTransport(t testing.TB, rt http.RoundTripper) {
	old := sharedTransport
	sharedTransport = func() http.RoundTripper { return rt }
	t.Cleanup(func() { sharedTransport = old })
}

func TestNewClient_ClientsShareOnePool(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "https"}[useTLS], func(t *testing.T) {
			srv := newTokenServer(t, useTLS, answerAgent)
			if useTLS {
				g := newDefaultTransport().(*dialGate)
				g.next.(*http.Transport).TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
				t.Cleanup(g.CloseIdleConnections)
				useSharedTransport(t, g)
			}
			const n = 1000
			for i := range n {
				c, err := NewClient(benchToken+strconv.Itoa(i), WithBaseURL(srv.URL))
				require.NoError(t, err)
				_, _, err = c.Agents.Get(context.Background(), benchAgentID)
				require.NoError(t, err)
			}
			assert.Equal(t, int64(1), srv.conns.Load(), "%d clients, one call each, one after another: one connection", n)
			if useTLS {
				assert.Equal(t, int64(1), srv.handshakes.Load(), "one TLS handshake")
			}
		})
	}
}

func TestNewClient_PerRequestClientsLeakNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 calls")
	}
	srv := newTokenServer(t, false, answerAgent)
	call := func(n int) {
		for i := range n {
			// Ten tokens, so that the server's count of calls per token
			// stays small.
			c, err := NewClient(benchToken+strconv.Itoa(i%10), WithBaseURL(srv.URL))
			require.NoError(t, err)
			_, _, err = c.Agents.Get(context.Background(), benchAgentID)
			require.NoError(t, err)
		}
	}
	heap := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	call(1000) // the pool's connection, and the heap's warm-up
	fds, goroutines, heap1 := countFDs(t), runtime.NumGoroutine(), heap()
	call(9000)
	heap2 := heap()
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > goroutines && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond) // a finished call's goroutines may take a moment to end
	}
	growth := int64(heap2) - int64(heap1)
	t.Logf("10,000 clients: fds %d → %d, goroutines %d → %d, heap %d → %d KiB (%+d B)",
		fds, countFDs(t), goroutines, runtime.NumGoroutine(), heap1>>10, heap2>>10, growth)
	assert.LessOrEqual(t, runtime.NumGoroutine(), goroutines, "goroutines grew")
	assert.LessOrEqual(t, countFDs(t), fds+2, "open file descriptors grew")
	// A client kept alive costs about 1 KiB: 9,000 of them, 8 MiB.
	assert.Less(t, growth, int64(512<<10), "the heap grew with the count of clients made")
	assert.Equal(t, int64(1), srv.conns.Load(), "one connection for every client")
}

func TestWithToken_SendsItsTokenAndSharesTheRest(t *testing.T) {
	var sent []*http.Request // copies: the SDK drops the token from a request once answered
	var limited atomic.Int64
	c, mt := setup(t,
		WithHeader("X-Tenant-Group", "agency"),
		WithUserAgent("platform/1.0"),
		WithLimiter(limiterFunc(func(context.Context) error { limited.Add(1); return nil })),
		WithMiddleware(func(req *http.Request, next MiddlewareNext) (*http.Response, error) {
			sent = append(sent, req.Clone(req.Context()))
			return next(req)
		}))
	handle(mt, "GET", "agents/agt_1", 200, `{"id":"agt_1"}`, nil)

	d, err := c.WithToken(otherToken, WithHeader("X-Workspace", "ws_2"))
	require.NoError(t, err)
	_, _, err = d.Agents.Get(context.Background(), "agt_1")
	require.NoError(t, err)
	_, _, err = c.Agents.Get(context.Background(), "agt_1")
	require.NoError(t, err)

	require.Len(t, sent, 2, "the client's middleware runs for the derived client")
	testHeader(t, sent[0], "Authorization", "Bearer "+otherToken)
	testHeader(t, sent[0], "X-Tenant-Group", "agency")
	testHeader(t, sent[0], "X-Workspace", "ws_2")
	assert.Contains(t, sent[0].Header.Get("User-Agent"), "platform/1.0")
	assert.Equal(t, c.BaseURL(), d.BaseURL())
	testHeader(t, sent[1], "Authorization", "Bearer "+testToken)
	testHeader(t, sent[1], "X-Workspace", "")
	assert.Equal(t, int64(1), limited.Load(), "the Limiter paces its own token only")
	assert.NotContains(t, d.String(), otherToken)
}

// limiterFunc is a Limiter.
type limiterFunc func(context.Context) error

func (f limiterFunc) Wait(ctx context.Context) error { return f(ctx) }

func TestWithToken_LimiterGivenPacesTheNewToken(t *testing.T) {
	c, mt := setup(t)
	handle(mt, "GET", "agents/agt_1", 200, `{"id":"agt_1"}`, nil)
	refuse := errors.New("over the workspace's share")
	d, err := c.WithToken(otherToken, WithLimiter(limiterFunc(func(context.Context) error { return refuse })))
	require.NoError(t, err)
	_, _, err = d.Agents.Get(context.Background(), "agt_1")
	assert.ErrorIs(t, err, refuse)
	_, _, err = c.Agents.Get(context.Background(), "agt_1")
	assert.NoError(t, err, "the parent has no Limiter")
	assert.Equal(t, 1, mt.GetTotalCallCount())
}

func TestWithToken_RefusesBadTokensAndOptions(t *testing.T) {
	c, mt := setup(t)
	for _, tok := range []string{"", "  ", "btm_sk_a b", "btm_sk_a\r\nX-Evil: 1"} {
		d, err := c.WithToken(tok)
		require.ErrorIs(t, err, ErrInvalidArgument, "%q", tok)
		assert.Nil(t, d)
		if tok = strings.TrimSpace(tok); tok != "" {
			assert.NotContains(t, err.Error(), tok, "the error never shows the token")
		}
	}
	_, err := c.WithToken(otherToken, WithTimeout(-1))
	assert.ErrorIs(t, err, ErrInvalidArgument)
	_, err = (*Client)(nil).WithToken(otherToken)
	assert.ErrorIs(t, err, ErrInvalidArgument)
	assert.Zero(t, mt.GetTotalCallCount(), "nothing sent")
}

func TestWithToken_DoesNotChangeTheParent(t *testing.T) {
	// The parent's headers have room to grow in place: an append by the
	// derived client's options must not write into them.
	c, mt := setup(t, WithHeader("X-A", "1"), WithHeader("X-B", "2"), WithHeader("X-C", "3"))
	var got []http.Header
	handle(mt, "GET", "agents/agt_1", 200, `{"id":"agt_1"}`, func(r *http.Request) { got = append(got, r.Header) })
	d1, err := c.WithToken(otherToken, WithHeader("X-D", "d1"))
	require.NoError(t, err)
	d2, err := c.WithToken(otherToken, WithHeader("X-D", "d2"))
	require.NoError(t, err)
	for _, cl := range []*Client{c, d1, d2} {
		_, _, err := cl.Agents.Get(context.Background(), "agt_1")
		require.NoError(t, err)
	}
	require.Len(t, got, 3)
	assert.Empty(t, got[0].Get("X-D"))
	assert.Equal(t, "d1", got[1].Get("X-D"))
	assert.Equal(t, "d2", got[2].Get("X-D"))
}

func TestWithToken_SharesThePool(t *testing.T) {
	srv := newTokenServer(t, false, answerAgent)
	c, err := NewClient(benchToken, WithBaseURL(srv.URL))
	require.NoError(t, err)
	for i := range 100 {
		d, err := c.WithToken(otherToken + strconv.Itoa(i))
		require.NoError(t, err)
		_, _, err = d.Agents.Get(context.Background(), benchAgentID)
		require.NoError(t, err)
	}
	assert.Equal(t, int64(1), srv.conns.Load())

	// With WithHTTPClient, the derived clients send through the caller's.
	var through atomic.Int64
	mine := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		through.Add(1)
		return http.DefaultTransport.RoundTrip(r)
	})}
	c, err = NewClient(benchToken, WithBaseURL(srv.URL), WithHTTPClient(mine))
	require.NoError(t, err)
	d, err := c.WithToken(otherToken)
	require.NoError(t, err)
	_, _, err = d.Agents.Get(context.Background(), benchAgentID)
	require.NoError(t, err)
	assert.Equal(t, int64(1), through.Load())
}

// A token whose limit is spent (a 429 with Remaining 0) holds back its own
// calls, never another token's: through the shared pool, for a client made
// by WithToken (before or after the 429) or by NewClient.
func TestRateLimit_PerToken(t *testing.T) {
	reset := strconv.FormatInt(time.Now().Add(30*time.Second).Unix(), 10)
	for _, tc := range []struct {
		name  string
		other func(c *Client) (*Client, error)
		after bool // made after c's 429
	}{
		{"WithToken before", func(c *Client) (*Client, error) { return c.WithToken(otherToken) }, false},
		{"WithToken after", func(c *Client) (*Client, error) { return c.WithToken(otherToken) }, true},
		{"NewClient", func(c *Client) (*Client, error) { return NewClient(otherToken, WithBaseURL(c.BaseURL())) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newTokenServer(t, false, func(w http.ResponseWriter, token string) {
				h := w.Header()
				h.Set("X-RateLimit-Limit", "100")
				h.Set("X-RateLimit-Reset", reset)
				if token == benchToken {
					h.Set("X-RateLimit-Remaining", "0")
					h.Set("Retry-After", "30")
					w.WriteHeader(http.StatusTooManyRequests)
					return
				}
				h.Set("X-RateLimit-Remaining", "99")
				_, _ = w.Write(benchAgentJSON)
			})
			c, err := NewClient(benchToken, WithBaseURL(srv.URL), WithMaxRetryWait(time.Second))
			require.NoError(t, err)
			var other *Client
			if !tc.after {
				other, err = tc.other(c)
				require.NoError(t, err)
			}
			_, _, err = c.Agents.Get(context.Background(), benchAgentID)
			var rle *RateLimitError
			require.ErrorAs(t, err, &rle)
			if tc.after {
				other, err = tc.other(c)
				require.NoError(t, err)
			}

			start := time.Now()
			for range 3 {
				_, _, err = other.Agents.Get(context.Background(), benchAgentID, WithRateLimitWait(false))
				require.NoError(t, err, "the other token's calls go")
			}
			assert.Less(t, time.Since(start), time.Second, "not held back")
			assert.Equal(t, 3, srv.callsOf(otherToken))
			assert.Equal(t, 99, other.Rate().Remaining)

			_, _, err = c.Agents.Get(context.Background(), benchAgentID, WithRateLimitWait(false))
			require.ErrorAs(t, err, &rle, "the spent token's call is held back")
			assert.Equal(t, 1, srv.callsOf(benchToken), "and not sent")
			assert.Equal(t, 0, c.Rate().Remaining)
			assert.Equal(t, int64(1), srv.conns.Load(), "one pool")
		})
	}
}

// BenchmarkNewClient is the cost of making a client (target: small, no
// pool, no goroutine): what the per-request pattern pays on every request.
func BenchmarkNewClient(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewClient(benchToken, WithBaseURL("http://127.0.0.1:1/v1/")); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWithToken is the cost of a client for another token made from
// an existing one.
func BenchmarkWithToken(b *testing.B) {
	c, err := NewClient(benchToken, WithBaseURL("http://127.0.0.1:1/v1/"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.WithToken(otherToken); err != nil {
			b.Fatal(err)
		}
	}
}
