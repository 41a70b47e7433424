package redislimit_test

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/redislimit"
	"github.com/redis/go-redis/v9"
)

// Every replica of a service builds the same limiter: together they send at
// most 500 requests a minute with the token.
func ExampleNew() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	token := os.Getenv("BOTONOM_API_TOKEN")

	l, err := redislimit.New(rdb, token, 500, time.Minute)
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
