package botonom

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type ctxKey struct{}

// traceLog is a CallTrace that records what it is told.
type traceLog struct {
	mu      sync.Mutex
	starts  []Call
	waits   []Wait
	results []CallResult
	ctxOK   []bool // each hook saw the context Start returned
}

func (l *traceLog) trace() *CallTrace {
	check := func(ctx context.Context) {
		l.ctxOK = append(l.ctxOK, ctx.Value(ctxKey{}) == "span")
	}
	return &CallTrace{
		Start: func(ctx context.Context, call Call) context.Context {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.starts = append(l.starts, call)
			return context.WithValue(ctx, ctxKey{}, "span")
		},
		Wait: func(ctx context.Context, call Call, w Wait) {
			l.mu.Lock()
			defer l.mu.Unlock()
			check(ctx)
			l.waits = append(l.waits, w)
		},
		End: func(ctx context.Context, call Call, r CallResult) {
			l.mu.Lock()
			defer l.mu.Unlock()
			check(ctx)
			l.results = append(l.results, r)
		},
	}
}

func TestCallTrace_StartWaitsEndAndTheContextReachesEveryAttempt(t *testing.T) {
	srv := newAttemptServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch n {
		case 0:
			writeStatus(w, 503)
		case 1:
			answer429(w, "Retry-After", "2")
		default:
			writeStatus(w, 201)
		}
	})
	var l traceLog
	var attemptCtx []bool
	mw := func(req *http.Request, next MiddlewareNext) (*http.Response, error) {
		attemptCtx = append(attemptCtx, req.Context().Value(ctxKey{}) == "span")
		return next(req)
	}
	c := srv.client(t, WithCallTrace(l.trace()), WithMiddleware(mw))
	sleeps(c)
	msg, _, err := c.Agents.SendMessage(context.Background(), "agt_1", &SendMessageRequest{Content: "hi"})
	require.NoError(t, err)

	assert.Equal(t, []Call{{Operation: "agents.send_message", Method: "POST", Route: "/agents/{id}/message"}}, l.starts)
	assert.Equal(t, []bool{true, true, true}, attemptCtx, "every attempt carries the call's context")
	require.Len(t, l.waits, 2)
	assert.Equal(t, WaitBackoff, l.waits[0].Reason)
	assert.Equal(t, 1, l.waits[0].Attempt)
	assert.ErrorIs(t, l.waits[0].Cause, ErrServer)
	assert.Equal(t, Wait{Reason: WaitRetryAfter, Duration: 2 * time.Second, Attempt: 2, Cause: l.waits[1].Cause}, l.waits[1])
	assert.ErrorIs(t, l.waits[1].Cause, ErrRateLimited)
	require.Len(t, l.results, 1)
	r := l.results[0]
	assert.NoError(t, r.Err)
	assert.Equal(t, 3, r.Attempts)
	assert.Equal(t, 201, r.Response.StatusCode)
	assert.Equal(t, l.waits[0].Duration+2*time.Second, r.Waited)
	assert.Equal(t, "msg_1", msg.ID)
	assert.NotContains(t, l.ctxOK, false)
}

func TestCallTrace_EndSeesTheErrorAndHoldAndLimiterWaits(t *testing.T) {
	srv := spentServer(t, 20*time.Second)
	var l traceLog
	c := srv.client(t, WithLimiter(&countingLimiter{}))
	sleeps(c)
	require.NoError(t, send(c)) // the answer spends the limit
	_, _, err := c.Agents.Get(context.Background(), "agt_1", WithCallTrace(l.trace()))
	require.NoError(t, err)
	require.Len(t, l.waits, 2)
	assert.Equal(t, WaitRateLimitHold, l.waits[0].Reason)
	assert.InDelta(t, 20*time.Second, l.waits[0].Duration, float64(2*time.Second))
	assert.Equal(t, WaitLimiter, l.waits[1].Reason)

	l = traceLog{}
	boom := errors.New("closed")
	c2 := srv.client(t, WithLimiter(&countingLimiter{err: boom}), WithCallTrace(l.trace()))
	_, _, err = c2.Agents.Get(context.Background(), "agt_1")
	require.ErrorIs(t, err, boom)
	require.Len(t, l.results, 1)
	assert.ErrorIs(t, l.results[0].Err, boom)
	assert.Zero(t, l.results[0].Attempts)
	assert.Nil(t, l.results[0].Response)
}

func TestCallTrace_PerCallOnlyWatchesThatCall(t *testing.T) {
	srv := newAttemptServer(t, statuses())
	var client, call traceLog
	c := srv.client(t, WithCallTrace(client.trace()))
	_, _, err := c.Agents.Get(context.Background(), "agt_1", WithCallTrace(call.trace()))
	require.NoError(t, err)
	_, _, err = c.Agents.Get(context.Background(), "agt_2")
	require.NoError(t, err)
	assert.Len(t, client.starts, 2)
	assert.Len(t, call.starts, 1)
	req, err := c.NewRequest(context.Background(), "GET", "agents/agt_3", nil)
	require.NoError(t, err)
	_, err = c.Do(req, nil)
	require.NoError(t, err)
	assert.Equal(t, Call{Operation: "do", Method: "GET"}, client.starts[2])
}

func TestCallFromContext_OutsideACall(t *testing.T) {
	_, ok := CallFromContext(context.Background())
	assert.False(t, ok)
	var none context.Context // nil, as a careless caller might pass
	_, ok = CallFromContext(none)
	assert.False(t, ok)
}

func TestCallTrace_NilHooksAndNilTraceRefused(t *testing.T) {
	srv := newAttemptServer(t, statuses(503))
	_, _, err := srv.client(t, WithCallTrace(&CallTrace{})).Agents.Get(context.Background(), "agt_1")
	require.NoError(t, err)
	_, err = NewClient(testToken, WithCallTrace(nil))
	assert.ErrorIs(t, err, ErrInvalidArgument)
}
