package botonom

import (
	"context"
	"net/http"
	"strings"
	"time"
)

// MessageStatus is where a message stands.
type MessageStatus string

// Message statuses.
const (
	MessageStatusQueued    MessageStatus = "queued"
	MessageStatusDelivered MessageStatus = "delivered"
	MessageStatusFailed    MessageStatus = "failed"
)

// ChannelAPI is the channel of messages sent through the API, the default.
const ChannelAPI = "api"

// Message is a message to or from an agent. SendMessage's answer may carry
// only ID, Status, AgentID and CreatedAt; webhook events carry all fields.
type Message struct {
	ID        string            `json:"id"`
	Status    MessageStatus     `json:"status"`
	AgentID   string            `json:"agent_id"`
	CreatedAt time.Time         `json:"created_at"`
	Channel   string            `json:"channel,omitempty"`
	Content   string            `json:"content,omitempty"`
	Metadata  map[string]string `json:"metadata,omitempty"`
}

// SendMessageRequest is what SendMessage sends.
type SendMessageRequest struct {
	// Content is the message text; required.
	Content string `json:"content"`
	// Channel defaults to "api" (ChannelAPI) when empty.
	Channel string `json:"channel,omitempty"`
	// Metadata is free-form string pairs echoed in webhook events.
	Metadata map[string]string `json:"metadata,omitempty"`
}

// opSendMessage is SendMessage, as a CallTrace and middleware see it.
var opSendMessage = &Call{Operation: "agents.send_message", Method: http.MethodPost, Route: "/agents/{id}/message"}

// SendMessage sends a message to an agent and returns it as queued or
// delivered. The call carries an Idempotency-Key, so retries after a
// dropped connection or a 5xx cannot deliver it twice. To resend safely
// after a crash of your own process, give the call a key derived from your
// own record (an order ID, say) with WithIdempotencyKey.
//
// API: POST /agents/{id}/message
func (s *AgentsService) SendMessage(ctx context.Context, id string, body *SendMessageRequest, opts ...Option) (*Message, *Response, error) {
	path, err := agentPath(id, "/message")
	if err != nil {
		return nil, nil, err
	}
	if body == nil {
		return nil, nil, invalidArgf("send message: nil request")
	}
	if strings.TrimSpace(body.Content) == "" {
		return nil, nil, invalidArgf("send message: content is empty")
	}
	return call[Message](ctx, s.client, opSendMessage, path, body, opts)
}
