package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"

	botonom "github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/examples/frameworks/internal/recipetest"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	m.Run()
}

func TestRoutes(t *testing.T) {
	recipetest.Check(t, func(secret string, logger *slog.Logger, handle func(context.Context, *botonom.Event) error) http.Handler {
		return routes(secret, logger, handle)
	}, "/botonom/webhook", "/botonom/webhook/by-hand")
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
	putsItBack := func(c *gin.Context) {
		body, _ := c.GetRawData()
		c.Request.Body = io.NopCloser(bytes.NewReader(body))
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
