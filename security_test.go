package botonom

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// secretLog is a logger that keeps every record, Debug included, with
// all its attributes, in text and JSON.
func secretLog() (*slog.Logger, func() string) {
	buf := new(lockedBuffer)
	opts := &slog.HandlerOptions{Level: slog.LevelDebug, AddSource: true}
	text, js := slog.NewTextHandler(buf, opts), slog.NewJSONHandler(buf, opts)
	return slog.New(teeHandler{text, js}), buf.String
}

type teeHandler []slog.Handler

func (t teeHandler) Enabled(context.Context, slog.Level) bool { return true }
func (t teeHandler) Handle(ctx context.Context, r slog.Record) error {
	for _, h := range t {
		_ = h.Handle(ctx, r.Clone())
	}
	return nil
}
func (t teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := make(teeHandler, len(t))
	for i, h := range t {
		out[i] = h.WithAttrs(as)
	}
	return out
}
func (t teeHandler) WithGroup(name string) slog.Handler {
	out := make(teeHandler, len(t))
	for i, h := range t {
		out[i] = h.WithGroup(name)
	}
	return out
}

// assertNoSecret fails if secret, bare or hex-encoded, is in any of texts.
func assertNoSecret(t *testing.T, secret string, texts map[string]string) {
	t.Helper()
	for what, s := range texts {
		for _, form := range []string{secret, hex.EncodeToString([]byte(secret))} {
			if strings.Contains(s, form) {
				t.Errorf("%s shows the secret: %s", what, s)
			}
		}
	}
}

// printed formats v with every verb a log line or an error message might.
func printed(name string, v any, into map[string]string) {
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%T %d"} {
		into[name+" "+verb] = fmt.Sprintf(verb, v)
	}
}

// The token never appears in an error, a log record (any level), a
// recovered panic, or any print of an exported value, whatever the answer:
// 401, 404, 429, 500 after retries, a reset connection, a timeout, a body
// that does not decode, one over the cap, a refusal before sending.
func TestSecrets_TokenNeverShows(t *testing.T) {
	srv := newAttemptServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("X-Request-Id", "req_sec")
		switch r.URL.Path {
		case "/v1/agents/a401":
			writeStatus(w, 401)
		case "/v1/agents/a404":
			writeStatus(w, 404)
		case "/v1/agents/a429":
			w.Header().Set("Retry-After", "0")
			writeStatus(w, 429)
		case "/v1/agents/a500":
			writeStatus(w, 500)
		case "/v1/agents/reset":
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				_ = conn.Close()
			}
		case "/v1/agents/slow":
			<-r.Context().Done()
		case "/v1/agents/html":
			_, _ = io.WriteString(w, "<html>proxy</html>")
		case "/v1/agents/big":
			_, _ = io.WriteString(w, `{"id":"agt_1","name":"`+strings.Repeat("a", 4096)+`"}`)
		case "/v1/agents/echo": // a gateway that quotes the request's token back
			auth := r.Header.Get("Authorization")
			w.Header().Set("X-Request-Id", "req_"+auth)
			w.WriteHeader(400)
			fmt.Fprintf(w, `{"error":{"type":"t %[1]s","code":"c %[1]s","message":"bad header: %[1]s","param":"p %[1]s"}}`, auth)
		case "/v1/agents/echo-ok":
			w.Header().Set("X-Request-Id", "req_"+r.Header.Get("Authorization"))
			_, _ = io.WriteString(w, `{"id":"agt_1"}`)
		case "/v1/agents/echo-html": // a 200 that does not decode
			w.Header().Set("X-Request-Id", "req_"+r.Header.Get("Authorization"))
			_, _ = io.WriteString(w, "<html>proxy</html>")
		case "/v1/agents/spent":
			w.Header().Set("X-RateLimit-Limit", "10")
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset", fmt.Sprint(time.Now().Add(time.Hour).Unix()))
			_, _ = io.WriteString(w, `{"id":"agt_1"}`)
		default:
			writeStatus(w, 200)
		}
	})
	logger, logs := secretLog()
	c := srv.client(t, WithLogger(logger), WithMaxRetries(1), WithTimeout(50*time.Millisecond), WithMaxResponseSize(1024))
	// A client for another token, made from c: the same, of its own
	// token and of c's.
	derived, err := c.WithToken(otherToken, WithLogger(logger))
	require.NoError(t, err)
	texts := map[string]string{}
	ctx := context.Background()
	var resp *Response
	for _, client := range []*Client{c, derived} {
		for _, id := range []string{"a401", "a404", "a429", "a500", "reset", "slow", "html", "big", "echo", "echo-ok", "echo-html", "spent", "after-spent"} {
			var err error
			var agent *Agent
			agent, resp, err = client.Agents.Get(ctx, id)
			id += " " + client.cfg.authorization()[len("Bearer btm_sk_"):][:6]
			if strings.HasPrefix(id, "spent") || strings.HasPrefix(id, "echo-ok") { // a 200 (that spends the limit for an hour)
				require.NoError(t, err)
				printed("Agent "+id, agent, texts)
				printed("Response "+id, resp, texts)
				printed("Response value "+id, *resp, texts)
				continue
			}
			require.Error(t, err, id)
			texts["error "+id] = err.Error()
			printed("error "+id, err, texts)
			var apiErr *APIError
			if errors.As(err, &apiErr) {
				printed("APIError value "+id, *apiErr, texts)
			}
			var rle *RateLimitError
			if errors.As(err, &rle) {
				printed("RateLimitError "+id, rle, texts)
				printed("Rate "+id, rle.Rate, texts)
			}
			if resp != nil {
				printed("Response "+id, resp, texts)
				printed("Response value "+id, *resp, texts)
			}
		}
	}
	// A Response printed with a verb that is not for it (%s, %q) shows the
	// *http.Response it embeds: the answer's headers as the server sent
	// them, the echo included. %v, %+v, %#v do not.
	for what := range texts {
		if strings.HasPrefix(what, "Response") && strings.Contains(what, " echo") && (strings.HasSuffix(what, "%s") || strings.HasSuffix(what, "%q")) {
			delete(texts, what)
		}
	}
	assert.Contains(t, texts["error echo secret %v"], "bad header: Bearer btm_sk_", "the echo is kept, masked")
	printed("derived Client", derived, texts)
	printed("derived Client value", *derived, texts)
	printed("derived AgentsService value", *derived.Agents, texts)
	_, _, err = c.Agents.SendMessage(ctx, "a500", &SendMessageRequest{Content: "hi"})
	require.Error(t, err)
	texts["error send"] = err.Error()

	// Options that refuse their argument; misuse that panics.
	for _, opt := range []Option{WithBaseURL("::"), WithTimeout(-1), WithUserAgent("\n"), WithRetryWait(0, 0)} {
		_, err := NewClient(testToken, opt)
		require.Error(t, err)
		texts["NewClient error"] += err.Error()
	}
	_, err = NewClient(testToken + " x")
	texts["NewClient white space"] = err.Error()
	for i, misuse := range []func(){
		func() { _, _ = c.Do(&http.Request{Header: http.Header{"Authorization": {"Bearer " + testToken}}}, nil) },
		func() { var nilClient *Client; _, _, _ = nilClient.Agents.Get(ctx, "x") },
	} {
		func() {
			defer func() { texts[fmt.Sprint("panic ", i)] = fmt.Sprint(recover()) }()
			misuse()
		}()
	}

	printed("Client", c, texts)
	printed("Client value", *c, texts)
	printed("AgentsService", c.Agents, texts)
	printed("AgentsService value", *c.Agents, texts)
	printed("WebhooksService", *c.Webhooks, texts)
	printed("AnalyticsService", *c.Analytics, texts)
	printed("Rate", c.Rate(), texts)
	printed("options", []any{ListAgentsOptions{}, ListTasksOptions{}, UsageOptions{}, SendMessageRequest{}, UpdateSkillsRequest{}, RegisterWebhookRequest{}}, texts)
	texts["logs"] = logs()
	assertNoSecret(t, testToken, texts)
	assertNoSecret(t, otherToken, texts)
	assert.Contains(t, texts["logs"], "a500", "the logger saw the calls")
	assert.Contains(t, texts["logs"], "DEBUG", "Debug records were kept")
}

// The webhook secret never appears in an error of VerifySignature or
// ConstructEvent, nor in what WebhookHandler logs, whatever the delivery.
func TestSecrets_WebhookSecretNeverShows(t *testing.T) {
	const secret = "whsec_do_not_print_me_0123456789"
	at := time.Unix(1708272000, 0)
	clock := WithClock(func() time.Time { return at })
	body := []byte(`{"id":"evt_1","type":"agent.task.completed","data":{"id":"tsk_1"}}`)
	good := SignPayload(body, secret, at)
	texts := map[string]string{}
	for name, tc := range map[string]struct {
		payload []byte
		header  string
		opts    []VerifyOption
	}{
		"mismatch":        {body, SignPayload(body, "whsec_other", at), nil},
		"expired":         {body, SignPayload(body, secret, at.Add(-time.Hour)), nil},
		"future":          {body, SignPayload(body, secret, at.Add(time.Hour)), nil},
		"missing":         {body, "", nil},
		"malformed":       {body, "t=x,v1=" + secret, nil},
		"secret as v1":    {body, "t=1708272000,v1=" + hex.EncodeToString([]byte(secret))[:64], nil},
		"not an event":    {[]byte(secret), SignPayload([]byte(secret), secret, at), nil},
		"bad option":      {body, good, []VerifyOption{WithTolerance(-1)}},
		"contradiction":   {body, good, []VerifyOption{WithTolerance(time.Minute), WithoutTimestampCheck()}},
		"rotation, stale": {body, SignPayload(body, "whsec_old", at.Add(-time.Hour)), []VerifyOption{WithSecrets("whsec_old")}},
	} {
		opts := append([]VerifyOption{clock}, tc.opts...)
		if err := VerifySignature(tc.payload, tc.header, secret, opts...); err != nil {
			printed("VerifySignature "+name, err, texts)
		}
		ev, err := ConstructEvent(tc.payload, tc.header, secret, opts...)
		if err != nil {
			printed("ConstructEvent "+name, err, texts)
		} else {
			printed("Event "+name, ev, texts)
		}
	}

	logger, logs := secretLog()
	h := WebhookHandler(secret, func(context.Context, *Event) error { return errors.New("handler failed") },
		WithHandlerLogger(logger), WithClock(func() time.Time { return at }), WithHandlerMaxBodyBytes(1024))
	for _, req := range []*http.Request{
		webhookRequest(bytes.NewReader(body), body, "whsec_other", at),
		webhookRequest(bytes.NewReader(body), body, secret, at.Add(-time.Hour)),
		webhookRequest(bytes.NewReader(body), body, secret, at), // fn fails: 500
		webhookRequest(strings.NewReader(strings.Repeat("x", 2048)), nil, secret, at),
		httptest.NewRequest(http.MethodGet, "/", nil),
	} {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	bad := WebhookHandler(secret, nil, WithHandlerLogger(logger)) // misconfigured
	bad.ServeHTTP(httptest.NewRecorder(), webhookRequest(bytes.NewReader(body), body, secret, at))
	texts["handler logs"] = logs()
	assertNoSecret(t, secret, texts)
	assertNoSecret(t, strings.TrimPrefix(good, "t=1708272000,v1="), texts) // nor the signature
	assert.Contains(t, texts["handler logs"], "webhook delivery refused")
}

// listenOn starts h on a chosen loopback address (127.0.0.2 is another
// host than 127.0.0.1 to an HTTP client, and is local on Linux).
func listenOn(t *testing.T, addr string, h http.Handler) *httptest.Server {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	srv := httptest.NewUnstartedServer(h)
	_ = srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// A redirect to another host does not carry the Authorization header: Go's
// http.Client drops it (and cookies) unless the new host is the same or a
// subdomain. On the same host Go keeps it whatever the port or scheme; the
// client's redirect policy drops it then too, so only the exact origin the
// client was pointed at (scheme, host, port) ever sees the token.
func TestSecrets_RedirectToAnotherOriginDropsAuthorization(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]string{} // server → Authorization it got
	recorder := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen[name] = r.Header.Get("Authorization")
			mu.Unlock()
			_, _ = io.WriteString(w, `{"id":"agt_1"}`)
		})
	}
	otherHost := listenOn(t, "127.0.0.2:0", recorder("other host"))
	samePort := listenOn(t, "127.0.0.1:0", recorder("same host, other port"))
	api := listenOn(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/agents/away":
			http.Redirect(w, r, otherHost.URL+"/collect", http.StatusFound)
		case "/v1/agents/port":
			http.Redirect(w, r, samePort.URL+"/collect", http.StatusTemporaryRedirect)
		}
	}))
	c, err := NewClient(testToken, WithBaseURL(api.URL+"/v1/"))
	require.NoError(t, err)

	_, _, err = c.Agents.Get(context.Background(), "away")
	require.NoError(t, err)
	_, _, err = c.Agents.Get(context.Background(), "port")
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	require.Contains(t, seen, "other host")
	assert.Empty(t, seen["other host"], "the token went to another host")
	require.Contains(t, seen, "same host, other port")
	assert.Empty(t, seen["same host, other port"], "the token went to another port")
}
