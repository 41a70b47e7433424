package botonom

import (
	"context"
	"net/http"
	"strings"
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
		"event in capitals": {func(r *RegisterWebhookRequest) *RegisterWebhookRequest {
			r.Events = append(r.Events, "Agent.Task.Completed")
			return r
		}, `events[1] "Agent.Task.Completed" is not an event name`},
		"event of one word":     {func(r *RegisterWebhookRequest) *RegisterWebhookRequest { r.Events = []EventType{"agent"}; return r }, `events[0] "agent"`},
		"event with empty word": {func(r *RegisterWebhookRequest) *RegisterWebhookRequest { r.Events = []EventType{"agent..x"}; return r }, `events[0] "agent..x"`},
		"event with a space": {func(r *RegisterWebhookRequest) *RegisterWebhookRequest {
			r.Events = []EventType{"agent. task"}
			return r
		}, `events[0] "agent. task"`},
		"event word starts with a digit": {func(r *RegisterWebhookRequest) *RegisterWebhookRequest { r.Events = []EventType{"agent.1x"}; return r }, `events[0] "agent.1x"`},
		"event empty":                    {func(r *RegisterWebhookRequest) *RegisterWebhookRequest { r.Events = []EventType{""}; return r }, `events[0] ""`},
		"event too long": {func(r *RegisterWebhookRequest) *RegisterWebhookRequest {
			r.Events = []EventType{EventType("a." + strings.Repeat("b", 127))}
			return r
		}, `events[0] "a.bbb`},
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

// An event name the API added after this SDK is sent as given: which names
// exist is the API's to say.
func TestWebhooksRegister_SendsEventNamesThisSDKDoesNotKnow(t *testing.T) {
	c, mt := setup(t)
	handle(mt, "POST", "webhooks", 201,
		`{"id": "wh_1", "url": "https://x.test/h", "events": ["agent.task.completed", "agent.memory_2.updated"], "created_at": "2026-02-18T14:30:00Z"}`,
		func(r *http.Request) {
			testJSONBody(t, r, `{"url": "https://x.test/h", "events": ["agent.task.completed", "agent.memory_2.updated"], "secret": "whsec_1"}`)
		})
	wh, _, err := c.Webhooks.Register(context.Background(), &RegisterWebhookRequest{
		URL: "https://x.test/h", Events: []EventType{EventTaskCompleted, "agent.memory_2.updated"}, Secret: "whsec_1",
	})
	require.NoError(t, err)
	assert.Equal(t, []EventType{EventTaskCompleted, "agent.memory_2.updated"}, wh.Events)
	assert.Equal(t, 1, mt.GetTotalCallCount())
}

func TestEventType_Known(t *testing.T) {
	for _, et := range EventTypes() {
		assert.True(t, et.Known(), et)
		assert.True(t, et.wellFormed(), et)
	}
	assert.False(t, EventType("agent.unknown").Known())
	assert.Len(t, EventTypes(), 6)
}

func TestEventTypes_IsACopy(t *testing.T) {
	types := EventTypes()
	types[0] = "agent.exploded"
	_ = append(types[:1], "agent.other")
	assert.Equal(t, EventTaskCompleted, EventTypes()[0])
	assert.False(t, EventType("agent.exploded").Known())
	assert.False(t, EventType("agent.other").Known())
}
