// Command echo receives Botonom webhook deliveries behind an echo router:
// botonom.WebhookHandler mounted with echo.WrapHandler, and the same
// verification by hand in an echo handler for code that needs one.
//
//	BOTONOM_WEBHOOK_SECRET=whsec_… go run ./echo [--addr host:port]
//
// The signature covers the raw body, byte for byte. In echo, c.Bind reads
// the body once and leaves nothing for whoever comes next, and a struct
// bound and re-marshalled is not the bytes that were signed. On the
// webhook route, read c.Request().Body once and verify it first; a
// middleware in front that reads the body must put back what it read
// (middleware.BodyDump does; see the test).
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

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

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

func routes(secret string, logger *slog.Logger, handle func(context.Context, *botonom.Event) error) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.Use(middleware.Recover())

	// The usual way: the handler reads the raw body itself.
	e.POST("/botonom/webhook", echo.WrapHandler(botonom.WebhookHandler(secret, handle, botonom.WithHandlerLogger(logger))))

	// By hand: the raw bytes, capped, verified before anything else looks.
	e.POST("/botonom/webhook/by-hand", func(c echo.Context) error {
		payload, err := io.ReadAll(http.MaxBytesReader(c.Response(), c.Request().Body, botonom.DefaultMaxWebhookBodyBytes))
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge): // as WebhookHandler answers
			return c.String(http.StatusRequestEntityTooLarge, "body too large")
		case err != nil:
			return c.String(http.StatusBadRequest, "cannot read body")
		}
		ev, err := botonom.ConstructEvent(payload, c.Request().Header.Get(botonom.SignatureHeader), secret)
		switch {
		case errors.Is(err, botonom.ErrInvalidEvent): // signed, but not an event
			return c.String(http.StatusBadRequest, "invalid event")
		case err != nil: // the likely causes go to the log, never to the sender
			logger.Warn("webhook refused", "error", err, "hint", botonom.SignatureFailureHint(err))
			return c.String(http.StatusUnauthorized, "invalid signature")
		}
		if err := handle(c.Request().Context(), ev); err != nil {
			return c.String(http.StatusInternalServerError, "event handling failed") // the API delivers it again
		}
		return c.NoContent(http.StatusOK)
	})
	return e
}

// handleEvent is called once per verified delivery; returning an error
// makes the API deliver the event again later.
func handleEvent(ctx context.Context, ev *botonom.Event) error {
	slog.InfoContext(ctx, "webhook event", "id", ev.ID, "type", ev.Type)
	return nil
}
