package botonom

import (
	"context"
	"errors"
	"time"
)

// Call names one call of the client — one method call such as
// Agents.SendMessage, or one Client.Do — as a CallTrace and middleware see
// it. A call is made of one or more attempts (requests sent).
type Call struct {
	// Operation names the SDK method, as "service.method" in snake case:
	// "agents.send_message", "webhooks.register"; "do" for Client.Do.
	Operation string
	// Method is the HTTP method.
	Method string
	// Route is the path template under the API's base URL, such as
	// "/agents/{id}/message"; empty for Client.Do, which has none.
	Route string
}

// CallFromContext returns the call that ctx belongs to: in a Middleware,
// the call of the attempt in req.Context(). ok is false for a context that
// belongs to no call of this package.
func CallFromContext(ctx context.Context) (call Call, ok bool) {
	if ctx == nil {
		return Call{}, false
	}
	info := callInfoFrom(ctx)
	if info == nil {
		return Call{}, false
	}
	return info.call, true
}

// WaitReason says why a call waited.
type WaitReason string

// The reasons a call waits. Only the Limiter's wait comes before every
// attempt; the others are decided by the client's retry policy.
const (
	// WaitRateLimitHold: before the first attempt, because the last answer
	// said the rate limit is spent (see WithRateLimitWait).
	WaitRateLimitHold WaitReason = "rate_limit_hold"
	// WaitLimiter: before an attempt, in the Limiter (see WithLimiter).
	WaitLimiter WaitReason = "limiter"
	// WaitRetryAfter: before a retry, as the answer's Retry-After asked.
	WaitRetryAfter WaitReason = "retry_after"
	// WaitRateLimitReset: before a retry after a 429 that spent the limit
	// and gave no Retry-After, until X-RateLimit-Reset.
	WaitRateLimitReset WaitReason = "rate_limit_reset"
	// WaitBackoff: before a retry, exponential backoff with full jitter.
	WaitBackoff WaitReason = "backoff"
)

// Wait is one wait of a call.
type Wait struct {
	Reason WaitReason
	// Duration is how long the wait is planned to last; for WaitLimiter,
	// how long the Limiter took. A wait ends early if the context does.
	Duration time.Duration
	// Attempt is the attempt the wait comes before: 0 is the first, 1 the
	// first retry.
	Attempt int
	// Cause is, for a wait before a retry, the outcome of the attempt
	// that is retried: an *APIError (or *RateLimitError) or the transport
	// error. Nil for the other waits.
	Cause error
}

// CallResult is how a call ended.
type CallResult struct {
	// Response is the last answer; nil if none came.
	Response *Response
	// Err is the error the method returned; nil on success.
	Err error
	// Attempts is the number of requests sent.
	Attempts int
	// Waited is the sum of the call's waits (their planned durations).
	Waited time.Duration
}

// CallTrace watches the life of each call, for metrics and tracing: where
// Middleware sees each attempt, a CallTrace sees the call around them, its
// waits and its result. Any hook may be nil. Hooks run on the calling
// goroutine, synchronously: keep them short.
//
// Given to NewClient (WithCallTrace), it watches every call; given to one
// method call, that call only. Several CallTraces run in the order given,
// the client's first.
type CallTrace struct {
	// Start is called when a call begins, before any wait or attempt. The
	// context it returns (nil: ctx unchanged) becomes the call's context:
	// every attempt's request carries it, so a span started here is the
	// parent of what Middleware does with each attempt.
	Start func(ctx context.Context, call Call) context.Context
	// Wait is called when the call is about to wait (for WaitLimiter,
	// when the Limiter has returned).
	Wait func(ctx context.Context, call Call, w Wait)
	// End is called once, when the call returns.
	End func(ctx context.Context, call Call, result CallResult)
}

// WithCallTrace adds t to watch calls: every call when given to NewClient,
// one call when given to one method call. A nil t is refused.
func WithCallTrace(t *CallTrace) Option {
	return func(c *config) error {
		if t == nil {
			return errors.New("WithCallTrace: nil *CallTrace")
		}
		c.traces = append(c.traces, t)
		return nil
	}
}

// traceStart begins the call for every CallTrace, giving each Start the
// context the previous one returned.
func (info *callInfo) traceStart() {
	for _, t := range info.cfg.traces {
		if t.Start != nil {
			if ctx := t.Start(info.Context, info.call); ctx != nil {
				info.Context = ctx
			}
		}
	}
}

// traceWait reports a wait to every CallTrace, and adds it to the call's
// total.
func (info *callInfo) traceWait(w Wait) {
	if len(info.cfg.traces) == 0 {
		return
	}
	info.waited += w.Duration
	for _, t := range info.cfg.traces {
		if t.Wait != nil {
			t.Wait(info.Context, info.call, w)
		}
	}
}

// traceEnd reports the call's result to every CallTrace.
func (info *callInfo) traceEnd(resp *Response, err error) {
	result := CallResult{Response: resp, Err: err, Attempts: info.sent, Waited: info.waited}
	for _, t := range info.cfg.traces {
		if t.End != nil {
			t.End(info.Context, info.call, result)
		}
	}
}
