package main

import (
	"fmt"
	"slices"

	botonom "github.com/botonom/botonom-go"
)

// taskStatuses are the values of "agents tasks --status".
var taskStatuses = []botonom.TaskStatus{botonom.TaskStatusPending, botonom.TaskStatusRunning, botonom.TaskStatusCompleted, botonom.TaskStatusFailed}

func agentsTasksCommand() agentsCommand {
	fs := newFlagSet("agents tasks")
	out := addOutputFlags(fs)
	status := fs.String("status", "", "only tasks in this status: pending, running, completed or failed")
	after := fs.String("created-after", "", "only tasks created after this `time` (RFC 3339 or YYYY-MM-DD)")
	before := fs.String("created-before", "", "only tasks created before this `time` (RFC 3339 or YYYY-MM-DD)")
	pages := addPageFlags(fs, "tasks")
	return agentsCommand{fs: fs, required: []string{"AGENT_ID"}, run: func(c *cli, pos []string) int {
		format, err := out.format(c)
		if err == nil {
			err = pages.check()
		}
		if err != nil {
			return c.usageError(fs, err)
		}
		opts := botonom.ListTasksOptions{Status: botonom.TaskStatus(*status)}
		if *status != "" && !slices.Contains(taskStatuses, opts.Status) {
			return c.usageError(fs, fmt.Errorf("--status %q: want pending, running, completed or failed", *status))
		}
		if opts.CreatedAfter, err = parseTime("--created-after", *after); err != nil {
			return c.usageError(fs, err)
		}
		if opts.CreatedBefore, err = parseTime("--created-before", *before); err != nil {
			return c.usageError(fs, err)
		}
		opts.Limit = *pages.limit
		return c.withClient(fs, func(client *botonom.Client) error {
			tasks, err := list(c, pages, "tasks", func(cursor string) ([]*botonom.Task, *botonom.Response, error) {
				ctx, cancel := contextWithTimeout(c, apiTimeout)
				defer cancel()
				opts.Cursor = cursor
				return client.Agents.ListTasks(ctx, pos[0], &opts)
			})
			if err != nil {
				return err
			}
			if format == "json" {
				return writeJSON(c.stdout, tasks)
			}
			return c.tasksTable(tasks)
		})
	}}
}

// tasksTable prints tasks as a table, tokens right-aligned by hand
// (tabwriter aligns left).
func (c *cli) tasksTable(tasks []*botonom.Task) error {
	t := table{header: []string{"ID", "STATUS", "CREATED", "TOKENS"}}
	width := len("TOKENS")
	for _, task := range tasks {
		width = max(width, len(thousands(task.TokensUsed)))
	}
	t.header[3] = fmt.Sprintf("%*s", width, "TOKENS")
	for _, task := range tasks {
		t.rows = append(t.rows, []string{task.ID, string(task.Status), formatTime(task.CreatedAt), fmt.Sprintf("%*s", width, thousands(task.TokensUsed))})
	}
	return t.write(c.stdout, c.width(), c.colour())
}
