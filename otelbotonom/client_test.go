package otelbotonom_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/botonomtest"
	"github.com/botonom/botonom-go/otelbotonom"
)

var sendHi = &botonom.SendMessageRequest{Content: "hi"}

// A call retried through two 503s is one span named for the operation,
// child of the caller's span, with its three attempts as CLIENT spans
// inside, each with the attributes of the HTTP semantic conventions.
func TestInstrument_SpanTree(t *testing.T) {
	tel := newTelemetry(t)
	srv := botonomtest.NewServer(t)
	client := srv.Client(tel.instrument())
	srv.FailNext(2, http.StatusServiceUnavailable)

	ctx, parent := tel.tp.Tracer("test").Start(context.Background(), "caller")
	_, resp, err := client.Agents.SendMessage(ctx, botonomtest.SampleAgentID, sendHi)
	parent.End()
	if err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	reqs := srv.Requests()
	if len(reqs) != 3 {
		t.Fatalf("server got %d requests, want 3", len(reqs))
	}

	spans := tel.ended()
	calls := byName(spans, "botonom agents.send_message")
	if len(calls) != 1 {
		t.Fatalf("%d call spans, want 1 (spans: %v)", len(calls), spanNames(spans))
	}
	call := calls[0]
	if call.Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Errorf("call span's parent %s, want the caller's span %s", call.Parent().SpanID(), parent.SpanContext().SpanID())
	}
	if call.SpanKind() != trace.SpanKindInternal {
		t.Errorf("call span kind %s, want internal", call.SpanKind())
	}
	if call.Status().Code != codes.Unset {
		t.Errorf("call span status %v, want unset", call.Status())
	}
	wantAttrs(t, "call span", attrs(call.Attributes()), map[string]string{
		"botonom.operation":         "agents.send_message",
		"http.request.method":       "POST",
		"url.template":              "/agents/{id}/message",
		"botonom.attempts":          "3",
		"http.response.status_code": "201",
		"botonom.request_id":        resp.RequestID,
	}, "error.type")

	attempts := byName(spans, "POST /agents/{id}/message")
	if len(attempts) != 3 {
		t.Fatalf("%d attempt spans, want 3 (spans: %v)", len(attempts), spanNames(spans))
	}
	host, port := serverHostPort(t, srv.URL())
	for i, a := range attempts {
		what := "attempt " + itoa(i)
		if a.Parent().SpanID() != call.SpanContext().SpanID() || a.SpanContext().TraceID() != call.SpanContext().TraceID() {
			t.Errorf("%s: parent %s, want the call span %s", what, a.Parent().SpanID(), call.SpanContext().SpanID())
		}
		if a.SpanKind() != trace.SpanKindClient {
			t.Errorf("%s: kind %s, want client", what, a.SpanKind())
		}
		want := map[string]string{
			"http.request.method":       "POST",
			"url.template":              "/agents/{id}/message",
			"url.full":                  srv.URL() + "agents/" + botonomtest.SampleAgentID + "/message",
			"server.address":            host,
			"server.port":               port,
			"http.response.status_code": strconv.Itoa(reqs[i].Status),
			"botonom.request_id":        reqs[i].RequestID,
		}
		var absent []string
		if i == 0 {
			absent = append(absent, "http.request.resend_count") // set on retries only
		} else {
			want["http.request.resend_count"] = itoa(i)
		}
		if i < 2 {
			want["error.type"] = "503"
			if a.Status().Code != codes.Error {
				t.Errorf("%s: status %v, want error", what, a.Status())
			}
		} else {
			absent = append(absent, "error.type")
			if a.Status().Code != codes.Unset {
				t.Errorf("%s: status %v, want unset", what, a.Status())
			}
		}
		wantAttrs(t, what, attrs(a.Attributes()), want, absent...)
	}
}

func spanNames(spans []sdktrace.ReadOnlySpan) []string {
	names := make([]string, len(spans))
	for i, s := range spans {
		names[i] = s.Name()
	}
	return names
}

// Every attempt carries a traceparent with the call's trace ID and its own
// span as the parent, so the API's side of each attempt joins the trace.
func TestInstrument_TraceparentOnEveryAttempt(t *testing.T) {
	tel := newTelemetry(t)
	srv := botonomtest.NewServer(t)
	client := srv.Client(tel.instrument())
	srv.FailNext(3, http.StatusBadGateway)

	if _, _, err := client.Agents.Get(context.Background(), botonomtest.SampleAgentID); err != nil {
		t.Fatalf("Get: %v", err)
	}
	spans := tel.ended()
	call := byName(spans, "botonom agents.get")
	attempts := byName(spans, "GET /agents/{id}")
	reqs := srv.Requests()
	if len(call) != 1 || len(attempts) != 4 || len(reqs) != 4 {
		t.Fatalf("%d call spans, %d attempt spans, %d requests; want 1, 4, 4", len(call), len(attempts), len(reqs))
	}
	for i, r := range reqs {
		h := r.Header.Get("Traceparent")
		if h == "" {
			t.Fatalf("request %d has no traceparent", i)
		}
		traceID, parentID := parseTraceparent(t, h)
		if traceID != call[0].SpanContext().TraceID() {
			t.Errorf("request %d: trace %s, want the call's %s", i, traceID, call[0].SpanContext().TraceID())
		}
		if parentID != attempts[i].SpanContext().SpanID() {
			t.Errorf("request %d: parent span %s, want its attempt's %s", i, parentID, attempts[i].SpanContext().SpanID())
		}
	}
}

// scriptedAPI answers each request with the next of answers (the last one
// repeats).
func scriptedAPI(t *testing.T, answers ...func(w http.ResponseWriter)) *httptest.Server {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1))
		a := answers[min(i, len(answers))-1]
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", "req_"+itoa(i))
		a(w)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func answer(status int, body string, headers ...string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

const agentJSON = `{"id":"agt_abc123","name":"Reservations","status":"online","skills":[],"created_at":"2026-01-05T09:00:00Z","updated_at":"2026-02-18T14:30:00Z"}`

// nopLimiter lets every attempt through at once.
type nopLimiter struct{}

func (nopLimiter) Wait(context.Context) error { return nil }

// Every wait is an event of the call's span, with its reason, duration,
// the attempt it comes before and the error.type of the attempt retried.
func TestInstrument_WaitsAreSpanEvents(t *testing.T) {
	tel := newTelemetry(t)
	date := time.Now().UTC().Truncate(time.Second)
	srv := scriptedAPI(t,
		answer(http.StatusServiceUnavailable, `{}`),
		answer(http.StatusTooManyRequests, `{}`, "Retry-After", "0"),
		answer(http.StatusTooManyRequests, `{}`, "Date", date.Format(http.TimeFormat),
			"X-RateLimit-Limit", "10", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", strconv.FormatInt(date.Unix(), 10)),
		answer(http.StatusOK, agentJSON),
	)
	client, err := botonom.NewClient("btm_sk_test", botonom.WithBaseURL(srv.URL),
		botonom.WithRetryWait(time.Millisecond, 2*time.Millisecond), botonom.WithLimiter(nopLimiter{}), tel.instrument())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := client.Agents.Get(context.Background(), "agt_abc123"); err != nil {
		t.Fatalf("Get: %v", err)
	}
	call := byName(tel.ended(), "botonom agents.get")
	if len(call) != 1 {
		t.Fatalf("%d call spans, want 1", len(call))
	}
	type wait struct{ reason, attempt, errType string }
	var got []wait
	for _, ev := range call[0].Events() {
		if ev.Name != "botonom.wait" {
			t.Errorf("event %q, want botonom.wait", ev.Name)
			continue
		}
		a := attrs(ev.Attributes)
		got = append(got, wait{a["botonom.wait.reason"], a["botonom.wait.attempt"], a["error.type"]})
		if d, err := strconv.ParseFloat(a["botonom.wait.duration"], 64); err != nil || d < 0 || d > 1 {
			t.Errorf("event %v: botonom.wait.duration %q, want seconds in [0, 1]", a, a["botonom.wait.duration"])
		}
	}
	want := []wait{
		{"limiter", "0", ""},
		{"backoff", "1", "503"},
		{"limiter", "1", ""},
		{"retry_after", "2", "429"},
		{"limiter", "2", ""},
		{"rate_limit_reset", "3", "429"},
		{"limiter", "3", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("wait events %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("wait event %d: %v, want %v", i, got[i], want[i])
		}
	}

	retries := tel.metric(t, "botonom.client.retries").Data.(metricdata.Sum[int64])
	byReason := map[string]int64{}
	for _, dp := range retries.DataPoints {
		a := setAttrs(dp.Attributes)
		wantAttrs(t, "retries", a, map[string]string{"botonom.operation": "agents.get"})
		byReason[a["botonom.wait.reason"]+"/"+a["error.type"]] += dp.Value
	}
	wantRetries := map[string]int64{"backoff/503": 1, "retry_after/429": 1, "rate_limit_reset/429": 1}
	if len(byReason) != len(wantRetries) {
		t.Errorf("retries %v, want %v", byReason, wantRetries)
	}
	for k, v := range wantRetries {
		if byReason[k] != v {
			t.Errorf("retries %s = %d, want %d (all: %v)", k, byReason[k], v, byReason)
		}
	}

	waits := tel.metric(t, "botonom.client.wait.duration").Data.(metricdata.Histogram[float64])
	var limiterWaits uint64
	for _, dp := range waits.DataPoints {
		if setAttrs(dp.Attributes)["botonom.wait.reason"] == "limiter" {
			limiterWaits += dp.Count
		}
	}
	if limiterWaits != 4 {
		t.Errorf("botonom.client.wait.duration counts %d limiter waits, want 4", limiterWaits)
	}
	if b := waits.DataPoints[0].Bounds; len(b) == 0 || b[len(b)-1] != 60 {
		t.Errorf("botonom.client.wait.duration buckets %v, want up to 60 s", b)
	}
}

// A call held back because the last answer spent the rate limit has the
// hold as an event, before any attempt (the context ends the hold early,
// so the test does not wait for the window).
func TestInstrument_RateLimitHoldIsAnEvent(t *testing.T) {
	tel := newTelemetry(t)
	date := time.Now().UTC().Truncate(time.Second)
	srv := scriptedAPI(t, answer(http.StatusOK, agentJSON, "Date", date.Format(http.TimeFormat),
		"X-RateLimit-Limit", "10", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", strconv.FormatInt(date.Unix()+2, 10)))
	client, err := botonom.NewClient("btm_sk_test", botonom.WithBaseURL(srv.URL), tel.instrument())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := client.Agents.Get(context.Background(), "agt_abc123"); err != nil {
		t.Fatalf("first Get: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := client.Agents.Get(ctx, "agt_abc123"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("held Get: %v, want the context's deadline", err)
	}
	calls := byName(tel.ended(), "botonom agents.get")
	if len(calls) != 2 {
		t.Fatalf("%d call spans, want 2", len(calls))
	}
	held := calls[1]
	if len(held.Events()) != 1 {
		t.Fatalf("events %v, want the hold", held.Events())
	}
	a := attrs(held.Events()[0].Attributes)
	wantAttrs(t, "hold event", a, map[string]string{"botonom.wait.reason": "rate_limit_hold", "botonom.wait.attempt": "0"}, "error.type")
	if d, _ := strconv.ParseFloat(a["botonom.wait.duration"], 64); d < 1 || d > 2.5 {
		t.Errorf("hold of %s s, want the 1 to 2 s left in the window", a["botonom.wait.duration"])
	}
	wantAttrs(t, "held call", attrs(held.Attributes()), map[string]string{"error.type": "timeout", "botonom.attempts": "0"})
}

// The metrics of a call retried through two 503s: three attempt
// durations, one call by outcome, two retries, and the rate limit's
// headroom.
func TestInstrument_Metrics(t *testing.T) {
	tel := newTelemetry(t)
	srv := botonomtest.NewServer(t)
	client := srv.Client(tel.instrument())
	srv.FailNext(2, http.StatusServiceUnavailable)
	_, resp, err := client.Agents.SendMessage(context.Background(), botonomtest.SampleAgentID, sendHi)
	if err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	host, port := serverHostPort(t, srv.URL())

	dur := tel.metric(t, "http.client.request.duration")
	if dur.Unit != "s" {
		t.Errorf("http.client.request.duration unit %q, want s", dur.Unit)
	}
	counts := map[string]uint64{}
	for _, dp := range dur.Data.(metricdata.Histogram[float64]).DataPoints {
		a := setAttrs(dp.Attributes)
		wantAttrs(t, "http.client.request.duration", a, map[string]string{
			"http.request.method": "POST",
			"url.template":        "/agents/{id}/message",
			"server.address":      host,
			"server.port":         port,
		})
		counts[a["http.response.status_code"]+"/"+a["error.type"]] += dp.Count
		if len(dp.Bounds) == 0 || dp.Bounds[0] != 0.005 || dp.Bounds[len(dp.Bounds)-1] != 10 {
			t.Errorf("buckets %v, want the semantic conventions' 0.005 … 10", dp.Bounds)
		}
	}
	if len(counts) != 2 || counts["503/503"] != 2 || counts["201/"] != 1 {
		t.Errorf("attempt durations by status/error.type %v, want 503/503: 2, 201/: 1", counts)
	}

	calls := tel.metric(t, "botonom.client.calls").Data.(metricdata.Sum[int64])
	if len(calls.DataPoints) != 1 || calls.DataPoints[0].Value != 1 || !calls.IsMonotonic {
		t.Fatalf("botonom.client.calls %+v, want one point counting 1", calls.DataPoints)
	}
	wantAttrs(t, "botonom.client.calls", setAttrs(calls.DataPoints[0].Attributes),
		map[string]string{"botonom.operation": "agents.send_message", "botonom.outcome": "success"}, "error.type")

	retries := tel.metric(t, "botonom.client.retries").Data.(metricdata.Sum[int64])
	if len(retries.DataPoints) != 1 || retries.DataPoints[0].Value != 2 {
		t.Fatalf("botonom.client.retries %+v, want one point counting 2", retries.DataPoints)
	}
	wantAttrs(t, "botonom.client.retries", setAttrs(retries.DataPoints[0].Attributes),
		map[string]string{"botonom.operation": "agents.send_message", "botonom.wait.reason": "backoff", "error.type": "503"})

	remaining := tel.metric(t, "botonom.client.rate_limit.remaining").Data.(metricdata.Gauge[int64])
	if len(remaining.DataPoints) != 1 {
		t.Fatalf("botonom.client.rate_limit.remaining %+v, want one point", remaining.DataPoints)
	}
	if got := remaining.DataPoints[0].Value; got != int64(resp.Rate.Remaining) || resp.Rate.Limit == 0 {
		t.Errorf("botonom.client.rate_limit.remaining = %d, want the last answer's %d", got, resp.Rate.Remaining)
	}
	wantAttrs(t, "botonom.client.rate_limit.remaining", setAttrs(remaining.DataPoints[0].Attributes),
		map[string]string{"server.address": host, "server.port": port})
}

// A failed call and its failed attempt have status Error and error.type:
// for a 4xx, a 5xx, a transport error and a canceled context.
func TestInstrument_ErrorStatus(t *testing.T) {
	tests := []struct {
		name string
		// run makes the call fail; it returns the call's error.
		run      func(t *testing.T, srv *botonomtest.Server, client *botonom.Client) error
		attempts int // attempt spans
		errType  string
		status   string // http.response.status_code of the attempt; "" for none
	}{
		{"4xx", func(t *testing.T, _ *botonomtest.Server, c *botonom.Client) error {
			_, _, err := c.Agents.Get(context.Background(), "agt_missing")
			return err
		}, 1, "404", "404"},
		{"5xx", func(t *testing.T, srv *botonomtest.Server, c *botonom.Client) error {
			srv.FailNext(1, http.StatusInternalServerError)
			_, _, err := c.Agents.Get(context.Background(), botonomtest.SampleAgentID, botonom.WithMaxRetries(0))
			return err
		}, 1, "500", "500"},
		{"transport error", func(t *testing.T, srv *botonomtest.Server, c *botonom.Client) error {
			srv.ResetConnectionNext(1)
			_, _, err := c.Agents.Get(context.Background(), botonomtest.SampleAgentID, botonom.WithMaxRetries(0))
			return err
		}, 1, "_OTHER", ""},
		{"canceled during the attempt", func(t *testing.T, _ *botonomtest.Server, c *botonom.Client) error {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cancelFirst := botonom.WithMiddleware(func(req *http.Request, next botonom.MiddlewareNext) (*http.Response, error) {
				cancel()
				return next(req)
			})
			_, _, err := c.Agents.Get(ctx, botonomtest.SampleAgentID, cancelFirst)
			return err
		}, 1, "canceled", ""},
		{"canceled before the call", func(t *testing.T, _ *botonomtest.Server, c *botonom.Client) error {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_, _, err := c.Agents.Get(ctx, botonomtest.SampleAgentID)
			return err
		}, 0, "canceled", ""},
		{"deadline", func(t *testing.T, srv *botonomtest.Server, c *botonom.Client) error {
			srv.SetLatency(time.Second)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			_, _, err := c.Agents.Get(ctx, botonomtest.SampleAgentID)
			return err
		}, 1, "timeout", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tel := newTelemetry(t)
			srv := botonomtest.NewServer(t)
			client := srv.Client(tel.instrument())
			err := tt.run(t, srv, client)
			if err == nil {
				t.Fatal("the call succeeded")
			}
			spans := tel.ended()
			call := byName(spans, "botonom agents.get")
			attempts := byName(spans, "GET /agents/{id}")
			if len(call) != 1 || len(attempts) != tt.attempts {
				t.Fatalf("%d call spans and %d attempt spans, want 1 and %d (%v)", len(call), len(attempts), tt.attempts, spanNames(spans))
			}
			for _, s := range append(call, attempts...) {
				if s.Status().Code != codes.Error {
					t.Errorf("%s: status %v, want error", s.Name(), s.Status())
				}
				wantAttrs(t, s.Name(), attrs(s.Attributes()), map[string]string{"error.type": tt.errType})
			}
			if s := call[0]; s.Status().Description != err.Error() {
				t.Errorf("call span status description %q, want the call's error %q", s.Status().Description, err)
			}
			for _, a := range attempts {
				if tt.status == "" {
					wantAttrs(t, a.Name(), attrs(a.Attributes()), nil, "http.response.status_code")
				} else {
					wantAttrs(t, a.Name(), attrs(a.Attributes()), map[string]string{"http.response.status_code": tt.status})
				}
			}
			calls := tel.metric(t, "botonom.client.calls").Data.(metricdata.Sum[int64])
			if len(calls.DataPoints) != 1 {
				t.Fatalf("botonom.client.calls %+v, want one point", calls.DataPoints)
			}
			wantAttrs(t, "botonom.client.calls", setAttrs(calls.DataPoints[0].Attributes),
				map[string]string{"botonom.operation": "agents.get", "botonom.outcome": "error", "error.type": tt.errType})
			if tt.attempts > 0 {
				durations := tel.metric(t, "http.client.request.duration").Data.(metricdata.Histogram[float64])
				if len(durations.DataPoints) != 1 {
					t.Fatalf("http.client.request.duration %+v, want one point", durations.DataPoints)
				}
				wantAttrs(t, "http.client.request.duration", setAttrs(durations.DataPoints[0].Attributes),
					map[string]string{"error.type": tt.errType})
			}
		})
	}
}

// Client.Do has no route: its attempt span is named for the method alone,
// without url.template.
func TestInstrument_Do(t *testing.T) {
	tel := newTelemetry(t)
	srv := botonomtest.NewServer(t)
	client := srv.Client(tel.instrument())
	req, err := client.NewRequest(context.Background(), http.MethodGet, "agents/"+botonomtest.SampleAgentID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Do(req, nil); err != nil {
		t.Fatalf("Do: %v", err)
	}
	spans := tel.ended()
	if len(byName(spans, "botonom do")) != 1 || len(byName(spans, "GET")) != 1 {
		t.Fatalf("spans %v, want [GET, botonom do]", spanNames(spans))
	}
	wantAttrs(t, "GET", attrs(byName(spans, "GET")[0].Attributes()),
		map[string]string{"http.request.method": "GET", "http.response.status_code": "200"}, "url.template")
}

// A method the semantic conventions do not know is "_OTHER", with the
// method itself in http.request.method_original.
func TestInstrument_OtherMethod(t *testing.T) {
	tel := newTelemetry(t)
	srv := scriptedAPI(t, answer(http.StatusNoContent, ""))
	client, err := botonom.NewClient("btm_sk_test", botonom.WithBaseURL(srv.URL), tel.instrument())
	if err != nil {
		t.Fatal(err)
	}
	req, err := client.NewRequest(context.Background(), "PURGE", "cache", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Do(req, nil); err != nil {
		t.Fatalf("Do: %v", err)
	}
	spans := byName(tel.ended(), "PURGE")
	if len(spans) != 1 {
		t.Fatalf("spans %v, want one PURGE", spanNames(tel.ended()))
	}
	wantAttrs(t, "PURGE", attrs(spans[0].Attributes()),
		map[string]string{"http.request.method": "_OTHER", "http.request.method_original": "PURGE"})
}

// Given to one call, Instrument traces that call only.
func TestInstrument_PerCall(t *testing.T) {
	tel := newTelemetry(t)
	srv := botonomtest.NewServer(t)
	client := srv.Client()
	instrument := tel.instrument()
	if _, _, err := client.Agents.Get(context.Background(), botonomtest.SampleAgentID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := client.Agents.Get(context.Background(), botonomtest.SampleAgentID, instrument); err != nil {
		t.Fatal(err)
	}
	if spans := tel.ended(); len(spans) != 2 {
		t.Fatalf("spans %v, want the one call's two", spanNames(spans))
	}
	if h := srv.Requests()[0].Header.Get("Traceparent"); h != "" {
		t.Errorf("the call without Instrument sent traceparent %q", h)
	}
}

// A nil provider or propagator makes NewClient fail with
// ErrInvalidArgument, naming the option.
func TestInstrument_NilProviderIsInvalidArgument(t *testing.T) {
	for name, opt := range map[string]otelbotonom.Option{
		"WithTracerProvider": otelbotonom.WithTracerProvider(nil),
		"WithMeterProvider":  otelbotonom.WithMeterProvider(nil),
		"WithPropagators":    otelbotonom.WithPropagators(nil),
	} {
		_, err := botonom.NewClient("btm_sk_test", otelbotonom.Instrument(opt))
		if !errors.Is(err, botonom.ErrInvalidArgument) {
			t.Errorf("%s(nil): NewClient error %v, want ErrInvalidArgument", name, err)
		}
		if err != nil && !strings.Contains(err.Error(), name+": nil") {
			t.Errorf("%s(nil): error %q does not name the option", name, err)
		}
	}
}

// The API token appears in no span (name, attribute, event, status) and no
// metric attribute, whatever the call's fate.
func TestInstrument_TokenInNoSpanOrMetric(t *testing.T) {
	const wrongToken = "btm_sk_wrong_0123456789abcdef"
	tel := newTelemetry(t)
	srv := botonomtest.NewServer(t)
	client := srv.Client(tel.instrument())
	wrong, err := botonom.NewClient(wrongToken, botonom.WithBaseURL(srv.URL()), tel.instrument())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, _, _ = client.Agents.SendMessage(ctx, botonomtest.SampleAgentID, sendHi)
	_, _, _ = client.Agents.Get(ctx, "agt_missing")
	srv.FailNext(1, http.StatusServiceUnavailable)
	_, _, _ = client.Agents.Get(ctx, botonomtest.SampleAgentID, botonom.WithMaxRetries(0))
	srv.ResetConnectionNext(1)
	_, _, _ = client.Agents.Get(ctx, botonomtest.SampleAgentID, botonom.WithMaxRetries(0))
	if _, _, err := wrong.Agents.Get(ctx, botonomtest.SampleAgentID); !errors.Is(err, botonom.ErrUnauthorized) {
		t.Fatalf("with a wrong token: %v, want ErrUnauthorized", err)
	}

	var seen []string
	for _, s := range tel.ended() {
		seen = append(seen, s.Name(), s.Status().Description)
		for _, kv := range s.Attributes() {
			seen = append(seen, kv.Value.String())
		}
		for _, ev := range s.Events() {
			for _, kv := range ev.Attributes {
				seen = append(seen, kv.Value.String())
			}
		}
	}
	var rm metricdata.ResourceMetrics
	if err := tel.reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			seen = append(seen, fmt.Sprintf("%+v", m.Data))
		}
	}
	if len(seen) < 50 {
		t.Fatalf("only %d strings recorded: the calls were not instrumented", len(seen))
	}
	for _, s := range seen {
		for _, token := range []string{botonomtest.Token, wrongToken} {
			if strings.Contains(s, token) {
				t.Fatalf("the token shows in %q", s)
			}
		}
	}
}

// roundTripFunc is an http.RoundTripper made of a function: an API with no
// network at all.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// An attempt's span names the server as the semantic conventions ask: the
// scheme's port when the base URL has none, url.full without the password
// a request given to Client.Do may carry (WithBaseURL refuses one), and error.type the Go type of a transport error,
// on the attempt and on the wait before its retry (where net/http has
// wrapped it in a *url.Error).
func TestInstrument_ServerAndURLAttributes(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("refused")}
	api := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Path == "/v1/agents/agt_refused" {
			return nil, refused
		}
		return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Request: r,
			Body: io.NopCloser(strings.NewReader(`{"id":"agt_1"}`))}, nil
	})
	tests := []struct {
		base, agent string
		userinfo    bool // the request, given to Do, has a user and password
		want        map[string]string
	}{
		{"http://api.example", "agt_1", false, map[string]string{
			"server.address": "api.example", "server.port": "80", "url.full": "http://api.example/v1/agents/agt_1"}},
		{"https://api.example/v1/", "agt_1", true, map[string]string{
			"server.port": "443", "url.full": "https://REDACTED:REDACTED@api.example/v1/agents/agt_1"}},
		{"https://api.example:8443", "agt_refused", false, map[string]string{
			"server.port": "8443", "error.type": "*net.OpError"}},
	}
	for _, tt := range tests {
		t.Run(tt.base, func(t *testing.T) {
			tel := newTelemetry(t)
			client, err := botonom.NewClient("btm_sk_test", botonom.WithBaseURL(tt.base), botonom.WithMaxRetries(0),
				botonom.WithHTTPClient(&http.Client{Transport: api}), tel.instrument())
			if err != nil {
				t.Fatal(err)
			}
			if tt.userinfo {
				req, err := client.NewRequest(context.Background(), http.MethodGet, "agents/"+tt.agent, nil)
				if err != nil {
					t.Fatal(err)
				}
				req.URL.User = url.UserPassword("user", "secret-pass")
				_, _ = client.Do(req, nil)
			} else {
				_, _, _ = client.Agents.Get(context.Background(), tt.agent)
			}
			name := "GET /agents/{id}"
			if tt.userinfo {
				name = "GET" // Do has no route
			}
			spans := byName(tel.ended(), name)
			if len(spans) != 1 {
				t.Fatalf("spans %v, want one attempt", spanNames(tel.ended()))
			}
			got := attrs(spans[0].Attributes())
			wantAttrs(t, spans[0].Name(), got, tt.want)
			for k, v := range got {
				if strings.Contains(v, "secret-pass") {
					t.Errorf("%s = %q shows the password", k, v)
				}
			}
		})
	}

	t.Run("the wait before retrying a transport error", func(t *testing.T) {
		tel := newTelemetry(t)
		client, err := botonom.NewClient("btm_sk_test", botonom.WithBaseURL("https://api.example"),
			botonom.WithMaxRetries(1), botonom.WithRetryWait(time.Millisecond, time.Millisecond),
			botonom.WithHTTPClient(&http.Client{Transport: api}), tel.instrument())
		if err != nil {
			t.Fatal(err)
		}
		_, _, _ = client.Agents.Get(context.Background(), "agt_refused")
		call := byName(tel.ended(), "botonom agents.get")
		if len(call) != 1 || len(call[0].Events()) != 1 {
			t.Fatalf("call spans %v, want one with one wait event", spanNames(tel.ended()))
		}
		wantAttrs(t, "wait event", attrs(call[0].Events()[0].Attributes),
			map[string]string{"botonom.wait.reason": "backoff", "error.type": "*net.OpError"})
	})
}

// slowLimiter makes every call wait d.
type slowLimiter struct{ d time.Duration }

func (l slowLimiter) Wait(context.Context) error { time.Sleep(l.d); return nil }

// The Limiter's wait is reported when it is over; its event is dated when
// it began, so that it stands before the attempt it held back, not at it.
func TestInstrument_LimiterWaitIsDatedWhenItBegan(t *testing.T) {
	const d = 20 * time.Millisecond
	tel := newTelemetry(t)
	srv := scriptedAPI(t, answer(http.StatusOK, agentJSON))
	client, err := botonom.NewClient("btm_sk_test", botonom.WithBaseURL(srv.URL),
		botonom.WithLimiter(slowLimiter{d}), tel.instrument())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := client.Agents.Get(context.Background(), "agt_abc123"); err != nil {
		t.Fatalf("Get: %v", err)
	}
	call := byName(tel.ended(), "botonom agents.get")
	attempt := byName(tel.ended(), "GET /agents/{id}")
	if len(call) != 1 || len(attempt) != 1 || len(call[0].Events()) != 1 {
		t.Fatalf("spans %v, want a call with one wait event and one attempt", spanNames(tel.ended()))
	}
	ev := call[0].Events()[0]
	if gap := attempt[0].StartTime().Sub(ev.Time); gap < d/2 {
		t.Errorf("the limiter event is %v before the attempt, want about the wait's %v", gap, d)
	}
}

// open returns the names of the spans tel saw start and not end.
func (tel *telemetry) open() []string {
	var names []string
	for _, s := range tel.spans.Started() {
		if s.EndTime().IsZero() {
			names = append(names, s.Name())
		}
	}
	return names
}

// Instrument given twice to one call — the same Option to the client and
// to the call, or two of them — draws two call spans, and both end, each
// with the call's result; so does a call made inside another call's
// attempt, under its context.
func TestInstrument_TwiceOnOneCallEndsBothCallSpans(t *testing.T) {
	const name = "botonom agents.get"
	t.Run("the same Option on the client and the call", func(t *testing.T) {
		tel := newTelemetry(t)
		srv := botonomtest.NewServer(t)
		instrument := tel.instrument()
		client := srv.Client(instrument)
		if _, _, err := client.Agents.Get(context.Background(), botonomtest.SampleAgentID, instrument); err != nil {
			t.Fatal(err)
		}
		if open := tel.open(); len(open) != 0 {
			t.Fatalf("spans left open: %v", open)
		}
		calls := byName(tel.ended(), name)
		if len(calls) != 2 || calls[1].Parent().SpanID() != calls[0].SpanContext().SpanID() && calls[0].Parent().SpanID() != calls[1].SpanContext().SpanID() {
			t.Fatalf("call spans %v, want 2, one inside the other", spanNames(tel.ended()))
		}
		for _, c := range calls {
			wantAttrs(t, "call span", attrs(c.Attributes()), map[string]string{"botonom.attempts": "1", "http.response.status_code": "200"})
		}
	})
	t.Run("two Instruments", func(t *testing.T) {
		tel, tel2 := newTelemetry(t), newTelemetry(t)
		srv := botonomtest.NewServer(t)
		client := srv.Client(tel.instrument())
		if _, _, err := client.Agents.Get(context.Background(), botonomtest.SampleAgentID, tel2.instrument()); err != nil {
			t.Fatal(err)
		}
		for i, tel := range []*telemetry{tel, tel2} {
			if open := tel.open(); len(open) != 0 {
				t.Errorf("Instrument %d: spans left open: %v", i, open)
			}
			if calls := byName(tel.ended(), name); len(calls) != 1 {
				t.Errorf("Instrument %d: %d call spans ended, want 1", i, len(calls))
			} else {
				wantAttrs(t, "call span", attrs(calls[0].Attributes()), map[string]string{"botonom.attempts": "1"})
			}
		}
	})
	t.Run("a call inside another's attempt", func(t *testing.T) {
		tel := newTelemetry(t)
		srv := botonomtest.NewServer(t)
		var client *botonom.Client
		nested := botonom.WithMiddleware(func(req *http.Request, next botonom.MiddlewareNext) (*http.Response, error) {
			if _, _, err := client.Agents.List(req.Context(), nil); err != nil {
				return nil, err
			}
			return next(req)
		})
		client = srv.Client(tel.instrument())
		if _, _, err := client.Agents.Get(context.Background(), botonomtest.SampleAgentID, nested); err != nil {
			t.Fatal(err)
		}
		if open := tel.open(); len(open) != 0 {
			t.Fatalf("spans left open: %v", open)
		}
		get, list := byName(tel.ended(), name), byName(tel.ended(), "botonom agents.list")
		if len(get) != 1 || len(list) != 1 {
			t.Fatalf("spans %v, want one get and one list", spanNames(tel.ended()))
		}
		if list[0].EndTime().After(get[0].EndTime()) {
			t.Errorf("the inner call's span ended after the outer's")
		}
	})
}

// botonom.client.rate_limit.remaining keeps the latest X-RateLimit-Remaining
// that is a count: a negative or unreadable one records nothing.
func TestInstrument_RateLimitGaugeIgnoresANegativeHeader(t *testing.T) {
	tel := newTelemetry(t)
	srv := scriptedAPI(t,
		answer(http.StatusOK, agentJSON, "X-RateLimit-Limit", "100", "X-RateLimit-Remaining", "7"),
		answer(http.StatusOK, agentJSON, "X-RateLimit-Limit", "100", "X-RateLimit-Remaining", "-3"),
		answer(http.StatusOK, agentJSON, "X-RateLimit-Limit", "100", "X-RateLimit-Remaining", "lots"))
	client, err := botonom.NewClient("btm_sk_test", botonom.WithBaseURL(srv.URL), tel.instrument())
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, _, err := client.Agents.Get(context.Background(), "agt_abc123"); err != nil {
			t.Fatal(err)
		}
	}
	remaining := tel.metric(t, "botonom.client.rate_limit.remaining").Data.(metricdata.Gauge[int64])
	if len(remaining.DataPoints) != 1 || remaining.DataPoints[0].Value != 7 {
		t.Fatalf("botonom.client.rate_limit.remaining %+v, want one point, 7", remaining.DataPoints)
	}
}
