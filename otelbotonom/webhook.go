package otelbotonom

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/botonom/botonom-go"
)

// The attributes of a delivery.
const (
	// keyEventID is the delivered event's id: "evt_…".
	keyEventID = attribute.Key("botonom.event.id")
	// keyEventType is the delivered event's type: "agent.task.completed".
	keyEventType = attribute.Key("botonom.event.type")
	// keyDeliveryOutcome is what became of a delivery: one of the
	// Outcome… constants.
	keyDeliveryOutcome = attribute.Key("botonom.webhook.outcome")
)

// The outcomes of a webhook delivery (attribute botonom.webhook.outcome),
// read from the handler's answer.
const (
	// OutcomeProcessed: answered 2xx, the event function having run (or,
	// without Webhooks.EventFunc, any 2xx).
	OutcomeProcessed = "processed"
	// OutcomeDuplicate: answered 2xx without running the event function,
	// the event having been processed already (de-duplication); told apart
	// from processed only with Webhooks.EventFunc.
	OutcomeDuplicate = "duplicate"
	// OutcomeRefused: answered 4xx other than 409 — a bad or missing
	// signature (401), a body that is no event (400), too large (413), or
	// not a POST (405).
	OutcomeRefused = "refused"
	// OutcomeInFlight: answered 409, another delivery of the event being
	// processed at the moment.
	OutcomeInFlight = "in_flight"
	// OutcomeFailed: answered 5xx other than 503, the event function
	// having failed (the API delivers again).
	OutcomeFailed = "failed"
	// OutcomeUnavailable: answered 503, the de-duplication store being
	// unavailable (the API delivers again).
	OutcomeUnavailable = "unavailable"
)

// maxCapturedBody is how much of a delivery's body Webhooks keeps to read
// the event's id and type from: 1 MiB, botonom.WebhookHandler's default
// cap. A larger body (with a larger cap) gets no id or type unless
// EventFunc gives them.
const maxCapturedBody = 1 << 20

// Webhooks instruments the webhook deliveries of one endpoint: a SERVER
// span per delivery, with the event's type and id and the outcome, and the
// counter botonom.webhook.deliveries by outcome (and event type, once the
// signature is verified). Build it with NewWebhooks; wrap the event
// function with EventFunc and the handler with Handler:
//
//	wh, err := otelbotonom.NewWebhooks()
//	...
//	http.Handle("/botonom/webhook", wh.Handler(botonom.WebhookHandler(secret, wh.EventFunc(fn))))
//
// The outcome comes from the handler's answer (see the Outcome…
// constants); EventFunc tells a processed delivery from a duplicate one,
// which answer alike. The event's id and type come from the event
// EventFunc sees or else, for the answers a handler gives only after
// verifying the signature (2xx, 409, 500, 503), from the body it read:
// never from a delivery refused as forged.
type Webhooks struct {
	tracer      trace.Tracer
	propagators propagation.TextMapPropagator
	deliveries  metric.Int64Counter
	// tracksFn is set once EventFunc has wrapped a function: from then
	// on a 2xx without the function having run is a duplicate.
	tracksFn atomic.Bool
}

// NewWebhooks returns webhook instrumentation with the given providers
// (the global ones by default). It fails on a bad option, such as a nil
// provider.
func NewWebhooks(opts ...Option) (*Webhooks, error) {
	c, err := newConfig("NewWebhooks", opts)
	if err != nil {
		return nil, err
	}
	w := &Webhooks{tracer: c.tracer(), propagators: c.propagators}
	w.deliveries, err = c.meter().Int64Counter("botonom.webhook.deliveries",
		metric.WithUnit("{delivery}"),
		metric.WithDescription("Webhook deliveries received, by outcome and event type."))
	if err != nil {
		return nil, err
	}
	return w, nil
}

// delivery is what is known of one delivery while the handler runs; it
// travels in the request's context to EventFunc.
type delivery struct {
	mu        sync.Mutex
	fnRan     bool
	fnErr     error
	eventID   string
	eventType string
}

type deliveryKey struct{}

// EventFunc wraps the event function given to botonom.WebhookHandler, so
// that the delivery's span has the event's id and type from the verified
// event, tells a processed delivery from a duplicate, and carries fn's
// error. fn runs with the delivery's span in its context, as with Handler
// alone.
func (w *Webhooks) EventFunc(fn func(context.Context, *botonom.Event) error) func(context.Context, *botonom.Event) error {
	w.tracksFn.Store(true)
	return func(ctx context.Context, ev *botonom.Event) error {
		err := fn(ctx, ev)
		if d, ok := ctx.Value(deliveryKey{}).(*delivery); ok {
			d.mu.Lock()
			d.fnRan, d.fnErr = true, err
			if ev != nil {
				d.eventID, d.eventType = ev.ID, string(ev.Type)
			}
			d.mu.Unlock()
		}
		return err
	}
}

// Handler wraps h, the http.Handler of botonom.WebhookHandler, with a
// SERVER span per delivery and the deliveries counter. The span's parent
// is the trace context the delivery's headers carry, if any; the event
// function runs with the span in its context. A nil h answers 500.
func (w *Webhooks) Handler(h http.Handler) http.Handler {
	if h == nil {
		h = http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
			http.Error(rw, "webhook handler misconfigured", http.StatusInternalServerError)
		})
	}
	return &webhookHandler{w: w, next: h}
}

type webhookHandler struct {
	w    *Webhooks
	next http.Handler
}

func (h *webhookHandler) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w := h.w
	ctx := w.propagators.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, span := w.tracer.Start(ctx, "botonom webhook",
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(methodAttr(r.Method), semconv.URLPath(r.URL.Path)))
	defer span.End()
	d := &delivery{}
	ctx = context.WithValue(ctx, deliveryKey{}, d)

	r = r.WithContext(ctx)
	var body *capturedBody
	if r.Body != nil && r.Body != http.NoBody {
		body = &capturedBody{ReadCloser: r.Body}
		r.Body = body
	}
	rec := &statusRecorder{ResponseWriter: rw}
	h.next.ServeHTTP(rec, r)

	status := rec.status
	if status == 0 {
		status = http.StatusOK // what net/http answers for a handler that wrote nothing
	}
	d.mu.Lock()
	fnRan, fnErr, id, typ := d.fnRan, d.fnErr, d.eventID, d.eventType
	d.mu.Unlock()
	if id == "" && typ == "" && body != nil && verifiedAnswer(status) {
		id, typ = eventHeader(body.buf)
	}
	outcome := deliveryOutcome(status, fnRan, w.tracksFn.Load())

	attrs := []attribute.KeyValue{semconv.HTTPResponseStatusCode(status), keyDeliveryOutcome.String(outcome)}
	if id != "" {
		attrs = append(attrs, keyEventID.String(id))
	}
	if typ != "" {
		attrs = append(attrs, keyEventType.String(typ))
	}
	if status >= 500 {
		attrs = append(attrs, semconv.ErrorTypeKey.String(strconv.Itoa(status)))
		desc := ""
		if fnErr != nil {
			desc = fnErr.Error()
		}
		span.SetStatus(codes.Error, desc)
	}
	span.SetAttributes(attrs...)

	counted := []attribute.KeyValue{keyDeliveryOutcome.String(outcome)}
	if typ != "" {
		counted = append(counted, keyEventType.String(typ))
	}
	w.deliveries.Add(ctx, 1, metric.WithAttributes(counted...))
}

// verifiedAnswer reports whether a webhook handler gives status only
// after verifying the delivery's signature: success, in flight, the event
// function failed, the store unavailable.
func verifiedAnswer(status int) bool {
	switch status {
	case http.StatusConflict, http.StatusInternalServerError, http.StatusServiceUnavailable:
		return true
	}
	return status >= 200 && status <= 299
}

// deliveryOutcome reads the outcome from the answer's status; fnRan says
// whether the event function ran, which tells a duplicate apart when
// tracked (EventFunc is in use).
func deliveryOutcome(status int, fnRan, tracked bool) string {
	switch {
	case status >= 200 && status <= 299:
		if tracked && !fnRan {
			return OutcomeDuplicate
		}
		return OutcomeProcessed
	case status == http.StatusConflict:
		return OutcomeInFlight
	case status == http.StatusServiceUnavailable:
		return OutcomeUnavailable
	case status >= 500:
		return OutcomeFailed
	}
	return OutcomeRefused
}

// eventHeader reads the id and type of the event envelope in body; empty
// if it is none (or was cut at the capture's cap).
func eventHeader(body []byte) (id, typ string) {
	var env struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	}
	if json.Unmarshal(body, &env) != nil {
		return "", ""
	}
	return env.ID, env.Type
}

// capturedBody keeps a copy of the first maxCapturedBody bytes read from
// a request body.
type capturedBody struct {
	io.ReadCloser
	buf []byte
}

func (b *capturedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if room := maxCapturedBody - len(b.buf); room > 0 && n > 0 {
		b.buf = append(b.buf, p[:min(n, room)]...)
	}
	return n, err
}

// statusRecorder remembers the status a handler answers.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	if r.status == 0 && status >= 200 { // 1xx are interim answers
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(p)
}

// Unwrap gives http.ResponseController the writer underneath.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
