package botonom

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rawServer is a TCP server that answers every connection with the bytes
// answer returns as soon as it accepts it, before reading any of the
// request, then reads (and discards) what comes until the client closes.
type rawServer struct {
	ln   net.Listener
	url  string
	wg   sync.WaitGroup
	mu   sync.Mutex
	hits int
}

func newRawServer(t *testing.T, answer func(n int) string) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &rawServer{ln: ln, url: "http://" + ln.Addr().String() + "/v1/"}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			n := s.hits
			s.hits++
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer conn.Close()
				_, _ = io.WriteString(conn, answer(n))
				_, _ = io.Copy(io.Discard, conn)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *rawServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits
}

// A server (or proxy) that answers before it has read the request: the
// writer of one attempt may still be reading that attempt's header map
// while the next attempt is numbered and the call ends. Each attempt has
// its own map, and the token is forgotten from a copy: under -race, clean.
func TestRetry_AnswerBeforeTheRequestIsReadRacesNoHeaderMap(t *testing.T) {
	const answer = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
	s := newRawServer(t, func(int) string { return answer })
	// An answer that comes before the request is even assigned to the
	// connection makes net/http log "Unsolicited response" and fail that
	// attempt: a transport error, retried too. Keep the test's output clean.
	log.SetOutput(io.Discard)
	t.Cleanup(func() { log.SetOutput(os.Stderr) })
	c, err := NewClient(testToken, WithBaseURL(s.url), WithMaxRetries(3), WithRetryWait(time.Millisecond, time.Millisecond))
	require.NoError(t, err)
	const calls = 160
	var wg sync.WaitGroup
	var limited atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range calls / 4 {
				_, resp, err := c.Agents.SendMessage(context.Background(), "agt_1", &SendMessageRequest{Content: "hi"})
				var rl *RateLimitError
				if errors.As(err, &rl) {
					limited.Add(1)
					assert.Equal(t, 4, rl.Attempts)
					require.NotNil(t, resp)
					assert.Empty(t, resp.Request.Header.Get("Authorization"), "the token is forgotten")
					assert.Equal(t, "3", resp.Request.Header.Get(headerRetryCount))
				}
			}
		}()
	}
	wg.Wait()
	assert.GreaterOrEqual(t, s.count(), calls, "every call was sent")
	assert.Positive(t, limited.Load(), "calls answered 429 to the end")
}

// Do decodes into a non-nil pointer, or discards with a nil v; anything
// else is refused before a request is sent (it used to be sent, retried,
// then panic inside reflect).
func TestDo_VThatIsNotAPointerIsRefusedBeforeSending(t *testing.T) {
	srv := newAttemptServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		fmt.Fprint(w, `{"id":"agt_1"}`)
	})
	c := srv.client(t)
	for name, v := range map[string]any{
		"struct":            Agent{},
		"map":               map[string]any{},
		"string":            "x",
		"typed nil pointer": (*Agent)(nil),
	} {
		t.Run(name, func(t *testing.T) {
			req, err := c.NewRequest(context.Background(), http.MethodGet, "agents/agt_1", nil)
			require.NoError(t, err)
			resp, err := c.Do(req, v)
			assert.ErrorIs(t, err, ErrInvalidArgument)
			assert.Nil(t, resp)
		})
	}
	assert.Zero(t, srv.count(), "nothing is sent")

	req, err := c.NewRequest(context.Background(), http.MethodGet, "agents/agt_1", nil)
	require.NoError(t, err)
	resp, err := c.Do(req, nil)
	require.NoError(t, err, "nil discards the body")
	assert.Equal(t, 200, resp.StatusCode)
	var agent Agent
	req, err = c.NewRequest(context.Background(), http.MethodGet, "agents/agt_1", nil)
	require.NoError(t, err)
	_, err = c.Do(req, &agent)
	require.NoError(t, err)
	assert.Equal(t, "agt_1", agent.ID)
	assert.Equal(t, 2, srv.count())
}

// A response with a nil Body — from a caller's RoundTripper (net/http's
// Client accepts that) or from a middleware answering on its own — is an
// empty body, with or without WithTimeout; a nil response with a nil error
// is an error. None panics.
func TestDo_NilResponseBodyIsAnEmptyBody(t *testing.T) {
	nilBody := func(status int) func(*http.Request) (*http.Response, error) {
		return func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: status, Header: http.Header{}, Request: r}, nil
		}
	}
	viaTransport := func(status int) []Option {
		return []Option{WithHTTPClient(&http.Client{Transport: roundTripFunc(nilBody(status))})}
	}
	viaMiddleware := func(status int) []Option {
		return []Option{WithMiddleware(func(r *http.Request, _ MiddlewareNext) (*http.Response, error) { return nilBody(status)(r) })}
	}
	for name, opts := range map[string]func(int) []Option{"caller's RoundTripper": viaTransport, "middleware": viaMiddleware} {
		for _, timeout := range []time.Duration{0, time.Minute} {
			t.Run(fmt.Sprintf("%s, WithTimeout(%v)", name, timeout), func(t *testing.T) {
				o := append(opts(200), WithBaseURL("https://api.example.test/v1/"), WithMaxRetries(1), WithRetryWait(time.Millisecond, time.Millisecond))
				if timeout > 0 {
					o = append(o, WithTimeout(timeout))
				}
				c, err := NewClient(testToken, o...)
				require.NoError(t, err)
				req, err := c.NewRequest(context.Background(), http.MethodGet, "agents/agt_1", nil)
				require.NoError(t, err)
				var v map[string]any
				resp, err := c.Do(req, &v)
				require.NoError(t, err)
				assert.Equal(t, 200, resp.StatusCode)
				assert.Nil(t, v, "an empty body leaves v untouched")

				_, _, err = c.Agents.Get(context.Background(), "agt_1")
				assert.ErrorContains(t, err, "empty body")

				o = append(opts(503), o[1:]...)
				c, err = NewClient(testToken, o...)
				require.NoError(t, err)
				_, resp, err = c.Agents.Get(context.Background(), "agt_1")
				assert.ErrorIs(t, err, ErrServer)
				require.NotNil(t, resp)
				assert.Equal(t, 503, resp.StatusCode)
			})
		}
	}
	c, err := NewClient(testToken, WithMiddleware(func(*http.Request, MiddlewareNext) (*http.Response, error) { return nil, nil }), WithMaxRetries(0))
	require.NoError(t, err)
	_, _, err = c.Agents.Get(context.Background(), "agt_1")
	assert.ErrorContains(t, err, "neither an answer nor an error")
}

// An https:// base URL against a plain-HTTP server is a TLS failure like
// any other: not retried (matched once, by http.ErrSchemeMismatch, in
// retryableTransportError).
func TestRetry_HTTPAnswerToHTTPSIsNotRetried(t *testing.T) {
	s := newRawServer(t, func(int) string { return "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n" })
	c, err := NewClient(testToken, WithBaseURL(strings.Replace(s.url, "http://", "https://", 1)),
		WithMaxRetries(3), WithRetryWait(time.Millisecond, time.Millisecond))
	require.NoError(t, err)
	_, _, err = c.Agents.Get(context.Background(), "agt_1")
	assert.ErrorIs(t, err, http.ErrSchemeMismatch)
	assert.NotContains(t, err.Error(), "attempts")
	assert.Equal(t, 1, s.count(), "one connection: not retried")
}

// A 2xx body read to its end that does not decode is final after exactly
// one request, whatever the decode error — here a field's UnmarshalJSON
// (time.Time refusing "yesterday"), and JSON that stops early in a body
// of exactly its Content-Length — for a GET and a POST with its key alike.
// (A body whose read fails is cut short and retried:
// TestFault_ConnectionClosedHalfwayThroughTheAnswer.)
func TestDecode_WholeBodyThatDoesNotDecodeIsFinal(t *testing.T) {
	for name, body := range map[string]string{
		"UnmarshalJSON error":  `{"id":"x","created_at":"yesterday"}`,
		"JSON cut, body whole": `{"id":"x",`,
	} {
		t.Run(name, func(t *testing.T) {
			srv := newAttemptServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
				w.Header().Set("X-Request-Id", "req_whole")
				w.Header().Set("Content-Length", fmt.Sprint(len(body)))
				if r.Method == http.MethodPost {
					w.WriteHeader(201)
				}
				_, _ = io.WriteString(w, body)
			})
			c := srv.client(t, WithMaxRetries(3))
			_, _, err := c.Agents.Get(context.Background(), "agt_1")
			assert.ErrorContains(t, err, "decode response (request req_whole)")
			assert.Equal(t, 1, srv.count(), "GET: one request")

			_, _, err = c.Agents.SendMessage(context.Background(), "agt_1", &SendMessageRequest{Content: "hi"})
			assert.ErrorContains(t, err, "decode response (request req_whole)")
			assert.Equal(t, []string{"GET", "POST"}, srv.methods(), "POST: one request")
		})
	}
}

// WithTimeout bounds one attempt, its redirect hops included: five hops
// of 60 ms each under WithTimeout(150ms) run out (they used to succeed,
// each hop getting its own 150 ms).
func TestTimeout_WithTimeoutBoundsTheAttemptsRedirectHops(t *testing.T) {
	srv := newAttemptServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		time.Sleep(60 * time.Millisecond)
		if n < 4 {
			http.Redirect(w, r, fmt.Sprintf("/v1/agents/hop%d", n+1), http.StatusFound)
			return
		}
		writeStatus(w, 200)
	})
	c := srv.client(t, WithMaxRetries(0))
	_, _, err := c.Agents.Get(context.Background(), "hop0", WithTimeout(150*time.Millisecond))
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, srv.count(), 5, "the hops after the deadline are not sent")
}

// A redirect hop is a request sent within its attempt: it counts in
// Attempts, waits for the Limiter, and carries its attempt's
// X-Botonom-Retry-Count.
func TestRedirect_HopsCountAsRequestsSentWithinTheirAttempt(t *testing.T) {
	srv := newAttemptServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch {
		case r.URL.Path == "/v1/agents/start":
			http.Redirect(w, r, "/v1/agents/end", http.StatusFound)
		case n == 1:
			writeStatus(w, 503)
		default:
			writeStatus(w, 404)
		}
	})
	lim := &countingLimiter{}
	_, _, err := srv.client(t, WithMaxRetries(1), WithLimiter(lim)).Agents.Get(context.Background(), "start")
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 404, apiErr.StatusCode)
	assert.Equal(t, 4, apiErr.Attempts, "two attempts of two requests each")
	assert.Equal(t, 4, int(lim.calls.Load()), "the Limiter is asked before every request sent")
	assert.Equal(t, []string{"0", "0", "1", "1"}, srv.header(headerRetryCount), "a hop carries its attempt's number")
}

// A body that stops after the headers: every read of it is bounded by
// default, on the SDK's own transport (the body within DefaultTimeout of
// its headers; scaled down here) and on a caller's http.Client without a
// Timeout (the whole attempt within DefaultTimeout) — a 2xx decoded, a
// 2xx discarded by Do, a 503's error body, a redirect's body — with
// context.Background and nothing else to end the call.
func TestTimeout_DefaultBoundsABodyThatStopsAfterTheHeaders(t *testing.T) {
	stall := func(status int) func(w http.ResponseWriter, r *http.Request, n int) {
		return func(w http.ResponseWriter, r *http.Request, n int) {
			if status == http.StatusFound {
				w.Header().Set("Location", "/v1/agents/agt_2")
			}
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(status)
			fmt.Fprint(w, `{"id":`)
			w.(http.Flusher).Flush()
			<-r.Context().Done() // the rest never comes
		}
	}
	scaled := 100 * time.Millisecond // DefaultTimeout, scaled down
	clients := map[string]func(t *testing.T, srv *attemptServer) *Client{
		"SDK's transport": func(t *testing.T, srv *attemptServer) *Client {
			c := srv.client(t, WithMaxRetries(1))
			_, tr := sdkTransport(t, c)
			assert.Equal(t, DefaultTimeout, tr.bodyTimeout)
			tr.bodyTimeout = scaled
			return c
		},
		"caller's http.Client": func(t *testing.T, srv *attemptServer) *Client {
			c := srv.client(t, WithMaxRetries(1), WithHTTPClient(&http.Client{}))
			tr := c.hc.HTTPClient.Transport.(*transport)
			assert.Equal(t, DefaultTimeout, tr.defaultTimeout)
			tr.defaultTimeout = scaled
			return c
		},
	}
	for name, newClient := range clients {
		t.Run(name, func(t *testing.T) {
			t.Run("2xx decoded", func(t *testing.T) {
				srv := newAttemptServer(t, stall(200))
				_, _, err := newClient(t, srv).Agents.Get(context.Background(), "agt_1")
				assert.ErrorIs(t, err, context.DeadlineExceeded)
				assert.ErrorContains(t, err, "decode response")
				assert.Equal(t, 2, srv.count(), "a body that does not arrive whole is retried")
			})
			t.Run("2xx discarded", func(t *testing.T) {
				srv := newAttemptServer(t, stall(200))
				c := newClient(t, srv)
				req, err := c.NewRequest(context.Background(), http.MethodGet, "agents/agt_1", nil)
				require.NoError(t, err)
				resp, err := c.Do(req, nil)
				require.NoError(t, err, "the answer is a 200: the body is drained, then closed")
				assert.Equal(t, 200, resp.StatusCode)
			})
			t.Run("503 error body", func(t *testing.T) {
				srv := newAttemptServer(t, stall(503))
				_, _, err := newClient(t, srv).Agents.Get(context.Background(), "agt_1")
				assert.ErrorIs(t, err, ErrServer)
				assert.Equal(t, 2, srv.count())
			})
			t.Run("redirect body", func(t *testing.T) {
				srv := newAttemptServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
					if r.URL.Path == "/v1/agents/agt_2" {
						writeStatus(w, 200)
						return
					}
					stall(http.StatusFound)(w, r, n)
				})
				start := time.Now()
				_, _, _ = newClient(t, srv).Agents.Get(context.Background(), "agt_1")
				assert.Less(t, time.Since(start), 5*time.Second, "net/http reads a redirect's body, under the bound")
			})
		})
	}
}
