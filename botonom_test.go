package botonom

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	testToken   = "btm_sk_secret_token_value_123"
	testBaseURL = "https://api.test/v1/"
)

// setup returns a client whose requests go to an httpmock transport; the
// base URL has a path (/v1/), so a request built with an absolute path
// fails loudly. Retry waits are tiny: an unmatched request is a transport
// error that the client retries.
func setup(t *testing.T, opts ...Option) (*Client, *httpmock.MockTransport) {
	t.Helper()
	mt := httpmock.NewMockTransport()
	base := []Option{
		WithBaseURL(testBaseURL),
		WithHTTPClient(&http.Client{Transport: mt}),
		WithRetryWait(time.Millisecond, 2*time.Millisecond),
	}
	c, err := NewClient(testToken, append(base, opts...)...)
	require.NoError(t, err)
	return c, mt
}

// handle registers a responder for method and path (relative to the base
// URL, without query) that hands the request to check and answers status
// with body and the standard response headers.
func handle(mt *httpmock.MockTransport, method, path string, status int, body string, check func(r *http.Request)) {
	mt.RegisterResponder(method, testBaseURL+path, func(r *http.Request) (*http.Response, error) {
		if check != nil {
			check(r)
		}
		resp := httpmock.NewStringResponse(status, body)
		resp.Header.Set("Content-Type", "application/json")
		resp.Header.Set("X-Request-Id", "req_test_1")
		resp.Header.Set("X-RateLimit-Limit", "500")
		resp.Header.Set("X-RateLimit-Remaining", "499")
		resp.Header.Set("X-RateLimit-Reset", "1708272000")
		return resp, nil
	})
}

func testMethod(t *testing.T, r *http.Request, want string) {
	t.Helper()
	assert.Equal(t, want, r.Method, "method")
}

func testHeader(t *testing.T, r *http.Request, key, want string) {
	t.Helper()
	assert.Equal(t, want, r.Header.Get(key), "header %s", key)
}

// testStandardHeaders checks the headers every request carries.
func testStandardHeaders(t *testing.T, r *http.Request) {
	t.Helper()
	testHeader(t, r, "Authorization", "Bearer "+testToken)
	testHeader(t, r, "Accept", "application/json")
	testHeader(t, r, "X-Botonom-Retry-Count", "0")
	assert.Regexp(t, `^botonom-go/\d+\.\d+\.\d+ \(go[^;]+; [a-z0-9]+/[a-z0-9]+\)`, r.Header.Get("User-Agent"))
}

func testJSONBody(t *testing.T, r *http.Request, want string) {
	t.Helper()
	testHeader(t, r, "Content-Type", "application/json")
	got, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	assert.JSONEq(t, want, string(got), "request body")
}

func testNoBody(t *testing.T, r *http.Request) {
	t.Helper()
	if r.Body != nil {
		got, _ := io.ReadAll(r.Body)
		assert.Empty(t, got, "request body")
	}
	assert.Empty(t, r.Header.Get("Content-Type"), "Content-Type without a body")
}

var uuidV4 = `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestNewClient_RejectsBadInput(t *testing.T) {
	for name, tc := range map[string]struct {
		token string
		opt   Option
		want  string
	}{
		"empty token":          {"", nil, "empty API token"},
		"blank token":          {"  \t", nil, "empty API token"},
		"token with newline":   {"btm_sk_a\nb", nil, "white space"},
		"base URL ::":          {testToken, WithBaseURL("::"), "WithBaseURL"},
		"relative base URL":    {testToken, WithBaseURL("/v1/"), "not an absolute"},
		"base URL with query":  {testToken, WithBaseURL("https://x/v1?a=b"), "query"},
		"nil HTTP client":      {testToken, WithHTTPClient(nil), "nil *http.Client"},
		"nil logger":           {testToken, WithLogger(nil), "nil *slog.Logger"},
		"zero timeout":         {testToken, WithTimeout(0), "not positive"},
		"negative retries":     {testToken, WithMaxRetries(-1), "negative"},
		"retry wait min > max": {testToken, WithRetryWait(time.Second, time.Millisecond), "min <= max"},
		"zero max retry wait":  {testToken, WithMaxRetryWait(0), "not positive"},
		"zero response size":   {testToken, WithMaxResponseSize(0), "not positive"},
		"nil limiter":          {testToken, WithLimiter(nil), "nil Limiter"},
		"blank user agent":     {testToken, WithUserAgent(" "), "product token"},
		"user agent with CRLF": {testToken, WithUserAgent("a\r\nX-Evil: 1"), "product token"},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := NewClient(tc.token, tc.opt)
			require.Error(t, err)
			assert.Nil(t, c)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestNewClient_Defaults(t *testing.T) {
	c, err := NewClient(testToken)
	require.NoError(t, err)
	assert.Equal(t, DefaultBaseURL, c.BaseURL())
	assert.Equal(t, DefaultMaxRetries, c.cfg.maxRetries)
	assert.Equal(t, DefaultMaxRetryWait, c.cfg.maxRetryWait)
	assert.Nil(t, c.hc.Logger, "retryablehttp must not log to stderr")
	assert.NotNil(t, c.hc.ErrorHandler, "retryablehttp's giving-up error must not replace the typed error")
	assert.Same(t, c.Agents, (*AgentsService)(&c.common))
	assert.Same(t, c.common.client, c)
}

func TestWithBaseURL_AddsTrailingSlash(t *testing.T) {
	c, err := NewClient(testToken, WithBaseURL("http://localhost:1234/v1"))
	require.NoError(t, err)
	assert.Equal(t, "http://localhost:1234/v1/", c.BaseURL())
}

func TestWithBaseURL_HostAloneMeansV1(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:12111":         "http://127.0.0.1:12111/v1/",
		"http://127.0.0.1:12111/":        "http://127.0.0.1:12111/v1/",
		"https://api.botonom.com":        "https://api.botonom.com/v1/",
		"http://127.0.0.1:12111/v1":      "http://127.0.0.1:12111/v1/",
		"http://proxy.internal/botonom/": "http://proxy.internal/botonom/",
		"http://proxy.internal/v2":       "http://proxy.internal/v2/",
	} {
		c, err := NewClient(testToken, WithBaseURL(in))
		require.NoError(t, err, in)
		assert.Equal(t, want, c.BaseURL(), in)
	}
}

func TestWithBaseURL_HostAloneReachesTheV1Paths(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.Path)
		if r.URL.Path != "/v1/agents/agt_abc123" {
			http.Error(w, `{"error":{"type":"not_found_error","code":"unknown_path"}}`, http.StatusNotFound)
			return
		}
		fmt.Fprint(w, `{"id":"agt_abc123","name":"Reservations"}`)
	}))
	defer srv.Close()
	c, err := NewClient(testToken, WithBaseURL(srv.URL), WithMaxRetries(0))
	require.NoError(t, err)
	agent, _, err := c.Agents.Get(context.Background(), "agt_abc123")
	require.NoError(t, err)
	assert.Equal(t, "Reservations", agent.Name)
	assert.Equal(t, []string{"/v1/agents/agt_abc123"}, got)
}

func TestNewClient_EmptyTokenIsAnInvalidArgument(t *testing.T) {
	for _, token := range []string{"", "  \t", "btm_sk_a b"} {
		c, err := NewClient(token)
		assert.Nil(t, c)
		assert.ErrorIs(t, err, ErrInvalidArgument, "%q", token)
	}
}

func TestNewClientFromEnv_WithoutTokenSaysHowToGetOne(t *testing.T) {
	t.Setenv("BOTONOM_API_TOKEN", "")
	for _, unset := range []bool{false, true} {
		if unset {
			require.NoError(t, os.Unsetenv("BOTONOM_API_TOKEN"))
		}
		c, err := NewClientFromEnv()
		assert.Nil(t, c)
		assert.ErrorIs(t, err, ErrInvalidArgument)
		assert.EqualError(t, err, `botonom: NewClientFromEnv: BOTONOM_API_TOKEN is not set (for a local fake API, run "botonom mock" and paste the export line it prints)`)
	}
}

func TestNewClientFromEnv(t *testing.T) {
	t.Setenv("BOTONOM_API_TOKEN", testToken)
	t.Setenv("BOTONOM_BASE_URL", "http://127.0.0.1:9/v1")
	c, err := NewClientFromEnv()
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:9/v1/", c.BaseURL())

	c, err = NewClientFromEnv(WithBaseURL("http://override/v2/"))
	require.NoError(t, err)
	assert.Equal(t, "http://override/v2/", c.BaseURL(), "an explicit option wins over the environment")

	t.Setenv("BOTONOM_API_TOKEN", "")
	_, err = NewClientFromEnv()
	assert.ErrorContains(t, err, "BOTONOM_API_TOKEN")
}

func TestClient_PrintingNeverShowsToken(t *testing.T) {
	c, _ := setup(t)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(verb, c)
		assert.NotContains(t, out, testToken, verb)
		out = fmt.Sprintf(verb, *c)
		assert.NotContains(t, out, testToken, verb+" of the value")
	}
	assert.Contains(t, c.String(), "redacted")
}

func TestClient_ErrorsAndLogsNeverShowToken(t *testing.T) {
	var logs bytes.Buffer
	c, mt := setup(t, WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	handle(mt, "GET", "agents/agt_1", 401, `{"error":{"type":"authentication_error","message":"invalid token"}}`, nil)
	_, _, err := c.Agents.Get(context.Background(), "agt_1")
	require.Error(t, err)
	// A transport error too.
	mt.RegisterNoResponder(httpmock.NewErrorResponder(errors.New("connection refused")))
	_, _, err2 := c.Agents.Get(context.Background(), "agt_2")
	require.Error(t, err2)
	for _, s := range []string{err.Error(), err2.Error(), fmt.Sprintf("%+v %#v", err, err), logs.String()} {
		assert.NotContains(t, s, testToken)
		assert.NotContains(t, s, "Bearer")
	}
	assert.Contains(t, logs.String(), "agents/agt_1", "the logger saw the requests")
}

func TestNewRequest(t *testing.T) {
	c, _ := setup(t, WithUserAgent("billing/2.3"))
	req, err := c.NewRequest(context.Background(), "POST", "agents/agt_1/message", map[string]string{"content": "hi"})
	require.NoError(t, err)
	assert.Equal(t, testBaseURL+"agents/agt_1/message", req.URL.String())
	testHeader(t, req, "Authorization", "Bearer "+testToken)
	assert.True(t, strings.HasSuffix(req.Header.Get("User-Agent"), " billing/2.3"))
	assert.Regexp(t, uuidV4, req.Header.Get("Idempotency-Key"))
	testJSONBody(t, req, `{"content":"hi"}`)

	_, err = c.NewRequest(context.Background(), "GET", "/agents", nil)
	assert.ErrorContains(t, err, "relative to the base URL")

	_, err = c.NewRequest(context.Background(), "POST", "x", func() {})
	assert.ErrorContains(t, err, "encode request body")

	//lint:ignore SA1012 testing the nil-context guard
	_, err = c.NewRequest(nil, "GET", "x", nil) //nolint:staticcheck
	assert.Error(t, err)

	req, err = c.NewRequest(context.Background(), "GET", "agents", nil)
	require.NoError(t, err)
	assert.Empty(t, req.Header.Get("Idempotency-Key"), "only POST carries a key")
}

func TestDo_NilRequest(t *testing.T) {
	c, _ := setup(t)
	_, err := c.Do(nil, nil)
	assert.ErrorContains(t, err, "nil request")
}

func TestDo_DecodesIntoValueAndFillsResponse(t *testing.T) {
	c, mt := setup(t)
	handle(mt, "GET", "custom/thing", 200, `{"a":1}`, nil)
	req, err := c.NewRequest(context.Background(), "GET", "custom/thing", nil)
	require.NoError(t, err)
	var v struct{ A int }
	resp, err := c.Do(req, &v)
	require.NoError(t, err)
	assert.Equal(t, 1, v.A)
	assert.Equal(t, "req_test_1", resp.RequestID)
	assert.Equal(t, Rate{Limit: 500, Remaining: 499, Reset: time.Unix(1708272000, 0).UTC()}, resp.Rate)
	assert.Equal(t, resp.Rate, c.Rate(), "the client remembers the last rate")
}

func TestDo_SuccessBodyOverCapIsAnError(t *testing.T) {
	c, mt := setup(t, WithMaxResponseSize(64))
	handle(mt, "GET", "agents/agt_1", 200, `{"id":"agt_1","description":"`+strings.Repeat("x", 100)+`"}`, nil)
	_, _, err := c.Agents.Get(context.Background(), "agt_1")
	require.Error(t, err)
	assert.ErrorContains(t, err, "exceeds the size limit")
	assert.ErrorIs(t, err, ErrResponseTooLarge)
	assert.ErrorContains(t, err, "req_test_1")
}

func TestDo_MalformedSuccessBody(t *testing.T) {
	for name, body := range map[string]string{
		"html":        `<html>502 Bad Gateway</html>`,
		"truncated":   `{"id":"agt_1","na`,
		"empty":       ``,
		"wrong types": `{"id":42}`,
	} {
		t.Run(name, func(t *testing.T) {
			c, mt := setup(t)
			handle(mt, "GET", "agents/agt_1", 200, body, nil)
			agent, resp, err := c.Agents.Get(context.Background(), "agt_1")
			require.Error(t, err)
			assert.Nil(t, agent)
			require.NotNil(t, resp)
			assert.ErrorContains(t, err, "decode response")
			if name == "wrong types" {
				assert.ErrorContains(t, err, "Agent.id")
			}
		})
	}
}

func TestDo_UnknownFieldsAreIgnored(t *testing.T) {
	c, mt := setup(t)
	handle(mt, "GET", "agents/agt_1", 200, `{"id":"agt_1","brand_new_field":{"x":[1,2]}}`, nil)
	agent, _, err := c.Agents.Get(context.Background(), "agt_1")
	require.NoError(t, err)
	assert.Equal(t, "agt_1", agent.ID)
}

func TestDo_ContextCanceledBeforeSend(t *testing.T) {
	c, mt := setup(t)
	handle(mt, "GET", "agents/agt_1", 200, `{}`, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := c.Agents.Get(ctx, "agt_1")
	assert.ErrorIs(t, err, context.Canceled)
}

func TestResponse_JSONRoundTripOfModels(t *testing.T) {
	// The models encode with the API's field names (used by botonomtest).
	b, err := json.Marshal(&Agent{ID: "agt_1", Status: AgentStatusOnline, Skills: []string{}})
	require.NoError(t, err)
	assert.Contains(t, string(b), `"status":"online"`)
	assert.Contains(t, string(b), `"created_at"`)
}

func TestWithBaseURL_KeepsAnEscapedPathAndAddsTheSlash(t *testing.T) {
	c, err := NewClient(testToken, WithBaseURL("https://proxy.test/bo%2Fnom/v1"))
	require.NoError(t, err)
	assert.Equal(t, "https://proxy.test/bo%2Fnom/v1/", c.BaseURL())
	c, err = NewClient(testToken, WithBaseURL("https://proxy.test/botonom/v1"))
	require.NoError(t, err)
	assert.Equal(t, "https://proxy.test/botonom/v1/", c.BaseURL())
}

func TestWithBaseURL_NoErrorShowsThePassword(t *testing.T) {
	for raw, want := range map[string]string{
		"ftp://me:hunter2@api.test/v1/":        `WithBaseURL: "ftp://me:xxxxx@api.test/v1/" is not an absolute http(s) URL`,
		"https://me:hunter2@api.test:port/v1/": `WithBaseURL: "https://me:xxxxx@api.test:port/v1/": invalid port ":port" after host`,
		"https://me:hunter2@api.test/v1/?a=b":  `WithBaseURL: "https://me:xxxxx@api.test/v1/?a=b" must not have a query or fragment`,
		"https://me:hunter2@api.test/v1/":      `WithBaseURL: "https://me:xxxxx@api.test/v1/": a user or password in the URL is not supported`,
		"https://me:hunt@er2@api.test/v1/":     `WithBaseURL: "https://me:xxxxx@api.test/v1/": a user or password in the URL is not supported`,
		"me:hunter2@api.test:443/v1/":          `WithBaseURL: "me:xxxxx@api.test:443/v1/" is not an absolute http(s) URL: it has no scheme`,
		"https://me:hunter2@api.test:8%zz/v1/": `WithBaseURL: "https://me:xxxxx@api.test:8%zz/v1/": `,
	} {
		_, err := NewClient(testToken, WithBaseURL(raw))
		require.ErrorIs(t, err, ErrInvalidArgument, raw)
		assert.ErrorContains(t, err, want, raw)
		assert.NotContains(t, err.Error(), "hunter2", raw)
		assert.NotContains(t, err.Error(), "er2", raw)
	}
}

func TestWithBaseURL_WithoutSchemeSaysToAddOne(t *testing.T) {
	for _, raw := range []string{"127.0.0.1:12111", "localhost:12111", "api.botonom.com/v1/", "//api.botonom.com/v1/"} {
		_, err := NewClient(testToken, WithBaseURL(raw))
		require.ErrorIs(t, err, ErrInvalidArgument, raw)
		assert.EqualError(t, err, fmt.Sprintf("botonom: NewClient: WithBaseURL: %q is not an absolute http(s) URL: it has no scheme; add http:// or https:// in front", raw))
	}
}

func TestWithBaseURL_RefusesAUserOrPasswordAndNeverShowsIt(t *testing.T) {
	_, err := NewClient(testToken, WithBaseURL("https://me:hunter2@api.test/v1/"))
	assert.ErrorIs(t, err, ErrInvalidArgument)
	assert.ErrorContains(t, err, "user or password")
	assert.NotContains(t, err.Error(), "hunter2")
}
