package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	botonom "github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/botonomtest"
)

// runIn runs the command in this process against srv (when not nil) and
// returns what it printed and its exit status.
func runIn(t *testing.T, srv *botonomtest.Server, stdin string, args ...string) result {
	t.Helper()
	t.Setenv("BOTONOM_API_TOKEN", "")
	t.Setenv("BOTONOM_BASE_URL", "")
	t.Setenv("BOTONOM_WEBHOOK_SECRET", "")
	if srv != nil {
		t.Setenv("BOTONOM_API_TOKEN", botonomtest.Token)
		t.Setenv("BOTONOM_BASE_URL", srv.URL())
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &stdout, &stderr)
	return result{stdout.String(), stderr.String(), code}
}

func TestRun_AgentsGetAndList(t *testing.T) {
	srv := botonomtest.NewServer(t)
	r := runIn(t, srv, "", "agents", "get", botonomtest.SupportAgentID)
	require.Equal(t, 0, r.code, r.stderr)
	var agent botonom.Agent
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &agent))
	assert.Equal(t, "Support", agent.Name)

	r = runIn(t, srv, "", "agents", "list", "--status", "offline")
	require.Equal(t, 0, r.code, r.stderr)
	var agents []botonom.Agent
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &agents))
	require.Len(t, agents, 1)
	assert.Equal(t, botonomtest.BillingAgentID, agents[0].ID)
	assert.Equal(t, "offline", srv.Requests()[1].Query.Get("status"))
}

func TestRun_AgentsListFollowsPages(t *testing.T) {
	var many []*botonom.Agent
	for i := range 45 {
		many = append(many, &botonom.Agent{ID: "agt_" + strings.Repeat("x", i+1), Name: "A"})
	}
	srv := botonomtest.NewServer(t, botonomtest.WithAgents(many...))
	r := runIn(t, srv, "", "agents", "list", "--all")
	require.Equal(t, 0, r.code, r.stderr)
	var agents []botonom.Agent
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &agents))
	assert.Len(t, agents, 45)
	assert.Len(t, srv.Requests(), 3, "three pages of 20")
	assert.Empty(t, r.stderr, "no progress when stderr is not a terminal")

	// Without --all: one page, and stderr says how to go on.
	r = runIn(t, srv, "", "agents", "list", "--limit", "10")
	require.Equal(t, 0, r.code, r.stderr)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &agents))
	assert.Len(t, agents, 10)
	assert.Equal(t, "10", srv.Requests()[3].Query.Get("limit"))
	sub := regexp.MustCompile(`^botonom: more agents: --all for every page, or --cursor (\S+) for the next\n$`).FindStringSubmatch(r.stderr)
	require.NotNil(t, sub, r.stderr)
	r = runIn(t, srv, "", "agents", "list", "--limit", "10", "--cursor", sub[1])
	require.Equal(t, 0, r.code, r.stderr)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &agents))
	assert.Equal(t, many[10].ID, agents[0].ID, "the next page")
}

func TestRun_AgentsListEmptyIsAnEmptyArray(t *testing.T) {
	srv := botonomtest.NewServer(t, botonomtest.WithAgents())
	r := runIn(t, srv, "", "agents", "list")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "[]\n", r.stdout)
}

func TestRun_MessageFlagsAfterText(t *testing.T) {
	srv := botonomtest.NewServer(t)
	r := runIn(t, srv, "", "message", botonomtest.BillingAgentID, "Why", "is", "my", "invoice", "higher?",
		"--output", "table", "--metadata", "customer_id=cust_456", "--idempotency-key", "order-1042")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `(?m)^ID\s+STATUS\s+AGENT\s+CREATED\nmsg_000001\s+queued\s+agt_ghi789\s+`, r.stdout)
	msgs := srv.Messages()
	require.Len(t, msgs, 1)
	assert.Equal(t, "Why is my invoice higher?", msgs[0].Content)
	assert.Equal(t, "order-1042", msgs[0].IdempotencyKey)
	assert.Equal(t, map[string]string{"customer_id": "cust_456"}, msgs[0].Metadata)

	// The same key again: the API's first answer, not a second message.
	r = runIn(t, srv, "", "message", botonomtest.BillingAgentID, "Why is my invoice higher?",
		"--metadata", "customer_id=cust_456", "--idempotency-key", "order-1042")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Len(t, srv.Messages(), 1)

	// A text that looks like a flag, after "--".
	r = runIn(t, srv, "", "message", botonomtest.SampleAgentID, "--", "-5 degrees: book inside")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "-5 degrees: book inside", srv.Messages()[1].Content)
}

func TestRun_MessageAPIError(t *testing.T) {
	srv := botonomtest.NewServer(t)
	r := runIn(t, srv, "", "message", "agt_nope", "hello")
	assert.Equal(t, 1, r.code)
	assert.Regexp(t, `^botonom: 404 not_found_error/agent_not_found: .*\(param id, request req_\d+\)\n$`, r.stderr)
}

func TestRun_Usage(t *testing.T) {
	srv := botonomtest.NewServer(t)
	r := runIn(t, srv, "", "usage", "--from", "2026-02-01", "--to", "2026-02-03T00:00:00Z",
		"--agent", botonomtest.SampleAgentID, "--granularity", "day", "--output", "table")
	require.Equal(t, 0, r.code, r.stderr)
	q := srv.Requests()[0].Query
	assert.Equal(t, "2026-02-01T00:00:00Z", q.Get("from"))
	assert.Equal(t, "2026-02-03T00:00:00Z", q.Get("to"))
	assert.Equal(t, botonomtest.SampleAgentID, q.Get("agent_id"))
	assert.Equal(t, "day", q.Get("granularity"))
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 4, r.stdout)
	assert.Regexp(t, `^PERIOD START\s+REQUESTS\s+INPUT TOKENS\s+OUTPUT TOKENS\s+TOTAL TOKENS$`, lines[0])
	assert.Regexp(t, `^2026-02-01T00:00:00Z\s+0\s+0\s+0\s+0$`, lines[1])
	assert.Regexp(t, `^TOTAL\s+0\s+0\s+0\s+0$`, lines[3])

	r = runIn(t, srv, "", "usage")
	require.Equal(t, 0, r.code, r.stderr)
	var usage botonom.Usage
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &usage))
	assert.Equal(t, botonom.GranularityDay, usage.Granularity)
	assert.Positive(t, usage.Total.Requests, "the sample task history")
}

func TestRun_Unauthorized(t *testing.T) {
	srv := botonomtest.NewServer(t, botonomtest.WithToken("btm_sk_other"))
	r := runIn(t, srv, "", "agents", "list")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "401 authentication_error/invalid_token")
	assert.Contains(t, r.stderr, "hint: check BOTONOM_API_TOKEN")
	assert.NotContains(t, r.stderr, botonomtest.Token)
}

// quickRetries makes the command's clients wait a millisecond between
// attempts, for the length of the test.
func quickRetries(t *testing.T) {
	extraClientOptions = []botonom.Option{botonom.WithRetryWait(time.Millisecond, time.Millisecond)}
	t.Cleanup(func() { extraClientOptions = nil })
}

func TestRun_ConnectionRefusedHint(t *testing.T) {
	quickRetries(t)
	ts := httptest.NewServer(http.NotFoundHandler())
	ts.Close() // nothing listens there any more
	runIn(t, nil, "")
	t.Setenv("BOTONOM_API_TOKEN", botonomtest.Token)
	t.Setenv("BOTONOM_BASE_URL", ts.URL)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"agents", "list"}, strings.NewReader(""), &stdout, &stderr)
	assert.Equal(t, 1, code)
	assert.Regexp(t, `connection refused\n`+
		regexp.QuoteMeta(`hint: nothing answers there: is "botonom mock" running? BOTONOM_BASE_URL is `+ts.URL)+`\n$`, stderr.String())
}

func TestRun_UnknownPathHint(t *testing.T) {
	srv := botonomtest.NewServer(t)
	runIn(t, nil, "")
	t.Setenv("BOTONOM_API_TOKEN", botonomtest.Token)
	t.Setenv("BOTONOM_BASE_URL", strings.TrimSuffix(srv.URL(), "v1/")+"api/")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"agents", "get", botonomtest.SampleAgentID}, strings.NewReader(""), &stdout, &stderr)
	assert.Equal(t, 1, code)
	assert.Regexp(t, `^botonom: 404 not_found_error/unknown_path: .*\n`+
		regexp.QuoteMeta(`hint: the API has no such path: BOTONOM_BASE_URL is `+strings.TrimSuffix(srv.URL(), "v1/")+`api/; it should end in /v1/ (the address "botonom mock" prints)`)+`\n$`, stderr.String())

	// The host alone is the API's /v1/ (WithBaseURL): no hint needed.
	t.Setenv("BOTONOM_BASE_URL", strings.TrimSuffix(srv.URL(), "/v1/"))
	code = run(context.Background(), []string{"agents", "get", botonomtest.SampleAgentID}, strings.NewReader(""), &stdout, &stderr)
	assert.Equal(t, 0, code)
}

func TestRun_RateLimitedSaysRetryAfterOnce(t *testing.T) {
	// A fixed clock half way through the hour: on the wall clock, in the
	// last minute of an hour the window's reset is close enough for the
	// command to wait for it instead of failing.
	halfPast := time.Date(2026, 2, 18, 14, 30, 0, 0, time.UTC)
	srv := botonomtest.NewServer(t, botonomtest.WithRateLimit(1, time.Hour),
		botonomtest.WithClock(func() time.Time { return halfPast }))
	r := runIn(t, srv, "", "agents", "get", botonomtest.SampleAgentID)
	require.Equal(t, 0, r.code, r.stderr)
	r = runIn(t, srv, "", "agents", "get", botonomtest.SampleAgentID)
	assert.Equal(t, 1, r.code)
	assert.Regexp(t, `^botonom: 429 rate_limit_error/\w+: .*\n$`, r.stderr)
	assert.Equal(t, 1, strings.Count(strings.ToLower(r.stderr), "retry after"), r.stderr)
}

func TestRun_VerifyNewlineHint(t *testing.T) {
	body := []byte(`{"id":"evt_1","type":"agent.skill.installed","created_at":"2026-02-18T14:30:00Z","data":{}}`)
	header := botonom.SignPayload(body, "whsec_n", time.Now())
	r := runIn(t, nil, string(body)+"\n", "verify", "--secret", "whsec_n", "--header", header)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "the body ends with a newline")

	r = runIn(t, nil, string(body), "verify", "--header", header)
	assert.Equal(t, 2, r.code, "no secret")
	t.Setenv("BOTONOM_WEBHOOK_SECRET", "whsec_n")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"verify", "--header", header}, bytes.NewReader(body), &stdout, &stderr)
	assert.Equal(t, 0, code, stderr.String())
	assert.Equal(t, "signature valid (event evt_1, type agent.skill.installed)\n", stdout.String())
}

func TestRun_VerifyNotAnEvent(t *testing.T) {
	body := []byte(`{"hello":"world"}`)
	header := botonom.SignPayload(body, "whsec_n", time.Now())
	r := runIn(t, nil, string(body), "verify", "--secret", "whsec_n", "--header", header)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "signature valid, but the body is not a Botonom event")
}

func TestRun_MockInProcess(t *testing.T) {
	file := filepath.Join(t.TempDir(), "agents.json")
	require.NoError(t, os.WriteFile(file, []byte(`{"data": [{"id": "agt_z", "name": "Z", "status": "online", "skills": []}], "has_more": false, "next_cursor": ""}`), 0o600))
	base, stderr, stop := mockInProcess(t, "--agents", file, "--rate-limit", "2/h")

	// By hand: the SDK would wait for the window to reset rather than
	// send a request bound to fail.
	var statuses []int
	for range 3 {
		req, err := http.NewRequest(http.MethodGet, base+"agents/agt_z", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+botonomtest.Token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		statuses = append(statuses, resp.StatusCode)
	}
	assert.Equal(t, []int{200, 200, 429}, statuses, "--rate-limit 2/h")
	assert.Regexp(t, regexp.MustCompile(`(?m) GET /v1/agents/agt_z 429 req_\d+$`), stderr.String())
	stop()
}

// mockInProcess runs "botonom mock --addr 127.0.0.1:0 ARGS…" in this
// process and returns its base URL, its stderr, and a stop that interrupts
// it and checks it exits 0.
func mockInProcess(t *testing.T, args ...string) (base string, stderr *syncBuffer, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	stdout := &syncBuffer{}
	stderr = &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"mock", "--addr", "127.0.0.1:0"}, args...), strings.NewReader(""), stdout, stderr)
	}()
	require.Eventually(t, func() bool {
		sub := exportLine.FindStringSubmatch(stdout.String())
		if sub != nil {
			base = sub[1]
		}
		return sub != nil
	}, 10*time.Second, 10*time.Millisecond, "stderr: %s", stderr)
	return base, stderr, func() {
		t.Helper()
		cancel()
		select {
		case code := <-done:
			assert.Equal(t, 0, code, stderr.String())
		case <-time.After(5 * time.Second):
			t.Fatal("mock did not stop")
		}
	}
}

// --latency is the processing time of a keyed POST: a retry with the same
// key while the first is processed (its client gave up) gets 409
// idempotency_key_in_use at once; after it, the first's answer replayed.
func TestRun_MockLatencyIsTheProcessingTimeOfAKeyedPOST(t *testing.T) {
	const latency = 500 * time.Millisecond
	base, stderr, stop := mockInProcess(t, "--latency", latency.String())
	defer stop()
	post := func(timeout time.Duration) (*http.Response, []byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"agents/"+botonomtest.SampleAgentID+"/message", strings.NewReader(`{"content":"hi"}`))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+botonomtest.Token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "cli-latency-test")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		var body bytes.Buffer
		_, err = body.ReadFrom(resp.Body)
		return resp, body.Bytes(), err
	}

	start := time.Now()
	_, _, err := post(latency / 10)
	require.ErrorIs(t, err, context.DeadlineExceeded, "the first gives up while the mock processes it")
	resp, body, err := post(latency / 2)
	require.NoError(t, err, "a retry meanwhile is answered at once")
	assert.Equal(t, http.StatusConflict, resp.StatusCode)
	assert.Contains(t, string(body), `"code":"idempotency_key_in_use"`)

	require.Eventually(t, func() bool {
		return strings.Contains(stderr.String(), " POST /v1/agents/"+botonomtest.SampleAgentID+"/message 201 ")
	}, 5*time.Second, 5*time.Millisecond, "the first is processed to its end")
	assert.GreaterOrEqual(t, time.Since(start), latency)
	resp, body, err = post(latency / 2)
	require.NoError(t, err, "a replay is answered at once")
	assert.Equal(t, http.StatusCreated, resp.StatusCode, "%s", body)
	assert.Equal(t, "true", resp.Header.Get("Idempotent-Replayed"))
}

func TestREADMEAndHelpAgreeWhereTheFlagsAre(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	var help bytes.Buffer
	printMainUsage(&help)
	for _, where := range []string{"botonom COMMAND --help", "botonom help COMMAND"} {
		assert.Contains(t, help.String(), `"`+where+`"`)
		assert.Contains(t, string(readme), "`"+where+"`")
	}
}

func TestREADMEAndWebhookExampleShowTrigger(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	oneLine := strings.Join(strings.Fields(string(readme)), " ") // wherever the text wraps
	assert.Contains(t, oneLine, "`botonom trigger agent.task.completed --url http://127.0.0.1:8080/botonom/webhook")
	example, err := os.ReadFile(filepath.Join("..", "..", "examples", "webhook-server", "main.go"))
	require.NoError(t, err)
	assert.Contains(t, string(example), "botonom trigger agent.task.completed --url http://%s/botonom/webhook")
}

func TestParseRateLimit(t *testing.T) {
	for in, want := range map[string]struct {
		limit  int
		window time.Duration
	}{
		"100/min": {100, time.Minute}, "100": {100, time.Minute}, "5/s": {5, time.Second},
		"3600/h": {3600, time.Hour}, " 7 / sec ": {7, time.Second},
	} {
		limit, window, err := parseRateLimit(in)
		require.NoError(t, err, in)
		assert.Equal(t, want.limit, limit, in)
		assert.Equal(t, want.window, window, in)
	}
	for _, in := range []string{"", "0/min", "-1", "ten/min", "5/day"} {
		_, _, err := parseRateLimit(in)
		assert.Error(t, err, in)
	}
}

func TestLoadAgents(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	c := &cli{ctx: context.Background(), stdin: strings.NewReader(`[{"id":"agt_in","name":"In"}]`)}
	agents, err := loadAgents(c, "-")
	require.NoError(t, err)
	assert.Equal(t, "agt_in", agents[0].ID)

	_, err = loadAgents(c, write("typo.json", `[{"id":"agt_1","skill":["x"]}]`))
	assert.ErrorContains(t, err, `unknown field "skill"`)
	_, err = loadAgents(c, write("null.json", `[null]`))
	assert.ErrorContains(t, err, "null")
	_, err = loadAgents(c, write("two.json", `[] []`))
	assert.ErrorContains(t, err, "more than one")
	_, err = loadAgents(c, filepath.Join(dir, "missing.json"))
	assert.ErrorContains(t, err, "--agents")
}

func TestReachableURL(t *testing.T) {
	assert.Equal(t, "http://127.0.0.1:12111/v1/", reachableURL("http://[::]:12111/v1/"))
	assert.Equal(t, "http://127.0.0.1:12111/v1/", reachableURL("http://0.0.0.0:12111/v1/"))
	assert.Equal(t, "http://10.0.0.2:1/v1/", reachableURL("http://10.0.0.2:1/v1/"))
}

func TestParseInterspersed(t *testing.T) {
	fs := newFlagSet("x")
	b := fs.Bool("b", false, "")
	s := fs.String("s", "", "")
	pos, err := parseInterspersed(fs, []string{"a", "-b", "c", "--s", "v", "--", "-d", "--b"})
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "c", "-d", "--b"}, pos)
	assert.True(t, *b)
	assert.Equal(t, "v", *s)
}
