package botonom

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"os"
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
