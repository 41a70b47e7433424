package otelbotonom_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/otelbotonom"
)

// countingTP is a tracer provider that counts the End calls of each span
// its tracers start, whoever starts it.
type countingTP struct {
	trace.TracerProvider
	mu    sync.Mutex
	ends  map[trace.SpanID]int
	names map[trace.SpanID]string
}

func newCountingTP(tp trace.TracerProvider) *countingTP {
	return &countingTP{TracerProvider: tp, ends: map[trace.SpanID]int{}, names: map[trace.SpanID]string{}}
}

func (c *countingTP) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return countingTracer{c.TracerProvider.Tracer(name, opts...), c}
}

type countingTracer struct {
	trace.Tracer
	c *countingTP
}

func (t countingTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	ctx, span := t.Tracer.Start(ctx, name, opts...)
	t.c.mu.Lock()
	t.c.ends[span.SpanContext().SpanID()] = 0
	t.c.names[span.SpanContext().SpanID()] = name
	t.c.mu.Unlock()
	s := countingSpan{span, t.c}
	return trace.ContextWithSpan(ctx, s), s
}

type countingSpan struct {
	trace.Span
	c *countingTP
}

func (s countingSpan) End(opts ...trace.SpanEndOption) {
	s.c.mu.Lock()
	s.c.ends[s.SpanContext().SpanID()]++
	s.c.mu.Unlock()
	s.Span.End(opts...)
}

// check fails unless every span started ended exactly once, and at least
// want spans started.
func (c *countingTP) check(t *testing.T, want int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.ends) < want {
		t.Errorf("%d spans started, want %d at least", len(c.ends), want)
	}
	for id, n := range c.ends {
		if n != 1 {
			t.Errorf("span %q ended %d times, want once", c.names[id], n)
		}
	}
}

// Every span otelbotonom starts ends exactly once, and it ends no span it
// did not start, whatever the path of the call: retries, a middleware that
// answers on its own (outside Instrument's or inside it), a context
// cancelled during the call, Client.Do, a CallTrace given after Instrument
// that starts and ends a span of its own, Instrument given twice.
func TestInstrument_EverySpanEndsOnce(t *testing.T) {
	ownAnswer := botonom.WithMiddleware(func(req *http.Request, _ botonom.MiddlewareNext) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
			Body: http.NoBody, Request: req}, nil
	})
	for _, c := range []struct {
		name  string
		spans int // started at least
		run   func(t *testing.T, tp *countingTP, instrument botonom.Option)
	}{
		{"retries", 4, func(t *testing.T, _ *countingTP, instrument botonom.Option) {
			srv := scriptedAPI(t, answer(503, `{}`, "Retry-After", "0"), answer(503, `{}`, "Retry-After", "0"), answer(200, agentJSON))
			client := newTestClient(t, srv.URL, instrument)
			if _, _, err := client.Agents.Get(context.Background(), "agt_abc123"); err != nil {
				t.Fatal(err)
			}
		}},
		{"a middleware outside answers", 1, func(t *testing.T, _ *countingTP, instrument botonom.Option) {
			client := newTestClient(t, "http://127.0.0.1:1/", ownAnswer, instrument)
			_, _, _ = client.Agents.Get(context.Background(), "agt_abc123")
		}},
		{"a middleware inside answers", 2, func(t *testing.T, _ *countingTP, instrument botonom.Option) {
			client := newTestClient(t, "http://127.0.0.1:1/", instrument, ownAnswer)
			_, _, _ = client.Agents.Get(context.Background(), "agt_abc123")
		}},
		{"cancelled during the call", 2, func(t *testing.T, _ *countingTP, instrument botonom.Option) {
			arrived := make(chan struct{})
			srv := scriptedAPI(t, func(w http.ResponseWriter) { close(arrived); <-t.Context().Done() })
			client := newTestClient(t, srv.URL, instrument)
			ctx, cancel := context.WithCancel(context.Background())
			go func() { <-arrived; cancel() }()
			if _, _, err := client.Agents.Get(ctx, "agt_abc123"); !errors.Is(err, context.Canceled) {
				t.Fatalf("%v, want context.Canceled", err)
			}
		}},
		{"Do", 2, func(t *testing.T, _ *countingTP, instrument botonom.Option) {
			srv := scriptedAPI(t, answer(200, agentJSON))
			client := newTestClient(t, srv.URL, instrument)
			req, err := client.NewRequest(context.Background(), http.MethodGet, "agents/agt_abc123", nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := client.Do(req, nil); err != nil {
				t.Fatal(err)
			}
		}},
		{"a CallTrace after it starts its own span", 3, func(t *testing.T, tp *countingTP, instrument botonom.Option) {
			srv := scriptedAPI(t, answer(200, agentJSON))
			user := &botonom.CallTrace{
				Start: func(ctx context.Context, _ botonom.Call) context.Context {
					ctx, _ = tp.Tracer("user").Start(ctx, "user call")
					return ctx
				},
				End: func(ctx context.Context, _ botonom.Call, _ botonom.CallResult) { trace.SpanFromContext(ctx).End() },
			}
			client := newTestClient(t, srv.URL, instrument, botonom.WithCallTrace(user))
			if _, _, err := client.Agents.Get(context.Background(), "agt_abc123"); err != nil {
				t.Fatal(err)
			}
		}},
		{"a middleware inside panics", 2, func(t *testing.T, _ *countingTP, instrument botonom.Option) {
			panics := botonom.WithMiddleware(func(*http.Request, botonom.MiddlewareNext) (*http.Response, error) { panic("boom") })
			client := newTestClient(t, "http://127.0.0.1:1/", instrument, panics)
			defer func() { _ = recover() }()
			_, _, _ = client.Agents.Get(context.Background(), "agt_abc123")
		}},
		{"Instrument twice", 4, func(t *testing.T, _ *countingTP, instrument botonom.Option) {
			srv := scriptedAPI(t, answer(200, agentJSON))
			client := newTestClient(t, srv.URL, instrument)
			if _, _, err := client.Agents.Get(context.Background(), "agt_abc123", instrument); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tel := newTelemetry(t)
			tp := newCountingTP(tel.tp)
			c.run(t, tp, otelbotonom.Instrument(otelbotonom.WithTracerProvider(tp), otelbotonom.WithMeterProvider(tel.mp)))
			if open := tel.open(); len(open) != 0 {
				t.Errorf("spans left open: %v", open)
			}
			tp.check(t, c.spans)
		})
	}
}

func newTestClient(t *testing.T, base string, opts ...botonom.Option) *botonom.Client {
	t.Helper()
	client, err := botonom.NewClient("btm_sk_test_token_0123456789", append([]botonom.Option{botonom.WithBaseURL(base),
		botonom.WithRetryWait(time.Millisecond, time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// A server that echoes the request's token in X-Request-Id puts it in no
// span: not as botonom.request_id of the call or of the attempt.
func TestInstrument_EchoedTokenInNoSpan(t *testing.T) {
	const token = "btm_sk_test_token_0123456789"
	tel := newTelemetry(t)
	srv := scriptedAPI(t, func(w http.ResponseWriter) {
		w.Header().Set("X-Request-Id", "req_Bearer "+token)
		answer(200, agentJSON)(w)
	})
	client := newTestClient(t, srv.URL, tel.instrument())
	if _, _, err := client.Agents.Get(context.Background(), "agt_abc123"); err != nil {
		t.Fatal(err)
	}
	if len(tel.ended()) != 2 {
		t.Fatalf("spans %v, want the call's and the attempt's", spanNames(tel.ended()))
	}
	for _, s := range tel.ended() {
		for _, kv := range s.Attributes() {
			if v := kv.Value.String(); strings.Contains(v, token[len("btm_sk_"):][:8]) {
				t.Errorf("span %q: %s = %q shows the token", s.Name(), kv.Key, v)
			}
		}
	}
}

// The same of a delivery's span: it ends once, under a DeliveryTrace given
// after it that starts and ends its own span, whether fn succeeds, fails,
// panics, or the delivery is refused before fn.
func TestWebhooks_EverySpanEndsOnce(t *testing.T) {
	for name, fn := range map[string]func(context.Context, *botonom.Event) error{
		"processed": func(context.Context, *botonom.Event) error { return nil },
		"failed":    func(context.Context, *botonom.Event) error { return errors.New("no") },
		"panics":    func(context.Context, *botonom.Event) error { panic("boom") },
	} {
		t.Run(name, func(t *testing.T) {
			tel := newTelemetry(t)
			tp := newCountingTP(tel.tp)
			wh, err := otelbotonom.NewWebhooks(otelbotonom.WithTracerProvider(tp), otelbotonom.WithMeterProvider(tel.mp))
			if err != nil {
				t.Fatal(err)
			}
			user := &botonom.DeliveryTrace{
				Start: func(ctx context.Context, _ *http.Request) context.Context {
					ctx, _ = tp.Tracer("user").Start(ctx, "user delivery")
					return ctx
				},
				End: func(ctx context.Context, _ botonom.Delivery) { trace.SpanFromContext(ctx).End() },
			}
			h := botonom.WebhookHandler(testSecret, fn, wh.Option(), botonom.WithDeliveryTrace(user))
			func() {
				defer func() { _ = recover() }()
				serve(h, delivery(eventBody("evt_1"), testSecret))
				serve(h, delivery(eventBody("evt_2"), "whsec_wrong"))
			}()
			if open := tel.open(); len(open) != 0 {
				t.Errorf("spans left open: %v", open)
			}
			tp.check(t, 2)
		})
	}
}
