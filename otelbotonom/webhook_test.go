package otelbotonom_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/trace"

	"github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/otelbotonom"
)

const testSecret = "whsec_test_secret"

// eventBody is a delivery's body for event id of type agent.task.completed.
func eventBody(id string) []byte {
	return []byte(`{"id":"` + id + `","type":"agent.task.completed","created_at":"2026-02-18T14:30:05Z","data":{"id":"tsk_001","agent_id":"agt_abc123","status":"completed"}}`)
}

// statusBody is a delivery's body for event id, an agent.status.changed of
// agt_1 created at 10:00:sec.
func statusBody(id string, sec int) []byte {
	return []byte(`{"id":"` + id + `","type":"agent.status.changed","created_at":"2026-02-18T10:00:` + itoa(10+sec) +
		`Z","data":{"agent_id":"agt_1","status":"online","previous_status":"offline"}}`)
}

// delivery is a POST of body signed with secret now, as the API sends it.
func delivery(body []byte, secret string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/botonom/webhook", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set(botonom.SignatureHeader, botonom.SignPayload(body, secret, time.Now()))
	return r
}

// serve sends r to h and returns the answer's status.
func serve(h http.Handler, r *http.Request) int {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec.Code
}

func newWebhooks(t *testing.T, tel *telemetry) *otelbotonom.Webhooks {
	t.Helper()
	wh, err := otelbotonom.NewWebhooks(tel.options()...)
	if err != nil {
		t.Fatal(err)
	}
	return wh
}

// realHandler is botonom.WebhookHandler instrumented by wh, with
// de-duplication and ordering in one memory store. fn fails for event
// ids starting "evt_fail", and, for "evt_slow", signals entered and waits
// for release.
type realHandler struct {
	http.Handler
	entered, release chan struct{}
}

func newRealHandler(t *testing.T, wh *otelbotonom.Webhooks) *realHandler {
	t.Helper()
	store, err := botonom.NewMemoryDedupStore()
	if err != nil {
		t.Fatal(err)
	}
	h := &realHandler{entered: make(chan struct{}), release: make(chan struct{})}
	h.Handler = botonom.WebhookHandler(testSecret, func(ctx context.Context, ev *botonom.Event) error {
		switch {
		case strings.HasPrefix(ev.ID, "evt_fail"):
			return errors.New("database down")
		case ev.ID == "evt_slow":
			close(h.entered)
			<-h.release
		}
		return nil
	}, wh.Option(), botonom.WithDeduplication(store), botonom.WithOrdering(store))
	return h
}

// downStore is a de-duplication store that cannot be reached.
type downStore struct{}

var errStoreDown = errors.New("store down")

func (downStore) Claim(context.Context, string, time.Duration) (botonom.DedupClaim, error) {
	return botonom.DedupClaim{}, errStoreDown
}
func (downStore) Done(context.Context, string, string, time.Duration) error { return errStoreDown }
func (downStore) Release(context.Context, string, string) error             { return errStoreDown }

// Each delivery to the real handler, with de-duplication and ordering, is
// a SERVER span with the outcome the handler reports; the event's id and
// type only once the signature is verified; status Error on a 5xx only.
func TestWebhooks_SpanPerOutcome(t *testing.T) {
	canceled := func(r *http.Request) *http.Request {
		ctx, cancel := context.WithCancel(r.Context())
		cancel()
		return r.WithContext(ctx)
	}
	big := bytes.Repeat([]byte("x"), 2<<20)
	tests := []struct {
		name string
		// before are delivered first, and their spans ignored; then, for
		// "in_flight", evt_slow is held in fn while the last is delivered.
		before  []*http.Request
		last    *http.Request
		status  int
		outcome botonom.DeliveryOutcome
		eventID string // "" when the span must carry no event
		errDesc string // the span's error description; "-" for no error status
	}{
		{"processed", nil, delivery(eventBody("evt_1"), testSecret), 200, botonom.DeliveryProcessed, "evt_1", "-"},
		{"failed", nil, delivery(eventBody("evt_fail"), testSecret), 500, botonom.DeliveryFailed, "evt_fail", "database down"},
		{"duplicate", []*http.Request{delivery(eventBody("evt_1"), testSecret)}, delivery(eventBody("evt_1"), testSecret),
			200, botonom.DeliveryDuplicate, "evt_1", "-"},
		{"stale", []*http.Request{delivery(statusBody("evt_new", 9), testSecret)}, delivery(statusBody("evt_old", 5), testSecret),
			200, botonom.DeliveryStale, "evt_old", "-"},
		{"in flight", nil, delivery(eventBody("evt_slow"), testSecret), 409, botonom.DeliveryInFlight, "evt_slow", "-"},
		{"unavailable", nil, delivery(eventBody("evt_1"), testSecret), 503, botonom.DeliveryUnavailable, "evt_1", "store down"},
		{"refused: the sender hung up", nil, canceled(delivery(eventBody("evt_1"), testSecret)), 503, botonom.DeliveryRefused, "evt_1", "hung up"},
		{"refused: forged", nil, delivery(eventBody("evt_forged"), "whsec_wrong"), 401, botonom.DeliveryRefused, "", "-"},
		{"refused: not an event", nil, delivery([]byte(`["id","evt_1"]`), testSecret), 400, botonom.DeliveryRefused, "", "-"},
		{"refused: not a POST", nil, httptest.NewRequest(http.MethodGet, "/botonom/webhook", nil), 405, botonom.DeliveryRefused, "", "-"},
		{"refused: too large", nil, delivery(big, testSecret), 413, botonom.DeliveryRefused, "", "-"},
		{"refused: a state event without its key", nil,
			delivery([]byte(`{"id":"evt_1","type":"agent.status.changed","created_at":"2026-02-18T10:00:05Z","data":{}}`), testSecret),
			400, botonom.DeliveryRefused, "evt_1", "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tel := newTelemetry(t)
			wh := newWebhooks(t, tel)
			h := newRealHandler(t, wh)
			if tt.outcome == botonom.DeliveryUnavailable {
				h.Handler = botonom.WebhookHandler(testSecret, func(context.Context, *botonom.Event) error { return nil },
					wh.Option(), botonom.WithDeduplication(downStore{}))
			}
			for _, r := range tt.before {
				serve(h, r)
			}
			skip := len(tt.before)
			var status int
			if tt.outcome == botonom.DeliveryInFlight {
				done := make(chan int)
				go func() { done <- serve(h, delivery(eventBody("evt_slow"), testSecret)) }()
				<-h.entered
				status = serve(h, tt.last)
				close(h.release)
				if first := <-done; first != 200 {
					t.Errorf("the held delivery answered %d", first)
				}
			} else {
				status = serve(h, tt.last)
			}
			if status != tt.status {
				t.Fatalf("answer %d, want %d", status, tt.status)
			}
			spans := byName(tel.ended(), "botonom webhook")
			if len(spans) <= skip {
				t.Fatalf("%d delivery spans, want more than %d", len(spans), skip)
			}
			s := spans[skip]
			if s.SpanKind() != trace.SpanKindServer {
				t.Errorf("kind %s, want server", s.SpanKind())
			}
			want := map[string]string{
				"botonom.webhook.outcome":   string(tt.outcome),
				"http.response.status_code": itoa(tt.status),
				"http.request.method":       tt.last.Method,
				"url.path":                  "/botonom/webhook",
			}
			absent := []string{}
			eventType := ""
			if tt.eventID != "" {
				eventType = "agent.task.completed"
				if strings.Contains(tt.name, "state") || tt.outcome == botonom.DeliveryStale {
					eventType = "agent.status.changed"
				}
				want["botonom.event.id"] = tt.eventID
				want["botonom.event.type"] = eventType
			} else {
				absent = append(absent, "botonom.event.id", "botonom.event.type")
			}
			if tt.errDesc != "-" {
				want["error.type"] = itoa(tt.status)
				if s.Status().Code != codes.Error || !strings.Contains(s.Status().Description, tt.errDesc) {
					t.Errorf("status %+v, want error %q", s.Status(), tt.errDesc)
				}
			} else {
				absent = append(absent, "error.type")
				if s.Status().Code != codes.Unset {
					t.Errorf("status %+v, want unset", s.Status())
				}
			}
			wantAttrs(t, "delivery span", attrs(s.Attributes()), want, absent...)

			counted := map[string]int64{}
			for _, dp := range tel.metric(t, "botonom.webhook.deliveries").Data.(metricdata.Sum[int64]).DataPoints {
				a := setAttrs(dp.Attributes)
				counted[a["botonom.webhook.outcome"]+"/"+a["botonom.event.type"]] += dp.Value
			}
			if key := string(tt.outcome) + "/" + eventType; counted[key] != 1 {
				t.Errorf("botonom.webhook.deliveries %v, want %s counted once", counted, key)
			}
		})
	}
}

// A panicking fn ends its span in error, with no status code; the panic
// goes on.
func TestWebhooks_PanickingFn(t *testing.T) {
	tel := newTelemetry(t)
	wh := newWebhooks(t, tel)
	h := botonom.WebhookHandler(testSecret, func(context.Context, *botonom.Event) error { panic("boom") }, wh.Option())
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Errorf("recovered %v, want the panic of fn", p)
			}
		}()
		serve(h, delivery(eventBody("evt_1"), testSecret))
	}()
	spans := byName(tel.ended(), "botonom webhook")
	if len(spans) != 1 {
		t.Fatalf("%d delivery spans, want 1", len(spans))
	}
	s := spans[0]
	if s.Status().Code != codes.Error {
		t.Errorf("status %+v, want error", s.Status())
	}
	wantAttrs(t, "delivery span", attrs(s.Attributes()),
		map[string]string{"botonom.webhook.outcome": "failed", "botonom.event.id": "evt_1", "error.type": "_OTHER"},
		"http.response.status_code")
}

// The event function runs inside the delivery's span, whose parent is the
// trace context the delivery carried.
func TestWebhooks_FnRunsInTheDeliverySpan(t *testing.T) {
	tel := newTelemetry(t)
	wh := newWebhooks(t, tel)
	var inFn trace.SpanContext
	h := botonom.WebhookHandler(testSecret, func(ctx context.Context, _ *botonom.Event) error {
		inFn = trace.SpanContextFromContext(ctx)
		return nil
	}, wh.Option())
	r := delivery(eventBody("evt_1"), testSecret)
	r.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	if status := serve(h, r); status != http.StatusOK {
		t.Fatalf("answer %d", status)
	}
	spans := byName(tel.ended(), "botonom webhook")
	if len(spans) != 1 {
		t.Fatalf("%d delivery spans, want 1", len(spans))
	}
	s := spans[0]
	if s.SpanContext().SpanID() != inFn.SpanID() {
		t.Errorf("fn ran in span %s, want the delivery's %s", inFn.SpanID(), s.SpanContext().SpanID())
	}
	if got := s.Parent().TraceID().String(); got != "4bf92f3577b34da6a3ce929d0e0e4736" || s.Parent().SpanID().String() != "00f067aa0ba902b7" || !s.Parent().IsRemote() {
		t.Errorf("parent %v, want the delivery's traceparent", s.Parent())
	}
}

// A nil provider is refused, naming the option.
func TestNewWebhooks_BadInput(t *testing.T) {
	if _, err := otelbotonom.NewWebhooks(otelbotonom.WithMeterProvider(nil)); err == nil || !strings.Contains(err.Error(), "WithMeterProvider: nil") {
		t.Errorf("NewWebhooks(WithMeterProvider(nil)) error %v, want one naming the option", err)
	}
}

// A DeliveryTrace given after the instrumentation that starts a span of
// its own (and ends it in its End): the delivery's SERVER span still ends,
// with the outcome, and the other span is left to its owner.
func TestWebhooks_EndsItsOwnSpanUnderALaterTrace(t *testing.T) {
	tel := newTelemetry(t)
	wh := newWebhooks(t, tel)
	user := &botonom.DeliveryTrace{
		Start: func(ctx context.Context, _ *http.Request) context.Context {
			ctx, _ = tel.tp.Tracer("user").Start(ctx, "user delivery")
			return ctx
		},
		End: func(ctx context.Context, _ botonom.Delivery) { trace.SpanFromContext(ctx).End() },
	}
	h := botonom.WebhookHandler(testSecret, func(context.Context, *botonom.Event) error { return nil },
		wh.Option(), botonom.WithDeliveryTrace(user))
	if status := serve(h, delivery(eventBody("evt_1"), testSecret)); status != http.StatusOK {
		t.Fatalf("answer %d", status)
	}
	if open := tel.open(); len(open) != 0 {
		t.Fatalf("spans left open: %v", open)
	}
	spans := byName(tel.ended(), "botonom webhook")
	if len(spans) != 1 {
		t.Fatalf("%d delivery spans, want 1", len(spans))
	}
	wantAttrs(t, "delivery span", attrs(spans[0].Attributes()), map[string]string{"botonom.webhook.outcome": "processed", "botonom.event.id": "evt_1"})
	userSpans := byName(tel.ended(), "user delivery")
	if len(userSpans) != 1 {
		t.Fatalf("%d user spans, want 1", len(userSpans))
	}
	wantAttrs(t, "user span", attrs(userSpans[0].Attributes()), nil, "botonom.webhook.outcome")
}
