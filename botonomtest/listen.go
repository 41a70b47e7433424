package botonomtest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"time"
)

// WithAddr makes the server listen on addr ("host:port", such as
// "127.0.0.1:12111"; port 0 picks a free one) instead of a random loopback
// port, for a fake API that other programs reach at a known address (the
// botonom command's mock). URL reports the address listened on. Start or
// NewServer fails if addr cannot be listened on.
func WithAddr(addr string) Option {
	return func(c *config) error {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("WithAddr: %w", err)
		}
		c.addr = addr
		return nil
	}
}

// WithRequestHook calls fn once per request with what Requests reports for
// it, when the answer is decided and before it is sent, so that a client
// holding its answer finds the request already seen by fn. Requests are
// answered concurrently: fn may run on several goroutines at once. The
// Request carries every header, Authorization included, so a log must
// leave the token out.
func WithRequestHook(fn func(Request)) Option {
	return func(c *config) error {
		if fn == nil {
			return errors.New("WithRequestHook: nil function")
		}
		c.onRequest = fn
		return nil
	}
}

// newHTTPServer starts h on addr, or on a random loopback port when addr
// is empty, reading a request's headers (at most maxHeaderBytes) within
// readTimeout, and closing a keep-alive connection idle for idleTimeout
// (without it, net/http waits for the next request's first 4 bytes for
// ever); serveHTTP bounds the body.
func newHTTPServer(addr string, h http.Handler, readTimeout, idleTimeout time.Duration) (*httptest.Server, error) {
	ts := httptest.NewUnstartedServer(h)
	ts.Config.ReadHeaderTimeout = readTimeout
	ts.Config.IdleTimeout = idleTimeout
	ts.Config.MaxHeaderBytes = maxHeaderBytes
	if addr != "" {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("WithAddr: %w", err)
		}
		_ = ts.Listener.Close() // the random loopback port it opened
		ts.Listener = l
	}
	ts.Start()
	return ts, nil
}

// hook hands a copy of rec to the WithRequestHook function, if any.
func (s *Server) hook(rec Request) {
	if s.onRequest == nil {
		return
	}
	rec.Query = cloneValues(rec.Query)
	rec.Header = rec.Header.Clone()
	rec.Body = bytes.Clone(rec.Body)
	s.onRequest(rec)
}
