package botonomtest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	botonom "github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/botonomtest"
)

// Every validation rule, sent by hand (most of these the SDK refuses to
// send): the server answers 400 invalid_request_error naming the field, and
// the spec check flags the request too wherever the OpenAPI description can
// express the rule.
func TestValidation_BadInputIs400NamingTheField(t *testing.T) {
	const msg = "agents/agt_abc123/message"
	const tasks = "agents/agt_abc123/tasks"
	const skills = "agents/agt_abc123/skills"
	cases := []struct {
		name, method, path, body string
		code, param              string
		specRejects              bool
	}{
		{"content missing", "POST", msg, `{}`, "missing_field", "content", true},
		{"content blank", "POST", msg, `{"content":"  \n "}`, "missing_field", "content", true},
		{"content only unicode spaces", "POST", msg, `{"content":"\u00a0\u3000\u000b"}`, "missing_field", "content", true},
		{"content null", "POST", msg, `{"content":null}`, "missing_field", "content", true},
		{"content not a string", "POST", msg, `{"content":5}`, "invalid_type", "content", true},
		{"metadata value not a string", "POST", msg, `{"content":"hi","metadata":{"n":1}}`, "invalid_type", "metadata", true},
		{"unknown field", "POST", msg, `{"content":"hi","idempotency_key":"k"}`, "unknown_field", "idempotency_key", true},
		{"no body", "POST", msg, ``, "invalid_json", "", true},
		{"body not an object", "POST", msg, `["hi"]`, "invalid_json", "", true},
		{"body not JSON", "POST", msg, `{"content":`, "invalid_json", "", true},
		{"data after the object", "POST", msg, `{"content":"hi"} {}`, "invalid_json", "", false}, // kin-openapi reads the first value only

		{"url missing", "POST", "webhooks", `{"events":["agent.task.completed"],"secret":"s"}`, "missing_field", "url", true},
		{"url not absolute", "POST", "webhooks", `{"url":"/hook","events":["agent.task.completed"],"secret":"s"}`, "invalid_value", "url", true},
		{"url with a space", "POST", "webhooks", `{"url":"https://x.example/a b","events":["agent.task.completed"],"secret":"s"}`, "invalid_value", "url", true},
		{"url without a host name", "POST", "webhooks", `{"url":"https://:80/h","events":["agent.task.completed"],"secret":"s"}`, "invalid_value", "url", true},
		{"url not http", "POST", "webhooks", `{"url":"ftp://x.example/h","events":["agent.task.completed"],"secret":"s"}`, "invalid_value", "url", true},
		{"events missing", "POST", "webhooks", `{"url":"https://x.example/h","secret":"s"}`, "missing_field", "events", true},
		{"events empty", "POST", "webhooks", `{"url":"https://x.example/h","events":[],"secret":"s"}`, "missing_field", "events", true},
		{"event unknown", "POST", "webhooks", `{"url":"https://x.example/h","events":["agent.task.completed","agent.nope"],"secret":"s"}`, "invalid_value", "events", false}, // the API's to refuse
		{"event ill-formed", "POST", "webhooks", `{"url":"https://x.example/h","events":["Agent Task"],"secret":"s"}`, "invalid_value", "events", true},
		{"secret missing", "POST", "webhooks", `{"url":"https://x.example/h","events":["agent.task.completed"]}`, "missing_field", "secret", true},
		{"secret only unicode spaces", "POST", "webhooks", `{"url":"https://x.example/h","events":["agent.task.completed"],"secret":"\u00a0"}`, "missing_field", "secret", true},
		{"url with a no-break space", "POST", "webhooks", `{"url":"https://x.example/a\u00a0b","events":["agent.task.completed"],"secret":"s"}`, "invalid_value", "url", true},
		{"secret blank", "POST", "webhooks", `{"url":"https://x.example/h","events":["agent.task.completed"],"secret":" "}`, "missing_field", "secret", true},

		{"limit 0", "GET", "agents?limit=0", ``, "invalid_value", "limit", true},
		{"limit 101", "GET", "agents?limit=101", ``, "invalid_value", "limit", true},
		{"limit not a number", "GET", "agents?limit=ten", ``, "invalid_value", "limit", true},
		{"tasks limit -1", "GET", tasks + "?limit=-1", ``, "invalid_value", "limit", true},
		{"agent status", "GET", "agents?status=busy", ``, "invalid_value", "status", true},
		{"empty cursor", "GET", "agents?cursor=", ``, "invalid_value", "cursor", true},
		{"tasks empty cursor", "GET", tasks + "?cursor=", ``, "invalid_value", "cursor", true},
		{"bad cursor", "GET", "agents?cursor=not-a-cursor", ``, "invalid_cursor", "cursor", false},
		{"foreign cursor", "GET", "agents?cursor=YWZ0ZXI6YWd0X25vcGU", ``, "invalid_cursor", "cursor", false},
		{"task status", "GET", tasks + "?status=done", ``, "invalid_value", "status", true},
		{"created_after not a time", "GET", tasks + "?created_after=yesterday", ``, "invalid_value", "created_after", true},
		{"created_before not a date", "GET", tasks + "?created_before=2026-13-01T00:00:00Z", ``, "invalid_value", "created_before", true},
		{"created_before before created_after", "GET", tasks + "?created_after=2026-02-02T00:00:00Z&created_before=2026-02-01T00:00:00Z", ``, "invalid_value", "created_before", false},

		{"granularity", "GET", "analytics/usage?granularity=week", ``, "invalid_value", "granularity", true},
		{"from not a time", "GET", "analytics/usage?from=2026-02-01", ``, "invalid_value", "from", true},
		{"to not a time", "GET", "analytics/usage?to=now", ``, "invalid_value", "to", true},
		{"to before from", "GET", "analytics/usage?from=2026-02-02T00:00:00Z&to=2026-02-01T00:00:00Z", ``, "invalid_value", "to", false},
		{"agent_id empty", "GET", "analytics/usage?agent_id=", ``, "invalid_value", "agent_id", true},
		{"too many periods", "GET", "analytics/usage?granularity=hour&from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", ``, "invalid_value", "from", false},

		{"skills nothing to do", "PUT", skills, `{}`, "missing_field", "install", true},
		{"skills empty lists", "PUT", skills, `{"install":[],"remove":[]}`, "missing_field", "install", true},
		{"skill blank", "PUT", skills, `{"install":["calendar"," "]}`, "invalid_value", "install", true},
		{"skill only an ideographic space", "PUT", skills, `{"install":["\u3000"]}`, "invalid_value", "install", true},
		{"removed skill blank", "PUT", skills, `{"remove":[""]}`, "invalid_value", "remove", true},
		{"skill installed and removed", "PUT", skills, `{"install":["x"],"remove":["x"]}`, "invalid_value", "remove", false},
		{"skills not a list", "PUT", skills, `{"install":"calendar"}`, "invalid_type", "install", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := record(t)
			srv := botonomtest.NewServer(rec)
			a := send(t, srv, tc.method, tc.path, tc.body)

			requireRefused(t, a, tc.code, tc.param)
			assert.Regexp(t, `^req_`, a.header.Get("X-Request-Id"))

			reqErrs := rec.requestErrors()
			assert.Equal(t, tc.specRejects, len(reqErrs) > 0, "spec check: %v", reqErrs)
			assert.Len(t, rec.Errors(), len(reqErrs), "only request complaints, never about the answer: %v", rec.Errors())
			assert.Empty(t, srv.Messages())
			assert.Empty(t, srv.Webhooks())
		})
	}
}

// The SDK's own checks and the server's agree: each input the SDK refuses
// to send (ErrInvalidArgument, nothing sent), sent by hand to the server,
// is refused there too: 400 invalid_request_error naming the same field.
func TestValidation_TheServerRefusesWhatTheSDKRefuses(t *testing.T) {
	const agent = botonomtest.SampleAgentID
	ctx := context.Background()
	after := time.Date(2026, 2, 2, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name               string
		sdk                func(*botonom.Client) error
		method, path, body string
		code, param        string
	}{
		{"blank content",
			func(c *botonom.Client) error {
				_, _, err := c.Agents.SendMessage(ctx, agent, &botonom.SendMessageRequest{Content: " "})
				return err
			},
			"POST", "agents/" + agent + "/message", `{"content":" "}`, "missing_field", "content"},
		{"content only unicode spaces",
			func(c *botonom.Client) error {
				_, _, err := c.Agents.SendMessage(ctx, agent, &botonom.SendMessageRequest{Content: "\u00a0\u3000\v"})
				return err
			},
			"POST", "agents/" + agent + "/message", `{"content":"\u00a0\u3000\u000b"}`, "missing_field", "content"},
		{"skill only a no-break space",
			func(c *botonom.Client) error {
				_, _, err := c.Agents.InstallSkills(ctx, agent, "\u00a0")
				return err
			},
			"PUT", "agents/" + agent + "/skills", `{"install":["\u00a0"]}`, "invalid_value", "install"},
		{"secret only unicode spaces",
			func(c *botonom.Client) error {
				_, _, err := c.Webhooks.Register(ctx, &botonom.RegisterWebhookRequest{URL: "https://x.example/h", Events: []botonom.EventType{botonom.EventTaskCompleted}, Secret: "\u3000\v"})
				return err
			},
			"POST", "webhooks", `{"url":"https://x.example/h","events":["agent.task.completed"],"secret":"\u3000\u000b"}`, "missing_field", "secret"},
		{"limit 101",
			func(c *botonom.Client) error {
				_, _, err := c.Agents.List(ctx, &botonom.ListAgentsOptions{ListOptions: botonom.ListOptions{Limit: 101}})
				return err
			},
			"GET", "agents?limit=101", ``, "invalid_value", "limit"},
		{"tasks limit -1",
			func(c *botonom.Client) error {
				_, _, err := c.Agents.ListTasks(ctx, agent, &botonom.ListTasksOptions{ListOptions: botonom.ListOptions{Limit: -1}})
				return err
			},
			"GET", "agents/" + agent + "/tasks?limit=-1", ``, "invalid_value", "limit"},
		{"created_before before created_after",
			func(c *botonom.Client) error {
				_, _, err := c.Agents.ListTasks(ctx, agent, &botonom.ListTasksOptions{CreatedAfter: after, CreatedBefore: after.Add(-time.Second)})
				return err
			},
			"GET", "agents/" + agent + "/tasks?created_after=2026-02-02T00:00:00Z&created_before=2026-02-01T23:59:59Z", ``, "invalid_value", "created_before"},
		{"no events",
			func(c *botonom.Client) error {
				_, _, err := c.Webhooks.Register(ctx, &botonom.RegisterWebhookRequest{URL: "https://x.example/h", Secret: "s"})
				return err
			},
			"POST", "webhooks", `{"url":"https://x.example/h","secret":"s"}`, "missing_field", "events"},
		{"relative url",
			func(c *botonom.Client) error {
				_, _, err := c.Webhooks.Register(ctx, &botonom.RegisterWebhookRequest{URL: "/h", Events: []botonom.EventType{botonom.EventTaskCompleted}, Secret: "s"})
				return err
			},
			"POST", "webhooks", `{"url":"/h","events":["agent.task.completed"],"secret":"s"}`, "invalid_value", "url"},
		{"no secret",
			func(c *botonom.Client) error {
				_, _, err := c.Webhooks.Register(ctx, &botonom.RegisterWebhookRequest{URL: "https://x.example/h", Events: []botonom.EventType{botonom.EventTaskCompleted}})
				return err
			},
			"POST", "webhooks", `{"url":"https://x.example/h","events":["agent.task.completed"]}`, "missing_field", "secret"},
		{"no skill",
			func(c *botonom.Client) error {
				_, _, err := c.Agents.UpdateSkills(ctx, agent, &botonom.UpdateSkillsRequest{})
				return err
			},
			"PUT", "agents/" + agent + "/skills", `{}`, "missing_field", "install"},
		{"blank skill",
			func(c *botonom.Client) error {
				_, _, err := c.Agents.InstallSkills(ctx, agent, "calendar", " ")
				return err
			},
			"PUT", "agents/" + agent + "/skills", `{"install":["calendar"," "]}`, "invalid_value", "install"},
		{"skill installed and removed",
			func(c *botonom.Client) error {
				_, _, err := c.Agents.UpdateSkills(ctx, agent, &botonom.UpdateSkillsRequest{Install: []string{"calendar"}, Remove: []string{"calendar"}})
				return err
			},
			"PUT", "agents/" + agent + "/skills", `{"install":["calendar"],"remove":["calendar"]}`, "invalid_value", "remove"},
		{"to before from",
			func(c *botonom.Client) error {
				_, _, err := c.Analytics.Usage(ctx, &botonom.UsageOptions{From: after, To: after.Add(-time.Hour)})
				return err
			},
			"GET", "analytics/usage?from=2026-02-02T00:00:00Z&to=2026-02-01T23:00:00Z", ``, "invalid_value", "to"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := record(t) // the hand-made requests break the spec on purpose
			srv := botonomtest.NewServer(rec)

			err := tc.sdk(srv.Client())
			require.ErrorIs(t, err, botonom.ErrInvalidArgument)
			require.Empty(t, srv.Requests(), "the SDK refuses before sending")

			requireRefused(t, send(t, srv, tc.method, tc.path, tc.body), tc.code, tc.param)
			assert.Len(t, rec.Errors(), len(rec.requestErrors()), "only request complaints, never about the answer: %v", rec.Errors())
			assert.Len(t, srv.Requests(), 1)
		})
	}
}

// An empty window (equal created_after and created_before, equal from and
// to) is a valid query with an empty answer: the SDK sends it and the
// server answers it.
func TestValidation_AnEmptyWindowIsAValidQueryWithAnEmptyAnswer(t *testing.T) {
	srv := botonomtest.NewServer(t)
	client := srv.Client()
	ctx := context.Background()
	at := time.Now().UTC().Truncate(time.Second)

	tasks, _, err := client.Agents.ListTasks(ctx, botonomtest.SampleAgentID, &botonom.ListTasksOptions{CreatedAfter: at, CreatedBefore: at})
	require.NoError(t, err)
	assert.Empty(t, tasks)

	usage, _, err := client.Analytics.Usage(ctx, &botonom.UsageOptions{From: at, To: at, Granularity: botonom.GranularityHour})
	require.NoError(t, err)
	assert.Empty(t, usage.Data)
	assert.Zero(t, usage.Total)
	assert.True(t, usage.From.Equal(at) && usage.To.Equal(at), "from %s to %s", usage.From, usage.To)

	reqs := srv.Requests()
	require.Len(t, reqs, 2, "both sent")
	assert.Equal(t, reqs[0].Query.Get("created_after"), reqs[0].Query.Get("created_before"))
	assert.Equal(t, reqs[1].Query.Get("from"), reqs[1].Query.Get("to"))
}

// X-Botonom-Retry-Count is a whole number from 0; anything else is a 400
// naming the header, and nothing is done.
func TestValidation_RetryCountMustBeAWholeNumber(t *testing.T) {
	for _, v := range []string{"abc", "-1", "1.5", " "} {
		t.Run(v, func(t *testing.T) {
			rec := record(t)
			srv := botonomtest.NewServer(rec)
			a := send(t, srv, "POST", "agents/agt_abc123/message", `{"content":"hi"}`, "X-Botonom-Retry-Count", v)
			requireRefused(t, a, "invalid_value", "X-Botonom-Retry-Count")
			assert.Len(t, rec.requestErrors(), 1, "the spec refuses it too: %v", rec.Errors())
			assert.Empty(t, srv.Messages())
		})
	}
	srv := botonomtest.NewServer(t)
	for _, v := range []string{"0", "3"} {
		a := send(t, srv, "GET", "agents", ``, "X-Botonom-Retry-Count", v)
		assert.Equal(t, 200, a.status, "X-Botonom-Retry-Count: %s: %s", v, a.body)
	}
}

func TestValidation_OversizedBodyIs413(t *testing.T) {
	srv := botonomtest.NewServer(t)
	a := send(t, srv, "POST", "agents/agt_abc123/message", `{"content":"`+strings.Repeat("a", botonomtest.MaxRequestBody)+`"}`)
	assert.Equal(t, 413, a.status)
	typ, code, _ := a.errorBody(t)
	assert.Equal(t, "invalid_request_error", typ)
	assert.Equal(t, "body_too_large", code)
}

func TestValidation_IdempotencyKeyOver255CharactersIs400(t *testing.T) {
	rec := record(t)
	srv := botonomtest.NewServer(rec)
	a := send(t, srv, "POST", "agents/agt_abc123/message", `{"content":"hi"}`, "Idempotency-Key", strings.Repeat("k", 256))
	require.Equal(t, 400, a.status)
	_, code, param := a.errorBody(t)
	assert.Equal(t, "invalid_value", code)
	assert.Equal(t, "Idempotency-Key", param)
	assert.Len(t, rec.requestErrors(), 1, "the spec caps it too")
	assert.Empty(t, srv.Messages())

	a = send(t, srv, "POST", "agents/agt_abc123/message", `{"content":"hi"}`, "Idempotency-Key", strings.Repeat("k", 255))
	assert.Equal(t, 201, a.status)
}

// A window the spec allows but whose periods leave the years RFC 3339 can
// write (the last month of 9999 ends in 10000; midnight of year 0 east of
// UTC is year -1) is a 400 naming the end at fault, never a panic.
func TestValidation_AUsageWindowBeyondTheYear9999Is400(t *testing.T) {
	srv := botonomtest.NewServer(t)
	for _, c := range []struct{ query, param string }{
		{"from=9999-12-01T00:00:00Z&to=9999-12-31T00:00:00Z&granularity=month", "to"},
		{"from=9999-12-31T22:00:00Z&to=9999-12-31T22:45:00Z&granularity=hour", ""},
		{"from=0000-01-01T00:00:00%2B01:00&to=0000-02-01T00:00:00Z&granularity=day", "from"},
	} {
		a := send(t, srv, "GET", "analytics/usage?"+c.query, "")
		if c.param == "" {
			assert.Equal(t, 200, a.status, "%s: %s", c.query, a.body)
			continue
		}
		requireRefused(t, a, "invalid_value", c.param)
	}
}
