package botonom

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
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
// three allocations per answer.
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

// serverWait returns how long the answer asks the client to wait, and why
// (empty when it did not ask): Retry-After (delay-seconds or HTTP-date),
// else on a 429 that spent the limit, until X-RateLimit-Reset. Absolute
// times are measured against the answer's Date header when it has one, so
// a skewed local clock neither hammers the API nor stalls.
func serverWait(resp *http.Response, now time.Time) (time.Duration, WaitReason) {
	if resp == nil {
		return 0, ""
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
			return time.Duration(secs) * time.Second, WaitRetryAfter
		}
		if t, err := http.ParseTime(ra); err == nil {
			return max(t.Sub(serverNow), 0), WaitRetryAfter
		}
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		if rate, ok := parseRate(resp.Header); ok && rate.Remaining == 0 {
			return max(rate.Reset.Sub(serverNow), 0), WaitRateLimitReset
		}
	}
	return 0, ""
}

// rateState is a client's rate-limit state, shared by its goroutines. It
// belongs to the client's token: every client has its own (one made by
// WithToken too), so a token whose limit is spent never holds back
// another's calls, though their clients share a connection pool.
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

// holdForRateLimit runs once per call, before its first attempt: while the
// last answer said the limit is spent and its window has not reset, it
// waits until the reset (bounded by MaxRetryWait and the context) or, with
// WithRateLimitWait(false) or a longer wait, returns a *RateLimitError
// without sending anything. Retries never come here: the wait before a
// retry is decide's alone.
func (c *Client) holdForRateLimit(info *callInfo) error {
	cfg := info.cfg
	wait, rate := c.state.untilReset(cfg.now)
	if wait <= 0 {
		return nil
	}
	if !cfg.rateLimitWait || wait > cfg.maxRetryWait {
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
	info.traceWait(Wait{Reason: WaitRateLimitHold, Duration: wait})
	return c.sleep(info, wait)
}

// waitForLimiter calls the Limiter (WithLimiter) before an attempt; a
// refusal stops the call unsent.
func waitForLimiter(info *callInfo) error {
	lim := info.cfg.limiter
	if lim == nil {
		return nil
	}
	var start time.Time
	if len(info.cfg.traces) > 0 { // the clock is read only for a trace
		start = time.Now()
	}
	if err := lim.Wait(info); err != nil {
		return &stopError{fmt.Errorf("botonom: limiter: %w", err)}
	}
	if len(info.cfg.traces) > 0 {
		info.traceWait(Wait{Reason: WaitLimiter, Duration: time.Since(start), Attempt: info.attempt})
	}
	return nil
}
