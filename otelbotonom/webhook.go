package otelbotonom

import (
	"context"
	"net/http"
	"strconv"

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
	// keyDeliveryOutcome is what the handler did with a delivery: a
	// botonom.DeliveryOutcome ("processed", "duplicate", "stale", …).
	keyDeliveryOutcome = attribute.Key("botonom.webhook.outcome")
)

// Webhooks instruments the webhook deliveries of a botonom.WebhookHandler
// through its public hook (botonom.WithDeliveryTrace): a SERVER span per
// delivery and the counter botonom.webhook.deliveries. Build it with
// NewWebhooks and give its Option to the handler:
//
//	wh, err := otelbotonom.NewWebhooks()
//	...
//	http.Handle("/botonom/webhook", botonom.WebhookHandler(secret, fn, wh.Option(),
//		botonom.WithDeduplication(store)))
//
// The span starts when the delivery arrives, as a child of the trace
// context its headers carry (through the propagators), and fn runs inside
// it. When the handler has answered, the span gets the status answered,
// the outcome (attribute botonom.webhook.outcome: a botonom.DeliveryOutcome,
// so "duplicate" and "stale" are told from "processed") and, once the
// signature is verified, the event's id and type — never from a forged
// delivery. Its status is Error on a 5xx answer (failed, unavailable, a
// misconfigured handler) and on a panicking fn; a 4xx is the sender's
// error, not the server's, and leaves it unset, as the HTTP semantic
// conventions ask of SERVER spans.
type Webhooks struct {
	tracer      trace.Tracer
	propagators propagation.TextMapPropagator
	deliveries  metric.Int64Counter
	trace       *botonom.DeliveryTrace
}

// NewWebhooks returns webhook instrumentation with the given providers
// (the global ones by default). It fails on a bad option, such as a nil
// provider. One Webhooks may serve several handlers.
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
	w.trace = &botonom.DeliveryTrace{Start: w.start, End: w.end}
	return w, nil
}

// Option is the botonom.HandlerOption that instruments a
// botonom.WebhookHandler.
func (w *Webhooks) Option() botonom.HandlerOption {
	return botonom.WithDeliveryTrace(w.trace)
}

// start begins a delivery's span, under the trace context its headers
// carry.
func (w *Webhooks) start(ctx context.Context, r *http.Request) context.Context {
	ctx = w.propagators.Extract(ctx, propagation.HeaderCarrier(r.Header))
	ctx, span := w.tracer.Start(ctx, "botonom webhook",
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(methodAttr(r.Method), semconv.URLPath(r.URL.Path)))
	return withOwnSpan(ctx, w, span)
}

// end completes the delivery's span (the one start began, whatever a
// DeliveryTrace after this one put in the context) and counts the
// delivery.
func (w *Webhooks) end(ctx context.Context, d botonom.Delivery) {
	span := endOwnSpan(ctx, w)
	outcome := keyDeliveryOutcome.String(string(d.Outcome))
	attrs := []attribute.KeyValue{outcome}
	counted := []attribute.KeyValue{outcome}
	if d.Status != 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(d.Status))
	}
	if d.Event != nil {
		typ := keyEventType.String(string(d.Event.Type))
		attrs = append(attrs, keyEventID.String(d.Event.ID), typ)
		counted = append(counted, typ)
	}
	if d.Status >= 500 || d.Status == 0 {
		errType := errorTypeOther // no answer: fn panicked
		if d.Status != 0 {
			errType = strconv.Itoa(d.Status)
		}
		attrs = append(attrs, semconv.ErrorTypeKey.String(errType))
		desc := ""
		if d.Err != nil {
			desc = d.Err.Error()
		}
		span.SetStatus(codes.Error, desc)
	}
	span.SetAttributes(attrs...)
	span.End()
	w.deliveries.Add(ctx, 1, metric.WithAttributes(counted...))
}
