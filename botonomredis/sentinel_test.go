package botonomredis_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/botonomredis"
	"github.com/redis/go-redis/v9"
)

// freePort returns a TCP port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startServer starts redis-server with args, stopped at the end of the
// test, and waits until port answers.
func startServer(t *testing.T, port int, args ...string) {
	t.Helper()
	needRedisServer(t)
	cmd := exec.Command("redis-server", args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), MaxRetries: -1})
	defer c.Close()
	for i := 0; c.Ping(context.Background()).Err() != nil; i++ {
		if i > 100 {
			t.Fatalf("redis-server on %d does not answer", port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A store on a Sentinel client (a redis.UniversalClient with a master
// name): its steps reach the master Sentinel names, and replica
// acknowledgement is given by the master's replica.
func TestDedupStore_OnSentinel(t *testing.T) {
	master, replica, sentinel := freePort(t), freePort(t), freePort(t)
	// --dir: a replica writes the master's snapshot to disk when it syncs.
	// --repl-diskless-sync-delay 0: the master starts the sync at once
	// rather than after the default 5 s spent waiting for more replicas.
	base := []string{"--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0"}
	startServer(t, master, append([]string{"--port", strconv.Itoa(master), "--dir", t.TempDir()}, base...)...)
	startServer(t, replica, append([]string{"--port", strconv.Itoa(replica), "--dir", t.TempDir(), "--replicaof", "127.0.0.1", strconv.Itoa(master)}, base...)...)
	conf := filepath.Join(t.TempDir(), "sentinel.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("port %d\nbind 127.0.0.1\nsentinel monitor botonom 127.0.0.1 %d 1\nsentinel down-after-milliseconds botonom 1000\n", sentinel, master)), 0o600); err != nil {
		t.Fatal(err)
	}
	startServer(t, sentinel, conf, "--sentinel")

	onMaster := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(master)})
	defer onMaster.Close()
	for i := 0; !strings.Contains(onMaster.Info(context.Background(), "replication").Val(), "state=online"); i++ {
		if i > 750 {
			t.Fatal("the replica did not sync within 15 s")
		}
		time.Sleep(20 * time.Millisecond)
	}

	rdb := redis.NewUniversalClient(&redis.UniversalOptions{MasterName: "botonom", Addrs: []string{"127.0.0.1:" + strconv.Itoa(sentinel)}})
	t.Cleanup(func() { rdb.Close() })
	store, err := botonomredis.NewDedupStore(rdb, botonomredis.WithReplicaAck(1, 2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c := mustClaim(t, store, "evt_1", time.Minute)
	if c.Status != botonom.DedupClaimed {
		t.Fatalf("claim = %+v", c)
	}
	if err := store.Done(ctx, "evt_1", c.Token, time.Hour); err != nil {
		t.Fatal(err)
	}
	onReplica := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(replica)})
	defer onReplica.Close()
	for name, c := range map[string]*redis.Client{"master": onMaster, "replica": onReplica} {
		if got := c.Get(ctx, store.Key("evt_1")).Val(); got != "done" {
			t.Errorf("the %s holds %q; want done", name, got)
		}
	}
}
