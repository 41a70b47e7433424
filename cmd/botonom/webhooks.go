package main

import (
	"errors"
	"fmt"
	"strings"

	botonom "github.com/botonom/botonom-go"
)

const webhooksUsage = `Usage:
  botonom webhooks register --url URL --events TYPE,TYPE… [--secret SECRET] [--json]

register subscribes URL to the event types (see "botonom trigger --help" for
them). Deliveries are signed with SECRET; without --secret the command
makes a random one. The API never shows the secret again, so the command
prints the one it made, once: store it where your handler reads it
(BOTONOM_WEBHOOK_SECRET); a secret given with --secret is not printed back.
With --json, the API's JSON goes to stdout and a secret the command made
goes to stderr.
Reads BOTONOM_API_TOKEN and, if set, BOTONOM_BASE_URL.
`

func runWebhooks(c *cli, args []string) int {
	fs := newFlagSet("webhooks register")
	out := addOutputFlags(fs)
	target := fs.String("url", "", "the `URL` deliveries are POSTed to (http or https)")
	events := fs.String("events", "", "the event `types` to deliver, comma-separated")
	secret := fs.String("secret", "", "the `secret` that signs deliveries (default: a random whsec_…)")
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		top := newFlagSet("webhooks")
		if _, code, ok := c.parse(top, webhooksUsage, args, nil, 0); !ok {
			if code == exitOK {
				printFlags(c.stdout, "Flags of webhooks register:", fs)
			}
			return code
		}
		return c.usageError(top, errors.New("missing subcommand: register"))
	}
	if args[0] != "register" {
		return c.usageError(newFlagSet("webhooks"), fmt.Errorf("unknown subcommand %q: want register", args[0]))
	}
	if _, code, ok := c.parse(fs, webhooksUsage, args[1:], nil, 0); !ok {
		return code
	}
	format, err := out.format(c)
	switch {
	case err != nil:
	case *target == "":
		err = errors.New("--url is required")
	case *events == "":
		err = errors.New("--events is required")
	}
	if err != nil {
		return c.usageError(fs, err)
	}
	req := &botonom.RegisterWebhookRequest{URL: *target, Secret: *secret}
	for _, e := range splitList(*events) {
		req.Events = append(req.Events, botonom.EventType(e))
	}
	made := req.Secret == ""
	if made {
		req.Secret = newSecret()
	}
	return c.withClient(fs, func(client *botonom.Client) error {
		ctx, cancel := contextWithTimeout(c, apiTimeout)
		defer cancel()
		hook, _, err := client.Webhooks.Register(ctx, req)
		if err != nil {
			return err
		}
		if format == "json" {
			if made {
				fmt.Fprintf(c.stderr, "secret: %s\n%s\n", req.Secret, storeSecretLine)
			}
			return writeJSON(c.stdout, hook)
		}
		types := make([]string, len(hook.Events))
		for i, e := range hook.Events {
			types[i] = string(e)
		}
		fields := []field{
			{"ID", hook.ID},
			{"URL", hook.URL},
			{"Events", strings.Join(types, ", ")},
			{"Created", formatTime(hook.CreatedAt)},
			{"Secret", "the one given with --secret"}, // not printed back, as with JSON
		}
		if made {
			fields[len(fields)-1].value = req.Secret
		}
		if err := writeFields(c.stdout, fields, c.colour()); err != nil || !made {
			return err
		}
		_, err = fmt.Fprintln(c.stdout, storeSecretLine)
		return err
	})
}

// storeSecretLine follows the one showing of a webhook's secret.
const storeSecretLine = "Store this secret now (e.g. as BOTONOM_WEBHOOK_SECRET): the API never shows it again."

// newSecret returns a random webhook secret in the API's usual form.
func newSecret() string { return "whsec_" + randomHex(24) }
