package otelbotonom

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/botonom/botonom-go"
)

// The SDK's own attributes.
const (
	// keyOperation is the SDK operation of a call: "agents.send_message".
	keyOperation = attribute.Key("botonom.operation")
	// keyOutcome is how a call ended: "success" or "error".
	keyOutcome = attribute.Key("botonom.outcome")
	// keyRequestID is the X-Request-Id of an answer.
	keyRequestID = attribute.Key("botonom.request_id")
	// keyAttempts is how many requests a call sent.
	keyAttempts = attribute.Key("botonom.attempts")
	// keyWaited is the sum of a call's waits, in seconds.
	keyWaited = attribute.Key("botonom.waited")
	// keyWaitReason is why a call waited: a botonom.WaitReason.
	keyWaitReason = attribute.Key("botonom.wait.reason")
	// keyWaitDuration is how long a wait lasts, in seconds.
	keyWaitDuration = attribute.Key("botonom.wait.duration")
	// keyWaitAttempt is the attempt a wait comes before: 0 the first, 1
	// the first retry.
	keyWaitAttempt = attribute.Key("botonom.wait.attempt")
)

// The call's outcomes (keyOutcome).
const (
	outcomeSuccess = "success"
	outcomeError   = "error"
)

// Header names, in canonical form.
const (
	headerRequestID     = "X-Request-Id"
	headerRetryCount    = "X-Botonom-Retry-Count"
	headerRateRemaining = "X-Ratelimit-Remaining"
)

// durationBuckets are the semantic conventions' buckets for
// http.client.request.duration, in seconds.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// waitBuckets are the buckets of botonom.client.wait.duration, in seconds:
// from a backoff's milliseconds to a rate-limit window's minute (the
// longest wait the client sleeps by default, botonom.DefaultMaxRetryWait).
var waitBuckets = []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60}

// clientInstrumentation is what Instrument made: the tracer, the
// instruments, and the attributes of each call and route, built once and
// reused so that a call with no-op providers allocates next to nothing.
type clientInstrumentation struct {
	tracer      trace.Tracer
	propagators propagation.TextMapPropagator

	duration  metric.Float64Histogram // http.client.request.duration
	calls     metric.Int64Counter
	retries   metric.Int64Counter
	waits     metric.Float64Histogram
	remaining metric.Int64Gauge

	callAttrs     cache[botonom.Call, *callAttrs]
	attemptAttrs  cache[attemptKey, *attemptAttrs]
	durationAttrs cache[durationKey, []metric.RecordOption]
	outcomeAttrs  cache[outcomeKey, []metric.AddOption]
}

func newClientInstrumentation(c *config) (*clientInstrumentation, error) {
	in := &clientInstrumentation{tracer: c.tracer(), propagators: c.propagators}
	m := c.meter()
	var err error
	if in.duration, err = m.Float64Histogram("http.client.request.duration",
		metric.WithUnit("s"),
		metric.WithDescription("Duration of HTTP client requests."),
		metric.WithExplicitBucketBoundaries(durationBuckets...)); err != nil {
		return nil, err
	}
	if in.calls, err = m.Int64Counter("botonom.client.calls",
		metric.WithUnit("{call}"),
		metric.WithDescription("Calls of the Botonom SDK, by operation and outcome.")); err != nil {
		return nil, err
	}
	if in.retries, err = m.Int64Counter("botonom.client.retries",
		metric.WithUnit("{retry}"),
		metric.WithDescription("Retries of Botonom SDK calls, by operation, reason and the error retried.")); err != nil {
		return nil, err
	}
	if in.waits, err = m.Float64Histogram("botonom.client.wait.duration",
		metric.WithUnit("s"),
		metric.WithDescription("Waits of Botonom SDK calls (backoff, Retry-After, rate-limit holds, the Limiter), by reason."),
		metric.WithExplicitBucketBoundaries(waitBuckets...)); err != nil {
		return nil, err
	}
	if in.remaining, err = m.Int64Gauge("botonom.client.rate_limit.remaining",
		metric.WithUnit("{request}"),
		metric.WithDescription("The latest X-RateLimit-Remaining of the Botonom API: requests left in the window.")); err != nil {
		return nil, err
	}
	return in, nil
}

// callTrace is the botonom.CallTrace that draws each call's span.
func (in *clientInstrumentation) callTrace() *botonom.CallTrace {
	return &botonom.CallTrace{Start: in.startCall, Wait: in.wait, End: in.endCall}
}

// callAttrs is what every span of one operation starts with.
type callAttrs struct {
	name  string // "botonom agents.send_message"
	start []trace.SpanStartOption
}

func newCallAttrs(call botonom.Call) *callAttrs {
	attrs := []attribute.KeyValue{keyOperation.String(call.Operation), methodAttr(call.Method)}
	if call.Route != "" {
		attrs = append(attrs, semconv.URLTemplate(call.Route))
	}
	return &callAttrs{
		name:  "botonom " + call.Operation,
		start: []trace.SpanStartOption{trace.WithAttributes(attrs...)},
	}
}

func (in *clientInstrumentation) startCall(ctx context.Context, call botonom.Call) context.Context {
	a := in.callAttrs.get(call, newCallAttrs)
	ctx, span := in.tracer.Start(ctx, a.name, a.start...)
	return withOwnSpan(ctx, in, span)
}

// wait adds the wait as an event of the call's span, and counts it.
func (in *clientInstrumentation) wait(ctx context.Context, call botonom.Call, w botonom.Wait) {
	errType := ""
	if w.Cause != nil {
		errType = errorType(w.Cause)
	}
	if span := ownSpan(ctx, in); span.IsRecording() {
		attrs := []attribute.KeyValue{
			keyWaitReason.String(string(w.Reason)),
			keyWaitDuration.Float64(w.Duration.Seconds()),
			keyWaitAttempt.Int(w.Attempt),
		}
		if errType != "" {
			attrs = append(attrs, semconv.ErrorTypeKey.String(errType))
		}
		opts := []trace.EventOption{trace.WithAttributes(attrs...)}
		if w.Reason == botonom.WaitLimiter {
			// Reported when the Limiter returned: the wait began earlier.
			opts = append(opts, trace.WithTimestamp(time.Now().Add(-w.Duration)))
		}
		span.AddEvent("botonom.wait", opts...)
	}
	op, reason := keyOperation.String(call.Operation), keyWaitReason.String(string(w.Reason))
	in.waits.Record(ctx, w.Duration.Seconds(), metric.WithAttributes(op, reason))
	switch w.Reason {
	case botonom.WaitBackoff, botonom.WaitRetryAfter, botonom.WaitRateLimitReset:
		attrs := []attribute.KeyValue{op, reason}
		if errType != "" {
			attrs = append(attrs, semconv.ErrorTypeKey.String(errType))
		}
		in.retries.Add(ctx, 1, metric.WithAttributes(attrs...))
	}
}

// outcomeKey is the attributes of botonom.client.calls.
type outcomeKey struct {
	operation string
	errType   string // "" on success
}

func newOutcomeAttrs(k outcomeKey) []metric.AddOption {
	attrs := []attribute.KeyValue{keyOperation.String(k.operation), keyOutcome.String(outcomeSuccess)}
	if k.errType != "" {
		attrs = append(attrs[:1], keyOutcome.String(outcomeError), semconv.ErrorTypeKey.String(k.errType))
	}
	return []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attrs...))}
}

func (in *clientInstrumentation) endCall(ctx context.Context, call botonom.Call, r botonom.CallResult) {
	errType := ""
	if r.Err != nil {
		errType = errorType(r.Err)
	}
	span := endOwnSpan(ctx, in)
	if span.IsRecording() {
		span.SetAttributes(keyAttempts.Int(r.Attempts))
		if r.Waited > 0 {
			span.SetAttributes(keyWaited.Float64(r.Waited.Seconds()))
		}
		if r.Response != nil {
			span.SetAttributes(semconv.HTTPResponseStatusCode(r.Response.StatusCode))
			if r.Response.RequestID != "" {
				span.SetAttributes(keyRequestID.String(r.Response.RequestID))
			}
		}
		if r.Err != nil {
			span.SetAttributes(semconv.ErrorTypeKey.String(errType))
			span.SetStatus(codes.Error, r.Err.Error())
		}
	}
	span.End()
	in.calls.Add(ctx, 1, in.outcomeAttrs.get(outcomeKey{call.Operation, errType}, newOutcomeAttrs)...)
}

// attemptKey is what the attributes of an attempt's span depend on.
type attemptKey struct {
	call botonom.Call
	host string
	port int
}

// attemptAttrs is what every attempt of one route to one server starts
// with.
type attemptAttrs struct {
	name  string // "POST /agents/{id}/message"
	start []trace.SpanStartOption
	attrs []attribute.KeyValue  // for http.client.request.duration
	gauge []metric.RecordOption // for botonom.client.rate_limit.remaining
}

func newAttemptAttrs(k attemptKey) *attemptAttrs {
	name := k.call.Method
	attrs := []attribute.KeyValue{methodAttr(k.call.Method)}
	if k.call.Route != "" {
		name += " " + k.call.Route
		attrs = append(attrs, semconv.URLTemplate(k.call.Route))
	}
	attrs = append(attrs, semconv.ServerAddress(k.host), semconv.ServerPort(k.port))
	span := attrs
	if methodAttr(k.call.Method) == semconv.HTTPRequestMethodOther {
		span = append(span[:len(span):len(span)], semconv.HTTPRequestMethodOriginal(k.call.Method))
	}
	return &attemptAttrs{
		name:  name,
		start: []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(span...)},
		attrs: attrs,
		gauge: []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(semconv.ServerAddress(k.host), semconv.ServerPort(k.port)))},
	}
}

// durationKey is the attributes of http.client.request.duration.
type durationKey struct {
	attempt *attemptAttrs
	status  int    // 0 when no answer came
	errType string // of the transport error, when no answer came
}

func newDurationAttrs(k durationKey) []metric.RecordOption {
	attrs := append([]attribute.KeyValue(nil), k.attempt.attrs...)
	if k.status != 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(k.status))
	}
	if k.errType != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(k.errType))
	} else if k.status >= 400 {
		attrs = append(attrs, semconv.ErrorTypeKey.String(strconv.Itoa(k.status)))
	}
	return []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(attrs...))}
}

// middleware draws each attempt's CLIENT span, injects its context into
// the request headers, and records the attempt's duration and the rate
// limit's headroom.
func (in *clientInstrumentation) middleware(req *http.Request, next botonom.MiddlewareNext) (*http.Response, error) {
	call, ok := botonom.CallFromContext(req.Context())
	if !ok {
		call = botonom.Call{Method: req.Method}
	}
	host, port := hostPort(req.URL)
	a := in.attemptAttrs.get(attemptKey{call, host, port}, newAttemptAttrs)

	start := time.Now()
	ctx, span := in.tracer.Start(req.Context(), a.name, a.start...)
	if span.IsRecording() {
		span.SetAttributes(semconv.URLFull(redactedURL(req.URL)))
		if n, err := strconv.Atoi(req.Header.Get(headerRetryCount)); err == nil && n > 0 {
			span.SetAttributes(semconv.HTTPRequestResendCount(n))
		}
		// So that what sends the request (an otelhttp transport, say)
		// sees the attempt's span as its parent.
		req = req.WithContext(ctx)
	}
	in.propagators.Inject(ctx, propagation.HeaderCarrier(req.Header))

	returned := false
	defer func() {
		if !returned { // what sends it on panicked: the span ends, the panic goes on
			span.SetStatus(codes.Error, "panic")
			span.End()
		}
	}()
	resp, err := next(req)
	returned = true

	elapsed := time.Since(start)
	k := durationKey{attempt: a}
	if err != nil {
		k.errType = errorType(err)
	} else {
		k.status = resp.StatusCode
	}
	if span.IsRecording() {
		endAttempt(span, req, resp, err, k.errType)
	}
	span.End()
	in.duration.Record(ctx, elapsed.Seconds(), in.durationAttrs.get(k, newDurationAttrs)...)
	if resp != nil {
		if v := resp.Header[headerRateRemaining]; len(v) > 0 {
			if n, err := strconv.ParseInt(v[0], 10, 64); err == nil && n >= 0 {
				in.remaining.Record(ctx, n, a.gauge...)
			}
		}
	}
	return resp, err
}

// endAttempt sets what the answer to req (or error) tells on an attempt's
// span.
func endAttempt(span trace.Span, req *http.Request, resp *http.Response, err error, errType string) {
	if err != nil {
		span.SetAttributes(semconv.ErrorTypeKey.String(errType))
		span.SetStatus(codes.Error, err.Error())
		return
	}
	span.SetAttributes(semconv.HTTPResponseStatusCode(resp.StatusCode))
	if v := resp.Header[headerRequestID]; len(v) > 0 && v[0] != "" && !showsToken(v[0], req) {
		span.SetAttributes(keyRequestID.String(v[0]))
	}
	if resp.StatusCode >= 400 {
		span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(resp.StatusCode)))
		span.SetStatus(codes.Error, "")
	}
}

// showsToken reports whether s holds 8 characters in a row of req's
// bearer token: a server that echoes the token back (in X-Request-Id,
// say), whose text no span takes.
func showsToken(s string, req *http.Request) bool {
	scheme, token, _ := strings.Cut(req.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	token = strings.TrimSpace(token)
	for i := 0; i+8 <= len(token); i++ {
		if strings.Contains(s, token[i:i+8]) {
			return true
		}
	}
	return false
}

// hostPort is the server.address and server.port of u: its host, and its
// port or the scheme's default.
func hostPort(u *url.URL) (string, int) {
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err == nil {
			return u.Hostname(), n
		}
	}
	if u.Scheme == "http" {
		return u.Hostname(), 80
	}
	return u.Hostname(), 443
}

// redactedURL is u as url.full: without user and password, should the
// base URL carry any.
func redactedURL(u *url.URL) string {
	if u.User == nil {
		return u.String()
	}
	r := *u
	r.User = url.UserPassword("REDACTED", "REDACTED")
	return r.String()
}

// methodAttr is http.request.method: the method, or "_OTHER" for one the
// semantic conventions do not know.
func methodAttr(m string) attribute.KeyValue {
	switch m {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch,
		http.MethodHead, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return semconv.HTTPRequestMethodKey.String(m)
	}
	return semconv.HTTPRequestMethodOther
}
