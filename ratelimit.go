package botonom

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/botonom/botonom-go/internal/capped"
)

// Rate is the rate-limit state the API reported in its X-RateLimit-*
// headers.
type Rate struct {
	Limit     int       // requests allowed per window (X-RateLimit-Limit)
	Remaining int       // requests left in this window (X-RateLimit-Remaining)
	Reset     time.Time // when the window resets, by the API's clock (X-RateLimit-Reset)
}

// Limiter is a client-side throttle called before every attempt (see
// WithLimiter). *rate.Limiter from golang.org/x/time/rate satisfies it.
type Limiter interface {
	Wait(ctx context.Context) error
}

// The X-RateLimit-* header names in Go's canonical form, the keys of an
// http.Header. Header.Get canonicalises its argument, and "X-RateLimit-…"
// (capital L) is not canonical: each Get would allocate the canonical copy,
// six allocations per call (every answer is parsed twice).
const (
	headerRateLimit     = "X-Ratelimit-Limit"
	headerRateRemaining = "X-Ratelimit-Remaining"
	headerRateReset     = "X-Ratelimit-Reset"
)

// headerValue is h.Get(key) for a key already in canonical form (as all
// the header constants are), without Get's pass over the key to
// canonicalise it: it runs several times on every call.
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// parseRate reads the X-RateLimit-* headers; ok is false unless all three
// are present and plain decimal numbers (no sign), the reset at most maxUnix.
func parseRate(h http.Header) (r Rate, ok bool) {
	limit, ok1 := parseUnsigned(headerValue(h, headerRateLimit))
	remaining, ok2 := parseUnsigned(headerValue(h, headerRateRemaining))
	reset, ok3 := parseUnsigned(headerValue(h, headerRateReset))
	if !ok1 || !ok2 || !ok3 || limit > math.MaxInt32 || remaining > math.MaxInt32 || reset > maxUnix {
		return Rate{}, false
	}
	return Rate{Limit: int(limit), Remaining: int(remaining), Reset: time.Unix(reset, 0).UTC()}, true
}

// parseUnsigned parses a header value that must be a plain decimal number:
// surrounding spaces are allowed, a sign ("+5", "-0") is not.
func parseUnsigned(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// maxUnix keeps parsed times far from time.Duration overflow (year 2286).
const maxUnix = 1 << 33

// serverWait returns how long the answer asks the client to wait, and
// whether it asked at all: Retry-After (delay-seconds or HTTP-date), else
// on a 429 that spent the limit, until X-RateLimit-Reset. Absolute times are
// measured against the answer's Date header when it has one, so a skewed
// local clock neither hammers the API nor stalls.
func serverWait(resp *http.Response, now time.Time) (time.Duration, bool) {
	if resp == nil {
		return 0, false
	}
	serverNow := now
	if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		serverNow = d
	}
	if ra := strings.TrimSpace(resp.Header.Get("Retry-After")); ra != "" {
		if secs, err := strconv.ParseUint(ra, 10, 64); err == nil {
			if secs > maxUnix {
				secs = maxUnix
			}
			return time.Duration(secs) * time.Second, true
		}
		if t, err := http.ParseTime(ra); err == nil {
			return max(t.Sub(serverNow), 0), true
		}
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		if rate, ok := parseRate(resp.Header); ok && rate.Remaining == 0 {
			return max(rate.Reset.Sub(serverNow), 0), true
		}
	}
	return 0, false
}

// rateState is the client-wide rate-limit state, shared by all goroutines.
type rateState struct {
	mu   sync.Mutex
	rate Rate
	// resetAt is Rate.Reset on the local clock, set while Remaining is 0.
	resetAt time.Time
}

func (s *rateState) get() Rate {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rate
}

// observe records the rate-limit headers of an answer received just now,
// and returns them (the zero Rate when the answer has none). It reads the
// clock only when the limit is spent: clock reads are not free (about
// 100 ns on some virtual machines), and this runs on every answer.
func (s *rateState) observe(resp *http.Response, clock func() time.Time) Rate {
	rate, ok := parseRate(resp.Header)
	if !ok {
		return Rate{}
	}
	var resetAt time.Time
	if rate.Remaining == 0 {
		now := clock()
		serverNow := now
		if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
			serverNow = d
		}
		if ahead := rate.Reset.Sub(serverNow); ahead <= maxRateLimitHold {
			resetAt = now.Add(ahead)
		}
	}
	s.mu.Lock()
	s.rate, s.resetAt = rate, resetAt
	s.mu.Unlock()
	return rate
}

// maxRateLimitHold bounds how far ahead a spent window's reset may be for
// the client to hold calls back before sending (1 hour; the API's windows
// are a minute). A reset further out is a broken header (or a proxy with no
// clock): holding on it would refuse every call for good, since nothing
// sent means no newer header to correct it.
const maxRateLimitHold = time.Hour

// untilReset is how long until the spent window resets; 0 when the limit
// is not spent or the window has passed. Like observe, it reads the clock
// only when the limit is spent.
func (s *rateState) untilReset(clock func() time.Time) (time.Duration, Rate) {
	s.mu.Lock()
	resetAt, rate := s.resetAt, s.rate
	s.mu.Unlock()
	if resetAt.IsZero() {
		return 0, rate
	}
	return resetAt.Sub(clock()), rate
}

// callInfo is the per-call state the retry hooks share, carried in the
// request's context.
//
// It is that context itself: it embeds the caller's context and answers
// Value(callInfoKey{}) with itself, one allocation where context.WithValue
// and the value it carries were two. Its last four fields are scratch space
// do would otherwise allocate piece by piece. (A call's cost over
// hand-written net/http is measured, allocations included, in
// bench_test.go.)
type callInfo struct {
	context.Context // the caller's

	retryable   bool // may be retried after a 5xx or transport error
	attempts    int  // attempts started so far
	budgetSpent int  // retry-budget tokens this call took
	rate        Rate // the rate-limit headers of the latest answer

	firstRetryCount [1]string             // X-Botonom-Retry-Count of the first attempt
	rreq            retryablehttp.Request // the request as the retry loop sees it
	body            capped.Reader         // the success body, under the size cap
	drain           io.LimitedReader      // what drainAndClose reads of the body
}

type callInfoKey struct{}

// Value makes the callInfo findable from the request's context, and from
// any context derived from it (the per-attempt timeout).
func (info *callInfo) Value(key any) any {
	if _, ok := key.(callInfoKey); ok {
		return info
	}
	return info.Context.Value(key)
}

func callInfoFrom(ctx context.Context) *callInfo {
	info, _ := ctx.Value(callInfoKey{}).(*callInfo)
	return info
}

// retryableRequest reports whether a request may be sent again after an
// answer that says nothing about whether the API acted on it (5xx, a
// dropped connection): reads and idempotent writes, and POST only with an
// Idempotency-Key, which makes the API treat the repeat as the same call.
func retryableRequest(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return headerValue(req.Header, headerIdempotencyKey) != ""
}

// stopError marks an error from the SDK's own pre-send checks (rate limit
// spent, Limiter refused): never retried, returned to the caller as is.
type stopError struct{ err error }

func (e *stopError) Error() string { return e.err.Error() }
func (e *stopError) Unwrap() error { return e.err }

// Retry budget: a client-wide token bucket that bounds the extra load
// retries add during an outage (the AWS SDKs' retry quota is the model).
// It holds retryBudgetCapacity tokens; a retry after a 5xx or a transport
// error takes retryCost (retryTimeoutCost after a timeout); a successful
// call gives back what it took, or retrySuccessRefill if it took nothing.
// So a full bucket pays for 100 retries in a row, and once it is empty a
// call returns its last error instead of retrying until successes refill
// it. Retries after a 429 are paced by the API itself and take nothing.
const (
	retryBudgetCapacity = 500
	retryCost           = 5
	retryTimeoutCost    = 10
	retrySuccessRefill  = 1
)

type retryBudget struct {
	mu     sync.Mutex
	tokens int
}

func newRetryBudget() *retryBudget { return &retryBudget{tokens: retryBudgetCapacity} }

// take spends cost tokens for a retry of info's call, if there are enough.
func (b *retryBudget) take(info *callInfo, cost int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tokens < cost {
		return false
	}
	b.tokens -= cost
	info.budgetSpent += cost
	return true
}

// succeeded refills the bucket after a 2xx answer.
func (b *retryBudget) succeeded(info *callInfo) {
	refill := info.budgetSpent
	if refill == 0 {
		refill = retrySuccessRefill
	}
	b.mu.Lock()
	b.tokens = min(b.tokens+refill, retryBudgetCapacity)
	b.mu.Unlock()
}

// newRetryableClient configures go-retryablehttp with the SDK's policy; none
// of its defaults (stderr logger, uncapped Retry-After, "giving up" error,
// small connection pool) survive.
func (c *Client) newRetryableClient() *retryablehttp.Client {
	inner := &http.Client{}
	var policy func(*http.Request, []*http.Request) error
	if hc := c.cfg.httpClient; hc != nil {
		policy, inner.Jar, inner.Timeout = hc.CheckRedirect, hc.Jar, hc.Timeout
	}
	inner.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		return checkRedirect(req, via, policy)
	}
	inner.Transport = &transport{c: c, next: c.nextTransport()}
	return &retryablehttp.Client{
		HTTPClient:   inner,
		Logger:       nil, // the SDK logs through its own slog.Logger, in transport
		RetryWaitMin: c.cfg.retryWaitMin,
		RetryWaitMax: c.cfg.retryWaitMax,
		// The attempt count is enforced in checkRetry, which knows it; this
		// is only a backstop.
		RetryMax:       c.cfg.maxRetries,
		RequestLogHook: requestHook,
		PrepareRetry:   rewindBody,
		CheckRetry:     c.checkRetry,
		Backoff:        c.backoff,
		ErrorHandler:   passthroughErrorHandler,
	}
}

// maxRedirects is how many redirects one attempt follows, as net/http.
const maxRedirects = 10

// checkRedirect keeps the token on the origin the client was pointed at:
// net/http drops Authorization on a redirect to another host, but keeps it
// for another port or scheme of the same host (an http:// downgrade, say);
// this drops it then too. policy is the caller's CheckRedirect, if any.
func checkRedirect(req *http.Request, via []*http.Request, policy func(*http.Request, []*http.Request) error) error {
	if origin := via[0].URL; req.URL.Scheme != origin.Scheme || req.URL.Host != origin.Host {
		req.Header.Del("Authorization")
	}
	if policy != nil {
		return policy(req, via)
	}
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	return nil
}

// nextTransport is the transport requests finally go through: the caller's
// (read at each request, so it may be swapped, e.g. by httpmock), or a
// clone of http.DefaultTransport sized for a busy service.
func (c *Client) nextTransport() func() http.RoundTripper {
	if hc := c.cfg.httpClient; hc != nil {
		return func() http.RoundTripper {
			if hc.Transport != nil {
				return hc.Transport
			}
			return http.DefaultTransport
		}
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = DefaultMaxIdleConnsPerHost
	t.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
	return func() http.RoundTripper { return t }
}

// requestHook runs before each attempt: it numbers the attempt in
// X-Botonom-Retry-Count and for the call's bookkeeping.
func requestHook(_ retryablehttp.Logger, req *http.Request, attempt int) {
	info := callInfoFrom(req.Context())
	if attempt == 0 && info != nil {
		// The call's own "0", not a slice shared with other requests; a
		// retry gets a new slice, so the one an earlier attempt may still
		// be writing is never changed under it.
		info.firstRetryCount[0] = "0"
		req.Header[headerRetryCount] = info.firstRetryCount[:]
	} else {
		req.Header[headerRetryCount] = []string{strconv.Itoa(attempt)}
	}
	if info != nil {
		info.attempts = attempt + 1
	}
}

// rewindBody runs before each retry: it gives the retry a fresh copy of the
// body from GetBody, the previous attempt having read its own. (Do hands
// the retry loop requests with GetBody as they are, rather than through
// retryablehttp's body wrapper, which builds a throwaway request.)
func rewindBody(req *http.Request) error {
	if req.GetBody == nil || req.Body == nil || req.Body == http.NoBody {
		return nil
	}
	body, err := req.GetBody()
	if err != nil {
		return err
	}
	req.Body = body
	return nil
}

// passthroughErrorHandler hands the last answer and error to Do unchanged,
// so the caller gets the typed error of the last answer rather than
// retryablehttp's "giving up" text.
func passthroughErrorHandler(resp *http.Response, err error, _ int) (*http.Response, error) {
	return resp, err
}

// checkRetry decides whether to retry, from the status and headers only
// (never from a parsed body):
//   - never once the context is done, or after the last allowed attempt;
//   - 429 on any method, unless the API asks for a wait longer than
//     MaxRetryWait (then the caller gets the *RateLimitError at once);
//   - 408, 500, 502, 503, 504 and transport errors only on requests that
//     may be repeated (retryableRequest), and while the retry budget lasts;
//   - never TLS, redirect or the SDK's own pre-send errors.
func (c *Client) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	info := callInfoFrom(ctx)
	if info == nil || info.attempts > c.cfg.maxRetries {
		return false, nil
	}
	if err != nil {
		if !info.retryable || !retryableTransportError(err) {
			return false, nil
		}
		cost := retryCost
		if isTimeout(err) {
			cost = retryTimeoutCost
		}
		return c.budget.take(info, cost), nil
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		wait, _ := serverWait(resp, c.cfg.now())
		return wait <= c.cfg.maxRetryWait, nil
	case http.StatusRequestTimeout, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		if !info.retryable {
			return false, nil
		}
		if wait, ok := serverWait(resp, c.cfg.now()); ok && wait > c.cfg.maxRetryWait {
			return false, nil
		}
		return c.budget.take(info, retryCost), nil
	}
	return false, nil
}

// backoff is the wait before retry attempt+1: what the API asked for, else
// exponential backoff with full jitter, a random time in
// [0, min(max, min·2^attempt)], never above MaxRetryWait.
func (c *Client) backoff(lo, hi time.Duration, attempt int, resp *http.Response) time.Duration {
	if wait, ok := serverWait(resp, c.cfg.now()); ok {
		return wait // checkRetry already refused waits above MaxRetryWait
	}
	ceiling := hi
	if attempt < 32 && lo<<attempt > 0 && lo<<attempt < hi {
		ceiling = lo << attempt
	}
	return rand.N(min(ceiling, c.cfg.maxRetryWait) + 1)
}

// retryableTransportError reports whether an error without an answer may be
// retried: not TLS failures, redirect-policy failures or the SDK's own
// pre-send errors, which would fail the same way again.
func retryableTransportError(err error) bool {
	var stop *stopError
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	var authErr x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invErr x509.CertificateInvalidError
	if errors.As(err, &stop) || errors.As(err, &certErr) || errors.As(err, &recErr) ||
		errors.As(err, &authErr) || errors.As(err, &hostErr) || errors.As(err, &invErr) {
		return false
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		msg := ue.Err.Error()
		if strings.Contains(msg, "redirect") || strings.Contains(msg, "unsupported protocol scheme") {
			return false
		}
	}
	return true
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &te) && te.Timeout())
}

// transport runs around every attempt: the rate-limit wait, the Limiter,
// the per-attempt timeout, logging, and recording the rate-limit headers.
// It has no CloseIdleConnections on purpose: retryablehttp calls it on every
// failed call, which would drop the whole pool.
type transport struct {
	c    *Client
	next func() http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	cfg := t.c.cfg
	ctx := req.Context()
	if err := t.c.waitForRateLimit(ctx); err != nil {
		return nil, &stopError{err}
	}
	if cfg.limiter != nil {
		if err := cfg.limiter.Wait(ctx); err != nil {
			return nil, &stopError{fmt.Errorf("botonom: limiter: %w", err)}
		}
	}
	var cancel context.CancelFunc
	if cfg.timeout > 0 {
		var actx context.Context
		actx, cancel = context.WithTimeout(ctx, cfg.timeout)
		req = req.WithContext(actx)
	}
	var start time.Time
	if cfg.logger != nil { // the clock is read only for the log line
		start = time.Now()
	}
	resp, err := t.next().RoundTrip(req)
	if cfg.logger != nil {
		t.log(req, resp, err, time.Since(start))
	}
	if err != nil {
		if cancel != nil {
			cancel()
		}
		return nil, err
	}
	if cancel != nil {
		resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	}
	rate := t.c.state.observe(resp, cfg.now)
	if info := callInfoFrom(ctx); info != nil {
		info.rate = rate // for the Response, without parsing the headers again
	}
	return resp, nil
}

func (t *transport) log(req *http.Request, resp *http.Response, err error, took time.Duration) {
	attrs := []slog.Attr{
		slog.String("method", req.Method),
		slog.String("path", req.URL.Path),
		slog.String("attempt", req.Header.Get(headerRetryCount)),
		slog.Duration("duration", took),
	}
	if err != nil {
		t.c.cfg.logger.LogAttrs(req.Context(), slog.LevelWarn, "botonom: request failed", append(attrs, slog.String("error", err.Error()))...)
		return
	}
	level := slog.LevelDebug
	if resp.StatusCode >= 400 {
		level = slog.LevelWarn
	}
	t.c.cfg.logger.LogAttrs(req.Context(), level, "botonom: request",
		append(attrs, slog.Int("status", resp.StatusCode), slog.String("request_id", resp.Header.Get(headerRequestID)))...)
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

// waitForRateLimit holds a request back while the last answer said the
// limit is spent and its window has not reset: it waits (bounded by
// MaxRetryWait and ctx) or, with WithRateLimitWait(false) or a longer wait,
// returns a *RateLimitError without sending anything.
func (c *Client) waitForRateLimit(ctx context.Context) error {
	wait, rate := c.state.untilReset(c.cfg.now)
	if wait <= 0 {
		return nil
	}
	if !c.cfg.rateLimitWait || wait > c.cfg.maxRetryWait {
		return &RateLimitError{
			APIError: &APIError{
				StatusCode: http.StatusTooManyRequests,
				Type:       "rate_limit_error",
				Message:    "rate limit spent until the window resets; request not sent",
			},
			Rate:       rate,
			RetryAfter: wait,
		}
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
