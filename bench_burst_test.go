package botonom

// Benchmarks for the issue "a burst of first calls over TLS opens a
// connection per caller": the SDK's default transport (behind its
// dialGate) against the same tuned *http.Transport without the gate, and
// against golang.org/x/net/http2.Transport (which single-flights its
// dials, but speaks HTTP/2 only and knows no proxy), in the same run,
// against one HTTP/2 TLS httptest.Server. Every side is the SDK's Client;
// only the transport under it differs.

import (
	"context"
	"crypto/tls"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

const (
	benchBurstGoroutines = 64
	benchBurstCalls      = 20 // per goroutine
)

// benchBurstSides are the transports compared: each returns a new client
// with a cold pool, trusting srv, and a function closing its connections.
func benchBurstSides(srv *tlsServer) []struct {
	name   string
	client func(b *testing.B) (*Client, func())
} {
	roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	sdk := func(b *testing.B, hc *http.Client) *Client {
		opts := []Option{WithBaseURL(srv.URL + "/v1/")}
		if hc != nil {
			opts = append(opts, WithHTTPClient(hc))
		}
		c, err := NewClient(benchToken, opts...)
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	return []struct {
		name   string
		client func(b *testing.B) (*Client, func())
	}{
		{"sdk-default", func(b *testing.B) (*Client, func()) {
			c := sdk(b, nil)
			tr := defaultTransportOf(b, c)
			tr.TLSClientConfig = &tls.Config{RootCAs: roots}
			return c, tr.CloseIdleConnections
		}},
		{"tuned-http.Transport", func(b *testing.B) (*Client, func()) {
			// The SDK's own clone, taken from behind its gate.
			tr := defaultTransportOf(b, sdk(b, nil))
			tr.TLSClientConfig = &tls.Config{RootCAs: roots}
			return sdk(b, &http.Client{Transport: tr}), tr.CloseIdleConnections
		}},
		{"x-net-http2.Transport", func(b *testing.B) (*Client, func()) {
			// x/net deprecates its Transport for net/http's: the comparison is on purpose.
			//lint:ignore SA1019 the baseline this benchmark compares against
			tr := &http2.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
			//lint:ignore SA1019 the baseline this benchmark compares against
			return sdk(b, &http.Client{Transport: tr}), tr.CloseIdleConnections
		}},
	}
}

// BenchmarkTLSBurst: per op, a new client makes 64 goroutines × 20
// SendMessage, first calls included, on an HTTP/2 TLS server. Metrics:
//
//	conns/burst  TLS connections the server accepted during the burst
//	ms/burst     wall time of the burst (handshakes included)
func BenchmarkTLSBurst(b *testing.B) {
	srv := newTLSServer(b, true, nil)
	for _, side := range benchBurstSides(srv) {
		b.Run(side.name, func(b *testing.B) {
			var conns int64
			var wall time.Duration
			for range b.N {
				c, closeIdle := side.client(b)
				before := srv.conns.Load()
				took, err := benchRunConcurrent(benchSDKSender(c), benchBurstGoroutines, benchBurstCalls)
				if err != nil {
					b.Fatal(err)
				}
				conns += srv.conns.Load() - before
				wall += took
				closeIdle()
			}
			b.ReportMetric(float64(conns)/float64(b.N), "conns/burst")
			b.ReportMetric(float64(wall.Microseconds())/1000/float64(b.N), "ms/burst")
		})
	}
}

// BenchmarkSendMessageTLS: one SendMessage at a time on a warm HTTP/2
// connection, the SDK's default transport (its gate open) against the same
// transport without the gate: what the gate costs a call once it is open.
func BenchmarkSendMessageTLS(b *testing.B) {
	srv := newTLSServer(b, true, nil)
	for _, side := range benchBurstSides(srv)[:2] {
		b.Run(side.name, func(b *testing.B) {
			c, closeIdle := side.client(b)
			defer closeIdle()
			send := benchSDKSender(c)
			if err := send(context.Background()); err != nil { // warm: the connection, the gate
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := send(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
