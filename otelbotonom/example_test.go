package otelbotonom_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/botonomtest"
	"github.com/botonom/botonom-go/otelbotonom"
)

// A client traced with Instrument: a call retried after a 503 is the
// call's span with its two attempts inside. (A real program gives
// WithTracerProvider a provider that exports, or sets the global one.)
func ExampleInstrument() {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))

	srv, err := botonomtest.Start() // the fake API
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	client := srv.Client(otelbotonom.Instrument(
		otelbotonom.WithTracerProvider(tp),
		otelbotonom.WithPropagators(propagation.TraceContext{}),
	))

	srv.FailNext(1, http.StatusServiceUnavailable)
	if _, _, err := client.Agents.Get(context.Background(), botonomtest.SampleAgentID); err != nil {
		log.Fatal(err)
	}
	for _, s := range spans.Ended() { // in the order they ended
		fmt.Println(s.Name(), s.SpanKind(), attrs(s.Attributes())["http.response.status_code"])
	}
	// Output:
	// GET /agents/{id} client 503
	// GET /agents/{id} client 200
	// botonom agents.get internal 200
}

// Webhook deliveries traced with Webhooks.Option: a SERVER span per delivery,
// with the event and the outcome.
func ExampleWebhooks() {
	spans := tracetest.NewSpanRecorder()
	wh, err := otelbotonom.NewWebhooks(otelbotonom.WithTracerProvider(
		sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))))
	if err != nil {
		log.Fatal(err)
	}
	const secret = "whsec_example"
	handler := botonom.WebhookHandler(secret, func(ctx context.Context, ev *botonom.Event) error {
		return nil // handle the event
	}, wh.Option())

	body := []byte(`{"id":"evt_1","type":"agent.task.completed","created_at":"2026-02-18T14:30:05Z","data":{}}`)
	req := httptest.NewRequest(http.MethodPost, "/botonom/webhook", bytes.NewReader(body))
	req.Header.Set(botonom.SignatureHeader, botonom.SignPayload(body, secret, time.Now()))
	handler.ServeHTTP(httptest.NewRecorder(), req)

	s := spans.Ended()[0]
	a := attrs(s.Attributes())
	fmt.Println(s.Name(), s.SpanKind(), a["botonom.event.type"], a["botonom.event.id"], a["botonom.webhook.outcome"])
	// Output:
	// botonom webhook server agent.task.completed evt_1 processed
}
