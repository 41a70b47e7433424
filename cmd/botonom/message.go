package main

import (
	"flag"
	"fmt"
	"strings"

	botonom "github.com/botonom/botonom-go"
)

const messageUsage = `Usage: botonom message AGENT_ID TEXT… [--metadata key=value]… [--json]

Sends TEXT (the remaining arguments, joined by spaces; put "--" before a
text that starts with "-") to the agent and prints the message as the API
answered: queued or delivered. The SDK's Idempotency-Key makes retries safe;
--idempotency-key sets your own, so that running the command twice sends
the message once.
Reads BOTONOM_API_TOKEN and, if set, BOTONOM_BASE_URL.
`

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
	out := addOutputFlags(fs)
	metadata := metadataFlag{}
	fs.Var(metadata, "metadata", "a `key=value` pair to attach (repeatable)")
	channel := fs.String("channel", "", "the message's channel (default api)")
	key := fs.String("idempotency-key", "", "the Idempotency-Key to send instead of a random one")
	pos, code, ok := c.parse(fs, messageUsage, args, []string{"AGENT_ID", "TEXT"}, -1)
	if !ok {
		return code
	}
	format, err := out.format(c)
	if err != nil {
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
	return c.withClient(fs, func(client *botonom.Client) error {
		ctx, cancel := contextWithTimeout(c, apiTimeout)
		defer cancel()
		msg, _, err := client.Agents.SendMessage(ctx, pos[0], req, opts...)
		if err != nil {
			return err
		}
		if format == "json" {
			return writeJSON(c.stdout, msg)
		}
		return table{
			header: []string{"ID", "STATUS", "AGENT", "CREATED"},
			rows:   [][]string{{msg.ID, string(msg.Status), msg.AgentID, formatTime(msg.CreatedAt)}},
		}.write(c.stdout, c.width(), c.colour())
	})
}
