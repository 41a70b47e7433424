package botonomtest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	botonom "github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/botonomtest"
)

func statuses(reqs []botonomtest.Request) []int {
	out := make([]int, len(reqs))
	for i, r := range reqs {
		out[i] = r.Status
	}
	return out
}

func retryCounts(reqs []botonomtest.Request) []string {
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = r.Header.Get("X-Botonom-Retry-Count")
	}
	return out
}

// With 5 requests per 1 s window, 10 calls through the SDK all succeed: once
// an answer says Remaining: 0, the client waits for X-RateLimit-Reset
// before sending more, so the server never has to refuse one. The window
// is a whole second because the headers count whole seconds; the test
// takes about one second.
func TestRateLimit_TheSDKWaitsForTheWindowToReset(t *testing.T) {
	srv := botonomtest.NewServer(t, botonomtest.WithRateLimit(5, time.Second))
	client := srv.Client()
	start := time.Now()
	for i := range 10 {
		_, resp, err := client.Agents.Get(context.Background(), botonomtest.SampleAgentID)
		require.NoError(t, err, "call %d", i)
		assert.Equal(t, 5, resp.Rate.Limit)
	}
	assert.Less(t, time.Since(start), 2500*time.Millisecond)

	reqs := srv.Requests()
	assert.Len(t, reqs, 10)
	for _, r := range reqs {
		assert.Equal(t, 200, r.Status)
	}
}

func TestRateLimit_OverTheLimitIs429WithRetryAfter(t *testing.T) {
	now := time.Date(2026, 2, 18, 14, 30, 20, 0, time.UTC) // a frozen clock: 40 s left in the minute
	srv := botonomtest.NewServer(t, botonomtest.WithRateLimit(2, time.Minute), botonomtest.WithClock(func() time.Time { return now }))
	for want := 1; want >= 0; want-- {
		a := send(t, srv, "GET", "agents", "")
		require.Equal(t, 200, a.status)
		assert.Equal(t, "2", a.header.Get("X-RateLimit-Limit"))
		assert.Equal(t, strconv.Itoa(want), a.header.Get("X-RateLimit-Remaining"))
	}
	a := send(t, srv, "GET", "agents", "")
	require.Equal(t, 429, a.status)
	typ, code, _ := a.errorBody(t)
	assert.Equal(t, "rate_limit_error", typ)
	assert.Equal(t, "rate_limited", code)
	assert.Equal(t, "0", a.header.Get("X-RateLimit-Remaining"))
	assert.Equal(t, "40", a.header.Get("Retry-After"))
	assert.Equal(t, strconv.FormatInt(now.Unix()+40, 10), a.header.Get("X-RateLimit-Reset"), "the end of the minute")
	assert.Equal(t, "Wed, 18 Feb 2026 14:30:20 GMT", a.header.Get("Date"))

	// The SDK will not sleep a minute when allowed only 10 ms: it returns
	// the typed error at once.
	_, _, err := srv.Client(botonom.WithMaxRetryWait(10*time.Millisecond)).Agents.List(context.Background(), nil)
	var rle *botonom.RateLimitError
	require.True(t, errors.As(err, &rle), "got %v", err)
	assert.Equal(t, 0, rle.Rate.Remaining)
	assert.Equal(t, 40*time.Second, rle.RetryAfter)
	assert.ErrorIs(t, err, botonom.ErrRateLimited)
}

// Requests with a missing or wrong token are answered 401 and spend none
// of the token's budget: a stranger cannot use up a real client's limit.
func TestRateLimit_OnlyAuthenticatedRequestsCount(t *testing.T) {
	now := time.Date(2026, 2, 18, 14, 30, 20, 0, time.UTC)
	srv := botonomtest.NewServer(t, botonomtest.WithRateLimit(2, time.Minute), botonomtest.WithClock(func() time.Time { return now }))
	for _, auth := range []string{"", "Bearer btm_sk_wrong", "Bearer btm_sk_wrong", "Basic x"} {
		a := send(t, srv, "GET", "agents", "", "Authorization", auth)
		require.Equal(t, 401, a.status, "Authorization %q", auth)
		assert.Equal(t, "2", a.header.Get("X-RateLimit-Remaining"), "the window as it stands")
		assert.NotEmpty(t, a.header.Get("X-RateLimit-Reset"))
	}
	for want := 1; want >= 0; want-- {
		a := send(t, srv, "GET", "agents", "")
		require.Equal(t, 200, a.status, "the token's budget is whole")
		assert.Equal(t, strconv.Itoa(want), a.header.Get("X-RateLimit-Remaining"))
	}
	a := send(t, srv, "GET", "agents", "", "Authorization", "Bearer btm_sk_wrong")
	assert.Equal(t, 401, a.status, "a wrong token is a 401 even when the budget is spent")
	a = send(t, srv, "GET", "agents", "")
	assert.Equal(t, 429, a.status)
}

func TestFailNext_503ThenSuccessOnAGet(t *testing.T) {
	srv := botonomtest.NewServer(t)
	srv.FailNext(2, http.StatusServiceUnavailable)
	agent, _, err := srv.Client().Agents.Get(context.Background(), botonomtest.SampleAgentID)
	require.NoError(t, err)
	assert.Equal(t, "Reservations", agent.Name)

	reqs := srv.Requests()
	require.Len(t, reqs, 3)
	assert.Equal(t, []int{503, 503, 200}, statuses(reqs))
	assert.Equal(t, []string{"0", "1", "2"}, retryCounts(reqs))
}

func TestFailNext_429CarriesRetryAfterZero(t *testing.T) {
	srv := botonomtest.NewServer(t)
	srv.FailNext(1, http.StatusTooManyRequests)
	a := send(t, srv, "GET", "agents", "")
	require.Equal(t, 429, a.status)
	assert.Equal(t, "0", a.header.Get("Retry-After"))
	assert.NotEqual(t, "0", a.header.Get("X-RateLimit-Remaining"), "the real counter, so clients do not wait for the window")
	typ, code, _ := a.errorBody(t)
	assert.Equal(t, "rate_limit_error", typ)
	assert.Equal(t, "injected_fault", code)

	srv.FailNext(2, http.StatusTooManyRequests)
	start := time.Now()
	_, _, err := srv.Client().Agents.List(context.Background(), nil)
	require.NoError(t, err)
	assert.Less(t, time.Since(start), time.Second)
}

func TestFailNext_ErrorBodyMatchesTheStatus(t *testing.T) {
	for status, typ := range map[int]string{
		400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
		404: "not_found_error", 409: "conflict_error", 500: "api_error", 502: "api_error",
	} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			srv := botonomtest.NewServer(t)
			srv.FailNext(1, status)
			_, _, err := srv.Client(botonom.WithMaxRetries(0)).Agents.Get(context.Background(), botonomtest.SampleAgentID)
			apiErr := requireAPIError(t, err, status, typ, "")
			assert.Equal(t, "injected_fault", apiErr.Code)
		})
	}
}

func TestFailNext_RejectsANonErrorStatus(t *testing.T) {
	rec := record(t)
	srv := botonomtest.NewServer(rec)
	srv.FailNext(1, 200)
	assert.Len(t, rec.Errors(), 1)
	_, _, err := srv.Client().Agents.Get(context.Background(), botonomtest.SampleAgentID)
	assert.NoError(t, err)
}

func TestFailNext_PostIsRetriedWithTheSameKeyAndStoredOnce(t *testing.T) {
	srv := botonomtest.NewServer(t)
	// The first attempt acts, then its answer is lost: only a retry with
	// the same key gets the stored message back instead of storing a second.
	srv.DropResponseNext(1)
	msg, _, err := srv.Client().Agents.SendMessage(context.Background(), botonomtest.SampleAgentID, &botonom.SendMessageRequest{Content: "hi"})
	require.NoError(t, err)
	reqs := srv.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, reqs[0].Header.Get("Idempotency-Key"), reqs[1].Header.Get("Idempotency-Key"))
	assert.Equal(t, []int{0, 201}, statuses(reqs))
	stored := srv.Messages()
	require.Len(t, stored, 1)
	assert.Equal(t, stored[0].ID, msg.ID, "the caller gets the message the lost answer carried")
}

// TestSendMessage_FirstAttemptTimesOutWhileTheAPIWorks: the first attempt
// gives up (per-attempt timeout) while the API is still processing it;
// retries with the same key get 409 idempotency_key_in_use until the first
// is done, then its answer. One message is stored, and the caller gets it.
func TestSendMessage_FirstAttemptTimesOutWhileTheAPIWorks(t *testing.T) {
	srv := botonomtest.NewServer(t, botonomtest.WithLatency(300*time.Millisecond))
	client := srv.Client(botonom.WithTimeout(100*time.Millisecond),
		botonom.WithRetryWait(20*time.Millisecond, 60*time.Millisecond), botonom.WithMaxRetries(30))
	msg, resp, err := client.Agents.SendMessage(context.Background(), botonomtest.SampleAgentID, &botonom.SendMessageRequest{Content: "hi"})
	require.NoError(t, err)
	assert.Equal(t, "true", resp.Header.Get("Idempotent-Replayed"))

	stored := srv.Messages()
	require.Len(t, stored, 1)
	assert.Equal(t, stored[0].ID, msg.ID)
	reqs := srv.Requests()
	got := statuses(reqs)
	require.GreaterOrEqual(t, len(got), 3, "the timed-out first, at least one 409, the replay: %v", got)
	assert.Contains(t, got, http.StatusConflict)
	assert.Equal(t, http.StatusCreated, got[len(got)-1])
	for _, r := range reqs {
		assert.Equal(t, reqs[0].Header.Get("Idempotency-Key"), r.Header.Get("Idempotency-Key"))
	}
}

func TestResetConnectionNext_IsATransportErrorTheClientRetries(t *testing.T) {
	srv := botonomtest.NewServer(t)
	srv.ResetConnectionNext(1)
	_, _, err := srv.Client().Agents.Get(context.Background(), botonomtest.SampleAgentID)
	require.NoError(t, err)
	reqs := srv.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, []int{0, 200}, statuses(reqs))
	assert.Empty(t, reqs[0].RequestID)

	// On a server of its own, so on a new connection: clients share their
	// connections, and net/http itself resends a GET on a reused
	// connection closed before an answer.
	fresh := botonomtest.NewServer(t)
	fresh.ResetConnectionNext(1)
	_, _, err = fresh.Client(botonom.WithMaxRetries(0)).Agents.Get(context.Background(), botonomtest.SampleAgentID)
	require.Error(t, err)
	var apiErr *botonom.APIError
	assert.False(t, errors.As(err, &apiErr), "no answer, so no APIError: %v", err)
}

// The dangerous case for a POST: the server acted, the answer was lost.
// The SDK's retry carries the same Idempotency-Key, so the server answers
// the first result again and the message is stored once.
func TestDropResponseNext_RetriedSendMessageIsStoredOnce(t *testing.T) {
	srv := botonomtest.NewServer(t)
	srv.DropResponseNext(1)
	msg, _, err := srv.Client().Agents.SendMessage(context.Background(), botonomtest.SampleAgentID, &botonom.SendMessageRequest{Content: "Book a table"})
	require.NoError(t, err)

	stored := srv.Messages()
	require.Len(t, stored, 1)
	assert.Equal(t, msg.ID, stored[0].ID)
	reqs := srv.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, []int{0, 201}, statuses(reqs))
	assert.Equal(t, []string{"0", "1"}, retryCounts(reqs))
	assert.Equal(t, reqs[0].Header.Get("Idempotency-Key"), reqs[1].Header.Get("Idempotency-Key"))
}

func TestLatency_DelaysAnswersAndHonoursTheClientsDeadline(t *testing.T) {
	srv := botonomtest.NewServer(t, botonomtest.WithLatency(30*time.Millisecond))
	client := srv.Client()
	start := time.Now()
	_, _, err := client.Agents.List(context.Background(), nil)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond)

	srv.SetLatency(5 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, _, err = client.Agents.List(ctx, nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), time.Second)

	srv.SetLatency(0)
	_, _, err = client.Agents.List(context.Background(), nil)
	require.NoError(t, err)
}

func TestConcurrentUse(t *testing.T) {
	srv := botonomtest.NewServer(t)
	client := srv.Client()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 60)
	for i := range 20 {
		wg.Add(3)
		go func() {
			defer wg.Done()
			_, _, err := client.Agents.SendMessage(ctx, botonomtest.SampleAgentID, &botonom.SendMessageRequest{Content: fmt.Sprintf("message %d", i)})
			errs <- err
		}()
		go func() {
			defer wg.Done()
			_, _, err := client.Agents.ListTasks(ctx, botonomtest.SampleAgentID, nil)
			errs <- err
		}()
		go func() {
			defer wg.Done()
			_, _, err := client.Agents.InstallSkills(ctx, botonomtest.SupportAgentID, fmt.Sprintf("skill%d", i%4))
			_ = srv.Requests()
			_ = srv.Messages()
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Len(t, srv.Messages(), 20)
	assert.Len(t, srv.Requests(), 60)
	seen := map[string]bool{}
	for _, r := range srv.Requests() {
		assert.False(t, seen[r.RequestID], "request IDs are unique")
		seen[r.RequestID] = true
	}
}

// A client that sends half a body and stalls does not hold Close (nor the
// test's cleanup): Close returns within a second and the client finds its
// connection closed.
func TestClose_EndsWithinASecondWhateverTheClientsDo(t *testing.T) {
	srv := botonomtest.NewServer(t)
	u, err := url.Parse(srv.URL())
	require.NoError(t, err)
	conn, err := net.Dial("tcp", u.Host)
	require.NoError(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, "POST /v1/agents/agt_abc123/message HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+
		botonomtest.Token+"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
	require.NoError(t, err)
	// An idle connection too, and one that has sent nothing.
	idle, err := net.Dial("tcp", u.Host)
	require.NoError(t, err)
	defer idle.Close()
	time.Sleep(100 * time.Millisecond) // the server is reading the body

	closed := make(chan time.Duration, 1)
	start := time.Now()
	go func() {
		srv.Close()
		closed <- time.Since(start)
	}()
	select {
	case d := <-closed:
		assert.Less(t, d, time.Second)
	case <-time.After(3 * time.Second):
		conn.Close() // let Close end, then fail
		<-closed
		t.Fatal("Close is held by a stalled client")
	}
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(time.Second)))
	_, err = conn.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF, "the stalled connection is closed")
}

// The request log keeps the newest WithRequestLog requests, oldest first,
// and counts the ones it dropped.
func TestRequestLog_KeepsTheNewestAndCountsTheDropped(t *testing.T) {
	srv := botonomtest.NewServer(t, botonomtest.WithRequestLog(3))
	for i := 1; i <= 5; i++ {
		send(t, srv, "GET", fmt.Sprintf("agents?limit=%d", i), "")
	}
	var limits []string
	for _, r := range srv.Requests() {
		limits = append(limits, r.Query.Get("limit"))
	}
	assert.Equal(t, []string{"3", "4", "5"}, limits)
	assert.Equal(t, 2, srv.DroppedRequests())
}

// 64 request bodies of 1 MiB (refused: not JSON) leave the log holding 64
// KiB of each, marked as cut, not 64 MiB.
func TestRequestLog_KeepsAtMost64KiBOfABody(t *testing.T) {
	srv := botonomtest.NewServer(t, botonomtest.WithoutSpecValidation())
	body := strings.Repeat("a", botonomtest.MaxRequestBody)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range 64 {
		a := send(t, srv, "POST", "agents/agt_abc123/message", body)
		require.Equal(t, 400, a.status)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	reqs := srv.Requests()
	require.Len(t, reqs, 64)
	for _, r := range reqs {
		require.True(t, r.BodyTruncated)
		require.Equal(t, body[:botonomtest.MaxLoggedBody], string(r.Body))
	}
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("live heap grew by %d KiB for 64 requests of 1 MiB", grown>>10)
	assert.Less(t, grown, int64(16<<20), "the log holds 64 × 64 KiB of bodies, not 64 MiB")

	small := send(t, srv, "POST", "agents/agt_abc123/message", `{"content":"hi"}`)
	require.Equal(t, 201, small.status)
	reqs = srv.Requests()
	last := reqs[len(reqs)-1]
	assert.False(t, last.BodyTruncated)
	assert.Equal(t, `{"content":"hi"}`, string(last.Body))
}
