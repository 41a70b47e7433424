package botonomredis_test

import (
	"context"
	"log"
	"net/http"
	"os"
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
