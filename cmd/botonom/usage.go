package main

import (
	"fmt"
	"strconv"
	"time"

	botonom "github.com/botonom/botonom-go"
)

const usageUsage = `Usage: botonom usage [--from TIME] [--to TIME] [--agent ID] [--granularity hour|day|month] [--output chart|table|json]

Prints the workspace's token usage between --from and --to, in total and
per period: on a terminal as a bar chart (one bar per period, a dot for a
period with no use, the totals under it), elsewhere or with --json as the
API's JSON; --output table prints the figures as a table. Times are
RFC 3339 ("2026-02-01T00:00:00Z") or a date ("2026-02-01", midnight UTC);
without them the API chooses (the current period and those before it).
--agent restricts it to one agent.
Reads BOTONOM_API_TOKEN and, if set, BOTONOM_BASE_URL.
`

func runUsage(c *cli, args []string) int {
	fs := newFlagSet("usage")
	out := addOutputFlags(fs, "chart", "table")
	from := fs.String("from", "", "start of the span, RFC 3339 or YYYY-MM-DD")
	to := fs.String("to", "", "end of the span, not included (--to 2026-02-21 ends with the 20th), RFC 3339 or YYYY-MM-DD")
	agent := fs.String("agent", "", "only this agent's usage (agent `ID`)")
	granularity := fs.String("granularity", "", "period length: hour, day or month (the API's default: day)")
	if _, code, ok := c.parse(fs, usageUsage, args, nil, 0); !ok {
		return code
	}
	format, err := out.format(c)
	if err != nil {
		return c.usageError(fs, err)
	}
	opts := &botonom.UsageOptions{AgentID: *agent, Granularity: botonom.Granularity(*granularity)}
	switch opts.Granularity {
	case "", botonom.GranularityHour, botonom.GranularityDay, botonom.GranularityMonth:
	default:
		return c.usageError(fs, fmt.Errorf("--granularity %q: want hour, day or month", *granularity))
	}
	if opts.From, err = parseTime("--from", *from); err != nil {
		return c.usageError(fs, err)
	}
	if opts.To, err = parseTime("--to", *to); err != nil {
		return c.usageError(fs, err)
	}
	return c.withClient(fs, func(client *botonom.Client) error {
		ctx, cancel := contextWithTimeout(c, apiTimeout)
		defer cancel()
		usage, _, err := client.Analytics.Usage(ctx, opts)
		if err != nil {
			return err
		}
		switch format {
		case "json":
			return writeJSON(c.stdout, usage)
		case "chart":
			return writeChart(c.stdout, usage, c.width(), c.colour())
		}
		row := func(label string, u botonom.UsageCounts) []string {
			return []string{label, itoa(u.Requests), itoa(u.InputTokens), itoa(u.OutputTokens), itoa(u.TotalTokens)}
		}
		rows := make([][]string, 0, len(usage.Data)+1)
		for _, p := range usage.Data {
			rows = append(rows, row(p.PeriodStart.UTC().Format(time.RFC3339), p.UsageCounts))
		}
		rows = append(rows, row("TOTAL", usage.Total))
		return table{header: []string{"PERIOD START", "REQUESTS", "INPUT TOKENS", "OUTPUT TOKENS", "TOTAL TOKENS"}, rows: rows}.write(c.stdout, c.width(), c.colour())
	})
}

// parseTime parses RFC 3339 or a date (midnight UTC); "" is the zero time.
func parseTime(flagName, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%s %q: want RFC 3339 (2026-02-01T00:00:00Z) or a date (2026-02-01)", flagName, s)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
