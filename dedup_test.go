package botonom

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The option vocabulary: tolerance, clock and secrets go to all three entry
// points; the handler's own options and WithoutTimestampCheck do not cross
// over. The compile-time half is the var block; the rest is checked by
// type assertion, since "does not compile" cannot be a test.
var (
	_ WebhookOption = WithTolerance(time.Minute)
	_ WebhookOption = WithClock(time.Now)
	_ WebhookOption = WithSecrets("whsec_x")
	_ VerifyOption  = WithoutTimestampCheck()
	_ HandlerOption = WithHandlerMaxBodyBytes(1)
	_ HandlerOption = WithHandlerLogger(slog.Default())
	_ HandlerOption = WithDeduplication(nil)
	_ DedupStore    = (*MemoryDedupStore)(nil)
)

func TestWebhookOptions_HandlerOnlyAndVerifyOnlyDoNotCrossOver(t *testing.T) {
	for name, opt := range map[string]any{
		"WithHandlerMaxBodyBytes": WithHandlerMaxBodyBytes(1),
		"WithHandlerLogger":       WithHandlerLogger(slog.Default()),
		"WithDeduplication":       WithDeduplication(nil),
	} {
		_, isVerify := opt.(VerifyOption)
		assert.False(t, isVerify, "%s is a VerifyOption", name)
	}
	_, isHandler := any(WithoutTimestampCheck()).(HandlerOption)
	assert.False(t, isHandler, "WithoutTimestampCheck is a HandlerOption")
}

// newTestStore is NewMemoryDedupStore with a settable clock.
func newTestStore(t *testing.T, opts ...MemoryDedupOption) (*MemoryDedupStore, *time.Time) {
	t.Helper()
	s, err := NewMemoryDedupStore(opts...)
	require.NoError(t, err)
	now := time.Date(2026, 2, 18, 14, 30, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	return s, &now
}

func TestMemoryDedupStore_ClaimDoneRelease(t *testing.T) {
	ctx := context.Background()
	s, now := newTestStore(t)

	c1, err := s.Claim(ctx, "evt_1", time.Minute)
	require.NoError(t, err)
	assert.Equal(t, DedupClaimed, c1.Status)
	assert.NotEmpty(t, c1.Token)

	*now = now.Add(20 * time.Second)
	c2, err := s.Claim(ctx, "evt_1", time.Minute)
	require.NoError(t, err)
	assert.Equal(t, DedupClaim{Status: DedupInFlight, Remaining: 40 * time.Second}, c2)

	// Release lets the next delivery claim it, under a new token.
	require.NoError(t, s.Release(ctx, "evt_1", c1.Token))
	c3, err := s.Claim(ctx, "evt_1", time.Minute)
	require.NoError(t, err)
	assert.Equal(t, DedupClaimed, c3.Status)
	assert.NotEqual(t, c1.Token, c3.Token)

	require.NoError(t, s.Done(ctx, "evt_1", c3.Token, time.Hour))
	c4, err := s.Claim(ctx, "evt_1", time.Minute)
	require.NoError(t, err)
	assert.Equal(t, DedupClaim{Status: DedupDone}, c4)
	require.NoError(t, s.Done(ctx, "evt_1", c3.Token, time.Hour), "done twice is done")
	require.NoError(t, s.Release(ctx, "evt_1", c3.Token), "a done event is not released")
	assert.Equal(t, DedupDone, must(s.Claim(ctx, "evt_1", time.Minute)).Status)

	// The retention ends: the event is forgotten.
	*now = now.Add(time.Hour)
	assert.Equal(t, DedupClaimed, must(s.Claim(ctx, "evt_1", time.Minute)).Status)

	// Other IDs are other events.
	assert.Equal(t, DedupClaimed, must(s.Claim(ctx, "evt_2", time.Minute)).Status)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// A delivery whose lease ended (its replica crashed, or fn outlived it)
// cannot mark done or release the newer claim.
func TestMemoryDedupStore_ExpiredLeaseAndStaleClaimant(t *testing.T) {
	ctx := context.Background()
	s, now := newTestStore(t)
	stale := must(s.Claim(ctx, "evt_1", time.Minute))

	*now = now.Add(time.Minute)
	fresh := must(s.Claim(ctx, "evt_1", time.Minute))
	require.Equal(t, DedupClaimed, fresh.Status, "the lease ended: the next delivery claims it")

	assert.ErrorIs(t, s.Done(ctx, "evt_1", stale.Token, time.Hour), ErrDedupClaimLost)
	assert.ErrorIs(t, s.Release(ctx, "evt_1", stale.Token), ErrDedupClaimLost)
	assert.Equal(t, DedupInFlight, must(s.Claim(ctx, "evt_1", time.Minute)).Status, "the newer claim is intact")

	require.NoError(t, s.Done(ctx, "evt_1", fresh.Token, time.Hour))
	assert.Equal(t, DedupDone, must(s.Claim(ctx, "evt_1", time.Minute)).Status)

	// A claimant whose lease ended with nobody claiming since still marks
	// done: its work is done and no one else holds the event.
	late := must(s.Claim(ctx, "evt_2", time.Minute))
	*now = now.Add(2 * time.Minute)
	require.NoError(t, s.Done(ctx, "evt_2", late.Token, time.Hour))
	assert.Equal(t, DedupDone, must(s.Claim(ctx, "evt_2", time.Minute)).Status)
}

func TestMemoryDedupStore_EvictsTheOldestDoneBeyondTheMaximum(t *testing.T) {
	ctx := context.Background()
	s, now := newTestStore(t, WithMaxDoneEntries(3))
	inFlight := must(s.Claim(ctx, "evt_claimed", time.Hour))
	for i := range 5 {
		id := fmt.Sprintf("evt_%d", i)
		require.NoError(t, s.Done(ctx, id, must(s.Claim(ctx, id, time.Minute)).Token, time.Hour))
		*now = now.Add(time.Second)
	}
	assert.Equal(t, 4, s.Len(), "3 done and 1 claimed")
	for i, want := range []DedupStatus{DedupClaimed, DedupClaimed, DedupDone, DedupDone, DedupDone} {
		assert.Equal(t, want, must(s.Claim(ctx, fmt.Sprintf("evt_%d", i), time.Minute)).Status, "evt_%d", i)
	}
	assert.Equal(t, DedupInFlight, must(s.Claim(ctx, "evt_claimed", time.Minute)).Status, "claims are not evicted")
	require.NoError(t, s.Release(ctx, "evt_claimed", inFlight.Token))
}

func TestMemoryDedupStore_ForgetsExpiredDoneEntries(t *testing.T) {
	ctx := context.Background()
	s, now := newTestStore(t)
	for i := range 100 {
		id := fmt.Sprintf("evt_%d", i)
		require.NoError(t, s.Done(ctx, id, must(s.Claim(ctx, id, time.Minute)).Token, time.Hour))
	}
	*now = now.Add(time.Hour)
	require.NoError(t, s.Done(ctx, "evt_new", must(s.Claim(ctx, "evt_new", time.Minute)).Token, time.Hour))
	assert.Equal(t, 1, s.Len(), "expired done entries are dropped as new ones come")
}

func TestMemoryDedupStore_BadArguments(t *testing.T) {
	_, err := NewMemoryDedupStore(WithMaxDoneEntries(0))
	assert.ErrorContains(t, err, "WithMaxDoneEntries: 0 is not positive")
	s, _ := newTestStore(t)
	_, err = s.Claim(context.Background(), "evt_1", 0)
	assert.ErrorIs(t, err, ErrInvalidArgument)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = s.Claim(ctx, "evt_1", time.Minute)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestMemoryDedupStore_ConcurrentClaimsHaveOneWinner(t *testing.T) {
	s, err := NewMemoryDedupStore()
	require.NoError(t, err)
	var claimed atomic.Int32
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if must(s.Claim(context.Background(), "evt_1", time.Minute)).Status == DedupClaimed {
				claimed.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(1), claimed.Load())
}

// scriptedStore answers Claim as told and records every call.
type scriptedStore struct {
	mu       sync.Mutex
	claim    DedupClaim
	claimErr error
	doneErr  error
	doneErrs int // how many Done calls fail with doneErr; 0: every one
	dones    int
	calls    []string
}

func (s *scriptedStore) record(call string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, call)
}

func (s *scriptedStore) Claim(_ context.Context, id string, lease time.Duration) (DedupClaim, error) {
	s.record(fmt.Sprintf("claim %s %s", id, lease))
	return s.claim, s.claimErr
}

func (s *scriptedStore) Done(_ context.Context, id, token string, retention time.Duration) error {
	s.record(fmt.Sprintf("done %s %s %s", id, token, retention))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dones++; s.doneErrs > 0 && s.dones > s.doneErrs {
		return nil
	}
	return s.doneErr
}

func (s *scriptedStore) Release(_ context.Context, id, token string) error {
	s.record(fmt.Sprintf("release %s %s", id, token))
	return nil
}

func (s *scriptedStore) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

// The outcome table of WithDeduplication's doc, row by row, with the store's answer
// scripted.
func TestWebhookHandler_DeduplicationOutcomes(t *testing.T) {
	claimed := DedupClaim{Status: DedupClaimed, Token: "tok1"}
	storeDown := errors.New("dial tcp: connection refused")
	for name, tc := range map[string]struct {
		claim      DedupClaim
		claimErr   error
		doneErr    error
		doneErrs   int
		fnErr      error
		opts       []DedupOption
		status     int
		retryAfter string
		fnCalls    int
		calls      []string
	}{
		"new, fn succeeds": {claim: claimed, status: 200, fnCalls: 1,
			calls: []string{"claim evt_1 5m0s", "done evt_1 tok1 72h0m0s"}},
		"new, fn fails": {claim: claimed, fnErr: errors.New("db down"), status: 500, fnCalls: 1,
			calls: []string{"claim evt_1 5m0s", "release evt_1 tok1"}},
		"new, done fails once: retried": {claim: claimed, doneErr: storeDown, doneErrs: 1, status: 200, fnCalls: 1,
			calls: []string{"claim evt_1 5m0s", "done evt_1 tok1 72h0m0s", "done evt_1 tok1 72h0m0s"}},
		// Retried 50 ms, 100 ms… 1 s apart, for 10 s: 14 tries.
		"new, done keeps failing: fn's work stands": {claim: claimed, doneErr: storeDown, status: 200, fnCalls: 1,
			calls: append([]string{"claim evt_1 5m0s"}, slices.Repeat([]string{"done evt_1 tok1 72h0m0s"}, 14)...)},
		"new, own lease and retention": {claim: claimed, opts: []DedupOption{WithDedupLease(time.Minute), WithDedupRetention(time.Hour)},
			status: 200, fnCalls: 1, calls: []string{"claim evt_1 1m0s", "done evt_1 tok1 1h0m0s"}},
		"done": {claim: DedupClaim{Status: DedupDone}, status: 200,
			calls: []string{"claim evt_1 5m0s"}},
		"in flight, 2.1 s left": {claim: DedupClaim{Status: DedupInFlight, Remaining: 2100 * time.Millisecond}, status: 409, retryAfter: "3",
			calls: []string{"claim evt_1 5m0s"}},
		"in flight, time left unknown": {claim: DedupClaim{Status: DedupInFlight}, status: 409, retryAfter: "1",
			calls: []string{"claim evt_1 5m0s"}},
		"store fails: closed": {claimErr: storeDown, status: 503, retryAfter: "1",
			calls: []string{"claim evt_1 5m0s"}},
		"store fails: open": {claimErr: storeDown, opts: []DedupOption{WithDedupFailOpen()}, status: 200, fnCalls: 1,
			calls: []string{"claim evt_1 5m0s"}},
		"store answers nonsense": {claim: DedupClaim{Status: 42}, status: 503, retryAfter: "1",
			calls: []string{"claim evt_1 5m0s"}},
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := &scriptedStore{claim: tc.claim, claimErr: tc.claimErr, doneErr: tc.doneErr, doneErrs: tc.doneErrs}
				fn := &recordingFn{err: tc.fnErr}
				var logs lockedBuffer
				h := WebhookHandler(vectorSecret, fn.handle, WithClock(webhookClockAt(vectorTime)),
					WithHandlerLogger(slog.New(slog.NewTextHandler(&logs, nil))),
					WithDeduplication(store, tc.opts...))
				w := httptest.NewRecorder()
				h.ServeHTTP(w, webhookRequest(strings.NewReader(vectorBody), []byte(vectorBody), vectorSecret, vectorTime))

				assert.Equal(t, tc.status, w.Code, w.Body.String())
				assert.Equal(t, tc.retryAfter, w.Header().Get("Retry-After"))
				assert.Equal(t, tc.fnCalls, fn.count())
				assert.Equal(t, tc.calls, store.Calls())
				if tc.claimErr != nil || (tc.doneErr != nil && tc.doneErrs == 0) {
					assert.Contains(t, logs.String(), "connection refused")
				}
			})
		})
	}
}

// A forged, stale or malformed delivery never reaches the store: it could
// otherwise mark an event done that the API never sent, or hold a claim.
func TestWebhookHandler_DeduplicationAfterVerification(t *testing.T) {
	store := &scriptedStore{claim: DedupClaim{Status: DedupClaimed, Token: "t"}}
	fn := &recordingFn{}
	h := WebhookHandler(vectorSecret, fn.handle, WithClock(webhookClockAt(vectorTime)), WithDeduplication(store))
	refuseForged(t, h, []byte(vectorBody))
	assert.Empty(t, store.Calls())
	assert.Zero(t, fn.count())
}

// refuseForged delivers body to h forged, unsigned and replayed, and a
// signed payload that is no event, and checks each is refused (400, 401).
func refuseForged(t *testing.T, h http.Handler, body []byte) {
	t.Helper()
	for name, r := range map[string]*http.Request{
		"forged":   webhookRequest(bytes.NewReader(body), body, "whsec_forger", vectorTime),
		"unsigned": webhookRequest(bytes.NewReader(body), nil, "", vectorTime),
		"replayed": webhookRequest(bytes.NewReader(body), body, vectorSecret, vectorTime.Add(-time.Hour)),
		"no event": webhookRequest(strings.NewReader(`{"x":1}`), []byte(`{"x":1}`), vectorSecret, vectorTime),
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		assert.Contains(t, []int{400, 401}, w.Code, name)
	}
}

func TestWebhookHandler_DeduplicationFnContextEndsBeforeTheLease(t *testing.T) {
	store, err := NewMemoryDedupStore()
	require.NoError(t, err)
	var deadline time.Time
	var hasDeadline bool
	start := time.Now()
	h := WebhookHandler(vectorSecret, func(ctx context.Context, ev *Event) error {
		deadline, hasDeadline = ctx.Deadline()
		return nil
	}, WithClock(webhookClockAt(vectorTime)), WithDeduplication(store, WithDedupLease(10*time.Second)))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, webhookRequest(strings.NewReader(vectorBody), []byte(vectorBody), vectorSecret, vectorTime))
	end := time.Now()
	require.Equal(t, 200, w.Code)
	require.True(t, hasDeadline)
	// Nine tenths of the lease, counted from before the claim.
	assert.WithinRange(t, deadline, start.Add(9*time.Second), end.Add(9*time.Second))
}

// fn panics: the claim is released, so the redelivery processes the event
// at once rather than after the lease.
func TestWebhookHandler_DeduplicationReleasesWhenFnPanics(t *testing.T) {
	store, err := NewMemoryDedupStore()
	require.NoError(t, err)
	h, fn, panicking := panickyHandler(WithDeduplication(store))
	deliver := func() int {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, webhookRequest(strings.NewReader(vectorBody), []byte(vectorBody), vectorSecret, vectorTime))
		return w.Code
	}
	assert.Panics(t, func() { deliver() })
	*panicking = false
	assert.Equal(t, 200, deliver())
	assert.Equal(t, 1, fn.count())
}

// panickyHandler is a handler with opt whose fn panics while *panicking,
// and hands the event to fn once it is set to false.
func panickyHandler(opt HandlerOption) (h http.Handler, fn *recordingFn, panicking *bool) {
	fn, panicking = &recordingFn{}, new(bool)
	*panicking = true
	h = WebhookHandler(vectorSecret, func(ctx context.Context, ev *Event) error {
		if *panicking {
			panic("bug")
		}
		return fn.handle(ctx, ev)
	}, WithClock(webhookClockAt(vectorTime)), opt)
	return h, fn, panicking
}

// Many concurrent copies of each event through one handler and one memory
// store: fn succeeds once per event; copies that meet a delivery in flight
// get 409 and are redelivered, like every non-2xx.
func TestWebhookHandler_DeduplicationConcurrentCopies(t *testing.T) {
	store, err := NewMemoryDedupStore()
	require.NoError(t, err)
	var mu sync.Mutex
	succeeded := map[string]int{}
	tries := map[string]int{}
	h := WebhookHandler(vectorSecret, func(ctx context.Context, ev *Event) error {
		mu.Lock()
		tries[ev.ID]++
		first := tries[ev.ID] == 1
		mu.Unlock()
		time.Sleep(time.Millisecond) // widen the window for a racing copy
		if first && strings.HasSuffix(ev.ID, "0") {
			return errors.New("first try fails")
		}
		mu.Lock()
		succeeded[ev.ID]++
		mu.Unlock()
		return nil
	}, WithClock(webhookClockAt(vectorTime)), WithDeduplication(store))

	const events, copies = 40, 8
	statuses := make(map[int]int)
	var wg sync.WaitGroup
	for i := range events {
		body := []byte(envelope(EventTaskCompleted, "{}"))
		body = bytes.Replace(body, []byte(`"evt_1"`), []byte(fmt.Sprintf(`"evt_%d"`, i)), 1)
		for range copies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					w := httptest.NewRecorder()
					h.ServeHTTP(w, webhookRequest(bytes.NewReader(body), body, vectorSecret, vectorTime))
					mu.Lock()
					statuses[w.Code]++
					mu.Unlock()
					if w.Code == 200 {
						return
					}
					time.Sleep(time.Millisecond)
				}
			}()
		}
	}
	wg.Wait()
	require.Len(t, succeeded, events)
	for id, n := range succeeded {
		assert.Equal(t, 1, n, id)
	}
	assert.Equal(t, events*copies, statuses[200])
	assert.Positive(t, statuses[500], "some first tries failed")
	t.Logf("answers: %v", statuses)
}

func TestWebhookHandler_DeduplicationMisconfigured(t *testing.T) {
	for name, tc := range map[string]struct {
		opt  HandlerOption
		want string
	}{
		"nil store":            {WithDeduplication(nil), "WithDeduplication: nil store"},
		"nil memory store":     {WithDeduplication((*MemoryDedupStore)(nil)), "WithDeduplication: nil store"},
		"lease under a second": {WithDeduplication(&scriptedStore{}, WithDedupLease(time.Millisecond)), "WithDedupLease: 1ms is shorter than a second"},
		"zero retention":       {WithDeduplication(&scriptedStore{}, WithDedupRetention(0)), "WithDedupRetention: 0s is not positive"},
	} {
		t.Run(name, func(t *testing.T) {
			var logs lockedBuffer
			h := WebhookHandler(vectorSecret, (&recordingFn{}).handle, tc.opt, WithHandlerLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, webhookRequest(strings.NewReader(vectorBody), []byte(vectorBody), vectorSecret, vectorTime))
			assert.Equal(t, 500, w.Code)
			assert.Contains(t, logs.String(), tc.want)
		})
	}
}

// discardWriter is the cheapest http.ResponseWriter, so that the benchmark
// measures the handler.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

// BenchmarkWebhookHandler: a 1 KiB delivery of a new event each time,
// without ("plain") and with de-duplication in a memory store
// ("dedup-memory"), and with a DeliveryTrace whose hooks do nothing
// ("traced"); "paired" runs plain and dedup-memory in the same loop, alternating blocks
// of deliveries, and reports their ratio (the figure of issue 12: ≤ 1.10).
func BenchmarkWebhookHandler(b *testing.B) {
	const pool = 1 << 13
	payloads := make([][]byte, pool)
	headers := make([]string, pool)
	for i := range payloads {
		p := fmt.Sprintf(`{"id":"evt_%08d","type":"agent.task.completed","created_at":"2026-02-18T14:30:00Z","data":{"id":"tsk_1","pad":""}}`, i)
		p = strings.Replace(p, `"pad":""`, `"pad":"`+strings.Repeat("x", 1<<10-len(p))+`"`, 1)
		payloads[i] = []byte(p)
		headers[i] = SignPayload(payloads[i], vectorSecret, vectorTime)
	}
	ctx := context.Background()
	fn := func(context.Context, *Event) error { return nil }
	newHandler := func(mode string) http.Handler {
		opts := []HandlerOption{WithClock(webhookClockAt(vectorTime))}
		if mode == "traced" {
			opts = append(opts, WithDeliveryTrace(&DeliveryTrace{
				Start: func(ctx context.Context, _ *http.Request) context.Context { return ctx },
				End:   func(context.Context, Delivery) {},
			}))
		}
		if mode == "dedup-memory" {
			// Half the pool: an ID comes back only after it was evicted,
			// so every delivery is of a new event and the store is in its
			// steady state, full and evicting.
			store, err := NewMemoryDedupStore(WithMaxDoneEntries(pool / 2))
			if err != nil {
				b.Fatal(err)
			}
			opts = append(opts, WithDeduplication(store))
		}
		return WebhookHandler(vectorSecret, fn, opts...)
	}
	w := &discardWriter{h: http.Header{}}
	deliver := func(b *testing.B, h http.Handler, i int) {
		k := i % pool
		r := &http.Request{Method: http.MethodPost, Header: http.Header{SignatureHeader: {headers[k]}},
			Body: io.NopCloser(bytes.NewReader(payloads[k])), ContentLength: int64(len(payloads[k]))}
		w.code = 0
		h.ServeHTTP(w, r.WithContext(ctx))
		if w.code != 200 {
			b.Fatalf("answered %d", w.code)
		}
	}
	for _, mode := range []string{"plain", "dedup-memory", "traced"} {
		b.Run(mode, func(b *testing.B) {
			h := newHandler(mode)
			b.SetBytes(1 << 10)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				deliver(b, h, i)
			}
		})
	}
	b.Run("paired", func(b *testing.B) {
		sides := [2]http.Handler{newHandler("dedup-memory"), newHandler("plain")}
		const block = 16
		var took [2]time.Duration
		b.ReportAllocs()
		for i := 0; i < b.N; i += block {
			n := min(block, b.N-i)
			for k := range 2 {
				side := (k + i/block) % 2 // each side goes first every other block
				start := time.Now()
				for j := range n {
					deliver(b, sides[side], i+j)
				}
				took[side] += time.Since(start)
			}
		}
		b.ReportMetric(float64(took[0].Nanoseconds())/float64(b.N), "dedup-ns/delivery")
		b.ReportMetric(float64(took[1].Nanoseconds())/float64(b.N), "plain-ns/delivery")
		b.ReportMetric(took[0].Seconds()/took[1].Seconds(), "ratio")
	})
}

func TestLeaseContext_EndsAtItsDeadlineWithOrWithoutATimer(t *testing.T) {
	t.Run("Err without Done", func(t *testing.T) {
		c := &leaseContext{Context: context.Background(), deadline: time.Now().Add(20 * time.Millisecond)}
		defer c.stop()
		assert.NoError(t, c.Err())
		time.Sleep(30 * time.Millisecond)
		assert.ErrorIs(t, c.Err(), context.DeadlineExceeded, "no timer was started, yet the deadline holds")
	})
	t.Run("Done closes at the deadline", func(t *testing.T) {
		c := &leaseContext{Context: context.Background(), deadline: time.Now().Add(20 * time.Millisecond)}
		defer c.stop()
		select {
		case <-c.Done():
			assert.ErrorIs(t, c.Err(), context.DeadlineExceeded)
		case <-time.After(2 * time.Second):
			t.Fatal("Done never closed")
		}
	})
	t.Run("the request's end ends it", func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		c := &leaseContext{Context: parent, deadline: time.Now().Add(time.Hour)}
		defer c.stop()
		child, stop := context.WithCancel(c) // as fn's own calls would
		defer stop()
		cancel()
		<-child.Done()
		assert.ErrorIs(t, c.Err(), context.Canceled)
	})
	t.Run("a context derived from it costs no goroutine", func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		defer cancel()
		c := &leaseContext{Context: parent, deadline: time.Now().Add(time.Hour)}
		defer c.stop()
		nested := &leaseContext{Context: c, deadline: leaseDeadline(time.Hour)} // the ordering guard's, behind de-duplication
		defer nested.stop()
		before := runtime.NumGoroutine()
		child, stop := context.WithCancel(nested) // as fn's own calls would
		defer stop()
		assert.Equal(t, before, runtime.NumGoroutine(), "context.WithCancel started a goroutine to watch the lease context")
		cancel()
		<-child.Done()
		assert.ErrorIs(t, child.Err(), context.Canceled)
	})
	t.Run("Deadline is the earlier of the two", func(t *testing.T) {
		soon := time.Now().Add(time.Minute)
		parent, cancel := context.WithDeadline(context.Background(), soon)
		defer cancel()
		c := &leaseContext{Context: parent, deadline: soon.Add(time.Hour)}
		d, ok := c.Deadline()
		assert.True(t, ok)
		assert.Equal(t, soon, d)
		c2 := &leaseContext{Context: context.Background(), deadline: soon}
		d, _ = c2.Deadline()
		assert.Equal(t, soon, d)
	})
}

// deliverCtx posts body to h, signed, with ctx as the request's context.
func deliverCtx(ctx context.Context, h http.Handler, body []byte) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, webhookRequest(bytes.NewReader(body), body, vectorSecret, vectorTime).WithContext(ctx))
	return w
}

// A sender that hung up before the claim is no store failure: on a healthy
// store with fail-open, the delivery runs nothing (fn unguarded, then the
// API's redelivery, was fn twice), is not counted unavailable, and the
// redelivery is processed once.
func TestWebhookHandler_SenderGoneBeforeTheClaimRunsNothing(t *testing.T) {
	for name, guard := range map[string]func(*MemoryDedupStore) HandlerOption{
		"de-duplication": func(s *MemoryDedupStore) HandlerOption { return WithDeduplication(s, WithDedupFailOpen()) },
		"ordering":       func(s *MemoryDedupStore) HandlerOption { return WithOrdering(s, WithOrderFailOpen()) },
	} {
		t.Run(name, func(t *testing.T) {
			store, err := NewMemoryDedupStore()
			require.NoError(t, err)
			fn := &recordingFn{}
			var outcome DeliveryOutcome
			h := WebhookHandler(vectorSecret, fn.handle, WithClock(webhookClockAt(vectorTime)), guard(store),
				WithDeliveryTrace(&DeliveryTrace{End: func(_ context.Context, d Delivery) { outcome = d.Outcome }}))
			body := statusEvent("evt_1", "agt_1", "online", 1)
			gone, cancel := context.WithCancel(context.Background())
			cancel()
			w := deliverCtx(gone, h, body)
			assert.Equal(t, 503, w.Code)
			assert.Equal(t, DeliveryRefused, outcome, "a sender that hung up is no store failure")
			assert.Zero(t, fn.count(), "fn ran for a sender that hung up")
			assert.Zero(t, store.Len()+len(store.states), "the store holds something")

			assert.Equal(t, 200, deliver(h, body).Code)
			assert.Equal(t, DeliveryProcessed, outcome)
			assert.Equal(t, 1, fn.count())
		})
	}
}

// hangUpStore is a MemoryDedupStore whose last claim of a delivery (the
// ordering one, or the de-duplication one without ordering) hangs up the
// sender (calls hangUp) before it reaches the store; it records the time
// each claim's context gives it.
type hangUpStore struct {
	*MemoryDedupStore
	ordering  bool
	hangUp    context.CancelFunc
	deadlines []time.Duration
}

func (s *hangUpStore) hang(ctx context.Context, last bool) {
	if last {
		s.hangUp()
	}
	d, ok := ctx.Deadline()
	if !ok {
		d = time.Now().Add(time.Hour)
	}
	s.deadlines = append(s.deadlines, time.Until(d))
}

func (s *hangUpStore) Claim(ctx context.Context, id string, lease time.Duration) (DedupClaim, error) {
	s.hang(ctx, !s.ordering)
	return s.MemoryDedupStore.Claim(ctx, id, lease)
}

func (s *hangUpStore) ClaimState(ctx context.Context, key string, at time.Time, lease time.Duration) (DedupClaim, error) {
	s.hang(ctx, true)
	return s.MemoryDedupStore.ClaimState(ctx, key, at, lease)
}

// A sender that hangs up while the claims run cancels none of the store's
// steps: each runs under its own bound (at most 10 s), fn runs under the
// claims, and done is recorded, so that the redelivery is a duplicate —
// even with fail-open, where a cancelled claim used to run fn unguarded.
func TestWebhookHandler_StoreStepsOutliveTheSender(t *testing.T) {
	for _, ordering := range []bool{false, true} {
		t.Run(fmt.Sprintf("ordering=%t", ordering), func(t *testing.T) {
			mem, err := NewMemoryDedupStore()
			require.NoError(t, err)
			store := &hangUpStore{MemoryDedupStore: mem, ordering: ordering}
			fn := &recordingFn{}
			opts := []HandlerOption{WithClock(webhookClockAt(vectorTime)), WithDeduplication(store, WithDedupFailOpen())}
			if ordering {
				opts = append(opts, WithOrdering(store, WithOrderFailOpen()))
			}
			h := WebhookHandler(vectorSecret, fn.handle, opts...)
			body := statusEvent("evt_1", "agt_1", "online", 1)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			store.hangUp = cancel
			assert.Equal(t, 200, deliverCtx(ctx, h, body).Code)
			for _, d := range store.deadlines {
				assert.True(t, d > 9*time.Second && d <= 10*time.Second, "a store step's bound is %s; want 10 s", d)
			}

			store.hangUp = func() {}
			assert.Equal(t, 200, deliver(h, body).Code)
			assert.Equal(t, 1, fn.count(), "fn ran twice")
			if ordering {
				c, err := mem.ClaimState(context.Background(), "agent_status:agt_1", statusAt, time.Minute)
				require.NoError(t, err)
				assert.Equal(t, DedupStale, c.Status, "fn's state was not recorded")
			}
		})
	}
}

// Under either guard, fn's context when the store fails and the guard
// fails open is the one it gets under a claim: the request's, ending at
// nine tenths of the lease.
func TestWebhookHandler_FailOpenGivesFnTheClaimsDeadline(t *testing.T) {
	storeDown := errors.New("dial tcp: connection refused")
	for name, tc := range map[string]struct {
		guard HandlerOption
		want  time.Duration
	}{
		"de-duplication": {WithDeduplication(&scriptedStore{claimErr: storeDown}, WithDedupFailOpen(), WithDedupLease(10*time.Second)), 9 * time.Second},
		"ordering":       {WithOrdering(&scriptedOrderStore{orderErr: storeDown}, WithOrderFailOpen()), DefaultDedupLease - DefaultDedupLease/10},
	} {
		t.Run(name, func(t *testing.T) {
			var deadline time.Time
			var hasDeadline bool
			h := WebhookHandler(vectorSecret, func(ctx context.Context, ev *Event) error {
				deadline, hasDeadline = ctx.Deadline()
				return ctx.Err()
			}, WithClock(webhookClockAt(vectorTime)), tc.guard)
			start := time.Now()
			w := deliver(h, statusEvent("evt_1", "agt_1", "online", 1))
			end := time.Now()
			require.Equal(t, 200, w.Code)
			require.True(t, hasDeadline, "fn's context has no deadline")
			assert.WithinRange(t, deadline, start.Add(tc.want), end.Add(tc.want))
		})
	}
}

// A sender that hangs up while fn runs (after the claims): fn's context
// ends with the request's, and when fn returns nil all the same, its
// done step still lands: the redelivery is a duplicate, an older state is
// stale.
func TestWebhookHandler_SenderGoneDuringFnStillRecordsDone(t *testing.T) {
	for name, guards := range map[string]func(*MemoryDedupStore) []HandlerOption{
		"de-duplication": func(s *MemoryDedupStore) []HandlerOption { return []HandlerOption{WithDeduplication(s)} },
		"ordering":       func(s *MemoryDedupStore) []HandlerOption { return []HandlerOption{WithOrdering(s)} },
		"both": func(s *MemoryDedupStore) []HandlerOption {
			return []HandlerOption{WithDeduplication(s), WithOrdering(s)}
		},
	} {
		t.Run(name, func(t *testing.T) {
			store, err := NewMemoryDedupStore()
			require.NoError(t, err)
			ctx, hangUp := context.WithCancel(context.Background())
			defer hangUp()
			var calls int
			var fnErr error
			h := WebhookHandler(vectorSecret, func(fnCtx context.Context, ev *Event) error {
				calls++
				hangUp()
				select {
				case <-fnCtx.Done():
					fnErr = fnCtx.Err()
				case <-time.After(10 * time.Second):
				}
				return nil
			}, append(guards(store), WithClock(webhookClockAt(vectorTime)))...)
			assert.Equal(t, 200, deliverCtx(ctx, h, statusEvent("evt_1", "agt_1", "online", 1)).Code)
			assert.ErrorIs(t, fnErr, context.Canceled, "fn's context did not end with the sender's")

			if name != "ordering" {
				assert.Equal(t, 200, deliver(h, statusEvent("evt_1", "agt_1", "online", 1)).Code)
				assert.Equal(t, 1, calls, "the redelivery ran fn again: done was not recorded")
			}
			if name != "de-duplication" {
				assert.Equal(t, 200, deliver(h, statusEvent("evt_0", "agt_1", "offline", 0)).Code)
				assert.Equal(t, 1, calls, "an older state ran fn: the newer one was not recorded")
			}
		})
	}
}
