package botonomtest

import (
	"fmt"
	"time"

	botonom "github.com/botonom/botonom-go"
)

// SampleEventData returns the data of a realistic event of type eventType,
// about the sample agents and with fixed timestamps (so that runs are
// repeatable), for Server.SendEvent and tools that deliver test events:
//
//	agent.task.completed                          *botonom.Task (completed, with result and tokens_used)
//	agent.message.received, agent.message.sent    *botonom.Message (full form)
//	agent.status.changed                          *botonom.StatusChange
//	agent.skill.installed                         *botonom.SkillInstalled
//	billing.invoice.created                       *botonom.Invoice
//
// A type outside botonom.EventTypes() is an error.
func SampleEventData(eventType botonom.EventType) (any, error) {
	at := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	switch eventType {
	case botonom.EventTaskCompleted:
		done := at("2026-02-18T14:30:04Z")
		return &botonom.Task{
			ID: "tsk_001", AgentID: SampleAgentID, MessageID: "msg_789", Status: botonom.TaskStatusCompleted,
			Description: "Book a table for 4 at 7pm tomorrow", Result: "Booked at Luigi's, 19:00",
			TokensUsed: 1834, CreatedAt: at("2026-02-18T14:30:00Z"), CompletedAt: &done,
		}, nil
	case botonom.EventMessageReceived:
		return &botonom.Message{
			ID: "msg_789", Status: botonom.MessageStatusDelivered, AgentID: SampleAgentID,
			CreatedAt: at("2026-02-18T14:30:00Z"), Channel: botonom.ChannelAPI,
			Content:  "Book a table for 4 at 7pm tomorrow",
			Metadata: map[string]string{"customer_id": "cust_456", "priority": "normal"},
		}, nil
	case botonom.EventMessageSent:
		return &botonom.Message{
			ID: "msg_790", Status: botonom.MessageStatusDelivered, AgentID: SampleAgentID,
			CreatedAt: at("2026-02-18T14:30:05Z"), Channel: botonom.ChannelAPI,
			Content:  "Your table for 4 is booked at Luigi's tomorrow at 19:00.",
			Metadata: map[string]string{"customer_id": "cust_456"},
		}, nil
	case botonom.EventStatusChanged:
		return &botonom.StatusChange{
			AgentID: BillingAgentID, Status: botonom.AgentStatusOnline, PreviousStatus: botonom.AgentStatusOffline,
		}, nil
	case botonom.EventSkillInstalled:
		return &botonom.SkillInstalled{AgentID: SampleAgentID, Skill: "calendar"}, nil
	case botonom.EventInvoiceCreated:
		return &botonom.Invoice{
			ID: "inv_0001", AmountDue: 4900, Currency: "usd",
			PeriodStart: at("2026-01-01T00:00:00Z"), PeriodEnd: at("2026-02-01T00:00:00Z"),
			CreatedAt: at("2026-02-01T00:05:00Z"),
		}, nil
	}
	return nil, fmt.Errorf("botonomtest: SampleEventData: unknown event type %q (known: %v)", eventType, botonom.EventTypes())
}
