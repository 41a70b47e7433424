// Package botonomtest runs an in-memory fake of the Botonom API for tests:
// every endpoint of the API with the same validation, error bodies,
// rate-limit headers, pagination and idempotency as the real one, plus
// knobs to inject faults (failed answers, dropped connections, latency) and
// a way to deliver signed webhook events.
//
// Every request the fake receives and every answer it gives is checked
// against the API's OpenAPI description (package api, api/openapi.yaml); a
// mismatch fails the test. So a test that talks to the fake through the SDK
// also proves that the SDK speaks the contract.
//
//	func TestBooking(t *testing.T) {
//		srv := botonomtest.NewServer(t) // three sample agents, closed at the end of the test
//		client := srv.Client()          // a *botonom.Client pointed at it
//
//		msg, _, err := client.Agents.SendMessage(context.Background(), botonomtest.SampleAgentID,
//			&botonom.SendMessageRequest{Content: "Book a table for 4 at 7pm tomorrow"})
//		if err != nil {
//			t.Fatal(err)
//		}
//		if got := srv.Messages(); len(got) != 1 || got[0].ID != msg.ID {
//			t.Fatalf("stored messages: %+v", got)
//		}
//
//		srv.FailNext(2, http.StatusServiceUnavailable) // the next two answers are 503s
//		if _, _, err := client.Agents.Get(context.Background(), botonomtest.SampleAgentID); err != nil {
//			t.Fatal(err) // the client retried through them
//		}
//	}
//
// # What the fake does
//
// Each request goes through these steps, in this order, and the first that
// answers ends it:
//
//  1. ResetConnectionNext: the connection is closed, nothing is done.
//  2. A request with the right bearer token is counted in the rate-limit
//     window (one with a missing or wrong token is not: it spends no
//     one's budget); every answer carries X-Request-Id ("req_…"),
//     X-RateLimit-Limit, -Remaining and -Reset (unix seconds of the
//     window's end, rounded up) and a Date from the server's clock.
//  3. FailNext: the injected error.
//  4. A missing or wrong bearer token: 401 authentication_error.
//  5. Over the rate limit: 429 rate_limit_error with Retry-After.
//  6. A body over MaxRequestBody: 413.
//  7. An unknown path: 404 not_found_error ("unknown_path"); a known path
//     with the wrong method: 405 with Allow. An X-Botonom-Retry-Count that
//     is not a whole number from 0: 400 "invalid_value".
//  8. A POST whose Idempotency-Key was answered within 24 h: the first
//     answer again (same status and body, a new X-Request-Id and
//     Idempotent-Replayed: true); the same key with another body (compared
//     as canonical JSON) or on another path: 400 "idempotency_key_reused";
//     a key over 255 characters: 400 "invalid_value". Only 2xx answers are
//     kept for replay: after an error (a 400, a 404, an injected fault) the
//     key is free, as nothing was done. While a POST with a key is still
//     being processed (the latency of WithLatency or SetLatency is its
//     processing time, which goes on when the client gives up), another
//     with the same key gets 409 conflict_error "idempotency_key_in_use"
//     at once: nothing was done, try again shortly.
//  9. The endpoint: 404 for an unknown agent (param "id"), 400 for bad
//     input, else the result. DropResponseNext then drops the answer.
//
// Error answers have the API's shape, {"error": {"type", "code", "message",
// "param"}}, with param naming the field at fault. The codes the fake uses:
// missing_field, invalid_value, invalid_type, invalid_json, unknown_field,
// invalid_cursor, idempotency_key_reused, idempotency_key_in_use, body_too_large,
// method_not_allowed, missing_token, invalid_token, agent_not_found,
// unknown_path, rate_limited, injected_fault, internal_error.
//
// Lists page with an opaque cursor (it names the last item of the previous
// page, so pages stay stable while items are added); agents are listed
// oldest first, tasks newest first. A message to an online agent is
// "delivered" and starts a completed task with a result and tokens_used; to
// an offline agent it is "queued" and its task "pending". Usage adds up the
// stored tasks (70% of tokens as input, 30% as output, one request per
// task) per UTC hour, day or month; without from and to it covers the last
// 24 hours, 30 days or 12 months up to the end of the current period. IDs
// are sequential per server ("msg_000001"), so runs are repeatable.
//
// # Contract checks
//
// The OpenAPI description is parsed once per test binary. A request that
// breaks it fails the test with the method, path and reason, and is still
// answered as the API would (usually 400): use WithoutSpecValidation or
// Server.ExpectInvalidRequests in tests that send such requests on
// purpose. Requests to unknown paths or with a wrong method are not
// reported (the 404 or 405 tells). Answers are always checked, and a bug
// in the fake is a 500 api_error and a failed test, never a panic.
//
// # Bounds
//
// The fake runs inside test binaries and behind the botonom command's mock
// for hours, so it holds its edges:
//
//   - Reads: a request's headers (at most 64 KiB; 431 beyond) must arrive
//     within 10 s, then its body (at most MaxRequestBody; 413 beyond)
//     within 10 s more: a client that stalls longer has its connection
//     closed, without an answer. A body over MaxRequestBody is answered
//     413 as soon as that much is read, and its connection closed. A
//     keep-alive connection idle for 2 minutes is closed.
//   - Close returns within a second whatever the clients do: it lets the
//     requests in flight finish for 200 ms, then closes their connections.
//   - The request log (Requests, WithRequestHook) keeps the newest
//     DefaultRequestLog requests (WithRequestLog to change it) and counts
//     the ones it dropped (DroppedRequests); it keeps at most MaxLoggedBody
//     (64 KiB) of each body, marking a cut one with BodyTruncated. So it
//     holds at most about 128 MiB (1,000 × 64 KiB of body and of headers),
//     and far less for ordinary requests.
//   - Idempotency-Keys are forgotten once their 24 h have passed.
//
// What the fake stores as data (messages, tasks, webhooks) is kept for its
// life, as the API keeps it.
//
// A Server is safe for concurrent use.
package botonomtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	botonom "github.com/botonom/botonom-go"
)

// Token is the API token the fake accepts unless WithToken says otherwise.
const Token = "btm_sk_test_botonomtest"

// Defaults of the rate limit (WithRateLimit): 1,000 requests a minute, the
// API's most generous (Admin) limit, so that tests which do not care never
// meet it.
const (
	DefaultRateLimit  = 1000
	DefaultRateWindow = time.Minute
)

// MaxRequestBody is the largest request body the fake reads: 1 MiB. A
// larger one is answered 413.
const MaxRequestBody = 1 << 20

// MaxLoggedBody is how much of a request body the request log keeps
// (Requests, WithRequestHook): 64 KiB. A longer body is answered as a
// whole; its Request holds the first 64 KiB, with BodyTruncated set.
const MaxLoggedBody = 64 << 10

// DefaultRequestLog is how many requests the server keeps for Requests
// unless WithRequestLog says otherwise: the newest 1,000.
const DefaultRequestLog = 1000

// maxHeaderBytes bounds a request's header block: 64 KiB (net/http
// answers 431 beyond).
const maxHeaderBytes = 64 << 10

// readTimeout bounds the reading of a request: its headers, and then its
// body, must each arrive within it. closeGrace is how long Close lets the
// requests in flight finish before it closes their connections.
const (
	readTimeout = 10 * time.Second
	closeGrace  = 200 * time.Millisecond
)

// idleTimeout bounds how long a keep-alive connection waits for its next
// request: longer than the idle connections of Go's default transport
// (90 s), so that clients close theirs first.
const idleTimeout = 2 * time.Minute

// idempotencyWindow is how long a repeated Idempotency-Key is the same
// call; maxIdempotencyKey is the longest key the API takes.
const (
	idempotencyWindow = 24 * time.Hour
	maxIdempotencyKey = 255
)

// Option configures a Server in NewServer. An option with a bad argument
// fails the test in NewServer.
type Option func(*config) error

type config struct {
	agents         []*botonom.Agent
	agentsSet      bool
	tasks          []*botonom.Task
	tasksSet       bool
	token          string
	rateLimit      int
	rateWindow     time.Duration
	latency        time.Duration
	now            func() time.Time
	skipRequestVal bool
	addr           string
	onRequest      func(Request)
	faultRate      float64 // WithFaultRate
	faultStatuses  []int
	readTimeout    time.Duration
	idleTimeout    time.Duration
	requestLog     int // WithRequestLog
}

// WithAgents replaces the sample agents with these (copied; later changes
// to them do not reach the server). IDs must start with "agt_" and be
// unique, and Status must be "online", "offline" or empty (online). Zero
// CreatedAt and UpdatedAt become the server's clock. Without WithTasks the
// agents start with no task history.
func WithAgents(agents ...*botonom.Agent) Option {
	return func(c *config) error {
		c.agents = make([]*botonom.Agent, 0, len(agents))
		for _, a := range agents {
			if a == nil {
				return errors.New("WithAgents: nil agent")
			}
			c.agents = append(c.agents, cloneAgent(a))
		}
		c.agentsSet = true
		return nil
	}
}

// WithTasks replaces the sample task history with these (copied). Each
// task's AgentID must name an agent of the server, IDs must start with
// "tsk_" and be unique, and Status must be one of the four task statuses.
// A zero CreatedAt becomes the server's clock.
func WithTasks(tasks ...*botonom.Task) Option {
	return func(c *config) error {
		c.tasks = make([]*botonom.Task, 0, len(tasks))
		for _, t := range tasks {
			if t == nil {
				return errors.New("WithTasks: nil task")
			}
			c.tasks = append(c.tasks, cloneTask(t))
		}
		c.tasksSet = true
		return nil
	}
}

// WithToken sets the one API token the server accepts (default Token).
func WithToken(token string) Option {
	return func(c *config) error {
		if strings.TrimSpace(token) == "" || strings.ContainsAny(token, " \t\r\n") {
			return fmt.Errorf("WithToken: %q is not a usable token", token)
		}
		c.token = token
		return nil
	}
}

// WithRateLimit allows limit requests per fixed window of the given length
// (default DefaultRateLimit per DefaultRateWindow). Windows are aligned to
// multiples of window on the server's clock. Every request with the right
// token counts, whatever its answer (one with a missing or wrong token does
// not: it is answered 401 and spends no one's budget); one past the limit
// is answered 429 rate_limit_error with Retry-After (the seconds left in
// the window, rounded up) and X-RateLimit-Remaining: 0.
//
// The API's headers count whole seconds (X-RateLimit-Reset is unix seconds,
// Retry-After delay-seconds), so a window shorter than a second does not
// make a client wait less than one: to test rate limiting quickly, use a
// one-second window and a few requests.
func WithRateLimit(limit int, window time.Duration) Option {
	return func(c *config) error {
		if limit <= 0 || window <= 0 {
			return fmt.Errorf("WithRateLimit: need a positive limit and window, got %d per %s", limit, window)
		}
		c.rateLimit, c.rateWindow = limit, window
		return nil
	}
}

// WithLatency delays every answer by d (see also Server.SetLatency). The
// delay ends early when the client gives up on the request.
func WithLatency(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("WithLatency: %s is negative", d)
		}
		c.latency = d
		return nil
	}
}

// WithClock makes the server read the time from now (default time.Now):
// timestamps of what it creates, the Date header, rate-limit windows, the
// 24 h idempotency window and the defaults of Usage. The client's waits use
// the real time, so with a frozen clock a spent rate limit never resets.
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return errors.New("WithClock: nil clock")
		}
		c.now = now
		return nil
	}
}

// WithRequestLog makes the server keep the newest n requests (n ≥ 1) for
// Requests, instead of DefaultRequestLog; older ones are dropped and
// counted (DroppedRequests).
func WithRequestLog(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("WithRequestLog: need at least 1 request, got %d", n)
		}
		c.requestLog = n
		return nil
	}
}

// WithoutSpecValidation stops checking requests against the API's OpenAPI
// description, for tests that send broken requests on purpose from the
// start (Server.ExpectInvalidRequests does the same for part of a test).
// The server still validates requests its own way and answers 400; its
// answers are still checked against the description.
func WithoutSpecValidation() Option {
	return func(c *config) error {
		c.skipRequestVal = true
		return nil
	}
}

// Server is a fake Botonom API on an httptest.Server. Build it with
// NewServer, which closes it when the test ends (or Start outside tests).
type Server struct {
	t           reporter // the test's testing.TB, or the log package (Start)
	ts          *httptest.Server
	token       string
	now         func() time.Time
	rateLimit   int
	rateWindow  time.Duration
	spec        *spec
	onRequest   func(Request) // WithRequestHook
	readTimeout time.Duration
	done        chan struct{}
	closeOnce   sync.Once

	mu              sync.Mutex
	latency         time.Duration
	skipRequestVal  bool // WithoutSpecValidation
	expectInvalid   int  // ExpectInvalidRequests in effect
	failN           int
	failStatus      int
	resetN          int
	dropN           int
	windowStart     time.Time
	windowCount     int
	seq             map[string]int // last number used per ID prefix
	agents          []*botonom.Agent
	tasks           []*storedTask
	messages        []StoredMessage
	webhooks        []RegisteredWebhook
	requests        []Request // the newest requestLog, oldest first
	requestLog      int
	dropped         int     // requests that left the log
	keyOrder        []keyAt // idempotencyKeys in the order they were stored
	idempotencyKeys map[string]*idempotentAnswer
	inflight        map[string]uint64 // Idempotency-Keys being processed, by claim number
	claims          uint64
	faultRate       faultRate // WithFaultRate
}

// Request is what the server received: one per HTTP request, in the order
// they were answered.
type Request struct {
	Method string
	// Path is the decoded path ("/v1/agents/agt_abc123"); EscapedPath is
	// the path as sent ("/v1/agents/..%2Fwebhooks").
	Path        string
	EscapedPath string
	Query       url.Values
	Header      http.Header
	// Body is the body as received, its first MaxLoggedBody bytes when
	// BodyTruncated is set.
	Body          []byte
	BodyTruncated bool
	Time          time.Time // by the server's clock, when it arrived
	// Status is the status of the answer, 0 when the connection was closed
	// without one (ResetConnectionNext, DropResponseNext, a body that did
	// not arrive within the read timeout or before Close).
	Status int
	// RequestID is the X-Request-Id of the answer ("req_…").
	RequestID string
}

// StoredMessage is a message the server accepted, with the Idempotency-Key
// it came with ("" if none) and the ID of the task it started.
type StoredMessage struct {
	botonom.Message
	IdempotencyKey string
	TaskID         string
}

// RegisteredWebhook is a registered webhook with the secret the API never
// echoes back.
type RegisteredWebhook struct {
	botonom.Webhook
	Secret string
}

type storedTask struct {
	botonom.Task
	seq int // creation order, to sort tasks created in the same second
}

// keyAt is an Idempotency-Key stored at a time, to prune expired keys in
// the order they were stored.
type keyAt struct {
	key string
	at  time.Time
}

type idempotentAnswer struct {
	fingerprint string
	at          time.Time
	status      int
	body        []byte
}

// NewServer starts a fake API with the sample agents (SampleAgents) and
// their task history, and closes it when the test ends (t.Cleanup). A bad
// option fails the test at once, so call it from the test's goroutine.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := start(t, opts)
	if err != nil {
		t.Fatalf("botonomtest: NewServer: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Start runs the fake API outside a test, for examples and demos (such as
// a quick start that runs when no real token is set). It is NewServer
// without a testing.TB: contract mismatches and bugs of the fake are
// logged with the log package instead of failing a test, and
// Server.Client panics on a bad option. The caller closes the server.
func Start(opts ...Option) (*Server, error) {
	s, err := start(logReporter{}, opts)
	if err != nil {
		return nil, fmt.Errorf("botonomtest: Start: %w", err)
	}
	return s, nil
}

// ClientFromEnvOrFake is what a program that should run with or without a
// token needs: with BOTONOM_API_TOKEN set, a client for the real API
// (botonom.NewClientFromEnv with clientOpts) and a nil Server; without,
// a fake started with Start(opts...), a client for it, and the fake, which
// the caller closes.
func ClientFromEnvOrFake(opts []Option, clientOpts ...botonom.Option) (*botonom.Client, *Server, error) {
	if os.Getenv("BOTONOM_API_TOKEN") != "" {
		c, err := botonom.NewClientFromEnv(clientOpts...)
		return c, nil, err
	}
	s, err := Start(opts...)
	if err != nil {
		return nil, nil, err
	}
	return s.Client(clientOpts...), s, nil
}

// reporter is the part of testing.TB the server reports through.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// logReporter reports through the log package, for Start.
type logReporter struct{}

func (logReporter) Helper()                           {}
func (logReporter) Errorf(format string, args ...any) { log.Printf("ERROR "+format, args...) }
func (logReporter) Logf(format string, args ...any)   { log.Printf(format, args...) }
func (logReporter) Fatalf(format string, args ...any) { log.Panicf(format, args...) }

func start(rep reporter, opts []Option) (*Server, error) {
	cfg := &config{
		token:       Token,
		rateLimit:   DefaultRateLimit,
		rateWindow:  DefaultRateWindow,
		now:         time.Now,
		readTimeout: readTimeout,
		idleTimeout: idleTimeout,
		requestLog:  DefaultRequestLog,
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(cfg); err != nil {
			return nil, err
		}
	}
	sp, err := loadSpec()
	if err != nil {
		return nil, err
	}
	s := &Server{
		t:               rep,
		token:           cfg.token,
		now:             cfg.now,
		rateLimit:       cfg.rateLimit,
		rateWindow:      cfg.rateWindow,
		spec:            sp,
		onRequest:       cfg.onRequest,
		readTimeout:     cfg.readTimeout,
		requestLog:      cfg.requestLog,
		done:            make(chan struct{}),
		latency:         cfg.latency,
		skipRequestVal:  cfg.skipRequestVal,
		faultRate:       newFaultRate(cfg.faultRate, cfg.faultStatuses),
		seq:             map[string]int{},
		idempotencyKeys: map[string]*idempotentAnswer{},
		inflight:        map[string]uint64{},
	}
	if err := s.seed(cfg); err != nil {
		return nil, err
	}
	if s.ts, err = newHTTPServer(cfg.addr, http.HandlerFunc(s.serveHTTP), cfg.readTimeout, cfg.idleTimeout); err != nil {
		return nil, err
	}
	return s, nil
}

// URL returns the base URL of the fake API, ending in "/v1/", for
// botonom.WithBaseURL.
func (s *Server) URL() string { return s.ts.URL + "/v1/" }

// Client returns a *botonom.Client that talks to the server with its token
// and tiny retry waits (1 ms to 10 ms, so retry tests stay fast); opts are
// applied after those and win. A bad option fails the test at once, so call
// it from the test's goroutine.
func (s *Server) Client(opts ...botonom.Option) *botonom.Client {
	s.t.Helper()
	all := append([]botonom.Option{
		botonom.WithBaseURL(s.URL()),
		botonom.WithRetryWait(time.Millisecond, 10*time.Millisecond),
	}, opts...)
	c, err := botonom.NewClient(s.token, all...)
	if err != nil {
		s.t.Fatalf("botonomtest: Client: %v", err)
	}
	return c
}

// Close shuts the server down: it ends latency waits, lets the requests in
// flight finish for a moment (200 ms), then closes the connections still
// open, so it returns within a second whatever the clients do (a client
// that stalls in the middle of a body does not hold it). NewServer arranges
// for it to run when the test ends; calling it earlier, or twice, is fine.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done) // ends latency waits
		closed := make(chan struct{})
		go func() {
			defer close(closed)
			s.ts.Close()
		}()
		grace := time.NewTimer(closeGrace)
		defer grace.Stop()
		select {
		case <-closed:
		case <-grace.C:
			s.ts.CloseClientConnections()
			<-closed
		}
	})
}

// FailNext makes the next n requests, whatever they are, be answered with
// status (400 to 599) and the error body the API gives for it (type
// invalid_request_error, authentication_error, permission_error,
// not_found_error, rate_limit_error or api_error; code "injected_fault"),
// before any other check. An injected 429 carries Retry-After: 0 and the
// real X-RateLimit-* state, so a client retries at once and tests stay fast.
// Calls add up: FailNext(1, 503) then FailNext(1, 503) fails two requests;
// the later status applies to all that remain.
func (s *Server) FailNext(n int, status int) {
	if status < 400 || status > 599 {
		s.t.Errorf("botonomtest: FailNext: status %d is not an error status (400-599)", status)
		return
	}
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN += n
	s.failStatus = status
}

// ResetConnectionNext makes the server close the connection of the next n
// requests without answering and without acting on them: the client sees a
// transport error. It applies before FailNext.
func (s *Server) ResetConnectionNext(n int) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetN += n
}

// DropResponseNext makes the server act on the next n requests as usual
// (store the message, register the webhook…) and then close the connection
// instead of sending the answer: the case where a retry without an
// Idempotency-Key would act twice.
func (s *Server) DropResponseNext(n int) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropN += n
}

// SetLatency delays every later answer by d (0 for none).
func (s *Server) SetLatency(d time.Duration) {
	if d < 0 {
		d = 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// ExpectInvalidRequests stops failing the test on requests that break the
// API's OpenAPI description (they are logged instead), for tests that send
// such requests on purpose; the server still answers them with its own 400.
// Call the returned function to end it (calling it again does nothing).
//
// Uses nest, in any order: requests are checked again once every
// ExpectInvalidRequests has been ended, so parallel subtests on one server
// may each call it. While any is in effect, no request is reported.
func (s *Server) ExpectInvalidRequests() (restore func()) {
	s.mu.Lock()
	s.expectInvalid++
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			s.expectInvalid--
			s.mu.Unlock()
		})
	}
}

// Requests returns a copy of the requests received so far, in the order
// they were answered: the newest DefaultRequestLog (or WithRequestLog's
// number), bodies cut at MaxLoggedBody. DroppedRequests counts those that
// left the log.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		r.Query = cloneValues(r.Query)
		r.Header = r.Header.Clone()
		r.Body = bytes.Clone(r.Body)
		out[i] = r
	}
	return out
}

// DroppedRequests returns how many requests, the oldest, have left the log
// of Requests to keep it within its size.
func (s *Server) DroppedRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Messages returns a copy of the messages the server accepted, oldest
// first. A replayed request (same Idempotency-Key) stores nothing, so each
// logical send appears once.
func (s *Server) Messages() []StoredMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]StoredMessage, len(s.messages))
	for i, m := range s.messages {
		m.Message = cloneMessage(m.Message)
		out[i] = m
	}
	return out
}

// Webhooks returns a copy of the registered webhooks, secrets included,
// oldest first.
func (s *Server) Webhooks() []RegisteredWebhook {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]RegisteredWebhook, len(s.webhooks))
	for i, w := range s.webhooks {
		w.Events = slices.Clone(w.Events)
		out[i] = w
	}
	return out
}

// Agents returns a copy of the server's agents in their current state
// (skills updated), in the order GET /agents lists them.
func (s *Server) Agents() []*botonom.Agent {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*botonom.Agent, len(s.agents))
	for i, a := range s.agents {
		out[i] = cloneAgent(a)
	}
	return out
}

// Tasks returns a copy of every task, the seeded history and those the
// server's messages started, oldest first.
func (s *Server) Tasks() []*botonom.Task {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*botonom.Task, len(s.tasks))
	for i, t := range s.tasks {
		out[i] = cloneTask(&t.Task)
	}
	return out
}

// answer is a response built in memory, checked against the spec, then
// written (or dropped).
type answer struct {
	status int
	header http.Header
	body   []byte
}

// apiError is an error answer in the API's shape.
type apiError struct {
	status  int
	typ     string
	code    string
	message string
	param   string
}

func (e *apiError) body() []byte {
	type inner struct {
		Type    string `json:"type"`
		Code    string `json:"code,omitempty"`
		Message string `json:"message"`
		Param   string `json:"param,omitempty"`
	}
	b, _ := json.Marshal(struct {
		Error inner `json:"error"`
	}{inner{e.typ, e.code, e.message, e.param}})
	return b
}

// errorType is the API's error type for a status.
func errorType(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return "authentication_error"
	case status == http.StatusForbidden:
		return "permission_error"
	case status == http.StatusNotFound:
		return "not_found_error"
	case status == http.StatusConflict:
		return "conflict_error"
	case status == http.StatusTooManyRequests:
		return "rate_limit_error"
	case status >= 500:
		return "api_error"
	}
	return "invalid_request_error"
}

func badRequest(code, param, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: "invalid_request_error", code: code, param: param, message: fmt.Sprintf(format, args...)}
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	received := s.now()
	// The body must come within readTimeout of the headers; the deadline
	// is lifted once it is read, so that a slow answer (WithLatency) still
	// notices a client that leaves.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(s.readTimeout))
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxRequestBody+1))
	tooLarge := len(body) > MaxRequestBody
	if tooLarge {
		// The rest of the body is not read: the connection closes after
		// the answer, which comes at once (else net/http reads up to 256
		// KiB more of the body before the answer, and again before closing).
		w.Header().Set("Connection", "close")
		_ = rc.SetReadDeadline(time.Now())
	} else {
		_ = rc.SetReadDeadline(time.Time{})
	}
	rec := Request{
		Method:      r.Method,
		Path:        r.URL.Path,
		EscapedPath: r.URL.EscapedPath(),
		Query:       r.URL.Query(),
		Header:      r.Header.Clone(),
		Body:        body,
		Time:        received,
	}
	if len(body) > MaxLoggedBody {
		// A copy, so that the log does not hold the whole body.
		rec.Body, rec.BodyTruncated = bytes.Clone(body[:MaxLoggedBody]), true
	}
	if err != nil {
		// The client went away mid-body, or stalled past readTimeout:
		// the connection is closed without an answer.
		s.record(rec)
		s.hook(rec)
		closeConnection(w)
		return
	}

	s.mu.Lock()
	latency := s.latency
	checkRequest := !s.skipRequestVal && s.expectInvalid == 0
	key, claim := s.claimKey(r, received)
	s.mu.Unlock()
	if key != "" && claim == 0 {
		latency = 0 // in flight elsewhere (409) or answered before (a replay): at once
	}
	if claim != 0 {
		defer s.releaseKey(key, claim)
	}
	if latency > 0 {
		// For a POST with a key the latency is processing, which goes on
		// when the client leaves; for anything else, the answer is only
		// late, and nobody waits for it once the client has gone.
		var gone <-chan struct{}
		if claim == 0 {
			gone = r.Context().Done()
		}
		timer := time.NewTimer(latency)
		select {
		case <-timer.C:
		case <-gone:
		case <-s.done:
		}
		timer.Stop()
	}

	s.mu.Lock()
	s.injectRandomFault()
	if s.resetN > 0 {
		s.resetN--
		s.logRequest(rec)
		s.mu.Unlock()
		s.hook(rec)
		closeConnection(w)
		return
	}
	ans := s.answer(r, body, received, tooLarge, key != "" && claim == 0 && s.inflight[key] != 0)
	s.releaseKeyLocked(key, claim) // before the answer leaves: a retry finds it stored
	drop := false
	if s.dropN > 0 {
		s.dropN--
		drop = true
	}
	rec.RequestID = ans.header.Get("X-Request-Id")
	if !drop {
		rec.Status = ans.status
	}
	s.logRequest(rec)
	s.mu.Unlock()
	s.hook(rec)

	s.checkContract(r, body, tooLarge, checkRequest, ans)

	if drop {
		closeConnection(w)
		return
	}
	h := w.Header()
	for k, v := range ans.header {
		h[k] = v
	}
	h.Set("Content-Length", strconv.Itoa(len(ans.body)))
	w.WriteHeader(ans.status)
	_, _ = w.Write(ans.body)
}

// claimKey marks the Idempotency-Key of a POST as in flight, to be
// processed; s.mu is held. It returns the key ("" for a request without
// one) and the claim's number: 0 when there is nothing to process, because
// another request holds the key or it was answered before (a replay).
func (s *Server) claimKey(r *http.Request, now time.Time) (key string, claim uint64) {
	if r.Method != http.MethodPost {
		return "", 0
	}
	key = r.Header.Get("Idempotency-Key")
	if key == "" || s.inflight[key] != 0 {
		return key, 0
	}
	if prev, ok := s.idempotencyKeys[key]; ok && now.Sub(prev.at) < idempotencyWindow {
		return key, 0
	}
	s.claims++
	s.inflight[key] = s.claims
	return key, s.claims
}

// releaseKey ends a claim of claimKey, unless a later one holds the key.
func (s *Server) releaseKey(key string, claim uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.releaseKeyLocked(key, claim)
}

// releaseKeyLocked is releaseKey with s.mu held.
func (s *Server) releaseKeyLocked(key string, claim uint64) {
	if claim != 0 && s.inflight[key] == claim {
		delete(s.inflight, key)
	}
}

func (s *Server) record(rec Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logRequest(rec)
}

// logRequest adds rec to the log, dropping the oldest beyond its size;
// s.mu is held.
func (s *Server) logRequest(rec Request) {
	if len(s.requests) >= s.requestLog {
		s.requests[0] = Request{} // let it go now, not when the array is reallocated
		s.requests = s.requests[1:]
		s.dropped++
	}
	s.requests = append(s.requests, rec)
}

// pruneKeys forgets the Idempotency-Keys stored more than 24 h before now;
// s.mu is held.
func (s *Server) pruneKeys(now time.Time) {
	n := 0
	for _, k := range s.keyOrder {
		if now.Sub(k.at) < idempotencyWindow {
			break
		}
		if a := s.idempotencyKeys[k.key]; a != nil && a.at.Equal(k.at) {
			delete(s.idempotencyKeys, k.key)
		}
		n++
	}
	if n > 0 {
		s.keyOrder = slices.Delete(s.keyOrder, 0, n)
	}
}

// closeConnection hijacks the connection and closes it without a word.
func closeConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler) // net/http closes the connection
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// checkContract checks the request and the answer against the OpenAPI
// description and fails the test on a mismatch.
func (s *Server) checkContract(r *http.Request, body []byte, tooLarge, checkRequest bool, ans *answer) {
	reqErr, respErr := s.spec.check(r, body, tooLarge, ans)
	if reqErr != nil {
		if checkRequest {
			s.t.Errorf("botonomtest: %s %s: the request does not match api/openapi.yaml: %v", r.Method, r.URL.RequestURI(), reqErr)
		} else {
			s.t.Logf("botonomtest: %s %s: the request does not match api/openapi.yaml (expected): %v", r.Method, r.URL.RequestURI(), reqErr)
		}
	}
	if respErr != nil {
		s.t.Errorf("botonomtest: %s %s: the answer (%d %s) does not match api/openapi.yaml: %v", r.Method, r.URL.RequestURI(), ans.status, ans.body, respErr)
	}
}

// answer builds the answer to one request; s.mu is held. It never panics:
// a bug in the fake becomes a 500 api_error and a failed test.
func (s *Server) answer(r *http.Request, body []byte, received time.Time, tooLarge, keyInUse bool) (ans *answer) {
	now := s.now()
	ans = &answer{header: http.Header{}}
	h := ans.header
	h.Set("Content-Type", "application/json")
	h.Set("Date", now.UTC().Format(http.TimeFormat))
	h.Set("X-Request-Id", s.nextID("req"))
	// Only an authenticated request spends the token's budget: a stranger
	// with a wrong token must not use up a real client's rate limit.
	authErr := s.authenticate(r)
	over, retryAfter := s.countRequest(now, h, authErr == nil)

	defer func() {
		if p := recover(); p != nil {
			s.t.Errorf("botonomtest: panic answering %s %s: %v", r.Method, r.URL.RequestURI(), p)
			setError(ans, &apiError{status: http.StatusInternalServerError, typ: "api_error", code: "internal_error", message: "the fake API failed; see the test log"})
		}
	}()

	if s.failN > 0 {
		s.failN--
		status := s.failStatus
		if status == http.StatusTooManyRequests {
			h.Set("Retry-After", "0")
		}
		setError(ans, &apiError{status: status, typ: errorType(status), code: "injected_fault",
			message: fmt.Sprintf("%d %s injected by botonomtest (FailNext)", status, http.StatusText(status))})
		return ans
	}
	if authErr != nil {
		setError(ans, authErr)
		return ans
	}
	if over {
		h.Set("Retry-After", strconv.Itoa(retryAfter))
		setError(ans, &apiError{status: http.StatusTooManyRequests, typ: "rate_limit_error", code: "rate_limited",
			message: fmt.Sprintf("rate limit of %d requests per %s exceeded; retry after %d s", s.rateLimit, s.rateWindow, retryAfter)})
		return ans
	}
	if tooLarge {
		setError(ans, &apiError{status: http.StatusRequestEntityTooLarge, typ: "invalid_request_error", code: "body_too_large",
			message: fmt.Sprintf("the request body is larger than %d bytes", MaxRequestBody)})
		return ans
	}
	rt, e := route(r)
	if e != nil {
		if e.status == http.StatusMethodNotAllowed {
			h.Set("Allow", strings.Join(rt.allow, ", "))
		}
		setError(ans, e)
		return ans
	}

	if e := checkRetryCount(r.Header); e != nil {
		setError(ans, e)
		return ans
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > maxIdempotencyKey {
		setError(ans, badRequest("invalid_value", "Idempotency-Key", "the Idempotency-Key is longer than %d characters", maxIdempotencyKey))
		return ans
	}
	if keyInUse {
		setError(ans, &apiError{status: http.StatusConflict, typ: "conflict_error", code: "idempotency_key_in_use", param: "Idempotency-Key",
			message: "a request with this Idempotency-Key is still being processed; retry shortly"})
		return ans
	}
	// A key's 24 h are judged at the request's arrival, as claimKey judged
	// them: a key reused just inside them is a replay, however late the
	// answer.
	s.pruneKeys(received)
	var fingerprint string
	if r.Method == http.MethodPost && key != "" {
		fingerprint = r.Method + " " + r.URL.EscapedPath() + "\n" + canonicalJSON(body)
		if prev, ok := s.idempotencyKeys[key]; ok && received.Sub(prev.at) < idempotencyWindow {
			if prev.fingerprint != fingerprint {
				setError(ans, badRequest("idempotency_key_reused", "Idempotency-Key",
					"this Idempotency-Key was used within 24 h for a different request"))
				return ans
			}
			h.Set("Idempotent-Replayed", "true")
			ans.status, ans.body = prev.status, bytes.Clone(prev.body)
			return ans
		}
	}

	status, v, e := s.dispatch(rt, r, body, now)
	if e != nil {
		setError(ans, e)
		return ans
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encode answer: %v", err))
	}
	ans.status, ans.body = status, b
	if fingerprint != "" {
		s.idempotencyKeys[key] = &idempotentAnswer{fingerprint: fingerprint, at: now, status: status, body: bytes.Clone(b)}
		s.keyOrder = append(s.keyOrder, keyAt{key, now})
	}
	return ans
}

func setError(ans *answer, e *apiError) {
	ans.status = e.status
	ans.body = e.body()
}

// countRequest counts a request in the current fixed window when count is
// true, sets the X-RateLimit-* headers and says whether it is over the
// limit and, if so, the seconds left in the window (rounded up). A request
// not counted is never over: its headers show the window as it stands.
func (s *Server) countRequest(now time.Time, h http.Header, count bool) (over bool, retryAfter int) {
	start := now.Truncate(s.rateWindow)
	if !start.Equal(s.windowStart) {
		s.windowStart, s.windowCount = start, 0
	}
	if count {
		s.windowCount++
	}
	end := start.Add(s.rateWindow)
	reset := end.Unix()
	if end.After(time.Unix(reset, 0)) {
		reset++ // never tell a client the window ends before it does
	}
	h.Set("X-RateLimit-Limit", strconv.Itoa(s.rateLimit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(s.rateLimit-s.windowCount, 0)))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset, 10))
	if !count || s.windowCount <= s.rateLimit {
		return false, 0
	}
	return true, int(math.Ceil(end.Sub(now).Seconds()))
}

// checkRetryCount checks X-Botonom-Retry-Count: absent, or a whole
// number from 0.
func checkRetryCount(h http.Header) *apiError {
	v := h.Values("X-Botonom-Retry-Count")
	if len(v) == 0 {
		return nil
	}
	if n, err := strconv.Atoi(v[0]); err != nil || n < 0 || len(v) > 1 {
		return badRequest("invalid_value", "X-Botonom-Retry-Count", "X-Botonom-Retry-Count must be one whole number from 0, got %q", strings.Join(v, ", "))
	}
	return nil
}

// authenticate checks the bearer token.
func (s *Server) authenticate(r *http.Request) *apiError {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return &apiError{status: http.StatusUnauthorized, typ: "authentication_error", code: "missing_token",
			message: "no API token: send Authorization: Bearer btm_sk_…"}
	}
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token != s.token {
		return &apiError{status: http.StatusUnauthorized, typ: "authentication_error", code: "invalid_token",
			message: "the API token is invalid or expired"}
	}
	return nil
}

// nextID returns the next ID with prefix ("msg" → "msg_000001").
func (s *Server) nextID(prefix string) string {
	s.seq[prefix]++
	return fmt.Sprintf("%s_%06d", prefix, s.seq[prefix])
}

// canonicalJSON re-encodes a JSON body with sorted keys and no spacing, so
// that two encodings of the same request compare equal; a body that is not
// JSON is compared as is.
func canonicalJSON(body []byte) string {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return string(body)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return string(body)
	}
	return string(b)
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}
