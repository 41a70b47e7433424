package main

import (
	"testing"

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
	recipetest.Check(t, routes, "/botonom/webhook", "/botonom/webhook/by-hand")
}
