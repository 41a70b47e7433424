package botonom_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/botonomtest"
)

// maskedToken is botonomtest.Token as the debug view shows it.
const maskedToken = "Bearer btm_sk_…test"

// curlAuthorization is the curl line's Authorization: the token from the
// environment.
const curlAuthorization = `"Authorization: Bearer $BOTONOM_API_TOKEN"`

// has fails t unless out contains s, without printing all of out.
func has(t *testing.T, out, s string, msgAndArgs ...any) {
	t.Helper()
	if !strings.Contains(out, s) {
		assert.Fail(t, fmt.Sprintf("the output (%d bytes) does not contain %q", len(out), s), msgAndArgs...)
	}
}

// hasNot fails t if out contains s, without printing all of out.
func hasNot(t *testing.T, out, s string, msgAndArgs ...any) {
	t.Helper()
	if i := strings.Index(out, s); i >= 0 {
		assert.Fail(t, fmt.Sprintf("the output shows %q at %d: …%s…", s, i, out[max(0, i-80):min(len(out), i+len(s)+40)]), msgAndArgs...)
	}
}

// matches fails t unless out matches re, without printing all of out.
func matches(t *testing.T, out, re string) {
	t.Helper()
	if !regexp.MustCompile(re).MatchString(out) {
		assert.Fail(t, fmt.Sprintf("the output (%d bytes) does not match %s", len(out), re))
	}
}

// assertNothingSecret fails unless out shows none of secrets, and shows
// the token masked.
func assertNothingSecret(t *testing.T, out string, secrets ...string) {
	t.Helper()
	for _, s := range append(secrets, botonomtest.Token, strings.TrimPrefix(botonomtest.Token, "btm_sk_")) {
		hasNot(t, out, s)
	}
	has(t, out, "Authorization: "+maskedToken)
}

func TestWithDebug_EveryEndpointShowsNoSecret(t *testing.T) {
	const whsec = "whsec_0123456789abcdef_never_shown"
	const plainSecret = "plain-secret-without-prefix-never-shown"
	srv := botonomtest.NewServer(t)
	var out bytes.Buffer
	c := srv.Client(botonom.WithDebug(&out))
	ctx := context.Background()
	agent := botonomtest.SampleAgentID

	calls := map[string]func() error{
		"agents.list": func() error { _, _, err := c.Agents.List(ctx, nil); return err },
		"agents.list_all": func() error {
			for _, err := range c.Agents.ListAll(ctx, &botonom.ListAgentsOptions{ListOptions: botonom.ListOptions{Limit: 1}}) {
				if err != nil {
					return err
				}
			}
			return nil
		},
		"agents.get": func() error { _, _, err := c.Agents.Get(ctx, agent); return err },
		"agents.send_message": func() error {
			_, _, err := c.Agents.SendMessage(ctx, agent, &botonom.SendMessageRequest{Content: "my secret is " + whsec})
			return err
		},
		"agents.list_tasks": func() error { _, _, err := c.Agents.ListTasks(ctx, agent, nil); return err },
		"agents.list_all_tasks": func() error {
			for _, err := range c.Agents.ListAllTasks(ctx, agent, nil) {
				if err != nil {
					return err
				}
			}
			return nil
		},
		"agents.update_skills": func() error {
			_, _, err := c.Agents.UpdateSkills(ctx, agent, &botonom.UpdateSkillsRequest{Install: []string{"weather"}})
			return err
		},
		"webhooks.register": func() error {
			for _, secret := range []string{whsec, plainSecret} {
				_, _, err := c.Webhooks.Register(ctx, &botonom.RegisterWebhookRequest{
					URL: "https://example.com/hook", Events: []botonom.EventType{botonom.EventTaskCompleted}, Secret: secret})
				if err != nil {
					return err
				}
			}
			return nil
		},
		"analytics.usage": func() error { _, _, err := c.Analytics.Usage(ctx, nil); return err },
		"do": func() error {
			req, err := c.NewRequest(ctx, http.MethodGet, "agents/"+agent, nil)
			if err != nil {
				return err
			}
			_, err = c.Do(req, new(botonom.Agent))
			return err
		},
	}
	for name, call := range calls {
		require.NoError(t, call(), name)
		op := map[string]string{"agents.list_all": "agents.list", "agents.list_all_tasks": "agents.list_tasks"}[name]
		if op == "" {
			op = name
		}
		has(t, out.String(), "botonom: debug "+op+" attempt 0\n", name)
	}

	got := out.String()
	assertNothingSecret(t, got, whsec, plainSecret)
	has(t, got, `"secret":"whsec_…"`)
	has(t, got, `"secret":"…"`)
	has(t, got, "my secret is whsec_…")
	has(t, got, "curl -X POST '"+srv.URL()+"webhooks' -H 'Accept: application/json' -H "+curlAuthorization)
	has(t, got, "< 200 OK\n")
	has(t, got, "< 201 Created\n")
	has(t, got, `"name":"Reservations"`, "the answer's body")

	// What was read to be shown was put back: the API got the secrets whole.
	var secrets []string
	for _, wh := range srv.Webhooks() {
		secrets = append(secrets, wh.Secret)
	}
	assert.Equal(t, []string{whsec, plainSecret}, secrets)
	msgs := srv.Messages()
	assert.Equal(t, "my secret is "+whsec, msgs[len(msgs)-1].Content)
}

// A secret straddling the bound is masked whole; the bodies, request and
// answer, reach their reader whole.
func TestWithDebug_BodiesOverTheBound(t *testing.T) {
	const whsec = "whsec_straddles_the_bound_0123456789abcdef"
	for _, at := range []int{botonom.DefaultDebugBodyBytes - 20, botonom.DefaultDebugBodyBytes - 3, botonom.DefaultDebugBodyBytes + 10} {
		t.Run(fmt.Sprint(at), func(t *testing.T) {
			// The answer echoes the request's secret and the token at the
			// same offset, and ends in a 20 KiB tail.
			var got []byte
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got, _ = io.ReadAll(r.Body)
				var in struct{ Secret string }
				_ = json.Unmarshal(got, &in)
				w.Header().Set("Content-Type", "application/json")
				pad := strings.Repeat("a", at-len(`{"url":"`))
				fmt.Fprintf(w, `{"url":"%s","secret":"%s","token":"%s","tail":"%s"}`, pad, in.Secret, botonomtest.Token, strings.Repeat("z", 20<<10))
			}))
			t.Cleanup(api.Close)
			var out bytes.Buffer
			c, err := botonom.NewClient(botonomtest.Token, botonom.WithBaseURL(api.URL), botonom.WithDebug(&out))
			require.NoError(t, err)

			// The request: its secret starts at offset at.
			url := "https://example.com/" + strings.Repeat("u", at-len(`{"url":"https://example.com/","events":["agent.task.completed"],"secret":"`))
			req, err := c.NewRequest(context.Background(), http.MethodPost, "webhooks", &botonom.RegisterWebhookRequest{
				URL: url, Events: []botonom.EventType{botonom.EventTaskCompleted}, Secret: whsec})
			require.NoError(t, err)
			var answer struct{ Secret, Token, Tail string }
			_, err = c.Do(req, &answer)
			require.NoError(t, err)

			require.Equal(t, at, bytes.Index(got, []byte(whsec)), "the set-up puts the secret at the offset")
			assert.Equal(t, whsec, answer.Secret, "the answer was read whole")
			assert.Len(t, answer.Tail, 20<<10)
			dump := out.String()
			assertNothingSecret(t, dump, whsec, whsec[:20], whsec[len(whsec)-10:])
			matches(t, dump, `> \(body cut short: 4096 of \d+ bytes shown\)`)
			matches(t, dump, `< \(body cut short: first 4096 bytes shown\)`)
			has(t, dump, "# body cut short: see above")
			hasNot(t, dump, strings.Repeat("z", 100), "the tail is past the bound")
		})
	}
}

func TestWithDebug_ErrorsShowNoSecret(t *testing.T) {
	srv := botonomtest.NewServer(t)
	var out bytes.Buffer
	c := srv.Client(botonom.WithDebug(&out))
	ctx := context.Background()

	srv.FailNext(1, http.StatusServiceUnavailable) // retried
	_, _, err := c.Agents.Get(ctx, botonomtest.SampleAgentID)
	require.NoError(t, err)
	_, _, err = c.Agents.Get(ctx, "agt_missing")
	require.ErrorIs(t, err, botonom.ErrNotFound)
	// On a new connection: net/http itself resends a request with an
	// Idempotency-Key on a reused connection closed before an answer (and
	// clients share their connections), so to a server of its own.
	fresh := botonomtest.NewServer(t)
	fresh.ResetConnectionNext(1)
	_, _, err = fresh.Client(botonom.WithDebug(&out), botonom.WithMaxRetries(0)).
		Agents.SendMessage(ctx, botonomtest.SampleAgentID, &botonom.SendMessageRequest{Content: "hi"})
	require.Error(t, err)

	got := out.String()
	assertNothingSecret(t, got)
	has(t, got, "botonom: debug agents.get attempt 0\n")
	has(t, got, "< 503 Service Unavailable\n")
	has(t, got, "botonom: debug agents.get attempt 1\n")
	has(t, got, "< 404 Not Found\n")
	has(t, got, `"type":"not_found_error"`)
	matches(t, got, `(?s)agents.send_message attempt 0\n.*\n< error: .*(EOF|reset)`)

	// A server that is not there.
	_, _, err = srv.Client(botonom.WithDebug(&out), botonom.WithBaseURL("http://127.0.0.1:1/v1/"), botonom.WithMaxRetries(0)).
		Agents.Get(ctx, botonomtest.SampleAgentID)
	require.Error(t, err)
	matches(t, out.String(), `< error: .*connection refused`)
	assertNothingSecret(t, out.String())
}

// A request whose body cannot be had again (no GetBody) is sent whole: the
// debug view gives back what it read.
func TestWithDebug_RequestBodyWithoutGetBody(t *testing.T) {
	const content = "hello, body without GetBody"
	srv := botonomtest.NewServer(t)
	var out bytes.Buffer
	c := srv.Client()
	req, err := c.NewRequest(context.Background(), http.MethodPost, "agents/"+botonomtest.SampleAgentID+"/message",
		&botonom.SendMessageRequest{Content: content})
	require.NoError(t, err)
	req.GetBody = nil
	_, err = c.Do(req, nil, botonom.WithDebug(&out), botonom.WithMaxRetries(0))
	require.NoError(t, err)
	msgs := srv.Messages()
	assert.Equal(t, content, msgs[len(msgs)-1].Content)
	has(t, out.String(), `{"content":"`+content+`"}`)
}

func TestWithDebugLogger(t *testing.T) {
	srv := botonomtest.NewServer(t)
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := srv.Client(botonom.WithDebugLogger(logger))
	_, _, err := c.Webhooks.Register(context.Background(), &botonom.RegisterWebhookRequest{
		URL: "https://example.com/hook", Events: []botonom.EventType{botonom.EventTaskCompleted}, Secret: "whsec_logged_never"})
	require.NoError(t, err)

	var rec map[string]any
	require.NoError(t, json.Unmarshal(logs.Bytes(), &rec))
	assert.Equal(t, "botonom: debug", rec["msg"])
	assert.Equal(t, "webhooks.register", rec["operation"])
	assert.Equal(t, "201 Created", rec["status"])
	assert.Equal(t, maskedToken, rec["request.headers"].(map[string]any)["Authorization"])
	assert.Contains(t, rec["request.body"], `"secret":"whsec_…"`)
	assert.Contains(t, rec["curl"], "curl -X POST")
	assert.NotContains(t, logs.String(), "whsec_logged_never")
	assert.NotContains(t, logs.String(), botonomtest.Token)
}

func TestWithDebug_NilIsRefused(t *testing.T) {
	for _, opt := range []botonom.Option{botonom.WithDebug(nil), botonom.WithDebugLogger(nil)} {
		_, err := botonom.NewClient(botonomtest.Token, opt)
		assert.ErrorIs(t, err, botonom.ErrInvalidArgument)
	}
}

// Tokens that are not the client's, other headers that carry credentials,
// and odd JSON around a secret are masked too.
func TestWithDebug_MasksWhatLooksSecret(t *testing.T) {
	const other = "btm_sk_another_token_0123456789"
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "cookie-value-never-shown"})
		w.WriteHeader(http.StatusTeapot)
		fmt.Fprintf(w, `{"webhook_secret" : "a \"quoted\" value-never-shown","Secret":"also-never-shown","t":"%s"}`, other)
	}))
	t.Cleanup(api.Close)
	var out bytes.Buffer
	c, err := botonom.NewClient(botonomtest.Token, botonom.WithBaseURL(api.URL), botonom.WithDebug(&out),
		botonom.WithHeader("Cookie", "cookie-value-never-shown"), botonom.WithHeader("X-Other", other))
	require.NoError(t, err)
	_, _, err = c.Agents.Get(context.Background(), "agt_1")
	require.Error(t, err)

	got := out.String()
	assertNothingSecret(t, got, "never-shown", other)
	has(t, got, "> X-Other: btm_sk_…6789")
	has(t, got, "> Cookie: …")
	has(t, got, "< Set-Cookie: …")
	has(t, got, `{"webhook_secret" : "…","Secret":"…","t":"btm_sk_…6789"}`)
	has(t, got, "< 418 I'm a teapot")
	has(t, got, `-H 'Cookie: …'`)
}

// The curl line runs in a shell as shown: quotes in the body are escaped.
func TestWithDebug_CurlLineQuotes(t *testing.T) {
	srv := botonomtest.NewServer(t)
	var out bytes.Buffer
	c := srv.Client(botonom.WithDebug(&out))
	_, _, err := c.Agents.SendMessage(context.Background(), botonomtest.SampleAgentID,
		&botonom.SendMessageRequest{Content: "it's"}, botonom.WithIdempotencyKey("key-1"))
	require.NoError(t, err)
	curl := regexp.MustCompile(`(?m)^curl .*$`).FindString(out.String())
	assert.Equal(t, "curl -X POST '"+srv.URL()+"agents/agt_abc123/message' -H 'Accept: application/json' -H "+curlAuthorization+
		" -H 'Content-Type: application/json' -H 'Idempotency-Key: key-1' -H 'X-Botonom-Retry-Count: 0' --data-raw '{\"content\":\"it'\\''s\"}'", curl)
}

// The curl line runs as shown, in a shell with BOTONOM_API_TOKEN set: it
// sends the request again, token, key and body included.
func TestWithDebug_CurlLineRunsAsIs(t *testing.T) {
	curlPath, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("no curl")
	}
	type seen struct{ method, path, auth, key, body string }
	var mu sync.Mutex
	var got []seen
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, seen{r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Idempotency-Key"), string(body)})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"id":"msg_1","status":"queued","agent_id":"agt_1","created_at":"2026-02-18T14:30:00Z"}`)
	}))
	t.Cleanup(api.Close)
	var out bytes.Buffer
	c, err := botonom.NewClient(botonomtest.Token, botonom.WithBaseURL(api.URL), botonom.WithDebug(&out))
	require.NoError(t, err)
	_, _, err = c.Agents.SendMessage(context.Background(), "agt_1", &botonom.SendMessageRequest{Content: `it's "$HOME" \ ok`})
	require.NoError(t, err)
	line := regexp.MustCompile(`(?m)^curl .*$`).FindString(out.String())
	require.NotEmpty(t, line)
	cmd := exec.Command("sh", "-c", line+" -s -o /dev/null")
	cmd.Env = append(os.Environ(), "BOTONOM_API_TOKEN="+botonomtest.Token, "PATH="+filepath.Dir(curlPath))
	res, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s\n%s", line, res)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 2)
	assert.Equal(t, got[0], got[1], "the curl line sends the request again")
	assert.Equal(t, "Bearer "+botonomtest.Token, got[1].auth)
}

// BenchmarkWithDebug is the price of the debug view on SendMessage: "off"
// is the client without it (the same code path as BenchmarkSendMessage),
// "on" writes every attempt to io.Discard.
func BenchmarkWithDebug(b *testing.B) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"id":"msg_1","status":"delivered","agent_id":"agt_1","created_at":"2026-02-18T14:30:00Z"}`)
	}))
	b.Cleanup(api.Close)
	for name, opts := range map[string][]botonom.Option{"off": nil, "on": {botonom.WithDebug(io.Discard)}} {
		b.Run(name, func(b *testing.B) {
			c, err := botonom.NewClient(botonomtest.Token, append([]botonom.Option{botonom.WithBaseURL(api.URL)}, opts...)...)
			require.NoError(b, err)
			req := &botonom.SendMessageRequest{Content: "Book a table for 4 at 7pm tomorrow"}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, _, err := c.Agents.SendMessage(context.Background(), "agt_1", req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// roundTripFunc is an http.RoundTripper from a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func ExampleWithDebug() {
	// A stand-in for the API, so that the output does not change.
	api := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{
			StatusCode: 201, Status: "201 Created", Request: r,
			Header: http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"req_1"}},
			Body:   io.NopCloser(strings.NewReader(`{"id":"wh_1","url":"https://example.com/hook","events":["agent.task.completed"]}`)),
		}, nil
	})
	var debug strings.Builder
	client, err := botonom.NewClient("btm_sk_live_0123456789abcdef",
		botonom.WithHTTPClient(&http.Client{Transport: api}),
		botonom.WithDebug(&debug))
	if err != nil {
		panic(err)
	}
	_, _, err = client.Webhooks.Register(context.Background(), &botonom.RegisterWebhookRequest{
		URL:    "https://example.com/hook",
		Events: []botonom.EventType{botonom.EventTaskCompleted},
		Secret: "whsec_your_secret_here",
	}, botonom.WithIdempotencyKey("register-hook-1"))
	if err != nil {
		panic(err)
	}
	for _, line := range strings.Split(debug.String(), "\n") {
		if !strings.HasPrefix(line, "> User-Agent:") { // it names the Go version
			fmt.Println(line)
		}
	}
	// Output:
	// botonom: debug webhooks.register attempt 0
	// > POST https://api.botonom.com/v1/webhooks
	// > Accept: application/json
	// > Authorization: Bearer btm_sk_…cdef
	// > Content-Type: application/json
	// > Idempotency-Key: register-hook-1
	// > X-Botonom-Retry-Count: 0
	// >
	// {"url":"https://example.com/hook","events":["agent.task.completed"],"secret":"whsec_…"}
	// curl -X POST 'https://api.botonom.com/v1/webhooks' -H 'Accept: application/json' -H "Authorization: Bearer $BOTONOM_API_TOKEN" -H 'Content-Type: application/json' -H 'Idempotency-Key: register-hook-1' -H 'X-Botonom-Retry-Count: 0' --data-raw '{"url":"https://example.com/hook","events":["agent.task.completed"],"secret":"whsec_…"}'
	// < 201 Created
	// < Content-Type: application/json
	// < X-Request-Id: req_1
	// <
	// {"id":"wh_1","url":"https://example.com/hook","events":["agent.task.completed"]}
}

// The body the debug view gives back reads as the one it read would have:
// an answer cut short by the server (fewer bytes than its Content-Length)
// still ends in io.ErrUnexpectedEOF, not in a clean end.
func TestWithDebug_AnswerCutShortStaysCutShort(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"id\":\"agt_1\"}")
		_ = buf.Flush()
	}))
	t.Cleanup(api.Close)
	var readErr error
	var body []byte
	observe := botonom.WithMiddleware(func(req *http.Request, next botonom.MiddlewareNext) (*http.Response, error) {
		resp, err := next(req)
		if err == nil {
			body, readErr = io.ReadAll(resp.Body)
			resp.Body = io.NopCloser(bytes.NewReader(body))
		}
		return resp, err
	})
	var out bytes.Buffer
	c, err := botonom.NewClient(botonomtest.Token, botonom.WithBaseURL(api.URL), botonom.WithMaxRetries(0),
		observe, botonom.WithDebug(&out))
	require.NoError(t, err)
	_, _, _ = c.Agents.Get(context.Background(), "agt_1")

	assert.Equal(t, `{"id":"agt_1"}`, string(body))
	assert.ErrorIs(t, readErr, io.ErrUnexpectedEOF)
	has(t, out.String(), `{"id":"agt_1"}`)
}

// The client's own token is masked wherever it shows, even when it does
// not look like an API token ("btm_sk_…").
func TestWithDebug_MasksTheClientsOwnToken(t *testing.T) {
	const token = "plain-token-0123456789abcdef"
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Echo", r.Header.Get("Authorization"))
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"error":{"type":"authentication_error","message":"unknown token %s"}}`, token)
	}))
	t.Cleanup(api.Close)
	var out bytes.Buffer
	c, err := botonom.NewClient(token, botonom.WithBaseURL(api.URL), botonom.WithDebug(&out))
	require.NoError(t, err)
	_, _, err = c.Agents.Get(context.Background(), "agt_1")
	require.ErrorIs(t, err, botonom.ErrUnauthorized)

	got := out.String()
	hasNot(t, got, token)
	hasNot(t, got, "0123456789")
	has(t, got, "> Authorization: Bearer …cdef")
	has(t, got, "< X-Echo: Bearer …cdef")
	has(t, got, "unknown token …cdef")
}

// A token without the "btm_sk_" prefix, echoed many times in an answer:
// whatever the offset of its copies, the debug view shows no 8 characters
// in a row of it (a copy cut short by what is read of the body included).
func TestWithDebug_NoRunOfTheTokenInABodyOfCopies(t *testing.T) {
	const token = "Zx9qT_4rLm-8KpWvB2nYc6DsFh0JgUe3ViXoA7MbNtQ1"
	var shift atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		_, _ = io.WriteString(w, strings.Repeat(".", int(shift.Add(1)))+strings.Repeat(token+",", 300))
	}))
	t.Cleanup(api.Close)
	var out bytes.Buffer
	c, err := botonom.NewClient(token, botonom.WithBaseURL(api.URL), botonom.WithDebug(&out), botonom.WithMaxRetries(0))
	require.NoError(t, err)
	for range len(token) + 1 {
		_, _, err = c.Agents.Get(context.Background(), "agt_1")
		require.Error(t, err)
	}
	got := out.String()
	has(t, got, "…NtQ1,…NtQ1,")
	for i := 0; i+8 <= len(token); i++ {
		hasNot(t, got, token[i:i+8])
	}
}

// A body cut at the bound is cut before a character, never inside one.
func TestWithDebug_BodyCutOnACharacter(t *testing.T) {
	body := strings.Repeat("a", botonom.DefaultDebugBodyBytes-1) + "é" + strings.Repeat("b", 500)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(api.Close)
	var out bytes.Buffer
	c, err := botonom.NewClient(botonomtest.Token, botonom.WithBaseURL(api.URL), botonom.WithDebug(&out))
	require.NoError(t, err)
	_, _, err = c.Agents.Get(context.Background(), "agt_1")
	require.Error(t, err)

	got := out.String()
	assert.True(t, utf8.ValidString(got), "the output is valid UTF-8")
	has(t, got, "\n"+strings.Repeat("a", botonom.DefaultDebugBodyBytes-1)+"\n< (body cut short: ")
	has(t, got, fmt.Sprintf("of %d bytes shown)", len(body)))
}
