package botonomtest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	botonom "github.com/botonom/botonom-go"
)

// IDs of the sample agents (SampleAgents).
const (
	// SampleAgentID is "Reservations", online, skills calendar and booking:
	// the agent of the API documentation's examples.
	SampleAgentID = "agt_abc123"
	// SupportAgentID is "Support", online, skills faq, order_lookup and email.
	SupportAgentID = "agt_def456"
	// BillingAgentID is "Billing", offline (messages to it are queued and
	// its tasks stay pending), skill invoices.
	BillingAgentID = "agt_ghi789"
)

// SampleAgents returns fresh copies of the three agents a Server starts
// with unless WithAgents replaces them: SampleAgentID, SupportAgentID and
// BillingAgentID, in that order.
func SampleAgents() []*botonom.Agent {
	at := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	return []*botonom.Agent{
		{
			ID: SampleAgentID, Name: "Reservations", Description: "Books restaurant tables",
			Status: botonom.AgentStatusOnline, Skills: []string{"calendar", "booking"},
			CreatedAt: at("2026-01-05T09:00:00Z"), UpdatedAt: at("2026-02-18T14:30:00Z"),
		},
		{
			ID: SupportAgentID, Name: "Support", Description: "Answers customer questions about orders",
			Status: botonom.AgentStatusOnline, Skills: []string{"faq", "order_lookup", "email"},
			CreatedAt: at("2026-01-12T10:15:00Z"), UpdatedAt: at("2026-02-10T08:00:00Z"),
		},
		{
			ID: BillingAgentID, Name: "Billing", Description: "Explains invoices and updates payment methods",
			Status: botonom.AgentStatusOffline, Skills: []string{"invoices"},
			CreatedAt: at("2026-01-20T16:45:00Z"), UpdatedAt: at("2026-02-01T12:00:00Z"),
		},
	}
}

// sampleTasks is the history the sample agents start with, relative to
// now: a few finished tasks in the last two days, so that ListTasks and
// Usage have something to show.
func sampleTasks(now time.Time) []*botonom.Task {
	now = stamp(now)
	done := func(t time.Time) *time.Time { t = t.Add(4 * time.Second); return &t }
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	return []*botonom.Task{
		{
			AgentID: SampleAgentID, MessageID: "msg_seed01", Status: botonom.TaskStatusCompleted,
			Description: "Book a table for 2 at 8pm Friday", Result: "Booked at Trattoria Roma, Friday 20:00",
			TokensUsed: 1834, CreatedAt: ago(49 * time.Hour), CompletedAt: done(ago(49 * time.Hour)),
		},
		{
			AgentID: SupportAgentID, MessageID: "msg_seed02", Status: botonom.TaskStatusCompleted,
			Description: "Where is order 1042?", Result: "Order 1042 shipped on Tuesday and arrives Thursday",
			TokensUsed: 1210, CreatedAt: ago(26 * time.Hour), CompletedAt: done(ago(26 * time.Hour)),
		},
		{
			AgentID: SampleAgentID, MessageID: "msg_seed03", Status: botonom.TaskStatusFailed,
			Description: "Book a table for 12 at noon today", Error: "no restaurant nearby has room for 12 at 12:00",
			TokensUsed: 912, CreatedAt: ago(3 * time.Hour), CompletedAt: done(ago(3 * time.Hour)),
		},
	}
}

// seed fills the server's agents and tasks from the options, checking that
// they fit the API's contract (an answer built from them must pass the
// spec check).
func (s *Server) seed(cfg *config) error {
	now := s.now()
	agents := cfg.agents
	if !cfg.agentsSet {
		agents = SampleAgents()
	}
	for _, a := range agents {
		if !strings.HasPrefix(a.ID, "agt_") {
			return fmt.Errorf("WithAgents: agent ID %q does not start with agt_", a.ID)
		}
		if s.agent(a.ID) != nil {
			return fmt.Errorf("WithAgents: agent ID %q appears twice", a.ID)
		}
		switch a.Status {
		case "":
			a.Status = botonom.AgentStatusOnline
		case botonom.AgentStatusOnline, botonom.AgentStatusOffline:
		default:
			return fmt.Errorf("WithAgents: agent %s: status %q is not online or offline", a.ID, a.Status)
		}
		if a.Skills == nil {
			a.Skills = []string{}
		}
		if a.CreatedAt.IsZero() {
			a.CreatedAt = stamp(now)
		}
		if a.UpdatedAt.IsZero() {
			a.UpdatedAt = a.CreatedAt
		}
		s.agents = append(s.agents, a)
	}

	tasks := cfg.tasks
	if !cfg.tasksSet && !cfg.agentsSet {
		tasks = sampleTasks(now)
		for _, t := range tasks {
			t.ID = s.nextID("tsk")
		}
	}
	for _, t := range tasks {
		if !strings.HasPrefix(t.ID, "tsk_") {
			return fmt.Errorf("WithTasks: task ID %q does not start with tsk_", t.ID)
		}
		if slices.ContainsFunc(s.tasks, func(st *storedTask) bool { return st.ID == t.ID }) {
			return fmt.Errorf("WithTasks: task ID %q appears twice", t.ID)
		}
		if s.agent(t.AgentID) == nil {
			return fmt.Errorf("WithTasks: task %s: no agent %q", t.ID, t.AgentID)
		}
		switch t.Status {
		case botonom.TaskStatusPending, botonom.TaskStatusRunning, botonom.TaskStatusCompleted, botonom.TaskStatusFailed:
		default:
			return fmt.Errorf("WithTasks: task %s: status %q is not pending, running, completed or failed", t.ID, t.Status)
		}
		if t.TokensUsed < 0 {
			return fmt.Errorf("WithTasks: task %s: tokens_used %d is negative", t.ID, t.TokensUsed)
		}
		if t.CreatedAt.IsZero() {
			t.CreatedAt = stamp(now)
		}
		s.tasks = append(s.tasks, &storedTask{Task: *t, seq: len(s.tasks)})
	}
	return nil
}

func cloneAgent(a *botonom.Agent) *botonom.Agent {
	c := *a
	c.Skills = slices.Clone(a.Skills)
	return &c
}

func cloneTask(t *botonom.Task) *botonom.Task {
	c := *t
	if t.CompletedAt != nil {
		at := *t.CompletedAt
		c.CompletedAt = &at
	}
	return &c
}

// cloneMessage copies a message, metadata included.
func cloneMessage(m botonom.Message) botonom.Message {
	m.Metadata = maps.Clone(m.Metadata)
	return m
}
