package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	botonom "github.com/botonom/botonom-go"
)

// apiTimeout bounds a whole API command, retries included.
const apiTimeout = 60 * time.Second

const agentsUsage = `Usage:
  botonom agents list [--status online|offline] [--output json|table]
  botonom agents get AGENT_ID [--output json|table]

list prints every agent of the workspace (following pages); get prints one.
Output is indented JSON in the API's shape, or a table with --output table.
Reads BOTONOM_API_TOKEN and, if set, BOTONOM_BASE_URL.
`

const messageUsage = `Usage: botonom message AGENT_ID TEXT… [--metadata key=value]… [--output json|table]

Sends TEXT (the remaining arguments, joined by spaces; put "--" before a
text that starts with "-") to the agent and prints the message as the API
answered: queued or delivered. The SDK's Idempotency-Key makes retries safe;
--idempotency-key sets your own, so that running the command twice sends
the message once.
Reads BOTONOM_API_TOKEN and, if set, BOTONOM_BASE_URL.
`

// extraClientOptions are added to the options of every client the command
// builds; tests shorten the retry waits with it.
var extraClientOptions []botonom.Option

// newClient builds the SDK's client from the environment.
func (c *cli) newClient() (*botonom.Client, error) {
	opts := append([]botonom.Option{botonom.WithUserAgent("botonom-cli/" + botonom.Version)}, extraClientOptions...)
	// Without a token, the error says to run "botonom mock" and paste its
	// export line.
	return botonom.NewClientFromEnv(opts...)
}

// agentsFlags returns the flag set of "agents list" (with --status) or of
// "agents get".
func agentsFlags(sub string) (fs *flag.FlagSet, output, status *string) {
	fs = newFlagSet("agents " + sub)
	output = outputFlag(fs)
	if sub == "list" {
		status = fs.String("status", "", "only agents in this status: online or offline")
	}
	return fs, output, status
}

func runAgents(c *cli, args []string) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fs := newFlagSet("agents")
		if _, code, ok := c.parse(fs, agentsUsage, args, nil, 0); !ok {
			if code == exitOK { // --help: the flags of both subcommands
				for _, sub := range []string{"list", "get"} {
					sfs, _, _ := agentsFlags(sub)
					printFlags(c.stdout, "Flags of agents "+sub+":", sfs)
				}
			}
			return code
		}
		return c.usageError(fs, errors.New("missing subcommand: list or get"))
	}
	sub := args[0]
	fs, output, status := agentsFlags(sub)
	switch sub {
	case "list":
		if _, code, ok := c.parse(fs, agentsUsage, args[1:], nil, 0); !ok {
			return code
		}
		if err := checkOutput(*output); err != nil {
			return c.usageError(fs, err)
		}
		opts := &botonom.ListAgentsOptions{Status: botonom.AgentStatus(*status)}
		if *status != "" && opts.Status != botonom.AgentStatusOnline && opts.Status != botonom.AgentStatusOffline {
			return c.usageError(fs, fmt.Errorf("--status %q: want online or offline", *status))
		}
		return c.withClient(func(client *botonom.Client) error {
			ctx, cancel := contextWithTimeout(c, apiTimeout)
			defer cancel()
			agents := []*botonom.Agent{}
			for agent, err := range client.Agents.ListAll(ctx, opts) {
				if err != nil {
					return err
				}
				agents = append(agents, agent)
			}
			return c.printAgents(*output, agents, agents)
		})
	case "get":
		pos, code, ok := c.parse(fs, agentsUsage, args[1:], []string{"AGENT_ID"}, 1)
		if !ok {
			return code
		}
		if err := checkOutput(*output); err != nil {
			return c.usageError(fs, err)
		}
		return c.withClient(func(client *botonom.Client) error {
			ctx, cancel := contextWithTimeout(c, apiTimeout)
			defer cancel()
			agent, _, err := client.Agents.Get(ctx, pos[0])
			if err != nil {
				return err
			}
			return c.printAgents(*output, agent, []*botonom.Agent{agent})
		})
	}
	return c.usageError(newFlagSet("agents"), fmt.Errorf("unknown subcommand %q: want list or get", sub))
}

// withClient runs fn with a client from the environment and turns its
// error into the exit status.
func (c *cli) withClient(fn func(*botonom.Client) error) int {
	client, err := c.newClient()
	if err == nil {
		err = fn(client)
	}
	if err != nil {
		return c.fail(err)
	}
	return exitOK
}

// printAgents prints v as JSON, or agents as a table.
func (c *cli) printAgents(format string, v any, agents []*botonom.Agent) error {
	if format == "json" {
		return writeJSON(c.stdout, v)
	}
	rows := make([][]string, len(agents))
	for i, a := range agents {
		rows[i] = []string{a.ID, a.Name, string(a.Status), strings.Join(a.Skills, ","), a.UpdatedAt.UTC().Format(time.RFC3339)}
	}
	return writeTable(c.stdout, []string{"ID", "NAME", "STATUS", "SKILLS", "UPDATED"}, rows)
}

// metadataFlag collects repeated --metadata key=value.
type metadataFlag map[string]string

func (m metadataFlag) String() string { return "" }

func (m metadataFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q is not key=value", s)
	}
	m[k] = v
	return nil
}

var _ flag.Value = metadataFlag(nil)

func runMessage(c *cli, args []string) int {
	fs := newFlagSet("message")
	output := outputFlag(fs)
	metadata := metadataFlag{}
	fs.Var(metadata, "metadata", "a `key=value` pair to attach (repeatable)")
	channel := fs.String("channel", "", "the message's channel (default api)")
	key := fs.String("idempotency-key", "", "the Idempotency-Key to send instead of a random one")
	pos, code, ok := c.parse(fs, messageUsage, args, []string{"AGENT_ID", "TEXT"}, -1)
	if !ok {
		return code
	}
	if err := checkOutput(*output); err != nil {
		return c.usageError(fs, err)
	}
	req := &botonom.SendMessageRequest{
		Content: strings.Join(pos[1:], " "),
		Channel: *channel,
	}
	var opts []botonom.Option
	if *key != "" {
		opts = append(opts, botonom.WithIdempotencyKey(*key))
	}
	if len(metadata) > 0 {
		req.Metadata = metadata
	}
	return c.withClient(func(client *botonom.Client) error {
		ctx, cancel := contextWithTimeout(c, apiTimeout)
		defer cancel()
		msg, _, err := client.Agents.SendMessage(ctx, pos[0], req, opts...)
		if err != nil {
			return err
		}
		if *output == "json" {
			return writeJSON(c.stdout, msg)
		}
		return writeTable(c.stdout, []string{"ID", "STATUS", "AGENT", "CREATED"},
			[][]string{{msg.ID, string(msg.Status), msg.AgentID, msg.CreatedAt.UTC().Format(time.RFC3339)}})
	})
}
