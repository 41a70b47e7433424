package botonom

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	_ HandlerOption = WithOrdering(nil)
	_ OrderStore    = (*MemoryDedupStore)(nil)
)

func TestWithOrdering_IsAHandlerOptionOnly(t *testing.T) {
	_, isVerify := any(WithOrdering(nil)).(VerifyOption)
	assert.False(t, isVerify, "WithOrdering is a VerifyOption")
}

// statusAt is the base time of the status histories below.
var statusAt = time.Date(2026, 2, 18, 10, 0, 0, 0, time.UTC)

// statusEvent is a signed agent.status.changed delivery of agent, created
// sec seconds after statusAt.
func statusEvent(id, agent, status string, sec int) []byte {
	return []byte(fmt.Sprintf(`{"id":%q,"type":"agent.status.changed","created_at":%q,"data":{"agent_id":%q,"status":%q,"previous_status":"offline"}}`,
		id, statusAt.Add(time.Duration(sec)*time.Second).Format(time.RFC3339), agent, status))
}

// deliver posts body to h, signed, and returns the answer's status.
func deliver(h http.Handler, body []byte) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, webhookRequest(bytes.NewReader(body), body, vectorSecret, vectorTime))
	return w
}

func TestMemoryOrderStore_ClaimDoneRelease(t *testing.T) {
	ctx := context.Background()
	s, now := newTestStore(t)
	t1, t2 := statusAt, statusAt.Add(time.Second)

	c := must(s.ClaimState(ctx, "agent_status:agt_1", t2, time.Minute))
	require.Equal(t, DedupClaimed, c.Status)
	require.NotEmpty(t, c.Token)
	*now = now.Add(20 * time.Second)
	assert.Equal(t, DedupClaim{Status: DedupInFlight, Remaining: 40 * time.Second},
		must(s.ClaimState(ctx, "agent_status:agt_1", t1, time.Minute)), "one delivery of an entity at a time")
	require.NoError(t, s.DoneState(ctx, "agent_status:agt_1", c.Token, t2, time.Hour))

	assert.Equal(t, DedupStale, must(s.ClaimState(ctx, "agent_status:agt_1", t1, time.Minute)).Status, "older")
	equal := must(s.ClaimState(ctx, "agent_status:agt_1", t2, time.Minute))
	assert.Equal(t, DedupClaimed, equal.Status, "an equal created_at is processed")
	// A release records nothing: the older state is not stale.
	require.NoError(t, s.ReleaseState(ctx, "agent_status:agt_1", equal.Token))
	newer := must(s.ClaimState(ctx, "agent_status:agt_1", t2.Add(time.Second), time.Minute))
	require.Equal(t, DedupClaimed, newer.Status)
	require.NoError(t, s.ReleaseState(ctx, "agent_status:agt_1", newer.Token))
	assert.Equal(t, DedupStale, must(s.ClaimState(ctx, "agent_status:agt_1", t1, time.Minute)).Status)

	// Done with an older state keeps the newer record.
	c = must(s.ClaimState(ctx, "agent_status:agt_1", t2, time.Minute))
	require.NoError(t, s.DoneState(ctx, "agent_status:agt_1", c.Token, t1, time.Hour))
	assert.Equal(t, DedupStale, must(s.ClaimState(ctx, "agent_status:agt_1", t1, time.Minute)).Status)

	// Other keys are other entities.
	assert.Equal(t, DedupClaimed, must(s.ClaimState(ctx, "agent_status:agt_2", t1, time.Minute)).Status)

	// The retention ends: the record is forgotten.
	*now = now.Add(time.Hour)
	assert.Equal(t, DedupClaimed, must(s.ClaimState(ctx, "agent_status:agt_1", t1, time.Minute)).Status)
}

// A delivery whose lease ended cannot release the newer claim; its done
// keeps fn's record but leaves the newer claim alone.
func TestMemoryOrderStore_ExpiredLeaseAndStaleClaimant(t *testing.T) {
	ctx := context.Background()
	s, now := newTestStore(t)
	stale := must(s.ClaimState(ctx, "k", statusAt, time.Second))
	*now = now.Add(2 * time.Second)
	fresh := must(s.ClaimState(ctx, "k", statusAt, time.Minute))
	require.Equal(t, DedupClaimed, fresh.Status)
	assert.ErrorIs(t, s.ReleaseState(ctx, "k", stale.Token), ErrDedupClaimLost)
	assert.ErrorIs(t, s.DoneState(ctx, "k", stale.Token, statusAt, time.Hour), ErrDedupClaimLost)
	assert.Equal(t, DedupInFlight, must(s.ClaimState(ctx, "k", statusAt, time.Minute)).Status, "the newer claim holds")
	require.NoError(t, s.DoneState(ctx, "k", fresh.Token, statusAt, time.Hour))
	assert.Equal(t, DedupStale, must(s.ClaimState(ctx, "k", statusAt.Add(-time.Second), time.Minute)).Status)
}

// The ordering record is bounded like the done events: at most
// WithMaxDoneEntries keys, the oldest recorded forgotten first.
func TestMemoryOrderStore_EvictsTheOldestRecordBeyondTheMaximum(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t, WithMaxDoneEntries(2))
	for _, key := range []string{"a", "b", "c"} {
		c := must(s.ClaimState(ctx, key, statusAt, time.Minute))
		require.NoError(t, s.DoneState(ctx, key, c.Token, statusAt, time.Hour))
	}
	assert.Len(t, s.states, 2)
	old := statusAt.Add(-time.Second)
	assert.Equal(t, DedupClaimed, must(s.ClaimState(ctx, "a", old, time.Minute)).Status, "a was evicted")
	assert.Equal(t, DedupStale, must(s.ClaimState(ctx, "b", old, time.Minute)).Status)
	assert.Equal(t, DedupStale, must(s.ClaimState(ctx, "c", old, time.Minute)).Status)
}

func TestMemoryOrderStore_BadArguments(t *testing.T) {
	s, _ := newTestStore(t)
	_, err := s.ClaimState(context.Background(), "k", statusAt, 0)
	assert.ErrorIs(t, err, ErrInvalidArgument)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = s.ClaimState(ctx, "k", statusAt, time.Minute)
	assert.ErrorIs(t, err, context.Canceled)
}

// scriptedOrderStore answers ClaimState as told and records the calls.
type scriptedOrderStore struct {
	scriptedStore
	orderClaim DedupClaim
	orderErr   error
}

func (s *scriptedOrderStore) ClaimState(_ context.Context, key string, at time.Time, lease time.Duration) (DedupClaim, error) {
	s.record(fmt.Sprintf("claim-state %s %s %s", key, at.Format(time.RFC3339), lease))
	return s.orderClaim, s.orderErr
}

func (s *scriptedOrderStore) DoneState(_ context.Context, key, token string, at time.Time, retention time.Duration) error {
	s.record(fmt.Sprintf("done-state %s %s %s %s", key, token, at.Format(time.RFC3339), retention))
	return nil
}

func (s *scriptedOrderStore) ReleaseState(_ context.Context, key, token string) error {
	s.record(fmt.Sprintf("release-state %s %s", key, token))
	return nil
}

// The outcome table of WithOrdering, row by row, with the store's answer
// scripted; alone and behind de-duplication.
func TestWebhookHandler_OrderingOutcomes(t *testing.T) {
	storeDown := errors.New("dial tcp: connection refused")
	state := statusEvent("evt_5", "agt_1", "online", 5)
	const claimState = "claim-state agent_status:agt_1 2026-02-18T10:00:05Z 5m0s"
	for name, tc := range map[string]struct {
		body       []byte
		claim      DedupClaim
		claimErr   error
		fnErr      error
		opts       []OrderOption
		dedup      bool
		status     int
		retryAfter string
		fnCalls    int
		calls      []string
	}{
		"newest, fn succeeds": {claim: DedupClaim{Status: DedupClaimed, Token: "o1"}, status: 200, fnCalls: 1,
			calls: []string{claimState, "done-state agent_status:agt_1 o1 2026-02-18T10:00:05Z 72h0m0s"}},
		"newest, fn fails: nothing recorded": {claim: DedupClaim{Status: DedupClaimed, Token: "o1"}, fnErr: errors.New("db down"),
			status: 500, fnCalls: 1, calls: []string{claimState, "release-state agent_status:agt_1 o1"}},
		"stale": {claim: DedupClaim{Status: DedupStale}, status: 200, calls: []string{claimState}},
		"in flight": {claim: DedupClaim{Status: DedupInFlight, Remaining: 1500 * time.Millisecond}, status: 409, retryAfter: "2",
			calls: []string{claimState}},
		"store fails: closed": {claimErr: storeDown, status: 503, retryAfter: "1", calls: []string{claimState}},
		"store fails: open": {claimErr: storeDown, opts: []OrderOption{WithOrderFailOpen()}, status: 200, fnCalls: 1,
			calls: []string{claimState}},
		"store answers nonsense": {claim: DedupClaim{Status: DedupDone}, status: 503, retryAfter: "1", calls: []string{claimState}},
		"no agent_id": {body: []byte(`{"id":"evt_5","type":"agent.status.changed","created_at":"2026-02-18T10:00:05Z","data":{"status":"online"}}`),
			status: 400},
		"no created_at": {body: []byte(`{"id":"evt_5","type":"agent.status.changed","data":{"agent_id":"agt_1"}}`), status: 400},
		"other event types cost the store nothing": {body: []byte(vectorBody), status: 200, fnCalls: 1},
		"a custom state event": {body: []byte(`{"id":"evt_5","type":"agent.mood.changed","created_at":"2026-02-18T10:00:05Z","data":{"agent_id":"agt_1"}}`),
			opts:  []OrderOption{WithOrderedEvent("agent.mood.changed", func(*Event) (string, error) { return "mood:agt_1", nil })},
			claim: DedupClaim{Status: DedupStale}, status: 200,
			calls: []string{"claim-state mood:agt_1 2026-02-18T10:00:05Z 5m0s"}},
		"the default set emptied": {opts: []OrderOption{WithOrderedEvent(EventStatusChanged, nil)}, status: 200, fnCalls: 1},

		"dedup, newest": {dedup: true, claim: DedupClaim{Status: DedupClaimed, Token: "o1"}, status: 200, fnCalls: 1,
			calls: []string{"claim evt_5 5m0s", claimState, "done-state agent_status:agt_1 o1 2026-02-18T10:00:05Z 72h0m0s", "done evt_5 d1 72h0m0s"}},
		"dedup, fn fails": {dedup: true, claim: DedupClaim{Status: DedupClaimed, Token: "o1"}, fnErr: errors.New("db down"), status: 500, fnCalls: 1,
			calls: []string{"claim evt_5 5m0s", claimState, "release-state agent_status:agt_1 o1", "release evt_5 d1"}},
		"dedup, stale: the event is done": {dedup: true, claim: DedupClaim{Status: DedupStale}, status: 200,
			calls: []string{"claim evt_5 5m0s", claimState, "done evt_5 d1 72h0m0s"}},
		"dedup, in flight: released": {dedup: true, claim: DedupClaim{Status: DedupInFlight}, status: 409, retryAfter: "1",
			calls: []string{"claim evt_5 5m0s", claimState, "release evt_5 d1"}},
		"dedup, store fails: released": {dedup: true, claimErr: storeDown, status: 503, retryAfter: "1",
			calls: []string{"claim evt_5 5m0s", claimState, "release evt_5 d1"}},
	} {
		t.Run(name, func(t *testing.T) {
			store := &scriptedOrderStore{orderClaim: tc.claim, orderErr: tc.claimErr}
			store.claim = DedupClaim{Status: DedupClaimed, Token: "d1"}
			fn := &recordingFn{err: tc.fnErr}
			var logs lockedBuffer
			opts := []HandlerOption{WithClock(webhookClockAt(vectorTime)),
				WithHandlerLogger(slog.New(slog.NewTextHandler(&logs, nil))), WithOrdering(store, tc.opts...)}
			if tc.dedup {
				opts = append(opts, WithDeduplication(store))
			}
			h := WebhookHandler(vectorSecret, fn.handle, opts...)
			body := tc.body
			if body == nil {
				body = state
			}
			w := deliver(h, body)

			assert.Equal(t, tc.status, w.Code, w.Body.String())
			assert.Equal(t, tc.retryAfter, w.Header().Get("Retry-After"))
			assert.Equal(t, tc.fnCalls, fn.count())
			assert.Equal(t, tc.calls, store.Calls())
			if tc.claimErr != nil {
				assert.Contains(t, logs.String(), "connection refused")
			}
			if tc.claim.Status == DedupStale {
				assert.Contains(t, logs.String(), "stale")
			}
		})
	}
}

// statusHistory is a history of status changes of agents, one a second.
type statusHistory struct {
	bodies [][]byte
	newest map[string]string // agent → its newest status
}

func newStatusHistory(agents, changes int) statusHistory {
	h := statusHistory{newest: map[string]string{}}
	for i := range changes {
		for a := range agents {
			agent := fmt.Sprintf("agt_%d", a)
			status := fmt.Sprintf("status_%02d", i) // the status names its time
			h.bodies = append(h.bodies, statusEvent(fmt.Sprintf("evt_%d_%d", a, i), agent, status, i))
			h.newest[agent] = status
		}
	}
	return h
}

// applied is the state an fn keeps: each agent's status as applied, and
// every time it applied an older status over a newer one.
type applied struct {
	mu        sync.Mutex
	status    map[string]string
	backwards int
	calls     int
}

func (a *applied) handle(_ context.Context, ev *Event) error {
	sc, err := ev.StatusChange()
	if err != nil {
		return err
	}
	time.Sleep(100 * time.Microsecond) // widen the window for a racing delivery
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.status == nil {
		a.status = map[string]string{}
	}
	if string(sc.Status) < a.status[sc.AgentID] {
		a.backwards++
	}
	a.status[sc.AgentID] = string(sc.Status)
	a.calls++
	return nil
}

// Shuffled deliveries of a status history — one at a time, then all at
// once with every non-2xx redelivered — end with each agent in its newest
// status, and fn never applies an older status over a newer one.
func TestWebhookHandler_OrderingShuffledHistoryEndsInTheNewestState(t *testing.T) {
	hist := newStatusHistory(3, 20)
	for _, concurrent := range []bool{false, true} {
		for _, dedup := range []bool{false, true} {
			t.Run(fmt.Sprintf("concurrent=%t dedup=%t", concurrent, dedup), func(t *testing.T) {
				store, err := NewMemoryDedupStore()
				require.NoError(t, err)
				fn := &applied{}
				opts := []HandlerOption{WithClock(webhookClockAt(vectorTime)), WithOrdering(store)}
				if dedup {
					opts = append(opts, WithDeduplication(store))
				}
				h := WebhookHandler(vectorSecret, fn.handle, opts...)
				bodies := append([][]byte(nil), hist.bodies...)
				rand.New(rand.NewPCG(1, uint64(len(t.Name())))).Shuffle(len(bodies), func(i, j int) { bodies[i], bodies[j] = bodies[j], bodies[i] })
				var wg sync.WaitGroup
				for _, body := range bodies {
					send := func() {
						for try := 0; ; try++ {
							if code := deliver(h, body).Code; code == 200 {
								return
							} else if code != 409 || try > 5000 {
								t.Errorf("answered %d", code)
								return
							}
							time.Sleep(100 * time.Microsecond)
						}
					}
					if !concurrent {
						send()
						continue
					}
					wg.Add(1)
					go func() { defer wg.Done(); send() }()
				}
				wg.Wait()
				assert.Equal(t, hist.newest, fn.status)
				assert.Zero(t, fn.backwards, "an older status applied over a newer one")
				assert.Less(t, fn.calls, len(bodies), "some deliveries were stale")
				t.Logf("fn applied %d of %d deliveries", fn.calls, len(bodies))
			})
		}
	}
}

// A newer event whose fn fails records nothing: the older one is then
// processed, and the newer one's redelivery after it.
func TestWebhookHandler_OrderingAFailedNewerEventMakesNothingStale(t *testing.T) {
	store, err := NewMemoryDedupStore()
	require.NoError(t, err)
	fail := true
	fn := &applied{}
	h := WebhookHandler(vectorSecret, func(ctx context.Context, ev *Event) error {
		if fail {
			return errors.New("db down")
		}
		return fn.handle(ctx, ev)
	}, WithClock(webhookClockAt(vectorTime)), WithOrdering(store))
	newer, older := statusEvent("evt_2", "agt_1", "status_02", 2), statusEvent("evt_1", "agt_1", "status_01", 1)
	assert.Equal(t, 500, deliver(h, newer).Code)
	fail = false
	assert.Equal(t, 200, deliver(h, older).Code)
	assert.Equal(t, 200, deliver(h, newer).Code)
	assert.Equal(t, 200, deliver(h, older).Code, "stale now")
	assert.Equal(t, map[string]string{"agt_1": "status_02"}, fn.status)
	assert.Equal(t, 2, fn.calls)
}

// Equal created_at: both are processed (a redelivery of the newest, or two
// events of the same second).
func TestWebhookHandler_OrderingEqualTimestampsAreProcessed(t *testing.T) {
	store, err := NewMemoryDedupStore()
	require.NoError(t, err)
	fn := &recordingFn{}
	h := WebhookHandler(vectorSecret, fn.handle, WithClock(webhookClockAt(vectorTime)), WithOrdering(store))
	assert.Equal(t, 200, deliver(h, statusEvent("evt_1", "agt_1", "online", 3)).Code)
	assert.Equal(t, 200, deliver(h, statusEvent("evt_2", "agt_1", "offline", 3)).Code)
	assert.Equal(t, 200, deliver(h, statusEvent("evt_0", "agt_1", "online", 2)).Code)
	assert.Equal(t, 2, fn.count())
}

// A forged, replayed or malformed delivery never reaches the order store.
func TestWebhookHandler_OrderingAfterVerification(t *testing.T) {
	store := &scriptedOrderStore{orderClaim: DedupClaim{Status: DedupClaimed, Token: "t"}}
	fn := &recordingFn{}
	h := WebhookHandler(vectorSecret, fn.handle, WithClock(webhookClockAt(vectorTime)), WithOrdering(store))
	refuseForged(t, h, statusEvent("evt_1", "agt_1", "online", 1))
	assert.Empty(t, store.Calls())
	assert.Zero(t, fn.count())
}

func TestWebhookHandler_OrderingMisconfigured(t *testing.T) {
	for name, tc := range map[string]struct {
		opt  HandlerOption
		want string
	}{
		"nil store":        {WithOrdering(nil), "WithOrdering: nil store"},
		"nil memory store": {WithOrdering((*MemoryDedupStore)(nil)), "WithOrdering: nil store"},
		"bad event name":   {WithOrdering(&scriptedOrderStore{}, WithOrderedEvent("Status", agentStatusKey)), "WithOrderedEvent: \\\"Status\\\" is not an event name"},
	} {
		t.Run(name, func(t *testing.T) {
			var logs lockedBuffer
			h := WebhookHandler(vectorSecret, (&recordingFn{}).handle, tc.opt, WithHandlerLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			assert.Equal(t, 500, deliver(h, []byte(vectorBody)).Code)
			assert.Contains(t, logs.String(), tc.want)
		})
	}
}

func TestOrderedEvents_IsACopy(t *testing.T) {
	OrderedEvents()[EventTaskCompleted] = agentStatusKey
	assert.Len(t, OrderedEvents(), 1)
}

// BenchmarkWebhookHandler_Ordering: an agent.status.changed delivery each
// time (1,024 agents × 8 rounds: newer states, and stale ones once the
// pool wraps), without the guard
// ("plain"), with it in a memory store ("ordering-memory": a claim and a
// done per delivery), and a task event through the guarded handler
// ("ordering-other-event": no store step).
func BenchmarkWebhookHandler_Ordering(b *testing.B) {
	const agents, rounds = 1 << 10, 8
	type signed struct {
		body   []byte
		header string
	}
	var states []signed
	for n := range rounds {
		for a := range agents {
			body := statusEvent(fmt.Sprintf("evt_%d_%d", a, n), fmt.Sprintf("agt_%d", a), "online", n)
			states = append(states, signed{body, SignPayload(body, vectorSecret, vectorTime)})
		}
	}
	other := signed{[]byte(vectorBody), SignPayload([]byte(vectorBody), vectorSecret, vectorTime)}
	fn := func(context.Context, *Event) error { return nil }
	w := &discardWriter{h: http.Header{}}
	for _, mode := range []string{"plain", "ordering-memory", "ordering-other-event"} {
		b.Run(mode, func(b *testing.B) {
			opts := []HandlerOption{WithClock(webhookClockAt(vectorTime))}
			if mode != "plain" {
				store, err := NewMemoryDedupStore()
				if err != nil {
					b.Fatal(err)
				}
				opts = append(opts, WithOrdering(store))
			}
			h := WebhookHandler(vectorSecret, fn, opts...)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				d := states[i%len(states)]
				if mode == "ordering-other-event" {
					d = other
				}
				r := &http.Request{Method: http.MethodPost, Header: http.Header{SignatureHeader: {d.header}},
					Body: io.NopCloser(bytes.NewReader(d.body)), ContentLength: int64(len(d.body))}
				w.code = 0
				h.ServeHTTP(w, r)
				if w.code != 200 {
					b.Fatalf("answered %d", w.code)
				}
			}
		})
	}
}

// fn panics: the entity's claim is released, so the next delivery of the
// entity is processed at once rather than answered 409 until the lease ends.
func TestWebhookHandler_OrderingReleasesWhenFnPanics(t *testing.T) {
	store, err := NewMemoryDedupStore()
	require.NoError(t, err)
	h, fn, panicking := panickyHandler(WithOrdering(store))
	assert.Panics(t, func() { deliver(h, statusEvent("evt_1", "agt_1", "online", 1)) })
	*panicking = false
	assert.Equal(t, 200, deliver(h, statusEvent("evt_1", "agt_1", "online", 1)).Code)
	assert.Equal(t, 1, fn.count())
}

// fn panics under both guards' own steps (a store that is no GuardStore):
// both claims are released, so the redelivery is processed at once.
func TestWebhookHandler_BothGuardsReleaseWhenFnPanics(t *testing.T) {
	store, err := NewMemoryDedupStore()
	require.NoError(t, err)
	both := HandlerOption(handlerOption(func(c *handlerConfig) error {
		if err := WithDeduplication(store).applyHandler(c); err != nil {
			return err
		}
		return WithOrdering(store).applyHandler(c)
	}))
	h, fn, panicking := panickyHandler(both)
	assert.Panics(t, func() { deliver(h, statusEvent("evt_1", "agt_1", "online", 1)) })
	*panicking = false
	assert.Equal(t, 200, deliver(h, statusEvent("evt_1", "agt_1", "online", 1)).Code)
	assert.Equal(t, 1, fn.count())
}

// fn's context under the ordering claim ends at nine tenths of the
// ordering lease (DefaultDedupLease), counted from before the claim; behind
// de-duplication, at whichever of the two leases' deadlines comes first.
func TestWebhookHandler_OrderingFnContextEndsBeforeTheLease(t *testing.T) {
	orderingLease := DefaultDedupLease - DefaultDedupLease/10
	for _, tc := range []struct {
		name  string
		dedup []DedupOption // nil: no de-duplication
		want  time.Duration
	}{
		{"ordering alone", nil, orderingLease},
		{"behind a longer de-dup lease", []DedupOption{WithDedupLease(time.Hour)}, orderingLease},
		{"behind a shorter de-dup lease", []DedupOption{WithDedupLease(10 * time.Second)}, 9 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, err := NewMemoryDedupStore()
			require.NoError(t, err)
			opts := []HandlerOption{WithClock(webhookClockAt(vectorTime)), WithOrdering(store)}
			if tc.dedup != nil {
				opts = append(opts, WithDeduplication(store, tc.dedup...))
			}
			var deadline time.Time
			var hasDeadline bool
			h := WebhookHandler(vectorSecret, func(ctx context.Context, ev *Event) error {
				deadline, hasDeadline = ctx.Deadline()
				return ctx.Err()
			}, opts...)
			start := time.Now()
			w := deliver(h, statusEvent("evt_1", "agt_1", "online", 1))
			end := time.Now()
			require.Equal(t, 200, w.Code)
			require.True(t, hasDeadline)
			assert.WithinRange(t, deadline, start.Add(tc.want), end.Add(tc.want))
		})
	}
}

// scriptedGuardStore is a scriptedOrderStore that is a GuardStore too: it
// answers ClaimEventState as told.
type scriptedGuardStore struct {
	scriptedOrderStore
	both         DedupClaim
	bothErr      error
	doneBothErrs int // how many DoneEventState calls fail
}

func (s *scriptedGuardStore) ClaimEventState(_ context.Context, es *EventState) (DedupClaim, error) {
	s.record(fmt.Sprintf("claim-both %s %s %s %s %s", es.EventID, es.Key, es.At.Format(time.RFC3339), es.Lease, es.Retention))
	return s.both, s.bothErr
}

func (s *scriptedGuardStore) DoneEventState(_ context.Context, es *EventState, token string) error {
	s.record(fmt.Sprintf("done-both %s %s %s %s %s", es.EventID, es.Key, token, es.Retention, es.StateRetention))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.doneBothErrs > 0 {
		s.doneBothErrs--
		return errors.New("dial tcp: connection refused")
	}
	return nil
}

func (s *scriptedGuardStore) ReleaseEventState(_ context.Context, es *EventState, token string) error {
	s.record(fmt.Sprintf("release-both %s %s %s", es.EventID, es.Key, token))
	return nil
}

// Both guards on one GuardStore: a state event's two claims are taken in
// one step and settled in one, with the outcomes of the two guards; other
// events go through de-duplication alone; two different stores, or a store
// that is no GuardStore, keep the guards' own steps.
func TestWebhookHandler_BothGuardsOnAGuardStore(t *testing.T) {
	storeDown := errors.New("dial tcp: connection refused")
	claimed := DedupClaim{Status: DedupClaimed, Token: "b1"}
	const claimBoth = "claim-both evt_5 agent_status:agt_1 2026-02-18T10:00:05Z 1m0s 1h0m0s"
	for name, tc := range map[string]struct {
		body             []byte
		both             DedupClaim
		bothErr          error
		doneBothErrs     int
		fnErr            error
		dedupOpen, order bool // fail open
		status           int
		outcome          DeliveryOutcome
		fnCalls          int
		calls            []string
	}{
		"new, fn succeeds": {both: claimed, status: 200, outcome: DeliveryProcessed, fnCalls: 1,
			calls: []string{claimBoth, "done-both evt_5 agent_status:agt_1 b1 1h0m0s 72h0m0s"}},
		"new, fn fails": {both: claimed, fnErr: errors.New("db down"), status: 500, outcome: DeliveryFailed, fnCalls: 1,
			calls: []string{claimBoth, "release-both evt_5 agent_status:agt_1 b1"}},
		"new, done fails twice: retried": {both: claimed, doneBothErrs: 2, status: 200, outcome: DeliveryProcessed, fnCalls: 1,
			calls: []string{claimBoth, "done-both evt_5 agent_status:agt_1 b1 1h0m0s 72h0m0s", "done-both evt_5 agent_status:agt_1 b1 1h0m0s 72h0m0s",
				"done-both evt_5 agent_status:agt_1 b1 1h0m0s 72h0m0s"}},
		"done":                {both: DedupClaim{Status: DedupDone}, status: 200, outcome: DeliveryDuplicate, calls: []string{claimBoth}},
		"stale":               {both: DedupClaim{Status: DedupStale}, status: 200, outcome: DeliveryStale, calls: []string{claimBoth}},
		"in flight":           {both: DedupClaim{Status: DedupInFlight}, status: 409, outcome: DeliveryInFlight, calls: []string{claimBoth}},
		"store fails: closed": {bothErr: storeDown, status: 503, outcome: DeliveryUnavailable, calls: []string{claimBoth}},
		"store fails: de-dup alone fails open": {bothErr: storeDown, dedupOpen: true, status: 503, outcome: DeliveryUnavailable,
			calls: []string{claimBoth}},
		"store fails: both fail open": {bothErr: storeDown, dedupOpen: true, order: true, status: 200, outcome: DeliveryProcessed, fnCalls: 1,
			calls: []string{claimBoth}},
		"store answers nonsense": {both: DedupClaim{Status: 42}, status: 503, outcome: DeliveryUnavailable, calls: []string{claimBoth}},
		"no agent_id: no step": {body: []byte(`{"id":"evt_5","type":"agent.status.changed","created_at":"2026-02-18T10:00:05Z","data":{"status":"online"}}`),
			status: 400, outcome: DeliveryRefused},
		"another event: de-duplication alone": {body: []byte(vectorBody), status: 200, outcome: DeliveryProcessed, fnCalls: 1,
			calls: []string{"claim evt_1 1m0s", "done evt_1 d1 1h0m0s"}},
	} {
		t.Run(name, func(t *testing.T) {
			store := &scriptedGuardStore{both: tc.both, bothErr: tc.bothErr, doneBothErrs: tc.doneBothErrs}
			store.claim = DedupClaim{Status: DedupClaimed, Token: "d1"}
			fn := &recordingFn{err: tc.fnErr}
			var outcome DeliveryOutcome
			dedupOpts := []DedupOption{WithDedupLease(time.Minute), WithDedupRetention(time.Hour)}
			if tc.dedupOpen {
				dedupOpts = append(dedupOpts, WithDedupFailOpen())
			}
			var orderOpts []OrderOption
			if tc.order {
				orderOpts = append(orderOpts, WithOrderFailOpen())
			}
			h := WebhookHandler(vectorSecret, fn.handle, WithClock(webhookClockAt(vectorTime)),
				WithDeduplication(store, dedupOpts...), WithOrdering(store, orderOpts...),
				WithDeliveryTrace(&DeliveryTrace{End: func(_ context.Context, d Delivery) { outcome = d.Outcome }}))
			body := tc.body
			if body == nil {
				body = statusEvent("evt_5", "agt_1", "online", 5)
			}
			w := deliver(h, body)
			assert.Equal(t, tc.status, w.Code, w.Body.String())
			assert.Equal(t, tc.outcome, outcome)
			assert.Equal(t, tc.fnCalls, fn.count())
			assert.Equal(t, tc.calls, store.Calls())
		})
	}

	t.Run("fn panics: both claims released", func(t *testing.T) {
		store := &scriptedGuardStore{both: claimed}
		h := WebhookHandler(vectorSecret, func(context.Context, *Event) error { panic("bug") }, WithClock(webhookClockAt(vectorTime)),
			WithDeduplication(store, WithDedupLease(time.Minute), WithDedupRetention(time.Hour)), WithOrdering(store))
		assert.Panics(t, func() { deliver(h, statusEvent("evt_5", "agt_1", "online", 5)) })
		assert.Equal(t, []string{claimBoth, "release-both evt_5 agent_status:agt_1 b1"}, store.Calls())
	})
	t.Run("two stores: each guard's own steps", func(t *testing.T) {
		dedup, order := &scriptedGuardStore{}, &scriptedGuardStore{}
		dedup.claim, order.orderClaim = DedupClaim{Status: DedupClaimed, Token: "d1"}, DedupClaim{Status: DedupClaimed, Token: "o1"}
		h := WebhookHandler(vectorSecret, (&recordingFn{}).handle, WithClock(webhookClockAt(vectorTime)),
			WithDeduplication(dedup), WithOrdering(order))
		assert.Equal(t, 200, deliver(h, statusEvent("evt_5", "agt_1", "online", 5)).Code)
		assert.Equal(t, []string{"claim evt_5 5m0s", "done evt_5 d1 72h0m0s"}, dedup.Calls())
		assert.Equal(t, []string{"claim-state agent_status:agt_1 2026-02-18T10:00:05Z 5m0s",
			"done-state agent_status:agt_1 o1 2026-02-18T10:00:05Z 72h0m0s"}, order.Calls())
	})
}
