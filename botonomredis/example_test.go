package botonomredis_test

import (
	"context"
	"log"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/botonomredis"
	"github.com/redis/go-redis/v9"
)

// Every replica of a service builds the same limiter: together they send at
// most 500 requests a minute with the token.
func ExampleNewLimiter() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	token := os.Getenv("BOTONOM_API_TOKEN")

	l, err := botonomredis.NewLimiter(rdb, token, 500, time.Minute)
	if err != nil {
		log.Fatal(err)
	}
	client, err := botonom.NewClient(token, botonom.WithLimiter(l))
	if err != nil {
		log.Fatal(err)
	}
	agent, _, err := client.Agents.Get(context.Background(), "agt_1")
	if err != nil {
		log.Fatal(err)
	}
	log.Println(agent.Name)
}

// Every replica of a webhook endpoint gives its handler a store on the same
// Redis: each event is processed once, whichever replica it reaches.
func ExampleNewDedupStore() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()

	store, err := botonomredis.NewDedupStore(rdb)
	if err != nil {
		log.Fatal(err)
	}
	handle := func(ctx context.Context, ev *botonom.Event) error {
		log.Println("processing", ev.ID) // runs once per event ID
		return nil
	}
	http.Handle("/botonom/webhook", botonom.WebhookHandler(os.Getenv("BOTONOM_WEBHOOK_SECRET"), handle,
		botonom.WithDeduplication(store)))
}

// workspaces keeps one client per connected workspace, each made from one
// base client (botonom.Client.WithToken) with a Limiter for its token: a
// request finds its workspace's client, so the token's rate-limit state
// and Limiter live as long as the workspace, not one request.
type workspaces struct {
	base  *botonom.Client // the options every workspace shares
	rdb   redis.UniversalClient
	limit int // requests a minute per token: 500 for Workspace tokens
	mu    sync.Mutex
	m     map[string]workspace // by workspace ID
}

type workspace struct {
	token  string
	client *botonom.Client
}

// client returns the client of the workspace id, whose token is token
// (from the platform's store). A rotated token gets a new client.
func (w *workspaces) client(id, token string) (*botonom.Client, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if ws, ok := w.m[id]; ok && ws.token == token {
		return ws.client, nil
	}
	// Every replica of the platform builds the same Limiter for the token:
	// together they stay within its limit.
	l, err := botonomredis.NewLimiter(w.rdb, token, w.limit, time.Minute)
	if err != nil {
		return nil, err
	}
	c, err := w.base.WithToken(token, botonom.WithLimiter(l))
	if err != nil {
		return nil, err
	}
	if w.m == nil {
		w.m = map[string]workspace{}
	}
	w.m[id] = workspace{token, c}
	return c, nil
}

// forget drops the client of a workspace that disconnected.
func (w *workspaces) forget(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.m, id)
}

// A platform serving many workspaces keeps one client per workspace, made
// from one base client, each with a Limiter for its token shared through
// Redis by every replica of the platform.
func Example_manyWorkspaces() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	base, err := botonom.NewClient("btm_sk_platform", botonom.WithUserAgent("platform/1.0"))
	if err != nil {
		log.Fatal(err)
	}
	all := &workspaces{base: base, rdb: rdb, limit: 500}

	http.HandleFunc("/workspaces/{id}/agents/{agent}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		c, err := all.client(id, lookUpToken(id))
		if err != nil {
			http.Error(w, "workspace not connected", http.StatusBadGateway)
			return
		}
		agent, _, err := c.Agents.Get(r.Context(), r.PathValue("agent"))
		if err != nil {
			http.Error(w, "botonom: "+err.Error(), http.StatusBadGateway)
			return
		}
		_, _ = w.Write([]byte(agent.Name))
	})
}

// lookUpToken stands for the platform's store of workspace tokens.
func lookUpToken(id string) string { return os.Getenv("BOTONOM_TOKEN_" + id) }
