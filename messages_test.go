package botonom

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAgentsSendMessage(t *testing.T) {
	c, mt := setup(t)
	handle(mt, "POST", "agents/agt_abc123/message", 201,
		`{"id": "msg_789", "status": "delivered", "agent_id": "agt_abc123", "created_at": "2026-02-18T14:30:00Z"}`,
		func(r *http.Request) {
			testMethod(t, r, "POST")
			testStandardHeaders(t, r)
			assert.Regexp(t, uuidV4, r.Header.Get("Idempotency-Key"))
			testJSONBody(t, r, `{"content": "Book a table for 4 at 7pm tomorrow", "channel": "api",
				"metadata": {"customer_id": "cust_456", "priority": "normal"}}`)
		})
	msg, resp, err := c.Agents.SendMessage(context.Background(), "agt_abc123", &SendMessageRequest{
		Content:  "Book a table for 4 at 7pm tomorrow",
		Channel:  ChannelAPI,
		Metadata: map[string]string{"customer_id": "cust_456", "priority": "normal"},
	})
	require.NoError(t, err)
	assert.Equal(t, &Message{
		ID: "msg_789", Status: MessageStatusDelivered, AgentID: "agt_abc123",
		CreatedAt: mustTime("2026-02-18T14:30:00Z"),
	}, msg)
	assert.Equal(t, 201, resp.StatusCode)
}

func TestAgentsSendMessage_MinimalBody(t *testing.T) {
	c, mt := setup(t)
	handle(mt, "POST", "agents/agt_1/message", 201, `{"id":"msg_1","status":"queued"}`, func(r *http.Request) {
		testJSONBody(t, r, `{"content":"hi"}`)
	})
	msg, _, err := c.Agents.SendMessage(context.Background(), "agt_1", &SendMessageRequest{Content: "hi"})
	require.NoError(t, err)
	assert.Equal(t, MessageStatusQueued, msg.Status)
}

func TestAgentsSendMessage_CallerIdempotencyKey(t *testing.T) {
	c, mt := setup(t)
	handle(mt, "POST", "agents/agt_1/message", 201, `{"id":"msg_1"}`, func(r *http.Request) {
		testHeader(t, r, "Idempotency-Key", "order-42")
		testJSONBody(t, r, `{"content":"hi"}`) // the key is not in the body
	})
	_, _, err := c.Agents.SendMessage(context.Background(), "agt_1", &SendMessageRequest{Content: "hi"}, WithIdempotencyKey("order-42"))
	require.NoError(t, err)
}

func TestAgentsSendMessage_EachCallGetsItsOwnKey(t *testing.T) {
	c, mt := setup(t)
	keys := map[string]bool{}
	handle(mt, "POST", "agents/agt_1/message", 201, `{"id":"msg_1"}`, func(r *http.Request) {
		keys[r.Header.Get("Idempotency-Key")] = true
	})
	for range 3 {
		_, _, err := c.Agents.SendMessage(context.Background(), "agt_1", &SendMessageRequest{Content: "hi"})
		require.NoError(t, err)
	}
	assert.Len(t, keys, 3)
}
