// Command chi receives Botonom webhook deliveries behind a chi router:
// botonom.WebhookHandler is an http.Handler, so it mounts as it is.
//
//	BOTONOM_WEBHOOK_SECRET=whsec_… go run ./chi
//
// The signature covers the raw body, byte for byte. chi's own middleware
// (RequestID, RealIP, Logger, Recoverer, Timeout) leaves the body alone;
// middleware.Compress only touches the answer. A middleware of yours that
// reads the request body must put back what it read.
package main

import (
	"context"
	"log"
	"log/slog"
	"net/http"
	"os"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	botonom "github.com/botonom/botonom-go"
)

func main() {
	secret := os.Getenv("BOTONOM_WEBHOOK_SECRET")
	if secret == "" {
		log.Fatal("set BOTONOM_WEBHOOK_SECRET to the secret the webhook was registered with")
	}
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", routes(secret, slog.Default(), handleEvent)))
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
