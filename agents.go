package botonom

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// AgentsService lists and reads the workspace's agents, sends them
// messages, reads their task history and installs or removes skills.
type AgentsService service

// AgentStatus is whether an agent is reachable.
type AgentStatus string

// Agent statuses.
const (
	AgentStatusOnline  AgentStatus = "online"
	AgentStatusOffline AgentStatus = "offline"
)

// Agent is an AI agent of the workspace.
type Agent struct {
	ID          string      `json:"id"`
	Name        string      `json:"name"`
	Description string      `json:"description"`
	Status      AgentStatus `json:"status"`
	Skills      []string    `json:"skills"`
	CreatedAt   time.Time   `json:"created_at"`
	UpdatedAt   time.Time   `json:"updated_at"`
}

// TaskStatus is where a task stands.
type TaskStatus string

// Task statuses.
const (
	TaskStatusPending   TaskStatus = "pending"
	TaskStatusRunning   TaskStatus = "running"
	TaskStatusCompleted TaskStatus = "completed"
	TaskStatusFailed    TaskStatus = "failed"
)

// Task is a piece of work an agent did in answer to a message.
type Task struct {
	ID          string     `json:"id"`
	AgentID     string     `json:"agent_id"`
	MessageID   string     `json:"message_id"`
	Status      TaskStatus `json:"status"`
	Description string     `json:"description"`
	Result      string     `json:"result"`
	Error       string     `json:"error"`
	TokensUsed  int64      `json:"tokens_used"`
	CreatedAt   time.Time  `json:"created_at"`
	CompletedAt *time.Time `json:"completed_at"` // nil until the task finishes
}

// ListOptions pages through a list. Limit is 1–100 (0 means the API's
// default, 20); Cursor is Response.NextCursor of the previous page.
type ListOptions struct {
	Limit  int    `url:"limit,omitempty"`
	Cursor string `url:"cursor,omitempty"`
}

func (o *ListOptions) validate() error {
	if o.Limit < 0 || o.Limit > 100 {
		return invalidArgf("limit must be between 1 and 100, got %d", o.Limit)
	}
	return nil
}

// ListAgentsOptions filters Agents.List.
type ListAgentsOptions struct {
	ListOptions
	Status AgentStatus `url:"status,omitempty"` // only agents in this status
}

// ListTasksOptions filters Agents.ListTasks. Times are sent as RFC 3339
// in UTC, with the fraction of a second they have.
type ListTasksOptions struct {
	ListOptions
	Status        TaskStatus `url:"status,omitempty"`
	CreatedAfter  time.Time  `url:"created_after,omitempty"`
	CreatedBefore time.Time  `url:"created_before,omitempty"`
}

// UpdateSkillsRequest installs and removes skills in one call; at least
// one of the lists must be non-empty, and no skill may be in both (the API
// refuses it: which would win is not said).
type UpdateSkillsRequest struct {
	Install []string `json:"install,omitempty"`
	Remove  []string `json:"remove,omitempty"`
}

// The agents endpoints, as a CallTrace and middleware see them.
var (
	opListAgents   = &Call{Operation: "agents.list", Method: http.MethodGet, Route: "/agents"}
	opGetAgent     = &Call{Operation: "agents.get", Method: http.MethodGet, Route: "/agents/{id}"}
	opListTasks    = &Call{Operation: "agents.list_tasks", Method: http.MethodGet, Route: "/agents/{id}/tasks"}
	opUpdateSkills = &Call{Operation: "agents.update_skills", Method: http.MethodPut, Route: "/agents/{id}/skills"}
)

// agentPath validates an agent ID and returns the escaped path of the agent
// followed by suffix ("", "/tasks", …).
func agentPath(id, suffix string) (string, error) {
	if err := validateID("agent ID", id); err != nil {
		return "", err
	}
	return "agents/" + url.PathEscape(id) + suffix, nil
}

// List returns one page of the workspace's agents; resp.NextCursor names
// the next page. ListAll walks every page.
//
// API: GET /agents
func (s *AgentsService) List(ctx context.Context, opts *ListAgentsOptions, callOpts ...Option) ([]*Agent, *Response, error) {
	if opts != nil {
		if err := opts.validate(); err != nil {
			return nil, nil, err
		}
	}
	return listPage[Agent](ctx, s.client, opListAgents, "agents", opts, callOpts)
}

// ListAll returns every agent, following cursors page by page (page size
// and filters from opts; callOpts apply to every page's call). It stops requesting as soon as the loop breaks;
// an error ends the sequence as its last pair. A next_cursor the list has
// already been through ends it with an error after that page's items,
// rather than loop over the same pages.
//
// API: GET /agents
func (s *AgentsService) ListAll(ctx context.Context, opts *ListAgentsOptions, callOpts ...Option) iter.Seq2[*Agent, error] {
	o := ListAgentsOptions{}
	if opts != nil {
		o = *opts
	}
	return allPages(func(cursor string) ([]*Agent, *Response, error) {
		o.Cursor = cursor
		return s.List(ctx, &o, callOpts...)
	}, o.Cursor)
}

// Get returns one agent of the workspace.
//
// API: GET /agents/{id}
func (s *AgentsService) Get(ctx context.Context, id string, opts ...Option) (*Agent, *Response, error) {
	path, err := agentPath(id, "")
	if err != nil {
		return nil, nil, err
	}
	return call[Agent](ctx, s.client, opGetAgent, path, nil, opts)
}

// ListTasks returns one page of an agent's task history, newest first.
//
// API: GET /agents/{id}/tasks
func (s *AgentsService) ListTasks(ctx context.Context, id string, opts *ListTasksOptions, callOpts ...Option) ([]*Task, *Response, error) {
	path, err := agentPath(id, "/tasks")
	if err != nil {
		return nil, nil, err
	}
	if opts != nil {
		if err := opts.validate(); err != nil {
			return nil, nil, err
		}
		if !opts.CreatedAfter.IsZero() && !opts.CreatedBefore.IsZero() && opts.CreatedBefore.Before(opts.CreatedAfter) {
			return nil, nil, invalidArgf("list tasks: created_before is before created_after")
		}
	}
	return listPage[Task](ctx, s.client, opListTasks, path, opts, callOpts)
}

// ListAllTasks returns an agent's whole task history, following cursors as
// ListAll does.
//
// API: GET /agents/{id}/tasks
func (s *AgentsService) ListAllTasks(ctx context.Context, id string, opts *ListTasksOptions, callOpts ...Option) iter.Seq2[*Task, error] {
	o := ListTasksOptions{}
	if opts != nil {
		o = *opts
	}
	return allPages(func(cursor string) ([]*Task, *Response, error) {
		o.Cursor = cursor
		return s.ListTasks(ctx, id, &o, callOpts...)
	}, o.Cursor)
}

// UpdateSkills installs and removes skills of an agent and returns the
// agent with its skills updated. The call is idempotent.
//
// API: PUT /agents/{id}/skills
func (s *AgentsService) UpdateSkills(ctx context.Context, id string, body *UpdateSkillsRequest, opts ...Option) (*Agent, *Response, error) {
	path, err := agentPath(id, "/skills")
	if err != nil {
		return nil, nil, err
	}
	if err := body.validate(); err != nil {
		return nil, nil, err
	}
	return call[Agent](ctx, s.client, opUpdateSkills, path, body, opts)
}

// InstallSkills installs skills on an agent: UpdateSkills with Install.
// It takes no options; for per-call options, call UpdateSkills.
func (s *AgentsService) InstallSkills(ctx context.Context, id string, skills ...string) (*Agent, *Response, error) {
	return s.UpdateSkills(ctx, id, &UpdateSkillsRequest{Install: skills})
}

// RemoveSkills removes skills from an agent: UpdateSkills with Remove.
// It takes no options; for per-call options, call UpdateSkills.
func (s *AgentsService) RemoveSkills(ctx context.Context, id string, skills ...string) (*Agent, *Response, error) {
	return s.UpdateSkills(ctx, id, &UpdateSkillsRequest{Remove: skills})
}

func (r *UpdateSkillsRequest) validate() error {
	if r == nil {
		return invalidArgf("update skills: nil request")
	}
	if len(r.Install) == 0 && len(r.Remove) == 0 {
		return invalidArgf("update skills: install and remove are both empty")
	}
	for _, list := range []struct {
		field  string
		skills []string
	}{{"install", r.Install}, {"remove", r.Remove}} {
		for i, skill := range list.skills {
			if strings.TrimSpace(skill) == "" {
				return invalidArgf("update skills: %s[%d] is empty", list.field, i)
			}
		}
	}
	for _, skill := range r.Install {
		if slices.Contains(r.Remove, skill) {
			return invalidArgf("update skills: %q is both in install and in remove", skill)
		}
	}
	return nil
}

// listResponse is the JSON envelope of every list answer.
type listResponse[T any] struct {
	Data       []*T   `json:"data"`
	HasMore    bool   `json:"has_more"`
	NextCursor string `json:"next_cursor"`
}

// listPage fetches one page of a list endpoint; opts is a query struct.
func listPage[T any](ctx context.Context, c *Client, op *Call, path string, query any, opts []Option) ([]*T, *Response, error) {
	path, err := addQuery(path, query)
	if err != nil {
		return nil, nil, err
	}
	page, resp, err := call[listResponse[T]](ctx, c, op, path, nil, opts)
	if err != nil {
		return nil, resp, err
	}
	if page.HasMore {
		if page.NextCursor == "" {
			return nil, resp, fmt.Errorf("botonom: GET %s: has_more without next_cursor%s", path, requestRef(resp.RequestID))
		}
		resp.NextCursor = page.NextCursor
	}
	return page.Data, resp, nil
}

// allPages yields every item of a list, one page request at a time,
// starting at cursor. It requests nothing more once the consumer stops, and
// yields an error as the last pair. A next_cursor the list already went
// through (a server bug, a proxy's cache) would loop forever: the
// iteration ends with an error after that page's items.
func allPages[T any](fetch func(cursor string) ([]*T, *Response, error), cursor string) iter.Seq2[*T, error] {
	return func(yield func(*T, error) bool) {
		seen := map[string]bool{cursor: true}
		for {
			items, resp, err := fetch(cursor)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			if resp.NextCursor == "" {
				return
			}
			cursor = resp.NextCursor
			if seen[cursor] {
				yield(nil, fmt.Errorf("botonom: list: the API answered next_cursor %q again%s; stopped rather than loop over the same pages", cursor, requestRef(resp.RequestID)))
				return
			}
			seen[cursor] = true
		}
	}
}
