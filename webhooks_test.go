package botonom

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWebhooksRegister(t *testing.T) {
	c, mt := setup(t)
	handle(mt, "POST", "webhooks", 201,
		`{"id": "wh_123", "url": "https://yourapp.com/botonom/webhook", "events": ["agent.task.completed"], "created_at": "2026-02-18T14:30:00Z"}`,
		func(r *http.Request) {
			testMethod(t, r, "POST")
			testStandardHeaders(t, r)
			assert.Regexp(t, uuidV4, r.Header.Get("Idempotency-Key"))
			testJSONBody(t, r, `{"url": "https://yourapp.com/botonom/webhook",
				"events": ["agent.task.completed", "agent.message.received", "agent.status.changed"],
				"secret": "whsec_your_secret_here"}`)
		})
	wh, _, err := c.Webhooks.Register(context.Background(), &RegisterWebhookRequest{
		URL:    "https://yourapp.com/botonom/webhook",
		Events: []EventType{EventTaskCompleted, EventMessageReceived, EventStatusChanged},
		Secret: "whsec_your_secret_here",
	})
	require.NoError(t, err)
	assert.Equal(t, &Webhook{
		ID: "wh_123", URL: "https://yourapp.com/botonom/webhook",
		Events: []EventType{EventTaskCompleted}, CreatedAt: mustTime("2026-02-18T14:30:00Z"),
	}, wh)
}

func TestWebhooksRegister_BadInputSendsNothing(t *testing.T) {
	c, mt := setup(t)
	ok := func() *RegisterWebhookRequest {
		return &RegisterWebhookRequest{URL: "https://x.test/h", Events: []EventType{EventTaskCompleted}, Secret: "whsec_1"}
	}
	for name, tc := range map[string]struct {
		mutate func(r *RegisterWebhookRequest) *RegisterWebhookRequest
		want   string
	}{
		"nil request":    {func(*RegisterWebhookRequest) *RegisterWebhookRequest { return nil }, "nil request"},
		"no url":         {func(r *RegisterWebhookRequest) *RegisterWebhookRequest { r.URL = ""; return r }, "url is empty"},
		"relative url":   {func(r *RegisterWebhookRequest) *RegisterWebhookRequest { r.URL = "/hook"; return r }, "not an absolute"},
		"ftp url":        {func(r *RegisterWebhookRequest) *RegisterWebhookRequest { r.URL = "ftp://x/h"; return r }, "not an absolute"},
		"url with space": {func(r *RegisterWebhookRequest) *RegisterWebhookRequest { r.URL = "https://x.test/a b"; return r }, "not an absolute"},
		"url no host":    {func(r *RegisterWebhookRequest) *RegisterWebhookRequest { r.URL = "https://:80/h"; return r }, "not an absolute"},
		"no events":      {func(r *RegisterWebhookRequest) *RegisterWebhookRequest { r.Events = nil; return r }, "events is empty"},
		"unknown event": {func(r *RegisterWebhookRequest) *RegisterWebhookRequest {
			r.Events = append(r.Events, "agent.exploded")
			return r
		}, `events[1] "agent.exploded"`},
		"no secret": {func(r *RegisterWebhookRequest) *RegisterWebhookRequest { r.Secret = " "; return r }, "secret is empty"},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := c.Webhooks.Register(context.Background(), tc.mutate(ok()))
			assert.ErrorContains(t, err, tc.want)
			assert.ErrorIs(t, err, ErrInvalidArgument)
		})
	}
	assert.Zero(t, mt.GetTotalCallCount())
}

func TestEventType_Known(t *testing.T) {
	for _, et := range EventTypes {
		assert.True(t, et.Known(), et)
	}
	assert.False(t, EventType("agent.unknown").Known())
	assert.Len(t, EventTypes, 6)
}
