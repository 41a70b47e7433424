package otelbotonom

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/botonom/botonom-go"
)

// ScopeName is the instrumentation scope of the spans and metrics this
// package makes: the name its tracer and meter are given.
const ScopeName = "github.com/botonom/botonom-go/otelbotonom"

// Option configures Instrument or NewWebhooks.
type Option func(*config) error

// config is what the Options set.
type config struct {
	tp          trace.TracerProvider
	mp          metric.MeterProvider
	propagators propagation.TextMapPropagator
}

// WithTracerProvider makes spans with tp instead of the global
// TracerProvider. A nil tp is refused.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) error {
		if tp == nil {
			return errors.New("WithTracerProvider: nil TracerProvider")
		}
		c.tp = tp
		return nil
	}
}

// WithMeterProvider records metrics with mp instead of the global
// MeterProvider. A nil mp is refused.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) error {
		if mp == nil {
			return errors.New("WithMeterProvider: nil MeterProvider")
		}
		c.mp = mp
		return nil
	}
}

// WithPropagators injects the context of each attempt's span into its
// request headers (and, for webhooks, extracts a delivery's parent from
// them) with p instead of the global propagator, such as
// propagation.TraceContext{} for W3C traceparent. A nil p is refused.
func WithPropagators(p propagation.TextMapPropagator) Option {
	return func(c *config) error {
		if p == nil {
			return errors.New("WithPropagators: nil TextMapPropagator")
		}
		c.propagators = p
		return nil
	}
}

// newConfig applies opts over the global providers; where names the
// caller for the error.
func newConfig(where string, opts []Option) (*config, error) {
	c := &config{
		tp:          otel.GetTracerProvider(),
		mp:          otel.GetMeterProvider(),
		propagators: otel.GetTextMapPropagator(),
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(c); err != nil {
			return nil, fmt.Errorf("otelbotonom: %s: %w", where, err)
		}
	}
	return c, nil
}

// tracer is the package's tracer from c's provider.
func (c *config) tracer() trace.Tracer {
	return c.tp.Tracer(ScopeName,
		trace.WithInstrumentationVersion(botonom.Version),
		trace.WithSchemaURL(semconv.SchemaURL))
}

// meter is the package's meter from c's provider.
func (c *config) meter() metric.Meter {
	return c.mp.Meter(ScopeName,
		metric.WithInstrumentationVersion(botonom.Version),
		metric.WithSchemaURL(semconv.SchemaURL))
}

// Instrument returns a botonom.Option that traces and measures every call
// of a client (given to botonom.NewClient) or one call (given to one
// method call): a span per call, a CLIENT span per attempt inside it, the
// waits as events, the trace context injected in every attempt's headers,
// and the metrics listed in the package doc.
//
// The instruments are made once, here: give the same Option to every call
// rather than calling Instrument for each, and give it once per call.
// Given twice to one call (to the client and again to the call, the same
// Option or two), each draws and ends its own spans and records its own
// metrics: a call span inside the other, both ended with the call's
// result (the same Option twice puts the waits' events on the inner one).
// A bad option (a nil provider)
// makes NewClient, or the call, fail with an error that matches
// botonom.ErrInvalidArgument.
func Instrument(opts ...Option) botonom.Option {
	c, err := newConfig("Instrument", opts)
	var in *clientInstrumentation
	if err == nil {
		in, err = newClientInstrumentation(c)
	}
	if err != nil {
		return failed[botonom.Option](err)
	}
	return bundle(botonom.WithCallTrace(in.callTrace()), botonom.WithMiddleware(in.middleware))
}

// bundle is one option made of several, applied in order: a botonom.Option
// takes the SDK's unexported config, which this package cannot name, but
// can pass along.
func bundle[O ~func(C) error, C any](opts ...O) O {
	return func(c C) error {
		for _, opt := range opts {
			if err := opt(c); err != nil {
				return err
			}
		}
		return nil
	}
}

// failed is an option that fails with err.
func failed[O ~func(C) error, C any](err error) O {
	return func(C) error { return err }
}
