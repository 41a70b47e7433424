package main

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/botonom/botonom-go/botonomtest"
)

// withToken points the quick start at srv as if it were the API: a token
// is set, so no fake is started in-process.
func withToken(t *testing.T, srv *botonomtest.Server) {
	t.Setenv("BOTONOM_API_TOKEN", botonomtest.Token)
	t.Setenv("BOTONOM_BASE_URL", srv.URL())
}

func TestQuickstart_WithATokenOnlyReads(t *testing.T) {
	srv := botonomtest.NewServer(t)
	withToken(t, srv)
	var out bytes.Buffer
	require.NoError(t, run(nil, &out, &out), out.String())

	var paths []string
	for _, r := range srv.Requests() {
		assert.Equal(t, http.MethodGet, r.Method, "%s %s reached the API without -write", r.Method, r.Path)
		paths = append(paths, r.Path)
	}
	assert.Equal(t, []string{"/v1/agents", "/v1/agents/agt_abc123/tasks", "/v1/analytics/usage"}, paths)
	assert.Empty(t, srv.Messages())
	assert.Empty(t, srv.Webhooks())
	assert.Contains(t, out.String(), "read-only")
	assert.Contains(t, out.String(), "✓ rate limit")
	assert.NotContains(t, out.String(), "Left in the workspace")
}

func TestQuickstart_WriteUndoesTheSkillAndSaysWhatIsLeft(t *testing.T) {
	srv := botonomtest.NewServer(t)
	withToken(t, srv)
	skillsBefore := srv.Agents()[0].Skills
	var out bytes.Buffer
	require.NoError(t, run([]string{"-write"}, &out, &out), out.String())

	msgs, hooks := srv.Messages(), srv.Webhooks()
	require.Len(t, msgs, 1)
	require.Len(t, hooks, 1)
	var puts int
	for _, r := range srv.Requests() {
		if r.Method == http.MethodPut {
			puts++
		}
	}
	assert.Equal(t, 2, puts, "the skill installed, then removed")
	assert.Equal(t, skillsBefore, srv.Agents()[0].Skills, "the agent's skills as they were")
	assert.Regexp(t, `Left in the workspace \(the API offers no way to delete these\):\n`+
		`  message `+msgs[0].ID+` to Reservations \(agt_abc123\): "Book a table for 4 at 7pm tomorrow"\n`+
		`  webhook `+hooks[0].ID+` to http://127\.0\.0\.1:\d+/botonom/webhook, which stops answering when this program ends: remove it in the dashboard\n$`, out.String())
}

func TestQuickstart_WriteLeavesASkillTheAgentHad(t *testing.T) {
	srv := botonomtest.NewServer(t)
	withToken(t, srv)
	_, _, err := srv.Client().Agents.InstallSkills(context.Background(), botonomtest.SampleAgentID, skill)
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, run([]string{"-write"}, &out, &out), out.String())
	assert.Contains(t, srv.Agents()[0].Skills, skill)
	assert.Contains(t, out.String(), "already has weather: left as it is")
}

func TestQuickstart_WithoutATokenRunsEverythingOnTheFake(t *testing.T) {
	t.Setenv("BOTONOM_API_TOKEN", "")
	t.Setenv("BOTONOM_BASE_URL", "")
	var out bytes.Buffer
	require.NoError(t, run(nil, &out, &out), out.String())
	for _, step := range []string{"✓ sent", "✓ skill installed", "✓ skill removed", "✓ webhook ", "✓ webhook delivery"} {
		assert.Contains(t, out.String(), step)
	}
}
