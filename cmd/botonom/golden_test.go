package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	botonom "github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/botonomtest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// goldenNow is the fixed clock of the golden files' server.
var goldenNow = time.Date(2026, 2, 20, 12, 0, 0, 0, time.UTC)

// goldenServer is a fake API with fixed data and a fixed clock: the
// sample agents and a task history over the week before goldenNow, with
// days of no use.
func goldenServer(t *testing.T) *botonomtest.Server {
	t.Helper()
	day := func(d, h int) time.Time { return time.Date(2026, 2, d, h, 0, 0, 0, time.UTC) }
	done := func(tm time.Time) *time.Time { tm = tm.Add(2 * time.Minute); return &tm }
	var tasks []*botonom.Task
	add := func(id, agent string, status botonom.TaskStatus, created time.Time, tokens int64) {
		task := &botonom.Task{ID: id, AgentID: agent, MessageID: "msg_" + id[4:], Status: status,
			Description: "Task " + id, TokensUsed: tokens, CreatedAt: created}
		if status == botonom.TaskStatusCompleted || status == botonom.TaskStatusFailed {
			task.CompletedAt = done(created)
			task.Result = "done"
		}
		tasks = append(tasks, task)
	}
	add("tsk_g01", botonomtest.SampleAgentID, botonom.TaskStatusCompleted, day(13, 9), 1250)
	add("tsk_g02", botonomtest.SampleAgentID, botonom.TaskStatusCompleted, day(13, 15), 830)
	add("tsk_g03", botonomtest.SupportAgentID, botonom.TaskStatusCompleted, day(14, 10), 4210)
	add("tsk_g04", botonomtest.SampleAgentID, botonom.TaskStatusFailed, day(16, 11), 95)
	add("tsk_g05", botonomtest.SampleAgentID, botonom.TaskStatusCompleted, day(17, 8), 12875)
	add("tsk_g06", botonomtest.BillingAgentID, botonom.TaskStatusCompleted, day(17, 14), 2300)
	add("tsk_g07", botonomtest.SampleAgentID, botonom.TaskStatusCompleted, day(19, 16), 640)
	add("tsk_g08", botonomtest.SampleAgentID, botonom.TaskStatusPending, day(20, 11), 0)
	return botonomtest.NewServer(t, botonomtest.WithClock(func() time.Time { return goldenNow }),
		botonomtest.WithTasks(tasks...))
}

// golden compares got with testdata/name, or rewrites the file with
// -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -run %s -update to write it", t.Name())
	assert.Equal(t, string(want), got, "golden file %s (go test -update rewrites it)", path)
}

// The JSON of the four commands that printed JSON before tables existed
// is byte-identical to what they printed then (the goldens under
// testdata/json were written by that version).
func TestGolden_JSONIsUnchanged(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"agents-list.json", []string{"agents", "list"}},
		{"agents-get.json", []string{"agents", "get", botonomtest.SampleAgentID}},
		{"message.json", []string{"message", botonomtest.SampleAgentID, "Book a table for 4 at 7pm tomorrow", "--metadata", "customer_id=cust_456"}},
		{"usage.json", []string{"usage", "--from", "2026-02-13", "--to", "2026-02-21", "--granularity", "day"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := goldenServer(t)
			r := runIn(t, srv, "", tc.args...)
			require.Equal(t, 0, r.code, r.stderr)
			golden(t, filepath.Join("json", tc.name), r.stdout)
		})
	}
}

// terminals says which of stdout and stderr a test's command sees as a
// terminal, and its width.
type terminals struct {
	stdout, stderr bool
	width          int
}

// runTerm runs the command in this process against srv, as runIn does,
// with the terminal check answering as term says.
func runTerm(t *testing.T, srv *botonomtest.Server, term terminals, args ...string) result {
	t.Helper()
	runIn(t, srv, "") // the environment of srv
	var stdout, stderr bytes.Buffer
	c := &cli{ctx: context.Background(), stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr,
		terminal: func(w io.Writer) (bool, int) {
			if (w == &stdout && term.stdout) || (w == &stderr && term.stderr) {
				return true, term.width
			}
			return false, 0
		}}
	code := c.run(args)
	return result{stdout.String(), stderr.String(), code}
}

// What a person sees on a terminal: every table, the fields of one
// record, and the usage chart, at a fixed width, without colour.
func TestGolden_Terminal(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	for _, tc := range []struct {
		name  string
		width int
		args  []string
	}{
		{"agents-list.txt", 100, []string{"agents", "list"}},
		{"agents-list-narrow.txt", 34, []string{"agents", "list"}},
		{"agents-get.txt", 100, []string{"agents", "get", botonomtest.SampleAgentID}},
		{"agents-tasks.txt", 100, []string{"agents", "tasks", botonomtest.SampleAgentID}},
		{"agents-skills.txt", 100, []string{"agents", "skills", botonomtest.SampleAgentID, "--install", "weather,maps", "--remove", "calendar"}},
		{"message.txt", 100, []string{"message", botonomtest.SampleAgentID, "Book a table for 4 at 7pm tomorrow"}},
		{"webhooks-register.txt", 100, []string{"webhooks", "register", "--url", "https://example.com/botonom/webhook", "--events", "agent.task.completed,agent.status.changed", "--secret", "whsec_golden_0123456789"}},
		{"usage-chart.txt", 80, []string{"usage", "--from", "2026-02-13", "--to", "2026-02-21", "--granularity", "day"}},
		{"usage-chart-narrow.txt", 40, []string{"usage", "--from", "2026-02-13", "--to", "2026-02-21", "--granularity", "day"}},
		{"usage-chart-hour.txt", 80, []string{"usage", "--from", "2026-02-17T06:00:00Z", "--to", "2026-02-17T16:00:00Z", "--granularity", "hour"}},
		{"usage-table.txt", 100, []string{"usage", "--from", "2026-02-13", "--to", "2026-02-21", "--granularity", "day", "--output", "table"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := goldenServer(t)
			r := runTerm(t, srv, terminals{stdout: true, width: tc.width}, tc.args...)
			require.Equal(t, 0, r.code, r.stderr)
			assert.Empty(t, r.stderr)
			golden(t, filepath.Join("terminal", tc.name), r.stdout)
			for _, line := range strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n") {
				assert.LessOrEqual(t, utf8.RuneCountInString(line), max(tc.width, 40), "fits the terminal: %q", line)
			}
		})
	}
}

// The README's command section shows a table and the chart as they print.
func TestREADMEShowsTheTableAndChartAsTheyPrint(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	for _, name := range []string{"agents-list.txt", "usage-chart.txt"} {
		want, err := os.ReadFile(filepath.Join("testdata", "terminal", name))
		require.NoError(t, err)
		assert.Contains(t, string(readme), "```\n"+string(want)+"```\n", name)
	}
}
