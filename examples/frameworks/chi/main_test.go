package main

import (
	"testing"

	"github.com/botonom/botonom-go/examples/frameworks/internal/recipetest"
)

func TestRoutes(t *testing.T) {
	recipetest.Check(t, routes, "/botonom/webhook")
}
