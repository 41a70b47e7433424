package botonom

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// attemptServer is a real HTTP server that numbers the requests it gets
// and answers each with answer(n, r), n counting from 0. One made by
// newAttemptHandler has no listener: memClient reaches it in memory.
type attemptServer struct {
	*httptest.Server
	handler  http.Handler
	mu       sync.Mutex
	requests []*http.Request
	times    []time.Time
}

func newAttemptServer(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, n int)) *attemptServer {
	t.Helper()
	s := newAttemptHandler(answer)
	s.Server = httptest.NewServer(s.handler)
	t.Cleanup(s.Close)
	return s
}

// newAttemptHandler is an attemptServer without a listener, for a test in
// a synctest bubble (where a goroutine blocked on a real socket would stop
// the fake clock): memClient hands it each request in memory.
func newAttemptHandler(answer func(w http.ResponseWriter, r *http.Request, n int)) *attemptServer {
	s := &attemptServer{}
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		n := len(s.requests)
		s.requests = append(s.requests, r.Clone(context.Background()))
		s.times = append(s.times, time.Now())
		s.mu.Unlock()
		answer(w, r, n)
	})
	return s
}

// memClient is a client of s whose requests reach s's handler in memory;
// a handler that hijacks the connection (to drop the answer) fails the
// attempt as a dropped connection does.
func (s *attemptServer) memClient(t *testing.T, opts ...Option) *Client {
	t.Helper()
	api := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		rec := &memRecorder{ResponseRecorder: httptest.NewRecorder()}
		s.handler.ServeHTTP(rec, r)
		if rec.hijacked {
			return nil, io.ErrUnexpectedEOF
		}
		return rec.Result(), nil
	})
	base := []Option{WithBaseURL("http://api.test/v1/"), WithRetryWait(time.Millisecond, 5*time.Millisecond),
		WithHTTPClient(&http.Client{Transport: api})}
	c, err := NewClient(testToken, append(base, opts...)...)
	require.NoError(t, err)
	return c
}

// memRecorder is a ResponseRecorder whose connection a handler can
// "hijack": the answer is then lost.
type memRecorder struct {
	*httptest.ResponseRecorder
	hijacked bool
}

func (m *memRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	m.hijacked = true
	return nil, nil, errors.New("memRecorder: no connection: the answer is dropped")
}

func (s *attemptServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

func (s *attemptServer) methods() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.requests {
		out = append(out, r.Method)
	}
	return out
}

func (s *attemptServer) header(key string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.requests {
		out = append(out, r.Header.Get(key))
	}
	return out
}

func (s *attemptServer) client(t *testing.T, opts ...Option) *Client {
	t.Helper()
	base := []Option{WithBaseURL(s.URL + "/v1/"), WithRetryWait(time.Millisecond, 5*time.Millisecond)}
	c, err := NewClient(testToken, append(base, opts...)...)
	require.NoError(t, err)
	return c
}

func writeStatus(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if status >= 400 {
		fmt.Fprintf(w, `{"error":{"type":"api_error","message":"status %d"}}`, status)
		return
	}
	fmt.Fprint(w, `{"id":"msg_1","status":"delivered","agent_id":"agt_1","created_at":"2026-02-18T14:30:00Z"}`)
}

// statuses answers the listed statuses in turn, then 200.
func statuses(codes ...int) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		if n < len(codes) {
			writeStatus(w, codes[n])
			return
		}
		writeStatus(w, 200)
	}
}

func send(c *Client) error {
	_, _, err := c.Agents.SendMessage(context.Background(), "agt_1", &SendMessageRequest{Content: "hi"})
	return err
}

func TestRetry_POST503RetriedWithSameIdempotencyKey(t *testing.T) {
	srv := newAttemptServer(t, statuses(503, 503))
	require.NoError(t, send(srv.client(t)))
	require.Equal(t, 3, srv.count())
	keys := srv.header("Idempotency-Key")
	assert.Regexp(t, uuidV4, keys[0])
	assert.Equal(t, []string{keys[0], keys[0], keys[0]}, keys, "every retry reuses the call's key")
	assert.Equal(t, []string{"0", "1", "2"}, srv.header("X-Botonom-Retry-Count"))
}

func TestRetry_POSTWithoutKeyIsNotRetriedOn5xx(t *testing.T) {
	srv := newAttemptServer(t, statuses(503, 503))
	c := srv.client(t)
	req, err := c.NewRequest(context.Background(), "POST", "agents/agt_1/message", &SendMessageRequest{Content: "hi"})
	require.NoError(t, err)
	req.Header.Del("Idempotency-Key")
	_, err = c.Do(req, nil)
	require.ErrorIs(t, err, ErrServer)
	assert.Equal(t, 1, srv.count(), "the API may have acted on it: no blind resend")
}

func TestRetry_POSTWithoutKeyIsRetriedOn429(t *testing.T) {
	srv := newAttemptServer(t, statuses(429))
	c := srv.client(t)
	req, err := c.NewRequest(context.Background(), "POST", "agents/agt_1/message", &SendMessageRequest{Content: "hi"})
	require.NoError(t, err)
	req.Header.Del("Idempotency-Key")
	_, err = c.Do(req, nil)
	require.NoError(t, err)
	assert.Equal(t, 2, srv.count(), "a 429 means the API did nothing")
}

func TestRetry_RetryableStatusesOnGETAndPUT(t *testing.T) {
	calls := map[string]func(*Client) error{
		"GET": func(c *Client) error { _, _, err := c.Agents.Get(context.Background(), "agt_1"); return err },
		"PUT": func(c *Client) error {
			_, _, err := c.Agents.InstallSkills(context.Background(), "agt_1", "calendar")
			return err
		},
	}
	for _, code := range []int{408, 429, 500, 502, 503, 504} {
		for method, call := range calls {
			t.Run(fmt.Sprintf("%s/%d", method, code), func(t *testing.T) {
				srv := newAttemptServer(t, statuses(code))
				require.NoError(t, call(srv.client(t)))
				assert.Equal(t, 2, srv.count(), "the failed attempt, then the retry")
				assert.Equal(t, []string{method, method}, srv.methods())
			})
		}
	}
}

func TestRetry_NeverOnClientErrors(t *testing.T) {
	for _, code := range []int{400, 401, 403, 404, 409, 422, 501} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			srv := newAttemptServer(t, statuses(code, code, code))
			err := send(srv.client(t))
			require.Error(t, err)
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, code, apiErr.StatusCode)
			assert.Equal(t, 1, srv.count(), "exactly one attempt")
		})
	}
}

func TestRetry_ExhaustedGivesTypedErrorAndNothingOnStderr(t *testing.T) {
	srv := newAttemptServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Retry-After", "0")
		w.Header().Set("X-Request-Id", fmt.Sprintf("req_%d", n))
		writeStatus(w, 429)
	})
	stderr := captureStderr(t)
	err := send(srv.client(t))
	out := stderr()
	var rle *RateLimitError
	require.ErrorAs(t, err, &rle)
	assert.Equal(t, 4, srv.count(), "DefaultMaxRetries+1 attempts")
	assert.Equal(t, 4, rle.Attempts)
	assert.Equal(t, "req_3", rle.RequestID, "the error of the last answer")
	assert.NotContains(t, err.Error(), "giving up")
	assert.Empty(t, out, "nothing may be written to stderr")

	srv5 := newAttemptServer(t, statuses(503, 503, 503, 503, 503))
	err = send(srv5.client(t))
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 503, apiErr.StatusCode)
	assert.Equal(t, 4, apiErr.Attempts)
	assert.Contains(t, err.Error(), "after 4 attempts")
}

// captureStderr redirects os.Stderr until the returned func is called,
// which returns what was written.
func captureStderr(t *testing.T) func() string {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	orig := os.Stderr
	os.Stderr = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	var once sync.Once
	var out string
	stop := func() string {
		once.Do(func() {
			os.Stderr = orig
			w.Close()
			out = <-done
		})
		return out
	}
	t.Cleanup(func() { stop() })
	return stop
}

func TestRetry_MaxRetriesZeroDisables(t *testing.T) {
	srv := newAttemptServer(t, statuses(503))
	err := send(srv.client(t, WithMaxRetries(0)))
	require.ErrorIs(t, err, ErrServer)
	assert.Equal(t, 1, srv.count())
}

func TestRetry_LongRetryAfterIsNotSlept(t *testing.T) {
	srv := newAttemptServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Retry-After", "3600")
		writeStatus(w, 429)
	})
	start := time.Now()
	err := send(srv.client(t)) // default MaxRetryWait: 60 s
	var rle *RateLimitError
	require.ErrorAs(t, err, &rle)
	assert.Equal(t, time.Hour, rle.RetryAfter)
	assert.Equal(t, 1, srv.count())
	assert.Less(t, time.Since(start), time.Second, "returned at once")
}

func TestRetry_LongRetryAfterOn503IsNotSlept(t *testing.T) {
	srv := newAttemptServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Retry-After", "120")
		writeStatus(w, 503)
	})
	start := time.Now()
	err := send(srv.client(t))
	require.ErrorIs(t, err, ErrServer)
	assert.Equal(t, 1, srv.count())
	assert.Less(t, time.Since(start), time.Second)
}

func TestRetry_ContextCanceledMidWaitReturnsPromptly(t *testing.T) {
	srv := newAttemptServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Retry-After", "30")
		writeStatus(w, 429)
	})
	c := srv.client(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for srv.count() == 0 {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond)
		cancel()
	}()
	errc := make(chan error, 1)
	var canceledAt time.Time
	go func() {
		_, _, err := c.Agents.SendMessage(ctx, "agt_1", &SendMessageRequest{Content: "hi"})
		errc <- err
	}()
	<-ctx.Done()
	canceledAt = time.Now()
	select {
	case err := <-errc:
		assert.ErrorIs(t, err, context.Canceled)
		assert.Less(t, time.Since(canceledAt), 50*time.Millisecond)
	case <-time.After(2 * time.Second):
		t.Fatal("the wait did not end with the context")
	}
	assert.Equal(t, 1, srv.count())
}

func TestRetry_TransportErrorOnGETIsRetried(t *testing.T) {
	srv := newAttemptServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 0 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close() // reset before any answer
			}
			return
		}
		w.Write([]byte(`{"id":"agt_1"}`))
	})
	agent, _, err := srv.client(t).Agents.Get(context.Background(), "agt_1")
	require.NoError(t, err)
	assert.Equal(t, "agt_1", agent.ID)
	assert.Equal(t, 2, srv.count())
}

func TestRetry_PerAttemptTimeout(t *testing.T) {
	srv := newAttemptServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 0 {
			select {
			case <-r.Context().Done():
			case <-time.After(2 * time.Second):
			}
			return
		}
		w.Write([]byte(`{"id":"agt_1"}`))
	})
	start := time.Now()
	_, _, err := srv.client(t, WithTimeout(100*time.Millisecond)).Agents.Get(context.Background(), "agt_1")
	require.NoError(t, err)
	assert.Equal(t, 2, srv.count())
	assert.Less(t, time.Since(start), time.Second)
}

func TestRetry_TimeoutsExhaustedMatchDeadlineExceeded(t *testing.T) {
	srv := newAttemptServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		<-r.Context().Done()
	})
	_, _, err := srv.client(t, WithTimeout(20*time.Millisecond), WithMaxRetries(1)).Agents.Get(context.Background(), "agt_1")
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "after 2 attempts")
	assert.Equal(t, 2, srv.count())
}

func TestRetry_TLSErrorIsNotRetried(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	c, err := NewClient(testToken, WithBaseURL(srv.URL+"/v1/"), WithRetryWait(time.Millisecond, time.Millisecond))
	require.NoError(t, err)
	_, _, err = c.Agents.Get(context.Background(), "agt_1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate")
	assert.Equal(t, int32(1), conns.Load(), "a certificate error would fail the same way again")
}

func TestRetry_RedirectErrorIsNotRetried(t *testing.T) {
	srv := newAttemptServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		http.Redirect(w, r, r.URL.Path, http.StatusFound)
	})
	_, _, err := srv.client(t).Agents.Get(context.Background(), "agt_1")
	require.ErrorContains(t, err, "redirects")
	assert.Equal(t, 10, srv.count(), "one call's redirects, not four")
}

func TestRetry_BudgetCapsRetriesClientWide(t *testing.T) {
	srv := newAttemptServer(t, statuses(503, 503, 503, 503, 503, 503, 503, 503))
	c := srv.client(t)
	c.budget.tokens = retryCost // one retry left in the whole client
	err := send(c)
	require.ErrorIs(t, err, ErrServer)
	assert.Equal(t, 2, srv.count(), "one retry, then the budget was empty")
	err = send(c)
	require.ErrorIs(t, err, ErrServer)
	assert.Equal(t, 3, srv.count(), "an empty budget means no retry")

	// Successes refill it.
	ok := newAttemptServer(t, statuses())
	okc := ok.client(t)
	okc.budget = c.budget
	for range retryCost {
		require.NoError(t, send(okc))
	}
	assert.Equal(t, retryCost, c.budget.tokens)
}

// A client made by WithToken spends and refills its parent's budget: an
// outage of the API fails every token alike, so retries stay bounded across
// all of them.
func TestRetry_BudgetIsSharedWithWithTokenClients(t *testing.T) {
	srv := newAttemptServer(t, statuses(503, 503, 503, 503, 503, 503, 503, 503))
	parent := srv.client(t)
	child, err := parent.WithToken("btm_sk_test_other")
	require.NoError(t, err)
	parent.budget.tokens = retryCost // one retry left, for both clients
	require.ErrorIs(t, send(child), ErrServer)
	assert.Equal(t, 2, srv.count(), "the child took the parent's last retry")
	require.ErrorIs(t, send(parent), ErrServer)
	assert.Equal(t, 3, srv.count(), "the parent finds the budget the child emptied")
}

func TestRetry_BudgetIsNotSpentOn429(t *testing.T) {
	srv := newAttemptServer(t, statuses(429, 429))
	c := srv.client(t)
	c.budget.tokens = 0
	require.NoError(t, send(c))
	assert.Equal(t, 3, srv.count())
}

type countingLimiter struct {
	calls atomic.Int32
	err   error
}

func (l *countingLimiter) Wait(ctx context.Context) error {
	l.calls.Add(1)
	return l.err
}

func TestLimiter_CalledBeforeEveryAttempt(t *testing.T) {
	srv := newAttemptServer(t, statuses(503))
	lim := &countingLimiter{}
	require.NoError(t, send(srv.client(t, WithLimiter(lim))))
	assert.Equal(t, int32(2), lim.calls.Load())
}

func TestLimiter_ErrorStopsTheCallUnsent(t *testing.T) {
	srv := newAttemptServer(t, statuses())
	boom := errors.New("limiter closed")
	err := send(srv.client(t, WithLimiter(&countingLimiter{err: boom})))
	require.ErrorIs(t, err, boom)
	assert.Zero(t, srv.count())
}

// spentServer answers every request 200 with Remaining: 0 and a reset
// resetIn from now, by its own clock in Date.
func spentServer(t *testing.T, resetIn time.Duration) *attemptServer {
	return newAttemptServer(t, spentAnswer(resetIn))
}

// spentAnswer answers 200 with no request left until resetIn after the
// current second.
func spentAnswer(resetIn time.Duration) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		now := time.Now()
		w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
		w.Header().Set("X-RateLimit-Limit", "100")
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(now.Truncate(time.Second).Add(resetIn).Unix(), 10))
		writeStatus(w, 200)
	}
}

// In a synctest bubble: the wait for the reset is on the fake clock.
func TestRateLimit_SpentLimitWaitsForResetBeforeSending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newAttemptHandler(spentAnswer(time.Second))
		c := srv.memClient(t)
		require.NoError(t, send(c))
		rate := c.Rate()
		assert.Equal(t, 0, rate.Remaining)
		start := time.Now()
		require.NoError(t, send(c))
		require.Equal(t, 2, srv.count())
		assert.False(t, srv.times[1].Before(rate.Reset), "no request before the window reset (%s < %s)", srv.times[1], rate.Reset)
		assert.Less(t, time.Since(start), 2*time.Second, "a wait for the reset, no longer")
	})
}

func TestRateLimit_WaitDisabledFailsFastUnsent(t *testing.T) {
	srv := spentServer(t, 30*time.Second)
	c := srv.client(t, WithRateLimitWait(false))
	require.NoError(t, send(c))
	err := send(c)
	var rle *RateLimitError
	require.ErrorAs(t, err, &rle)
	assert.ErrorIs(t, err, ErrRateLimited)
	assert.InDelta(t, 30*time.Second, rle.RetryAfter, float64(2*time.Second))
	assert.Equal(t, 1, srv.count(), "nothing sent")
}

func TestRateLimit_WaitBeyondMaxRetryWaitFailsFast(t *testing.T) {
	srv := spentServer(t, 30*time.Second)
	c := srv.client(t, WithMaxRetryWait(5*time.Second))
	require.NoError(t, send(c))
	start := time.Now()
	err := send(c)
	var rle *RateLimitError
	require.ErrorAs(t, err, &rle)
	assert.Less(t, time.Since(start), time.Second)
	assert.Equal(t, 1, srv.count())
}

func TestServerWait(t *testing.T) {
	now := time.Date(2026, 2, 18, 14, 30, 0, 0, time.UTC)
	serverDate := now.Add(-time.Hour) // the local clock is an hour fast
	h := func(kv ...string) *http.Response {
		r := &http.Response{StatusCode: 429, Header: http.Header{}}
		for i := 0; i < len(kv); i += 2 {
			r.Header.Set(kv[i], kv[i+1])
		}
		return r
	}
	for name, tc := range map[string]struct {
		resp *http.Response
		want time.Duration
		ok   bool
	}{
		"seconds":            {h("Retry-After", "30"), 30 * time.Second, true},
		"zero":               {h("Retry-After", "0"), 0, true},
		"spaces":             {h("Retry-After", " 7 "), 7 * time.Second, true},
		"huge":               {h("Retry-After", "99999999999999999"), maxUnix * time.Second, true},
		"http-date vs Date":  {h("Retry-After", serverDate.Add(90*time.Second).Format(http.TimeFormat), "Date", serverDate.Format(http.TimeFormat)), 90 * time.Second, true},
		"http-date no Date":  {h("Retry-After", now.Add(10*time.Second).Format(http.TimeFormat)), 10 * time.Second, true},
		"http-date past":     {h("Retry-After", now.Add(-10*time.Second).Format(http.TimeFormat)), 0, true},
		"negative":           {h("Retry-After", "-5"), 0, false},
		"garbage":            {h("Retry-After", "soon"), 0, false},
		"reset vs Date":      {h("X-RateLimit-Limit", "100", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", strconv.FormatInt(serverDate.Add(12*time.Second).Unix(), 10), "Date", serverDate.Format(http.TimeFormat)), 12 * time.Second, true},
		"reset, remaining 3": {h("X-RateLimit-Limit", "100", "X-RateLimit-Remaining", "3", "X-RateLimit-Reset", strconv.FormatInt(now.Unix()+12, 10)), 0, false},
		"nothing":            {h(), 0, false},
		"nil":                {nil, 0, false},
	} {
		t.Run(name, func(t *testing.T) {
			got, ok := serverWait(tc.resp, now)
			assert.Equal(t, tc.ok, ok != "")
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParseRate(t *testing.T) {
	r, ok := parseRate(http.Header{"X-Ratelimit-Limit": {"500"}, "X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {"1708272000"}})
	assert.True(t, ok)
	assert.Equal(t, Rate{500, 0, time.Unix(1708272000, 0).UTC()}, r)
	for _, bad := range []http.Header{
		{},
		{"X-Ratelimit-Limit": {"x"}, "X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {"1"}},
		{"X-Ratelimit-Limit": {"5"}, "X-Ratelimit-Remaining": {"-1"}, "X-Ratelimit-Reset": {"1"}},
		{"X-Ratelimit-Limit": {"5"}, "X-Ratelimit-Remaining": {"1"}, "X-Ratelimit-Reset": {"99999999999999"}},
	} {
		_, ok := parseRate(bad)
		assert.False(t, ok, "%v", bad)
	}
}

func TestBackoff_FullJitterSpreadsOverTheWholeRange(t *testing.T) {
	cfg := &config{retryWaitMin: DefaultRetryWaitMin, retryWaitMax: DefaultRetryWaitMax, maxRetryWait: DefaultMaxRetryWait}
	for attempt := range 8 {
		ceiling := min(DefaultRetryWaitMin<<attempt, DefaultRetryWaitMax)
		lo, hi := ceiling, time.Duration(0)
		seen := map[time.Duration]bool{}
		for range 400 {
			d := backoff(cfg, attempt)
			require.GreaterOrEqual(t, d, time.Duration(0))
			require.LessOrEqual(t, d, ceiling)
			lo, hi = min(lo, d), max(hi, d)
			seen[d] = true
		}
		// Full jitter: uniform over [0, ceiling]. 400 draws land in the
		// bottom and top tenths all but surely (1 - 0.9^400).
		assert.Less(t, lo, ceiling/10, "attempt %d: no wait near 0", attempt)
		assert.Greater(t, hi, ceiling*9/10, "attempt %d: no wait near the ceiling %s", attempt, ceiling)
		assert.Greater(t, len(seen), 300, "attempt %d: waits are not random", attempt)
	}
	assert.LessOrEqual(t, backoff(&config{retryWaitMin: time.Second, retryWaitMax: time.Hour, maxRetryWait: time.Hour}, 62), time.Hour, "no overflow")
	assert.LessOrEqual(t, backoff(&config{retryWaitMin: time.Second, retryWaitMax: time.Hour, maxRetryWait: time.Minute}, 20), time.Minute, "capped by MaxRetryWait")
}

// TestRateLimit_ConcurrentSendsAllSucceedExactlyOnce: 64 goroutines × 20
// sends against a server that allows 500 per 1 s window and answers 429
// past it, and that drops every 7th answer after storing the message (the
// connection closes instead). A retry must carry the same Idempotency-Key
// for the server to recognise it: every send succeeds, and each message is
// stored once.
func TestRateLimit_ConcurrentSendsAllSucceedExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about 3 s")
	}
	const perWindow = 500
	var mu sync.Mutex
	window, used := int64(0), 0
	stored := map[string]int{}
	var rejected, dropped atomic.Int32
	srv := newAttemptServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		now := time.Now()
		key := r.Header.Get("Idempotency-Key")
		mu.Lock()
		if sec := now.Unix(); sec != window {
			window, used = sec, 0
		}
		ok := used < perWindow
		if ok {
			used++
			if stored[key] == 0 { // a repeated key is a replay: nothing stored
				stored[key]++
			}
		}
		remaining := perWindow - used
		mu.Unlock()
		if ok && n%7 == 3 {
			dropped.Add(1)
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close() // stored, but the answer never comes
			}
			return
		}
		w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
		w.Header().Set("X-RateLimit-Limit", strconv.Itoa(perWindow))
		w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(now.Unix()+1, 10))
		if !ok {
			rejected.Add(1)
			w.Header().Set("Retry-After", "1")
			writeStatus(w, 429)
			return
		}
		writeStatus(w, 201)
	})
	// 64 callers told "Retry-After: 1" at once wake together and can meet
	// a full window again; a call's attempts are raised above the default 4
	// so that this test shows what it is about (one key per send, stored
	// once), not how often a crowd meets a full window.
	c := srv.client(t, WithMaxRetries(8))
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if err := send(c); err != nil {
					failed.Add(1)
					t.Log(err)
				}
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, failed.Load())
	assert.Len(t, stored, 64*20, "one key per send: a retry with a new key would store the message again")
	assert.NotZero(t, dropped.Load())
	t.Logf("%d requests, %d answered 429, %d answers dropped", srv.count(), rejected.Load(), dropped.Load())
}

func BenchmarkRetryPolicyOverhead(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-RateLimit-Limit", "1000")
		w.Header().Set("X-RateLimit-Remaining", "999")
		w.Header().Set("X-RateLimit-Reset", "1708272000")
		w.Write([]byte(`{"id":"agt_1","name":"x"}`))
	}))
	defer srv.Close()
	for _, bc := range []struct {
		name string
		opts []Option
	}{
		{"retries=0", []Option{WithMaxRetries(0)}},
		{"retries=3", nil},
	} {
		c, err := NewClient(testToken, append([]Option{WithBaseURL(srv.URL + "/v1/")}, bc.opts...)...)
		require.NoError(b, err)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := c.Agents.Get(context.Background(), "agt_1"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestRateLimit_AbsurdResetIsNotHeld(t *testing.T) {
	now := time.Date(2026, 2, 18, 14, 30, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	for name, tc := range map[string]struct {
		reset, date time.Time
		held        bool
	}{
		"reset in 30 s":        {now.Add(30 * time.Second), now, true},
		"reset in 10 years":    {now.AddDate(10, 0, 0), now, false},
		"proxy Date of 1970":   {now.Add(30 * time.Second), time.Unix(0, 0), false},
		"reset in 59 min":      {now.Add(59 * time.Minute), now, true},
		"reset already passed": {now.Add(-time.Minute), now, false},
	} {
		t.Run(name, func(t *testing.T) {
			resp := &http.Response{Header: http.Header{}}
			resp.Header.Set("X-RateLimit-Limit", "100")
			resp.Header.Set("X-RateLimit-Remaining", "0")
			resp.Header.Set("X-RateLimit-Reset", strconv.FormatInt(tc.reset.Unix(), 10))
			resp.Header.Set("Date", tc.date.Format(http.TimeFormat))
			var s rateState
			s.observe(resp, clock)
			wait, _ := s.untilReset(clock)
			assert.Equal(t, tc.held, wait > 0, "wait %s", wait)
		})
	}
}
