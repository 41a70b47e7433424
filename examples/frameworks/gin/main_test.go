package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/gin-gonic/gin"

	botonom "github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/examples/frameworks/internal/recipetest"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	recipetest.RunMain(m, main)
}

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

// putsItBack is a middleware that reads the body (to log it, say) and puts
// back what it read. It reads with the handler's cap, refusing a larger
// body 413 as the handler would: uncapped, the sender would decide how
// much memory it takes.
func putsItBack(c *gin.Context) {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, botonom.DefaultMaxWebhookBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		c.AbortWithStatus(http.StatusRequestEntityTooLarge)
		return
	case err != nil:
		c.AbortWithStatus(http.StatusBadRequest)
		return
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(body))
	c.Next()
}

// A middleware that binds the JSON body before the webhook route (to log
// it, say) leaves the verifier nothing: the delivery is refused, and the
// log says why. Putting back the bytes it read fixes it.
func TestRoutes_MiddlewareThatReadsTheBody(t *testing.T) {
	bindsJSON := func(c *gin.Context) {
		var v map[string]any
		_ = c.ShouldBindJSON(&v)
		c.Next()
	}
	for name, tc := range map[string]struct {
		middleware gin.HandlerFunc
		want       int
	}{
		"binds JSON":   {bindsJSON, http.StatusUnauthorized},
		"puts it back": {putsItBack, http.StatusOK},
	} {
		t.Run(name, func(t *testing.T) {
			r := recipetest.Serve(t, func(secret string, logger *slog.Logger, handle func(context.Context, *botonom.Event) error) http.Handler {
				e := gin.New()
				e.POST("/botonom/webhook", tc.middleware, gin.WrapH(botonom.WebhookHandler(secret, handle, botonom.WithHandlerLogger(logger))))
				return e
			})
			r.WantDelivered(t, "/botonom/webhook", tc.want)
		})
	}
}

// The body-restoring middleware reads no more than the cap: 8 MiB sent,
// about 1 MiB read, and the delivery refused 413.
func TestRoutes_MiddlewareThatReadsTheBodyReadsWithACap(t *testing.T) {
	var read atomic.Int64
	counts := func(c *gin.Context) {
		c.Request.Body = countingBody{c.Request.Body, &read}
		c.Next()
	}
	r := recipetest.Serve(t, func(secret string, logger *slog.Logger, handle func(context.Context, *botonom.Event) error) http.Handler {
		e := gin.New()
		e.POST("/botonom/webhook", counts, putsItBack, gin.WrapH(botonom.WebhookHandler(secret, handle, botonom.WithHandlerLogger(logger))))
		return e
	})
	resp, err := http.Post(r.URL+"/botonom/webhook", "application/json", bytes.NewReader(make([]byte, 8<<20)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("got %d, want 413", resp.StatusCode)
	}
	if n := read.Load(); n > botonom.DefaultMaxWebhookBodyBytes+64<<10 {
		t.Errorf("the middleware read %d bytes, over the %d cap", n, botonom.DefaultMaxWebhookBodyBytes)
	}
}

// countingBody counts the bytes read from a request body.
type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}
