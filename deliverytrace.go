package botonom

import (
	"context"
	"errors"
	"net/http"
)

// DeliveryOutcome says what WebhookHandler did with a delivery. Its values
// are stable strings, fit for a metric attribute.
type DeliveryOutcome string

// The outcomes of a delivery, with the status each is answered.
const (
	// DeliveryProcessed: fn ran and returned nil; 200.
	DeliveryProcessed DeliveryOutcome = "processed"
	// DeliveryFailed: fn returned an error (500, so that the API delivers
	// again) or panicked (no answer: net/http drops the connection).
	DeliveryFailed DeliveryOutcome = "failed"
	// DeliveryDuplicate: the event was processed already
	// (WithDeduplication); 200 without fn.
	DeliveryDuplicate DeliveryOutcome = "duplicate"
	// DeliveryInFlight: another delivery of the event, or of the entity's
	// state (WithOrdering), is being processed; 409 without fn.
	DeliveryInFlight DeliveryOutcome = "in_flight"
	// DeliveryStale: a newer state of the entity was processed already
	// (WithOrdering); 200 without fn.
	DeliveryStale DeliveryOutcome = "stale"
	// DeliveryUnavailable: the de-duplication or ordering store failed;
	// 503 without fn (with a fail-open option, fn runs instead, and the
	// outcome is processed or failed).
	DeliveryUnavailable DeliveryOutcome = "unavailable"
	// DeliveryRefused: the delivery was not processed because it is not
	// one: not a POST (405), too large (413), unreadable or not an event
	// (400), badly signed (401); or the handler is misconfigured (500); or
	// its sender hung up before the de-duplication or ordering claim, so
	// nothing ran (503, which the sender no longer reads).
	DeliveryRefused DeliveryOutcome = "refused"
)

// Delivery is how WebhookHandler answered one delivery, as DeliveryTrace.End
// sees it.
type Delivery struct {
	// Event is the delivered event; nil until the signature is verified
	// and the body decoded, so never set for a forged delivery.
	Event *Event
	// Outcome is what the handler did.
	Outcome DeliveryOutcome
	// Status is the HTTP status answered; 0 if none was (fn panicked).
	Status int
	// Err is why the delivery was refused, why fn failed, or why the
	// store was unavailable; nil for the other outcomes. It never holds
	// the secret nor the signature.
	Err error
}

// DeliveryTrace watches each delivery WebhookHandler receives, for metrics
// and tracing; the webhook counterpart of CallTrace. Either hook may be
// nil. Hooks run on the request's goroutine, synchronously: keep them
// short. See WithDeliveryTrace.
type DeliveryTrace struct {
	// Start is called when a delivery arrives, before anything is read.
	// The context it returns (nil: unchanged) becomes the delivery's: fn
	// runs with it, so a span started here is fn's parent.
	Start func(ctx context.Context, r *http.Request) context.Context
	// End is called once, when the handler has answered (or when fn
	// panics, before the panic goes on), with the delivery's context.
	End func(ctx context.Context, d Delivery)
}

// WithDeliveryTrace adds t to watch every delivery of a WebhookHandler.
// Several DeliveryTraces run in the order given. A nil t is refused. A
// handler without one pays nothing for the hooks.
func WithDeliveryTrace(t *DeliveryTrace) HandlerOption {
	return handlerOption(func(c *handlerConfig) error {
		if t == nil {
			return errors.New("WithDeliveryTrace: nil *DeliveryTrace")
		}
		c.traces = append(c.traces, t)
		return nil
	})
}

// errMethodNotAllowed is the Err of a delivery that is not a POST.
var errMethodNotAllowed = errors.New("botonom: webhook delivery is not a POST")

// serveTraced is ServeHTTP with DeliveryTraces: Start, the handler with
// a writer that records the answer, End.
func (h *webhookHandler) serveTraced(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	for _, t := range h.traces {
		if t.Start != nil {
			if c := t.Start(ctx, r); c != nil {
				ctx = c
			}
		}
	}
	if ctx != r.Context() {
		r = r.WithContext(ctx)
	}
	dw := &deliveryWriter{ResponseWriter: w}
	answered := false
	// A panicking fn is not recovered here: End is reported, and the panic
	// goes on to net/http as it would without the trace.
	defer func() {
		if !answered {
			dw.d.Outcome, dw.d.Err = DeliveryFailed, errors.New("botonom: webhook event function panicked")
		}
		for _, t := range h.traces {
			if t.End != nil {
				t.End(ctx, dw.d)
			}
		}
	}()
	h.serve(dw, r)
	answered = true
}

// deliveryWriter is the ResponseWriter of a traced delivery: it records
// the status answered, and the handler notes the rest in it.
type deliveryWriter struct {
	http.ResponseWriter
	d Delivery
}

func (w *deliveryWriter) WriteHeader(status int) {
	if w.d.Status == 0 && status >= 200 {
		w.d.Status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *deliveryWriter) Write(p []byte) (int, error) {
	if w.d.Status == 0 {
		w.d.Status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap gives http.ResponseController the writer underneath.
func (w *deliveryWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// noteEvent records the verified event of a traced delivery.
func noteEvent(w http.ResponseWriter, ev *Event) {
	if dw, ok := w.(*deliveryWriter); ok {
		dw.d.Event = ev
	}
}

// noteOutcome records the outcome of a traced delivery, and why.
func noteOutcome(w http.ResponseWriter, o DeliveryOutcome, err error) {
	if dw, ok := w.(*deliveryWriter); ok {
		dw.d.Outcome, dw.d.Err = o, err
	}
}

// unwrapDelivery returns the writer under a traced delivery's, which
// http.MaxBytesReader needs to close the connection after a body too large.
func unwrapDelivery(w http.ResponseWriter) http.ResponseWriter {
	if dw, ok := w.(*deliveryWriter); ok {
		return dw.ResponseWriter
	}
	return w
}
