package botonomredis_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/botonomredis"
	"github.com/redis/go-redis/v9"
)

const webhookSecret = "whsec_dedup_test"

// newDedupStore is NewDedupStore with a prefix no other test uses; its keys
// are deleted at the end.
func newDedupStore(t *testing.T, rdb redis.UniversalClient, prefix string) *botonomredis.DedupStore {
	t.Helper()
	s, err := botonomredis.NewDedupStore(rdb, botonomredis.WithKeyPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteKeys(rdb, prefix) })
	return s
}

// deleteKeys deletes the keys starting with prefix, from every master of a
// cluster.
func deleteKeys(rdb redis.UniversalClient, prefix string) {
	ctx := context.Background()
	del := func(ctx context.Context, c *redis.Client) error {
		keys, _ := c.Keys(ctx, prefix+"*").Result()
		for _, k := range keys { // one by one: a cluster refuses keys of several slots at once
			c.Del(ctx, k)
		}
		return nil
	}
	if cluster, ok := rdb.(*redis.ClusterClient); ok {
		_ = cluster.ForEachMaster(ctx, del)
		return
	}
	if c, ok := rdb.(*redis.Client); ok {
		_ = del(ctx, c)
	}
}

// delivery is a signed POST of event id, as the API sends it.
func delivery(id string) *http.Request {
	body := []byte(fmt.Sprintf(`{"id":%q,"type":"agent.task.completed","created_at":"2026-02-18T14:30:00Z","data":{"id":"tsk_1"}}`, id))
	r := httptest.NewRequest(http.MethodPost, "/botonom/webhook", bytes.NewReader(body))
	r.Header.Set(botonom.SignatureHeader, botonom.SignPayload(body, webhookSecret, time.Now()))
	return r
}

func serve(h http.Handler, id string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, delivery(id))
	return w
}

func mustClaim(t *testing.T, s botonom.DedupStore, id string, lease time.Duration) botonom.DedupClaim {
	t.Helper()
	c, err := s.Claim(context.Background(), id, lease)
	if err != nil {
		t.Fatalf("Claim(%s): %v", id, err)
	}
	return c
}

func TestDedupStore_ClaimDoneRelease(t *testing.T) {
	ctx := context.Background()
	rdb := newRedis(t)
	s := newDedupStore(t, rdb, uniquePrefix(t))

	c1 := mustClaim(t, s, "evt_1", time.Minute)
	if c1.Status != botonom.DedupClaimed || len(c1.Token) != 32 {
		t.Fatalf("first claim = %+v", c1)
	}
	c2 := mustClaim(t, s, "evt_1", time.Minute)
	if c2.Status != botonom.DedupInFlight || c2.Remaining <= 55*time.Second || c2.Remaining > time.Minute {
		t.Fatalf("second claim = %+v; want in flight with about a minute left", c2)
	}
	if err := s.Release(ctx, "evt_1", c1.Token); err != nil {
		t.Fatal(err)
	}
	c3 := mustClaim(t, s, "evt_1", time.Minute)
	if c3.Status != botonom.DedupClaimed || c3.Token == c1.Token {
		t.Fatalf("claim after release = %+v", c3)
	}
	if err := s.Done(ctx, "evt_1", c3.Token, time.Hour); err != nil {
		t.Fatal(err)
	}
	if c := mustClaim(t, s, "evt_1", time.Minute); c.Status != botonom.DedupDone {
		t.Fatalf("claim after done = %+v", c)
	}
	if ttl := rdb.PTTL(ctx, s.Key("evt_1")).Val(); ttl <= 59*time.Minute || ttl > time.Hour {
		t.Errorf("done kept for %s; want the hour of retention", ttl)
	}
	if err := s.Release(ctx, "evt_1", c3.Token); err != nil {
		t.Errorf("release of a done event: %v", err)
	}
	if c := mustClaim(t, s, "evt_1", time.Minute); c.Status != botonom.DedupDone {
		t.Fatalf("release undid done: %+v", c)
	}
	if c := mustClaim(t, s, "evt_2", time.Minute); c.Status != botonom.DedupClaimed {
		t.Fatalf("another event = %+v", c)
	}
}

// A replica that claimed an event and "crashed": its lease expires, the
// next delivery processes the event, and the stale claimant's Done or
// Release leaves the newer claim alone.
func TestDedupStore_ExpiredLeaseAndStaleClaimant(t *testing.T) {
	ctx := context.Background()
	rdb := newRedis(t)
	prefix := uniquePrefix(t)
	crashed := newDedupStore(t, rdb, prefix)
	// Long enough for the first delivery below to meet it, even on a busy
	// machine.
	mustClaim(t, crashed, "evt_1", 300*time.Millisecond)

	fn := &countingFn{}
	h := botonom.WebhookHandler(webhookSecret, fn.handle, botonom.WithDeduplication(newDedupStore(t, newRedis(t), prefix)))
	if w := serve(h, "evt_1"); w.Code != http.StatusConflict || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("while the crashed replica's lease lasts: %d, Retry-After %q; want 409, 1", w.Code, w.Header().Get("Retry-After"))
	}
	time.Sleep(310 * time.Millisecond)
	if w := serve(h, "evt_1"); w.Code != http.StatusOK || fn.total() != 1 {
		t.Fatalf("after the lease: %d, fn ran %d times; want 200, once", w.Code, fn.total())
	}

	// The same with a newer claim still in flight.
	stale := mustClaim(t, crashed, "evt_2", 30*time.Millisecond)
	time.Sleep(40 * time.Millisecond)
	fresh := mustClaim(t, crashed, "evt_2", time.Minute)
	if fresh.Status != botonom.DedupClaimed {
		t.Fatalf("claim after the lease = %+v", fresh)
	}
	if err := crashed.Done(ctx, "evt_2", stale.Token, time.Hour); !errors.Is(err, botonom.ErrDedupClaimLost) {
		t.Errorf("stale Done = %v; want ErrDedupClaimLost", err)
	}
	if err := crashed.Release(ctx, "evt_2", stale.Token); !errors.Is(err, botonom.ErrDedupClaimLost) {
		t.Errorf("stale Release = %v; want ErrDedupClaimLost", err)
	}
	if c := mustClaim(t, crashed, "evt_2", time.Minute); c.Status != botonom.DedupInFlight {
		t.Fatalf("the newer claim was disturbed: %+v", c)
	}
	if err := crashed.Done(ctx, "evt_2", fresh.Token, time.Hour); err != nil {
		t.Fatal(err)
	}
	if c := mustClaim(t, crashed, "evt_2", time.Minute); c.Status != botonom.DedupDone {
		t.Fatalf("after the newer claim's Done: %+v", c)
	}
}

// countingFn counts successful runs per event and fails the first try of
// the events fail picks.
type countingFn struct {
	mu    sync.Mutex
	tries map[string]int
	ok    map[string]int
	fail  func(id string) bool
}

func (f *countingFn) handle(_ context.Context, ev *botonom.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tries == nil {
		f.tries, f.ok = map[string]int{}, map[string]int{}
	}
	f.tries[ev.ID]++
	if f.tries[ev.ID] == 1 && f.fail != nil && f.fail(ev.ID) {
		return errors.New("first try fails")
	}
	f.ok[ev.ID]++
	return nil
}

func (f *countingFn) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.ok {
		n += c
	}
	return n
}

// Two replicas (two handlers, two Redis clients), 8 concurrent copies of
// each of 200 events, fn failing 10% of first tries, the sender
// redelivering every non-2xx until it gets a 2xx: every event's fn
// succeeded exactly once, none lost.
func TestDedupStore_TwoReplicasProcessEachEventOnce(t *testing.T) {
	testTwoReplicasProcessEachEventOnce(t, func(t *testing.T) redis.UniversalClient { return newRedis(t) })
}

// testTwoReplicasProcessEachEventOnce is
// TestDedupStore_TwoReplicasProcessEachEventOnce with the Redis clients
// newClient makes (a server's, or a cluster's).
func testTwoReplicasProcessEachEventOnce(t *testing.T, newClient func(*testing.T) redis.UniversalClient) {
	const events, copies = 200, 8
	prefix := uniquePrefix(t)
	fn := &countingFn{fail: func(id string) bool { return id[len(id)-1] == '7' }}
	var replicas [2]http.Handler
	for i := range replicas {
		replicas[i] = botonom.WebhookHandler(webhookSecret, fn.handle,
			botonom.WithDeduplication(newDedupStore(t, newClient(t), prefix)))
	}

	var answers [600]atomic.Int64
	var wg sync.WaitGroup
	for e := range events {
		id := fmt.Sprintf("evt_%03d", e)
		for c := range copies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for try := 0; ; try++ {
					code := serve(replicas[(c+try)%2], id).Code
					answers[code].Add(1)
					if code >= 200 && code <= 299 {
						return
					}
					if try > 2000 {
						t.Errorf("%s copy %d: still %d after %d tries", id, c, code, try)
						return
					}
					time.Sleep(time.Millisecond)
				}
			}()
		}
	}
	wg.Wait()

	fn.mu.Lock()
	defer fn.mu.Unlock()
	if len(fn.ok) != events {
		t.Errorf("%d events processed; want %d", len(fn.ok), events)
	}
	for id, n := range fn.ok {
		if n != 1 {
			t.Errorf("%s processed %d times", id, n)
		}
	}
	if answers[500].Load() != events/10 {
		t.Errorf("%d answers 500; want one per failing first try, %d", answers[500].Load(), events/10)
	}
	t.Logf("answers: 200×%d 409×%d 500×%d 503×%d", answers[200].Load(), answers[409].Load(), answers[500].Load(), answers[503].Load())
}

// roundTrips counts the commands a Redis client sends.
type roundTrips struct{ n atomic.Int64 }

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}
func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// roundTripStep is one delivery of a round-trip count: to the handler h,
// with fn failing or not, and the answer and round trips it must cost.
type roundTripStep struct {
	name  string
	serve func(h http.Handler) int
	fail  bool
	code  int
	want  int64
}

// countRoundTrips gives a handler guards (WithDeduplication, WithOrdering)
// a store on a Redis client whose commands are counted, delivers warmUp
// (so that the server knows the scripts: the very first use of each on a
// server adds an EVAL after the EVALSHA's NOSCRIPT), then checks what each
// step answers and costs.
func countRoundTrips(t *testing.T, guards func(*botonomredis.DedupStore) []botonom.HandlerOption, warmUp, steps []roundTripStep) {
	t.Helper()
	rdb := newRedis(t)
	counter := &roundTrips{}
	rdb.AddHook(counter)
	fail := false
	h := botonom.WebhookHandler(webhookSecret, func(context.Context, *botonom.Event) error {
		if fail {
			return errors.New("fails")
		}
		return nil
	}, guards(newDedupStore(t, rdb, uniquePrefix(t)))...)
	for _, step := range warmUp {
		fail = step.fail
		step.serve(h)
	}
	for _, step := range steps {
		fail = step.fail
		counter.n.Store(0)
		if code := step.serve(h); code != step.code {
			t.Fatalf("%s: answered %d", step.name, code)
		}
		if got := counter.n.Load(); got != step.want {
			t.Errorf("%s: %d round trips; want %d", step.name, got, step.want)
		}
	}
}

// serveID delivers event id (agent.task.completed).
func serveID(id string) func(http.Handler) int {
	return func(h http.Handler) int { return serve(h, id).Code }
}

// Round trips per delivery: a new event costs a claim and a done, one round
// trip each; a duplicate one; a failure a claim and a release.
func TestDedupStore_OneRoundTripPerStep(t *testing.T) {
	countRoundTrips(t, func(s *botonomredis.DedupStore) []botonom.HandlerOption {
		return []botonom.HandlerOption{botonom.WithDeduplication(s)}
	},
		[]roundTripStep{{serve: serveID("evt_warm"), fail: true}, {serve: serveID("evt_warm")}},
		[]roundTripStep{
			{"new event: claim, done", serveID("evt_1"), false, 200, 2},
			{"duplicate: claim", serveID("evt_1"), false, 200, 1},
			{"fn fails: claim, release", serveID("evt_2"), true, 500, 2},
		})
}

func TestNewDedupStore_RejectsANilClient(t *testing.T) {
	var nilClient *redis.Client
	for _, rdb := range []redis.UniversalClient{nil, nilClient} {
		if _, err := botonomredis.NewDedupStore(rdb); err == nil || err.Error() != "botonomredis: NewDedupStore: nil Redis client" {
			t.Errorf("NewDedupStore(%v) = %v", rdb, err)
		}
	}
}

func TestDedupStore_FailsWhenRedisIsDown(t *testing.T) {
	s, err := botonomredis.NewDedupStore(deadRedis(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(context.Background(), "evt_1", time.Minute); err == nil {
		t.Fatal("Claim without Redis succeeded")
	}
	if err := s.Done(context.Background(), "evt_1", "tok", time.Minute); err == nil {
		t.Fatal("Done without Redis succeeded")
	}
}

// ownRedis is a redis-server this test starts, stops and restarts, with an
// append-only file fsynced on every write, as a production Redis holding
// de-duplication records would be.
type ownRedis struct {
	t    *testing.T
	port int
	dir  string
	cmd  *exec.Cmd
}

func startOwnRedis(t *testing.T) *ownRedis {
	t.Helper()
	needRedisServer(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	r := &ownRedis{t: t, port: port, dir: t.TempDir()}
	r.start()
	t.Cleanup(r.stop)
	return r
}

// needRedisServer skips the test without redis-server installed, or fails
// it when CI is set.
func needRedisServer(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server is not installed and CI is set (scripts/redis-up installs it): %v", err)
		}
		skipForRedis(t, fmt.Sprintf("redis-server is not installed (scripts/redis-up installs it): %v", err))
	}
}

func (r *ownRedis) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

func (r *ownRedis) start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir", r.dir)
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: r.addr(), MaxRetries: -1})
	defer rdb.Close()
	for i := 0; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		err := rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if i > 100 {
			r.t.Fatalf("redis-server on %s does not answer: %v", r.addr(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills the server by its PID and waits for it to exit.
func (r *ownRedis) stop() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

// startOwnRedisStore starts a redis-server of the test's own and returns it
// with a DedupStore on a client that gives up on it quickly.
func startOwnRedisStore(t *testing.T) (*ownRedis, *botonomredis.DedupStore) {
	t.Helper()
	srv := startOwnRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { rdb.Close() })
	store, err := botonomredis.NewDedupStore(rdb)
	if err != nil {
		t.Fatal(err)
	}
	return srv, store
}

// Redis stopped mid-run: deliveries are answered 503 and fn never runs
// unguarded; with WithDedupFailOpen fn runs. Redis back: processing resumes,
// with nothing lost or doubled.
func TestDedupStore_RedisStoppedMidRun(t *testing.T) {
	srv, store := startOwnRedisStore(t)
	fn := &countingFn{}
	closed := botonom.WebhookHandler(webhookSecret, fn.handle, botonom.WithDeduplication(store))
	openFn := &countingFn{}
	open := botonom.WebhookHandler(webhookSecret, openFn.handle, botonom.WithDeduplication(store, botonom.WithDedupFailOpen()))

	if code := serve(closed, "evt_before").Code; code != 200 {
		t.Fatalf("before the stop: %d", code)
	}
	srv.stop()
	for _, id := range []string{"evt_before", "evt_during", "evt_during"} {
		w := serve(closed, id)
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
			t.Errorf("%s with Redis stopped: %d (Retry-After %q); want 503 with Retry-After", id, w.Code, w.Header().Get("Retry-After"))
		}
	}
	if n := fn.total(); n != 1 {
		t.Fatalf("fn ran %d times; want once, before the stop", n)
	}
	if code := serve(open, "evt_open").Code; code != 200 || openFn.total() != 1 {
		t.Fatalf("fail open with Redis stopped: %d, fn ran %d times; want 200, once", code, openFn.total())
	}

	srv.start()
	for _, id := range []string{"evt_before", "evt_during", "evt_during"} {
		var code int
		for try := 0; try < 50; try++ { // the pool may hold a dead connection or two
			if code = serve(closed, id).Code; code != http.StatusServiceUnavailable {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if code != 200 {
			t.Fatalf("%s after the restart: %d", id, code)
		}
	}
	fn.mu.Lock()
	defer fn.mu.Unlock()
	if fn.ok["evt_before"] != 1 || fn.ok["evt_during"] != 1 || len(fn.ok) != 2 {
		t.Errorf("processed %v; want each event once", fn.ok)
	}
}

// The key prefix is the namespace: stores with one prefix share one record
// of processed events (the replicas of an endpoint); another prefix is
// another endpoint, which processes the event too.
func TestDedupStore_KeyPrefixIsTheNamespace(t *testing.T) {
	rdb := newRedis(t)
	prefix := uniquePrefix(t)
	a := newDedupStore(t, rdb, prefix)
	sameEndpoint := newDedupStore(t, newRedis(t), prefix)
	otherEndpoint := newDedupStore(t, rdb, prefix+"other:")

	c := mustClaim(t, a, "evt_1", time.Minute)
	if err := a.Done(context.Background(), "evt_1", c.Token, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := mustClaim(t, sameEndpoint, "evt_1", time.Minute).Status; got != botonom.DedupDone {
		t.Errorf("same prefix: %s; want done", got)
	}
	if got := mustClaim(t, otherEndpoint, "evt_1", time.Minute).Status; got != botonom.DedupClaimed {
		t.Errorf("other prefix: %s; want claimed", got)
	}
	if want := prefix + "webhook:evt_1"; a.Key("evt_1") != want {
		t.Errorf("Key = %q; want %q", a.Key("evt_1"), want)
	}
}

// With replica acknowledgement, a step whose replicas do not acknowledge
// it in time is a store failure (the test server has no replica): the
// claim is released, the handler answers 503, or runs fn with fail-open;
// each step still costs one round trip.
func TestDedupStore_ReplicaAckTimeoutIsAStoreFailure(t *testing.T) {
	ctx := context.Background()
	rdb := newRedis(t)
	counter := &roundTrips{}
	rdb.AddHook(counter)
	prefix := uniquePrefix(t)
	newDedupStore(t, rdb, prefix) // deletes the keys at the end
	store, err := botonomredis.NewDedupStore(rdb, botonomredis.WithKeyPrefix(prefix), botonomredis.WithReplicaAck(1, 20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = store.Claim(ctx, "evt_warm", time.Minute) // the server knows the script
	counter.n.Store(0)
	_, err = store.Claim(ctx, "evt_1", time.Minute)
	if err == nil || !strings.Contains(err.Error(), "0 of 1 replicas acknowledged within 20ms") {
		t.Fatalf("Claim without a replica = %v; want an acknowledgement failure", err)
	}
	if n := counter.n.Load(); n != 2 {
		t.Errorf("%d round trips; want 2: the claim with WAIT, and its release", n)
	}
	if n := rdb.Exists(ctx, store.Key("evt_1")).Val(); n != 0 {
		t.Errorf("the claim that was not acknowledged is still held")
	}
	// The ordering claim and both guards' claim are released alike.
	if _, err := store.ClaimState(ctx, "agt_1", time.Now(), time.Minute); err == nil {
		t.Errorf("ClaimState without a replica: no error")
	}
	es := &botonom.EventState{EventID: "evt_s", Key: "agt_2", At: time.Now(), Lease: time.Minute, Retention: time.Hour, StateRetention: time.Hour}
	if _, err := store.ClaimEventState(ctx, es); err == nil {
		t.Errorf("ClaimEventState without a replica: no error")
	}
	if n := rdb.Exists(ctx, store.StateKey("agt_1"), store.StateKey("agt_2"), store.EventStateKey("agt_2", "evt_s")).Val(); n != 0 {
		t.Errorf("%d ordering claims that were not acknowledged are still held", n)
	}

	fn := &countingFn{}
	if w := serve(botonom.WebhookHandler(webhookSecret, fn.handle, botonom.WithDeduplication(store)), "evt_1"); w.Code != http.StatusServiceUnavailable {
		t.Errorf("handler: %d; want 503", w.Code)
	}
	if w := serve(botonom.WebhookHandler(webhookSecret, fn.handle, botonom.WithDeduplication(store, botonom.WithDedupFailOpen())), "evt_1"); w.Code != http.StatusOK || fn.total() != 1 {
		t.Errorf("handler failing open: %d, fn ran %d times; want 200, once", w.Code, fn.total())
	}
	for _, bad := range []botonomredis.DedupStoreOption{botonomredis.WithReplicaAck(0, time.Second), botonomredis.WithReplicaAck(1, 0)} {
		if _, err := botonomredis.NewDedupStore(rdb, bad); err == nil || !strings.Contains(err.Error(), "WithReplicaAck") {
			t.Errorf("NewDedupStore(%v) = %v; want a WithReplicaAck error", bad, err)
		}
	}
}

// replayScripts runs every script command twice, as go-redis does when a
// command's answer is lost (a dropped connection, a read timeout): the
// first run's answer is never read.
type replayScripts struct{ replays atomic.Int64 }

func (h *replayScripts) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *replayScripts) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if name := cmd.Name(); name == "evalsha" || name == "eval" {
			if err := next(ctx, cmd); err == nil {
				h.replays.Add(1)
			}
		}
		return next(ctx, cmd)
	}
}
func (h *replayScripts) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// A claim whose answer was lost and that go-redis sent again finds its own
// claim: it is claimed, not in flight (which answered 409 and held the
// event, or the entity, for the whole lease). Done and release sent again
// change nothing either.
func TestDedupStore_AClaimSentAgainIsClaimed(t *testing.T) {
	for name, guards := range map[string]func(*botonomredis.DedupStore) []botonom.HandlerOption{
		"de-duplication": func(s *botonomredis.DedupStore) []botonom.HandlerOption {
			return []botonom.HandlerOption{botonom.WithDeduplication(s)}
		},
		"ordering": func(s *botonomredis.DedupStore) []botonom.HandlerOption {
			return []botonom.HandlerOption{botonom.WithOrdering(s)}
		},
		"both": func(s *botonomredis.DedupStore) []botonom.HandlerOption {
			return []botonom.HandlerOption{botonom.WithDeduplication(s), botonom.WithOrdering(s)}
		},
	} {
		t.Run(name, func(t *testing.T) {
			rdb := newRedis(t)
			replay := &replayScripts{}
			rdb.AddHook(replay)
			store := newDedupStore(t, rdb, uniquePrefix(t))
			var calls atomic.Int64
			fail := true
			h := botonom.WebhookHandler(webhookSecret, func(context.Context, *botonom.Event) error {
				calls.Add(1)
				if fail {
					return errors.New("db down")
				}
				return nil
			}, guards(store)...)
			if code := serveStatus(h, "agt_1", 2); code != http.StatusInternalServerError {
				t.Errorf("fn fails: %d; want 500 (claimed, then released)", code)
			}
			fail = false
			if code := serveStatus(h, "agt_1", 2); code != http.StatusOK {
				t.Errorf("redelivery: %d; want 200", code)
			}
			if code := serveStatus(h, "agt_1", 1); code != http.StatusOK {
				t.Errorf("an older state: %d; want 200", code)
			}
			want := int64(2) // the failure and the redelivery; the older state is stale
			if name == "de-duplication" {
				want = 3 // the older state is another event
			}
			if got := calls.Load(); got != want {
				t.Errorf("fn ran %d times; want %d", got, want)
			}
			if replay.replays.Load() == 0 {
				t.Fatal("no script was sent twice")
			}
		})
	}
}
