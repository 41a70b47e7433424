package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	botonom "github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/botonomtest"
)

func TestE2E_MockServesTheCommandsAndStopsOnSIGINT(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT to send on Windows")
	}
	m := startMock(t)
	assert.Equal(t, botonomtest.Token, m.token)
	assert.Regexp(t, `^http://127\.0\.0\.1:\d+/v1/$`, m.url)

	r := runBinary(t, m.env(), "", "agents", "list")
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	var agents []botonom.Agent
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &agents), r.stdout)
	require.Len(t, agents, 3)
	assert.Equal(t, botonomtest.SampleAgentID, agents[0].ID)
	assert.Contains(t, r.stdout, "\n  {", "indented JSON")

	r = runBinary(t, m.env(), "", "message", botonomtest.SampleAgentID, "Book a table for 4 at 7pm tomorrow",
		"--metadata", "customer_id=cust_456")
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	var msg botonom.Message
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &msg), r.stdout)
	assert.Equal(t, botonom.MessageStatusDelivered, msg.Status)
	assert.Equal(t, "Book a table for 4 at 7pm tomorrow", msg.Content)
	assert.Equal(t, map[string]string{"customer_id": "cust_456"}, msg.Metadata)

	m.waitLog(t,
		`(?m) GET /v1/agents 200 req_\d+$`,
		`(?m) POST /v1/agents/agt_abc123/message 201 req_\d+$`)
	assert.NotContains(t, m.stderr.String(), m.token, "the log never shows the token")

	require.NoError(t, m.cmd.Process.Signal(os.Interrupt))
	require.NoError(t, m.wait(t, 5*time.Second), "exit status after SIGINT; stderr:\n%s", m.stderr)
	assert.Contains(t, m.stderr.String(), "shutting down")
}

func TestE2E_AgentsTable(t *testing.T) {
	m := startMock(t)
	r := runBinary(t, m.env(), "", "agents", "list", "--output", "table")
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 4, r.stdout)
	assert.Regexp(t, `^ID\s+NAME\s+STATUS\s+SKILLS$`, lines[0])
	assert.Regexp(t, `^agt_abc123\s+Reservations\s+online\s+calendar, booking$`, lines[1])
	assert.NotContains(t, r.stdout, "\x1b[", "no colour when stdout is not a terminal")
	assert.Regexp(t, `^agt_ghi789\s+Billing\s+offline\s+invoices$`, lines[3])
	// Columns line up.
	assert.Equal(t, strings.Index(lines[0], "STATUS"), strings.Index(lines[1], "online"))
}

func TestE2E_UnknownAgentIsAnAPIError(t *testing.T) {
	m := startMock(t)
	r := runBinary(t, m.env(), "", "agents", "get", "agt_nope")
	assert.Equal(t, 1, r.code)
	assert.Empty(t, r.stdout)
	assert.Contains(t, r.stderr, "404 not_found_error/agent_not_found")
	assert.Regexp(t, `request req_\d+`, r.stderr)
}

func TestE2E_MockWithAgentsFileAndToken(t *testing.T) {
	file := filepath.Join(t.TempDir(), "agents.json")
	require.NoError(t, os.WriteFile(file, []byte(`[
		{"id": "agt_one", "name": "One", "description": "first", "status": "offline", "skills": ["faq"]}
	]`), 0o600))
	m := startMock(t, "--agents", file, "--token", "btm_sk_test_custom", "--rate-limit", "50/min")
	assert.Equal(t, "btm_sk_test_custom", m.token)
	r := runBinary(t, m.env(), "", "agents", "get", "agt_one", "--output", "table")
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	assert.Regexp(t, `(?m)^ID\s+agt_one\nName\s+One\n(.*\n)*Status\s+offline\nSkills\s+faq\n`, r.stdout)

	// The mock's token and nothing else.
	r = runBinary(t, []string{"BOTONOM_BASE_URL=" + m.url, "BOTONOM_API_TOKEN=btm_sk_wrong"}, "", "agents", "list")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "401 authentication_error")
}

// webhookReceiver is an httptest server running botonom.WebhookHandler
// with secret, recording the events it accepts.
func webhookReceiver(t *testing.T, secret string) (*httptest.Server, func() []*botonom.Event) {
	var mu sync.Mutex
	var events []*botonom.Event
	ts := httptest.NewServer(botonom.WebhookHandler(secret, func(_ context.Context, ev *botonom.Event) error {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, ev)
		return nil
	}))
	t.Cleanup(ts.Close)
	return ts, func() []*botonom.Event {
		mu.Lock()
		defer mu.Unlock()
		return append([]*botonom.Event(nil), events...)
	}
}

func TestE2E_TriggerIsAcceptedWithTheSameSecret(t *testing.T) {
	ts, events := webhookReceiver(t, "whsec_e2e")
	r := runBinary(t, nil, "", "trigger", "agent.task.completed", "--url", ts.URL+"/webhook", "--secret", "whsec_e2e")
	require.Equal(t, 0, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "handler answered 200 OK")

	got := events()
	require.Len(t, got, 1)
	assert.Equal(t, botonom.EventTaskCompleted, got[0].Type)
	assert.True(t, strings.HasPrefix(got[0].ID, "evt_"), got[0].ID)
	task, err := got[0].Task()
	require.NoError(t, err)
	assert.Equal(t, botonom.TaskStatusCompleted, task.Status)
	assert.Equal(t, botonomtest.SampleAgentID, task.AgentID)
}

// dedupReceiver is a webhook endpoint that de-duplicates with a memory
// store; fn takes hold to run, so that concurrent copies meet it in flight.
func dedupReceiver(t *testing.T, secret string, hold time.Duration) (*httptest.Server, *atomic.Int32) {
	store, err := botonom.NewMemoryDedupStore()
	require.NoError(t, err)
	var runs atomic.Int32
	ts := httptest.NewServer(botonom.WebhookHandler(secret, func(context.Context, *botonom.Event) error {
		runs.Add(1)
		time.Sleep(hold)
		return nil
	}, botonom.WithDeduplication(store)))
	t.Cleanup(ts.Close)
	return ts, &runs
}

func TestE2E_TriggerRepeatSendsTheSameDelivery(t *testing.T) {
	ts, runs := dedupReceiver(t, "whsec_e2e", 0)
	r := runBinary(t, nil, "", "trigger", "agent.task.completed", "--url", ts.URL, "--secret", "whsec_e2e", "--repeat", "5")
	require.Equal(t, 0, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
	assert.Regexp(t, `5 copies of evt_[0-9a-f]+: 5 × 200 OK`, r.stdout)
	assert.Contains(t, r.stdout, "copy 5: handler answered 200 OK")
	assert.Equal(t, int32(1), runs.Load(), "the receiver processed the event once")

	// Without de-duplication every copy is processed: the copies are the
	// same event.
	plain, events := webhookReceiver(t, "whsec_e2e")
	r = runBinary(t, nil, "", "trigger", "agent.task.completed", "--url", plain.URL, "--secret", "whsec_e2e", "--repeat", "3")
	require.Equal(t, 0, r.code, r.stderr)
	got := events()
	require.Len(t, got, 3)
	assert.Equal(t, got[0].ID, got[1].ID)
	assert.Equal(t, got[0].ID, got[2].ID)
}

// A de-duplicating handler answers the copies that meet the first in
// flight 409 with Retry-After: the designed answer, held as duplicates.
func TestE2E_TriggerRepeatConcurrent(t *testing.T) {
	// fn holds long enough for the other copies to meet it in flight.
	ts, runs := dedupReceiver(t, "whsec_e2e", 800*time.Millisecond)
	r := runBinary(t, nil, "", "trigger", "agent.task.completed", "--url", ts.URL, "--secret", "whsec_e2e", "--repeat", "4", "--concurrent")
	assert.Equal(t, 0, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
	assert.Regexp(t, `4 copies of evt_[0-9a-f]+: 1 × 200 OK, 3 × 409 Conflict\n1 processed, 3 held as duplicates`, r.stdout)
	assert.Empty(t, r.stderr)
	assert.Equal(t, int32(1), runs.Load())

	// A 409 without Retry-After is no duplicate held: a failure.
	conflict := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusConflict)
	}))
	t.Cleanup(conflict.Close)
	r = runBinary(t, nil, "", "trigger", "agent.task.completed", "--url", conflict.URL, "--secret", "whsec_e2e", "--repeat", "2")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "2 of 2 copies")
}

func TestE2E_TriggerRepeatBounds(t *testing.T) {
	for _, n := range []string{"0", "-1", "1001"} {
		r := runBinary(t, nil, "", "trigger", "agent.task.completed", "--url", "http://127.0.0.1:1", "--secret", "s", "--repeat", n)
		assert.Equal(t, 2, r.code, n)
		assert.Contains(t, r.stderr, "--repeat "+n+": want 1 to 1000")
	}
}

func TestE2E_TriggerWithData(t *testing.T) {
	ts, events := webhookReceiver(t, "whsec_e2e")
	r := runBinary(t, []string{"BOTONOM_WEBHOOK_SECRET=whsec_e2e"}, `{"agent_id": "agt_x", "skill": "weather"}`,
		"trigger", "agent.skill.installed", "--url", ts.URL, "--data", "-")
	require.Equal(t, 0, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
	got := events()
	require.Len(t, got, 1)
	skill, err := got[0].SkillInstalled()
	require.NoError(t, err)
	assert.Equal(t, &botonom.SkillInstalled{AgentID: "agt_x", Skill: "weather"}, skill)
}

func TestE2E_TriggerIsRefusedWithAnotherSecret(t *testing.T) {
	ts, events := webhookReceiver(t, "whsec_right")
	r := runBinary(t, nil, "", "trigger", "billing.invoice.created", "--url", ts.URL, "--secret", "whsec_wrong")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stdout, "handler answered 401 Unauthorized")
	assert.Contains(t, r.stderr, "401")
	assert.Empty(t, events())
}

func TestE2E_TriggerConnectionError(t *testing.T) {
	ts := httptest.NewServer(http.NotFoundHandler())
	url := ts.URL
	ts.Close() // nothing listens there any more
	r := runBinary(t, nil, "", "trigger", "agent.message.sent", "--url", url, "--secret", "whsec_x")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "connection refused")
}

func TestE2E_TriggerUnknownEventType(t *testing.T) {
	r := runBinary(t, nil, "", "trigger", "agent.unknown", "--url", "http://127.0.0.1:1", "--secret", "whsec_x")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, `unknown event type "agent.unknown"`)
	for _, typ := range botonom.EventTypes() {
		assert.Contains(t, r.stderr, string(typ))
	}
}

// delivery writes a signed event body to a file and returns its path and
// signature header, signed at signedAt.
func delivery(t *testing.T, secret string, signedAt time.Time) (path, header string, body []byte) {
	t.Helper()
	body = []byte(`{"id":"evt_1","type":"agent.task.completed","created_at":"2024-02-18T14:30:00Z","data":{"id":"tsk_001","agent_id":"agt_abc123","status":"completed"}}`)
	path = filepath.Join(t.TempDir(), "body.json")
	require.NoError(t, os.WriteFile(path, body, 0o600))
	return path, botonom.SignPayload(body, secret, signedAt), body
}

func TestE2E_VerifyValid(t *testing.T) {
	path, header, _ := delivery(t, "whsec_v", time.Now())
	r := runBinary(t, nil, "", "verify", "--secret", "whsec_v", "--header", header, path)
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	assert.Equal(t, "signature valid (event evt_1, type agent.task.completed)\n", r.stdout)

	// From stdin, with the header pasted whole.
	_, _, body := delivery(t, "whsec_v", time.Now())
	r = runBinary(t, nil, string(body), "verify", "--secret", "whsec_v", "--header", "X-Botonom-Signature: "+header, "-")
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
}

func TestE2E_VerifyTampered(t *testing.T) {
	path, header, body := delivery(t, "whsec_v", time.Now())
	require.NoError(t, os.WriteFile(path, []byte(strings.Replace(string(body), "completed", "failed", 1)), 0o600))
	r := runBinary(t, nil, "", "verify", "--secret", "whsec_v", "--header", header, path)
	assert.Equal(t, 1, r.code)
	assert.Empty(t, r.stdout)
	assert.Contains(t, r.stderr, "signature mismatch")
	assert.Contains(t, r.stderr, "no v1 signature in the header matches this body")
	assert.Contains(t, r.stderr, "hint: likely causes, most likely first: 1) the wrong secret")
	assert.Contains(t, r.stderr, "examples/frameworks")
}

func TestE2E_VerifyExpired(t *testing.T) {
	path, header, _ := delivery(t, "whsec_v", time.Now().Add(-10*time.Minute))
	r := runBinary(t, nil, "", "verify", "--secret", "whsec_v", "--header", header, path)
	assert.Equal(t, 1, r.code)
	assert.Regexp(t, `expired: signature timestamp is 10m[01]s old, beyond the 5m0s tolerance`, r.stderr)

	r = runBinary(t, nil, "", "verify", "--secret", "whsec_v", "--header", header, "--tolerance", "15m", path)
	assert.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	r = runBinary(t, nil, "", "verify", "--secret", "whsec_v", "--header", header, "--no-timestamp-check", path)
	assert.Equal(t, 0, r.code, "stderr: %s", r.stderr)
}

func TestE2E_VerifyBadHeader(t *testing.T) {
	path, _, _ := delivery(t, "whsec_v", time.Now())
	r := runBinary(t, nil, "", "verify", "--secret", "whsec_v", "--header", "t=abc,v1=00", path)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "invalid webhook signature header: t is not a unix time")
}

func TestE2E_UsageErrors(t *testing.T) {
	// The error, then one line pointing to --help: no screenful of usage
	// that would bury the error.
	for _, tc := range []struct {
		args      []string
		err, hint string
	}{
		{[]string{"frobnicate"}, `botonom: unknown command "frobnicate"`, `Run "botonom --help" for the list of commands.`},
		{[]string{"agents"}, `botonom agents: missing subcommand: list, get, tasks or skills`, `Run "botonom agents --help" for usage and flags.`},
		{[]string{"agents", "delete", "agt_abc123"}, `botonom agents: unknown subcommand "delete": want list, get, tasks or skills`, `Run "botonom agents --help" for usage and flags.`},
		{[]string{"agents", "list", "--bogus"}, `botonom agents list: unknown flag --bogus`, `Run "botonom agents list --help" for usage and flags.`},
		{[]string{"agents", "list", "--output", "yaml"}, `botonom agents list: --output "yaml": want json or table`, `Run "botonom agents list --help" for usage and flags.`},
		{[]string{"agents", "get"}, `botonom agents get: missing AGENT_ID`, `Run "botonom agents get --help" for usage and flags.`},
		{[]string{"agents", "get", "a", "b"}, `botonom agents get: unexpected argument "b"`, `Run "botonom agents get --help" for usage and flags.`},
		{[]string{"message"}, `botonom message: missing AGENT_ID and TEXT`, `Run "botonom message --help" for usage and flags.`},
		{[]string{"message", "agt_abc123"}, `botonom message: missing TEXT`, `Run "botonom message --help" for usage and flags.`},
		{[]string{"usage", "--from", "yesterday"}, `botonom usage: --from "yesterday": want RFC 3339 (2026-02-01T00:00:00Z) or a date (2026-02-01)`, `Run "botonom usage --help" for usage and flags.`},
		{[]string{"usage", "--granularity", "week"}, `botonom usage: --granularity "week": want hour, day or month`, `Run "botonom usage --help" for usage and flags.`},
		{[]string{"mock", "--rate-limit", "ten"}, `botonom mock: --rate-limit "ten": want a positive number of requests, such as 100/min`, `Run "botonom mock --help" for usage and flags.`},
		{[]string{"mock", "--latency", "-1s"}, `botonom mock: --latency -1s: want a duration of 0 or more, such as 300ms`, `Run "botonom mock --help" for usage and flags.`},
		{[]string{"mock", "--addr", "localhost"}, `botonom mock: --addr "localhost": want host:port, such as 127.0.0.1:12111 (port 0 picks a free one)`, `Run "botonom mock --help" for usage and flags.`},
		{[]string{"trigger", "--secret", "s"}, `botonom trigger: missing EVENT_TYPE`, `Run "botonom trigger --help" for usage and flags.`},
		{[]string{"trigger", "agent.task.completed", "--secret", "s"}, `botonom trigger: --url is required`, `Run "botonom trigger --help" for usage and flags.`},
		{[]string{"verify", "--secret", "s"}, `botonom verify: --header is required`, `Run "botonom verify --help" for usage and flags.`},
		{[]string{"verify", "--secret", "s", "--header", "t=1,v1=2", "--tolerance", "1m", "--no-timestamp-check"}, `botonom verify: --tolerance and --no-timestamp-check contradict each other`, `Run "botonom verify --help" for usage and flags.`},
	} {
		t.Run(strings.Join(tc.args, "_"), func(t *testing.T) {
			r := runBinary(t, nil, "", tc.args...)
			assert.Equal(t, 2, r.code, "stderr: %s", r.stderr)
			assert.Equal(t, tc.err+"\n"+tc.hint+"\n", r.stderr)
			assert.Empty(t, r.stdout)
		})
	}
}

func TestE2E_NoCommandPrintsTheCommands(t *testing.T) {
	r := runBinary(t, nil, "")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "Commands:")
	assert.Empty(t, r.stdout)
}

func TestE2E_AgentsHelpShowsTheFlags(t *testing.T) {
	r := runBinary(t, nil, "", "agents", "--help")
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	assert.NotRegexp(t, `(?m)^  -[a-z]`, r.stdout, "flags are listed as --name, as the usage lines write them")
	assert.Regexp(t, `(?s)Flags of agents list:\n  --all\n.*  --json\n.*  --output format\n.*  --status string\n.*Flags of agents get:\n  --json\n.*Flags of agents tasks:\n.*  --created-after time\n.*Flags of agents skills:\n.*  --install a,b\n.*  --remove c,d\n`, r.stdout)
}

func TestE2E_HelpOnEveryCommand(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"help"}, {"help", "mock"}, {"mock", "--help"}, {"trigger", "--help"}, {"verify", "-h"},
		{"agents", "--help"}, {"agents", "list", "--help"}, {"agents", "get", "--help"},
		{"message", "--help"}, {"usage", "--help"}, {"version", "--help"},
	} {
		t.Run(strings.Join(args, "_"), func(t *testing.T) {
			r := runBinary(t, nil, "", args...)
			assert.Equal(t, 0, r.code, "stderr: %s", r.stderr)
			assert.Contains(t, r.stdout, "Usage:")
			assert.Empty(t, r.stderr)
		})
	}
}

func TestE2E_NoToken(t *testing.T) {
	r := runBinary(t, nil, "", "agents", "list")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "BOTONOM_API_TOKEN is not set")
	assert.Contains(t, r.stderr, "botonom mock")
}

func TestE2E_MockStopsOnSIGTERM(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGTERM to send on Windows")
	}
	m := startMock(t)
	require.NoError(t, m.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, m.wait(t, 5*time.Second), "exit status after SIGTERM; stderr:\n%s", m.stderr)
	assert.Contains(t, m.stderr.String(), "shutting down")
}

func TestE2E_MockAddressInUse(t *testing.T) {
	m := startMock(t)
	addr := strings.TrimSuffix(strings.TrimPrefix(m.url, "http://"), "/v1/")
	r := runBinary(t, nil, "", "mock", "--addr", addr)
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "botonom mock: cannot listen on "+addr+": address already in use\n"+
		"hint: another program (another botonom mock?) uses that port: stop it, or try --addr 127.0.0.1:0 for a free port\n", r.stderr)
}
