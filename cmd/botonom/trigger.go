package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	botonom "github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/botonomtest"
)

const triggerUsage = `Usage: botonom trigger EVENT_TYPE --url URL [--secret SECRET] [--data FILE.json] [--repeat N [--concurrent]]

Sends one webhook delivery to URL as the API would: a POST of the event
envelope {"id": "evt_…", "type": EVENT_TYPE, "created_at": …, "data": …},
signed now with SECRET in X-Botonom-Signature. The data is a realistic
sample for the event type, or the JSON object in FILE ("-" for stdin).
Prints the status the handler answered; exits 1 on an answer other than
2xx (redirects are not followed) or when the handler cannot be reached.

--repeat N sends that same delivery (same event id, same body, same
signature) N times, one after the other, or all at once with --concurrent,
as the API may redeliver: a receiver that de-duplicates runs its work once
and answers 200 to the copies (or 409 with Retry-After to a copy that
arrives while the first is in flight: held as a duplicate, which is a
success). Prints each answer and a count of the statuses.

Event types:
  %s

The secret may come from BOTONOM_WEBHOOK_SECRET instead of --secret; with
neither, trigger signs with the test secret that "botonom mock" exports,
` + defaultTestSecret + `.
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
	secretValue := secretFlag(fs, "the webhook `secret` to sign with", defaultTestSecret)
	dataFile := fs.String("data", "", "JSON `file` with the event's data instead of the sample (\"-\" for stdin)")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for the handler's answer")
	repeat := fs.Int("repeat", 1, "send the same delivery `N` times (to test a receiver's de-duplication)")
	concurrent := fs.Bool("concurrent", false, "with --repeat, send the copies all at once")
	usage := triggerHelp()
	pos, code, ok := c.parse(fs, usage, args, []string{"EVENT_TYPE"}, 1)
	if !ok {
		return code
	}
	eventType := botonom.EventType(pos[0])
	if !eventType.Known() {
		return c.usageError(fs, fmt.Errorf("unknown event type %q; want one of: %s", eventType, strings.Join(eventTypeNames(), ", ")))
	}
	u, err := url.Parse(*target)
	switch {
	case *target == "":
		return c.usageError(fs, fmt.Errorf("--url is required"))
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return c.usageError(fs, fmt.Errorf("--url %q: want an absolute http or https URL", *target))
	case *timeout <= 0:
		return c.usageError(fs, fmt.Errorf("--timeout %s: want a positive duration", *timeout))
	case *repeat < 1 || *repeat > maxRepeat:
		return c.usageError(fs, fmt.Errorf("--repeat %d: want 1 to %d", *repeat, maxRepeat))
	}

	secret := resolveSecret(*secretValue, defaultTestSecret)
	if secret == defaultTestSecret && *secretValue == "" {
		fmt.Fprintf(c.stderr, "botonom trigger: signing with the test secret %s (no --secret, %s not set)\n", defaultTestSecret, secretEnv)
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
	fmt.Fprintf(c.stdout, "POST %s: %s %s (signed)\n", u.Redacted(), ev.Type, ev.ID)
	if *repeat == 1 {
		a := deliver(ctx, hc, *target, secret, ev, now)
		if a.err != nil {
			return c.deliveryFailed(fmt.Errorf("deliver %s: %w", ev.ID, a.err), u)
		}
		fmt.Fprintln(c.stdout, a.line)
		if !a.ok() {
			fmt.Fprintf(c.stderr, "botonom: delivery %s refused: %s\n", ev.ID, a.status)
			return exitFailure
		}
		return exitOK
	}

	answers := make([]triggerAnswer, *repeat)
	if *concurrent {
		var wg sync.WaitGroup
		for i := range answers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				answers[i] = deliver(ctx, hc, *target, secret, ev, now)
			}()
		}
		wg.Wait()
	} else {
		for i := range answers {
			answers[i] = deliver(ctx, hc, *target, secret, ev, now)
		}
	}
	for i, a := range answers {
		if a.err != nil {
			fmt.Fprintf(c.stdout, "copy %d: %v\n", i+1, a.err)
		} else {
			fmt.Fprintf(c.stdout, "copy %d: %s\n", i+1, a.line)
		}
	}
	fmt.Fprintf(c.stdout, "%d copies of %s: %s\n", *repeat, ev.ID, statusCounts(answers))
	processed, held, failed := 0, 0, 0
	var firstErr error
	for _, a := range answers {
		switch {
		case a.ok():
			processed++
		case a.held():
			held++
		default:
			failed++
			if firstErr == nil {
				firstErr = a.err
			}
		}
	}
	switch {
	case failed > 0:
		if code, ok := c.interrupted(); ok {
			return code
		}
		fmt.Fprintf(c.stderr, "botonom: %d of %d copies of %s were not answered 2xx (nor 409 with Retry-After, a duplicate held)\n", failed, *repeat, ev.ID)
		c.refusedHint(firstErr, u)
		return exitFailure
	case processed == 0:
		fmt.Fprintf(c.stderr, "botonom: no copy of %s was processed: all %d were held as duplicates\n", ev.ID, held)
		return exitFailure
	case held > 0:
		fmt.Fprintf(c.stdout, "%d processed, %d held as duplicates (409 with Retry-After: a copy in flight)\n", processed, held)
	}
	return exitOK
}

// statusCounts counts the answers per status, in the order of the status
// codes ("1 × 200 OK, 3 × 409 Conflict"), errors last.
func statusCounts(answers []triggerAnswer) string {
	type key struct {
		code   int
		status string
	}
	counts := map[key]int{}
	for _, a := range answers {
		k := key{a.code, a.status}
		if a.err != nil {
			k = key{math.MaxInt, "error"}
		}
		counts[k]++
	}
	keys := slices.SortedFunc(maps.Keys(counts), func(a, b key) int {
		return cmp.Or(cmp.Compare(a.code, b.code), strings.Compare(a.status, b.status))
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d × %s", counts[k], k.status)
	}
	return strings.Join(parts, ", ")
}

// deliveryFailed reports a delivery that reached no handler, with a hint
// about --url (not the API commands' BOTONOM_BASE_URL) when nothing
// listens there.
func (c *cli) deliveryFailed(err error, target *url.URL) int {
	if code, ok := c.interrupted(); ok {
		return code
	}
	fmt.Fprintf(c.stderr, "botonom: %s\n", strings.TrimPrefix(err.Error(), "botonom: "))
	c.refusedHint(err, target)
	return exitFailure
}

// refusedHint says, when err is a refused connection, that nothing
// listens at --url.
func (c *cli) refusedHint(err error, target *url.URL) {
	if errors.Is(err, syscall.ECONNREFUSED) {
		fmt.Fprintf(c.stderr, "hint: nothing answers at --url %s: is the webhook handler running, and listening on that host and port?\n", target.Redacted())
	}
}

// maxRepeat bounds --repeat: enough to test de-duplication, not a load
// generator.
const maxRepeat = 1000

// triggerAnswer is what the handler answered one copy of a delivery.
type triggerAnswer struct {
	status string // "200 OK"
	code   int
	line   string // "handler answered 200 OK: text"
	err    error  // the handler could not be reached
	// retryAfter is the answer's Retry-After header.
	retryAfter string
}

func (a triggerAnswer) ok() bool { return a.err == nil && a.code >= 200 && a.code <= 299 }

// held reports whether the answer is a de-duplicating handler's to a copy
// that arrived while the first was in flight: 409 with Retry-After, by
// design, and not a failure.
func (a triggerAnswer) held() bool {
	return a.err == nil && a.code == http.StatusConflict && a.retryAfter != ""
}

// deliver sends ev once and reads the answer.
func deliver(ctx context.Context, hc *http.Client, target, secret string, ev *botonom.Event, signedAt time.Time) triggerAnswer {
	resp, err := botonomtest.DeliverEvent(ctx, hc, target, secret, ev, signedAt)
	if err != nil {
		return triggerAnswer{err: err}
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
	return triggerAnswer{status: resp.Status, code: resp.StatusCode, line: line, retryAfter: resp.Header.Get("Retry-After")}
}

// newEventID returns a random event ID in the API's form, so that a
// receiver that deduplicates by ID sees each trigger as a new event.
func newEventID() string { return "evt_" + randomHex(12) }

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
