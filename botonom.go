package botonom

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
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
	// for a slow network. On the SDK's own transport it bounds connecting,
	// the wait for each answer's headers, and then the reading of its body
	// (a body not read whole within 30 s of its headers is closed, and the
	// attempt fails like a dropped connection); with WithHTTPClient whose
	// http.Client has no Timeout, the whole attempt. WithTimeout (for the
	// client, or for one call) bounds the whole attempt, body and redirect
	// hops included.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxIdleConnsPerHost is how many keep-alive connections the
	// default transport keeps to the API: 256, enough for a busy service
	// without churning TCP connections. The default transport is the
	// process's one, shared by every client made without WithHTTPClient.
	DefaultMaxIdleConnsPerHost = 256
)

const (
	headerRequestID      = "X-Request-Id"
	headerIdempotencyKey = "Idempotency-Key"
	headerRetryCount     = "X-Botonom-Retry-Count"
)

// Client talks to the Botonom API. Build one with NewClient at start-up and
// share it: it is safe for concurrent use by many goroutines. For many API
// tokens (one per workspace), make one client per token with WithToken.
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

var defaultUserAgent = fmt.Sprintf("botonom-go/%s (%s; %s/%s)", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)

// NewClient returns a client that authenticates with token (a "btm_sk_…"
// API token). It fails on a bad option, and on an empty token or one with
// white space or a control character inside with an error that matches
// ErrInvalidArgument, like every refusal before sending.
//
// Clients made without WithHTTPClient share the process's one connection
// pool, whatever their token: making a client opens nothing and starts no
// goroutine, and dropping one leaves nothing open. For many tokens with one
// configuration, see WithToken.
func NewClient(token string, opts ...Option) (*Client, error) {
	auth, err := authorization("NewClient", token)
	if err != nil {
		return nil, err
	}
	cfg := &config{
		authorization:   auth,
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
	return newClient(cfg, newRetryBudget(), sleepFor), nil
}

// WithToken returns a client for another API token — another workspace's,
// say — that shares everything else with c: the base URL, every option
// and middleware, the connection pool (the process's, or c's WithHTTPClient)
// and the retry budget, which bounds retries while the API is failing for
// every token alike. What belongs to a token is the new client's own: the
// token, the rate-limit state (Rate, and the hold before sending while the
// limit is spent), and the Limiter — c's is not inherited, since it paces
// c's token; give the new token's in opts (WithLimiter). opts apply over
// c's options, as NewClient applies its own; c is unchanged.
//
// It refuses an empty token, or one with white space or a control
// character inside, as NewClient does, with an error that matches
// ErrInvalidArgument.
//
// NewClient makes a client configured on its own; WithToken serves many
// tokens with one configuration: build one client at start-up with the
// options every workspace shares, then one per token from it. Keep the
// client of a token for as long as the token is in use (a map keyed by
// workspace), rather than one per request: its rate-limit state lives in
// it, so a client made per request cannot hold back a call while its
// token's limit is spent. A client made per request costs little and
// leaks nothing, though.
func (c *Client) WithToken(token string, opts ...Option) (*Client, error) {
	if c == nil || c.cfg == nil {
		return nil, invalidArgf("WithToken: nil Client")
	}
	auth, err := authorization("WithToken", token)
	if err != nil {
		return nil, err
	}
	cfg := c.cfg.clone()
	cfg.authorization, cfg.limiter = auth, nil
	if err := applyOptions(cfg, opts, "WithToken"); err != nil {
		return nil, err
	}
	return newClient(cfg, c.budget, c.sleep), nil
}

// authorization checks an API token and returns the func that gives its
// Authorization header value (see config.authorization).
func authorization(where, token string) (func() string, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, invalidArgf("%s: empty API token", where)
	}
	if strings.ContainsAny(token, "\r\n\t ") {
		return nil, invalidArgf("%s: API token contains white space", where)
	}
	if strings.ContainsFunc(token, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		// net/http would refuse to send it, at every attempt of every call.
		return nil, invalidArgf("%s: API token contains a control character", where)
	}
	bearer := "Bearer " + token
	return func() string { return bearer }, nil
}

// newClient makes a client of cfg with a rate-limit state of its own.
func newClient(cfg *config, budget *retryBudget, sleep func(context.Context, time.Duration) error) *Client {
	c := &Client{cfg: cfg, state: &rateState{}, budget: budget, sleep: sleep}
	c.hc = c.newRetryableClient()
	c.common.client = c
	c.Agents = (*AgentsService)(&c.common)
	c.Webhooks = (*WebhooksService)(&c.common)
	c.Analytics = (*AnalyticsService)(&c.common)
	return c
}

// localAPIHint ends an error about the environment's settings: how to get
// them for the local fake API.
const localAPIHint = ` (for a local fake API, run "botonom mock" and paste the export line it prints)`

// NewClientFromEnv is NewClient with the token from BOTONOM_API_TOKEN and,
// when set, the base URL from BOTONOM_BASE_URL (see WithBaseURL). Options
// given here win over the environment. An unset or empty BOTONOM_API_TOKEN
// is an error that matches ErrInvalidArgument and says how to get one for
// the local fake API. It pairs with the line
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
		return nil, invalidArgf("NewClientFromEnv: BOTONOM_API_TOKEN is not set%s", localAPIHint)
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
	return &Response{Response: r, Rate: rate, RequestID: requestID(r)}
}
