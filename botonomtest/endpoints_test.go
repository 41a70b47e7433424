package botonomtest_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	botonom "github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/botonomtest"
)

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestListAgents_SampleAgents(t *testing.T) {
	srv := botonomtest.NewServer(t)
	agents, resp, err := srv.Client().Agents.List(context.Background(), nil)
	require.NoError(t, err)

	require.Len(t, agents, 3)
	assert.Equal(t, botonomtest.SampleAgentID, agents[0].ID)
	assert.Equal(t, "Reservations", agents[0].Name)
	assert.Equal(t, botonom.AgentStatusOnline, agents[0].Status)
	assert.Equal(t, []string{"calendar", "booking"}, agents[0].Skills)
	assert.Equal(t, []string{botonomtest.SampleAgentID, botonomtest.SupportAgentID, botonomtest.BillingAgentID},
		[]string{agents[0].ID, agents[1].ID, agents[2].ID})
	assert.Equal(t, "", resp.NextCursor)

	assert.Regexp(t, `^req_\d+$`, resp.RequestID)
	assert.Equal(t, botonomtest.DefaultRateLimit, resp.Rate.Limit)
	assert.Equal(t, botonomtest.DefaultRateLimit-1, resp.Rate.Remaining)
	assert.True(t, resp.Rate.Reset.After(time.Now().Add(-time.Second)), "reset %s", resp.Rate.Reset)
	assert.NotEmpty(t, resp.Header.Get("Date"))
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
}

func TestListAgents_FiltersByStatus(t *testing.T) {
	srv := botonomtest.NewServer(t)
	agents, _, err := srv.Client().Agents.List(context.Background(), &botonom.ListAgentsOptions{Status: botonom.AgentStatusOffline})
	require.NoError(t, err)
	require.Len(t, agents, 1)
	assert.Equal(t, botonomtest.BillingAgentID, agents[0].ID)
}

func manyAgents(n int) []*botonom.Agent {
	agents := make([]*botonom.Agent, n)
	for i := range agents {
		agents[i] = &botonom.Agent{ID: fmt.Sprintf("agt_%03d", i), Name: fmt.Sprintf("Agent %d", i)}
	}
	return agents
}

func TestListAll_FollowsCursorsOverSeveralPages(t *testing.T) {
	srv := botonomtest.NewServer(t, botonomtest.WithAgents(manyAgents(25)...))
	client := srv.Client()

	var ids []string
	for agent, err := range client.Agents.ListAll(context.Background(), &botonom.ListAgentsOptions{ListOptions: botonom.ListOptions{Limit: 10}}) {
		require.NoError(t, err)
		ids = append(ids, agent.ID)
	}
	require.Len(t, ids, 25)
	for i, id := range ids {
		assert.Equal(t, fmt.Sprintf("agt_%03d", i), id)
	}

	reqs := srv.Requests()
	require.Len(t, reqs, 3)
	assert.Empty(t, reqs[0].Query.Get("cursor"))
	assert.NotEmpty(t, reqs[1].Query.Get("cursor"))
	assert.NotEmpty(t, reqs[2].Query.Get("cursor"))
	for _, r := range reqs {
		assert.Equal(t, "10", r.Query.Get("limit"))
	}

	// The raw envelope: has_more and next_cursor, empty on the last page.
	a := send(t, srv, "GET", "agents?limit=20", "")
	assert.Contains(t, string(a.body), `"has_more":true`)
	a = send(t, srv, "GET", "agents?limit=100", "")
	assert.Contains(t, string(a.body), `"has_more":false,"next_cursor":""`)
}

func TestListAgents_DefaultPageSizeIs20(t *testing.T) {
	srv := botonomtest.NewServer(t, botonomtest.WithAgents(manyAgents(25)...))
	agents, resp, err := srv.Client().Agents.List(context.Background(), nil)
	require.NoError(t, err)
	assert.Len(t, agents, 20)
	assert.NotEmpty(t, resp.NextCursor)
}

func TestGetAgent(t *testing.T) {
	srv := botonomtest.NewServer(t)
	agent, _, err := srv.Client().Agents.Get(context.Background(), botonomtest.SupportAgentID)
	require.NoError(t, err)
	assert.Equal(t, "Support", agent.Name)
	assert.Equal(t, time.Date(2026, 1, 12, 10, 15, 0, 0, time.UTC), agent.CreatedAt)
}

func TestGetAgent_UnknownIs404(t *testing.T) {
	srv := botonomtest.NewServer(t)
	_, _, err := srv.Client().Agents.Get(context.Background(), "agt_nope")
	require.ErrorIs(t, err, botonom.ErrNotFound)
	apiErr := requireAPIError(t, err, 404, "not_found_error", "id")
	assert.Equal(t, "agent_not_found", apiErr.Code)
}

func TestGetAgent_EscapedIDNeverReachesAnotherEndpoint(t *testing.T) {
	srv := botonomtest.NewServer(t)
	_, _, err := srv.Client().Agents.Get(context.Background(), "../webhooks")
	requireAPIError(t, err, 404, "not_found_error", "id")

	reqs := srv.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "/v1/agents/..%2Fwebhooks", reqs[0].EscapedPath)
	assert.Equal(t, "/v1/agents/../webhooks", reqs[0].Path)
}

func TestSendMessage_StoresMessageAndCompletedTask(t *testing.T) {
	srv := botonomtest.NewServer(t)
	client := srv.Client()
	ctx := context.Background()

	msg, resp, err := client.Agents.SendMessage(ctx, botonomtest.SampleAgentID, &botonom.SendMessageRequest{
		Content:  "Book a table for 4 at 7pm tomorrow",
		Metadata: map[string]string{"customer_id": "cust_456"},
	})
	require.NoError(t, err)
	assert.Equal(t, http.StatusCreated, resp.StatusCode)
	assert.Regexp(t, `^msg_`, msg.ID)
	assert.Equal(t, botonom.MessageStatusDelivered, msg.Status)
	assert.Equal(t, botonomtest.SampleAgentID, msg.AgentID)
	assert.Equal(t, "api", msg.Channel)
	assert.Equal(t, "Book a table for 4 at 7pm tomorrow", msg.Content)
	assert.Equal(t, map[string]string{"customer_id": "cust_456"}, msg.Metadata)
	assert.WithinDuration(t, time.Now(), msg.CreatedAt, 2*time.Second)

	stored := srv.Messages()
	require.Len(t, stored, 1)
	assert.Equal(t, msg.ID, stored[0].ID)
	assert.Regexp(t, uuidV4, stored[0].IdempotencyKey, "the SDK's own key")

	reqs := srv.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "POST", reqs[0].Method)
	assert.Equal(t, "/v1/agents/agt_abc123/message", reqs[0].Path)
	assert.Equal(t, stored[0].IdempotencyKey, reqs[0].Header.Get("Idempotency-Key"))
	assert.Equal(t, "0", reqs[0].Header.Get("X-Botonom-Retry-Count"))
	assert.JSONEq(t, `{"content":"Book a table for 4 at 7pm tomorrow","metadata":{"customer_id":"cust_456"}}`, string(reqs[0].Body))
	assert.Equal(t, http.StatusCreated, reqs[0].Status)

	tasks, _, err := client.Agents.ListTasks(ctx, botonomtest.SampleAgentID, nil)
	require.NoError(t, err)
	require.NotEmpty(t, tasks)
	task := tasks[0] // newest first
	assert.Equal(t, stored[0].TaskID, task.ID)
	assert.Regexp(t, `^tsk_`, task.ID)
	assert.Equal(t, msg.ID, task.MessageID)
	assert.Equal(t, botonom.TaskStatusCompleted, task.Status)
	assert.Equal(t, "Book a table for 4 at 7pm tomorrow", task.Description)
	assert.NotEmpty(t, task.Result)
	assert.Positive(t, task.TokensUsed)
	require.NotNil(t, task.CompletedAt)
}

func TestSendMessage_ToOfflineAgentIsQueued(t *testing.T) {
	srv := botonomtest.NewServer(t)
	client := srv.Client()
	msg, _, err := client.Agents.SendMessage(context.Background(), botonomtest.BillingAgentID,
		&botonom.SendMessageRequest{Content: "Why was I charged twice?", Channel: "email"})
	require.NoError(t, err)
	assert.Equal(t, botonom.MessageStatusQueued, msg.Status)
	assert.Equal(t, "email", msg.Channel)

	tasks, _, err := client.Agents.ListTasks(context.Background(), botonomtest.BillingAgentID, nil)
	require.NoError(t, err)
	require.Len(t, tasks, 1)
	assert.Equal(t, botonom.TaskStatusPending, tasks[0].Status)
	assert.Nil(t, tasks[0].CompletedAt)
	a := send(t, srv, "GET", "agents/agt_ghi789/tasks", "")
	assert.Contains(t, string(a.body), `"completed_at":null`)
}

func TestSendMessage_UnknownAgentIs404(t *testing.T) {
	srv := botonomtest.NewServer(t)
	_, _, err := srv.Client().Agents.SendMessage(context.Background(), "agt_nope", &botonom.SendMessageRequest{Content: "hi"})
	requireAPIError(t, err, 404, "not_found_error", "id")
	assert.Empty(t, srv.Messages())
}

func TestSendMessage_SameIdempotencyKeyReplaysTheFirstAnswer(t *testing.T) {
	srv := botonomtest.NewServer(t)
	client := srv.Client()
	req := &botonom.SendMessageRequest{Content: "Book a table"}

	first, resp1, err := client.Agents.SendMessage(context.Background(), botonomtest.SampleAgentID, req, botonom.WithIdempotencyKey("k1"))
	require.NoError(t, err)
	second, resp2, err := client.Agents.SendMessage(context.Background(), botonomtest.SampleAgentID, req, botonom.WithIdempotencyKey("k1"))
	require.NoError(t, err)

	assert.Equal(t, first, second)
	assert.Equal(t, resp1.StatusCode, resp2.StatusCode)
	assert.Equal(t, "true", resp2.Header.Get("Idempotent-Replayed"))
	assert.NotEqual(t, resp1.RequestID, resp2.RequestID, "each answer has its own request ID")
	stored := srv.Messages()
	require.Len(t, stored, 1)
	assert.Equal(t, "k1", stored[0].IdempotencyKey)
	assert.Len(t, srv.Requests(), 2)
	assert.Len(t, srv.Tasks(), 3+1, "one task for the one message")
}

func TestSendMessage_IdempotencyKeyReusedForAnotherBodyIs400(t *testing.T) {
	srv := botonomtest.NewServer(t)
	client := srv.Client()
	ctx := context.Background()
	_, _, err := client.Agents.SendMessage(ctx, botonomtest.SampleAgentID, &botonom.SendMessageRequest{Content: "one"}, botonom.WithIdempotencyKey("k1"))
	require.NoError(t, err)
	_, _, err = client.Agents.SendMessage(ctx, botonomtest.SampleAgentID, &botonom.SendMessageRequest{Content: "two"}, botonom.WithIdempotencyKey("k1"))
	apiErr := requireAPIError(t, err, 400, "invalid_request_error", "Idempotency-Key")
	assert.Equal(t, "idempotency_key_reused", apiErr.Code)
	assert.Len(t, srv.Messages(), 1)
}

func TestSendMessage_IdempotencyKeyExpiresAfter24h(t *testing.T) {
	now := time.Date(2026, 2, 18, 14, 30, 0, 0, time.UTC)
	clock := &fakeClock{t: now}
	srv := botonomtest.NewServer(t, botonomtest.WithClock(clock.Now))
	client := srv.Client()
	req := &botonom.SendMessageRequest{Content: "hi"}
	first, _, err := client.Agents.SendMessage(context.Background(), botonomtest.SampleAgentID, req, botonom.WithIdempotencyKey("k1"))
	require.NoError(t, err)
	assert.Equal(t, now, first.CreatedAt, "timestamps come from the clock")

	clock.Set(now.Add(25 * time.Hour))
	second, _, err := client.Agents.SendMessage(context.Background(), botonomtest.SampleAgentID, req, botonom.WithIdempotencyKey("k1"))
	require.NoError(t, err)
	assert.NotEqual(t, first.ID, second.ID)
	assert.Len(t, srv.Messages(), 2)
}

func TestListTasks_FiltersAndPages(t *testing.T) {
	srv := botonomtest.NewServer(t)
	client := srv.Client()
	ctx := context.Background()
	start := time.Now().Add(-time.Minute)
	for i := range 12 {
		_, _, err := client.Agents.SendMessage(ctx, botonomtest.SupportAgentID, &botonom.SendMessageRequest{Content: fmt.Sprintf("question %d", i)})
		require.NoError(t, err)
	}

	// 12 new tasks and one seeded a day ago, newest first.
	var all []*botonom.Task
	for task, err := range client.Agents.ListAllTasks(ctx, botonomtest.SupportAgentID, &botonom.ListTasksOptions{ListOptions: botonom.ListOptions{Limit: 5}}) {
		require.NoError(t, err)
		all = append(all, task)
	}
	require.Len(t, all, 13)
	assert.Equal(t, "question 11", all[0].Description)
	assert.Equal(t, "question 0", all[11].Description)
	assert.Equal(t, "Where is order 1042?", all[12].Description)

	recent, _, err := client.Agents.ListTasks(ctx, botonomtest.SupportAgentID, &botonom.ListTasksOptions{
		CreatedAfter: start.In(time.FixedZone("CET", 3600)), // any offset is RFC 3339
		ListOptions:  botonom.ListOptions{Limit: 100},
	})
	require.NoError(t, err)
	assert.Len(t, recent, 12)

	old, _, err := client.Agents.ListTasks(ctx, botonomtest.SupportAgentID, &botonom.ListTasksOptions{CreatedBefore: start})
	require.NoError(t, err)
	require.Len(t, old, 1)

	failed, _, err := client.Agents.ListTasks(ctx, botonomtest.SampleAgentID, &botonom.ListTasksOptions{Status: botonom.TaskStatusFailed})
	require.NoError(t, err)
	require.Len(t, failed, 1)
	assert.NotEmpty(t, failed[0].Error)

	_, _, err = client.Agents.ListTasks(ctx, "agt_nope", nil)
	requireAPIError(t, err, 404, "not_found_error", "id")
}

func TestQueryTimes_AFractionOfASecondCounts(t *testing.T) {
	srv := botonomtest.NewServer(t)
	client := srv.Client()
	ctx := context.Background()
	msg, _, err := client.Agents.SendMessage(ctx, botonomtest.SupportAgentID, &botonom.SendMessageRequest{Content: "now"})
	require.NoError(t, err)
	tasks, _, err := client.Agents.ListTasks(ctx, botonomtest.SupportAgentID, &botonom.ListTasksOptions{ListOptions: botonom.ListOptions{Limit: 1}})
	require.NoError(t, err)
	require.Len(t, tasks, 1)
	task := tasks[0]
	require.Equal(t, msg.ID, task.MessageID)

	// A millisecond after the task, in the same second: the task was
	// created before it (sent without the fraction, it would not be).
	justAfter := task.CreatedAt.Add(time.Millisecond)
	before, _, err := client.Agents.ListTasks(ctx, botonomtest.SupportAgentID, &botonom.ListTasksOptions{
		CreatedAfter: task.CreatedAt.Add(-time.Millisecond), CreatedBefore: justAfter,
	})
	require.NoError(t, err)
	require.Len(t, before, 1, "the task created a millisecond before created_before")
	assert.Equal(t, task.ID, before[0].ID)

	usage, _, err := client.Analytics.Usage(ctx, &botonom.UsageOptions{
		From: task.CreatedAt.Add(-time.Millisecond), To: justAfter, AgentID: botonomtest.SupportAgentID, Granularity: botonom.GranularityHour,
	})
	require.NoError(t, err)
	assert.Equal(t, int64(1), usage.Total.Requests, "the task a millisecond before to counts")
}

func TestWithTasks_ReplacesTheHistory(t *testing.T) {
	at := time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC)
	srv := botonomtest.NewServer(t, botonomtest.WithTasks(&botonom.Task{
		ID: "tsk_mine", AgentID: botonomtest.SampleAgentID, Status: botonom.TaskStatusRunning, CreatedAt: at,
	}))
	tasks, _, err := srv.Client().Agents.ListTasks(context.Background(), botonomtest.SampleAgentID, nil)
	require.NoError(t, err)
	require.Len(t, tasks, 1)
	assert.Equal(t, "tsk_mine", tasks[0].ID)
	assert.Nil(t, tasks[0].CompletedAt)
}

func TestUpdateSkills_InstallsAndRemovesIdempotently(t *testing.T) {
	srv := botonomtest.NewServer(t)
	client := srv.Client()
	ctx := context.Background()
	req := &botonom.UpdateSkillsRequest{Install: []string{"weather", "calendar"}, Remove: []string{"booking"}}

	agent, _, err := client.Agents.UpdateSkills(ctx, botonomtest.SampleAgentID, req)
	require.NoError(t, err)
	assert.Equal(t, []string{"calendar", "weather"}, agent.Skills)
	assert.WithinDuration(t, time.Now(), agent.UpdatedAt, 2*time.Second)

	again, _, err := client.Agents.UpdateSkills(ctx, botonomtest.SampleAgentID, req)
	require.NoError(t, err)
	assert.Equal(t, agent, again)

	assert.Equal(t, []string{"calendar", "weather"}, srv.Agents()[0].Skills)
	got, _, err := client.Agents.Get(ctx, botonomtest.SampleAgentID)
	require.NoError(t, err)
	assert.Equal(t, agent, got)

	emptied, _, err := client.Agents.RemoveSkills(ctx, botonomtest.SampleAgentID, "calendar", "weather")
	require.NoError(t, err)
	assert.Equal(t, []string{}, emptied.Skills)
	a := send(t, srv, "GET", "agents/agt_abc123", "")
	assert.Contains(t, string(a.body), `"skills":[]`)

	_, _, err = client.Agents.InstallSkills(ctx, "agt_nope", "x")
	requireAPIError(t, err, 404, "not_found_error", "id")
}

// The SDK sends any well-formed event name; the fake, like the API,
// refuses one it does not know with a 400 naming events. The request fits
// api/openapi.yaml (which says only the shape of a name), so the user's
// test does not fail on a contract violation.
func TestRegisterWebhook_UnknownEventIsTheServersToRefuse(t *testing.T) {
	rec := record(t)
	srv := botonomtest.NewServer(rec)
	_, _, err := srv.Client().Webhooks.Register(context.Background(), &botonom.RegisterWebhookRequest{
		URL: "https://yourapp.example/h", Events: []botonom.EventType{botonom.EventTaskCompleted, "agent.memory.updated"}, Secret: "whsec_x",
	})
	requireAPIError(t, err, 400, "invalid_request_error", "events")
	assert.ErrorContains(t, err, `"agent.memory.updated" is not an event type`)
	assert.Len(t, srv.Requests(), 1, "sent, not refused by the SDK")
	assert.Empty(t, srv.Webhooks())
	assert.Empty(t, rec.Errors(), "no contract violation reported")
}

func TestRegisterWebhook_NeverEchoesTheSecret(t *testing.T) {
	srv := botonomtest.NewServer(t)
	wh, _, err := srv.Client().Webhooks.Register(context.Background(), &botonom.RegisterWebhookRequest{
		URL:    "https://yourapp.example/botonom/webhook",
		Events: []botonom.EventType{botonom.EventTaskCompleted, botonom.EventMessageSent},
		Secret: "whsec_your_secret_here",
	})
	require.NoError(t, err)
	assert.Regexp(t, `^wh_`, wh.ID)
	assert.Equal(t, "https://yourapp.example/botonom/webhook", wh.URL)
	assert.Equal(t, []botonom.EventType{botonom.EventTaskCompleted, botonom.EventMessageSent}, wh.Events)

	reqs := srv.Requests()
	require.Len(t, reqs, 1)
	assert.Regexp(t, uuidV4, reqs[0].Header.Get("Idempotency-Key"))

	registered := srv.Webhooks()
	require.Len(t, registered, 1)
	assert.Equal(t, wh.ID, registered[0].ID)
	assert.Equal(t, "whsec_your_secret_here", registered[0].Secret)

	a := send(t, srv, "POST", "webhooks", `{"url":"https://x.example/h","events":["agent.task.completed"],"secret":"whsec_abc"}`)
	require.Equal(t, 201, a.status)
	assert.False(t, jsonHas(t, a.body, "secret"))
	assert.NotContains(t, string(a.body), "whsec_abc")
}

func TestUsage_AggregatesTasksPerPeriod(t *testing.T) {
	srv := botonomtest.NewServer(t)
	client := srv.Client()
	ctx := context.Background()

	// Defaults: the last 30 days by day, up to the end of today; the
	// seeded history (1834 + 1210 + 912 tokens) counts.
	usage, _, err := client.Analytics.Usage(ctx, nil)
	require.NoError(t, err)
	assert.Equal(t, botonom.GranularityDay, usage.Granularity)
	require.Len(t, usage.Data, 30)
	assert.Equal(t, int64(3956), usage.Total.TotalTokens)
	assert.Equal(t, int64(3), usage.Total.Requests)
	assert.Equal(t, usage.Total.TotalTokens, usage.Total.InputTokens+usage.Total.OutputTokens)
	var sum botonom.UsageCounts
	for i, p := range usage.Data {
		assert.Equal(t, p.PeriodStart.Add(24*time.Hour), p.PeriodEnd)
		if i > 0 {
			assert.Equal(t, usage.Data[i-1].PeriodEnd, p.PeriodStart)
		}
		sum.TotalTokens += p.TotalTokens
		sum.Requests += p.Requests
	}
	assert.Equal(t, usage.Total.TotalTokens, sum.TotalTokens)
	assert.Equal(t, usage.Total.Requests, sum.Requests)
	assert.True(t, usage.To.After(time.Now()), "to is the end of today")

	// A message sent now counts at once.
	_, _, err = client.Agents.SendMessage(ctx, botonomtest.SampleAgentID, &botonom.SendMessageRequest{Content: "hi"})
	require.NoError(t, err)
	after, _, err := client.Analytics.Usage(ctx, &botonom.UsageOptions{AgentID: botonomtest.SampleAgentID})
	require.NoError(t, err)
	assert.Equal(t, int64(3), after.Total.Requests, "two seeded tasks of this agent and the new one")
	assert.Equal(t, int64(1834+912+420+3*2), after.Total.TotalTokens)

	// Explicit span by hour.
	to := time.Now().UTC().Truncate(time.Hour).Add(time.Hour)
	hourly, _, err := client.Analytics.Usage(ctx, &botonom.UsageOptions{From: to.Add(-6 * time.Hour), To: to, Granularity: botonom.GranularityHour})
	require.NoError(t, err)
	require.Len(t, hourly.Data, 6)
	assert.Equal(t, to.Add(-6*time.Hour), hourly.From)
	assert.Equal(t, int64(2), hourly.Total.Requests, "the seeded task of 3 h ago and the new message")

	monthly, _, err := client.Analytics.Usage(ctx, &botonom.UsageOptions{Granularity: botonom.GranularityMonth})
	require.NoError(t, err)
	assert.Len(t, monthly.Data, 12)
	assert.Equal(t, 1, monthly.Data[0].PeriodStart.Day())

	_, _, err = client.Analytics.Usage(ctx, &botonom.UsageOptions{AgentID: "agt_nope"})
	requireAPIError(t, err, 404, "not_found_error", "agent_id")
}

func TestAuth_WrongOrMissingTokenIs401(t *testing.T) {
	srv := botonomtest.NewServer(t)
	client, err := botonom.NewClient("btm_sk_wrong", botonom.WithBaseURL(srv.URL()))
	require.NoError(t, err)
	_, _, err = client.Agents.List(context.Background(), nil)
	require.ErrorIs(t, err, botonom.ErrUnauthorized)
	apiErr := requireAPIError(t, err, 401, "authentication_error", "")
	assert.Equal(t, "invalid_token", apiErr.Code)
	assert.NotContains(t, err.Error(), "btm_sk_wrong")

	a := send(t, srv, "GET", "agents", "", "Authorization", "")
	require.Equal(t, 401, a.status)
	typ, code, _ := a.errorBody(t)
	assert.Equal(t, "authentication_error", typ)
	assert.Equal(t, "missing_token", code)
	assert.NotEmpty(t, a.header.Get("X-Request-Id"))
	assert.NotEmpty(t, a.header.Get("X-RateLimit-Remaining"))

	a = send(t, srv, "GET", "agents", "", "Authorization", "Basic "+botonomtest.Token)
	assert.Equal(t, 401, a.status)

	other := botonomtest.NewServer(t, botonomtest.WithToken("btm_sk_custom"))
	_, _, err = other.Client().Agents.List(context.Background(), nil)
	require.NoError(t, err, "Client uses the server's token")
	a = send(t, other, "GET", "agents", "")
	assert.Equal(t, 401, a.status, "the default token is refused")
}

func TestUnknownPathIs404AndWrongMethodIs405(t *testing.T) {
	srv := botonomtest.NewServer(t)
	for _, path := range []string{"nope", "agents/agt_abc123/nope", "agents/", "agents//tasks", "analytics"} {
		a := send(t, srv, "GET", path, "")
		assert.Equal(t, 404, a.status, path)
		typ, code, _ := a.errorBody(t)
		assert.Equal(t, "not_found_error", typ, path)
		assert.Equal(t, "unknown_path", code, path)
	}

	a := send(t, srv, "DELETE", "agents/agt_abc123", "")
	assert.Equal(t, 405, a.status)
	assert.Equal(t, "GET", a.header.Get("Allow"))
	typ, code, _ := a.errorBody(t)
	assert.Equal(t, "invalid_request_error", typ)
	assert.Equal(t, "method_not_allowed", code)

	a = send(t, srv, "GET", "webhooks", "")
	assert.Equal(t, 405, a.status)
	assert.Equal(t, "POST", a.header.Get("Allow"))

	// Outside /v1 too.
	req, err := http.NewRequest("GET", strings.TrimSuffix(srv.URL(), "v1/")+"agents", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+botonomtest.Token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 404, resp.StatusCode)
}

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}
