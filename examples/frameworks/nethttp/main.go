// Command nethttp receives Botonom webhook deliveries with net/http alone:
// botonom.WebhookHandler mounted on a ServeMux, and the same verification
// by hand with botonom.ConstructEvent for code that needs its own handler.
//
//	BOTONOM_WEBHOOK_SECRET=whsec_… go run ./nethttp [--addr host:port]
//
// The signature covers the raw body, byte for byte: nothing may read,
// re-encode or re-indent it before it is verified. A middleware in front
// that reads the body (to log it, say) must put back what it read.
package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

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

// routes mounts the webhook endpoint twice, to show both ways.
func routes(secret string, logger *slog.Logger, handle func(context.Context, *botonom.Event) error) http.Handler {
	mux := http.NewServeMux()

	// The usual way: the handler reads the raw body itself (capped at
	// 1 MiB), verifies it and answers 401/400/500/200.
	mux.Handle("POST /botonom/webhook", botonom.WebhookHandler(secret, handle, botonom.WithHandlerLogger(logger)))

	// By hand: read the raw bytes, verify them before anything else looks.
	mux.HandleFunc("POST /botonom/webhook/by-hand", func(w http.ResponseWriter, r *http.Request) {
		payload, err := io.ReadAll(http.MaxBytesReader(w, r.Body, botonom.DefaultMaxWebhookBodyBytes))
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge): // as WebhookHandler answers
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		case err != nil:
			http.Error(w, "cannot read body", http.StatusBadRequest)
			return
		}
		ev, err := botonom.ConstructEvent(payload, r.Header.Get(botonom.SignatureHeader), secret)
		switch {
		case errors.Is(err, botonom.ErrInvalidEvent): // signed, but not an event
			http.Error(w, "invalid event", http.StatusBadRequest)
			return
		case err != nil: // the likely causes go to the log, never to the sender
			logger.Warn("webhook refused", "error", err, "hint", botonom.SignatureFailureHint(err))
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		if err := handle(r.Context(), ev); err != nil {
			http.Error(w, "event handling failed", http.StatusInternalServerError) // the API delivers it again
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	return mux
}

// handleEvent is called once per verified delivery; returning an error
// makes the API deliver the event again later.
func handleEvent(ctx context.Context, ev *botonom.Event) error {
	slog.InfoContext(ctx, "webhook event", "id", ev.ID, "type", ev.Type)
	return nil
}
