package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/botonom/botonom-go/botonomtest"
)

// Help names BOTONOM_WEBHOOK_SECRET and says whether it is set, never its
// value: flag defaults used to be printed by PrintDefaults.
func TestE2E_HelpNeverPrintsTheWebhookSecret(t *testing.T) {
	const live = "whsec_live_do_not_print_me"
	env := []string{"BOTONOM_WEBHOOK_SECRET=" + live}
	for _, args := range [][]string{{"verify", "--help"}, {"trigger", "--help"}, {"help", "verify"}, {"help", "trigger"}, {"help"}, {"webhooks", "--help"}} {
		r := runBinary(t, env, "", args...)
		require.Equal(t, 0, r.code, r.stderr)
		assert.NotContains(t, r.stdout+r.stderr, live, args)
		if args[0] != "help" || len(args) > 1 {
			if args[0] != "webhooks" {
				assert.Contains(t, r.stdout, "$BOTONOM_WEBHOOK_SECRET (set)", args)
			}
		}
	}
	r := runBinary(t, nil, "", "verify", "--help")
	assert.Contains(t, r.stdout, "$BOTONOM_WEBHOOK_SECRET (not set)")
}

// startBinary starts the built command with stdin an open pipe that never
// sends anything, and returns it with its stdout and stderr.
func startBinary(t *testing.T, env []string, args ...string) (cmd *exec.Cmd, stdout, stderr *syncBuffer, done <-chan struct{}) {
	t.Helper()
	cmd = exec.Command(binary, args...)
	cmd.Env = append(cleanEnv(), env...)
	// An *os.File, so that no goroutine of exec copies into it and Wait
	// returns when the process exits.
	stdinR, stdinW, err := os.Pipe()
	require.NoError(t, err)
	t.Cleanup(func() { stdinW.Close() })
	cmd.Stdin = stdinR
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	require.NoError(t, cmd.Start())
	stdinR.Close()
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	return cmd, stdout, stderr, exited
}

// Ctrl-C while a command waits for stdin ends it at once with exit 130:
// the read used to ignore the signal (and verify then reported a
// mismatch on the empty body).
func TestE2E_CtrlCWhileReadingStdinExits130(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT to send on Windows")
	}
	for _, args := range [][]string{
		{"verify", "--secret", "whsec_x", "--header", "t=1,v1=00"},
		{"trigger", "agent.task.completed", "--url", "http://127.0.0.1:1/", "--secret", "whsec_x", "--data", "-"},
		{"mock", "--addr", "127.0.0.1:0", "--agents", "-"},
	} {
		t.Run(args[0], func(t *testing.T) {
			cmd, _, stderr, done := startBinary(t, nil, args...)
			time.Sleep(500 * time.Millisecond) // let it reach the read
			require.NoError(t, cmd.Process.Signal(os.Interrupt))
			select {
			case <-done:
			case <-time.After(2 * time.Second):
				t.Fatalf("still running 2 s after Ctrl-C; stderr:\n%s", stderr)
			}
			assert.Equal(t, 130, cmd.ProcessState.ExitCode(), stderr.String())
			assert.Equal(t, "botonom: interrupted\n", stderr.String())
		})
	}
}

// The mock stops within a second of the first signal even while a client
// is stalled mid-upload (the server used to wait for it forever) and
// another keeps its keep-alive connection idle after an answer.
func TestE2E_MockStopsWithinASecondWhateverItsClientsDo(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT to send on Windows")
	}
	m := startMock(t)
	// A client that keeps its keep-alive connection idle after an answer.
	keepAlive := &http.Transport{}
	defer keepAlive.CloseIdleConnections()
	req, err := http.NewRequest("GET", m.url+"agents", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+m.token)
	resp, err := keepAlive.RoundTrip(req)
	require.NoError(t, err)
	_, err = io.Copy(io.Discard, resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	// One that stalls in the middle of a body.
	host := strings.TrimSuffix(strings.TrimPrefix(m.url, "http://"), "/v1/")
	conn, err := net.Dial("tcp", host)
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "POST /v1/agents/%s/message HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"content\":",
		botonomtest.SampleAgentID, host, m.token)
	require.NoError(t, err)
	time.Sleep(100 * time.Millisecond) // the mock has read the headers: the request is in flight

	start := time.Now()
	require.NoError(t, m.cmd.Process.Signal(os.Interrupt))
	require.NoError(t, m.wait(t, 3*time.Second), "stderr:\n%s", m.stderr)
	assert.Less(t, time.Since(start), time.Second, "stderr:\n%s", m.stderr)
}

func TestE2E_MockBadAgentsDataIsNotAListenError(t *testing.T) {
	file := filepath.Join(t.TempDir(), "agents.json")
	require.NoError(t, os.WriteFile(file, []byte(`[{"id": "bad", "name": "B", "status": "online"}]`), 0o600))
	r := runBinary(t, nil, "", "mock", "--addr", "127.0.0.1:0", "--agents", file)
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "botonom mock: --agents "+file+`: agent ID "bad" does not start with agt_`+"\n", r.stderr)
}

// A refused trigger gets a hint about --url, not the API commands' one
// about BOTONOM_BASE_URL, and the URL is never printed with its password.
func TestE2E_TriggerRefusedHintsAtURLWithoutItsPassword(t *testing.T) {
	ts := httptest.NewServer(http.NotFoundHandler())
	host := strings.TrimPrefix(ts.URL, "http://")
	ts.Close()
	target := "http://hook:s3cr3tpass@" + host + "/webhook"
	r := runBinary(t, nil, "", "trigger", "agent.message.sent", "--url", target, "--secret", "whsec_x")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "connection refused")
	assert.Contains(t, r.stderr, "hint: nothing answers at --url http://hook:xxxxx@"+host+"/webhook: is the webhook handler running")
	assert.NotContains(t, r.stderr, "BOTONOM_BASE_URL")
	assert.NotContains(t, r.stdout+r.stderr, "s3cr3tpass")
	assert.Contains(t, r.stdout, "POST http://hook:xxxxx@"+host+"/webhook: agent.message.sent evt_")

	r = runBinary(t, nil, "", "trigger", "agent.message.sent", "--url", target, "--secret", "whsec_x", "--repeat", "2")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "hint: nothing answers at --url")
	assert.NotContains(t, r.stdout+r.stderr, "s3cr3tpass")
}

// Bad input the SDK refuses before sending is a usage error: exit 2, the
// reason, and the pointer to --help; nothing reaches the API.
func TestRun_SDKRefusedInputExits2(t *testing.T) {
	srv := botonomtest.NewServer(t)
	for _, tc := range []struct {
		cmd  string
		args []string
		err  string
	}{
		{"botonom usage", []string{"usage", "--from", "2026-02-03", "--to", "2026-02-01"}, "--to is before --from"},
		{"botonom message", []string{"message", botonomtest.SampleAgentID, "  "}, "content is empty"},
		{"botonom agents skills", []string{"agents", "skills", botonomtest.SampleAgentID}, "--install and --remove are both empty"},
		{"botonom agents skills", []string{"agents", "skills", botonomtest.SampleAgentID, "--install", "a, "}, "--install[1] is empty"},
		{"botonom agents tasks", []string{"agents", "tasks", botonomtest.SampleAgentID, "--created-after", "2026-02-03", "--created-before", "2026-02-01"}, "--created-before is before --created-after"},
		{"botonom agents list", []string{"agents", "list", "--limit", "500"}, "--limit must be between 1 and 100, got 500"},
		{"botonom webhooks register", []string{"webhooks", "register", "--url", "ftp://to.example", "--events", "agent.task.completed"}, `--url "ftp://to.example" is not an absolute http(s) URL`},
	} {
		r := runIn(t, srv, "", tc.args...)
		assert.Equal(t, 2, r.code, tc.args)
		assert.Equal(t, tc.cmd+": "+tc.err+"\n"+helpHint(tc.cmd)+"\n", r.stderr)
	}
	assert.Empty(t, srv.Requests())
}

// trigger signs with the test secret the mock exports when given none, so
// a handler started from the mock's export line accepts it.
func TestE2E_TriggerAndMockShareTheTestSecret(t *testing.T) {
	m := startMock(t)
	require.Eventually(t, func() bool {
		return strings.Contains(m.stdout.String(), " BOTONOM_WEBHOOK_SECRET="+defaultTestSecret+"\n")
	}, 5*time.Second, 10*time.Millisecond, "the export line sets the test secret: %s", m.stdout)
	ts, events := webhookReceiver(t, defaultTestSecret)
	r := runBinary(t, nil, "", "trigger", "agent.task.completed", "--url", ts.URL)
	require.Equal(t, 0, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
	assert.Len(t, events(), 1)
	assert.Contains(t, r.stderr, "signing with the test secret "+defaultTestSecret)
}

func TestStatusCounts_SortsByStatusCode(t *testing.T) {
	var answers []triggerAnswer
	for range 2 {
		answers = append(answers, triggerAnswer{status: "200 OK", code: 200})
	}
	for range 10 {
		answers = append(answers, triggerAnswer{status: "409 Conflict", code: 409})
	}
	answers = append(answers, triggerAnswer{err: io.EOF}, triggerAnswer{status: "503 Service Unavailable", code: 503})
	assert.Equal(t, "2 × 200 OK, 10 × 409 Conflict, 1 × 503 Service Unavailable, 1 × error", statusCounts(answers))
}

// A token or base URL the SDK refuses is named by its environment
// variable, not by the SDK call the command made with it.
func TestRun_BadEnvironmentIsNamedByItsVariable(t *testing.T) {
	for _, tc := range []struct{ token, baseURL, want string }{
		{"", "", "botonom: BOTONOM_API_TOKEN is not set (for a local fake API"},
		{"btm_sk_test a", "", "botonom: BOTONOM_API_TOKEN contains white space\n"},
		{botonomtest.Token, "127.0.0.1:12111/v1/", `botonom: BOTONOM_BASE_URL "127.0.0.1:12111/v1/" is not an absolute http(s) URL`},
	} {
		t.Setenv("BOTONOM_API_TOKEN", tc.token)
		t.Setenv("BOTONOM_BASE_URL", tc.baseURL)
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"agents", "list"}, strings.NewReader(""), &stdout, &stderr)
		assert.Equal(t, 1, code)
		assert.True(t, strings.HasPrefix(stderr.String(), tc.want), "got %q, want it to start with %q", stderr.String(), tc.want)
		assert.NotContains(t, stderr.String(), "NewClient")
	}
}

// ttyStdin is a stdin the terminal check takes for a terminal.
type ttyStdin struct{ *strings.Reader }

func (ttyStdin) Write(p []byte) (int, error) { return len(p), nil }

// A command that waits for stdin on a terminal says so, and how to end
// it; read from a pipe, it says nothing.
func TestRun_ReadingStdinOnATerminalSaysHowToEndIt(t *testing.T) {
	for _, tty := range []bool{true, false} {
		var stdout, stderr bytes.Buffer
		stdin := ttyStdin{strings.NewReader(`{"id":"evt_1"}`)}
		c := &cli{ctx: context.Background(), stdin: stdin, stdout: &stdout, stderr: &stderr,
			terminal: func(w io.Writer) (bool, int) { return tty && w == io.Writer(stdin), 80 }}
		code := c.run([]string{"verify", "--secret", "whsec_x", "--header", "t=1,v1=00"})
		assert.Equal(t, 1, code, "the signature does not match")
		if tty {
			assert.Contains(t, stderr.String(), "botonom: reading stdin: end it with Ctrl-D")
		} else {
			assert.NotContains(t, stderr.String(), "reading stdin")
		}
	}
}

// A mistyped flag is named with two dashes, as the usage lines and --help
// write it (package flag writes one).
func TestRun_FlagErrorsNameTheFlagWithTwoDashes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"agents", "list", "--frob"}, "botonom agents list: unknown flag --frob\n"},
		{[]string{"usage", "--from"}, "botonom usage: flag needs an argument: --from\n"},
		{[]string{"agents", "list", "--limit", "x"}, `botonom agents list: invalid value "x" for flag --limit: parse error` + "\n"},
		{[]string{"message", "agt_abc123", "hi", "--metadata", "nokv"}, `botonom message: invalid value "nokv" for flag --metadata: "nokv" is not key=value` + "\n"},
	} {
		r := runIn(t, nil, "", tc.args...)
		assert.Equal(t, 2, r.code, tc.args)
		assert.True(t, strings.HasPrefix(r.stderr, tc.want), "got %q, want it to start with %q", r.stderr, tc.want)
	}
}
