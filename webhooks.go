package botonom

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// WebhooksService registers the endpoints Botonom delivers events to.
type WebhooksService service

// EventType names a webhook event.
type EventType string

// The events the API delivers. Others may appear over time: an Event of an
// unknown type still decodes.
const (
	EventTaskCompleted   EventType = "agent.task.completed"    // Data: Task
	EventMessageReceived EventType = "agent.message.received"  // Data: Message
	EventMessageSent     EventType = "agent.message.sent"      // Data: Message
	EventStatusChanged   EventType = "agent.status.changed"    // Data: StatusChange
	EventSkillInstalled  EventType = "agent.skill.installed"   // Data: SkillInstalled
	EventInvoiceCreated  EventType = "billing.invoice.created" // Data: Invoice
)

// EventTypes lists every event type this SDK knows, in the API's order.
var EventTypes = []EventType{
	EventTaskCompleted, EventMessageReceived, EventMessageSent,
	EventStatusChanged, EventSkillInstalled, EventInvoiceCreated,
}

// Known reports whether t is one of EventTypes.
func (t EventType) Known() bool {
	for _, k := range EventTypes {
		if t == k {
			return true
		}
	}
	return false
}

// Webhook is a registered webhook endpoint. The API never echoes the secret.
type Webhook struct {
	ID        string      `json:"id"`
	URL       string      `json:"url"`
	Events    []EventType `json:"events"`
	CreatedAt time.Time   `json:"created_at"`
}

// RegisterWebhookRequest is what Webhooks.Register sends.
type RegisterWebhookRequest struct {
	// URL is the absolute http(s) address deliveries are POSTed to.
	URL string `json:"url"`
	// Events are the event types to deliver; at least one, all known.
	Events []EventType `json:"events"`
	// Secret signs every delivery (X-Botonom-Signature); required, since
	// the API never shows it again and an unsigned delivery cannot be
	// trusted. Use a long random string, conventionally "whsec_…".
	Secret string `json:"secret"`
	// IdempotencyKey, when set, replaces the random Idempotency-Key.
	IdempotencyKey string `json:"-"`
}

func (r *RegisterWebhookRequest) idempotencyKey() string { return r.IdempotencyKey }

func (r *RegisterWebhookRequest) validate() error {
	if r == nil {
		return errors.New("botonom: register webhook: nil request")
	}
	if strings.TrimSpace(r.URL) == "" {
		return errors.New("botonom: register webhook: url is empty")
	}
	u, err := url.Parse(r.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("botonom: register webhook: url %q is not an absolute http(s) URL", r.URL)
	}
	if len(r.Events) == 0 {
		return errors.New("botonom: register webhook: events is empty")
	}
	for i, ev := range r.Events {
		if !ev.Known() {
			return fmt.Errorf("botonom: register webhook: events[%d] %q is not a known event type", i, ev)
		}
	}
	if strings.TrimSpace(r.Secret) == "" {
		return errors.New("botonom: register webhook: secret is empty")
	}
	return nil
}

// Register registers a webhook endpoint for the given events.
//
// API: POST /webhooks
func (s *WebhooksService) Register(ctx context.Context, body *RegisterWebhookRequest) (*Webhook, *Response, error) {
	if err := body.validate(); err != nil {
		return nil, nil, err
	}
	return call[Webhook](ctx, s.client, http.MethodPost, "webhooks", body)
}
