package botonom

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorder returns a middleware that appends "name>" before and "<name"
// after the attempt to *log.
func recorder(name string, mu *sync.Mutex, log *[]string) Middleware {
	return func(req *http.Request, next MiddlewareNext) (*http.Response, error) {
		mu.Lock()
		*log = append(*log, name+">"+req.Header.Get(headerRetryCount))
		mu.Unlock()
		resp, err := next(req)
		mu.Lock()
		*log = append(*log, "<"+name)
		mu.Unlock()
		return resp, err
	}
}

func TestMiddleware_AroundEveryAttemptOutermostFirstClientBeforeCall(t *testing.T) {
	srv := newAttemptServer(t, statuses(503))
	var mu sync.Mutex
	var log []string
	c := srv.client(t, WithMiddleware(recorder("c1", &mu, &log)), WithMiddleware(recorder("c2", &mu, &log)))
	_, _, err := c.Agents.Get(context.Background(), "agt_1", WithMiddleware(recorder("call", &mu, &log)))
	require.NoError(t, err)
	assert.Equal(t, []string{
		"c1>0", "c2>0", "call>0", "<call", "<c2", "<c1",
		"c1>1", "c2>1", "call>1", "<call", "<c2", "<c1",
	}, log, "each attempt, X-Botonom-Retry-Count set, client middleware outermost")
}

func TestMiddleware_SeesTheRawAnswerAndMayChangeTheRequest(t *testing.T) {
	srv := newAttemptServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("X-Seen", r.Header.Get("X-Added"))
		writeStatus(w, 404)
	})
	var status int
	var call Call
	mw := func(req *http.Request, next MiddlewareNext) (*http.Response, error) {
		call, _ = CallFromContext(req.Context())
		req.Header.Set("X-Added", "yes")
		resp, err := next(req)
		if err == nil {
			status = resp.StatusCode
		}
		return resp, err
	}
	_, resp, err := srv.client(t, WithMiddleware(mw)).Agents.Get(context.Background(), "agt_1")
	require.ErrorIs(t, err, ErrNotFound)
	assert.Equal(t, 404, status)
	assert.Equal(t, "yes", resp.Header.Get("X-Seen"))
	assert.Equal(t, Call{Operation: "agents.get", Method: "GET", Route: "/agents/{id}"}, call)
}

func TestMiddleware_CanAnswerWithoutSending(t *testing.T) {
	srv := newAttemptServer(t, statuses())
	cached := func(req *http.Request, next MiddlewareNext) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(`{"id":"agt_cached"}`)), Request: req}, nil
	}
	agent, _, err := srv.client(t).Agents.Get(context.Background(), "agt_1", WithMiddleware(cached))
	require.NoError(t, err)
	assert.Equal(t, "agt_cached", agent.ID)
	assert.Zero(t, srv.count())
}

func TestMiddleware_ErrorIsATransportErrorUnderTheSameRules(t *testing.T) {
	srv := newAttemptServer(t, statuses())
	var n int
	flaky := func(req *http.Request, next MiddlewareNext) (*http.Response, error) {
		n++
		if n == 1 {
			return nil, errors.New("middleware hiccup")
		}
		return next(req)
	}
	_, _, err := srv.client(t, WithMiddleware(flaky)).Agents.Get(context.Background(), "agt_1")
	require.NoError(t, err, "a GET is retried after a transport error")
	assert.Equal(t, 2, n)

	n = 0
	c := srv.client(t, WithMiddleware(flaky))
	req, err := c.NewRequest(context.Background(), "POST", "agents/agt_1/message", &SendMessageRequest{Content: "hi"})
	require.NoError(t, err)
	req.Header.Del("Idempotency-Key")
	_, err = c.Do(req, nil)
	require.ErrorContains(t, err, "middleware hiccup", "a POST without a key is not")
	assert.Equal(t, 1, n)
}

func TestAttempts_CountsRequestsActuallySent(t *testing.T) {
	srv := newAttemptServer(t, statuses(503, 503, 503, 503))
	lim := &countingLimiter{}
	var refuse bool
	mw := func(req *http.Request, next MiddlewareNext) (*http.Response, error) {
		if refuse {
			return nil, &stopError{errors.New("refused")}
		}
		return next(req)
	}
	err := send(srv.client(t, WithLimiter(lim), WithMiddleware(mw)))
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, srv.count(), apiErr.Attempts)
	assert.Equal(t, 4, apiErr.Attempts)

	refuse = true
	err = send(srv.client(t, WithMiddleware(mw)))
	require.ErrorContains(t, err, "refused")
	assert.Equal(t, 4, srv.count(), "nothing more was sent")
}

func BenchmarkMiddlewareOverhead(b *testing.B) {
	pass := func(req *http.Request, next MiddlewareNext) (*http.Response, error) { return next(req) }
	for _, bc := range []struct {
		name string
		opts []Option
	}{
		{"none", nil},
		{"one", []Option{WithMiddleware(pass)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c, err := NewClient(testToken, append([]Option{WithBaseURL(testBaseURL),
				WithHTTPClient(&http.Client{Transport: newBenchMemTransport(200, []byte(`{"id":"agt_1"}`))})}, bc.opts...)...)
			require.NoError(b, err)
			b.ReportAllocs()
			for range b.N {
				if _, _, err := c.Agents.Get(context.Background(), "agt_1"); err != nil {
					b.Fatal(fmt.Sprint(err))
				}
			}
		})
	}
}
