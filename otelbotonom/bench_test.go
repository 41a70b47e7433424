package otelbotonom_test

// BenchmarkInstrument measures what instrumentation adds to a call, in the
// same run, against the same in-process server answering the same bytes:
//
//   - none: a client without Instrument, the baseline;
//   - noop: Instrument with the no-op tracer and meter providers (what a
//     program that imports the package but exports nothing pays; the
//     target is at most 1.05× the time and +10 allocations of none);
//   - sdk: Instrument with the OpenTelemetry SDK, every span sampled
//     (AlwaysSample) and batched to an exporter that drops them, metrics
//     aggregated for a reader.
//
// The server runs in the process, so its share of each call is in every
// row alike: compare rows, not absolute numbers.
//
//	go test -run '^$' -bench Instrument -benchmem -count 6 ./otelbotonom

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/otelbotonom"
)

var benchMessageJSON = []byte(`{"id":"msg_789","status":"delivered","agent_id":"agt_abc123","created_at":"2026-02-18T14:30:00Z"}`)

// benchRow is one way to build the client a benchmark calls with.
type benchRow struct {
	name string
	opts []botonom.Option
}

// benchSetup starts the server every row calls, and returns the rows.
func benchSetup(tb testing.TB) (baseURL string, rows []benchRow) {
	reset := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("X-Request-Id", "req_8f3a2b1c")
		h.Set("X-RateLimit-Limit", "500")
		h.Set("X-RateLimit-Remaining", "499")
		h.Set("X-RateLimit-Reset", reset)
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(benchMessageJSON)
	}))
	tb.Cleanup(srv.Close)

	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	tb.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	return srv.URL + "/v1/", []benchRow{
		{"none", nil},
		{"noop", []botonom.Option{otelbotonom.Instrument(
			otelbotonom.WithTracerProvider(tracenoop.NewTracerProvider()),
			otelbotonom.WithMeterProvider(metricnoop.NewMeterProvider()),
			otelbotonom.WithPropagators(propagation.TraceContext{}))}},
		{"sdk", []botonom.Option{otelbotonom.Instrument(
			otelbotonom.WithTracerProvider(tp),
			otelbotonom.WithMeterProvider(mp),
			otelbotonom.WithPropagators(propagation.TraceContext{}))}},
	}
}

var benchSend = &botonom.SendMessageRequest{Content: "Book a table for 4 at 7pm tomorrow",
	Metadata: map[string]string{"customer_id": "cust_456", "priority": "normal"}}

// benchCall returns a function that sends one message with a client of
// row, warmed (a connection open, the route's attributes built).
func benchCall(tb testing.TB, baseURL string, row benchRow) func() {
	client, err := botonom.NewClient("btm_sk_bench", append([]botonom.Option{botonom.WithBaseURL(baseURL)}, row.opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	send := func() {
		if _, _, err := client.Agents.SendMessage(context.Background(), "agt_abc123", benchSend); err != nil {
			tb.Fatal(err)
		}
	}
	send()
	return send
}

func BenchmarkInstrument(b *testing.B) {
	baseURL, rows := benchSetup(b)
	for _, row := range rows {
		b.Run(row.name, func(b *testing.B) {
			send := benchCall(b, baseURL, row)
			b.ReportAllocs()
			for b.Loop() {
				send()
			}
		})
	}
}

// BenchmarkInstrumentInterleaved is BenchmarkInstrument with the three rows
// taking turns, call by call, so that a busy machine slows each alike: it
// reports each row's median time per call and the ratios to none.
func BenchmarkInstrumentInterleaved(b *testing.B) {
	baseURL, rows := benchSetup(b)
	sends := make([]func(), len(rows))
	took := make([][]time.Duration, len(rows))
	for i, row := range rows {
		sends[i] = benchCall(b, baseURL, row)
		took[i] = make([]time.Duration, 0, b.N)
	}
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		for i, send := range sends {
			start := time.Now()
			send()
			took[i] = append(took[i], time.Since(start))
		}
	}
	b.StopTimer()
	medians := make([]float64, len(rows))
	for i, row := range rows {
		slices.Sort(took[i])
		medians[i] = float64(took[i][len(took[i])/2])
		b.ReportMetric(medians[i], row.name+"-ns/call")
	}
	for i, row := range rows[1:] {
		b.ReportMetric(medians[i+1]/medians[0], row.name+"/none")
	}
	b.ReportMetric(0, "ns/op") // the rows' own figures above say it
}

// With no-op providers, instrumentation adds at most 10 allocations to a
// call (the budget; today about 4).
func TestInstrument_NoopCostsFewAllocations(t *testing.T) {
	baseURL, rows := benchSetup(t)
	none := testing.AllocsPerRun(200, benchCall(t, baseURL, rows[0]))
	noop := testing.AllocsPerRun(200, benchCall(t, baseURL, rows[1]))
	if noop > none+10 {
		t.Errorf("a call with no-op providers makes %.1f allocations, %.1f more than without Instrument; want at most 10 more", noop, noop-none)
	}
	t.Logf("allocations per call: none %.1f, noop %.1f", none, noop)
}
