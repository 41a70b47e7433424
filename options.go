package botonom

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Option configures a Client, given to NewClient, or one call, given to
// an endpoint method (or Do) after its other arguments. What a call is
// given wins over the client's setting, for that call only. An option with
// a bad argument makes NewClient or the call fail, before anything is
// sent, with an error that says what is wrong and matches
// ErrInvalidArgument.
//
// Every option works per call except WithHTTPClient; WithIdempotencyKey
// works per call only.
type Option func(*config) error

// WithBaseURL points the client at another API address, such as a fake
// server in tests. The URL must be absolute http or https, without a query
// or fragment. Request paths are resolved against it, so it names the API
// version: "https://api.botonom.com/v1/". A URL with no path, or just "/",
// means that host's /v1/: WithBaseURL("http://127.0.0.1:12111") sends
// GET /agents to http://127.0.0.1:12111/v1/agents. Any other path is kept
// as given (a proxy's "/botonom/v1/", say), with a "/" added at the end.
func WithBaseURL(baseURL string) Option {
	return func(c *config) error {
		// Every error shows the URL without its password.
		shown := redactURL(baseURL)
		if !strings.Contains(baseURL, "://") {
			return fmt.Errorf("WithBaseURL: %q is not an absolute http(s) URL: it has no scheme; add http:// or https:// in front", shown)
		}
		u, err := url.Parse(baseURL)
		if err != nil {
			if ue, ok := errors.AsType[*url.Error](err); ok {
				err = ue.Err // the message without the URL, shown redacted
			}
			return fmt.Errorf("WithBaseURL: %q: %w", shown, err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("WithBaseURL: %q is not an absolute http(s) URL", shown)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("WithBaseURL: %q must not have a query or fragment", shown)
		}
		if u.User != nil {
			// The token authenticates; a password in the URL would only
			// travel in every request line a proxy or a log keeps.
			return fmt.Errorf("WithBaseURL: %q: a user or password in the URL is not supported; the token authenticates", shown)
		}
		if u.Path == "" || u.Path == "/" {
			// A host alone is the API there, not a 404 "unknown_path" on
			// every call that looks like a missing resource.
			u.Path, u.RawPath = "/v1/", ""
		}
		if !strings.HasSuffix(u.Path, "/") {
			u.Path += "/"
			if u.RawPath != "" {
				u.RawPath += "/"
			}
		}
		c.baseURL = u.String()
		return nil
	}
}

// redactURL returns raw with the password of its user information, if
// any, replaced by "xxxxx", as url.URL.Redacted does, but for a URL that
// may not parse.
func redactURL(raw string) string {
	_, rest, hasScheme := strings.Cut(raw, "://")
	if !hasScheme {
		rest = raw
	}
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	at := strings.LastIndex(authority, "@")
	if at < 0 {
		return raw
	}
	user, _, hasPassword := strings.Cut(authority[:at], ":")
	if !hasPassword {
		return raw
	}
	return raw[:len(raw)-len(rest)] + user + ":xxxxx" + rest[at:]
}

// WithHTTPClient sends requests through hc (its transport, timeout, jar and
// redirect policy) instead of the SDK's tuned default. The client wraps hc's
// transport to apply per-attempt timeouts, rate-limit waits and the Limiter.
// It is a client option only: given to one call, the call fails.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) error {
		if c.perCall {
			return errors.New("WithHTTPClient: set for the client in NewClient, not for one call")
		}
		if hc == nil {
			return errors.New("WithHTTPClient: nil *http.Client")
		}
		c.httpClient = hc
		return nil
	}
}

// WithUserAgent appends app (e.g. "billing-service/2.3") to the SDK's
// User-Agent, so the API's logs show who is calling.
func WithUserAgent(app string) Option {
	return func(c *config) error {
		app = strings.TrimSpace(app)
		if app == "" || strings.ContainsAny(app, "\r\n") {
			return fmt.Errorf("WithUserAgent: %q is not a usable product token", app)
		}
		c.userAgent += " " + app
		return nil
	}
}

// WithLogger logs each attempt (method, path, status, attempt, request ID,
// duration; never headers or the token) to l. Without it the client logs
// nothing.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("WithLogger: nil *slog.Logger")
		}
		c.logger = l
		return nil
	}
}

// WithTimeout bounds each attempt (connect, send, read the whole answer),
// its redirect hops included, to d, in place of DefaultTimeout. An attempt
// that runs out is retried as a transport error would be. The whole call,
// retries and waits included, is bounded by the context. On the SDK's own
// transport, an attempt given more than DefaultTimeout goes through a
// second connection pool the process shares, whose wait for an answer's
// headers only d bounds (the first one's stops at DefaultTimeout).
func WithTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("WithTimeout: %s is not positive", d)
		}
		c.timeout = d
		return nil
	}
}

// WithMaxRetries sets how many times a failed call is retried; 0 disables
// retries. The default is DefaultMaxRetries.
func WithMaxRetries(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("WithMaxRetries: %d is negative", n)
		}
		c.maxRetries = n
		return nil
	}
}

// WithRetryWait sets the backoff range: retry n waits a random time between
// 0 and min(max, min·2ⁿ) (full jitter). Defaults 0.5 s and 8 s.
func WithRetryWait(min, max time.Duration) Option {
	return func(c *config) error {
		if min <= 0 || max < min {
			return fmt.Errorf("WithRetryWait: need 0 < min <= max, got %s and %s", min, max)
		}
		c.retryWaitMin, c.retryWaitMax = min, max
		return nil
	}
}

// WithMaxRetryWait sets the longest wait the client sleeps through before
// a retry or before sending (default DefaultMaxRetryWait). When the API
// asks for a longer one (Retry-After, or a spent rate limit's reset), the
// call ends at once with the typed error of that answer: a
// *RateLimitError, whose RetryAfter says how long, for a 429 or a call
// held back by a spent limit; an *APIError otherwise (a 503 with a long
// Retry-After, say).
func WithMaxRetryWait(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("WithMaxRetryWait: %s is not positive", d)
		}
		c.maxRetryWait = d
		return nil
	}
}

// WithMaxResponseSize caps the size of a success body the client decodes
// (default DefaultMaxResponseSize); a larger answer is an error, never an
// unbounded allocation.
func WithMaxResponseSize(n int64) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("WithMaxResponseSize: %d is not positive", n)
		}
		c.maxResponseSize = n
		return nil
	}
}

// WithLimiter makes every request sent (each attempt, and each redirect
// hop within it) wait for l first: a client-side throttle
// such as *rate.Limiter from golang.org/x/time/rate, or the Redis-backed
// limiter in the botonomredis module (NewLimiter) for many replicas sharing one token.
func WithLimiter(l Limiter) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("WithLimiter: nil Limiter")
		}
		c.limiter = l
		return nil
	}
}

// WithRateLimitWait sets what the client does when the last answer said the
// rate limit is spent (X-RateLimit-Remaining: 0) and the window has not
// reset yet: wait until it resets (true, the default; bounded by
// WithMaxRetryWait and the context) or fail at once with a *RateLimitError
// without sending anything (false).
func WithRateLimitWait(wait bool) Option {
	return func(c *config) error {
		c.rateLimitWait = wait
		return nil
	}
}

// WithHeader adds the header key: value to every attempt: of every call,
// given to NewClient; of one call, given to a method call (after the
// client's, so a call's value wins). The SDK's own headers
// (Authorization, Idempotency-Key, X-Botonom-Retry-Count) are refused, in
// any letter case, as are keys and values that are not valid in a header.
func WithHeader(key, value string) Option {
	return func(c *config) error {
		if !validHeader(key, value) {
			return fmt.Errorf("WithHeader: %q: %q is not a valid header", key, value)
		}
		key = http.CanonicalHeaderKey(key)
		switch key {
		case "Authorization", headerIdempotencyKey, headerRetryCount:
			return fmt.Errorf("WithHeader: %s is set by the SDK", key)
		}
		c.headers = append(c.headers, header{key, value})
		return nil
	}
}

// WithIdempotencyKey sets the Idempotency-Key of one POST call, in place
// of the random one the SDK gives every POST; every retry of the call
// sends it too. Use it to make a call safe to repeat across restarts of
// your own process: the API treats a repeated key within 24 h as the same
// request. The key is at most 255 visible ASCII characters.
//
// It is a per-call option only: given to NewClient it is refused (one key
// for every POST would make each a replay of the first), and a call that
// is not a POST refuses it.
func WithIdempotencyKey(key string) Option {
	return func(c *config) error {
		if !c.perCall {
			return errors.New("WithIdempotencyKey: set for one call, not for the client")
		}
		if err := validateIdempotencyKey(key); err != nil {
			return err
		}
		c.idempotencyKey = key
		return nil
	}
}

// WithResponseInto makes a call store its *Response in *dst when it
// returns — on success, and on an API error (nil when no answer came) —
// for the methods that do not return one: with ListAll and ListAllTasks,
// *dst is the Response of the page the current item came from, with its
// RequestID and Rate:
//
//	var page *botonom.Response
//	for agent, err := range client.Agents.ListAll(ctx, nil, botonom.WithResponseInto(&page)) {
//		// page.RequestID, page.Rate.Remaining
//	}
//
// It is a per-call option only (a client-wide dst would be written by
// every goroutine); a nil dst is refused.
func WithResponseInto(dst **Response) Option {
	return func(c *config) error {
		if !c.perCall {
			return errors.New("WithResponseInto: set for one call, not for the client")
		}
		if dst == nil {
			return errors.New("WithResponseInto: nil destination")
		}
		c.responseInto = dst
		return nil
	}
}

// validHeader reports whether key is an HTTP token (RFC 9110 §5.1) and
// value has no control character but tab.
func validHeader(key, value string) bool {
	if key == "" {
		return false
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// applyOptions applies opts to cfg; where names the caller for the error,
// which matches ErrInvalidArgument.
func applyOptions(cfg *config, opts []Option, where string) error {
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(cfg); err != nil {
			var arg *argError
			if errors.As(err, &arg) {
				return err
			}
			return invalidArgf("%s: %v", where, err)
		}
	}
	return nil
}

// callConfig is the config of one call: the client's own when the call has
// no options (no copy), else a copy with them applied.
func (c *Client) callConfig(op string, opts []Option) (*config, error) {
	if len(opts) == 0 {
		return c.cfg, nil
	}
	cfg := c.cfg.clone()
	cfg.perCall = true
	if err := applyOptions(cfg, opts, op); err != nil {
		return nil, err
	}
	return cfg, nil
}

// clone returns a copy of cfg for options to be applied to (a call's, or
// a client's made by WithToken). Its slices are clipped, so that the
// copy's appends copy rather than write into cfg's arrays, which other
// calls and clients share.
func (cfg *config) clone() *config {
	cp := *cfg
	cp.headers = slices.Clip(cp.headers)
	cp.middleware = slices.Clip(cp.middleware)
	cp.traces = slices.Clip(cp.traces)
	return &cp
}
