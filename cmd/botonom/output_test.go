package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	botonom "github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/botonomtest"
)

// The terminal check decides the default: a table on a terminal, the
// API's JSON elsewhere; --json and --output win over it.
func TestOutput_DefaultFollowsTheTerminalCheck(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	srv := goldenServer(t)
	want, err := os.ReadFile(filepath.Join("testdata", "json", "agents-list.json"))
	require.NoError(t, err)
	table, err := os.ReadFile(filepath.Join("testdata", "terminal", "agents-list.txt"))
	require.NoError(t, err)

	for _, tc := range []struct {
		term terminals
		args []string
		want []byte
	}{
		{terminals{}, nil, want},
		{terminals{stdout: true, width: 100}, nil, table},
		{terminals{stdout: true, width: 100}, []string{"--json"}, want},
		{terminals{stdout: true, width: 100}, []string{"--output", "json"}, want},
		{terminals{stderr: true, width: 100}, nil, want}, // stderr alone on a terminal: still a pipe
		{terminals{}, []string{"--output", "table"}, table},
	} {
		r := runTerm(t, srv, tc.term, append([]string{"agents", "list"}, tc.args...)...)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Equal(t, string(tc.want), r.stdout, "%+v %v", tc.term, tc.args)
	}

	r := runTerm(t, srv, terminals{}, "agents", "list", "--json", "--output", "table")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "--json and --output table contradict each other")
}

// Colour only on a terminal, and never with NO_COLOR set.
func TestOutput_ColourOnlyOnATerminalWithoutNO_COLOR(t *testing.T) {
	srv := goldenServer(t)
	usage := []string{"usage", "--from", "2026-02-13", "--to", "2026-02-21"}
	for _, tc := range []struct {
		noColor string
		term    terminals
		args    []string
		colour  bool
	}{
		{"", terminals{stdout: true, width: 80}, []string{"agents", "list"}, true},
		{"", terminals{stdout: true, width: 80}, usage, true},
		{"1", terminals{stdout: true, width: 80}, []string{"agents", "list"}, false},
		{"1", terminals{stdout: true, width: 80}, usage, false},
		{"", terminals{}, []string{"agents", "list", "--output", "table"}, false},
		{"", terminals{}, append(usage, "--output", "chart"), false},
	} {
		t.Setenv("NO_COLOR", tc.noColor)
		r := runTerm(t, srv, tc.term, tc.args...)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Equal(t, tc.colour, strings.Contains(r.stdout, "\x1b["), "NO_COLOR=%q %+v %v", tc.noColor, tc.term, tc.args)
	}
}

// --all counts on stderr while stderr is a terminal, and writes nothing
// there otherwise.
func TestProgress_OnlyOnATerminal(t *testing.T) {
	var tasks []*botonom.Task
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 1250 {
		tasks = append(tasks, &botonom.Task{ID: fmt.Sprintf("tsk_%05d", i), AgentID: botonomtest.SampleAgentID,
			Status: botonom.TaskStatusPending, CreatedAt: start.Add(time.Duration(i) * time.Minute)})
	}
	srv := botonomtest.NewServer(t, botonomtest.WithClock(func() time.Time { return goldenNow }), botonomtest.WithTasks(tasks...))
	args := []string{"agents", "tasks", botonomtest.SampleAgentID, "--all", "--limit", "100"}

	r := runTerm(t, srv, terminals{stderr: true, width: 80}, args...)
	require.Equal(t, 0, r.code, r.stderr)
	var got []botonom.Task
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
	assert.Len(t, got, 1250)
	assert.Contains(t, r.stderr, clearLine+"fetched 100 tasks…"+clearLine+"fetched 200 tasks…")
	assert.True(t, strings.HasSuffix(r.stderr, clearLine+"fetched 1,250 tasks…"+clearLine), "%q", r.stderr)

	r = runTerm(t, srv, terminals{}, args...)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Empty(t, r.stderr)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
	assert.Len(t, got, 1250)
}

// A wait for the rate limit says how long it lasts: here the hold before
// the second page, the first having spent the limit (at most a second:
// the fake's reset is in whole seconds).
func TestProgress_RateLimitWaitSaysHowLong(t *testing.T) {
	srv := botonomtest.NewServer(t, botonomtest.WithRateLimit(1, 100*time.Millisecond))
	r := runTerm(t, srv, terminals{}, "agents", "list", "--all", "--limit", "2")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `^botonom: the rate limit is spent: waiting (\d+ms|1s)…\n$`, r.stderr)

	// Each reason, as the client reports it.
	var stderr strings.Builder
	c := &cli{stderr: &stderr, terminal: func(io.Writer) (bool, int) { return false, 0 }}
	notes := c.rateLimitNotes()
	notes.Wait(context.Background(), botonom.Call{}, botonom.Wait{Reason: botonom.WaitRetryAfter, Duration: 12*time.Second + 300*time.Millisecond})
	notes.Wait(context.Background(), botonom.Call{}, botonom.Wait{Reason: botonom.WaitRateLimitReset, Duration: 1500 * time.Millisecond})
	notes.Wait(context.Background(), botonom.Call{}, botonom.Wait{Reason: botonom.WaitBackoff, Duration: time.Second})
	assert.Equal(t, "botonom: the API asked to retry later (Retry-After): waiting 12s…\n"+
		"botonom: the rate limit is spent: waiting 2s…\n", stderr.String())
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 95: "95", 999: "999", 1000: "1,000", 1250: "1,250", 1234567: "1,234,567", -1250: "-1,250"} {
		assert.Equal(t, want, thousands(n), n)
	}
}

func TestBarOf(t *testing.T) {
	assert.Equal(t, emptyBar, barOf(0, 100, 10))
	assert.Equal(t, "▏", barOf(1, 1_000_000, 10), "any use shows")
	assert.Equal(t, strings.Repeat(fullBlock, 10), barOf(100, 100, 10))
	assert.Equal(t, strings.Repeat(fullBlock, 5), barOf(50, 100, 10))
	assert.Equal(t, fullBlock+"▌", barOf(15, 100, 10))
}
