// Command pagination walks the API's lists three ways: with the ListAll and
// ListAllTasks iterators, which follow the cursors for you; breaking out of
// an iterator early, which stops the requests; and page by page with List
// and Response.NextCursor.
//
//	go run ./examples/pagination
//
// With BOTONOM_API_TOKEN set it talks to the API; without, to the fake API of
// package botonomtest, started in-process.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/botonomtest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "pagination:", err)
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
		fmt.Println("(BOTONOM_API_TOKEN is not set: using the built-in fake API)")
	}

	// Small pages, so that even a small workspace spans several.
	small := botonom.ListOptions{Limit: 2}

	// 1. Every agent: the iterator requests the next page when the loop
	// reaches the end of the current one. An error ends the sequence.
	fmt.Println("All agents, 2 per page:")
	for agent, err := range client.Agents.ListAll(ctx, &botonom.ListAgentsOptions{ListOptions: small}) {
		if err != nil {
			return fmt.Errorf("list agents: %w", err)
		}
		fmt.Printf("  %s  %-12s %s\n", agent.ID, agent.Name, agent.Status)
	}

	// 2. Stop early: breaking out of the loop requests no further page
	// (here, pages of one agent: the second is never asked for).
	var online *botonom.Agent
	onlineOpts := &botonom.ListAgentsOptions{ListOptions: botonom.ListOptions{Limit: 1}, Status: botonom.AgentStatusOnline}
	for agent, err := range client.Agents.ListAll(ctx, onlineOpts) {
		if err != nil {
			return fmt.Errorf("find an online agent: %w", err)
		}
		online = agent
		break
	}
	if online == nil {
		return errors.New("no agent is online")
	}
	fmt.Printf("First online agent: %s (%s)\n", online.Name, online.ID)

	// The same for an agent's task history, newest first, with a filter:
	// the tasks of the last 7 days.
	fmt.Printf("Tasks of %s in the last 7 days, 1 per page:\n", online.Name)
	opts := &botonom.ListTasksOptions{
		ListOptions:  botonom.ListOptions{Limit: 1},
		CreatedAfter: time.Now().AddDate(0, 0, -7),
	}
	for task, err := range client.Agents.ListAllTasks(ctx, online.ID, opts) {
		if err != nil {
			return fmt.Errorf("list tasks: %w", err)
		}
		fmt.Printf("  %s  %-9s %5d tokens\n", task.ID, task.Status, task.TokensUsed)
	}

	// 3. By hand, a page at a time: pass each answer's NextCursor back in
	// as Cursor; it is empty on the last page.
	page := &botonom.ListAgentsOptions{ListOptions: small}
	for n := 1; ; n++ {
		agents, resp, err := client.Agents.List(ctx, page)
		if err != nil {
			return fmt.Errorf("list agents, page %d: %w", n, err)
		}
		fmt.Printf("Page %d (request %s):", n, resp.RequestID)
		for _, a := range agents {
			fmt.Print(" ", a.ID)
		}
		fmt.Println()
		if resp.NextCursor == "" {
			break
		}
		page.Cursor = resp.NextCursor
	}
	return nil
}
