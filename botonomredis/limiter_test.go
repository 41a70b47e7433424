package botonomredis_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/botonomredis"
	"github.com/redis/go-redis/v9"
)

const testToken = "btm_sk_test"

var _ botonom.Limiter = (*botonomredis.Limiter)(nil)

// redisAddr is where the tests find Redis: REDIS_ADDR, else the address
// scripts/redis-up starts it on.
func redisAddr() string {
	if addr := os.Getenv("REDIS_ADDR"); addr != "" {
		return addr
	}
	return "127.0.0.1:6379"
}

var (
	probeOnce sync.Once
	probeErr  error
)

// newRedis returns a client of the test Redis, closed at the end of the
// test. Without a Redis answering, the test is skipped, or fails when CI is
// set, so CI never passes by skipping.
func newRedis(t *testing.T) *redis.Client {
	t.Helper()
	probeOnce.Do(func() {
		rdb := redis.NewClient(&redis.Options{Addr: redisAddr(), MaxRetries: -1, DialerRetries: 1, DialTimeout: time.Second})
		defer rdb.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		probeErr = rdb.Ping(ctx).Err()
	})
	if probeErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("no Redis answers at %s (REDIS_ADDR) and CI is set, so this fails rather than skips; start one with scripts/redis-up: %v", redisAddr(), probeErr)
		}
		skipForRedis(t, fmt.Sprintf("no Redis answers at %s (set REDIS_ADDR, or start one with scripts/redis-up): %v", redisAddr(), probeErr))
	}
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr()})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// redisSkips counts the tests skipped for want of Redis, and why, for
// TestMain to say so on stderr: t.Skip alone is silent without -v.
var redisSkips struct {
	sync.Mutex
	n   int
	why string
}

// skipForRedis skips the test for want of Redis, counted for TestMain.
func skipForRedis(t *testing.T, why string) {
	t.Helper()
	redisSkips.Lock()
	redisSkips.n++
	redisSkips.why = why
	redisSkips.Unlock()
	t.Skip("skipping: " + why)
}

// TestMain runs the tests, then says on stderr how many were skipped for
// want of Redis and how to start one.
func TestMain(m *testing.M) {
	code := m.Run()
	if redisSkips.n > 0 {
		fmt.Fprintf(os.Stderr, "botonomredis: tests skipped for want of Redis: %d (%s); start Redis with scripts/redis-up (with CI set they fail instead)\n", redisSkips.n, redisSkips.why)
	}
	os.Exit(code)
}

// TestSkipsWithoutRedis_SayOnStderrHowToStartRedis runs this test binary
// again, on one Redis test, with no Redis at REDIS_ADDR and CI unset: the
// test skips, and the binary says so on stderr (which go test shows even
// without -v in a package's directory) with the command that starts Redis.
func TestSkipsWithoutRedis_SayOnStderrHowToStartRedis(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run", "^TestLimiter_TwoClientsShareOneLimit$")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CI=") && !strings.HasPrefix(kv, "REDIS_ADDR=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "REDIS_ADDR=127.0.0.1:1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("the test binary failed without Redis (it should skip): %v\n%s", err, stderr.String())
	}
	if got := stderr.String(); !strings.Contains(got, "tests skipped for want of Redis: 1 (no Redis answers at 127.0.0.1:1") || !strings.Contains(got, "scripts/redis-up") {
		t.Errorf("stderr without Redis:\n%s\nwant the count of skipped tests, the address and scripts/redis-up", got)
	}
}

// deadRedis returns a client of an address where nothing listens, which
// fails at once (no retries).
func deadRedis(t *testing.T) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1, DialTimeout: time.Second})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// uniquePrefix is a key prefix no other test or run uses, so tests share a
// Redis without flushing it.
func uniquePrefix(t *testing.T) string {
	return fmt.Sprintf("botonom-test:%s:%d:", t.Name(), time.Now().UnixNano())
}

// newLimiter is New that fails the test on error and deletes the limiter's
// key at the end.
func newLimiter(t *testing.T, rdb redis.UniversalClient, token string, limit int, period time.Duration, opts ...botonomredis.LimiterOption) *botonomredis.Limiter {
	t.Helper()
	l, err := botonomredis.NewLimiter(rdb, token, limit, period, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { rdb.Del(context.Background(), l.Key()) })
	return l
}

// call is one request as its caller saw it: it was admitted by the limiter
// at some time between start (before the limiter's wait) and end (its
// answer read).
type call struct{ start, end time.Time }

// mostAdmittedInWindow is the most calls that surely were admitted in one
// window [t, t+window): those that started at t or later and ended before
// t+window. A slow machine only lengthens calls, which lowers the count;
// a limiter that admits too many raises it.
func mostAdmittedInWindow(calls []call, window time.Duration) int {
	best := 0
	for _, from := range calls {
		n := 0
		for _, c := range calls {
			if !c.start.Before(from.start) && c.end.Before(from.start.Add(window)) {
				n++
			}
		}
		best = max(best, n)
	}
	return best
}

func TestLimiter_TwoClientsShareOneLimit(t *testing.T) {
	testTwoClientsShareOneLimit(t, func(t *testing.T) redis.UniversalClient { return newRedis(t) })
}

// testTwoClientsShareOneLimit is TestLimiter_TwoClientsShareOneLimit with
// the Redis clients newClient makes (a server's, or a cluster's).
func testTwoClientsShareOneLimit(t *testing.T, newClient func(*testing.T) redis.UniversalClient) {
	const (
		limit      = 50 // per second
		burst      = 5
		run        = 1200 * time.Millisecond
		goroutines = 8 // per client
	)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/agents/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"agt_1","name":"x","status":"online","skills":[],"created_at":"2026-01-05T09:00:00Z","updated_at":"2026-01-05T09:00:00Z"}`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// Two processes: each its own Redis client, Limiter and botonom client.
	prefix := uniquePrefix(t)
	var clients [2]*botonom.Client
	for i := range clients {
		l := newLimiter(t, newClient(t), testToken, limit, time.Second,
			botonomredis.WithKeyPrefix(prefix), botonomredis.WithBurst(burst))
		c, err := botonom.NewClient(testToken, botonom.WithBaseURL(srv.URL+"/v1/"), botonom.WithLimiter(l))
		if err != nil {
			t.Fatal(err)
		}
		clients[i] = c
	}

	ctx, cancel := context.WithTimeout(context.Background(), run)
	defer cancel()
	var (
		wg    sync.WaitGroup
		done  [2]atomic.Int64
		mu    sync.Mutex
		calls []call
	)
	for i, c := range clients {
		for range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					start := time.Now()
					agent, _, err := c.Agents.Get(ctx, "agt_1")
					end := time.Now()
					if err != nil {
						if ctx.Err() == nil {
							t.Errorf("client %d: Get: %v", i, err)
						}
						return
					}
					if agent.ID != "agt_1" {
						t.Errorf("client %d: agent ID = %q", i, agent.ID)
					}
					done[i].Add(1)
					mu.Lock()
					calls = append(calls, call{start, end})
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	got := mostAdmittedInWindow(calls, time.Second)
	// GCRA admits at most limit + burst - 1 requests in any window [t, t+1s)
	// of its (Redis) clock; one more allows for the two clocks' reading.
	allowed := limit + burst
	t.Logf("requests: %d in %s (client 0: %d, client 1: %d); most surely admitted in one 1 s window: %d, allowed %d",
		len(calls), run, done[0].Load(), done[1].Load(), got, allowed)
	if got > allowed {
		t.Errorf("%d requests were admitted in one 1 s window; want at most %d (limit %d + burst %d)", got, allowed, limit, burst)
	}
	// Not starved: the run should
	// use most of the budget, which is burst + limit·run (65) at most; three
	// quarters of limit·run leaves a slow machine 300 ms of stalls.
	ceiling := burst + int(limit*run/time.Second) + 1
	floor := int(limit*run/time.Second) * 3 / 4
	if n := len(calls); n < floor || n > ceiling {
		t.Errorf("%d requests answered in %s; want between %d and %d", n, run, floor, ceiling)
	}
	for i := range done {
		if done[i].Load() == 0 {
			t.Errorf("client %d sent no request", i)
		}
	}
}

func TestLimiter_TokensDoNotShareABudget(t *testing.T) {
	rdb := newRedis(t)
	prefix := uniquePrefix(t)
	opt := botonomredis.WithKeyPrefix(prefix)
	a1 := newLimiter(t, rdb, "btm_sk_token_a", 1, time.Minute, opt)
	a2 := newLimiter(t, rdb, "btm_sk_token_a", 1, time.Minute, opt)
	b := newLimiter(t, rdb, "btm_sk_token_b", 1, time.Minute, opt)

	if err := a1.Wait(context.Background()); err != nil {
		t.Fatalf("first Wait with token a: %v", err)
	}
	// Another Limiter with the same token shares the spent budget...
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := a2.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait with token a again = %v; want it to block until the deadline", err)
	}
	// ...but a Limiter with another token has its own.
	start := time.Now()
	if err := b.Wait(context.Background()); err != nil {
		t.Fatalf("Wait with token b: %v", err)
	}
	if took := time.Since(start); took > 50*time.Millisecond {
		t.Errorf("Wait with token b took %s; want no wait", took)
	}
	if a1.Key() == b.Key() {
		t.Errorf("tokens a and b have the same key %s", a1.Key())
	}
}

func TestWait_ReturnsPromptlyOnCancel(t *testing.T) {
	l := newLimiter(t, newRedis(t), testToken, 1, time.Minute, botonomredis.WithKeyPrefix(uniquePrefix(t)))
	if err := l.Wait(context.Background()); err != nil {
		t.Fatalf("first Wait: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- l.Wait(ctx) }()
	select {
	case err := <-errc:
		t.Fatalf("Wait returned %v before the cancel; want it to wait for the next slot in a minute", err)
	case <-time.After(30 * time.Millisecond):
	}
	cancel()
	canceled := time.Now()
	select {
	case err := <-errc:
		if took := time.Since(canceled); took >= 50*time.Millisecond {
			t.Errorf("Wait returned %s after the cancel; want under 50ms", took)
		}
		if err != context.Canceled {
			t.Errorf("Wait = %v; want context.Canceled", err)
		}
	case <-time.After(time.Second):
		t.Fatal("Wait did not return within 1s of the cancel")
	}
}

func TestWait_DoneContextReturnsWithoutRedis(t *testing.T) {
	l, err := botonomredis.NewLimiter(deadRedis(t), testToken, 1, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Wait(ctx); err != context.Canceled {
		t.Errorf("Wait = %v; want context.Canceled", err)
	}
}

func TestWait_FailsClosedWhenRedisFails(t *testing.T) {
	l, err := botonomredis.NewLimiter(deadRedis(t), testToken, 1, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	err = l.Wait(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), "botonomredis: ") {
		t.Errorf("Wait = %v; want an error starting \"botonomredis: \"", err)
	}
}

func TestWait_WithFailOpenLetsRequestsGoWhenRedisFails(t *testing.T) {
	l, err := botonomredis.NewLimiter(deadRedis(t), testToken, 1, time.Second, botonomredis.WithFailOpen())
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := l.Wait(context.Background()); err != nil {
			t.Fatalf("Wait = %v; want nil with WithFailOpen", err)
		}
	}
}

const secretToken = "btm_sk_live_9f8e7d6c5b4a39281706f5e4d3c2b1a0"

func TestLimiter_NeverShowsTheToken(t *testing.T) {
	rdb := deadRedis(t)
	prefix := uniquePrefix(t)
	l, err := botonomredis.NewLimiter(rdb, secretToken, 10, time.Second, botonomredis.WithKeyPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}

	printed := fmt.Sprintf("%v %+v %#v %s %v %+v %#v", l, l, l, l, *l, *l, *l)
	if strings.Contains(printed, secretToken) {
		t.Errorf("printing the Limiter shows the token: %s", printed)
	}
	if !strings.Contains(printed, l.Key()) {
		t.Errorf("printing the Limiter does not show its key %s: %s", l.Key(), printed)
	}
	if want := "rate:" + prefix; !strings.HasPrefix(l.Key(), want) || len(l.Key()) != len(want)+32 {
		t.Errorf("Key() = %q; want %q followed by 32 hex digits", l.Key(), want)
	}

	// Errors: New's, with the token among bad arguments, and Wait's when
	// Redis fails.
	_, errNew := botonomredis.NewLimiter(rdb, secretToken, 0, time.Second)
	errWait := l.Wait(context.Background())
	for _, err := range []error{errNew, errWait} {
		if err == nil {
			t.Fatal("want an error")
		}
		if msg := fmt.Sprintf("%v %+v %#v", err, err, err); strings.Contains(msg, secretToken) {
			t.Errorf("error shows the token: %s", msg)
		}
	}
}

func TestLimiter_RedisHoldsOnlyTheHashedKey(t *testing.T) {
	rdb := newRedis(t)
	prefix := uniquePrefix(t)
	l := newLimiter(t, rdb, secretToken, 10, time.Second, botonomredis.WithKeyPrefix(prefix))

	ctx := context.Background()
	if err := l.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	keys, err := rdb.Keys(ctx, "*"+prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != l.Key() {
		t.Errorf("Redis keys with the prefix = %q; want [%q]", keys, l.Key())
	}
	if keys, err := rdb.Keys(ctx, "*"+secretToken+"*").Result(); err != nil || len(keys) > 0 {
		t.Errorf("Redis keys holding the token = %q, %v; want none", keys, err)
	}
	if v, err := rdb.Get(ctx, l.Key()).Result(); err != nil || strings.Contains(v, secretToken) {
		t.Errorf("value of %s = %q, %v; want GCRA state without the token", l.Key(), v, err)
	}
}

func TestNewLimiter_RejectsBadArguments(t *testing.T) {
	rdb := deadRedis(t) // New does not contact Redis
	var nilClient *redis.Client
	tests := []struct {
		name    string
		rdb     redis.UniversalClient
		token   string
		limit   int
		period  time.Duration
		opts    []botonomredis.LimiterOption
		wantErr string
	}{
		{"nil client", nil, testToken, 1, time.Second, nil, "botonomredis: NewLimiter: nil Redis client"},
		{"nil *redis.Client", nilClient, testToken, 1, time.Second, nil, "botonomredis: NewLimiter: nil Redis client"},
		{"empty token", rdb, "", 1, time.Second, nil, "botonomredis: NewLimiter: empty API token"},
		{"blank token", rdb, " \n", 1, time.Second, nil, "botonomredis: NewLimiter: empty API token"},
		{"zero limit", rdb, testToken, 0, time.Second, nil, "botonomredis: NewLimiter: limit must be positive, got 0"},
		{"negative limit", rdb, testToken, -5, time.Second, nil, "botonomredis: NewLimiter: limit must be positive, got -5"},
		{"zero period", rdb, testToken, 1, 0, nil, "botonomredis: NewLimiter: period must be positive, got 0s"},
		{"negative period", rdb, testToken, 1, -time.Second, nil, "botonomredis: NewLimiter: period must be positive, got -1s"},
		{"zero burst", rdb, testToken, 1, time.Second, []botonomredis.LimiterOption{botonomredis.WithBurst(0)}, "botonomredis: NewLimiter: WithBurst: burst must be at least 1, got 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := botonomredis.NewLimiter(tt.rdb, tt.token, tt.limit, tt.period, tt.opts...)
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("New = %v, %v; want error %q", l, err, tt.wantErr)
			}
		})
	}
}

func TestNewLimiter_TrimsTheTokenAsNewClientDoes(t *testing.T) {
	rdb := deadRedis(t)
	a, err := botonomredis.NewLimiter(rdb, testToken, 1, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	b, err := botonomredis.NewLimiter(rdb, " "+testToken+"\n", 1, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if a.Key() != b.Key() {
		t.Errorf("keys differ: %s and %s", a.Key(), b.Key())
	}
}

// One Limiter per token, wired as docs/workspaces.md shows (one client per
// workspace, made from one base client): a workspace whose limit is spent
// waits, another's calls go at once, all through one connection.
func TestLimiter_OnePerWorkspaceClient(t *testing.T) {
	var conns atomic.Int64
	var mu sync.Mutex
	calls := map[string]int{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls[r.Header.Get("Authorization")]++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"agt_1"}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)

	rdb := newRedis(t)
	prefix := uniquePrefix(t)
	base, err := botonom.NewClient("btm_sk_platform", botonom.WithBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	all := &workspaces{base: base, rdb: rdb, limit: 1}
	token := func(id string) string { return "btm_sk_" + prefix + id } // a Redis key of this run's own
	client := func(id string) *botonom.Client {
		t.Helper()
		newLimiter(t, rdb, token(id), 1, time.Minute) // its key is the cache's Limiter's: deleted at the end
		c, err := all.client(id, token(id))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := client("ws_a"), client("ws_b")
	if again := client("ws_a"); again != a {
		t.Error("a second request of ws_a got another client")
	}
	defer func() {
		all.forget("ws_a")
		if client("ws_a") == a {
			t.Error("ws_a, disconnected and connected again, got its old client")
		}
	}()

	ctx := context.Background()
	if _, _, err := a.Agents.Get(ctx, "agt_1"); err != nil {
		t.Fatalf("ws_a's first call: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, _, err := a.Agents.Get(short, "agt_1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ws_a's second call = %v; want it held by its Limiter until the deadline", err)
	}
	start := time.Now()
	if _, _, err := b.Agents.Get(ctx, "agt_1"); err != nil {
		t.Fatalf("ws_b's call: %v", err)
	}
	if took := time.Since(start); took > 50*time.Millisecond {
		t.Errorf("ws_b's call took %s; want no wait", took)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := calls["Bearer "+token("ws_a")]; got != 1 {
		t.Errorf("ws_a sent %d requests; want 1", got)
	}
	if got := calls["Bearer "+token("ws_b")]; got != 1 {
		t.Errorf("ws_b sent %d requests; want 1", got)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections; want 1, shared by every workspace's client", n)
	}
}
