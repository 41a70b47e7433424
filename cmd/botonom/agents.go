package main

import (
	"errors"
	"flag"
	"fmt"
	"regexp"
	"strings"
	"time"

	botonom "github.com/botonom/botonom-go"
)

// apiTimeout bounds a whole API command, retries included. --all over many
// pages gets it per page.
const apiTimeout = 60 * time.Second

const agentsUsage = `Usage:
  botonom agents list [--status online|offline] [--all | --limit N --cursor C] [--json]
  botonom agents get AGENT_ID [--json]
  botonom agents tasks AGENT_ID [--status S] [--created-after T] [--created-before T] [--all | --limit N --cursor C] [--json]
  botonom agents skills AGENT_ID [--install a,b] [--remove c] [--json]

list prints the workspace's agents: one page (--limit, the API's default
20), or every page with --all; get prints one agent; tasks prints an
agent's task history, newest first (times are RFC 3339 or a date such as
2026-02-01); skills installs and removes skills in one call and prints the
agent as it is then.
On a terminal, lists are tables and an agent is a set of aligned fields;
elsewhere, or with --json, the API's JSON (lists as a JSON array).
Reads BOTONOM_API_TOKEN and, if set, BOTONOM_BASE_URL.
`

// agentsSubcommands are the subcommands of "agents", in the order of the
// usage.
var agentsSubcommands = []string{"list", "get", "tasks", "skills"}

// extraClientOptions are added to the options of every client the command
// builds; tests shorten the retry waits with it.
var extraClientOptions []botonom.Option

// newClient builds the SDK's client from the environment.
func (c *cli) newClient() (*botonom.Client, error) {
	opts := append([]botonom.Option{
		botonom.WithUserAgent("botonom-cli/" + botonom.Version),
		botonom.WithCallTrace(c.rateLimitNotes()),
	}, extraClientOptions...)
	// Without a token, the error says to run "botonom mock" and paste its
	// export line.
	client, err := botonom.NewClientFromEnv(opts...)
	if err != nil {
		return nil, errors.New(envTerms.Replace(strings.TrimPrefix(err.Error(), "botonom: ")))
	}
	return client, nil
}

// envTerms says the SDK's set-up errors in the command's terms: the token
// and the base URL come from the environment, not from calls the person
// made.
var envTerms = strings.NewReplacer(
	"NewClientFromEnv: ", "",
	"NewClient: WithBaseURL: ", "BOTONOM_BASE_URL ",
	"NewClient: API token", "BOTONOM_API_TOKEN",
	"NewClient: ", "",
)

// withClient runs fn with a client from the environment and turns its
// error into the exit status: bad input the SDK refuses (nothing was sent)
// is a usage error of fs's command.
func (c *cli) withClient(fs *flag.FlagSet, fn func(*botonom.Client) error) int {
	client, err := c.newClient()
	if err != nil {
		return c.fail(err)
	}
	err = fn(client)
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, botonom.ErrInvalidArgument) && c.ctx.Err() == nil:
		return c.usageError(fs, errors.New(inFlagTerms(fs, err.Error())))
	}
	return c.fail(err)
}

// sdkOperation is the SDK's name of the call at the start of its
// ErrInvalidArgument text ("usage: ", "list tasks: "), which the command's
// name already says.
var sdkOperation = regexp.MustCompile(`^[a-z]+( [a-z]+)?: `)

// inFlagTerms says an ErrInvalidArgument of the SDK in the command's
// terms: without "botonom: " and the SDK's name of the call, and with each
// request field that is one of fs's flags named as that flag ("to is
// before from" is "--to is before --from"); quoted values are left alone.
func inFlagTerms(fs *flag.FlagSet, msg string) string {
	msg = sdkOperation.ReplaceAllString(strings.TrimPrefix(msg, "botonom: "), "")
	parts := strings.Split(msg, `"`)
	for i := 0; i < len(parts); i += 2 { // outside quotes
		parts[i] = fieldWord.ReplaceAllStringFunc(parts[i], func(w string) string {
			if name := strings.ReplaceAll(w, "_", "-"); fs.Lookup(name) != nil {
				return "--" + name
			}
			return w
		})
	}
	return strings.Join(parts, `"`)
}

var fieldWord = regexp.MustCompile(`[a-z_]+`)

// agentsCommand is one subcommand of "agents": its flags, and what it
// does with them once parsed.
type agentsCommand struct {
	fs       *flag.FlagSet
	required []string // positional arguments
	run      func(c *cli, pos []string) int
}

func agentsCommandFor(sub string) (agentsCommand, bool) {
	switch sub {
	case "list":
		return agentsListCommand(), true
	case "get":
		return agentsGetCommand(), true
	case "tasks":
		return agentsTasksCommand(), true
	case "skills":
		return agentsSkillsCommand(), true
	}
	return agentsCommand{}, false
}

func runAgents(c *cli, args []string) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fs := newFlagSet("agents")
		if _, code, ok := c.parse(fs, agentsUsage, args, nil, 0); !ok {
			if code == exitOK { // --help: the flags of every subcommand
				for _, sub := range agentsSubcommands {
					cmd, _ := agentsCommandFor(sub)
					printFlags(c.stdout, "Flags of agents "+sub+":", cmd.fs)
				}
			}
			return code
		}
		return c.usageError(fs, errors.New("missing subcommand: "+joinOr(agentsSubcommands)))
	}
	cmd, ok := agentsCommandFor(args[0])
	if !ok {
		return c.usageError(newFlagSet("agents"), fmt.Errorf("unknown subcommand %q: want %s", args[0], joinOr(agentsSubcommands)))
	}
	pos, code, ok := c.parse(cmd.fs, agentsUsage, args[1:], cmd.required, len(cmd.required))
	if !ok {
		return code
	}
	return cmd.run(c, pos)
}

// pageFlags are --all, --limit and --cursor of a list.
type pageFlags struct {
	all    *bool
	limit  *int
	cursor *string
}

func addPageFlags(fs *flag.FlagSet, noun string) pageFlags {
	return pageFlags{
		all:    fs.Bool("all", false, "follow the cursors: every page of "+noun+", not only the first"),
		limit:  fs.Int("limit", 0, "`N` "+noun+" per page, 1 to 100 (the API's default: 20)"),
		cursor: fs.String("cursor", "", "start after this `cursor` (printed on stderr when there are more)"),
	}
}

// check refuses --all with --cursor: --all starts at the first page.
func (p pageFlags) check() error {
	if *p.all && *p.cursor != "" {
		return errors.New("--all and --cursor contradict each other (--all starts at the first page)")
	}
	return nil
}

// list fetches one page, or every page with --all (counting on stderr on
// a terminal). After one page that has more, stderr says how to go on.
func list[T any](c *cli, p pageFlags, noun string, page func(cursor string) ([]T, *botonom.Response, error)) ([]T, error) {
	if *p.all {
		return fetchAll(c.newProgress(noun), page)
	}
	items, resp, err := page(*p.cursor)
	if err != nil {
		return nil, err
	}
	if items == nil {
		items = []T{}
	}
	if resp != nil && resp.NextCursor != "" {
		fmt.Fprintf(c.stderr, "botonom: more %s: --all for every page, or --cursor %s for the next\n", noun, resp.NextCursor)
	}
	return items, nil
}

func agentsListCommand() agentsCommand {
	fs := newFlagSet("agents list")
	out := addOutputFlags(fs)
	status := fs.String("status", "", "only agents in this status: online or offline")
	pages := addPageFlags(fs, "agents")
	return agentsCommand{fs: fs, run: func(c *cli, _ []string) int {
		format, err := out.format(c)
		if err == nil {
			err = pages.check()
		}
		if err != nil {
			return c.usageError(fs, err)
		}
		opts := botonom.ListAgentsOptions{Status: botonom.AgentStatus(*status)}
		if *status != "" && opts.Status != botonom.AgentStatusOnline && opts.Status != botonom.AgentStatusOffline {
			return c.usageError(fs, fmt.Errorf("--status %q: want online or offline", *status))
		}
		opts.Limit = *pages.limit
		return c.withClient(fs, func(client *botonom.Client) error {
			agents, err := list(c, pages, "agents", func(cursor string) ([]*botonom.Agent, *botonom.Response, error) {
				ctx, cancel := contextWithTimeout(c, apiTimeout)
				defer cancel()
				opts.Cursor = cursor
				return client.Agents.List(ctx, &opts)
			})
			if err != nil {
				return err
			}
			if format == "json" {
				return writeJSON(c.stdout, agents)
			}
			return c.agentsTable(agents)
		})
	}}
}

func agentsGetCommand() agentsCommand {
	fs := newFlagSet("agents get")
	out := addOutputFlags(fs)
	return agentsCommand{fs: fs, required: []string{"AGENT_ID"}, run: func(c *cli, pos []string) int {
		format, err := out.format(c)
		if err != nil {
			return c.usageError(fs, err)
		}
		return c.withClient(fs, func(client *botonom.Client) error {
			ctx, cancel := contextWithTimeout(c, apiTimeout)
			defer cancel()
			agent, _, err := client.Agents.Get(ctx, pos[0])
			if err != nil {
				return err
			}
			return c.printAgent(format, agent)
		})
	}}
}

func agentsSkillsCommand() agentsCommand {
	fs := newFlagSet("agents skills")
	out := addOutputFlags(fs)
	install := fs.String("install", "", "skills to install, comma-separated (`a,b`)")
	remove := fs.String("remove", "", "skills to remove, comma-separated (`c,d`)")
	return agentsCommand{fs: fs, required: []string{"AGENT_ID"}, run: func(c *cli, pos []string) int {
		format, err := out.format(c)
		if err != nil {
			return c.usageError(fs, err)
		}
		req := &botonom.UpdateSkillsRequest{Install: splitList(*install), Remove: splitList(*remove)}
		return c.withClient(fs, func(client *botonom.Client) error {
			ctx, cancel := contextWithTimeout(c, apiTimeout)
			defer cancel()
			agent, _, err := client.Agents.UpdateSkills(ctx, pos[0], req)
			if err != nil {
				return err
			}
			return c.printAgent(format, agent)
		})
	}}
}

// splitList splits a comma-separated flag value; "" is no item, and an
// empty item ("a,,b") is kept for the SDK to refuse.
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	items := strings.Split(s, ",")
	for i := range items {
		items[i] = strings.TrimSpace(items[i])
	}
	return items
}

// agentsTable prints agents as a table; names and skills give up width on
// a narrow terminal.
func (c *cli) agentsTable(agents []*botonom.Agent) error {
	t := table{header: []string{"ID", "NAME", "STATUS", "SKILLS"}, shrink: []int{3, 1}}
	for _, a := range agents {
		t.rows = append(t.rows, []string{a.ID, a.Name, string(a.Status), strings.Join(a.Skills, ", ")})
	}
	return t.write(c.stdout, c.width(), c.colour())
}

// printAgent prints one agent as JSON or as aligned fields.
func (c *cli) printAgent(format string, a *botonom.Agent) error {
	if format == "json" {
		return writeJSON(c.stdout, a)
	}
	skills := strings.Join(a.Skills, ", ")
	if skills == "" {
		skills = "none"
	}
	return writeFields(c.stdout, []field{
		{"ID", a.ID},
		{"Name", a.Name},
		{"Description", a.Description},
		{"Status", string(a.Status)},
		{"Skills", skills},
		{"Created", formatTime(a.CreatedAt)},
		{"Updated", formatTime(a.UpdatedAt)},
	}, c.colour())
}

// formatTime prints a time for people: UTC, to the minute.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}
