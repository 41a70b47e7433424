package botonomtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	botonom "github.com/botonom/botonom-go"
)

// errorsTB records Errorf calls instead of failing the test.
type errorsTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (e *errorsTB) Errorf(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.errs = append(e.errs, fmt.Sprintf(format, args...))
}

// A bug in the fake is never a panic on the client's side: the answer is a
// 500 api_error in the API's shape, and the test fails saying why.
func TestPanicIsA500AndAFailedTest(t *testing.T) {
	rec := &errorsTB{TB: t}
	srv := NewServer(rec)
	srv.mu.Lock()
	srv.agents = append(srv.agents, nil) // a corrupt store: listing it panics
	srv.mu.Unlock()

	req, err := http.NewRequest("GET", srv.URL()+"agents?status=online", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+Token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()

	assert.Equal(t, 500, resp.StatusCode)
	assert.Contains(t, string(body), `"type":"api_error"`)
	assert.NotEmpty(t, resp.Header.Get("X-Request-Id"))
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Len(t, rec.errs, 1, "%v", rec.errs)
	assert.True(t, strings.Contains(rec.errs[0], "panic answering GET /v1/agents?status=online"), rec.errs[0])
}

// The answers are checked against the spec too: a store that breaks the
// contract (here an agent status the API never sends) fails the test.
func TestAnswerThatBreaksTheSpecFailsTheTest(t *testing.T) {
	rec := &errorsTB{TB: t}
	srv := NewServer(rec)
	srv.mu.Lock()
	srv.agents[0].Status = "busy"
	srv.mu.Unlock()

	_, _, err := srv.Client().Agents.Get(context.Background(), SampleAgentID)
	require.NoError(t, err, "the client still gets the answer")
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Len(t, rec.errs, 1, "%v", rec.errs)
	assert.Contains(t, rec.errs[0], "GET /v1/agents/agt_abc123: the answer (200")
	assert.Contains(t, rec.errs[0], "does not match api/openapi.yaml")
	assert.Contains(t, rec.errs[0], "busy")
}

// withReadTimeout shortens readTimeout, to test it quickly.
func withReadTimeout(d time.Duration) Option {
	return func(c *config) error {
		c.readTimeout = d
		return nil
	}
}

// rawRequest opens a connection to srv and writes head as it is.
func rawRequest(t *testing.T, srv *Server, head string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", srv.ts.Listener.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	_, err = io.WriteString(conn, head)
	require.NoError(t, err)
	return conn
}

// Every read is bounded: a client that stalls in its headers, or in a body
// shorter than its Content-Length, has its connection closed (no answer)
// once readTimeout has passed (net/http answers a stalled header 408); the
// stalled body is recorded with status 0 and not answered. Once a body is read, the deadline is lifted: an answer slower than
// readTimeout (WithLatency) still comes.
func TestReadTimeout_BoundsHeadersAndBodyButNotTheAnswer(t *testing.T) {
	srv := NewServer(t, withReadTimeout(100*time.Millisecond), WithLatency(300*time.Millisecond))
	for name, head := range map[string]string{
		"headers": "GET /v1/agents HTTP/1.1\r\nHost: x\r\nAuthoriz",
		"body":    "POST /v1/agents/agt_abc123/message HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + Token + "\r\nContent-Length: 100\r\n\r\n{",
	} {
		conn := rawRequest(t, srv, head)
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
		start := time.Now()
		got, err := io.ReadAll(conn)
		assert.NoError(t, err, "%s: the server closed the connection", name)
		assert.Less(t, time.Since(start), 2*time.Second, name)
		if name == "body" {
			assert.Empty(t, got, "no answer to a request not read")
		}
	}
	reqs := srv.Requests()
	require.Len(t, reqs, 1, "the stalled body is recorded")
	assert.Equal(t, 0, reqs[0].Status)
	assert.Equal(t, "{", string(reqs[0].Body))

	conn := rawRequest(t, srv, "GET /v1/agents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+Token+"\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode, "answered after its 300 ms latency")
}

// Idempotency-Keys are forgotten once their 24 h have passed, so a long
// run does not keep every key it was ever sent.
func TestIdempotencyKeys_ExpiredOnesArePruned(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Date(2026, 2, 18, 14, 30, 0, 0, time.UTC).UnixNano())
	srv := NewServer(t, WithClock(func() time.Time { return time.Unix(0, clock.Load()) }))
	client := srv.Client()
	send := func() {
		_, _, err := client.Agents.SendMessage(context.Background(), SampleAgentID, &botonom.SendMessageRequest{Content: "hi"})
		require.NoError(t, err)
	}
	for range 3 {
		send()
	}
	clock.Add(int64(23 * time.Hour))
	send()
	srv.mu.Lock()
	assert.Len(t, srv.idempotencyKeys, 4, "within 24 h, all kept")
	srv.mu.Unlock()

	clock.Add(int64(2 * time.Hour))
	send()
	srv.mu.Lock()
	defer srv.mu.Unlock()
	assert.Len(t, srv.idempotencyKeys, 2, "the three of 25 h ago are gone")
	assert.Len(t, srv.keyOrder, 2)
}

// A body over MaxRequestBody is answered 413 at once, and its connection
// closed, without waiting for the rest of the body: net/http would read up
// to 256 KiB more of it, without a deadline, before sending the answer, so
// a client that stalls there would never get its 413 and hold a goroutine.
func TestReadTimeout_ATooLargeBodyIsAnsweredWithoutReadingTheRest(t *testing.T) {
	srv := NewServer(t, WithoutSpecValidation())
	conn := rawRequest(t, srv, fmt.Sprintf("POST /v1/agents/agt_abc123/message HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		Token, MaxRequestBody+100, strings.Repeat("a", MaxRequestBody+1)))
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(2*time.Second)))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err, "the 413 comes while the client holds the last 99 bytes")
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	assert.True(t, resp.Close, "Connection: close")
	_, err = io.Copy(io.Discard, br)
	assert.NoError(t, err, "the server closes the connection: the rest of the body is not a request")
}

// A key reused just inside its 24 h is a replay, even when the answer is
// decided a moment later, past the 24 h: the window is judged at the
// request's arrival, once (it was judged again at the answer, where the
// request was processed anew, without holding its key).
func TestIdempotencyKeys_ReusedJustInside24hReplays(t *testing.T) {
	var clock atomic.Int64 // each reading is 1 ns later than the one before
	clock.Store(time.Date(2026, 2, 18, 14, 30, 0, 0, time.UTC).UnixNano())
	srv := NewServer(t, WithClock(func() time.Time { return time.Unix(0, clock.Add(1)) }))
	post := func() *http.Response {
		req, err := http.NewRequest("POST", srv.URL()+"agents/"+SampleAgentID+"/message", strings.NewReader(`{"content":"hi"}`))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+Token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "k-inside-24h")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	first := post()
	require.Equal(t, 201, first.StatusCode)
	srv.mu.Lock()
	stored := srv.idempotencyKeys["k-inside-24h"].at
	srv.mu.Unlock()

	clock.Store(stored.Add(idempotencyWindow - 2).UnixNano()) // arrives 1 ns inside the 24 h
	again := post()
	assert.Equal(t, 201, again.StatusCode)
	assert.Equal(t, "true", again.Header.Get("Idempotent-Replayed"), "a replay of the first answer")
	assert.Len(t, srv.Messages(), 1, "processed once")
}

// A keep-alive connection is bounded too: once idle for idleTimeout after
// an answer it is closed, so a client that sends a few bytes of its next
// request and stalls (net/http waits for 4 bytes before the header
// deadline starts), or vanishes without closing, does not hold a
// connection for the rest of a long botonom mock.
func TestReadTimeout_AnIdleKeepAliveConnectionIsClosed(t *testing.T) {
	srv := NewServer(t, withIdleTimeout(100*time.Millisecond))
	conn := rawRequest(t, srv, "GET /v1/agents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+Token+"\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	_, err = io.Copy(io.Discard, resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)

	_, err = io.WriteString(conn, "GE") // the next request, stalled
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(3*time.Second)))
	start := time.Now()
	_, err = io.Copy(io.Discard, br)
	require.NoError(t, err, "the server closed the connection")
	assert.Less(t, time.Since(start), 2*time.Second)
}

// withIdleTimeout shortens idleTimeout, to test it quickly.
func withIdleTimeout(d time.Duration) Option {
	return func(c *config) error {
		c.idleTimeout = d
		return nil
	}
}
