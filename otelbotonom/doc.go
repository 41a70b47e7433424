// Package otelbotonom instruments the Botonom Go SDK with OpenTelemetry:
// a trace and metrics for every call of a *botonom.Client, and for every
// webhook delivery.
//
// It is a module of its own (github.com/botonom/botonom-go/otelbotonom), so
// that the SDK itself never depends on OpenTelemetry: only programs that
// import this package pay for it.
//
// # Calls
//
// Instrument returns one botonom.Option; give it to botonom.NewClient to
// trace every call, or to one method call to trace that call only:
//
//	client, err := botonom.NewClient(token, otelbotonom.Instrument())
//
// Each call gets a span named for the SDK operation ("botonom
// agents.send_message"), and each attempt of it (each request sent, the
// retries included) a CLIENT span inside, named as the OpenTelemetry HTTP
// semantic conventions say ("POST /agents/{id}/message"), with the
// attributes http.request.method, url.template, url.full, server.address,
// server.port, http.response.status_code, http.request.resend_count (on
// retries), error.type and botonom.request_id. Every wait of the call — the
// backoff or Retry-After before a retry, a rate-limit hold, the Limiter —
// is an event "botonom.wait" on the call's span, with its reason and
// duration. Every attempt carries the context of its span in the request
// headers, by the propagators (W3C traceparent with
// propagation.TraceContext). An attempt's span, like its duration metric,
// ends when the answer's headers have come; the call's span ends when the
// method returns, the body decoded.
//
// A span's status is Error when its call or attempt failed: a non-2xx
// answer (error.type is the status code, "503"), a transport error
// (error.type "timeout", or the Go type of the error, "*net.OpError"), or a
// context that ended ("canceled", "timeout").
//
// # Metrics
//
//   - http.client.request.duration (s, histogram with the semantic
//     conventions' buckets): one per attempt, by http.request.method,
//     url.template, server.address, server.port, http.response.status_code
//     and error.type.
//   - botonom.client.calls ({call}, counter): one per call, by
//     botonom.operation and botonom.outcome ("success" or "error", with
//     error.type).
//   - botonom.client.retries ({retry}, counter): one per retry, by
//     botonom.operation, botonom.wait.reason ("backoff", "retry_after",
//     "rate_limit_reset") and the error.type of the attempt retried.
//   - botonom.client.wait.duration (s, histogram): every wait, by
//     botonom.operation and botonom.wait.reason, holds and Limiter included.
//   - botonom.client.rate_limit.remaining ({request}, gauge): the latest
//     X-RateLimit-Remaining, by server.address: the headroom before 429s.
//     It has no attribute of the token: clients of several tokens
//     (Client.WithToken) on one meter provider record the latest answer
//     of any of them.
//
// # Webhooks
//
// NewWebhooks instruments a webhook endpoint through the handler's public
// hook, botonom.WithDeliveryTrace: give its Option to
// botonom.WebhookHandler for a SERVER span per delivery (event type and
// id, the botonom.DeliveryOutcome) and the counter
// botonom.webhook.deliveries ({delivery}) by botonom.webhook.outcome and
// botonom.event.type.
//
// # Providers
//
// WithTracerProvider, WithMeterProvider and WithPropagators choose where
// spans and metrics go and how context travels; each defaults to the global
// one (otel.GetTracerProvider, otel.GetMeterProvider,
// otel.GetTextMapPropagator), which does nothing until the program sets it.
// With no-op providers a call costs at most 5% more time and a few
// allocations (see bench_test.go).
//
// # Go and OpenTelemetry versions
//
// Like the SDK, the module supports the two newest Go releases (its go.mod
// says go 1.26.0) and requires the newest OpenTelemetry Go that builds on
// that floor, v1.47.0; it follows the HTTP semantic conventions v1.37.0. A
// program that wants a newer OpenTelemetry simply requires it: Go's minimum
// version selection then builds this package with that release, whose API
// is backward compatible.
package otelbotonom
