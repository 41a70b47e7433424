package botonomredis_test

import (
	"context"
	"fmt"
	"net/http"
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

// clusterAddrs are the nodes of the test cluster: REDIS_CLUSTER_ADDRS
// (comma-separated), else those scripts/redis-up --cluster starts.
func clusterAddrs() []string {
	if addrs := os.Getenv("REDIS_CLUSTER_ADDRS"); addrs != "" {
		return strings.Split(addrs, ",")
	}
	return []string{"127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003", "127.0.0.1:7004", "127.0.0.1:7005"}
}

var (
	clusterProbeOnce sync.Once
	clusterProbeErr  error
)

// newCluster returns a client of the test cluster, closed at the end of
// the test, made with ClusterOptions changed by opts. Without a cluster
// the test is skipped, or fails when CI is set.
func newCluster(t *testing.T, opts ...func(*redis.ClusterOptions)) *redis.ClusterClient {
	t.Helper()
	clusterProbeOnce.Do(func() {
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: clusterAddrs(), DialTimeout: time.Second, MaxRetries: -1})
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		info, err := c.ClusterInfo(ctx).Result()
		if err == nil && !strings.Contains(info, "cluster_state:ok") {
			err = fmt.Errorf("cluster_state is not ok")
		}
		clusterProbeErr = err
	})
	if clusterProbeErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("no Redis Cluster answers at %v (REDIS_CLUSTER_ADDRS) and CI is set, so this fails rather than skips; start one with scripts/redis-up --cluster: %v", clusterAddrs(), clusterProbeErr)
		}
		t.Skipf("skipping: no Redis Cluster answers at %v (set REDIS_CLUSTER_ADDRS, or start one with scripts/redis-up --cluster): %v", clusterAddrs(), clusterProbeErr)
	}
	o := &redis.ClusterOptions{Addrs: clusterAddrs()}
	for _, opt := range opts {
		opt(o)
	}
	c := redis.NewClusterClient(o)
	t.Cleanup(func() { c.Close() })
	return c
}

func newClusterClient(t *testing.T) redis.UniversalClient { return newCluster(t) }

// The limiter, de-duplication and ordering on Redis Cluster: two clients
// share one limit, two handler replicas process each event once and apply
// each agent's states in order (both guards' combined script included: its
// two keys share a slot).
func TestCluster_LimiterSharedByTwoClients(t *testing.T) {
	testTwoClientsShareOneLimit(t, newClusterClient)
}

func TestCluster_DedupTwoReplicasProcessEachEventOnce(t *testing.T) {
	testTwoReplicasProcessEachEventOnce(t, newClusterClient)
}

func TestCluster_OrderingTwoReplicasEndInTheNewestState(t *testing.T) {
	testOrderingTwoReplicas(t, newClusterClient)
}

// On a cluster, a state event's key under both guards is in its entity's
// slot (a script touching both would be refused otherwise), so it is not
// de-duplication's own key.
func TestCluster_EventStateKeyIsInItsEntitysSlot(t *testing.T) {
	rdb := newCluster(t)
	prefix := uniquePrefix(t)
	s := newDedupStore(t, rdb, prefix)
	if got, want := s.EventStateKey("agt_1", "evt_1"), prefix+"{agt_1}:webhook:evt_1"; got != want {
		t.Errorf("EventStateKey = %q; want %q (in StateKey's hash slot)", got, want)
	}
	es := &botonom.EventState{EventID: "evt_1", Key: "agt_1", At: statusAt, Lease: time.Minute, Retention: time.Hour, StateRetention: time.Hour}
	c, err := s.ClaimEventState(context.Background(), es)
	if err != nil || c.Status != botonom.DedupClaimed {
		t.Fatalf("ClaimEventState = %+v, %v; want claimed", c, err)
	}
	if err := s.DoneEventState(context.Background(), es, c.Token); err != nil {
		t.Fatal(err)
	}
}

// With replica acknowledgement on a cluster, each step costs one round
// trip still (the script and WAIT in one pipeline to the key's master),
// and the records are on the key's replica when the step returns.
func TestCluster_ReplicaAckCostsNoRoundTrip(t *testing.T) {
	rdb := newCluster(t)
	waitClusterReady(t)
	counter := &roundTrips{}
	rdb.OnNewNode(func(c *redis.Client) { c.AddHook(counter) })
	prefix := uniquePrefix(t)
	store, err := botonomredis.NewDedupStore(rdb, botonomredis.WithKeyPrefix(prefix), botonomredis.WithReplicaAck(1, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteKeys(rdb, prefix) })
	ctx := context.Background()
	mustClaim(t, store, "evt_warm", time.Minute) // the scripts are known, and the nodes dialled
	for _, step := range []struct {
		name string
		run  func() error
	}{
		{"claim", func() error { _, err := store.Claim(ctx, "evt_1", time.Minute); return err }},
		{"claim state", func() error { _, err := store.ClaimState(ctx, "agt_1", statusAt, time.Minute); return err }},
		{"claim event state", func() error {
			_, err := store.ClaimEventState(ctx, &botonom.EventState{EventID: "evt_s", Key: "agt_2", At: statusAt,
				Lease: time.Minute, Retention: time.Hour, StateRetention: time.Hour})
			return err
		}},
	} {
		_ = step.run() // warm: the first use of a script on a node adds an EVAL
		deleteKeys(rdb, prefix)
		counter.n.Store(0)
		if err := step.run(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if n := counter.n.Load(); n != 1 {
			t.Errorf("%s with replica acknowledgement: %d round trips; want 1", step.name, n)
		}
	}
	// The claim is on the replica of its master when Claim returns.
	c := mustClaim(t, store, "evt_2", time.Minute)
	master, err := rdb.MasterForKey(ctx, store.Key("evt_2"))
	if err != nil {
		t.Fatal(err)
	}
	replica := replicaOf(t, master)
	if got := replica.Get(ctx, store.Key("evt_2")).Val(); got != "claim:"+c.Token {
		t.Errorf("the replica holds %q; want the claim", got)
	}
}

// replicaOf returns a client of master's first replica, read-only.
func replicaOf(t *testing.T, master *redis.Client) *redis.Client {
	t.Helper()
	info := master.Info(context.Background(), "replication").Val()
	for _, line := range strings.Split(info, "\n") {
		if !strings.HasPrefix(line, "slave0:") {
			continue
		}
		var ip, port string
		for _, kv := range strings.Split(strings.TrimSpace(strings.TrimPrefix(line, "slave0:")), ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "ip":
				ip = v
			case "port":
				port = v
			}
		}
		c := redis.NewClient(&redis.Options{Addr: ip + ":" + port, OnConnect: func(ctx context.Context, cn *redis.Conn) error { return cn.ReadOnly(ctx).Err() }})
		t.Cleanup(func() { c.Close() })
		return c
	}
	t.Fatalf("master %s has no replica", master.Options().Addr)
	return nil
}

// waitClusterReady waits (30 s at most) until the cluster is ok and every
// master has a replica whose link is up: a replica that never synced
// refuses to fail over.
func waitClusterReady(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	var why string
	for start := time.Now(); time.Since(start) < 30*time.Second; time.Sleep(100 * time.Millisecond) {
		why = clusterNotReady(ctx)
		if why == "" {
			return
		}
	}
	t.Fatalf("the cluster is not ready within 30 s: %s", why)
}

// clusterNotReady says why the cluster is not ready, or "".
func clusterNotReady(ctx context.Context) string {
	masters, replicas := 0, 0
	for _, addr := range clusterAddrs() {
		c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
		info, err := c.Info(ctx, "replication").Result()
		state, _ := c.ClusterInfo(ctx).Result()
		c.Close()
		switch {
		case err != nil:
			return addr + ": " + err.Error()
		case !strings.Contains(state, "cluster_state:ok"):
			return addr + ": cluster_state is not ok"
		case strings.Contains(info, "role:master"):
			masters++
		case strings.Contains(info, "master_link_status:up") && strings.Contains(info, "master_sync_in_progress:0"):
			replicas++
		default:
			return addr + ": a replica whose link is not up"
		}
	}
	if masters != replicas {
		return fmt.Sprintf("%d masters, %d replicas in sync", masters, replicas)
	}
	return ""
}

// killNode kills the master that holds key, or its replica (SIGKILL, as
// a crash), and returns the address of that master's replica.
func killNode(t *testing.T, rdb *redis.ClusterClient, key string, killReplica bool) (replica string) {
	t.Helper()
	ctx := context.Background()
	master, err := rdb.MasterForKey(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	victim := master
	if r := replicaOf(t, master); killReplica {
		victim = r
	} else {
		replica = r.Options().Addr
	}
	if killReplica {
		replica = victim.Options().Addr
	}
	info := victim.Info(ctx, "server").Val()
	var pid int
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			pid, _ = strconv.Atoi(v)
		}
	}
	if pid == 0 {
		t.Fatalf("no process_id in INFO server of %s", victim.Options().Addr)
	}
	// os.Process.Kill is SIGKILL on unix, and builds on every platform.
	proc, err := os.FindProcess(pid)
	if err == nil {
		err = proc.Kill()
	}
	if err != nil {
		t.Fatalf("kill %d (%s): %v", pid, victim.Options().Addr, err)
	}
	return replica
}

// restartCluster starts the nodes of the cluster that are down again, once
// replica (if not "") has taken over (a master that restarts without its
// data before its replica takes over would empty the replica too), and
// waits until the cluster is ready (scripts/redis-up --cluster).
func restartCluster(replica string) error {
	c := redis.NewClient(&redis.Options{Addr: replica})
	defer c.Close()
	for start := time.Now(); replica != "" && !strings.Contains(c.Info(context.Background(), "replication").Val(), "role:master"); time.Sleep(50 * time.Millisecond) {
		if time.Since(start) > 30*time.Second {
			return fmt.Errorf("the replica %s did not take over within 30 s", replica)
		}
	}
	if out, err := exec.Command("../scripts/redis-up", "--cluster").CombinedOutput(); err != nil {
		return fmt.Errorf("scripts/redis-up --cluster: %v\n%s", err, out)
	}
	return nil
}

// failoverFigures are what a failover run counts.
type failoverFigures struct {
	lost, twice, never2xx int
	answers               [600]atomic.Int64
}

// The failover run: 600 events, 3 copies of each, to 2 handler replicas on
// the cluster; every copy is redelivered on 409 and 5xx, as the API does;
// a master is killed a third into the run and started again once its
// replica took over (an orchestrator's restart, without persistence).
// Nothing is lost, and every delivery gets a 2xx within 60 s, with and
// without replica acknowledgement; with it, no event is processed twice.
func TestCluster_FailoverRun(t *testing.T) {
	if os.Getenv("REDIS_CLUSTER_ADDRS") != "" {
		t.Skip("skipping: the failover run restarts the cluster of scripts/redis-up --cluster, not REDIS_CLUSTER_ADDRS")
	}
	for _, ack := range []bool{false, true} {
		t.Run(fmt.Sprintf("ack=%t", ack), func(t *testing.T) {
			f := failoverRun(t, ack, false)
			t.Logf("replica ack %t: lost %d, processed twice %d, never 2xx within 60 s %d; answers 200×%d 409×%d 503×%d 500×%d",
				ack, f.lost, f.twice, f.never2xx, f.answers[200].Load(), f.answers[409].Load(), f.answers[503].Load(), f.answers[500].Load())
			if f.lost != 0 || f.never2xx != 0 {
				t.Errorf("lost %d events, %d deliveries never answered 2xx; want 0", f.lost, f.never2xx)
			}
			if ack && f.twice != 0 {
				t.Errorf("with replica acknowledgement, %d events processed twice; want 0", f.twice)
			}
		})
	}
}

// The same run, with acknowledgement, killing the replica of a master
// instead, and starting it again 2 s later: nothing lost, nothing processed
// twice, every delivery answered 2xx within 60 s (the master's keys get
// 503 until its replica is back).
func TestCluster_ReplicaRestartRun(t *testing.T) {
	if os.Getenv("REDIS_CLUSTER_ADDRS") != "" {
		t.Skip("skipping: the run restarts the cluster of scripts/redis-up --cluster, not REDIS_CLUSTER_ADDRS")
	}
	f := failoverRun(t, true, true)
	t.Logf("replica restart with ack: lost %d, processed twice %d, never 2xx within 60 s %d; answers 200×%d 409×%d 503×%d 500×%d",
		f.lost, f.twice, f.never2xx, f.answers[200].Load(), f.answers[409].Load(), f.answers[503].Load(), f.answers[500].Load())
	if f.lost != 0 || f.never2xx != 0 || f.twice != 0 {
		t.Errorf("lost %d events, %d processed twice, %d deliveries never answered 2xx; want 0", f.lost, f.twice, f.never2xx)
	}
}

// failoverRun is a run of TestCluster_FailoverRun: with replica
// acknowledgement or not, killing a master or its replica.
func failoverRun(t *testing.T, ack, killReplica bool) *failoverFigures {
	const events, copies = 600, 3
	rdb := newCluster(t)
	waitClusterReady(t)
	prefix := uniquePrefix(t)
	t.Cleanup(func() { deleteKeys(rdb, prefix) })
	fn := &countingFn{}
	var replicas [2]http.Handler
	for i := range replicas {
		c := newCluster(t, func(o *redis.ClusterOptions) {
			o.DialTimeout, o.ReadTimeout, o.WriteTimeout = 250*time.Millisecond, time.Second, time.Second
		})
		opts := []botonomredis.DedupStoreOption{botonomredis.WithKeyPrefix(prefix)}
		if ack {
			opts = append(opts, botonomredis.WithReplicaAck(1, 500*time.Millisecond))
		}
		store, err := botonomredis.NewDedupStore(c, opts...)
		if err != nil {
			t.Fatal(err)
		}
		// A short lease: a claim whose step failed and whose release did
		// not land holds the event this long.
		replicas[i] = botonom.WebhookHandler(webhookSecret, fn.handle, botonom.WithDeduplication(store, botonom.WithDedupLease(5*time.Second)))
	}

	f := &failoverFigures{}
	var never atomic.Int64
	var wg sync.WaitGroup
	var restarted sync.WaitGroup
	for e := range events {
		id := fmt.Sprintf("evt_%03d", e)
		if e == events/3 {
			replica := killNode(t, rdb, prefix+"webhook:"+id, killReplica)
			restarted.Add(1)
			go func() {
				defer restarted.Done()
				if killReplica {
					replica = ""                // no takeover to wait for,
					time.Sleep(2 * time.Second) // but a replica down a while
				}
				if err := restartCluster(replica); err != nil {
					t.Error(err)
				}
			}()
		}
		for c := range copies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				start := time.Now()
				for try := 0; ; try++ {
					code := serve(replicas[(c+try)%2], id).Code
					f.answers[code].Add(1)
					if code >= 200 && code <= 299 {
						return
					}
					if time.Since(start) > 60*time.Second {
						never.Add(1)
						return
					}
					time.Sleep(50 * time.Millisecond)
				}
			}()
		}
		time.Sleep(5 * time.Millisecond)
	}
	wg.Wait()
	restarted.Wait()

	fn.mu.Lock()
	defer fn.mu.Unlock()
	f.lost = events - len(fn.ok)
	for _, n := range fn.ok {
		if n > 1 {
			f.twice++
		}
	}
	f.never2xx = int(never.Load())
	return f
}
