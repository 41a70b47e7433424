package botonom

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stallProxy is a TCP proxy on 127.0.0.1 in front of a backend. Until
// stall, it forwards both ways; from then on, the connections open at that
// moment carry nothing either way and stay open, as a peer behind a black
// hole does (no RST, no FIN). Connections accepted later are forwarded.
type stallProxy struct {
	ln       net.Listener
	backend  string
	accepted atomic.Int64
	hungUp   chan struct{} // closed when a client closes a stalled connection
	hangUp   sync.Once
	mu       sync.Mutex
	stalls   []*atomic.Bool // one per connection accepted
	conns    []net.Conn
	wg       sync.WaitGroup
}

func newStallProxy(t *testing.T, backend string) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &stallProxy{ln: ln, backend: backend, hungUp: make(chan struct{})}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *stallProxy) serve() {
	defer p.wg.Done()
	for {
		down, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.accepted.Add(1)
		up, err := net.Dial("tcp", p.backend)
		if err != nil {
			_ = down.Close()
			continue
		}
		stalled := new(atomic.Bool)
		p.mu.Lock()
		p.stalls = append(p.stalls, stalled)
		p.conns = append(p.conns, down, up)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(up, down, stalled, true)
		go p.pipe(down, up, stalled, false)
	}
}

// pipe copies src to dst until src ends, dropping what it reads once
// stalled; then it closes both.
func (p *stallProxy) pipe(dst, src net.Conn, stalled *atomic.Bool, fromClient bool) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !stalled.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			if fromClient && stalled.Load() && errors.Is(err, io.EOF) {
				p.hangUp.Do(func() { close(p.hungUp) })
			}
			break
		}
	}
	_ = src.Close()
	_ = dst.Close()
}

// stall stops forwarding on every connection open now.
func (p *stallProxy) stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.stalls {
		s.Store(true)
	}
}

func TestDefaultTransport_SilentHTTP2ConnectionIsAbandoned(t *testing.T) {
	srv := newTLSServer(t, true, nil)
	proxy := newStallProxy(t, srv.Listener.Addr().String())
	c, err := NewClient(benchToken, WithBaseURL("https://"+proxy.ln.Addr().String()+"/v1/"),
		WithRetryWait(time.Millisecond, 2*time.Millisecond))
	require.NoError(t, err)
	tr := defaultTransportOf(t, c)
	t.Cleanup(tr.CloseIdleConnections)
	tr.TLSClientConfig = &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}

	// The SDK's transport checks the health of its HTTP/2 connections, so
	// that a dead one is left within about a minute.
	h2 := tr.HTTP2
	require.NotNil(t, h2, "HTTP/2 settings on the default transport")
	assert.Positive(t, h2.SendPingTimeout, "a ping after a read-idle period")
	assert.Positive(t, h2.PingTimeout)
	assert.LessOrEqual(t, h2.SendPingTimeout+h2.PingTimeout, time.Minute)
	// The same checks, a hundred times faster or more, for the test.
	h2.SendPingTimeout = min(h2.SendPingTimeout, 100*time.Millisecond)
	h2.PingTimeout = min(h2.PingTimeout, 100*time.Millisecond)

	_, _, err = c.Agents.Get(context.Background(), benchAgentID)
	require.NoError(t, err)
	require.Equal(t, int64(1), proxy.accepted.Load())
	require.Equal(t, map[string]int64{"HTTP/2.0": 1}, srv.protoCounts())

	proxy.stall() // the connection goes silent: the next call is sent into it
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	_, resp, err := c.Agents.Get(ctx, benchAgentID)
	require.NoError(t, err, "the call moves to a new connection")
	assert.Less(t, time.Since(start), 3*time.Second)
	assert.Equal(t, 200, resp.StatusCode)
	select {
	case <-proxy.hungUp:
	case <-time.After(time.Second):
		t.Error("the client did not close the silent connection")
	}
	assert.Equal(t, int64(2), proxy.accepted.Load(), "one new connection")
	assert.Equal(t, map[string]int64{"HTTP/2.0": 2}, srv.protoCounts())
}
