// Command gin receives Botonom webhook deliveries behind a gin router:
// botonom.WebhookHandler mounted with gin.WrapH, and the same verification
// by hand in a gin handler for code that needs one.
//
//	BOTONOM_WEBHOOK_SECRET=whsec_… go run ./gin [--addr host:port]
//
// The signature covers the raw body, byte for byte. In gin the body is
// easy to lose before verification: c.ShouldBindJSON, c.BindJSON and
// c.GetRawData read it once and leave nothing for whoever comes next, and
// a struct bound and re-marshalled is not the bytes that were signed. On
// the webhook route, read the raw bytes once (c.GetRawData) and verify
// them first; a middleware in front that reads the body must put back
// what it read (see the test).
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/gin-gonic/gin"

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

func routes(secret string, logger *slog.Logger, handle func(context.Context, *botonom.Event) error) *gin.Engine {
	r := gin.New()
	r.Use(gin.Recovery())

	// The usual way: the handler reads the raw body itself.
	r.POST("/botonom/webhook", gin.WrapH(botonom.WebhookHandler(secret, handle, botonom.WithHandlerLogger(logger))))

	// By hand: the raw bytes, capped, verified before anything else looks.
	r.POST("/botonom/webhook/by-hand", func(c *gin.Context) {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, botonom.DefaultMaxWebhookBodyBytes)
		payload, err := c.GetRawData()
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge): // as WebhookHandler answers
			c.String(http.StatusRequestEntityTooLarge, "body too large")
			return
		case err != nil:
			c.String(http.StatusBadRequest, "cannot read body")
			return
		}
		ev, err := botonom.ConstructEvent(payload, c.GetHeader(botonom.SignatureHeader), secret)
		switch {
		case errors.Is(err, botonom.ErrInvalidEvent): // signed, but not an event
			c.String(http.StatusBadRequest, "invalid event")
			return
		case err != nil: // the likely causes go to the log, never to the sender
			logger.Warn("webhook refused", "error", err, "hint", botonom.SignatureFailureHint(err))
			c.String(http.StatusUnauthorized, "invalid signature")
			return
		}
		if err := handle(c.Request.Context(), ev); err != nil {
			c.String(http.StatusInternalServerError, "event handling failed") // the API delivers it again
			return
		}
		c.Status(http.StatusOK)
	})
	return r
}

// handleEvent is called once per verified delivery; returning an error
// makes the API deliver the event again later.
func handleEvent(ctx context.Context, ev *botonom.Event) error {
	slog.InfoContext(ctx, "webhook event", "id", ev.ID, "type", ev.Type)
	return nil
}
