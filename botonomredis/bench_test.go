package botonomredis_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/botonomredis"
	"github.com/redis/go-redis/v9"
)

// BenchmarkWebhookHandler_Redis delivers new events, one at a time, to a
// handler with the Redis store: task events under de-duplication, and
// state events under both guards (ordering and de-duplication on one
// store); on the local server, and on the local cluster without and with
// replica acknowledgement.
func BenchmarkWebhookHandler_Redis(b *testing.B) {
	for _, bc := range []struct {
		name    string
		cluster bool
		ack     bool
		state   bool
	}{
		{"server/dedup", false, false, false},
		{"server/both-guards", false, false, true},
		{"cluster/dedup", true, false, false},
		{"cluster/both-guards", true, false, true},
		{"cluster-ack/dedup", true, true, false},
		{"cluster-ack/both-guards", true, true, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var rdb redis.UniversalClient
			if bc.cluster {
				rdb = benchCluster(b)
			} else {
				rdb = benchRedis(b)
			}
			prefix := fmt.Sprintf("botonom-bench:%d:", time.Now().UnixNano())
			b.Cleanup(func() { deleteKeys(rdb, prefix) })
			opts := []botonomredis.DedupStoreOption{botonomredis.WithKeyPrefix(prefix)}
			if bc.ack {
				opts = append(opts, botonomredis.WithReplicaAck(1, time.Second))
			}
			store, err := botonomredis.NewDedupStore(rdb, opts...)
			if err != nil {
				b.Fatal(err)
			}
			guards := []botonom.HandlerOption{botonom.WithDeduplication(store)}
			if bc.state {
				guards = append(guards, botonom.WithOrdering(store))
			}
			h := botonom.WebhookHandler(webhookSecret, func(context.Context, *botonom.Event) error { return nil }, guards...)
			deliver := func(i int) {
				var body []byte
				if bc.state {
					body = fmt.Appendf(nil, `{"id":"evt_%d","type":"agent.status.changed","created_at":%q,"data":{"agent_id":"agt_%d","status":"online"}}`,
						i, statusAt.Add(time.Duration(i)*time.Second).Format(time.RFC3339), i%1024)
				} else {
					body = fmt.Appendf(nil, `{"id":"evt_%d","type":"agent.task.completed","created_at":"2026-02-18T14:30:00Z","data":{"id":"tsk_1"}}`, i)
				}
				r := httptest.NewRequest(http.MethodPost, "/botonom/webhook", bytes.NewReader(body))
				r.Header.Set(botonom.SignatureHeader, botonom.SignPayload(body, webhookSecret, time.Now()))
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("delivery %d: %d", i, w.Code)
				}
			}
			deliver(-1) // the scripts are known, the connections open
			deliver(-2)
			i := 0
			for b.Loop() {
				deliver(i)
				i++
			}
		})
	}
}

// benchRedis is newRedis for a benchmark: skipped without a server.
func benchRedis(b *testing.B) *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr()})
	b.Cleanup(func() { rdb.Close() })
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		b.Skipf("skipping: no Redis at %s: %v", redisAddr(), err)
	}
	return rdb
}

// benchCluster is newCluster for a benchmark: skipped without a cluster.
func benchCluster(b *testing.B) *redis.ClusterClient {
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: clusterAddrs()})
	b.Cleanup(func() { rdb.Close() })
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		b.Skipf("skipping: no Redis Cluster at %v: %v", clusterAddrs(), err)
	}
	return rdb
}
