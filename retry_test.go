package botonom

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sleeps replaces c's sleep with one that records each wait and returns at
// once (unless the context is done), so tests assert waits of seconds
// without sleeping them.
func sleeps(c *Client) func() []time.Duration {
	var mu sync.Mutex
	var got []time.Duration
	c.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		got = append(got, d)
		mu.Unlock()
		return ctx.Err()
	}
	return func() []time.Duration {
		mu.Lock()
		defer mu.Unlock()
		return append([]time.Duration(nil), got...)
	}
}

// answer429 writes a 429 with the given headers (name, value pairs).
func answer429(w http.ResponseWriter, kv ...string) {
	for i := 0; i < len(kv); i += 2 {
		w.Header().Set(kv[i], kv[i+1])
	}
	writeStatus(w, http.StatusTooManyRequests)
}

func TestRetry_429RetryAfterSecondsIsWaited(t *testing.T) {
	srv := newAttemptServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 0 {
			answer429(w, "Retry-After", "7")
			return
		}
		writeStatus(w, 201)
	})
	c := srv.client(t)
	waits := sleeps(c)
	require.NoError(t, send(c))
	assert.Equal(t, 2, srv.count())
	assert.Equal(t, []time.Duration{7 * time.Second}, waits(), "exactly what Retry-After asked")
}

func TestRetry_429WithHTTPDate(t *testing.T) {
	srv := newAttemptServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 0 {
			// The server's clock is 2 h behind ours: the wait is measured
			// against its Date, so it is 45 s, not 0 (or 2 h).
			date := time.Now().Add(-2 * time.Hour).UTC()
			answer429(w, "Date", date.Format(http.TimeFormat),
				"Retry-After", date.Add(45*time.Second).Format(http.TimeFormat))
			return
		}
		writeStatus(w, 201)
	})
	c := srv.client(t)
	waits := sleeps(c)
	require.NoError(t, send(c))
	assert.Equal(t, 2, srv.count())
	assert.Equal(t, []time.Duration{45 * time.Second}, waits())
}

func TestRetry_RetryAfterWinsOverASpentLimitsReset(t *testing.T) {
	srv := newAttemptServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		now := time.Now()
		w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
		if n == 0 {
			answer429(w, "Retry-After", "1", "X-RateLimit-Limit", "100", "X-RateLimit-Remaining", "0",
				"X-RateLimit-Reset", strconv.FormatInt(now.Add(30*time.Second).Unix(), 10))
			return
		}
		writeStatus(w, 201)
	})
	c := srv.client(t, WithMaxRetryWait(5*time.Second)) // the reset, 30 s away, is over it
	waits := sleeps(c)
	_, resp, err := c.Agents.SendMessage(context.Background(), "agt_1", &SendMessageRequest{Content: "hi"})
	require.NoError(t, err)
	assert.Equal(t, 201, resp.StatusCode)
	assert.Equal(t, 2, srv.count())
	assert.Equal(t, []time.Duration{time.Second}, waits(), "one wait, the Retry-After; no hold until the reset after it")
}

func TestRetry_SpentLimitWithoutRetryAfterWaitsForTheReset(t *testing.T) {
	srv := newAttemptServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		date := time.Now().Add(-time.Hour).Truncate(time.Second) // a skewed server clock
		w.Header().Set("Date", date.UTC().Format(http.TimeFormat))
		if n == 0 {
			answer429(w, "X-RateLimit-Limit", "100", "X-RateLimit-Remaining", "0",
				"X-RateLimit-Reset", strconv.FormatInt(date.Add(12*time.Second).Unix(), 10))
			return
		}
		writeStatus(w, 201)
	})
	c := srv.client(t)
	waits := sleeps(c)
	require.NoError(t, send(c))
	assert.Equal(t, []time.Duration{12 * time.Second}, waits())
}

func TestRetry_WaitOverMaxRetryWaitEndsTheCallWithItsAttempts(t *testing.T) {
	srv := newAttemptServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 0 {
			writeStatus(w, 503)
			return
		}
		answer429(w, "Retry-After", "120")
	})
	c := srv.client(t)
	waits := sleeps(c)
	err := send(c)
	var rle *RateLimitError
	require.ErrorAs(t, err, &rle)
	assert.Equal(t, 120*time.Second, rle.RetryAfter)
	assert.Equal(t, 2, rle.Attempts, "two requests were sent")
	assert.Equal(t, 2, srv.count())
	assert.Len(t, waits(), 1, "the backoff after the 503; the 120 s is not slept")
}

func TestRetry_409KeyInUseIsRetriedWithTheSameKey(t *testing.T) {
	srv := newAttemptServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n < 2 {
			w.WriteHeader(http.StatusConflict)
			fmt.Fprint(w, `{"error":{"type":"conflict_error","code":"idempotency_key_in_use","message":"in flight"}}`)
			return
		}
		writeStatus(w, 201)
	})
	c := srv.client(t)
	c.budget.tokens = 0 // the API paces these: they take no budget
	waits := sleeps(c)
	msg, _, err := c.Agents.SendMessage(context.Background(), "agt_1", &SendMessageRequest{Content: "hi"}, WithIdempotencyKey("order-42"))
	require.NoError(t, err)
	assert.Equal(t, "msg_1", msg.ID)
	assert.Equal(t, []string{"order-42", "order-42", "order-42"}, srv.header("Idempotency-Key"))
	ws := waits()
	require.Len(t, ws, 2)
	for _, w := range ws {
		assert.LessOrEqual(t, w, 5*time.Millisecond, "backoff, from WithRetryWait")
	}
}

func TestRetry_OtherConflictsAreNotRetried(t *testing.T) {
	for name, tc := range map[string]struct {
		code string
		drop bool // the request carries no Idempotency-Key
	}{
		"another 409 code":           {code: "version_conflict"},
		"key in use, but no key set": {code: "idempotency_key_in_use", drop: true},
	} {
		t.Run(name, func(t *testing.T) {
			srv := newAttemptServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
				w.WriteHeader(http.StatusConflict)
				fmt.Fprintf(w, `{"error":{"type":"conflict_error","code":%q,"message":"no"}}`, tc.code)
			})
			c := srv.client(t)
			req, err := c.NewRequest(context.Background(), "POST", "agents/agt_1/message", &SendMessageRequest{Content: "hi"})
			require.NoError(t, err)
			if tc.drop {
				req.Header.Del("Idempotency-Key")
			}
			_, err = c.Do(req, nil)
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tc.code, apiErr.Code)
			assert.Equal(t, 1, srv.count())
		})
	}
}

func TestRetry_CallersRedirectRefusalIsNotRetriedWhateverItSays(t *testing.T) {
	srv := newAttemptServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	})
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return errors.New("nope") }}
	_, _, err := srv.client(t, WithHTTPClient(hc)).Agents.Get(context.Background(), "agt_1")
	require.ErrorContains(t, err, "nope")
	assert.Equal(t, 1, srv.count(), "a refused redirect would be refused again")
}

func TestRetry_HostNamedRedirectIsRetriedLikeAnyDialError(t *testing.T) {
	// A DNS failure for a host with "redirect" in its name is a transport
	// error like any other: the text of an error decides nothing.
	dnsErr := &url.Error{Op: "Get", URL: "https://redirect.example.com/v1/agents", Err: errors.New("dial tcp: lookup redirect.example.com: no such host")}
	assert.True(t, retryableTransportError(dnsErr))
	assert.False(t, retryableTransportError(&url.Error{Op: "Get", URL: "x", Err: &redirectError{errors.New("plain")}}))
	assert.False(t, retryableTransportError(&stopError{errors.New("limiter")}))
}

func TestRetry_RedirectToAnotherSchemeIsRefusedAndNotRetried(t *testing.T) {
	srv := newAttemptServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		http.Redirect(w, r, "ftp://files.test/x", http.StatusFound)
	})
	_, _, err := srv.client(t).Agents.Get(context.Background(), "agt_1")
	require.ErrorContains(t, err, `unsupported scheme "ftp"`)
	assert.Equal(t, 1, srv.count())
}

// TestDecide is the retry policy as a table: one attempt's outcome, the
// request, and what decide makes of it.
func TestDecide(t *testing.T) {
	const (
		get   = "GET"
		put   = "PUT"
		post  = "POST" // with its Idempotency-Key
		bare  = "POST without key"
		never = time.Duration(-1)
	)
	transportErr := &url.Error{Op: "Post", URL: "x", Err: errors.New("connection reset by peer")}
	certErr := &url.Error{Op: "Get", URL: "x", Err: &tlsCertError}
	answer := func(status int, kv ...string) *http.Response {
		r := &http.Response{StatusCode: status, Header: http.Header{}, Body: http.NoBody}
		for i := 0; i < len(kv); i += 2 {
			r.Header.Set(kv[i], kv[i+1])
		}
		return r
	}
	conflict := func(code string) *http.Response {
		r := answer(409)
		r.Body = bodyOf(fmt.Sprintf(`{"error":{"type":"conflict_error","code":%q}}`, code))
		return r
	}
	type want struct {
		retry  bool
		reason WaitReason
		wait   time.Duration // never: do not check (random backoff)
		errIs  error
	}
	cases := []struct {
		name   string
		method string
		resp   *http.Response
		err    error
		want   want
	}{
		{"200", get, answer(200), nil, want{}},
		{"429 GET", get, answer(429, "Retry-After", "3"), nil, want{true, WaitRetryAfter, 3 * time.Second, ErrRateLimited}},
		{"429 POST without key", bare, answer(429), nil, want{true, WaitBackoff, never, ErrRateLimited}},
		{"429 over MaxRetryWait", post, answer(429, "Retry-After", "61"), nil, want{false, "", 0, ErrRateLimited}},
		{"409 key in use, POST with key", post, conflict("idempotency_key_in_use"), nil, want{true, WaitBackoff, never, nil}},
		{"409 key in use, GET", get, conflict("idempotency_key_in_use"), nil, want{false, "", 0, nil}},
		{"409 other", post, conflict("other"), nil, want{false, "", 0, nil}},
		{"503 GET", get, answer(503), nil, want{true, WaitBackoff, never, ErrServer}},
		{"503 PUT Retry-After", put, answer(503, "Retry-After", "2"), nil, want{true, WaitRetryAfter, 2 * time.Second, ErrServer}},
		{"503 POST with key", post, answer(503), nil, want{true, WaitBackoff, never, ErrServer}},
		{"503 POST without key", bare, answer(503), nil, want{false, "", 0, ErrServer}},
		{"503 Retry-After over MaxRetryWait", get, answer(503, "Retry-After", "120"), nil, want{false, "", 0, ErrServer}},
		{"408 GET", get, answer(408), nil, want{true, WaitBackoff, never, nil}},
		{"500 GET", get, answer(500), nil, want{true, WaitBackoff, never, ErrServer}},
		{"502 GET", get, answer(502), nil, want{true, WaitBackoff, never, ErrServer}},
		{"504 GET", get, answer(504), nil, want{true, WaitBackoff, never, ErrServer}},
		{"501 GET", get, answer(501), nil, want{false, "", 0, ErrServer}},
		{"400", get, answer(400), nil, want{false, "", 0, ErrBadRequest}},
		{"401", get, answer(401), nil, want{false, "", 0, ErrUnauthorized}},
		{"403", get, answer(403), nil, want{false, "", 0, ErrForbidden}},
		{"404", get, answer(404), nil, want{false, "", 0, ErrNotFound}},
		{"422", post, answer(422), nil, want{false, "", 0, nil}},
		{"transport error GET", get, nil, transportErr, want{true, WaitBackoff, never, nil}},
		{"transport error POST with key", post, nil, transportErr, want{true, WaitBackoff, never, nil}},
		{"transport error POST without key", bare, nil, transportErr, want{false, "", 0, nil}},
		{"TLS error", get, nil, certErr, want{false, "", 0, nil}},
		{"HTTP answer to HTTPS", get, nil, &url.Error{Op: "Get", URL: "x", Err: http.ErrSchemeMismatch}, want{false, "", 0, nil}},
		{"redirect refused", get, nil, &url.Error{Op: "Get", URL: "x", Err: &redirectError{errors.New("no")}}, want{false, "", 0, nil}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewClient(testToken)
			require.NoError(t, err)
			req, err := http.NewRequest(http.MethodGet, testBaseURL, nil)
			require.NoError(t, err)
			switch tc.method {
			case put:
				req.Method = http.MethodPut
			case post, bare:
				req.Method = http.MethodPost
				if tc.method == post {
					req.Header.Set(headerIdempotencyKey, "k")
				}
			}
			info := &callInfo{Context: context.Background(), cfg: c.cfg, retryable: retryableRequest(req),
				keyed: tc.method == post, sent: 1}
			d := c.decide(info, tc.resp, tc.err)
			assert.Equal(t, tc.want.retry, d.retry, "retry")
			if tc.want.retry {
				assert.Equal(t, tc.want.reason, d.reason, "reason")
				if tc.want.wait != never {
					assert.Equal(t, tc.want.wait, d.wait, "wait")
				}
			}
			switch {
			case tc.err != nil:
				assert.Equal(t, tc.err, d.err, "the transport error")
			case tc.resp.StatusCode < 300:
				assert.NoError(t, d.err)
			default:
				var apiErr *APIError
				require.ErrorAs(t, d.err, &apiErr)
				assert.Equal(t, tc.resp.StatusCode, apiErr.StatusCode)
				assert.Equal(t, 1, apiErr.Attempts)
				if tc.want.errIs != nil {
					assert.ErrorIs(t, d.err, tc.want.errIs)
				}
			}
		})
	}

	t.Run("no retry once the context is done", func(t *testing.T) {
		c, _ := NewClient(testToken)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		info := &callInfo{Context: ctx, cfg: c.cfg, retryable: true}
		assert.False(t, c.decide(info, answer(503), nil).retry)
		assert.False(t, c.decide(info, nil, transportErr).retry)
	})
	t.Run("no retry past MaxRetries", func(t *testing.T) {
		c, _ := NewClient(testToken, WithMaxRetries(2))
		info := &callInfo{Context: context.Background(), cfg: c.cfg, retryable: true}
		info.attempt = 1
		assert.True(t, c.decide(info, answer(503), nil).retry)
		info.attempt = 2
		assert.False(t, c.decide(info, answer(503), nil).retry)
	})
	t.Run("no retry when the budget is empty, 429 still retried", func(t *testing.T) {
		c, _ := NewClient(testToken)
		c.budget.tokens = retryCost - 1
		info := &callInfo{Context: context.Background(), cfg: c.cfg, retryable: true}
		assert.False(t, c.decide(info, answer(503), nil).retry)
		assert.True(t, c.decide(info, answer(429), nil).retry)
		assert.Equal(t, retryCost-1, c.budget.tokens, "a refused retry takes nothing")
	})
	t.Run("a timeout costs more budget", func(t *testing.T) {
		c, _ := NewClient(testToken)
		info := &callInfo{Context: context.Background(), cfg: c.cfg, retryable: true}
		require.True(t, c.decide(info, nil, context.DeadlineExceeded).retry)
		assert.Equal(t, retryBudgetCapacity-retryTimeoutCost, c.budget.tokens)
	})
}

func TestDo_EmptySuccessBodyLeavesVUntouched(t *testing.T) {
	for _, status := range []int{200, 204} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			c, mt := setup(t)
			handle(mt, "DELETE", "agents/agt_1", status, "", nil)
			req, err := c.NewRequest(context.Background(), "DELETE", "agents/agt_1", nil)
			require.NoError(t, err)
			v := map[string]string{"kept": "yes"}
			resp, err := c.Do(req, &v)
			require.NoError(t, err)
			assert.Equal(t, status, resp.StatusCode)
			assert.Equal(t, map[string]string{"kept": "yes"}, v)
		})
	}
}

var tlsCertError = tls.CertificateVerificationError{Err: errors.New("x509: certificate signed by unknown authority")}

func bodyOf(s string) io.ReadCloser { return io.NopCloser(strings.NewReader(s)) }

func TestCallError_NamesTheAttemptsOnlyWhenThereWereSeveral(t *testing.T) {
	srv := newAttemptServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
	})
	_, _, err := srv.client(t, WithMaxRetries(0)).Agents.Get(context.Background(), "agt_1")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "attempts", "one attempt: %v", err)
	assert.Regexp(t, `^botonom: GET /v1/agents/agt_1: `, err.Error())
	_, _, err = srv.client(t, WithMaxRetries(1)).Agents.Get(context.Background(), "agt_1")
	assert.ErrorContains(t, err, "(after 2 attempts)")
}
