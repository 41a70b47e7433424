package botonom

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/botonom/botonom-go/internal/faultnet"
)

// faultServer is a real HTTP server on a faultnet listener: each
// connection meets the fault the plan gives it. The handler stores POSTs
// by Idempotency-Key, as the API does, and answers an agent.
type faultServer struct {
	ln     *faultnet.Listener
	url    string
	mu     sync.Mutex
	hits   int
	stored map[string]int
}

func newFaultServer(t *testing.T, plan func(int) faultnet.Fault) *faultServer {
	t.Helper()
	s := &faultServer{stored: map[string]int{}}
	srv, ln := faultnet.NewServer(t, plan, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		s.mu.Lock()
		s.hits++
		if r.Method == http.MethodPost {
			s.stored[r.Header.Get("Idempotency-Key")]++
		}
		s.mu.Unlock()
		w.Header().Set("X-Request-Id", "req_fault")
		if r.Method == http.MethodPost {
			writeStatus(w, 201)
			return
		}
		body := `{"id":"agt_1","name":"Reservations","description":"` + strings.Repeat("x", 1000) + `"}`
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		_, _ = io.WriteString(w, body)
	}))
	s.ln, s.url = ln, srv.URL+"/v1/"
	return s
}

func (s *faultServer) client(t *testing.T, opts ...Option) *Client {
	t.Helper()
	c, err := NewClient(testToken, append([]Option{WithBaseURL(s.url), WithRetryWait(time.Millisecond, 5*time.Millisecond)}, opts...)...)
	require.NoError(t, err)
	return c
}

func (s *faultServer) handled() (hits int, stored map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits, s.stored
}

// A connection reset on a real socket: before the request is read
// (nothing done) or after the handler acted, at the first byte of the
// answer. GET and a POST with its Idempotency-Key are sent again on a new
// connection; the POST carries the same key, so a server that stores by
// key (as the API does, and the handler here) stores it once. A POST
// without a key is not sent again: the caller gets the transport error.
func TestFault_ConnectionResetBeforeTheAnswer(t *testing.T) {
	for _, f := range []struct {
		name  string
		fault faultnet.Fault
		acted int // handler runs of the faulty attempt
	}{
		{"on accept", faultnet.ResetOnAccept, 0},
		{"after the handler acted", faultnet.ResetBeforeAnswer, 1},
	} {
		t.Run(f.name+"/GET", func(t *testing.T) {
			s := newFaultServer(t, faultnet.Script(f.fault))
			agent, _, err := s.client(t).Agents.Get(context.Background(), "agt_1")
			require.NoError(t, err)
			assert.Equal(t, "agt_1", agent.ID)
			hits, _ := s.handled()
			assert.Equal(t, 1+f.acted, hits)
			assert.Equal(t, 2, s.ln.Accepted(), "a new connection for the retry")
		})
		t.Run(f.name+"/POST with key", func(t *testing.T) {
			s := newFaultServer(t, faultnet.Script(f.fault, f.fault))
			msg, _, err := s.client(t).Agents.SendMessage(context.Background(), "agt_1", &SendMessageRequest{Content: "hi"})
			require.NoError(t, err)
			assert.Equal(t, "msg_1", msg.ID)
			_, stored := s.handled()
			require.Len(t, stored, 1, "one key for every attempt")
			for _, n := range stored {
				assert.Equal(t, 1+2*f.acted, n, "attempts that reached the handler, all with the same key")
			}
			assert.Equal(t, 3, s.ln.Accepted())
		})
		t.Run(f.name+"/POST without key", func(t *testing.T) {
			s := newFaultServer(t, faultnet.Script(f.fault))
			c := s.client(t)
			req, err := c.NewRequest(context.Background(), http.MethodPost, "agents/agt_1/message", map[string]string{"content": "hi"})
			require.NoError(t, err)
			req.Header.Del("Idempotency-Key")
			_, err = c.Do(req, nil)
			require.Error(t, err)
			var apiErr *APIError
			assert.False(t, errors.As(err, &apiErr), "no answer, no APIError: %v", err)
			assert.Equal(t, 1, s.ln.Accepted(), "not sent again")
		})
	}
}

// The connection closes halfway through the answer. Cut in the headers,
// it is a transport error and a GET is retried. Cut in the body of a 200,
// it is NOT retried: the retry loop decides on the status line and
// headers, and the SDK decodes the body after it; the caller gets a
// decode error that wraps io.ErrUnexpectedEOF and names the request ID.
func TestFault_ConnectionClosedHalfwayThroughTheAnswer(t *testing.T) {
	t.Run("in the headers: retried", func(t *testing.T) {
		s := newFaultServer(t, faultnet.Script(faultnet.CutAfter(20)))
		agent, _, err := s.client(t).Agents.Get(context.Background(), "agt_1")
		require.NoError(t, err)
		assert.Equal(t, "agt_1", agent.ID)
		assert.Equal(t, 2, s.ln.Accepted())
	})
	t.Run("in the body of a GET: retried", func(t *testing.T) {
		s := newFaultServer(t, faultnet.Script(faultnet.CutAfter(400)))
		agent, resp, err := s.client(t).Agents.Get(context.Background(), "agt_1")
		require.NoError(t, err, "a body that fails to arrive whole is a failed attempt")
		assert.Equal(t, "agt_1", agent.ID)
		assert.Equal(t, strings.Repeat("x", 1000), agent.Description, "the retry's answer, whole")
		assert.Equal(t, 200, resp.StatusCode)
		assert.Equal(t, 2, s.ln.Accepted())
	})
	t.Run("in the body, every time: the cut is the error", func(t *testing.T) {
		s := newFaultServer(t, faultnet.Always(faultnet.CutAfter(400)))
		agent, resp, err := s.client(t, WithMaxRetries(1)).Agents.Get(context.Background(), "agt_1")
		require.Error(t, err)
		assert.Nil(t, agent)
		require.NotNil(t, resp)
		assert.Equal(t, 200, resp.StatusCode)
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
		assert.ErrorContains(t, err, "decode response (request req_fault)")
		assert.ErrorContains(t, err, "after 2 attempts")
		assert.Equal(t, 2, s.ln.Accepted())
	})
	t.Run("in the body of a POST without key: not retried", func(t *testing.T) {
		s := newFaultServer(t, faultnet.Script(faultnet.CutAfter(150)))
		c := s.client(t)
		req, err := c.NewRequest(context.Background(), "POST", "agents/agt_1/message", &SendMessageRequest{Content: "hi"})
		require.NoError(t, err)
		req.Header.Del("Idempotency-Key")
		var msg Message
		_, err = c.Do(req, &msg)
		require.ErrorIs(t, err, io.ErrUnexpectedEOF)
		assert.Equal(t, 1, s.ln.Accepted())
	})
}

// A server that accepts the connection and never answers: each attempt
// ends at WithTimeout, is retried, and the caller gets an error that
// matches context.DeadlineExceeded after 1+MaxRetries attempts.
func TestFault_HeadersNeverCome(t *testing.T) {
	s := newFaultServer(t, faultnet.Always(faultnet.BlackHole))
	start := time.Now()
	_, _, err := s.client(t, WithTimeout(50*time.Millisecond), WithMaxRetries(2)).Agents.Get(context.Background(), "agt_1")
	took := time.Since(start)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorContains(t, err, "after 3 attempts")
	assert.Equal(t, 3, s.ln.Accepted())
	assert.Less(t, took, 2*time.Second)
	t.Logf("3 attempts of 50 ms in %s", took)
}

// A server that answers 429 forever: 1+MaxRetries attempts, no more, in
// bounded time, then the *RateLimitError of the last answer.
func TestFault_429ForeverIsBounded(t *testing.T) {
	for _, retries := range []int{DefaultMaxRetries, 6} {
		t.Run(fmt.Sprint(retries), func(t *testing.T) {
			srv := newAttemptServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
				w.Header().Set("Retry-After", "0")
				w.Header().Set("X-Request-Id", fmt.Sprintf("req_%d", n))
				writeStatus(w, 429)
			})
			start := time.Now()
			err := send(srv.client(t, WithMaxRetries(retries)))
			var rle *RateLimitError
			require.ErrorAs(t, err, &rle)
			assert.ErrorIs(t, err, ErrRateLimited)
			assert.Equal(t, 1+retries, srv.count())
			assert.Equal(t, 1+retries, rle.Attempts)
			assert.Equal(t, fmt.Sprintf("req_%d", retries), rle.RequestID, "the last answer's error")
			assert.Less(t, time.Since(start), 2*time.Second)
		})
	}
}

// repeating is an endless reader of pattern; it counts what it gave.
type repeating struct {
	pattern []byte
	off     int
	n       int64
	max     int64
}

func (r *repeating) Read(p []byte) (int, error) {
	if r.n >= r.max {
		return 0, io.EOF
	}
	if int64(len(p)) > r.max-r.n {
		p = p[:r.max-r.n]
	}
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.pattern[r.off:])
		n += c
		r.off = (r.off + c) % len(r.pattern)
	}
	r.n += int64(n)
	return n, nil
}

// hugeBodyServer answers status with prefix and then 100 MiB of pattern,
// streamed (never held in memory); served reports the bytes that reached
// the socket.
func hugeBodyServer(t *testing.T, status int, prefix, pattern string) (url string, served func() int64) {
	srv, ln := faultnet.NewServer(t, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", "req_huge")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, prefix)
		buf := make([]byte, 32<<10)
		_, _ = io.CopyBuffer(w, &repeating{pattern: []byte(pattern), max: 100 << 20}, buf)
	}))
	return srv.URL + "/v1/", ln.Written
}

// totalAlloc runs fn and returns the bytes allocated meanwhile by the
// whole process (client and in-process server).
func totalAlloc(fn func()) uint64 {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A 100 MiB error body: the client reads at most its 1 MiB cap, allocates
// little (the figure is the whole process's, server included) and still
// returns the typed error with the status and request ID.
func TestHostile_HundredMiBErrorBody(t *testing.T) {
	url, served := hugeBodyServer(t, 400, `{"error":{"type":"invalid_request_error","message":"`, "xxxxxxxxxxxxxxxx")
	c, err := NewClient(testToken, WithBaseURL(url))
	require.NoError(t, err)
	var callErr error
	alloc := totalAlloc(func() { _, _, callErr = c.Agents.Get(context.Background(), "agt_1") })
	var apiErr *APIError
	require.ErrorAs(t, callErr, &apiErr)
	assert.Equal(t, 400, apiErr.StatusCode)
	assert.Equal(t, "req_huge", apiErr.RequestID)
	assert.Empty(t, apiErr.Message, "a body cut at the cap is not JSON")
	t.Logf("allocated %.2f MiB; server got %.2f MiB onto the socket", float64(alloc)/(1<<20), float64(served())/(1<<20))
	assert.Less(t, alloc, uint64(4<<20), "heap allocated while reading a 100 MiB error body")
	assert.Less(t, served(), int64(1<<20)+int64(16<<20), "1 MiB read, plus what socket buffers held")
}

// A 100 MiB success body: decoding stops at the response cap with an error
// that names the limit and the request ID; what the server could send is
// bounded by the cap plus socket buffers.
func TestHostile_HundredMiBSuccessBody(t *testing.T) {
	for _, limit := range []int64{1 << 20, DefaultMaxResponseSize} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			url, served := hugeBodyServer(t, 200, `{"id":"agt_1","name":"`, "aaaaaaaaaaaaaaaa")
			opts := []Option{WithBaseURL(url)}
			if limit != DefaultMaxResponseSize {
				opts = append(opts, WithMaxResponseSize(limit))
			}
			c, err := NewClient(testToken, opts...)
			require.NoError(t, err)
			var callErr error
			var agent *Agent
			alloc := totalAlloc(func() { agent, _, callErr = c.Agents.Get(context.Background(), "agt_1") })
			require.Error(t, callErr)
			assert.Nil(t, agent)
			assert.ErrorContains(t, callErr, fmt.Sprintf("exceeds the size limit (%d bytes)", limit))
			assert.ErrorContains(t, callErr, "request req_huge")
			t.Logf("cap %d MiB: allocated %.1f MiB; server got %.1f MiB onto the socket",
				limit>>20, float64(alloc)/(1<<20), float64(served())/(1<<20))
			assert.Less(t, served(), limit+16<<20, "the cap, plus what socket buffers held")
			assert.Less(t, alloc, uint64(6*limit+(4<<20)), "decoding one JSON string of the cap's size")
		})
	}
}

// Bodies a proxy or a buggy server may send with a 200, over a real socket.
func TestHostile_SuccessBodies(t *testing.T) {
	for name, tc := range map[string]struct {
		contentType, body string
		want              string // "" when it decodes
		check             func(t *testing.T, a *Agent)
	}{
		// encoding/json replaces each invalid UTF-8 byte with U+FFFD; the
		// call succeeds.
		"invalid UTF-8": {"application/json", "{\"id\":\"agt_1\",\"name\":\"caf\xff\xfe\"}", "", func(t *testing.T, a *Agent) {
			assert.Equal(t, "caf\uFFFD\uFFFD", a.Name)
		}},
		"unknown fields": {"application/json", `{"id":"agt_1","new_field":{"x":[1,2]},"name":"R"}`, "", func(t *testing.T, a *Agent) {
			assert.Equal(t, "R", a.Name)
		}},
		"wrong type":      {"application/json", `{"id":"agt_1","name":42}`, "Agent.name", nil},
		"HTML of a proxy": {"text/html", `<html><body><h1>Welcome to the hotel wifi</h1></body></html>`, "invalid character '<'", nil},
		"empty":           {"application/json", ``, "empty body", nil},
	} {
		t.Run(name, func(t *testing.T) {
			srv := newAttemptServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
				w.Header().Set("Content-Type", tc.contentType)
				w.Header().Set("X-Request-Id", "req_body")
				_, _ = io.WriteString(w, tc.body)
			})
			agent, resp, err := srv.client(t).Agents.Get(context.Background(), "agt_1")
			require.NotNil(t, resp)
			if tc.want == "" {
				require.NoError(t, err)
				tc.check(t, agent)
				return
			}
			require.Error(t, err)
			assert.Nil(t, agent)
			assert.ErrorContains(t, err, "decode response (request req_body)")
			assert.ErrorContains(t, err, tc.want)
			assert.Equal(t, 1, srv.count(), "a 200 is not retried")
		})
	}
}

// countFDs counts the open file descriptors of the process.
func countFDs(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(entries)
}

// 1,000 failing calls (404s, 500s and reset connections, retried or not)
// leave no file descriptor behind: every answer's body is closed, every
// broken connection released.
func TestLeak_FileDescriptorsAfterAThousandFailedCalls(t *testing.T) {
	srv := newAttemptServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch n % 3 {
		case 0:
			writeStatus(w, 404)
		case 1:
			writeStatus(w, 500)
		default:
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				_ = conn.Close()
			}
		}
	})
	c := srv.client(t, WithMaxRetries(1))
	_, _, _ = c.Agents.Get(context.Background(), "agt_1") // the pool's first connection
	before := countFDs(t)
	failed := 0
	for range 1000 {
		if _, _, err := c.Agents.Get(context.Background(), "agt_1"); err != nil {
			failed++
		}
	}
	after := countFDs(t)
	t.Logf("%d of 1000 calls failed, %d requests; fds %d before, %d after", failed, srv.count(), before, after)
	assert.Positive(t, failed)
	assert.LessOrEqual(t, after-before, 8, "open file descriptors grew")
}
