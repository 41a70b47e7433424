package otelbotonom_test

import (
	"context"
	"net/url"
	"strconv"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/otelbotonom"
)

// telemetry is an SDK tracer provider recording every span, and an SDK
// meter provider read by hand.
type telemetry struct {
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
	tp     *sdktrace.TracerProvider
	mp     *sdkmetric.MeterProvider
}

func newTelemetry(t *testing.T) *telemetry {
	t.Helper()
	tel := &telemetry{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	tel.tp = sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithSpanProcessor(tel.spans))
	tel.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.reader))
	t.Cleanup(func() {
		_ = tel.tp.Shutdown(context.Background())
		_ = tel.mp.Shutdown(context.Background())
	})
	return tel
}

// options are the Options pointing at tel, with W3C trace context.
func (tel *telemetry) options() []otelbotonom.Option {
	return []otelbotonom.Option{
		otelbotonom.WithTracerProvider(tel.tp),
		otelbotonom.WithMeterProvider(tel.mp),
		otelbotonom.WithPropagators(propagation.TraceContext{}),
	}
}

// instrument is Instrument with tel's options.
func (tel *telemetry) instrument() botonom.Option {
	return otelbotonom.Instrument(tel.options()...)
}

// ended returns the spans that ended, in the order they ended.
func (tel *telemetry) ended() []sdktrace.ReadOnlySpan { return tel.spans.Ended() }

// metric returns the metric called name, failing the test if there is none.
func (tel *telemetry) metric(t *testing.T, name string) metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := tel.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otelbotonom.ScopeName {
			t.Errorf("scope %q, want %q", sm.Scope.Name, otelbotonom.ScopeName)
		}
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m
			}
		}
	}
	t.Fatalf("no metric %q", name)
	return metricdata.Metrics{}
}

// attrs is a set's attributes as a map of their values' text.
func attrs(kvs []attribute.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

// setAttrs is attrs of an attribute.Set.
func setAttrs(s attribute.Set) map[string]string { return attrs(s.ToSlice()) }

// wantAttrs checks that got has every attribute of want with its value,
// and none of absent.
func wantAttrs(t *testing.T, what string, got map[string]string, want map[string]string, absent ...string) {
	t.Helper()
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s: %s = %q (present %v), want %q", what, k, g, ok, v)
		}
	}
	for _, k := range absent {
		if g, ok := got[k]; ok {
			t.Errorf("%s: %s = %q, want none", what, k, g)
		}
	}
}

// byName returns the ended spans called name.
func byName(spans []sdktrace.ReadOnlySpan, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// serverHostPort is the server.address and server.port of a base URL.
func serverHostPort(t *testing.T, base string) (string, string) {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	return u.Hostname(), u.Port()
}

// parseTraceparent returns the trace and parent span IDs of a W3C
// traceparent header.
func parseTraceparent(t *testing.T, h string) (trace.TraceID, trace.SpanID) {
	t.Helper()
	sc := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(),
		propagation.MapCarrier{"traceparent": h}))
	if !sc.IsValid() {
		t.Fatalf("traceparent %q is not valid", h)
	}
	return sc.TraceID(), sc.SpanID()
}

func itoa(n int) string { return strconv.Itoa(n) }
