package botonomtest_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A user's go.mod gets one requirement per module that provides a package
// botonomtest builds on: these 8, at most 10 (the root package alone needs
// the first three). The OpenAPI checks use kin-openapi's legacy router,
// which needs no gorilla/mux. A new one is a cost to every user: add it here
// on purpose or not at all, and never past 10.
func TestDependencies_WhatBotonomtestAddsToAUsersGoMod(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	out, err := exec.Command(gobin, "list", "-deps", "-f", "{{with .Module}}{{.Path}}{{end}}", ".").Output()
	require.NoError(t, err)
	seen := map[string]bool{}
	var modules []string
	for _, m := range strings.Fields(string(out)) {
		if m != "github.com/botonom/botonom-go" && !seen[m] {
			seen[m] = true
			modules = append(modules, m)
		}
	}
	want := []string{
		"github.com/google/go-querystring",
		"github.com/hashicorp/go-cleanhttp",
		"github.com/hashicorp/go-retryablehttp",

		"github.com/getkin/kin-openapi",
		"github.com/go-openapi/jsonpointer",
		"github.com/santhosh-tekuri/jsonschema/v6",
		"go.yaml.in/yaml/v4",
		"golang.org/x/text",
	}
	assert.LessOrEqual(t, len(modules), 10, "botonomtest promises a user at most 10 requirements: %v", modules)
	assert.ElementsMatch(t, want, modules)
}
