package main

import (
	"context"
	"log/slog"
	"net/http"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	botonom "github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/examples/frameworks/internal/recipetest"
)

func TestMain(m *testing.M) { recipetest.RunMain(m, main) }

// The server bounds its reads; run as a command, the recipe listens where
// --addr says, says so, and answers there.
func TestServer(t *testing.T) {
	recipetest.CheckServer(t, newServer)
	recipetest.CheckMain(t)
}

func TestRoutes(t *testing.T) {
	recipetest.Check(t, func(secret string, logger *slog.Logger, handle func(context.Context, *botonom.Event) error) http.Handler {
		return routes(secret, logger, handle)
	}, "/botonom/webhook", "/botonom/webhook/by-hand")
}

// A middleware that binds the body before the webhook route leaves the
// verifier nothing: the delivery is refused, and the log says why.
// middleware.BodyDump reads the body too, but puts it back.
func TestRoutes_MiddlewareThatReadsTheBody(t *testing.T) {
	binds := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			var v map[string]any
			_ = c.Bind(&v)
			return next(c)
		}
	}
	for name, tc := range map[string]struct {
		middleware echo.MiddlewareFunc
		want       int
	}{
		"binds":     {binds, http.StatusUnauthorized},
		"body dump": {middleware.BodyDump(func(echo.Context, []byte, []byte) {}), http.StatusOK},
	} {
		t.Run(name, func(t *testing.T) {
			r := recipetest.Serve(t, func(secret string, logger *slog.Logger, handle func(context.Context, *botonom.Event) error) http.Handler {
				e := echo.New()
				e.POST("/botonom/webhook", echo.WrapHandler(botonom.WebhookHandler(secret, handle, botonom.WithHandlerLogger(logger))), tc.middleware)
				return e
			})
			r.WantDelivered(t, "/botonom/webhook", tc.want)
		})
	}
}
