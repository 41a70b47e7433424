package botonom

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const agentJSON = `{"id": "agt_abc123", "name": "Reservations", "description": "Books restaurant tables",
 "status": "online", "skills": ["calendar", "booking"],
 "created_at": "2026-01-05T09:00:00Z", "updated_at": "2026-02-18T14:30:00Z"}`

const taskJSON = `{"id": "tsk_001", "agent_id": "agt_abc123", "message_id": "msg_789", "status": "completed",
 "description": "Book a table for 4 at 7pm tomorrow", "result": "Booked at Luigi's, 19:00",
 "error": "", "tokens_used": 1834, "created_at": "2026-02-18T14:30:00Z", "completed_at": "2026-02-18T14:30:05Z"}`

var wantAgent = &Agent{
	ID: "agt_abc123", Name: "Reservations", Description: "Books restaurant tables",
	Status: AgentStatusOnline, Skills: []string{"calendar", "booking"},
	CreatedAt: mustTime("2026-01-05T09:00:00Z"), UpdatedAt: mustTime("2026-02-18T14:30:00Z"),
}

func TestAgentsList(t *testing.T) {
	c, mt := setup(t)
	handle(mt, "GET", "agents", 200, `{"data":[`+agentJSON+`],"has_more":true,"next_cursor":"cur_2"}`, func(r *http.Request) {
		testMethod(t, r, "GET")
		testStandardHeaders(t, r)
		testNoBody(t, r)
		assert.Empty(t, r.Header.Get("Idempotency-Key"))
		assert.Equal(t, url.Values{"limit": {"10"}, "cursor": {"cur_1"}, "status": {"online"}}, r.URL.Query())
	})
	agents, resp, err := c.Agents.List(context.Background(), &ListAgentsOptions{
		ListOptions: ListOptions{Limit: 10, Cursor: "cur_1"}, Status: AgentStatusOnline,
	})
	require.NoError(t, err)
	assert.Equal(t, []*Agent{wantAgent}, agents)
	assert.Equal(t, "cur_2", resp.NextCursor)
	assert.Equal(t, "req_test_1", resp.RequestID)
}

func TestAgentsList_NilOptionsSendsNoQuery(t *testing.T) {
	c, mt := setup(t)
	handle(mt, "GET", "agents", 200, `{"data":[],"has_more":false,"next_cursor":""}`, func(r *http.Request) {
		assert.Empty(t, r.URL.RawQuery)
	})
	agents, resp, err := c.Agents.List(context.Background(), nil)
	require.NoError(t, err)
	assert.Empty(t, agents)
	assert.Empty(t, resp.NextCursor)
}

func TestAgentsList_HasMoreWithoutCursorIsAnError(t *testing.T) {
	c, mt := setup(t)
	handle(mt, "GET", "agents", 200, `{"data":[],"has_more":true,"next_cursor":""}`, nil)
	_, _, err := c.Agents.List(context.Background(), nil)
	assert.ErrorContains(t, err, "has_more without next_cursor")
}

func TestAgentsGet(t *testing.T) {
	c, mt := setup(t)
	handle(mt, "GET", "agents/agt_abc123", 200, agentJSON, func(r *http.Request) {
		testMethod(t, r, "GET")
		testStandardHeaders(t, r)
		testNoBody(t, r)
	})
	agent, resp, err := c.Agents.Get(context.Background(), "agt_abc123")
	require.NoError(t, err)
	assert.Equal(t, wantAgent, agent)
	assert.Equal(t, 200, resp.StatusCode)
}

func TestAgentsGet_EscapesPathTraversal(t *testing.T) {
	c, mt := setup(t, WithMaxRetries(0))
	var got *url.URL
	mt.RegisterNoResponder(func(r *http.Request) (*http.Response, error) {
		got = r.URL
		return httpmock.NewStringResponse(404, ""), nil
	})
	_, _, err := c.Agents.Get(context.Background(), "../webhooks")
	require.ErrorIs(t, err, ErrNotFound)
	require.NotNil(t, got)
	assert.Equal(t, "/v1/agents/..%2Fwebhooks", got.EscapedPath())
	assert.Equal(t, "https://api.test/v1/agents/..%2Fwebhooks", got.String())

	_, _, err = c.Agents.Get(context.Background(), "a/b?x=1#f")
	require.Error(t, err)
	assert.Equal(t, "/v1/agents/a%2Fb%3Fx=1%23f", got.EscapedPath())
}

func TestAgents_BadInputSendsNothing(t *testing.T) {
	c, mt := setup(t)
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"get empty id":   func() error { _, _, err := c.Agents.Get(ctx, ""); return err },
		"get blank id":   func() error { _, _, err := c.Agents.Get(ctx, "  "); return err },
		"get dot-dot id": func() error { _, _, err := c.Agents.Get(ctx, ".."); return err },
		"get dot id":     func() error { _, _, err := c.Agents.Get(ctx, "."); return err },
		"list limit 101": func() error {
			_, _, err := c.Agents.List(ctx, &ListAgentsOptions{ListOptions: ListOptions{Limit: 101}})
			return err
		},
		"list limit -1": func() error {
			_, _, err := c.Agents.List(ctx, &ListAgentsOptions{ListOptions: ListOptions{Limit: -1}})
			return err
		},
		"tasks empty id": func() error { _, _, err := c.Agents.ListTasks(ctx, "", nil); return err },
		"tasks limit 500": func() error {
			_, _, err := c.Agents.ListTasks(ctx, "agt_1", &ListTasksOptions{ListOptions: ListOptions{Limit: 500}})
			return err
		},
		"tasks bad range": func() error {
			_, _, err := c.Agents.ListTasks(ctx, "agt_1", &ListTasksOptions{CreatedAfter: time.Now(), CreatedBefore: time.Now().Add(-time.Hour)})
			return err
		},
		"skill installed and removed": func() error {
			_, _, err := c.Agents.UpdateSkills(ctx, "agt_1", &UpdateSkillsRequest{Install: []string{"a", "x"}, Remove: []string{"x"}})
			return err
		},
		"skills nil":        func() error { _, _, err := c.Agents.UpdateSkills(ctx, "agt_1", nil); return err },
		"skills empty":      func() error { _, _, err := c.Agents.UpdateSkills(ctx, "agt_1", &UpdateSkillsRequest{}); return err },
		"skills blank name": func() error { _, _, err := c.Agents.InstallSkills(ctx, "agt_1", "calendar", " "); return err },
		"install none":      func() error { _, _, err := c.Agents.InstallSkills(ctx, "agt_1"); return err },
		"skills empty id":   func() error { _, _, err := c.Agents.RemoveSkills(ctx, "", "x"); return err },
		"message nil":       func() error { _, _, err := c.Agents.SendMessage(ctx, "agt_1", nil); return err },
		"message empty":     func() error { _, _, err := c.Agents.SendMessage(ctx, "agt_1", &SendMessageRequest{}); return err },
		"message blank": func() error {
			_, _, err := c.Agents.SendMessage(ctx, "agt_1", &SendMessageRequest{Content: " \n"})
			return err
		},
		"message empty id": func() error {
			_, _, err := c.Agents.SendMessage(ctx, "", &SendMessageRequest{Content: "hi"})
			return err
		},
		"list all limit": func() error {
			for _, err := range c.Agents.ListAll(ctx, &ListAgentsOptions{ListOptions: ListOptions{Limit: 1000}}) {
				return err
			}
			return nil
		},
		"list all tasks id": func() error {
			for _, err := range c.Agents.ListAllTasks(ctx, "", nil) {
				return err
			}
			return nil
		},
	} {
		t.Run(name, func(t *testing.T) {
			err := call()
			require.Error(t, err)
			assert.Contains(t, err.Error(), "botonom: ")
			assert.ErrorIs(t, err, ErrInvalidArgument)
			var apiErr *APIError
			assert.False(t, errors.As(err, &apiErr), "not an API answer")
		})
	}
	assert.Zero(t, mt.GetTotalCallCount(), "no request may be sent for bad input")
}

func TestAgents_ErrorsNameTheField(t *testing.T) {
	c, _ := setup(t)
	ctx := context.Background()
	_, _, err := c.Agents.Get(ctx, "")
	assert.ErrorContains(t, err, "agent ID is empty")
	_, _, err = c.Agents.List(ctx, &ListAgentsOptions{ListOptions: ListOptions{Limit: 101}})
	assert.ErrorContains(t, err, "limit must be between 1 and 100, got 101")
	_, _, err = c.Agents.SendMessage(ctx, "agt_1", &SendMessageRequest{})
	assert.ErrorContains(t, err, "content is empty")
	_, _, err = c.Agents.InstallSkills(ctx, "agt_1", "ok", "")
	assert.ErrorContains(t, err, "install[1] is empty")
	_, _, err = c.Agents.UpdateSkills(ctx, "agt_1", &UpdateSkillsRequest{Install: []string{"calendar"}, Remove: []string{"weather", "calendar"}})
	assert.ErrorContains(t, err, `"calendar" is both in install and in remove`)
}

func TestAgentsListTasks(t *testing.T) {
	c, mt := setup(t)
	handle(mt, "GET", "agents/agt_abc123/tasks", 200, `{"data":[`+taskJSON+`],"has_more":false,"next_cursor":""}`, func(r *http.Request) {
		testMethod(t, r, "GET")
		testStandardHeaders(t, r)
		assert.Equal(t, url.Values{
			"limit":          {"5"},
			"status":         {"completed"},
			"created_after":  {"2026-02-01T00:00:00Z"},
			"created_before": {"2026-02-18T00:00:00Z"},
		}, r.URL.Query())
	})
	tasks, resp, err := c.Agents.ListTasks(context.Background(), "agt_abc123", &ListTasksOptions{
		ListOptions:   ListOptions{Limit: 5},
		Status:        TaskStatusCompleted,
		CreatedAfter:  mustTime("2026-02-01T00:00:00Z"),
		CreatedBefore: mustTime("2026-02-18T00:00:00Z"),
	})
	require.NoError(t, err)
	completed := mustTime("2026-02-18T14:30:05Z")
	assert.Equal(t, []*Task{{
		ID: "tsk_001", AgentID: "agt_abc123", MessageID: "msg_789", Status: TaskStatusCompleted,
		Description: "Book a table for 4 at 7pm tomorrow", Result: "Booked at Luigi's, 19:00",
		TokensUsed: 1834, CreatedAt: mustTime("2026-02-18T14:30:00Z"), CompletedAt: &completed,
	}}, tasks)
	assert.Empty(t, resp.NextCursor)
}

func TestAgentsListTasks_NullCompletedAt(t *testing.T) {
	c, mt := setup(t)
	handle(mt, "GET", "agents/agt_1/tasks", 200, `{"data":[{"id":"tsk_2","status":"running","completed_at":null}],"has_more":false}`, nil)
	tasks, _, err := c.Agents.ListTasks(context.Background(), "agt_1", nil)
	require.NoError(t, err)
	require.Len(t, tasks, 1)
	assert.Nil(t, tasks[0].CompletedAt)
	assert.Equal(t, TaskStatusRunning, tasks[0].Status)
}

func TestAgentsUpdateSkills(t *testing.T) {
	c, mt := setup(t)
	handle(mt, "PUT", "agents/agt_abc123/skills", 200, agentJSON, func(r *http.Request) {
		testMethod(t, r, "PUT")
		testStandardHeaders(t, r)
		assert.Empty(t, r.Header.Get("Idempotency-Key"), "PUT is idempotent by itself")
		testJSONBody(t, r, `{"install":["calendar"],"remove":["weather"]}`)
	})
	agent, _, err := c.Agents.UpdateSkills(context.Background(), "agt_abc123", &UpdateSkillsRequest{
		Install: []string{"calendar"}, Remove: []string{"weather"},
	})
	require.NoError(t, err)
	assert.Equal(t, wantAgent, agent)
}

func TestAgentsInstallAndRemoveSkills(t *testing.T) {
	c, mt := setup(t)
	var bodies []string
	handle(mt, "PUT", "agents/agt_abc123/skills", 200, agentJSON, func(r *http.Request) {
		b := make([]byte, 256)
		n, _ := r.Body.Read(b)
		bodies = append(bodies, string(b[:n]))
	})
	_, _, err := c.Agents.InstallSkills(context.Background(), "agt_abc123", "calendar", "booking")
	require.NoError(t, err)
	_, _, err = c.Agents.RemoveSkills(context.Background(), "agt_abc123", "weather")
	require.NoError(t, err)
	require.Len(t, bodies, 2)
	assert.JSONEq(t, `{"install":["calendar","booking"]}`, bodies[0])
	assert.JSONEq(t, `{"remove":["weather"]}`, bodies[1])
}

// pages registers a list endpoint answering three pages keyed by cursor and
// returns a pointer to the cursors requested, in order.
func pages(mt *httpmock.MockTransport, path string, item func(i int) string, failOn string) *[]string {
	var seen []string
	mt.RegisterResponder("GET", testBaseURL+path, func(r *http.Request) (*http.Response, error) {
		cursor := r.URL.Query().Get("cursor")
		seen = append(seen, cursor)
		if cursor == failOn {
			return httpmock.NewStringResponse(404, `{"error":{"type":"not_found_error","message":"cursor expired"}}`), nil
		}
		next := map[string]string{"": "p2", "p2": "p3", "p3": ""}[cursor]
		start := map[string]int{"": 0, "p2": 2, "p3": 4}[cursor]
		body := fmt.Sprintf(`{"data":[%s,%s],"has_more":%t,"next_cursor":%q}`, item(start), item(start+1), next != "", next)
		return httpmock.NewStringResponse(200, body), nil
	})
	return &seen
}

func agentItem(i int) string { return fmt.Sprintf(`{"id":"agt_%d"}`, i) }

func TestAgentsListAll_FollowsCursors(t *testing.T) {
	c, mt := setup(t)
	seen := pages(mt, "agents", agentItem, "-")
	var ids []string
	for agent, err := range c.Agents.ListAll(context.Background(), &ListAgentsOptions{ListOptions: ListOptions{Limit: 2}}) {
		require.NoError(t, err)
		ids = append(ids, agent.ID)
	}
	assert.Equal(t, []string{"agt_0", "agt_1", "agt_2", "agt_3", "agt_4", "agt_5"}, ids)
	assert.Equal(t, []string{"", "p2", "p3"}, *seen)
}

func TestAgentsListAll_BreakSendsNoFurtherRequest(t *testing.T) {
	c, mt := setup(t)
	seen := pages(mt, "agents", agentItem, "-")
	n := 0
	for _, err := range c.Agents.ListAll(context.Background(), nil) {
		require.NoError(t, err)
		n++
		if n == 3 { // first item of page 2
			break
		}
	}
	assert.Equal(t, []string{"", "p2"}, *seen)
	assert.Equal(t, 2, mt.GetTotalCallCount())
}

func TestAgentsListAll_ErrorOnPage2IsTheLastPair(t *testing.T) {
	c, mt := setup(t)
	seen := pages(mt, "agents", agentItem, "p2")
	var ids []string
	var errs []error
	for agent, err := range c.Agents.ListAll(context.Background(), nil) {
		if err != nil {
			errs = append(errs, err)
			assert.Nil(t, agent)
			continue
		}
		require.Empty(t, errs, "nothing may follow the error")
		ids = append(ids, agent.ID)
	}
	assert.Equal(t, []string{"agt_0", "agt_1"}, ids)
	require.Len(t, errs, 1)
	assert.True(t, errors.Is(errs[0], ErrNotFound))
	assert.Equal(t, []string{"", "p2"}, *seen)
}

func TestAgentsListAllTasks_FollowsCursors(t *testing.T) {
	c, mt := setup(t)
	seen := pages(mt, "agents/agt_1/tasks", func(i int) string { return fmt.Sprintf(`{"id":"tsk_%d"}`, i) }, "-")
	var ids []string
	for task, err := range c.Agents.ListAllTasks(context.Background(), "agt_1", &ListTasksOptions{Status: TaskStatusFailed}) {
		require.NoError(t, err)
		ids = append(ids, task.ID)
	}
	assert.Equal(t, []string{"tsk_0", "tsk_1", "tsk_2", "tsk_3", "tsk_4", "tsk_5"}, ids)
	assert.Equal(t, []string{"", "p2", "p3"}, *seen)
}

func TestListOptions_LimitBounds(t *testing.T) {
	c, mt := setup(t)
	var got []string
	handle(mt, "GET", "agents", 200, `{"data":[],"has_more":false}`, func(r *http.Request) { got = append(got, r.URL.RawQuery) })
	for _, limit := range []int{0, 1, 100} {
		_, _, err := c.Agents.List(context.Background(), &ListAgentsOptions{ListOptions: ListOptions{Limit: limit}})
		require.NoError(t, err, "limit %d", limit)
	}
	assert.Equal(t, []string{"", "limit=1", "limit=100"}, got)
	for _, limit := range []int{-1, 101} {
		_, _, err := c.Agents.List(context.Background(), &ListAgentsOptions{ListOptions: ListOptions{Limit: limit}})
		assert.ErrorIs(t, err, ErrInvalidArgument, "limit %d", limit)
	}
	assert.Equal(t, 3, mt.GetTotalCallCount())
}

func TestListAll_RepeatedCursorEndsWithAnErrorAfterItsPage(t *testing.T) {
	// Each list walks its pages, calling visit with each item's ID or the
	// error, until visit says stop.
	lists := map[string]func(c *Client, visit func(id string, err error) bool){
		"agents": func(c *Client, visit func(string, error) bool) {
			for a, err := range c.Agents.ListAll(context.Background(), nil) {
				if err != nil && !visit("", err) || err == nil && !visit(a.ID, nil) {
					return
				}
			}
		},
		"agents/agt_1/tasks": func(c *Client, visit func(string, error) bool) {
			for tk, err := range c.Agents.ListAllTasks(context.Background(), "agt_1", nil) {
				if err != nil && !visit("", err) || err == nil && !visit(tk.ID, nil) {
					return
				}
			}
		},
	}
	for path, list := range lists {
		for name, tc := range map[string]struct {
			next map[string]string // cursor → next_cursor
			sent []string          // cursors requested
		}{
			"the same page's":   {map[string]string{"": "p2", "p2": "p2"}, []string{"", "p2"}},
			"an earlier page's": {map[string]string{"": "p2", "p2": "p3", "p3": "p2"}, []string{"", "p2", "p3"}},
		} {
			t.Run(path+"/"+name, func(t *testing.T) {
				c, mt := setup(t)
				var sent []string
				mt.RegisterResponder("GET", testBaseURL+path, func(r *http.Request) (*http.Response, error) {
					cursor := r.URL.Query().Get("cursor")
					sent = append(sent, cursor)
					body := fmt.Sprintf(`{"data":[{"id":"of %s"}],"has_more":true,"next_cursor":%q}`, cursor, tc.next[cursor])
					resp := httpmock.NewStringResponse(200, body)
					resp.Header.Set("X-Request-Id", "req_"+cursor)
					return resp, nil
				})
				var ids []string
				var errs []error
				list(c, func(id string, err error) bool {
					if err != nil {
						errs = append(errs, err)
						return true
					}
					assert.Empty(t, errs, "nothing may follow the error")
					ids = append(ids, id)
					return len(ids) < 10 // the iteration loops: stop it
				})
				assert.Equal(t, tc.sent, sent, "no page is requested twice")
				var want []string
				for _, cur := range tc.sent {
					want = append(want, "of "+cur)
				}
				assert.Equal(t, want, ids, "every page's items, the repeating one's included")
				require.Len(t, errs, 1)
				last := tc.sent[len(tc.sent)-1]
				assert.EqualError(t, errs[0], `botonom: list: the API answered next_cursor "p2" again (request req_`+last+`); stopped rather than loop over the same pages`)
			})
		}
	}
}
