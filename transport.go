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
	return newDialGate(t)
}

// transport runs around every attempt, in this order: the Limiter, the
// per-attempt timeout, the middleware (outermost first), then logging and
// the network; on the way back it records the rate-limit headers. It has
// no CloseIdleConnections on purpose: retryablehttp calls it on every
// failed call, which would drop the whole pool.
type transport struct {
	c    *Client
	next func() http.RoundTripper
	// defaultTimeout bounds an attempt without WithTimeout; 0 when the
	// transport below bounds it (see DefaultTimeout).
	defaultTimeout time.Duration
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	info := callInfoFrom(req.Context())
	cfg := info.cfg
	if err := waitForLimiter(info); err != nil {
		return nil, err
	}
	var cancel context.CancelFunc
	if timeout := cmp.Or(cfg.timeout, t.defaultTimeout); timeout > 0 {
		var actx context.Context
		actx, cancel = context.WithTimeout(req.Context(), timeout)
		req = req.WithContext(actx)
	}
	resp, err := t.chain(req, info, cfg.middleware)
	if err != nil {
		if cancel != nil {
			cancel()
		}
		return nil, err
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
	resp, err := t.next().RoundTrip(req)
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
		append(attrs, slog.Int("status", resp.StatusCode), slog.String("request_id", headerValue(resp.Header, headerRequestID)))...)
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
