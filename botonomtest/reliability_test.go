package botonomtest_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	botonom "github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/botonomtest"
)

// The load the SDK promises to carry without losing or doubling a message:
// 64 goroutines × 50 SendMessage on one client, against a fake that allows
// 1,000 requests per one-second window (so the run meets the rate limit
// three or four times; the SDK waits whole seconds, as the headers count
// whole seconds) and fails 5% of requests with a 503, a reset connection
// or a dropped answer (the server acted, the client never heard). Every
// call returns without error and each message is stored exactly once,
// counted by Idempotency-Key.
func TestLoad_SendMessageUnderRateLimitAndFaultsIsExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about 4 s")
	}
	const goroutines, perGoroutine = 64, 50
	srv := botonomtest.NewServer(t,
		botonomtest.WithRateLimit(1000, time.Second),
		botonomtest.WithFaultRate(0.05, http.StatusServiceUnavailable, botonomtest.ResetConnection, botonomtest.DropResponse))
	client := srv.Client(botonom.WithMaxRetries(10), botonom.WithRetryWait(time.Millisecond, 20*time.Millisecond))

	start := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Int32
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perGoroutine {
				_, _, err := client.Agents.SendMessage(context.Background(), botonomtest.SampleAgentID,
					&botonom.SendMessageRequest{Content: fmt.Sprintf("message %d/%d", g, i)})
				if err != nil {
					failed.Add(1)
					t.Errorf("send %d/%d: %v", g, i, err)
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)

	assert.Zero(t, failed.Load(), "errors returned to callers")
	perKey := map[string]int{}
	for _, m := range srv.Messages() {
		perKey[m.IdempotencyKey]++
	}
	assert.Len(t, perKey, goroutines*perGoroutine, "distinct messages stored")
	for key, n := range perKey {
		if n != 1 {
			t.Errorf("message with key %s stored %d times", key, n)
		}
	}
	byStatus := map[int]int{}
	reqs := srv.Requests()
	for _, r := range reqs {
		byStatus[r.Status]++
	}
	t.Logf("%d calls in %s: %d requests, by status %v (0 = reset or dropped)", goroutines*perGoroutine, took, len(reqs), byStatus)
	assert.Positive(t, byStatus[http.StatusServiceUnavailable], "503s were injected")
	assert.Positive(t, byStatus[0], "connections were reset or answers dropped")
	assert.Less(t, took, 15*time.Second)
}

// Against the fake, a reset before the answer (nothing done) and a dropped
// answer (done, unheard) both make the SDK send the POST again with the
// same Idempotency-Key, and the message is stored once.
func TestFaults_ResetOrDroppedPOSTIsStoredOnce(t *testing.T) {
	for name, inject := range map[string]func(*botonomtest.Server){
		"reset before the answer": func(s *botonomtest.Server) { s.ResetConnectionNext(2) },
		"answer dropped":          func(s *botonomtest.Server) { s.DropResponseNext(2) },
	} {
		t.Run(name, func(t *testing.T) {
			srv := botonomtest.NewServer(t)
			inject(srv)
			msg, _, err := srv.Client().Agents.SendMessage(context.Background(), botonomtest.SampleAgentID,
				&botonom.SendMessageRequest{Content: "Book a table"})
			require.NoError(t, err)
			stored := srv.Messages()
			require.Len(t, stored, 1)
			assert.Equal(t, msg.ID, stored[0].ID)
			reqs := srv.Requests()
			require.Len(t, reqs, 3, "two lost attempts, then the answer")
			for _, r := range reqs {
				assert.Equal(t, stored[0].IdempotencyKey, r.Header.Get("Idempotency-Key"))
			}
		})
	}
}

func TestWithFaultRate(t *testing.T) {
	t.Run("none and all", func(t *testing.T) {
		srv := botonomtest.NewServer(t, botonomtest.WithFaultRate(0))
		_, _, err := srv.Client(botonom.WithMaxRetries(0)).Agents.Get(context.Background(), botonomtest.SampleAgentID)
		require.NoError(t, err)

		srv = botonomtest.NewServer(t, botonomtest.WithFaultRate(1, http.StatusBadGateway))
		_, _, err = srv.Client(botonom.WithMaxRetries(2)).Agents.Get(context.Background(), botonomtest.SampleAgentID)
		assert.ErrorIs(t, err, botonom.ErrServer)
		assert.Equal(t, []int{502, 502, 502}, statuses(srv.Requests()))
	})
	t.Run("rate and kinds", func(t *testing.T) {
		srv := botonomtest.NewServer(t, botonomtest.WithFaultRate(0.2, 500, botonomtest.ResetConnection))
		client := srv.Client(botonom.WithMaxRetries(0))
		failed := 0
		for range 500 {
			if _, _, err := client.Agents.Get(context.Background(), botonomtest.SampleAgentID); err != nil {
				failed++
			}
		}
		count := map[int]int{}
		for _, r := range srv.Requests() {
			count[r.Status]++
		}
		all := count[200] + count[500] + count[0]
		assert.InDelta(t, all/5, count[500]+count[0], float64(all)/12, "about 20%%: %v", count)
		assert.Positive(t, count[500])
		assert.Positive(t, count[0])
		// More requests than calls, even with WithMaxRetries(0): net/http
		// itself sends a GET again, once, when a reused keep-alive
		// connection is closed before any byte of the answer.
		assert.Equal(t, 500, count[200]+failed, "%v", count)
	})
	t.Run("scripted faults come first", func(t *testing.T) {
		srv := botonomtest.NewServer(t, botonomtest.WithFaultRate(1, 500))
		srv.FailNext(1, 404)
		_, _, err := srv.Client(botonom.WithMaxRetries(0)).Agents.Get(context.Background(), botonomtest.SampleAgentID)
		assert.ErrorIs(t, err, botonom.ErrNotFound)
	})
	t.Run("bad arguments", func(t *testing.T) {
		for _, opt := range []botonomtest.Option{
			botonomtest.WithFaultRate(-0.1), botonomtest.WithFaultRate(1.5),
			botonomtest.WithFaultRate(0.1, 200), botonomtest.WithFaultRate(0.1, 600),
		} {
			rec := record(t)
			rec.run(func() { botonomtest.NewServer(rec, opt) })
			assert.Len(t, rec.fatals, 1)
		}
	})
}
