package botonom

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCallOptions_IdempotencyKeyOnAnyPOST(t *testing.T) {
	c, mt := setup(t)
	handle(mt, "POST", "agents/agt_1/message", 201, `{"id":"msg_1"}`, func(r *http.Request) {
		testHeader(t, r, "Idempotency-Key", "order-42")
	})
	handle(mt, "POST", "webhooks", 201, `{"id":"wh_1"}`, func(r *http.Request) {
		testHeader(t, r, "Idempotency-Key", "hook-1")
	})
	_, _, err := c.Agents.SendMessage(context.Background(), "agt_1", &SendMessageRequest{Content: "hi"}, WithIdempotencyKey("order-42"))
	require.NoError(t, err)
	_, _, err = c.Webhooks.Register(context.Background(), &RegisterWebhookRequest{URL: "https://x.test/h", Events: []EventType{EventTaskCompleted}, Secret: "whsec_1"},
		WithIdempotencyKey("hook-1"))
	require.NoError(t, err)
	assert.Equal(t, 2, mt.GetTotalCallCount())
}

func TestCallOptions_RefusedBeforeAnythingIsSent(t *testing.T) {
	c, mt := setup(t)
	ctx := context.Background()
	for name, tc := range map[string]struct {
		call func() error
		want string
	}{
		"key on a GET": {func() error { _, _, err := c.Agents.Get(ctx, "agt_1", WithIdempotencyKey("k")); return err }, "not a POST"},
		"key too long": {func() error {
			_, _, err := c.Agents.SendMessage(ctx, "agt_1", &SendMessageRequest{Content: "hi"}, WithIdempotencyKey(string(make([]byte, 256))))
			return err
		}, "longer than 255"},
		"key with CRLF": {func() error {
			_, _, err := c.Agents.SendMessage(ctx, "agt_1", &SendMessageRequest{Content: "hi"}, WithIdempotencyKey("a\r\nX: y"))
			return err
		}, "not visible ASCII"},
		"HTTP client per call": {func() error {
			_, _, err := c.Agents.Get(ctx, "agt_1", WithHTTPClient(http.DefaultClient))
			return err
		}, "not for one call"},
		"bad option value": {func() error { _, _, err := c.Agents.Get(ctx, "agt_1", WithTimeout(-time.Second)); return err }, "agents.get: WithTimeout"},
		"Authorization header": {func() error {
			_, _, err := c.Agents.Get(ctx, "agt_1", WithHeader("authorization", "Bearer other"))
			return err
		}, "set by the SDK"},
		"Idempotency-Key header": {func() error {
			_, _, err := c.Agents.Get(ctx, "agt_1", WithHeader("IDEMPOTENCY-KEY", "k"))
			return err
		}, "set by the SDK"},
		"retry count header": {func() error {
			_, _, err := c.Agents.Get(ctx, "agt_1", WithHeader("x-botonom-retry-count", "9"))
			return err
		}, "set by the SDK"},
		"header with CRLF": {func() error {
			_, _, err := c.Agents.Get(ctx, "agt_1", WithHeader("X-Trace", "a\r\nEvil: 1"))
			return err
		}, "not a valid header"},
		"header bad name": {func() error { _, _, err := c.Agents.Get(ctx, "agt_1", WithHeader("X Trace", "a")); return err }, "not a valid header"},
		"nil middleware":  {func() error { _, _, err := c.Agents.Get(ctx, "agt_1", WithMiddleware(nil)); return err }, "nil Middleware"},
		"key on Do GET": {func() error {
			req, err := c.NewRequest(ctx, "GET", "agents/agt_1", nil)
			require.NoError(t, err)
			_, err = c.Do(req, nil, WithIdempotencyKey("k"))
			return err
		}, "not a POST"},
	} {
		t.Run(name, func(t *testing.T) {
			err := tc.call()
			assert.ErrorIs(t, err, ErrInvalidArgument)
			assert.ErrorContains(t, err, tc.want)
		})
	}
	assert.Zero(t, mt.GetTotalCallCount())
}

func TestCallOptions_ClientOnlyAndCallOnlyOptions(t *testing.T) {
	_, err := NewClient(testToken, WithIdempotencyKey("k"))
	assert.ErrorIs(t, err, ErrInvalidArgument, "one key for every POST would make each a replay")
	assert.ErrorContains(t, err, "not for the client")
	_, err = NewClient(testToken, WithHeader("Authorization", "x"))
	assert.ErrorIs(t, err, ErrInvalidArgument)
}

func TestCallOptions_HeadersClientThenCallCallWins(t *testing.T) {
	c, mt := setup(t, WithHeader("X-Tenant", "acme"), WithHeader("X-Env", "prod"))
	var got []http.Header
	handle(mt, "GET", "agents/agt_1", 200, `{"id":"agt_1"}`, func(r *http.Request) { got = append(got, r.Header.Clone()) })
	_, _, err := c.Agents.Get(context.Background(), "agt_1", WithHeader("x-env", "staging"), WithHeader("X-Trace", "t1"))
	require.NoError(t, err)
	_, _, err = c.Agents.Get(context.Background(), "agt_1")
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, "acme", got[0].Get("X-Tenant"))
	assert.Equal(t, []string{"staging"}, got[0].Values("X-Env"), "the call's value replaces the client's")
	assert.Equal(t, "t1", got[0].Get("X-Trace"))
	assert.Equal(t, "prod", got[1].Get("X-Env"), "the next call has the client's again")
	assert.Empty(t, got[1].Get("X-Trace"), "a call's header never leaks into another call")
	assert.Equal(t, "Bearer "+testToken, got[0].Get("Authorization"))
}

func TestCallOptions_RetryAndTimeoutPerCall(t *testing.T) {
	srv := newAttemptServer(t, statuses(503, 503, 503, 503, 503, 503))
	c := srv.client(t) // DefaultMaxRetries
	_, _, err := c.Agents.Get(context.Background(), "agt_1", WithMaxRetries(0))
	require.ErrorIs(t, err, ErrServer)
	assert.Equal(t, 1, srv.count(), "this call is not retried")
	_, _, err = c.Agents.Get(context.Background(), "agt_1", WithMaxRetries(1))
	require.ErrorIs(t, err, ErrServer)
	assert.Equal(t, 3, srv.count(), "this one once")
	_, _, err = c.Agents.Get(context.Background(), "agt_1")
	require.NoError(t, err, "the client's own 3 retries are untouched")
	assert.Equal(t, 3+4, srv.count(), "three 503s, then the 200")

	slow := newAttemptServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	})
	sc := slow.client(t, WithMaxRetries(0))
	start := time.Now()
	_, _, err = sc.Agents.Get(context.Background(), "agt_1", WithTimeout(30*time.Millisecond))
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), time.Second)
}

func TestCallOptions_RateLimitWaitAndMaxRetryWaitPerCall(t *testing.T) {
	srv := spentServer(t, 30*time.Second)
	c := srv.client(t)
	waits := sleeps(c)
	require.NoError(t, send(c))
	_, _, err := c.Agents.Get(context.Background(), "agt_1", WithRateLimitWait(false))
	var rle *RateLimitError
	require.ErrorAs(t, err, &rle, "this call fails fast")
	_, _, err = c.Agents.Get(context.Background(), "agt_1", WithMaxRetryWait(time.Second))
	require.ErrorAs(t, err, &rle, "this call accepts no 30 s wait")
	assert.Equal(t, 1, srv.count())
	assert.Empty(t, waits())
	_, _, err = c.Agents.Get(context.Background(), "agt_1")
	require.NoError(t, err, "the client waits, as configured")
	require.Len(t, waits(), 1)
	assert.InDelta(t, 30*time.Second, waits()[0], float64(2*time.Second))
}

func TestCallOptions_ConcurrentCallsDoNotShareOptions(t *testing.T) {
	// Three of each: the client's slices then have spare capacity (cap 4),
	// where a call appending its own would write over another call's.
	// The first waits until all 50 calls are under way, each with its own
	// options applied, before any goes on.
	const calls = 50
	var arrived sync.WaitGroup
	arrived.Add(calls)
	barrier := func(r *http.Request, next MiddlewareNext) (*http.Response, error) {
		arrived.Done()
		arrived.Wait()
		return next(r)
	}
	pass := func(r *http.Request, next MiddlewareNext) (*http.Response, error) { return next(r) }
	opts := []Option{WithHeader("X-Base", "1"), WithHeader("X-Base2", "2"), WithHeader("X-Base3", "3"),
		WithMiddleware(barrier), WithMiddleware(pass), WithMiddleware(pass), WithMaxRetries(0)}
	c, mt := setup(t, opts...)
	var mu sync.Mutex
	seen := map[string]string{}
	handle(mt, "GET", "agents/agt_1", 200, `{"id":"agt_1"}`, func(r *http.Request) {
		mu.Lock()
		seen[r.Header.Get("X-Call")] = r.Header.Get("X-Marked")
		mu.Unlock()
	})
	var wg sync.WaitGroup
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := string(rune('A'+i%26)) + string(rune('a'+i/26))
			mark := func(r *http.Request, next MiddlewareNext) (*http.Response, error) {
				r.Header.Set("X-Marked", id)
				return next(r)
			}
			_, _, err := c.Agents.Get(context.Background(), "agt_1", WithHeader("X-Call", id), WithMiddleware(mark))
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	require.Len(t, seen, calls)
	for call, marked := range seen {
		assert.Equal(t, call, marked, "each call ran its own middleware, and only its own")
	}
	assert.Len(t, c.cfg.middleware, 3, "the client's middleware is as it was")
	assert.Len(t, c.cfg.headers, 3)
}

func TestCallOptions_NilOptionsAreSkipped(t *testing.T) {
	c, mt := setup(t)
	handle(mt, "GET", "agents/agt_1", 200, `{"id":"agt_1"}`, nil)
	_, _, err := c.Agents.Get(context.Background(), "agt_1", nil)
	require.NoError(t, err)
}

func TestCallOptions_DoTakesThemAndLeavesTheRequestAlone(t *testing.T) {
	c, mt := setup(t)
	handle(mt, "POST", "agents/agt_1/message", 201, `{"id":"msg_1"}`, func(r *http.Request) {
		testHeader(t, r, "Idempotency-Key", "mine")
		testHeader(t, r, "X-Extra", "1")
	})
	req, err := c.NewRequest(context.Background(), "POST", "agents/agt_1/message", &SendMessageRequest{Content: "hi"})
	require.NoError(t, err)
	before := req.Header.Clone()
	_, err = c.Do(req, nil, WithIdempotencyKey("mine"), WithHeader("X-Extra", "1"))
	require.NoError(t, err)
	assert.Equal(t, before, req.Header, "the caller's request is unchanged")
	assert.Equal(t, 1, mt.GetTotalCallCount())
}

func TestCallOptions_ErrorsMatchErrInvalidArgumentInNewClientToo(t *testing.T) {
	_, err := NewClient(testToken, WithTimeout(0))
	assert.ErrorIs(t, err, ErrInvalidArgument)
	assert.ErrorContains(t, err, "NewClient: WithTimeout")
	assert.False(t, errors.Is(err, ErrNotFound))
}

func TestValidHeader_Boundaries(t *testing.T) {
	for key, ok := range map[string]bool{
		"X-Trace": true, "!#$%&'*+-.^_`|~": true, "x\x21": true, "x~": true,
		"": false, "X Trace": false, "X\x7fTrace": false, "X\x1fT": false, "X:T": false, "X(T)": false, "X\xc3\xa9": false,
	} {
		assert.Equal(t, ok, validHeader(key, "v"), "key %q", key)
	}
	for value, ok := range map[string]bool{
		"": true, "a b": true, "tab\there": true, "~": true, "caf\xc3\xa9": true,
		"a\r\nb": false, "a\x00": false, "a\x7f": false, "a\x1f": false,
	} {
		assert.Equal(t, ok, validHeader("X-K", value), "value %q", value)
	}
}

func TestValidateIdempotencyKey_Boundaries(t *testing.T) {
	for key, ok := range map[string]bool{
		strings.Repeat("k", 255): true, strings.Repeat("k", 256): false,
		"!": true, "~": true, "order-42": true,
		"a b": false, "a\x7f": false, "a\x1f": false, "caf\xc3\xa9": false,
	} {
		err := validateIdempotencyKey(key)
		if ok {
			assert.NoError(t, err, "key %q", key)
		} else {
			assert.ErrorIs(t, err, ErrInvalidArgument, "key %q", key)
		}
	}
}
