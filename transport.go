package botonom

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Middleware runs around every attempt of a call, inside the retry loop
// (see WithMiddleware): it sees the request exactly as sent, with
// X-Botonom-Retry-Count set, and the raw answer, and calls next to send.
// It may change the request's headers, or answer without calling next.
// CallFromContext(req.Context()) tells which call the attempt belongs to.
type Middleware func(req *http.Request, next MiddlewareNext) (*http.Response, error)

// MiddlewareNext sends the request on: to the next middleware, or to the
// network after the last.
type MiddlewareNext = func(*http.Request) (*http.Response, error)

// WithMiddleware adds mw around every attempt. Middleware runs outermost
// first, in the order given: the client's (given to NewClient) before the
// call's own (given to one method call), each WithMiddleware adding one.
//
// A nil mw is refused.
func WithMiddleware(mw Middleware) Option {
	return func(c *config) error {
		if mw == nil {
			return errors.New("WithMiddleware: nil Middleware")
		}
		c.middleware = append(c.middleware, mw)
		return nil
	}
}

// newHTTPClient is the http.Client the retry loop sends each attempt
// with: the transport below, and a redirect policy that keeps the token on
// the API's origin. With WithHTTPClient, the caller's jar, timeout and
// redirect policy are kept.
func (c *Client) newHTTPClient() *http.Client {
	inner := &http.Client{}
	var policy func(*http.Request, []*http.Request) error
	if hc := c.cfg.httpClient; hc != nil {
		policy, inner.Jar, inner.Timeout = hc.CheckRedirect, hc.Jar, hc.Timeout
	}
	inner.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		return checkRedirect(req, via, policy)
	}
	t := &transport{c: c, next: c.nextTransport()}
	if hc := c.cfg.httpClient; hc != nil && hc.Timeout == 0 {
		// The caller's transport may have no bound at all: the default
		// bounds the whole attempt (the SDK's own bounds its waits itself).
		t.defaultTimeout = DefaultTimeout
	} else if hc == nil {
		t.bodyTimeout = DefaultTimeout
		t.long = sharedLongTransport
	}
	inner.Transport = t
	return inner
}

// maxRedirects is how many redirects one attempt follows, as net/http.
const maxRedirects = 10

// redirectError is a redirect the client will not follow: retrying would
// meet the same redirect again.
type redirectError struct{ err error }

func (e *redirectError) Error() string { return e.err.Error() }
func (e *redirectError) Unwrap() error { return e.err }

// checkRedirect keeps the token on the origin the client was pointed at:
// net/http drops Authorization on a redirect to another host, but keeps it
// for another port or scheme of the same host (an http:// downgrade, say);
// this drops it then too. policy is the caller's CheckRedirect, if any;
// its refusals, like the SDK's own, are redirectErrors, never retried
// (http.ErrUseLastResponse passes as it is).
func checkRedirect(req *http.Request, via []*http.Request, policy func(*http.Request, []*http.Request) error) error {
	if origin := via[0].URL; req.URL.Scheme != origin.Scheme || req.URL.Host != origin.Host {
		req.Header.Del("Authorization")
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return &redirectError{fmt.Errorf("redirect to unsupported scheme %q", req.URL.Scheme)}
	}
	if policy != nil {
		err := policy(req, via)
		if err == nil || errors.Is(err, http.ErrUseLastResponse) {
			return err
		}
		return &redirectError{err}
	}
	if len(via) >= maxRedirects {
		return &redirectError{fmt.Errorf("stopped after %d redirects", maxRedirects)}
	}
	return nil
}

// nextTransport is the transport requests finally go through: the caller's
// (read at each request, so it may be swapped, e.g. by httpmock), or the
// one the process shares (sharedTransport).
func (c *Client) nextTransport() func() http.RoundTripper {
	if hc := c.cfg.httpClient; hc != nil {
		return func() http.RoundTripper {
			if hc.Transport != nil {
				return hc.Transport
			}
			return http.DefaultTransport
		}
	}
	return sharedTransport
}

// sharedTransport is the transport of every client made without
// WithHTTPClient, made once, at the first request of the first of them: a
// clone of http.DefaultTransport sized for a busy service, behind a
// dialGate so that a burst of first calls opens one HTTP/2 connection.
// Clients hold no pool of their own: a thousand of them, one per API
// token, reuse the connections of one pool, and a client dropped leaves
// nothing open behind it.
var sharedTransport = sync.OnceValue(newDefaultTransport)

// sharedLongTransport is sharedTransport without its bound on the wait
// for an answer's headers, for the attempts WithTimeout gives longer than
// DefaultTimeout (their own deadline bounds them): a pool of its own, made
// at the first of them.
var sharedLongTransport = sync.OnceValue(func() http.RoundTripper {
	g := newDefaultTransport().(*dialGate)
	g.next.(*http.Transport).ResponseHeaderTimeout = 0
	return g
})

// newDefaultTransport builds the SDK's default transport (see
// sharedTransport).
func newDefaultTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = DefaultMaxIdleConnsPerHost
	t.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
	// DefaultTimeout, at no cost per call: the clone already bounds the
	// dial (30 s) and the TLS handshake (10 s); this bounds the wait for
	// the answer once the request is sent. (A context deadline per attempt
	// costs about ten allocations a call.)
	t.ResponseHeaderTimeout = DefaultTimeout
	// HTTP/2 health checks: a connection that has read nothing for a while
	// is pinged, and closed when the ping goes unanswered, so that a peer
	// gone silent (a black hole: no RST, no FIN) is left for a new
	// connection within http2PingAfter+http2PingTimeout (45 s), not kept in
	// the pool with each call on it waiting DefaultTimeout.
	t.HTTP2 = &http.HTTP2Config{SendPingTimeout: http2PingAfter, PingTimeout: http2PingTimeout}
	return newDialGate(t)
}

// The HTTP/2 health check of the SDK's transport: a ping after
// http2PingAfter without a frame read, and the connection closed when the
// ping is not answered within http2PingTimeout.
const (
	http2PingAfter   = 30 * time.Second
	http2PingTimeout = 15 * time.Second
)

// transport runs around every request sent, in this order: the Limiter,
// the per-attempt timeout, the middleware (outermost first), then logging
// and the network; on the way back it records the rate-limit headers. A
// redirect hop is a request sent within its attempt: it waits for the
// Limiter, runs the middleware, counts in Attempts and carries its
// attempt's X-Botonom-Retry-Count (net/http copies the headers), under the
// attempt's one deadline. It has no CloseIdleConnections on purpose:
// retryablehttp calls it on every failed call, which would drop the whole
// pool.
type transport struct {
	c    *Client
	next func() http.RoundTripper
	// defaultTimeout bounds an attempt without WithTimeout; 0 when the
	// transport below bounds it (see DefaultTimeout).
	defaultTimeout time.Duration
	// bodyTimeout bounds the reading of each answer's body, from its
	// headers, on the SDK's own transport (which bounds the wait for the
	// headers) when WithTimeout does not bound the whole attempt.
	bodyTimeout time.Duration
	// long, on the SDK's own transport, is the transport of the attempts
	// WithTimeout gives longer than DefaultTimeout (sharedLongTransport).
	long func() http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	info := callInfoFrom(req.Context())
	cfg := info.cfg
	if err := waitForLimiter(info); err != nil {
		return nil, err
	}
	var cancel context.CancelFunc
	if timeout := cmp.Or(cfg.timeout, t.defaultTimeout); timeout > 0 {
		// RoundTrip runs once per redirect hop: the first hop of an
		// attempt sets its deadline (numberAttempt clears it), the others
		// share it.
		if info.deadline.IsZero() {
			info.deadline = time.Now().Add(timeout)
		}
		var actx context.Context
		actx, cancel = context.WithDeadline(req.Context(), info.deadline)
		req = req.WithContext(actx)
	}
	resp, err := t.chain(req, info, cfg.middleware)
	if err == nil && resp == nil {
		err = errors.New("the transport or a middleware returned neither an answer nor an error")
	}
	if err != nil {
		if cancel != nil {
			cancel()
		}
		return nil, err
	}
	if resp.Body == nil { // net/http's Client accepts that from a RoundTripper: an empty body
		resp.Body = http.NoBody
	}
	if cancel != nil {
		resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	}
	if resp.Request == nil { // a middleware's own answer, or a test double's
		resp.Request = req
	}
	info.rate = t.c.state.observe(resp, cfg.now) // for the Response, without parsing the headers again
	return resp, nil
}

// chain runs the middleware mws around send, outermost first.
func (t *transport) chain(req *http.Request, info *callInfo, mws []Middleware) (*http.Response, error) {
	if len(mws) == 0 {
		return t.send(req, info)
	}
	return mws[0](req, func(req *http.Request) (*http.Response, error) {
		return t.chain(req, info, mws[1:])
	})
}

// send puts one attempt on the network, and logs it.
func (t *transport) send(req *http.Request, info *callInfo) (*http.Response, error) {
	logger := info.cfg.logger
	var start time.Time
	if logger != nil { // the clock is read only for the log line
		start = time.Now()
	}
	info.sent++
	next := t.next
	if t.long != nil && info.cfg.timeout > DefaultTimeout {
		next = t.long // next would cut the wait for headers at DefaultTimeout
	}
	resp, err := next().RoundTrip(req)
	if err == nil && resp != nil && resp.Body != nil && t.bodyTimeout > 0 && info.cfg.timeout == 0 {
		info.watchBody(resp.Body, t.bodyTimeout)
	}
	if logger != nil {
		logAttempt(logger, req, resp, err, time.Since(start))
	}
	return resp, err
}

// logAttempt logs one attempt: method, path, attempt, duration, and the
// status and request ID or the error; never a header value or the token.
func logAttempt(logger *slog.Logger, req *http.Request, resp *http.Response, err error, took time.Duration) {
	attrs := []slog.Attr{
		slog.String("method", req.Method),
		slog.String("path", req.URL.Path),
		slog.String("attempt", headerValue(req.Header, headerRetryCount)),
		slog.Duration("duration", took),
	}
	if err != nil {
		logger.LogAttrs(req.Context(), slog.LevelWarn, "botonom: request failed", append(attrs, slog.String("error", err.Error()))...)
		return
	}
	level := slog.LevelDebug
	if resp.StatusCode >= 400 {
		level = slog.LevelWarn
	}
	logger.LogAttrs(req.Context(), level, "botonom: request",
		append(attrs, slog.Int("status", resp.StatusCode), slog.String("request_id", requestID(resp)))...)
}

// cancelOnClose ends a per-attempt timeout when the body is closed, not
// when RoundTrip returns, so the body can still be read.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// bodyWatch bounds the reading of an answer's body on the SDK's own
// transport, which bounds only the wait for the headers: a body that does
// not arrive whole within the bound (a server that stops after the
// headers) is closed under its reader, whose Read then fails, so the
// attempt fails like a dropped connection. A context deadline per attempt
// would do the same at about ten allocations a call; a bodyWatch comes
// from a pool and costs none. One watches the answers of one call, one at
// a time: each armed with the next (a retry, a redirect hop).
type bodyWatch struct {
	timer *time.Timer

	mu       sync.Mutex
	body     io.Closer     // the answer's body; nil: nothing watched
	deadline time.Time     // when body must be read whole
	bound    time.Duration // the bound body was given
	fired    bool          // body was closed unread
}

var bodyWatches = sync.Pool{New: func() any { return new(bodyWatch) }}

// watchBody closes body unless it is closed within d; the call's earlier
// answer, if watched, is no longer.
func (info *callInfo) watchBody(body io.Closer, d time.Duration) {
	w := info.watch
	if w == nil {
		w = bodyWatches.Get().(*bodyWatch)
		info.watch = w
	}
	w.mu.Lock()
	w.body, w.deadline, w.bound, w.fired = body, time.Now().Add(d), d, false
	w.mu.Unlock()
	if w.timer == nil {
		w.timer = time.AfterFunc(d, w.expire)
	} else {
		w.timer.Reset(d)
	}
}

// expire closes the watched body once its deadline has passed. The check
// makes a late run of the timer, armed for an earlier answer, harmless.
func (w *bodyWatch) expire() {
	w.mu.Lock()
	body := w.body
	if body == nil || time.Now().Before(w.deadline) {
		w.mu.Unlock()
		return
	}
	w.body, w.fired = nil, true
	w.mu.Unlock()
	_ = body.Close()
}

// bodyTimedOut returns, after a read of the call's latest answer failed,
// the error to report if the watch closed it, and nil otherwise.
func (info *callInfo) bodyTimedOut() error {
	w := info.watch
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.fired {
		return nil
	}
	return fmt.Errorf("the answer's body did not arrive whole within %v of its headers: %w", w.bound, context.DeadlineExceeded)
}

// endWatch stops watching at the end of the call (its last answer closed)
// and gives the watch back to the pool.
func (info *callInfo) endWatch() {
	w := info.watch
	if w == nil {
		return
	}
	info.watch = nil
	w.timer.Stop()
	w.mu.Lock()
	w.body = nil
	w.mu.Unlock()
	bodyWatches.Put(w)
}
