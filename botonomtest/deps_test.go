package botonomtest_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A user's go.mod gets one requirement per module that provides a package
// botonomtest builds on: these 13 (the root package alone needs the first
// three). The OpenAPI checks use kin-openapi's legacy router, which needs
// no gorilla/mux, and go-openapi/jsonpointer v0.22, which needs
// swag/jsonname instead of all of swag (and its YAML and easyjson writer).
// A new one is a cost to every user: add it here on purpose or not at all.
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
	assert.ElementsMatch(t, []string{
		"github.com/google/go-querystring",
		"github.com/hashicorp/go-cleanhttp",
		"github.com/hashicorp/go-retryablehttp",

		"github.com/getkin/kin-openapi",
		"github.com/go-openapi/jsonpointer",
		"github.com/go-openapi/swag/jsonname",
		"github.com/josharian/intern",
		"github.com/mailru/easyjson",
		"github.com/mohae/deepcopy",
		"github.com/oasdiff/yaml",
		"github.com/oasdiff/yaml3",
		"github.com/perimeterx/marshmallow",
		"github.com/woodsbury/decimal128",
	}, modules)
}
