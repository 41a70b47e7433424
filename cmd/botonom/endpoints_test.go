package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	botonom "github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/botonomtest"
)

func TestRun_AgentsTasksSendsTheFilters(t *testing.T) {
	srv := goldenServer(t)
	r := runIn(t, srv, "", "agents", "tasks", botonomtest.SampleAgentID, "--status", "completed",
		"--created-after", "2026-02-14", "--created-before", "2026-02-19T00:00:00Z", "--limit", "5")
	require.Equal(t, 0, r.code, r.stderr)
	req := srv.Requests()[0]
	assert.Equal(t, "/v1/agents/"+botonomtest.SampleAgentID+"/tasks", req.Path)
	assert.Equal(t, "completed", req.Query.Get("status"))
	assert.Equal(t, "2026-02-14T00:00:00Z", req.Query.Get("created_after"))
	assert.Equal(t, "2026-02-19T00:00:00Z", req.Query.Get("created_before"))
	assert.Equal(t, "5", req.Query.Get("limit"))
	var tasks []botonom.Task
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &tasks))
	require.Len(t, tasks, 1)
	assert.Equal(t, "tsk_g05", tasks[0].ID)

	r = runIn(t, srv, "", "agents", "tasks", botonomtest.SampleAgentID, "--status", "done")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, `--status "done": want pending, running, completed or failed`)
	r = runIn(t, srv, "", "agents", "tasks", botonomtest.SampleAgentID, "--all", "--cursor", "x")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "--all and --cursor contradict each other")
	assert.Len(t, srv.Requests(), 1, "nothing sent on a usage error")
}

func TestRun_AgentsSkillsUpdatesInOneCall(t *testing.T) {
	srv := goldenServer(t)
	r := runIn(t, srv, "", "agents", "skills", botonomtest.SampleAgentID, "--install", "weather, maps", "--remove", "calendar")
	require.Equal(t, 0, r.code, r.stderr)
	require.Len(t, srv.Requests(), 1)
	req := srv.Requests()[0]
	assert.Equal(t, "/v1/agents/"+botonomtest.SampleAgentID+"/skills", req.Path)
	assert.JSONEq(t, `{"install":["weather","maps"],"remove":["calendar"]}`, string(req.Body))
	var agent botonom.Agent
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &agent))
	assert.Equal(t, []string{"booking", "weather", "maps"}, agent.Skills)
}

// The secret is shown once, with a line saying to store it, only when the
// command made it (the API never echoes it): on a terminal in the fields;
// with JSON on stdout, on stderr. A secret given with --secret is not
// printed back.
func TestRun_WebhooksRegisterShowsTheSecretOnce(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	srv := goldenServer(t)
	r := runTerm(t, srv, terminals{stdout: true, width: 100}, "webhooks", "register",
		"--url", "https://example.com/hook", "--events", "agent.task.completed")
	require.Equal(t, 0, r.code, r.stderr)
	hooks := srv.Webhooks()
	require.Len(t, hooks, 1)
	assert.Regexp(t, `^whsec_[0-9a-f]{48}$`, hooks[0].Secret, "a random secret")
	assert.Equal(t, 1, strings.Count(r.stdout, hooks[0].Secret))
	assert.Regexp(t, `(?m)^Secret\s+`+hooks[0].Secret+"\n"+regexp.QuoteMeta(storeSecretLine)+"\n$", r.stdout)
	assert.Empty(t, r.stderr)

	r = runIn(t, srv, "", "webhooks", "register", "--url", "https://example.com/hook2", "--events", "agent.task.completed,agent.status.changed")
	require.Equal(t, 0, r.code, r.stderr)
	hooks = srv.Webhooks()
	require.Len(t, hooks, 2)
	var hook botonom.Webhook
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &hook), "stdout is the API's JSON")
	assert.Equal(t, []botonom.EventType{botonom.EventTaskCompleted, botonom.EventStatusChanged}, hook.Events)
	assert.NotContains(t, r.stdout, hooks[1].Secret)
	assert.Equal(t, "secret: "+hooks[1].Secret+"\n"+storeSecretLine+"\n", r.stderr)

	r = runIn(t, srv, "", "webhooks", "register", "--url", "https://example.com/hook3", "--events", "agent.task.completed", "--secret", "whsec_mine")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Empty(t, r.stderr, "a secret of your own is not printed back")
	assert.Equal(t, "whsec_mine", srv.Webhooks()[2].Secret)

	r = runTerm(t, srv, terminals{stdout: true, width: 100}, "webhooks", "register",
		"--url", "https://example.com/hook3", "--events", "agent.task.completed", "--secret", "whsec_mine")
	require.Equal(t, 0, r.code, r.stderr)
	assert.NotContains(t, r.stdout+r.stderr, "whsec_mine", "on a terminal either")
	assert.NotContains(t, r.stdout, storeSecretLine, "the person has it already")
	assert.Contains(t, r.stdout, "Secret   the one given with --secret\n")

	r = runIn(t, srv, "", "webhooks", "register", "--url", "https://example.com/hook4")
	assert.Equal(t, 2, r.code)
	assert.Equal(t, "botonom webhooks register: --events is required\n"+helpHint("botonom webhooks register")+"\n", r.stderr)
}

func TestE2E_HelpOfTheNewCommands(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		flags []string
	}{
		{[]string{"agents", "tasks", "--help"}, []string{"-all", "-created-after", "-created-before", "-cursor", "-json", "-limit", "-output", "-status"}},
		{[]string{"agents", "skills", "--help"}, []string{"-install", "-remove", "-json"}},
		{[]string{"webhooks", "--help"}, []string{"-url", "-events", "-secret", "-json"}},
		{[]string{"webhooks", "register", "--help"}, []string{"-url", "-events", "-secret", "-json"}},
		{[]string{"usage", "--help"}, []string{"-json", "-output", "-from", "-to", "-agent", "-granularity"}},
	} {
		r := runBinary(t, nil, "", tc.args...)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, "Usage:")
		for _, f := range tc.flags {
			assert.Regexp(t, `(?m)^  -`+f+`\b`, r.stdout, tc.args)
		}
	}
	r := runBinary(t, nil, "", "help")
	assert.Contains(t, r.stdout, "When\nstdout is not a terminal (a pipe, a file), they print the API's JSON")
	assert.Contains(t, r.stdout, "webhooks")
}
