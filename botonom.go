package botonom

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/google/go-querystring/query"
	"github.com/hashicorp/go-retryablehttp"

	"github.com/botonom/botonom-go/internal/capped"
	"github.com/botonom/botonom-go/internal/uuid"
)

// Version is the version of this SDK, sent in the User-Agent header.
const Version = "0.1.0"

// Defaults. Each can be changed with the option named beside it.
const (
	// DefaultBaseURL is the API's production address (WithBaseURL).
	DefaultBaseURL = "https://api.botonom.com/v1/"
	// DefaultMaxRetries is how many times a failed call is retried: 3, so
	// at most 4 attempts (WithMaxRetries).
	DefaultMaxRetries = 3
	// DefaultRetryWaitMin is the first backoff step, 0.5 s (WithRetryWait).
	DefaultRetryWaitMin = 500 * time.Millisecond
	// DefaultRetryWaitMax is the longest backoff step, 8 s (WithRetryWait).
	DefaultRetryWaitMax = 8 * time.Second
	// DefaultMaxRetryWait is the longest wait the API may ask for (by
	// Retry-After or X-RateLimit-Reset) that the client sleeps through: 60 s.
	// Asked for a longer one, the call ends at once with that answer's
	// typed error (WithMaxRetryWait).
	DefaultMaxRetryWait = 60 * time.Second
	// DefaultMaxResponseSize caps a success body the client decodes: 16 MiB
	// (WithMaxResponseSize).
	DefaultMaxResponseSize = 16 << 20
	// DefaultTimeout bounds each attempt when WithTimeout is not given:
	// 30 s. The API's answers are acknowledgements (a message queued, a
	// page of a list), not long generations: a healthy answer takes well
	// under a second, so 30 s is a server that will not answer, with room
	// for a slow network. On the SDK's own transport it bounds connecting
	// and the wait for the answer's headers, at no cost per call; with
	// WithHTTPClient whose http.Client has no Timeout, the whole attempt.
	// WithTimeout (for the client, or for one call) bounds the whole
	// attempt, body included.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxIdleConnsPerHost is how many keep-alive connections the
	// default transport keeps to the API: 256, enough for a busy service
	// sharing one Client without churning TCP connections.
	DefaultMaxIdleConnsPerHost = 256
)

const (
	headerRequestID      = "X-Request-Id"
	headerIdempotencyKey = "Idempotency-Key"
	headerRetryCount     = "X-Botonom-Retry-Count"
)

// Client talks to the Botonom API. Build one with NewClient at start-up and
// share it: it is safe for concurrent use by many goroutines.
//
// Printing a Client (%v, %+v, %#v) never shows its token.
type Client struct {
	// Agents lists, reads and messages agents, and manages their skills.
	Agents *AgentsService
	// Webhooks registers webhook endpoints.
	Webhooks *WebhooksService
	// Analytics reads token usage.
	Analytics *AnalyticsService

	cfg    *config
	hc     *retryablehttp.Client
	state  *rateState
	budget *retryBudget // caps retries client-wide
	// sleep waits d or until ctx is done; every wait of a call (the
	// rate-limit hold, the wait before a retry) goes through it.
	sleep  func(ctx context.Context, d time.Duration) error
	common service
}

// config is everything the options set; it sits behind a pointer so that no
// print of a Client value can reach the token.
type config struct {
	// authorization returns the Authorization header value. A func, not a
	// string, because fmt prints funcs as addresses: no %v, %+v, %#v or
	// bad-verb print of a Client or its config can reach the token.
	authorization   func() string
	baseURL         string // absolute, ends in "/"
	userAgent       string
	httpClient      *http.Client // the caller's, if any
	logger          *slog.Logger // nil: log nothing
	timeout         time.Duration
	maxRetries      int
	retryWaitMin    time.Duration
	retryWaitMax    time.Duration
	maxRetryWait    time.Duration
	maxResponseSize int64
	limiter         Limiter
	rateLimitWait   bool
	now             func() time.Time
	headers         []header     // WithHeader, the client's first
	idempotencyKey  string       // WithIdempotencyKey, per call only
	responseInto    **Response   // WithResponseInto, per call only
	middleware      []Middleware // WithMiddleware, outermost first
	traces          []*CallTrace // WithCallTrace
	// perCall is set while a call's own options are applied: the options
	// that make sense for the client only (or for one call only) check it.
	perCall bool
}

// header is an extra request header (WithHeader), its key canonical.
type header struct{ key, value string }

type service struct{ client *Client }

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
		u, err := url.Parse(baseURL)
		if err != nil {
			return fmt.Errorf("WithBaseURL: %w", err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("WithBaseURL: %q is not an absolute http(s) URL", baseURL)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("WithBaseURL: %q must not have a query or fragment", baseURL)
		}
		if u.User != nil {
			// The token authenticates; a password in the URL would only
			// travel in every request line a proxy or a log keeps.
			return fmt.Errorf("WithBaseURL: %s: a user or password in the URL is not supported; the token authenticates", u.Redacted())
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

// WithTimeout bounds each attempt (connect, send, read the whole answer)
// to d, in place of DefaultTimeout. An attempt that runs out is retried
// as a transport error would be. The whole call, retries and waits
// included, is bounded by the context.
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

// WithLimiter makes every attempt wait for l first: a client-side throttle
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

var defaultUserAgent = fmt.Sprintf("botonom-go/%s (%s; %s/%s)", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)

// NewClient returns a client that authenticates with token (a "btm_sk_…"
// API token). It fails on a bad option, and on an empty token or one with
// white space inside with an error that matches ErrInvalidArgument, like
// every refusal before sending.
func NewClient(token string, opts ...Option) (*Client, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, invalidArgf("NewClient: empty API token")
	}
	if strings.ContainsAny(token, "\r\n\t ") {
		return nil, invalidArgf("NewClient: API token contains white space")
	}
	bearer := "Bearer " + token
	cfg := &config{
		authorization:   func() string { return bearer },
		baseURL:         DefaultBaseURL,
		userAgent:       defaultUserAgent,
		maxRetries:      DefaultMaxRetries,
		retryWaitMin:    DefaultRetryWaitMin,
		retryWaitMax:    DefaultRetryWaitMax,
		maxRetryWait:    DefaultMaxRetryWait,
		maxResponseSize: DefaultMaxResponseSize,
		rateLimitWait:   true,
		now:             time.Now,
	}
	if err := applyOptions(cfg, opts, "NewClient"); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, state: &rateState{}, budget: newRetryBudget(), sleep: sleepFor}
	c.hc = c.newRetryableClient()
	c.common.client = c
	c.Agents = (*AgentsService)(&c.common)
	c.Webhooks = (*WebhooksService)(&c.common)
	c.Analytics = (*AnalyticsService)(&c.common)
	return c, nil
}

// NewClientFromEnv is NewClient with the token from BOTONOM_API_TOKEN and,
// when set, the base URL from BOTONOM_BASE_URL (see WithBaseURL). Options
// given here win over the environment. An unset or empty BOTONOM_API_TOKEN
// is an error that matches ErrInvalidArgument. It pairs with the line
// "botonom mock" prints:
//
//	export BOTONOM_BASE_URL=http://127.0.0.1:12111/v1/ BOTONOM_API_TOKEN=btm_sk_test_botonomtest
//
// so that the same program runs against the local fake API or, with a real
// token and no BOTONOM_BASE_URL, against the API.
func NewClientFromEnv(opts ...Option) (*Client, error) {
	if u := os.Getenv("BOTONOM_BASE_URL"); u != "" {
		opts = append([]Option{WithBaseURL(u)}, opts...)
	}
	token := os.Getenv("BOTONOM_API_TOKEN")
	if strings.TrimSpace(token) == "" {
		return nil, invalidArgf("NewClientFromEnv: BOTONOM_API_TOKEN is not set")
	}
	return NewClient(token, opts...)
}

// String describes the client without its token.
func (c *Client) String() string {
	if c == nil || c.cfg == nil {
		return "botonom.Client(nil)"
	}
	return fmt.Sprintf("botonom.Client{BaseURL: %q, Token: [redacted]}", c.cfg.baseURL)
}

// GoString is String, so %#v never shows the token either.
func (c *Client) GoString() string { return c.String() }

// BaseURL returns the API address the client sends to, ending in "/".
func (c *Client) BaseURL() string { return c.cfg.baseURL }

// Rate returns the rate-limit state of the last answer that carried
// X-RateLimit-* headers; the zero Rate before any.
func (c *Client) Rate() Rate { return c.state.get() }

// Response wraps the API's answer with what the SDK read from it. Its body
// has already been read and closed.
type Response struct {
	*http.Response

	// Rate is the rate-limit state the answer reported.
	Rate Rate
	// RequestID is the answer's X-Request-Id: quote it to support.
	RequestID string
	// NextCursor is the cursor of the next page for list calls; empty on
	// the last page.
	NextCursor string
}

func newResponse(r *http.Response, rate Rate) *Response {
	return &Response{Response: r, Rate: rate, RequestID: headerValue(r.Header, headerRequestID)}
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
	cfg := *c.cfg
	cfg.perCall = true
	// Clipped, so that the call's appends copy rather than write into the
	// client's arrays, which other calls share.
	cfg.headers = slices.Clip(cfg.headers)
	cfg.middleware = slices.Clip(cfg.middleware)
	cfg.traces = slices.Clip(cfg.traces)
	if err := applyOptions(&cfg, opts, op); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// NewRequest builds an API request. path is relative to the base URL (no
// leading slash: "agents/agt_1"); body, if not nil, is sent as JSON. Every
// POST gets an Idempotency-Key, a new random UUID, reused by every retry
// of the call (give Do WithIdempotencyKey to choose it).
func (c *Client) NewRequest(ctx context.Context, method, path string, body any) (*http.Request, error) {
	return c.newRequest(ctx, c.cfg, method, path, body, nil)
}

// newRequest is NewRequest with the call's config; with info (from call),
// the request's context is info around ctx, ready for do.
func (c *Client) newRequest(ctx context.Context, cfg *config, method, path string, body any, info *callInfo) (*http.Request, error) {
	if strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("botonom: path %q must be relative to the base URL (no leading slash)", path)
	}
	if err := checkIdempotencyKey(cfg, method, path); err != nil {
		return nil, err
	}
	var rd io.Reader
	if body != nil {
		buf, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("botonom: encode request body: %w", err)
		}
		rd = bytes.NewReader(buf)
	}
	if ctx == nil {
		return nil, invalidArgf("nil context")
	}
	if info != nil {
		info.Context = ctx
		ctx = info
	}
	req, err := http.NewRequestWithContext(ctx, method, cfg.baseURL+path, rd)
	if err != nil {
		return nil, fmt.Errorf("botonom: %w", err)
	}
	// The header values share one backing array: one allocation, not one
	// per header. Each is its own full slice (len = cap = 1), so appending
	// to one (Header.Add) copies rather than overwriting its neighbour, and
	// none is shared with another request: the caller, a middleware or a
	// custom transport may change this request's headers freely.
	vals := make([]string, 0, 5)
	set := func(key, value string) {
		vals = append(vals, value)
		req.Header[key] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	set("Authorization", cfg.authorization())
	set("User-Agent", cfg.userAgent)
	set("Accept", "application/json")
	if body != nil {
		set("Content-Type", "application/json")
	}
	if method == http.MethodPost {
		key := cfg.idempotencyKey
		if key == "" {
			key = uuid.New()
		}
		set(headerIdempotencyKey, key)
	}
	addHeaders(req.Header, cfg.headers)
	return req, nil
}

// checkIdempotencyKey refuses a call's WithIdempotencyKey on a request
// that is not a POST.
func checkIdempotencyKey(cfg *config, method, path string) error {
	if cfg.idempotencyKey != "" && method != http.MethodPost {
		return invalidArgf("WithIdempotencyKey: %s %s is not a POST", method, path)
	}
	return nil
}

// addHeaders sets the WithHeader headers on h, in order: a call's own
// come after the client's and win.
func addHeaders(h http.Header, headers []header) {
	for _, kv := range headers {
		h[kv.key] = []string{kv.value}
	}
}

// Do sends req (built by NewRequest, or by hand with the same headers),
// retrying as the client's policy allows, and decodes a 2xx JSON answer
// into v (if not nil); a 2xx with no body (a 204, say) leaves v untouched.
// Any non-2xx answer is returned as *APIError or *RateLimitError, together
// with the Response. opts apply to this call only, as for the endpoint
// methods. Do is the escape hatch for endpoints the SDK does not wrap yet.
func (c *Client) Do(req *http.Request, v any, opts ...Option) (*Response, error) {
	if req == nil || req.URL == nil {
		return nil, invalidArgf("Do: nil request")
	}
	cfg, err := c.callConfig("Do", opts)
	if err != nil {
		return nil, err
	}
	info := &callInfo{Context: req.Context(), cfg: cfg, call: Call{Operation: "do", Method: req.Method}, allowEmpty: true}
	if err := checkIdempotencyKey(cfg, req.Method, req.URL.Path); err != nil {
		return nil, err
	}
	req = req.WithContext(info)
	// The caller's request stays as it was: the call's own headers, and
	// forgetting the token at the end, apply to a copy of its header.
	req.Header = req.Header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	if cfg.idempotencyKey != "" {
		req.Header[headerIdempotencyKey] = []string{cfg.idempotencyKey}
	}
	addHeaders(req.Header, cfg.headers)
	if req.GetBody != nil && req.Body != nil && req.Body != http.NoBody {
		// The caller may have read req.Body (to log it, say): the first
		// attempt sends a fresh copy, as every retry does.
		body, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("botonom: %s %s: %w", req.Method, req.URL.Path, err)
		}
		req.Body = body
	}
	return c.do(req, info, v)
}

// callInfo is one call's state: its config, what the retry loop has done
// so far, and scratch space. It travels as the request's context.
//
// It is that context itself: it embeds the call's context and answers
// Value(callInfoKey{}) with itself, one allocation where context.WithValue
// and the value it carries were two. Its last four fields are scratch space
// do would otherwise allocate piece by piece. (A call's cost over
// hand-written net/http is measured, allocations included, in
// bench_test.go.)
type callInfo struct {
	context.Context // the call's: the caller's, or what a CallTrace made of it

	cfg        *config // the client's, or a copy with the call's options
	call       Call
	allowEmpty bool // a 2xx without a body is fine (Do)
	v          any  // where the 2xx body is decoded; nil: nowhere
	decoded    bool // a decode was tried (v must be reset before another)

	retryable   bool           // may be retried after a 5xx or transport error
	keyed       bool           // a POST with an Idempotency-Key
	attempt     int            // the attempt under way, from 0
	sent        int            // requests sent so far
	budgetSpent int            // retry-budget tokens this call took
	rate        Rate           // the rate-limit headers of the latest answer
	decision    decision       // decide's, on the latest attempt
	decided     *http.Response // the answer decision is about
	waited      time.Duration  // the waits so far, for a CallTrace

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

// do is the life of a call after its request is built: hold back while
// the rate limit is spent, then the retry loop (every attempt through
// transport, every outcome through decide), then the answer: the error
// decide chose, or the decoded 2xx body. The endpoint methods come here
// from call, Do after attaching info to the request.
func (c *Client) do(req *http.Request, info *callInfo, v any) (resp *Response, err error) {
	if len(info.cfg.traces) > 0 {
		info.traceStart()
		defer func() { info.traceEnd(resp, err) }()
	}
	if dst := info.cfg.responseInto; dst != nil {
		defer func() { *dst = resp }()
	}
	if err := info.Err(); err != nil {
		return nil, c.callError(req, info, err) // nothing is sent for a context already done
	}
	info.retryable = retryableRequest(req)
	info.keyed = req.Method == http.MethodPost && headerValue(req.Header, headerIdempotencyKey) != ""
	if err := c.holdForRateLimit(info); err != nil {
		return nil, err
	}
	rreq, err := toRetryable(req, info)
	if err != nil {
		return nil, fmt.Errorf("botonom: %s %s: %w", req.Method, req.URL.Path, err)
	}
	if v != nil {
		info.v = v
		rreq.SetResponseHandler(decodeAnswer)
	}
	hresp, err := c.hc.Do(rreq)
	defer forgetToken(req, hresp) // after the body is closed (defers run last first)
	if hresp != nil {
		defer drainAndClose(hresp.Body, &info.drain)
		resp = newResponse(hresp, info.rate)
	}
	if err != nil {
		return resp, c.callError(req, info, err)
	}
	if err := info.decision.err; err != nil {
		return resp, err
	}
	c.budget.succeeded(info)
	return resp, nil
}

// decodeAnswer runs in the retry loop, on the answer the loop would end
// with: it decodes a 2xx body into the call's v there, so that a body that
// fails to arrive whole (cut, reset, timed out) is a failed attempt like a
// dropped connection — retried under the same rules and budget — while one
// that arrives whole but is not the expected JSON is final.
func decodeAnswer(resp *http.Response) error {
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil // decide has turned it into its error
	}
	info := callInfoFrom(resp.Request.Context())
	if info.decoded {
		// A retry after a cut body: nothing of the first may remain.
		rv := reflect.ValueOf(info.v).Elem()
		rv.SetZero()
	}
	info.decoded = true
	info.body = capped.Reader{R: resp.Body, N: info.cfg.maxResponseSize, Limit: info.cfg.maxResponseSize}
	err := json.NewDecoder(&info.body).Decode(info.v)
	if err == nil {
		return nil
	}
	whole := true
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == io.EOF: // no body at all
		if info.allowEmpty {
			return nil
		}
		err = errors.New("empty body")
	case errors.As(err, &syntaxErr), errors.As(err, &typeErr), errors.Is(err, capped.ErrTooLarge):
	default: // a read that failed: the body did not arrive whole
		whole = false
	}
	return &decodeError{requestID: headerValue(resp.Header, headerRequestID), err: err, whole: whole}
}

// decodeError is a 2xx answer whose body did not decode. Whole says it
// arrived whole (not JSON, the wrong shape, over the size cap): repeating
// the request would not help. Otherwise it was cut short, and the attempt
// failed like a dropped connection.
type decodeError struct {
	requestID string
	err       error
	whole     bool
}

func (e *decodeError) Error() string {
	return fmt.Sprintf("decode response (request %s): %v", e.requestID, e.err)
}

func (e *decodeError) Unwrap() error { return e.err }

// forgetToken takes the token out of the requests the caller can reach from
// the Response (resp.Request, and through redirects its Response.Request
// chain), so that no deep print of a Response shows it. They are the
// SDK's own requests, done with: no copy is needed.
func forgetToken(req *http.Request, resp *http.Response) {
	delete(req.Header, "Authorization")
	for ; resp != nil && resp.Request != nil; resp = resp.Request.Response {
		delete(resp.Request.Header, "Authorization")
	}
}

// call is the life of one endpoint call: apply its options, build the
// request, send it, decode the answer into a new T. Every endpoint method
// validates its arguments, builds its path, and ends in call.
func call[T any](ctx context.Context, c *Client, op *Call, path string, body any, opts []Option) (*T, *Response, error) {
	cfg, err := c.callConfig(op.Operation, opts)
	if err != nil {
		return nil, nil, err
	}
	info := &callInfo{cfg: cfg, call: *op}
	req, err := c.newRequest(ctx, cfg, op.Method, path, body, info)
	if err != nil {
		return nil, nil, err
	}
	v := new(T)
	resp, err := c.do(req, info, v)
	if err != nil {
		return nil, resp, err
	}
	return v, resp, nil
}

// callError turns what the retry loop returned without an answer into the
// error the caller gets: the SDK's own typed error as is, otherwise the
// transport (or context) error with the operation and attempt count.
func (c *Client) callError(req *http.Request, info *callInfo, err error) error {
	var stop *stopError
	if errors.As(err, &stop) {
		return stop.err
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // its text repeats the whole URL
	}
	if info.sent > 1 {
		return fmt.Errorf("botonom: %s %s (after %d attempts): %w", req.Method, req.URL.Path, info.sent, err)
	}
	return fmt.Errorf("botonom: %s %s: %w", req.Method, req.URL.Path, err)
}

// toRetryable wraps req for the retry loop, in info's scratch space. A body
// with GetBody (every request NewRequest builds) is sent as it is and
// replayed from GetBody by rewindBody before each retry; one without is
// read into memory by retryablehttp to be replayed.
func toRetryable(req *http.Request, info *callInfo) (*retryablehttp.Request, error) {
	if req.GetBody == nil && req.Body != nil && req.Body != http.NoBody {
		return retryablehttp.FromRequest(req)
	}
	info.rreq.Request = req
	return &info.rreq, nil
}

// drainAndClose reads what is left of a body (a little, so the connection
// can be reused) and closes it. lr is scratch space for the limit (the
// call's, in callInfo): io.CopyN would allocate its own.
func drainAndClose(body io.ReadCloser, lr *io.LimitedReader) {
	*lr = io.LimitedReader{R: body, N: 4 << 10}
	_, _ = io.Copy(io.Discard, lr)
	_ = body.Close()
}

// maxIdempotencyKeyLen is the longest Idempotency-Key the API accepts.
const maxIdempotencyKeyLen = 255

// validateIdempotencyKey checks a caller's key: at most 255 visible ASCII
// characters, so it survives as a header unchanged.
func validateIdempotencyKey(key string) error {
	if len(key) > maxIdempotencyKeyLen {
		return invalidArgf("idempotency key is %d bytes, longer than %d", len(key), maxIdempotencyKeyLen)
	}
	for i := 0; i < len(key); i++ {
		if key[i] <= ' ' || key[i] >= 0x7f {
			return invalidArgf("idempotency key has a character that is not visible ASCII at byte %d", i)
		}
	}
	return nil
}

// validateID checks a path parameter: non-blank and not a dot segment,
// which would point the request at another endpoint. Everything else is
// escaped by url.PathEscape.
func validateID(field, id string) error {
	switch strings.TrimSpace(id) {
	case "":
		return invalidArgf("%s is empty", field)
	case ".", "..":
		return invalidArgf("%s %q is not a valid ID", field, id)
	}
	return nil
}

// addQuery encodes opts (a struct with `url` tags, may be nil) as the
// query string of path.
func addQuery(path string, opts any) (string, error) {
	v, err := query.Values(opts)
	if err != nil {
		return "", fmt.Errorf("botonom: encode query: %w", err)
	}
	if len(v) == 0 {
		return path, nil
	}
	return path + "?" + v.Encode(), nil
}
