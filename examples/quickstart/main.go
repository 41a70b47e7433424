// Command quickstart tours the Botonom API in one run: it lists the agents,
// reads the task history of the first online one, the week's usage and the
// rate limit; it also sends that agent a message, installs a skill and
// removes it again, registers a webhook and verifies a signed delivery.
//
//	go run ./examples/quickstart            # read-only with a token
//	go run ./examples/quickstart -write     # the writes too, with a token
//
// Without BOTONOM_API_TOKEN it runs everything against the fake API of
// package botonomtest, started in-process. With BOTONOM_API_TOKEN set it
// talks to the API (BOTONOM_BASE_URL, if set, says where) and only reads,
// unless -write is given: then it also sends the message, installs the
// "weather" skill and removes it again (unless the agent had it already),
// and registers a webhook, and it ends by listing what it left in the
// workspace (the message, the webhook: the API deletes neither). Any error
// ends it with a non-zero status.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/botonomtest"
)

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "✗", err)
		os.Exit(1)
	}
}

// skill is the skill the tour installs and, against the API, removes again.
const skill = "weather"

// tour prints the steps of one run and remembers what it left behind.
type tour struct {
	out  io.Writer
	left []string // what stays in the workspace, for the closing list
}

// step prints one line of the tour: a check mark, a label, what happened.
func (t *tour) step(label, what string) {
	fmt.Fprintf(t.out, "✓ %-17s %s\n", label, what)
}

// skip prints a step that did not run, and why.
func (t *tour) skip(label, why string) {
	fmt.Fprintf(t.out, "- %-17s skipped: %s\n", label, why)
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	fs.SetOutput(stderr)
	write := fs.Bool("write", false, "with BOTONOM_API_TOKEN set, also write to the workspace: send a message, install and remove a skill, register a webhook")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (the only flag is -write)", fs.Arg(0))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// The API when a token is set, else the fake API in this process.
	client, fake, err := botonomtest.ClientFromEnvOrFake(nil)
	if err != nil {
		return err
	}
	t := &tour{out: stdout}
	writes := fake != nil || *write
	switch {
	case fake != nil:
		defer fake.Close()
		fmt.Fprintln(stdout, "Botonom quick start — BOTONOM_API_TOKEN is not set: running against the built-in fake API (botonomtest, in-process)")
	case *write:
		fmt.Fprintln(stdout, "Botonom quick start — against", client.BaseURL(), "with -write: it sends a message, installs and removes a skill and registers a webhook")
		defer func() {
			if len(t.left) > 0 {
				fmt.Fprintln(stdout, "Left in the workspace (the API offers no way to delete these):")
				for _, l := range t.left {
					fmt.Fprintln(stdout, "  "+l)
				}
			}
		}()
	default:
		fmt.Fprintln(stdout, "Botonom quick start — against", client.BaseURL(), "— read-only: agents, tasks, usage, rate limit (-write also writes to the workspace)")
	}

	// 1. Every agent of the workspace; ListAll follows the pages.
	var agents []*botonom.Agent
	for agent, err := range client.Agents.ListAll(ctx, nil) {
		if err != nil {
			return fmt.Errorf("list agents: %w", err)
		}
		agents = append(agents, agent)
	}
	var names []string
	var agent *botonom.Agent // the first online one
	for i, a := range agents {
		if i < 5 {
			names = append(names, fmt.Sprintf("%s (%s)", a.Name, a.Status))
		}
		if agent == nil && a.Status == botonom.AgentStatusOnline {
			agent = a
		}
	}
	if len(agents) > 5 {
		names = append(names, "…")
	}
	t.step(fmt.Sprintf("%d agents", len(agents)), strings.Join(names, ", "))
	if agent == nil && writes {
		return errors.New("no agent is online: nothing to send a message to")
	}

	// 2. A message; the answer's request ID is what support asks for.
	if writes {
		content := "Book a table for 4 at 7pm tomorrow"
		msg, resp, err := client.Agents.SendMessage(ctx, agent.ID, &botonom.SendMessageRequest{
			Content:  content,
			Metadata: map[string]string{"customer_id": "cust_456"},
		})
		if err != nil {
			return fmt.Errorf("send message: %w", err)
		}
		t.step("sent", fmt.Sprintf("%s to %s: %s (request %s)", msg.ID, agent.Name, msg.Status, resp.RequestID))
		t.left = append(t.left, fmt.Sprintf("message %s to %s (%s): %q", msg.ID, agent.Name, agent.ID, content))
	} else {
		t.skip("message", "read-only (-write sends one)")
	}

	// 3. The agent's task history, newest first.
	var task *botonom.Task
	if agent == nil {
		t.skip("task history", "no agent is online")
	} else {
		tasks, _, err := client.Agents.ListTasks(ctx, agent.ID, &botonom.ListTasksOptions{
			ListOptions: botonom.ListOptions{Limit: 10},
		})
		if err != nil {
			return fmt.Errorf("list tasks: %w", err)
		}
		if len(tasks) == 0 {
			t.step("task history", fmt.Sprintf("%s has no task yet", agent.Name))
		} else {
			task = tasks[0]
			t.step("task history", fmt.Sprintf("%d tasks of %s; newest %s %s, %d tokens", len(tasks), agent.Name, task.ID, task.Status, task.TokensUsed))
		}
	}

	// 4. A skill, installed and removed again: installing is idempotent,
	// but removing one the agent had before would break it.
	switch {
	case !writes:
		t.skip("skill", "read-only (-write installs "+skill+" and removes it again)")
	case slices.Contains(agent.Skills, skill):
		t.skip("skill", fmt.Sprintf("%s already has %s: left as it is", agent.Name, skill))
	default:
		installed, _, err := client.Agents.InstallSkills(ctx, agent.ID, skill)
		if err != nil {
			return fmt.Errorf("install skill: %w", err)
		}
		t.step("skill installed", fmt.Sprintf("%s on %s (skills: %s)", skill, agent.Name, strings.Join(installed.Skills, ", ")))
		removed, _, err := client.Agents.RemoveSkills(ctx, agent.ID, skill)
		if err != nil {
			t.left = append(t.left, fmt.Sprintf("skill %s on %s (removing it failed)", skill, agent.ID))
			return fmt.Errorf("remove skill: %w", err)
		}
		t.step("skill removed", fmt.Sprintf("%s again (skills: %s)", skill, strings.Join(removed.Skills, ", ")))
	}

	// 5. A webhook pointing at a local receiver that verifies each delivery.
	received := make(chan *botonom.Event, 1)
	var hookURL, secret string
	if writes {
		if secret, err = newSecret(); err != nil {
			return err
		}
		mux := http.NewServeMux()
		mux.Handle("/botonom/webhook", botonom.WebhookHandler(secret, func(_ context.Context, ev *botonom.Event) error {
			select {
			case received <- ev:
			default: // delivery is at least once: a duplicate is dropped
			}
			return nil
		}))
		receiver := httptest.NewServer(mux)
		defer receiver.Close()
		hookURL = receiver.URL + "/botonom/webhook"
		hook, _, err := client.Webhooks.Register(ctx, &botonom.RegisterWebhookRequest{
			URL:    hookURL,
			Events: []botonom.EventType{botonom.EventTaskCompleted},
			Secret: secret,
		})
		if err != nil {
			return fmt.Errorf("register webhook: %w", err)
		}
		t.step("webhook", fmt.Sprintf("%s registered: %s to a local receiver", hook.ID, botonom.EventTaskCompleted))
		t.left = append(t.left, fmt.Sprintf("webhook %s to %s, which stops answering when this program ends: remove it in the dashboard", hook.ID, hookURL))
	} else {
		t.skip("webhook", "read-only (-write registers one)")
	}

	// 6. Usage of the last 7 days, today included, day by day.
	tomorrow := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	usage, _, err := client.Analytics.Usage(ctx, &botonom.UsageOptions{
		From:        tomorrow.AddDate(0, 0, -7),
		To:          tomorrow,
		Granularity: botonom.GranularityDay,
	})
	if err != nil {
		return fmt.Errorf("usage: %w", err)
	}
	u := usage.Total
	t.step("usage, 7 days", fmt.Sprintf("%d tokens (%d in, %d out) in %d requests",
		u.TotalTokens, u.InputTokens, u.OutputTokens, u.Requests))

	// The rate-limit state the last answer reported.
	rate := client.Rate()
	t.step("rate limit", fmt.Sprintf("%d of %d requests left, window resets in %s",
		rate.Remaining, rate.Limit, time.Until(rate.Reset).Round(time.Second)))

	// 7. A signed delivery, verified by the receiver: only the fake API can
	// reach a receiver on this machine.
	if fake == nil {
		t.skip("webhook delivery", "the API cannot reach this machine (try a receiver with \"botonom trigger\")")
		return nil
	}
	if task == nil {
		return errors.New("webhook delivery: no task to deliver")
	}
	delivery, err := fake.SendEvent(ctx, hookURL, secret, botonom.EventTaskCompleted, task)
	if err != nil {
		return fmt.Errorf("webhook delivery: %w", err)
	}
	delivery.Body.Close()
	if delivery.StatusCode != http.StatusOK {
		return fmt.Errorf("webhook delivery: the receiver answered %s", delivery.Status)
	}
	select {
	case ev := <-received:
		got, err := ev.Task()
		if err != nil {
			return fmt.Errorf("webhook delivery: %w", err)
		}
		t.step("webhook delivery", fmt.Sprintf("%s verified: task %s %s", ev.ID, got.ID, got.Status))
	case <-ctx.Done():
		return fmt.Errorf("webhook delivery: %w", ctx.Err())
	}
	return nil
}

// newSecret returns a webhook signing secret: "whsec_" and 48 random hex digits.
func newSecret() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("webhook secret: %w", err)
	}
	return "whsec_" + hex.EncodeToString(b), nil
}
