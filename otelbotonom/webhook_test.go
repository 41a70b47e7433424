package otelbotonom_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
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

// dedupHandler stands for botonom.WebhookHandler with de-duplication
// (DESIGN §7), built from the SDK's public pieces: it verifies the
// signature, then answers as the store says — mode "in_flight" 409,
// "store_down" 503 — or runs fn once per event id, answering 200 without
// running it for an id already done.
type dedupHandler struct {
	fn   func(context.Context, *botonom.Event) error
	mu   sync.Mutex
	done map[string]bool
	mode string
}

func (h *dedupHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	payload, _ := io.ReadAll(r.Body)
	ev, err := botonom.ConstructEvent(payload, r.Header.Get(botonom.SignatureHeader), testSecret)
	if err != nil {
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return
	}
	switch h.mode {
	case "in_flight":
		w.Header().Set("Retry-After", "1")
		http.Error(w, "in flight", http.StatusConflict)
		return
	case "store_down":
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done[ev.ID] {
		w.WriteHeader(http.StatusOK)
		return
	}
	if err := h.fn(r.Context(), ev); err != nil {
		http.Error(w, "failed", http.StatusInternalServerError)
		return
	}
	h.done[ev.ID] = true
	w.WriteHeader(http.StatusOK)
}

func newWebhooks(t *testing.T, tel *telemetry) *otelbotonom.Webhooks {
	t.Helper()
	wh, err := otelbotonom.NewWebhooks(tel.options()...)
	if err != nil {
		t.Fatal(err)
	}
	return wh
}

// Each delivery is a SERVER span with the outcome read from the answer;
// the event's id and type only once the signature is verified.
func TestWebhooks_SpanPerOutcome(t *testing.T) {
	okFn := func(context.Context, *botonom.Event) error { return nil }
	failFn := func(context.Context, *botonom.Event) error { return errors.New("database down") }
	big := bytes.Repeat([]byte("x"), 2<<20)
	tests := []struct {
		name     string
		handler  func(wh *otelbotonom.Webhooks) http.Handler
		requests []*http.Request // the last one's span is checked
		status   int
		outcome  string
		verified bool   // the span has the event's id and type
		errDesc  string // the span's error description; "" for no error status
	}{
		{"processed", func(wh *otelbotonom.Webhooks) http.Handler {
			return botonom.WebhookHandler(testSecret, wh.EventFunc(okFn))
		}, []*http.Request{delivery(eventBody("evt_1"), testSecret)}, 200, otelbotonom.OutcomeProcessed, true, ""},
		{"processed without EventFunc", func(*otelbotonom.Webhooks) http.Handler {
			return botonom.WebhookHandler(testSecret, okFn)
		}, []*http.Request{delivery(eventBody("evt_1"), testSecret)}, 200, otelbotonom.OutcomeProcessed, true, ""},
		{"failed", func(wh *otelbotonom.Webhooks) http.Handler {
			return botonom.WebhookHandler(testSecret, wh.EventFunc(failFn))
		}, []*http.Request{delivery(eventBody("evt_1"), testSecret)}, 500, otelbotonom.OutcomeFailed, true, "database down"},
		{"refused: forged", func(wh *otelbotonom.Webhooks) http.Handler {
			return botonom.WebhookHandler(testSecret, wh.EventFunc(okFn))
		}, []*http.Request{delivery(eventBody("evt_forged"), "whsec_wrong")}, 401, otelbotonom.OutcomeRefused, false, ""},
		{"refused: not an event", func(wh *otelbotonom.Webhooks) http.Handler {
			return botonom.WebhookHandler(testSecret, wh.EventFunc(okFn))
		}, []*http.Request{delivery([]byte(`["id","evt_1"]`), testSecret)}, 400, otelbotonom.OutcomeRefused, false, ""},
		{"refused: not a POST", func(wh *otelbotonom.Webhooks) http.Handler {
			return botonom.WebhookHandler(testSecret, wh.EventFunc(okFn))
		}, []*http.Request{httptest.NewRequest(http.MethodGet, "/botonom/webhook", nil)}, 405, otelbotonom.OutcomeRefused, false, ""},
		{"refused: too large", func(wh *otelbotonom.Webhooks) http.Handler {
			return botonom.WebhookHandler(testSecret, wh.EventFunc(okFn))
		}, []*http.Request{delivery(big, testSecret)}, 413, otelbotonom.OutcomeRefused, false, ""},
		{"duplicate", func(wh *otelbotonom.Webhooks) http.Handler {
			return &dedupHandler{fn: wh.EventFunc(okFn), done: map[string]bool{}}
		}, []*http.Request{delivery(eventBody("evt_1"), testSecret), delivery(eventBody("evt_1"), testSecret)}, 200, otelbotonom.OutcomeDuplicate, true, ""},
		{"in flight", func(wh *otelbotonom.Webhooks) http.Handler {
			return &dedupHandler{fn: wh.EventFunc(okFn), mode: "in_flight"}
		}, []*http.Request{delivery(eventBody("evt_1"), testSecret)}, 409, otelbotonom.OutcomeInFlight, true, ""},
		{"store unavailable", func(wh *otelbotonom.Webhooks) http.Handler {
			return &dedupHandler{fn: wh.EventFunc(okFn), mode: "store_down"}
		}, []*http.Request{delivery(eventBody("evt_1"), testSecret)}, 503, otelbotonom.OutcomeUnavailable, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tel := newTelemetry(t)
			wh := newWebhooks(t, tel)
			h := wh.Handler(tt.handler(wh))
			var status int
			for _, r := range tt.requests {
				status = serve(h, r)
			}
			if status != tt.status {
				t.Fatalf("answer %d, want %d", status, tt.status)
			}
			spans := byName(tel.ended(), "botonom webhook")
			if len(spans) != len(tt.requests) {
				t.Fatalf("%d delivery spans, want %d", len(spans), len(tt.requests))
			}
			s := spans[len(spans)-1]
			if s.SpanKind() != trace.SpanKindServer {
				t.Errorf("kind %s, want server", s.SpanKind())
			}
			want := map[string]string{
				"botonom.webhook.outcome":   tt.outcome,
				"http.response.status_code": itoa(tt.status),
				"http.request.method":       tt.requests[len(tt.requests)-1].Method,
				"url.path":                  "/botonom/webhook",
			}
			absent := []string{}
			if tt.verified {
				want["botonom.event.id"] = "evt_1"
				want["botonom.event.type"] = "agent.task.completed"
			} else {
				absent = append(absent, "botonom.event.id", "botonom.event.type")
			}
			if tt.status >= 500 {
				want["error.type"] = itoa(tt.status)
				if s.Status().Code != codes.Error || s.Status().Description != tt.errDesc {
					t.Errorf("status %+v, want error %q", s.Status(), tt.errDesc)
				}
			} else {
				absent = append(absent, "error.type")
				if s.Status().Code != codes.Unset {
					t.Errorf("status %+v, want unset (a refused delivery is the sender's error)", s.Status())
				}
			}
			wantAttrs(t, "delivery span", attrs(s.Attributes()), want, absent...)

			counted := map[string]int64{}
			for _, dp := range tel.metric(t, "botonom.webhook.deliveries").Data.(metricdata.Sum[int64]).DataPoints {
				a := setAttrs(dp.Attributes)
				counted[a["botonom.webhook.outcome"]+"/"+a["botonom.event.type"]] += dp.Value
			}
			key := tt.outcome + "/"
			if tt.verified {
				key += "agent.task.completed"
			}
			if counted[key] != 1 {
				t.Errorf("botonom.webhook.deliveries %v, want %s counted once", counted, key)
			}
		})
	}
}

// The event function runs inside the delivery's span, whose parent is the
// trace context the delivery carried.
func TestWebhooks_EventFuncRunsInTheDeliverySpan(t *testing.T) {
	tel := newTelemetry(t)
	wh := newWebhooks(t, tel)
	var inFn trace.SpanContext
	h := wh.Handler(botonom.WebhookHandler(testSecret, wh.EventFunc(func(ctx context.Context, _ *botonom.Event) error {
		inFn = trace.SpanContextFromContext(ctx)
		return nil
	})))
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

// The body the handler reads is the body as sent, whatever the span reads
// of it.
func TestWebhooks_HandlerReadsTheWholeBody(t *testing.T) {
	tel := newTelemetry(t)
	wh := newWebhooks(t, tel)
	body := eventBody("evt_" + strings.Repeat("9", 3<<20)) // past what the span keeps
	var got []byte
	h := wh.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
	}))
	serve(h, delivery(body, testSecret))
	if !bytes.Equal(got, body) {
		t.Errorf("the handler read %d bytes, want the %d sent", len(got), len(body))
	}
	s := tel.ended()[0]
	wantAttrs(t, "delivery span", attrs(s.Attributes()), map[string]string{"botonom.webhook.outcome": "processed"}, "botonom.event.id")
}

// A nil provider is refused, naming the option; a nil handler answers 500.
func TestNewWebhooks_BadInput(t *testing.T) {
	if _, err := otelbotonom.NewWebhooks(otelbotonom.WithMeterProvider(nil)); err == nil || !strings.Contains(err.Error(), "WithMeterProvider: nil") {
		t.Errorf("NewWebhooks(WithMeterProvider(nil)) error %v, want one naming the option", err)
	}
	tel := newTelemetry(t)
	if status := serve(newWebhooks(t, tel).Handler(nil), delivery(eventBody("evt_1"), testSecret)); status != http.StatusInternalServerError {
		t.Errorf("Handler(nil) answered %d, want 500", status)
	}
}
