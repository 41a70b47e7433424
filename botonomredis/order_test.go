package botonomredis_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/botonomredis"
	"github.com/redis/go-redis/v9"
)

var statusAt = time.Date(2026, 2, 18, 10, 0, 0, 0, time.UTC)

// statusDelivery is a signed agent.status.changed delivery: agent's status
// "status_NN", created NN seconds after statusAt.
func statusDelivery(agent string, n int) *http.Request {
	body := []byte(fmt.Sprintf(`{"id":"evt_%s_%d","type":"agent.status.changed","created_at":%q,"data":{"agent_id":%q,"status":"status_%02d"}}`,
		agent, n, statusAt.Add(time.Duration(n)*time.Second).Format(time.RFC3339), agent, n))
	r := httptest.NewRequest(http.MethodPost, "/botonom/webhook", bytes.NewReader(body))
	r.Header.Set(botonom.SignatureHeader, botonom.SignPayload(body, webhookSecret, time.Now()))
	return r
}

func serveStatus(h http.Handler, agent string, n int) int {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, statusDelivery(agent, n))
	return w.Code
}

func mustClaimState(t *testing.T, s botonom.OrderStore, key string, at time.Time, lease time.Duration) botonom.DedupClaim {
	t.Helper()
	c, err := s.ClaimState(context.Background(), key, at, lease)
	if err != nil {
		t.Fatalf("ClaimState(%s): %v", key, err)
	}
	return c
}

func TestDedupStore_OrderClaimDoneRelease(t *testing.T) {
	ctx := context.Background()
	rdb := newRedis(t)
	prefix := uniquePrefix(t)
	s := newDedupStore(t, rdb, prefix)
	t1, t2 := statusAt, statusAt.Add(time.Nanosecond)

	c := mustClaimState(t, s, "agt_1", t2, time.Minute)
	if c.Status != botonom.DedupClaimed || len(c.Token) != 32 {
		t.Fatalf("first claim = %+v", c)
	}
	if in := mustClaimState(t, s, "agt_1", t1, time.Minute); in.Status != botonom.DedupInFlight || in.Remaining <= 55*time.Second || in.Remaining > time.Minute {
		t.Fatalf("second claim = %+v; want in flight with about a minute left", in)
	}
	if err := s.DoneState(ctx, "agt_1", c.Token, t2, time.Hour); err != nil {
		t.Fatal(err)
	}
	if got := mustClaimState(t, s, "agt_1", t1, time.Minute).Status; got != botonom.DedupStale {
		t.Fatalf("a nanosecond older: %s; want stale", got)
	}
	equal := mustClaimState(t, s, "agt_1", t2, time.Minute)
	if equal.Status != botonom.DedupClaimed {
		t.Fatalf("equal: %+v; want claimed", equal)
	}
	if err := s.ReleaseState(ctx, "agt_1", equal.Token); err != nil {
		t.Fatal(err)
	}
	// Done with an older state keeps the newer record.
	c = mustClaimState(t, s, "agt_1", t2, time.Minute)
	if err := s.DoneState(ctx, "agt_1", c.Token, t1.Add(-time.Hour), time.Hour); err != nil {
		t.Fatal(err)
	}
	if got := mustClaimState(t, s, "agt_1", t1, time.Minute).Status; got != botonom.DedupStale {
		t.Fatalf("after an older done: %s; want stale", got)
	}
	if ttl := rdb.PTTL(ctx, s.StateKey("agt_1")).Val(); ttl <= 59*time.Minute || ttl > time.Hour {
		t.Errorf("record kept for %s; want the hour of retention", ttl)
	}
	// A release records nothing, and leaves no key behind.
	c = mustClaimState(t, s, "agt_2", t2, time.Minute)
	if err := s.ReleaseState(ctx, "agt_2", c.Token); err != nil {
		t.Fatal(err)
	}
	if n := rdb.Exists(ctx, s.StateKey("agt_2")).Val(); n != 0 {
		t.Errorf("a released claim left its key")
	}
	// Times before 1970 order too.
	c = mustClaimState(t, s, "agt_3", time.Unix(-10, 0), time.Minute)
	if err := s.DoneState(ctx, "agt_3", c.Token, time.Unix(-10, 0), time.Hour); err != nil {
		t.Fatal(err)
	}
	if got := mustClaimState(t, s, "agt_3", time.Unix(-11, 0), time.Minute).Status; got != botonom.DedupStale {
		t.Errorf("before 1970: %s; want stale", got)
	}
	if got, want := s.StateKey("agt_1"), prefix+"{agt_1}:state"; got != want {
		t.Errorf("StateKey = %q; want %q", got, want)
	}
}

// A claimant whose lease ended cannot release the newer claim; its done
// records fn's state but leaves the newer claim alone.
func TestDedupStore_OrderExpiredLeaseAndStaleClaimant(t *testing.T) {
	ctx := context.Background()
	s := newDedupStore(t, newRedis(t), uniquePrefix(t))
	stale := mustClaimState(t, s, "agt_1", statusAt, 30*time.Millisecond)
	time.Sleep(40 * time.Millisecond)
	fresh := mustClaimState(t, s, "agt_1", statusAt, time.Minute)
	if fresh.Status != botonom.DedupClaimed {
		t.Fatalf("claim after the lease = %+v", fresh)
	}
	if err := s.ReleaseState(ctx, "agt_1", stale.Token); !errors.Is(err, botonom.ErrDedupClaimLost) {
		t.Errorf("stale ReleaseState = %v; want ErrDedupClaimLost", err)
	}
	if err := s.DoneState(ctx, "agt_1", stale.Token, statusAt, time.Hour); !errors.Is(err, botonom.ErrDedupClaimLost) {
		t.Errorf("stale DoneState = %v; want ErrDedupClaimLost", err)
	}
	if c := mustClaimState(t, s, "agt_1", statusAt, time.Minute); c.Status != botonom.DedupInFlight {
		t.Fatalf("the newer claim was disturbed: %+v", c)
	}
	if c := mustClaimState(t, s, "agt_1", statusAt.Add(-time.Second), time.Minute); c.Status != botonom.DedupStale {
		t.Fatalf("the stale claimant's done recorded nothing: %+v", c)
	}
}

// appliedStatus is the state an fn keeps: each agent's status as applied,
// and how often it applied an older status over a newer one.
type appliedStatus struct {
	mu        sync.Mutex
	status    map[string]string
	backwards int
	calls     int
}

func (a *appliedStatus) handle(_ context.Context, ev *botonom.Event) error {
	sc, err := ev.StatusChange()
	if err != nil {
		return err
	}
	time.Sleep(200 * time.Microsecond) // widen the window for a racing delivery
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

// Two replicas (two handlers, two Redis clients, one prefix), with and
// without de-duplication: a shuffled status history of 4 agents, all
// delivered at once, half to each replica, every non-2xx redelivered, ends
// with each agent in its newest status, never applying an older one over
// a newer.
func TestDedupStore_OrderingTwoReplicasEndInTheNewestState(t *testing.T) {
	testOrderingTwoReplicas(t, func(t *testing.T) redis.UniversalClient { return newRedis(t) })
}

// testOrderingTwoReplicas is
// TestDedupStore_OrderingTwoReplicasEndInTheNewestState with the Redis
// clients newClient makes (a server's, or a cluster's).
func testOrderingTwoReplicas(t *testing.T, newClient func(*testing.T) redis.UniversalClient) {
	const agents, changes = 4, 25
	for _, dedup := range []bool{false, true} {
		t.Run(fmt.Sprintf("dedup=%t", dedup), func(t *testing.T) {
			prefix := uniquePrefix(t)
			fn := &appliedStatus{}
			var replicas [2]http.Handler
			for i := range replicas {
				store := newDedupStore(t, newClient(t), prefix)
				opts := []botonom.HandlerOption{botonom.WithOrdering(store)}
				if dedup {
					opts = append(opts, botonom.WithDeduplication(store))
				}
				replicas[i] = botonom.WebhookHandler(webhookSecret, fn.handle, opts...)
			}
			type delivery struct {
				agent string
				n     int
			}
			var all []delivery
			want := map[string]string{}
			for a := range agents {
				for n := range changes {
					all = append(all, delivery{fmt.Sprintf("agt_%d", a), n})
				}
				want[fmt.Sprintf("agt_%d", a)] = fmt.Sprintf("status_%02d", changes-1)
			}
			rand.New(rand.NewPCG(17, 1)).Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })

			var answers [600]atomic.Int64
			var wg sync.WaitGroup
			for i, d := range all {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for try := 0; ; try++ {
						code := serveStatus(replicas[(i+try)%2], d.agent, d.n)
						answers[code].Add(1)
						if code == 200 {
							return
						}
						if code != 409 || try > 5000 {
							t.Errorf("%s %d: %d after %d tries", d.agent, d.n, code, try)
							return
						}
						time.Sleep(200 * time.Microsecond)
					}
				}()
			}
			wg.Wait()

			fn.mu.Lock()
			defer fn.mu.Unlock()
			if fmt.Sprint(fn.status) != fmt.Sprint(want) {
				t.Errorf("final state %v; want %v", fn.status, want)
			}
			if fn.backwards != 0 {
				t.Errorf("an older status was applied over a newer one %d times", fn.backwards)
			}
			t.Logf("fn applied %d of %d; answers: 200×%d 409×%d", fn.calls, len(all), answers[200].Load(), answers[409].Load())
		})
	}
}

// Round trips per delivery with WithOrdering alone: a state event that is
// processed costs 2 (claim, done), a stale one 1 (claim), one whose fn
// fails 2 (claim, release); any other event 0.
func TestDedupStore_OrderingRoundTrips(t *testing.T) {
	status := func(agent string, n int) func(http.Handler) int {
		return func(h http.Handler) int { return serveStatus(h, agent, n) }
	}
	countRoundTrips(t, func(s *botonomredis.DedupStore) []botonom.HandlerOption {
		return []botonom.HandlerOption{botonom.WithOrdering(s)}
	},
		[]roundTripStep{{serve: status("agt_warm", 1), fail: true}, {serve: status("agt_warm", 1)}, {serve: status("agt_warm", 0)}},
		[]roundTripStep{
			{"state event, processed: claim, done", status("agt_1", 5), false, 200, 2},
			{"state event, stale: claim", status("agt_1", 4), false, 200, 1},
			{"state event, fn fails: claim, release", status("agt_1", 6), true, 500, 2},
			{"another event: none", serveID("evt_task"), false, 200, 0},
		})
}

// Redis stopped mid-run: state deliveries are answered 503 and fn never
// runs unguarded; with WithOrderFailOpen fn runs. Redis back: the record
// kept (append-only file) still makes an older state stale, and processing
// resumes.
func TestDedupStore_OrderingRedisStoppedMidRun(t *testing.T) {
	srv, store := startOwnRedisStore(t)
	fn := &appliedStatus{}
	closed := botonom.WebhookHandler(webhookSecret, fn.handle, botonom.WithOrdering(store))
	openFn := &appliedStatus{}
	open := botonom.WebhookHandler(webhookSecret, openFn.handle, botonom.WithOrdering(store, botonom.WithOrderFailOpen()))

	if code := serveStatus(closed, "agt_1", 5); code != 200 {
		t.Fatalf("before the stop: %d", code)
	}
	srv.stop()
	for _, n := range []int{4, 6} {
		w := httptest.NewRecorder()
		closed.ServeHTTP(w, statusDelivery("agt_1", n))
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
			t.Errorf("status %d with Redis stopped: %d (Retry-After %q); want 503 with Retry-After", n, w.Code, w.Header().Get("Retry-After"))
		}
	}
	if fn.calls != 1 {
		t.Fatalf("fn ran %d times; want once, before the stop", fn.calls)
	}
	if code := serveStatus(open, "agt_1", 4); code != 200 || openFn.calls != 1 {
		t.Fatalf("fail open with Redis stopped: %d, fn ran %d times; want 200, once", code, openFn.calls)
	}

	srv.start()
	for _, n := range []int{4, 6} {
		var code int
		for try := 0; try < 50; try++ { // the pool may hold a dead connection or two
			if code = serveStatus(closed, "agt_1", n); code != http.StatusServiceUnavailable {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if code != 200 {
			t.Fatalf("status %d after the restart: %d", n, code)
		}
	}
	if fn.calls != 2 || fn.status["agt_1"] != "status_06" || fn.backwards != 0 {
		t.Errorf("after the restart: fn ran %d times, state %v, %d backwards; want 2, status_06, 0 (status 4 stale)", fn.calls, fn.status, fn.backwards)
	}
}

// A delivery whose lease ended and was claimed anew changes nothing of the
// newer claim by its done or release, even with a retention shorter than
// the newer lease; the same test for the memory store and the Redis store.
func TestOrderStore_ALostClaimChangesNothingOfTheNewerClaim(t *testing.T) {
	ctx := context.Background()
	memory, err := botonom.NewMemoryDedupStore()
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]interface {
		botonom.DedupStore
		botonom.OrderStore
	}{
		"memory": memory,
		"redis":  newDedupStore(t, newRedis(t), uniquePrefix(t)),
	} {
		t.Run(name, func(t *testing.T) {
			stale := mustClaimState(t, s, "agt_1", statusAt, 30*time.Millisecond)
			staleEvent := mustClaim(t, s, "evt_1", 30*time.Millisecond)
			time.Sleep(40 * time.Millisecond)
			if c := mustClaimState(t, s, "agt_1", statusAt, time.Minute); c.Status != botonom.DedupClaimed {
				t.Fatalf("claim after the lease = %+v", c)
			}
			if c := mustClaim(t, s, "evt_1", time.Minute); c.Status != botonom.DedupClaimed {
				t.Fatalf("claim after the lease = %+v", c)
			}
			if err := s.DoneState(ctx, "agt_1", stale.Token, statusAt, 20*time.Millisecond); !errors.Is(err, botonom.ErrDedupClaimLost) {
				t.Errorf("lost DoneState = %v; want ErrDedupClaimLost", err)
			}
			if err := s.Done(ctx, "evt_1", staleEvent.Token, 20*time.Millisecond); !errors.Is(err, botonom.ErrDedupClaimLost) {
				t.Errorf("lost Done = %v; want ErrDedupClaimLost", err)
			}
			time.Sleep(40 * time.Millisecond) // past the lost step's retention
			if c := mustClaimState(t, s, "agt_1", statusAt, time.Minute); c.Status != botonom.DedupInFlight || c.Remaining < 55*time.Second {
				t.Errorf("the newer entity claim after a lost DoneState: %+v; want in flight, about a minute left", c)
			}
			if c := mustClaim(t, s, "evt_1", time.Minute); c.Status != botonom.DedupInFlight || c.Remaining < 55*time.Second {
				t.Errorf("the newer event claim after a lost Done: %+v; want in flight, about a minute left", c)
			}
		})
	}
}

// Round trips per delivery of a state event with both guards on one store:
// a new one costs 2 (claim both, settle both), a duplicate 1, a stale one 1
// (the claim marks it done), one whose fn fails 2 (claim both, release
// both); any other event costs what de-duplication alone does.
func TestDedupStore_BothGuardsRoundTrips(t *testing.T) {
	status := func(agent string, n int) func(http.Handler) int {
		return func(h http.Handler) int { return serveStatus(h, agent, n) }
	}
	countRoundTrips(t, func(s *botonomredis.DedupStore) []botonom.HandlerOption {
		return []botonom.HandlerOption{botonom.WithDeduplication(s), botonom.WithOrdering(s)}
	},
		[]roundTripStep{{serve: status("agt_warm", 1), fail: true}, {serve: status("agt_warm", 1)}, {serve: status("agt_warm", 0)},
			{serve: serveID("evt_warm"), fail: true}, {serve: serveID("evt_warm")}},
		[]roundTripStep{
			{"new state event: claim both, done both", status("agt_1", 5), false, 200, 2},
			{"duplicate: claim", status("agt_1", 5), false, 200, 1},
			{"stale: claim (marks it done)", status("agt_1", 4), false, 200, 1},
			{"stale, redelivered: claim", status("agt_1", 4), false, 200, 1},
			{"fn fails: claim both, release both", status("agt_1", 6), true, 500, 2},
			{"another event: claim, done", serveID("evt_task"), false, 200, 2},
		})
}

// Both guards' steps at once: a state event's claim and its entity's in
// one step, with each guard's answers, sharing the entity's record with
// the ordering guard's own steps.
func TestDedupStore_EventStateClaimDoneRelease(t *testing.T) {
	ctx := context.Background()
	rdb := newRedis(t)
	prefix := uniquePrefix(t)
	s := newDedupStore(t, rdb, prefix)
	t1, t2 := statusAt, statusAt.Add(time.Nanosecond)
	es := func(id string, at time.Time) *botonom.EventState {
		return &botonom.EventState{EventID: id, Key: "agt_1", At: at, Lease: time.Minute, Retention: time.Hour, StateRetention: 2 * time.Hour}
	}
	claim := func(e *botonom.EventState) botonom.DedupClaim {
		t.Helper()
		c, err := s.ClaimEventState(ctx, e)
		if err != nil {
			t.Fatalf("ClaimEventState(%s): %v", e.EventID, err)
		}
		return c
	}

	c := claim(es("evt_1", t2))
	if c.Status != botonom.DedupClaimed || len(c.Token) != 32 {
		t.Fatalf("first claim = %+v", c)
	}
	for _, e := range []*botonom.EventState{es("evt_1", t2), es("evt_2", t2)} {
		if in := claim(e); in.Status != botonom.DedupInFlight || in.Remaining <= 55*time.Second {
			t.Errorf("%s while evt_1 holds the entity: %+v; want in flight", e.EventID, in)
		}
	}
	if in := mustClaimState(t, s, "agt_1", t2, time.Minute); in.Status != botonom.DedupInFlight {
		t.Errorf("the ordering guard alone: %+v; want in flight", in)
	}
	if err := s.ReleaseEventState(ctx, es("evt_1", t2), "not-the-token"); !errors.Is(err, botonom.ErrDedupClaimLost) {
		t.Errorf("release with another token = %v; want ErrDedupClaimLost", err)
	}
	if err := s.DoneEventState(ctx, es("evt_1", t2), c.Token); err != nil {
		t.Fatal(err)
	}
	if got := claim(es("evt_1", t2)).Status; got != botonom.DedupDone {
		t.Errorf("after done: %s; want done", got)
	}
	if got := claim(es("evt_3", t1)).Status; got != botonom.DedupStale {
		t.Errorf("an older state: %s; want stale", got)
	}
	if got := claim(es("evt_3", t1)).Status; got != botonom.DedupDone {
		t.Errorf("the stale event again: %s; want done (a stale event is marked done)", got)
	}
	if got := mustClaimState(t, s, "agt_1", t1, time.Minute).Status; got != botonom.DedupStale {
		t.Errorf("the ordering guard alone, older: %s; want stale", got)
	}
	if ttl := rdb.PTTL(ctx, s.EventStateKey("agt_1", "evt_1")).Val(); ttl <= 59*time.Minute || ttl > time.Hour {
		t.Errorf("event kept for %s; want the hour of retention", ttl)
	}
	if ttl := rdb.PTTL(ctx, s.StateKey("agt_1")).Val(); ttl <= 119*time.Minute || ttl > 2*time.Hour {
		t.Errorf("record kept for %s; want the two hours of its retention", ttl)
	}

	c = claim(es("evt_4", t2))
	if err := s.ReleaseEventState(ctx, es("evt_4", t2), c.Token); err != nil {
		t.Fatal(err)
	}
	if got := claim(es("evt_4", t2)).Status; got != botonom.DedupClaimed {
		t.Errorf("after release: %s; want claimed", got)
	}
	if got, want := s.EventStateKey("agt_1", "evt_1"), s.Key("evt_1"); got != want {
		t.Errorf("EventStateKey on one server = %q; want %q (de-duplication's own key)", got, want)
	}
	if _, err := s.ClaimEventState(ctx, &botonom.EventState{EventID: "e", Key: "k", Lease: time.Minute}); !errors.Is(err, botonom.ErrInvalidArgument) {
		t.Errorf("no retention: %v; want ErrInvalidArgument", err)
	}
}

// A rolling deploy that adds (or removes) WithOrdering: one replica has
// de-duplication alone, the other both guards, on one Redis server. A state
// event processed by either is a duplicate at the other, whichever comes
// first, and in flight at one is in flight at the other: both keep the
// event under one key.
func TestDedupStore_ReplicasWithDifferentGuardsShareOneRecord(t *testing.T) {
	prefix := uniquePrefix(t)
	store := newDedupStore(t, newRedis(t), prefix)
	var calls atomic.Int64
	var waited atomic.Bool
	running, release := make(chan struct{}), make(chan struct{})
	fn := func(_ context.Context, ev *botonom.Event) error {
		calls.Add(1)
		if ev.ID == "evt_agt_1_3" && waited.CompareAndSwap(false, true) { // its first run waits
			close(running)
			<-release
		}
		return nil
	}
	dedupOnly := botonom.WebhookHandler(webhookSecret, fn, botonom.WithDeduplication(store))
	both := botonom.WebhookHandler(webhookSecret, fn, botonom.WithDeduplication(store), botonom.WithOrdering(store))

	for n, replicas := range map[int][2]http.Handler{1: {dedupOnly, both}, 2: {both, dedupOnly}} {
		for i, h := range replicas {
			if code := serveStatus(h, "agt_1", n); code != http.StatusOK {
				t.Fatalf("event %d, delivery %d: %d; want 200", n, i, code)
			}
		}
	}
	if got := calls.Load(); got != 2 {
		t.Errorf("2 events, each delivered to both replicas: fn ran %d times; want 2", got)
	}

	done := make(chan int)
	go func() { done <- serveStatus(both, "agt_1", 3) }()
	<-running
	if code := serveStatus(dedupOnly, "agt_1", 3); code != http.StatusConflict {
		t.Errorf("while the other replica runs it: %d; want 409", code)
	}
	close(release)
	if code := <-done; code != http.StatusOK {
		t.Errorf("the delivery in flight: %d; want 200", code)
	}
	if got := calls.Load(); got != 3 {
		t.Errorf("3 events: fn ran %d times; want 3", got)
	}
}

// Both guards' combined steps on Redis, with a sender that hangs up while
// fn runs: fn's context ends with it, and the done step still lands (the
// redelivery is a duplicate, an older state stale).
func TestDedupStore_BothGuardsSenderGoneDuringFn(t *testing.T) {
	store := newDedupStore(t, newRedis(t), uniquePrefix(t))
	ctx, hangUp := context.WithCancel(context.Background())
	defer hangUp()
	var calls atomic.Int64
	var fnErr error
	h := botonom.WebhookHandler(webhookSecret, func(fnCtx context.Context, _ *botonom.Event) error {
		calls.Add(1)
		hangUp()
		select {
		case <-fnCtx.Done():
			fnErr = fnCtx.Err()
		case <-time.After(10 * time.Second):
		}
		return nil
	}, botonom.WithDeduplication(store), botonom.WithOrdering(store))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, statusDelivery("agt_1", 2).WithContext(ctx))
	if w.Code != http.StatusOK || !errors.Is(fnErr, context.Canceled) {
		t.Fatalf("answer %d, fn's context ended with %v; want 200, context.Canceled", w.Code, fnErr)
	}
	if code := serveStatus(h, "agt_1", 2); code != http.StatusOK || calls.Load() != 1 {
		t.Errorf("redelivery: %d, fn ran %d times; want 200, once (done was recorded)", code, calls.Load())
	}
	if code := serveStatus(h, "agt_1", 1); code != http.StatusOK || calls.Load() != 1 {
		t.Errorf("an older state: %d, fn ran %d times; want 200, once (the newer state was recorded)", code, calls.Load())
	}
}

// The memory store and the Redis store answer every step of both guards
// alike: the same script of steps, the same statuses and errors.
func TestStores_AgreeOnEveryStep(t *testing.T) {
	ctx := context.Background()
	t0, t1, t2 := statusAt, statusAt.Add(time.Second), statusAt.Add(2*time.Second)
	type stores interface {
		botonom.DedupStore
		botonom.OrderStore
	}
	run := func(s stores) []string {
		var out []string
		tokens := map[string]string{}
		claim := func(name string, c botonom.DedupClaim, err error) {
			tokens[name] = c.Token
			out = append(out, fmt.Sprintf("%s: %s %v", name, c.Status, err))
		}
		step := func(name string, err error) {
			switch {
			case errors.Is(err, botonom.ErrDedupClaimLost):
				err = botonom.ErrDedupClaimLost
			case errors.Is(err, botonom.ErrInvalidArgument):
				err = botonom.ErrInvalidArgument
			}
			out = append(out, fmt.Sprintf("%s: %v", name, err))
		}
		c, err := s.Claim(ctx, "evt_1", time.Minute)
		claim("claim evt_1", c, err)
		c, err = s.Claim(ctx, "evt_1", time.Minute)
		claim("claim evt_1 again", c, err)
		step("release evt_1, another token", s.Release(ctx, "evt_1", "nope"))
		step("done evt_1, another token", s.Done(ctx, "evt_1", "nope", time.Hour))
		step("release evt_1", s.Release(ctx, "evt_1", tokens["claim evt_1"]))
		step("release evt_1 again", s.Release(ctx, "evt_1", tokens["claim evt_1"]))
		c, err = s.Claim(ctx, "evt_1", time.Minute)
		claim("claim evt_1 after release", c, err)
		step("done evt_1", s.Done(ctx, "evt_1", tokens["claim evt_1 after release"], time.Hour))
		step("done evt_1 again", s.Done(ctx, "evt_1", tokens["claim evt_1 after release"], time.Hour))
		step("release evt_1 when done", s.Release(ctx, "evt_1", tokens["claim evt_1 after release"]))
		c, err = s.Claim(ctx, "evt_1", time.Minute)
		claim("claim evt_1 when done", c, err)
		step("done evt_2, never claimed", s.Done(ctx, "evt_2", "nope", time.Hour))
		c, err = s.Claim(ctx, "evt_2", time.Minute)
		claim("claim evt_2", c, err)
		step("release evt_3, never claimed", s.Release(ctx, "evt_3", "nope"))
		_, err = s.Claim(ctx, "evt_4", 0)
		step("claim with no lease", err)

		c, err = s.ClaimState(ctx, "agt_1", t1, time.Minute)
		claim("claim state t1", c, err)
		c, err = s.ClaimState(ctx, "agt_1", t2, time.Minute)
		claim("claim state t2 while t1 runs", c, err)
		c, err = s.ClaimState(ctx, "agt_1", t0, time.Minute)
		claim("claim state t0 while t1 runs", c, err)
		step("release state, another token", s.ReleaseState(ctx, "agt_1", "nope"))
		step("done state t1", s.DoneState(ctx, "agt_1", tokens["claim state t1"], t1, time.Hour))
		c, err = s.ClaimState(ctx, "agt_1", t0, time.Minute)
		claim("claim state t0", c, err)
		c, err = s.ClaimState(ctx, "agt_1", t1, time.Minute)
		claim("claim state t1 again (equal)", c, err)
		step("done state t1 again, another token", s.DoneState(ctx, "agt_1", "nope", t1, time.Hour))
		step("release state t1 again", s.ReleaseState(ctx, "agt_1", tokens["claim state t1 again (equal)"]))
		step("release state t1 again, twice", s.ReleaseState(ctx, "agt_1", tokens["claim state t1 again (equal)"]))
		c, err = s.ClaimState(ctx, "agt_1", t2, time.Minute)
		claim("claim state t2", c, err)
		step("done state t0 under t2's claim", s.DoneState(ctx, "agt_1", tokens["claim state t2"], t0, time.Hour))
		c, err = s.ClaimState(ctx, "agt_1", t1, time.Minute)
		claim("claim state t1 after t0 recorded over t1", c, err)
		step("done state agt_2, never claimed", s.DoneState(ctx, "agt_2", "nope", t1, time.Hour))
		c, err = s.ClaimState(ctx, "agt_2", t0, time.Minute)
		claim("claim state agt_2 t0", c, err)
		_, err = s.ClaimState(ctx, "agt_3", t0, 0)
		step("claim state with no lease", err)
		return out
	}
	memory, err := botonom.NewMemoryDedupStore()
	if err != nil {
		t.Fatal(err)
	}
	want := run(memory)
	got := run(newDedupStore(t, newRedis(t), uniquePrefix(t)))
	for i := range want {
		if i >= len(got) || got[i] != want[i] {
			t.Errorf("step %d: redis %q; memory %q", i, got[min(i, len(got)-1)], want[i])
		}
	}
	t.Logf("%d steps agree", len(want))
}

// fn panics under both guards' combined steps on Redis: both claims are
// released, so the redelivery is processed at once.
func TestDedupStore_BothGuardsReleaseWhenFnPanics(t *testing.T) {
	store := newDedupStore(t, newRedis(t), uniquePrefix(t))
	var panicking atomic.Bool
	panicking.Store(true)
	var calls atomic.Int64
	h := botonom.WebhookHandler(webhookSecret, func(context.Context, *botonom.Event) error {
		if panicking.Load() {
			panic("bug")
		}
		calls.Add(1)
		return nil
	}, botonom.WithDeduplication(store), botonom.WithOrdering(store))
	func() {
		defer func() {
			if recover() == nil {
				t.Error("fn's panic did not go on")
			}
		}()
		serveStatus(h, "agt_1", 1)
	}()
	panicking.Store(false)
	if code := serveStatus(h, "agt_1", 1); code != http.StatusOK || calls.Load() != 1 {
		t.Errorf("redelivery after the panic: %d, fn ran %d times; want 200, once", code, calls.Load())
	}
}
