// Package api holds the wire contract of the Botonom API: the OpenAPI 3.0
// description in openapi.yaml, embedded so that Go code (the fake server in
// package botonomtest, tools, tests) reads the one source of truth instead of
// a copy.
//
// Load it with any OpenAPI 3 library, for example kin-openapi:
//
//	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
package api

import _ "embed"

// OpenAPI is the content of openapi.yaml: the OpenAPI 3.0.3 description of
// every endpoint, header, error and webhook event of the Botonom API. Treat
// it as read-only.
//
//go:embed openapi.yaml
var OpenAPI []byte
