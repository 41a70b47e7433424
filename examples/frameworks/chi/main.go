// Command chi receives Botonom webhook deliveries behind a chi router:
// botonom.WebhookHandler is an http.Handler, so it mounts as it is.
//
//	BOTONOM_WEBHOOK_SECRET=whsec_… go run ./chi [--addr host:port]
//
// The signature covers the raw body, byte for byte. chi's own middleware
// (RequestID, RealIP, Logger, Recoverer, Timeout) leaves the body alone;
// middleware.Compress only touches the answer. A middleware of yours that
// reads the request body must put back what it read.
package main

import (
	"context"
	"flag"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	botonom "github.com/botonom/botonom-go"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "the `host:port` to listen on")
	flag.Parse()
	secret := os.Getenv("BOTONOM_WEBHOOK_SECRET")
	if secret == "" {
		log.Fatal("set BOTONOM_WEBHOOK_SECRET to the secret the webhook was registered with")
	}
	log.Fatal(serve(*addr, routes(secret, slog.Default(), handleEvent)))
}

// serve listens on addr, says where (the port is the system's choice with
// ":0"), and serves h with the bounds a server facing the internet needs.
func serve(addr string, h http.Handler) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	log.Printf("receiving Botonom webhook deliveries at http://%s/botonom/webhook", l.Addr())
	return newServer(h).Serve(l)
}

// newServer bounds what a client can hold: its headers must come within
// 10 s (a client that trickles them is cut off), the whole request within
// 30 s, an idle connection stays 2 min, headers stop at 64 KiB. The body's
// size is bounded where it is read (1 MiB; 413 beyond).
func newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}

func routes(secret string, logger *slog.Logger, handle func(context.Context, *botonom.Event) error) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.RequestID, middleware.Recoverer)
	r.Method(http.MethodPost, "/botonom/webhook", botonom.WebhookHandler(secret, handle, botonom.WithHandlerLogger(logger)))
	return r
}

// handleEvent is called once per verified delivery; returning an error
// makes the API deliver the event again later.
func handleEvent(ctx context.Context, ev *botonom.Event) error {
	slog.InfoContext(ctx, "webhook event", "id", ev.ID, "type", ev.Type, "request_id", middleware.GetReqID(ctx))
	return nil
}
