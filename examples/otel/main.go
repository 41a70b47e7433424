// Command otel shows what package otelbotonom records for one call: it
// sends a message through a client instrumented with OpenTelemetry's
// stdout exporters, against the fake API of package botonomtest told to
// answer the first two attempts 503, and prints the exporters' JSON, then
// the span tree of the call — the call's span, its three attempts, and the
// two backoff waits between them — and the traceparent each attempt
// carried to the API.
//
//	cd examples/otel && go run .           # the exporters' JSON, then the tree
//	cd examples/otel && go run . -json=false   # the tree only
//
// It is a module of its own (its go.mod points at the SDK and otelbotonom
// in this repository), so that the exporters are a dependency of the
// example only.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/botonomtest"
	"github.com/botonom/botonom-go/otelbotonom"
)

func main() {
	printJSON := flag.Bool("json", true, "print the stdout exporters' spans and metrics before the tree")
	flag.Parse()
	var jsonOut io.Writer = io.Discard
	if *printJSON {
		jsonOut = os.Stdout
	}
	if err := run(context.Background(), jsonOut, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "✗", err)
		os.Exit(1)
	}
}

// run makes the call, writes the exporters' output to jsonOut and the span
// tree to out.
func run(ctx context.Context, jsonOut, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()

	// Spans go to the stdout exporter, and to a recorder for the tree.
	spanJSON, err := stdouttrace.New(stdouttrace.WithWriter(jsonOut), stdouttrace.WithPrettyPrint())
	if err != nil {
		return err
	}
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spanJSON), sdktrace.WithSpanProcessor(spans))
	metricJSON, err := stdoutmetric.New(stdoutmetric.WithWriter(jsonOut), stdoutmetric.WithPrettyPrint())
	if err != nil {
		return err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metricJSON)))

	// The fake API, in this process; its client with tiny retry waits.
	srv, err := botonomtest.Start()
	if err != nil {
		return err
	}
	defer srv.Close()
	client := srv.Client(otelbotonom.Instrument(
		otelbotonom.WithTracerProvider(tp),
		otelbotonom.WithMeterProvider(mp),
		otelbotonom.WithPropagators(propagation.TraceContext{}),
	))

	srv.FailNext(2, 503) // the first two attempts fail; the client retries
	msg, _, err := client.Agents.SendMessage(ctx, botonomtest.SampleAgentID, &botonom.SendMessageRequest{
		Content: "Book a table for 4 at 7pm tomorrow",
	})
	if err != nil {
		return fmt.Errorf("send message: %w", err)
	}

	// Shutting the providers down flushes spans and metrics to stdout.
	if err := tp.Shutdown(ctx); err != nil {
		return err
	}
	if err := mp.Shutdown(ctx); err != nil {
		return err
	}

	fmt.Fprintf(out, "\nSent %s after two 503s. The span tree of the call:\n\n", msg.ID)
	printTree(out, spans.Ended())
	fmt.Fprintln(out, "\nThe traceparent each attempt carried to the API:")
	for _, r := range srv.Requests() {
		fmt.Fprintf(out, "  retry %s → %d  %s\n", r.Header.Get("X-Botonom-Retry-Count"), r.Status, r.Header.Get("Traceparent"))
	}
	return nil
}

// printTree prints spans as a tree, each span's children and events in the
// order they happened, with the attributes worth reading.
func printTree(out io.Writer, spans []sdktrace.ReadOnlySpan) {
	children := map[string][]sdktrace.ReadOnlySpan{}
	ids := map[string]bool{}
	for _, s := range spans {
		ids[s.SpanContext().SpanID().String()] = true
	}
	var roots []sdktrace.ReadOnlySpan
	for _, s := range spans {
		parent := s.Parent().SpanID().String()
		if !s.Parent().IsValid() || !ids[parent] {
			roots = append(roots, s)
			continue
		}
		children[parent] = append(children[parent], s)
	}
	for _, root := range roots {
		fmt.Fprintf(out, "trace %s\n", root.SpanContext().TraceID())
		printSpan(out, root, children, "", "")
	}
}

// line is a child span or an event, to print in time order.
type line struct {
	at    time.Time
	span  sdktrace.ReadOnlySpan
	event *sdktrace.Event
}

// printSpan prints s after first, and its children and events each after
// indent.
func printSpan(out io.Writer, s sdktrace.ReadOnlySpan, children map[string][]sdktrace.ReadOnlySpan, first, indent string) {
	status := ""
	if s.Status().Code.String() == "Error" {
		status = "  ERROR"
	}
	fmt.Fprintf(out, "%s%s  [%s, span %s, %s]%s  %s\n", first, s.Name(), s.SpanKind(), s.SpanContext().SpanID(),
		s.EndTime().Sub(s.StartTime()).Round(10*time.Microsecond), status, showAttrs(s.Attributes()))
	var lines []line
	for _, c := range children[s.SpanContext().SpanID().String()] {
		lines = append(lines, line{at: c.StartTime(), span: c})
	}
	for i := range s.Events() {
		ev := s.Events()[i]
		lines = append(lines, line{at: ev.Time, event: &ev})
	}
	slices.SortStableFunc(lines, func(a, b line) int { return a.at.Compare(b.at) })
	for i, l := range lines {
		branch, next := "├─ ", "│  "
		if i == len(lines)-1 {
			branch, next = "└─ ", "   "
		}
		if l.event != nil {
			fmt.Fprintf(out, "%s%sevent %s  %s\n", indent, branch, l.event.Name, showAttrs(l.event.Attributes))
			continue
		}
		printSpan(out, l.span, children, indent+branch, indent+next)
	}
}

// shown are the attributes the tree prints, in this order.
var shown = []attribute.Key{
	"botonom.operation", "botonom.attempts", "http.request.resend_count", "http.response.status_code",
	"botonom.wait.reason", "botonom.wait.duration", "botonom.wait.attempt", "error.type", "botonom.request_id",
}

func showAttrs(kvs []attribute.KeyValue) string {
	var parts []string
	for _, k := range shown {
		for _, kv := range kvs {
			if kv.Key == k {
				parts = append(parts, fmt.Sprintf("%s=%s", kv.Key, kv.Value.String()))
			}
		}
	}
	return strings.Join(parts, " ")
}
