// Command quickstart tours the Botonom API in one run: it lists the agents,
// sends a message to the first online one, reads its task history, installs
// a skill, registers a webhook, reads the week's usage and verifies a signed
// webhook delivery.
//
//	go run ./examples/quickstart
//
// With BOTONOM_API_TOKEN set it talks to the API (BOTONOM_BASE_URL, if set,
// says where); without, to the fake API of package botonomtest, started
// in-process. Any error ends it with a non-zero status.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/botonomtest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "✗", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// The API when a token is set, else the fake API in this process.
	client, fake, err := botonomtest.ClientFromEnvOrFake(nil)
	if err != nil {
		return err
	}
	if fake != nil {
		defer fake.Close()
		fmt.Println("Botonom quick start — BOTONOM_API_TOKEN is not set: running against the built-in fake API (botonomtest, in-process)")
	} else {
		fmt.Println("Botonom quick start — against", client.BaseURL())
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
	step(fmt.Sprintf("%d agents", len(agents)), strings.Join(names, ", "))
	if agent == nil {
		return errors.New("no agent is online: nothing to send a message to")
	}

	// 2. A message; the answer's request ID is what support asks for.
	msg, resp, err := client.Agents.SendMessage(ctx, agent.ID, &botonom.SendMessageRequest{
		Content:  "Book a table for 4 at 7pm tomorrow",
		Metadata: map[string]string{"customer_id": "cust_456"},
	})
	if err != nil {
		return fmt.Errorf("send message: %w", err)
	}
	step("sent", fmt.Sprintf("%s to %s: %s (request %s)", msg.ID, agent.Name, msg.Status, resp.RequestID))

	// 3. The agent's task history, newest first.
	tasks, _, err := client.Agents.ListTasks(ctx, agent.ID, &botonom.ListTasksOptions{
		ListOptions: botonom.ListOptions{Limit: 10},
	})
	if err != nil {
		return fmt.Errorf("list tasks: %w", err)
	}
	if len(tasks) == 0 {
		return fmt.Errorf("list tasks: %s has no task history", agent.Name)
	}
	task := tasks[0]
	step("task history", fmt.Sprintf("%d tasks of %s; newest %s %s, %d tokens", len(tasks), agent.Name, task.ID, task.Status, task.TokensUsed))

	// 4. A skill; installing one twice is harmless.
	agent, _, err = client.Agents.InstallSkills(ctx, agent.ID, "weather")
	if err != nil {
		return fmt.Errorf("install skill: %w", err)
	}
	step("skill installed", fmt.Sprintf("weather on %s (skills: %s)", agent.Name, strings.Join(agent.Skills, ", ")))

	// 5. A webhook pointing at a local receiver that verifies each delivery.
	secret, err := newSecret()
	if err != nil {
		return err
	}
	received := make(chan *botonom.Event, 1)
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
	hookURL := receiver.URL + "/botonom/webhook"
	hook, _, err := client.Webhooks.Register(ctx, &botonom.RegisterWebhookRequest{
		URL:    hookURL,
		Events: []botonom.EventType{botonom.EventTaskCompleted},
		Secret: secret,
	})
	if err != nil {
		return fmt.Errorf("register webhook: %w", err)
	}
	step("webhook", fmt.Sprintf("%s registered: %s to a local receiver", hook.ID, botonom.EventTaskCompleted))

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
	t := usage.Total
	step("usage, 7 days", fmt.Sprintf("%d tokens (%d in, %d out) in %d requests",
		t.TotalTokens, t.InputTokens, t.OutputTokens, t.Requests))

	// The rate-limit state the last answer reported.
	rate := client.Rate()
	step("rate limit", fmt.Sprintf("%d of %d requests left, window resets in %s",
		rate.Remaining, rate.Limit, time.Until(rate.Reset).Round(time.Second)))

	// 7. A signed delivery, verified by the receiver.
	if fake == nil {
		fmt.Printf("- %-17s skipped: the API cannot reach this machine (remove %s in the dashboard)\n",
			"webhook delivery", hook.ID)
		return nil
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
		step("webhook delivery", fmt.Sprintf("%s verified: task %s %s", ev.ID, got.ID, got.Status))
	case <-ctx.Done():
		return fmt.Errorf("webhook delivery: %w", ctx.Err())
	}
	return nil
}

// step prints one line of the tour: a check mark, a label, what happened.
func step(label, what string) {
	fmt.Printf("✓ %-17s %s\n", label, what)
}

// newSecret returns a webhook signing secret: "whsec_" and 48 random hex digits.
func newSecret() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("webhook secret: %w", err)
	}
	return "whsec_" + hex.EncodeToString(b), nil
}
