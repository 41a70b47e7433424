package botonomtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/botonom/botonom-go/api"
)

// spec is the API's OpenAPI description, parsed and validated once per
// process and shared by every Server (it is only read).
type spec struct {
	doc    *openapi3.T
	router routers.Router
}

var (
	specOnce   sync.Once
	loadedSpec *spec
	specErr    error
)

func loadSpec() (*spec, error) {
	specOnce.Do(func() {
		doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
		if err != nil {
			specErr = fmt.Errorf("load api/openapi.yaml: %w", err)
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			specErr = fmt.Errorf("api/openapi.yaml is not a valid OpenAPI document: %w", err)
			return
		}
		// The fake serves the API under /v1 on whatever address httptest
		// picked, not on the production host the document names.
		doc.Servers = openapi3.Servers{{URL: "/v1"}}
		router, err := legacy.NewRouter(doc)
		if err != nil {
			specErr = fmt.Errorf("route api/openapi.yaml: %w", err)
			return
		}
		loadedSpec = &spec{doc: doc, router: router}
	})
	return loadedSpec, specErr
}

// check validates a request the server received and the answer it gives.
// A request the description has no operation for (unknown path, wrong
// method) is not a request error: the server answers it 404 or 405 and
// the answer is checked against the Error schema. A body over the size
// limit is not checked.
func (sp *spec) check(r *http.Request, body []byte, tooLarge bool, ans *answer) (reqErr, respErr error) {
	ctx := context.Background()
	req := r.Clone(ctx)
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }

	rt, params, err := sp.router.FindRoute(req)
	if err != nil || slices.Contains(slices.Collect(maps.Values(params)), "") {
		// No operation, or an empty path segment ("/agents//tasks") that
		// the server routes nowhere: a 404 in the Error shape.
		return nil, sp.checkErrorAnswer(ans)
	}
	opts := &openapi3filter.Options{
		AuthenticationFunc:  openapi3filter.NoopAuthenticationFunc, // the server checks the token itself
		SkipSettingDefaults: true,
		MultiError:          true,
	}
	opts.WithCustomSchemaErrorFunc(schemaErrorText)
	respOpts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	respOpts.WithCustomSchemaErrorFunc(schemaErrorText)
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: rt, Options: opts}
	if !tooLarge {
		reqErr = openapi3filter.ValidateRequest(ctx, in)
	}
	// The request check consumed the body; the answer check reads only
	// the request's method.
	respErr = openapi3filter.ValidateResponse(ctx, &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 ans.status,
		Header:                 ans.header,
		Body:                   io.NopCloser(bytes.NewReader(ans.body)),
		Options:                respOpts,
	})
	return reqErr, respErr
}

// checkErrorAnswer checks an answer given outside the described
// operations: an error in the API's shape with the headers every answer
// carries.
func (sp *spec) checkErrorAnswer(ans *answer) error {
	if ans.status < 400 {
		return fmt.Errorf("status %d outside any operation", ans.status)
	}
	for _, name := range []string{"X-Request-Id", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
		if ans.header.Get(name) == "" {
			return fmt.Errorf("header %s missing", name)
		}
	}
	var v any
	if err := json.Unmarshal(ans.body, &v); err != nil {
		return fmt.Errorf("body is not JSON: %w", err)
	}
	schema := sp.doc.Components.Schemas["Error"]
	if schema == nil {
		return errors.New("api/openapi.yaml has no Error schema")
	}
	return schema.Value.VisitJSON(v)
}

// schemaErrorText is a schema mismatch in one line: where and why, without
// kin-openapi's dump of the whole schema and value.
func schemaErrorText(e *openapi3.SchemaError) string {
	value, err := json.Marshal(e.Value)
	if err != nil || len(value) > 200 {
		value = []byte("…")
	}
	return fmt.Sprintf("at /%s: %s (got %s)", strings.Join(e.JSONPointer(), "/"), e.Reason, value)
}
