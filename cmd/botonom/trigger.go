package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	botonom "github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/botonomtest"
)

const triggerUsage = `Usage: botonom trigger EVENT_TYPE --url URL --secret SECRET [--data FILE.json]

Sends one webhook delivery to URL as the API would: a POST of the event
envelope {"id": "evt_…", "type": EVENT_TYPE, "created_at": …, "data": …},
signed now with SECRET in X-Botonom-Signature. The data is a realistic
sample for the event type, or the JSON object in FILE ("-" for stdin).
Prints the status the handler answered; exits 1 on an answer other than
2xx (redirects are not followed) or when the handler cannot be reached.

Event types:
  %s

The secret may come from BOTONOM_WEBHOOK_SECRET instead of --secret.
`

func triggerHelp() string {
	return fmt.Sprintf(triggerUsage, strings.Join(eventTypeNames(), "\n  "))
}

func eventTypeNames() []string {
	types := botonom.EventTypes()
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = string(t)
	}
	return names
}

func runTrigger(c *cli, args []string) int {
	fs := newFlagSet("trigger")
	target := fs.String("url", "", "the webhook endpoint to deliver to (http or https)")
	secret := fs.String("secret", os.Getenv("BOTONOM_WEBHOOK_SECRET"), "the webhook `secret` to sign with (default $BOTONOM_WEBHOOK_SECRET)")
	dataFile := fs.String("data", "", "JSON `file` with the event's data instead of the sample (\"-\" for stdin)")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for the handler's answer")
	usage := triggerHelp()
	pos, code, ok := c.parse(fs, usage, args, 1, 1)
	if !ok {
		return code
	}
	eventType := botonom.EventType(pos[0])
	if !eventType.Known() {
		return c.usageError(fs, usage, fmt.Errorf("unknown event type %q; want one of: %s", eventType, strings.Join(eventTypeNames(), ", ")))
	}
	u, err := url.Parse(*target)
	switch {
	case *target == "":
		return c.usageError(fs, usage, fmt.Errorf("--url is required"))
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return c.usageError(fs, usage, fmt.Errorf("--url %q: want an absolute http or https URL", *target))
	case *secret == "":
		return c.usageError(fs, usage, fmt.Errorf("--secret (or BOTONOM_WEBHOOK_SECRET) is required"))
	case *timeout <= 0:
		return c.usageError(fs, usage, fmt.Errorf("--timeout %s: want a positive duration", *timeout))
	}

	var data json.RawMessage
	if *dataFile != "" {
		b, err := c.readInput(*dataFile)
		if err != nil {
			return c.fail(fmt.Errorf("--data: %w", err))
		}
		if !json.Valid(b) {
			return c.fail(fmt.Errorf("--data %s: not valid JSON", *dataFile))
		}
		data = b
	} else {
		sample, err := botonomtest.SampleEventData(eventType)
		if err != nil {
			return c.fail(err)
		}
		if data, err = json.Marshal(sample); err != nil {
			return c.fail(err)
		}
	}
	now := time.Now()
	ev := &botonom.Event{ID: newEventID(), Type: eventType, CreatedAt: now.UTC().Truncate(time.Second), Data: data}

	ctx, cancel := contextWithTimeout(c, *timeout)
	defer cancel()
	hc := &http.Client{
		// A webhook endpoint that redirects is misconfigured: the API
		// would not follow it either, so the 3xx is the answer.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	fmt.Fprintf(c.stdout, "POST %s: %s %s (signed)\n", *target, ev.Type, ev.ID)
	resp, err := botonomtest.DeliverEvent(ctx, hc, *target, *secret, ev, now)
	if err != nil {
		return c.fail(fmt.Errorf("deliver %s: %w", ev.ID, err))
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	line := fmt.Sprintf("handler answered %s", resp.Status)
	if text := strings.Join(strings.Fields(string(answer)), " "); text != "" {
		if len(text) > 200 {
			text = text[:200] + "…"
		}
		line += ": " + text
	}
	fmt.Fprintln(c.stdout, line)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		fmt.Fprintf(c.stderr, "botonom: delivery %s refused: %s\n", ev.ID, resp.Status)
		return exitFailure
	}
	return exitOK
}

// newEventID returns a random event ID in the API's form, so that a
// receiver that deduplicates by ID sees each trigger as a new event.
func newEventID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "evt_" + hex.EncodeToString(b[:])
}
