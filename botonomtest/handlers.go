package botonomtest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	botonom "github.com/botonom/botonom-go"
)

// endpoint names one of the API's operations.
type endpoint int

const (
	epListAgents endpoint = iota + 1
	epGetAgent
	epSendMessage
	epListTasks
	epUpdateSkills
	epRegisterWebhook
	epUsage
)

// routed is where a request goes: the endpoint and its agent ID, or the
// methods the path allows when the method is wrong.
type routed struct {
	ep      endpoint
	agentID string
	allow   []string
}

// route maps a request to an endpoint by its escaped path, so that an ID
// like "..%2Fwebhooks" stays one path segment and never reaches another
// endpoint.
func route(r *http.Request) (routed, *apiError) {
	notFound := &apiError{status: http.StatusNotFound, typ: "not_found_error", code: "unknown_path",
		message: fmt.Sprintf("no endpoint at %s %s", r.Method, r.URL.EscapedPath())}
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/v1/")
	if !ok {
		return routed{}, notFound
	}
	segs := strings.Split(rest, "/")
	for i, seg := range segs {
		dec, err := url.PathUnescape(seg)
		if err != nil || dec == "" {
			return routed{}, notFound
		}
		segs[i] = dec
	}
	var rt routed
	var method string
	switch {
	case len(segs) == 1 && segs[0] == "agents":
		rt, method = routed{ep: epListAgents}, http.MethodGet
	case len(segs) == 2 && segs[0] == "agents":
		rt, method = routed{ep: epGetAgent, agentID: segs[1]}, http.MethodGet
	case len(segs) == 3 && segs[0] == "agents" && segs[2] == "message":
		rt, method = routed{ep: epSendMessage, agentID: segs[1]}, http.MethodPost
	case len(segs) == 3 && segs[0] == "agents" && segs[2] == "tasks":
		rt, method = routed{ep: epListTasks, agentID: segs[1]}, http.MethodGet
	case len(segs) == 3 && segs[0] == "agents" && segs[2] == "skills":
		rt, method = routed{ep: epUpdateSkills, agentID: segs[1]}, http.MethodPut
	case len(segs) == 1 && segs[0] == "webhooks":
		rt, method = routed{ep: epRegisterWebhook}, http.MethodPost
	case len(segs) == 2 && segs[0] == "analytics" && segs[1] == "usage":
		rt, method = routed{ep: epUsage}, http.MethodGet
	default:
		return routed{}, notFound
	}
	if r.Method != method {
		return routed{allow: []string{method}}, &apiError{status: http.StatusMethodNotAllowed, typ: "invalid_request_error",
			code: "method_not_allowed", message: fmt.Sprintf("%s is not allowed here; use %s", r.Method, method)}
	}
	return rt, nil
}

// dispatch runs an endpoint; s.mu is held.
func (s *Server) dispatch(rt routed, r *http.Request, body []byte, now time.Time) (int, any, *apiError) {
	q := r.URL.Query()
	var agent *botonom.Agent
	if rt.agentID != "" {
		if agent = s.agent(rt.agentID); agent == nil {
			return 0, nil, &apiError{status: http.StatusNotFound, typ: "not_found_error", code: "agent_not_found", param: "id",
				message: fmt.Sprintf("no agent %q in this workspace", rt.agentID)}
		}
	}
	switch rt.ep {
	case epListAgents:
		return s.listAgents(q)
	case epGetAgent:
		return http.StatusOK, agent, nil
	case epSendMessage:
		return s.sendMessage(agent, r.Header.Get("Idempotency-Key"), body, now)
	case epListTasks:
		return s.listTasks(agent, q)
	case epUpdateSkills:
		return s.updateSkills(agent, body, now)
	case epRegisterWebhook:
		return s.registerWebhook(body, now)
	case epUsage:
		return s.usage(q, now)
	}
	panic(fmt.Sprintf("no handler for endpoint %d", rt.ep))
}

func (s *Server) agent(id string) *botonom.Agent {
	for _, a := range s.agents {
		if a.ID == id {
			return a
		}
	}
	return nil
}

// list is the JSON envelope of every list answer.
type list[T any] struct {
	Data       []T    `json:"data"`
	HasMore    bool   `json:"has_more"`
	NextCursor string `json:"next_cursor"`
}

// GET /agents
func (s *Server) listAgents(q url.Values) (int, any, *apiError) {
	limit, e := parseLimit(q)
	if e != nil {
		return 0, nil, e
	}
	status, e := parseEnum(q, "status", string(botonom.AgentStatusOnline), string(botonom.AgentStatusOffline))
	if e != nil {
		return 0, nil, e
	}
	cursor, e := parseCursor(q)
	if e != nil {
		return 0, nil, e
	}
	var agents []*botonom.Agent
	for _, a := range s.agents {
		if status == "" || string(a.Status) == status {
			agents = append(agents, a)
		}
	}
	return page(agents, func(a *botonom.Agent) string { return a.ID }, limit, cursor)
}

// POST /agents/{id}/message
func (s *Server) sendMessage(agent *botonom.Agent, key string, body []byte, now time.Time) (int, any, *apiError) {
	var req struct {
		Content  *string           `json:"content"`
		Channel  *string           `json:"channel"`
		Metadata map[string]string `json:"metadata"`
	}
	if e := decodeBody(body, &req); e != nil {
		return 0, nil, e
	}
	if req.Content == nil || strings.TrimSpace(*req.Content) == "" {
		return 0, nil, badRequest("missing_field", "content", "content is required and must not be blank")
	}
	channel := botonom.ChannelAPI
	if req.Channel != nil && strings.TrimSpace(*req.Channel) != "" {
		channel = *req.Channel
	}
	now = stamp(now)
	msg := botonom.Message{
		ID:        s.nextID("msg"),
		Status:    botonom.MessageStatusDelivered,
		AgentID:   agent.ID,
		CreatedAt: now,
		Channel:   channel,
		Content:   *req.Content,
		Metadata:  req.Metadata,
	}
	task := botonom.Task{
		ID:          s.nextID("tsk"),
		AgentID:     agent.ID,
		MessageID:   msg.ID,
		Status:      botonom.TaskStatusCompleted,
		Description: summarize(msg.Content, 200),
		CreatedAt:   now,
	}
	if agent.Status == botonom.AgentStatusOffline {
		// An offline agent cannot take the message yet: it waits.
		msg.Status = botonom.MessageStatusQueued
		task.Status = botonom.TaskStatusPending
	} else {
		task.Result = fmt.Sprintf("%s handled: %s", agent.Name, summarize(msg.Content, 80))
		task.TokensUsed = 420 + 3*int64(utf8.RuneCountInString(msg.Content))
		done := now
		task.CompletedAt = &done
	}
	s.tasks = append(s.tasks, &storedTask{Task: task, seq: len(s.tasks)})
	s.messages = append(s.messages, StoredMessage{Message: msg, IdempotencyKey: key, TaskID: task.ID})
	return http.StatusCreated, msg, nil
}

// GET /agents/{id}/tasks
func (s *Server) listTasks(agent *botonom.Agent, q url.Values) (int, any, *apiError) {
	limit, e := parseLimit(q)
	if e != nil {
		return 0, nil, e
	}
	status, e := parseEnum(q, "status", string(botonom.TaskStatusPending), string(botonom.TaskStatusRunning),
		string(botonom.TaskStatusCompleted), string(botonom.TaskStatusFailed))
	if e != nil {
		return 0, nil, e
	}
	after, e := parseTime(q, "created_after")
	if e != nil {
		return 0, nil, e
	}
	before, e := parseTime(q, "created_before")
	if e != nil {
		return 0, nil, e
	}
	// Equal times are a valid, empty window; only a reversed one is an
	// error.
	if !after.IsZero() && !before.IsZero() && before.Before(after) {
		return 0, nil, badRequest("invalid_value", "created_before", "created_before must not be before created_after")
	}
	cursor, e := parseCursor(q)
	if e != nil {
		return 0, nil, e
	}
	var tasks []*storedTask
	for _, t := range s.tasks {
		if t.AgentID != agent.ID ||
			(status != "" && string(t.Status) != status) ||
			(!after.IsZero() && !t.CreatedAt.After(after)) ||
			(!before.IsZero() && !t.CreatedAt.Before(before)) {
			continue
		}
		tasks = append(tasks, t)
	}
	slices.SortFunc(tasks, func(a, b *storedTask) int { // newest first
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return b.seq - a.seq
	})
	code, v, e := page(tasks, func(t *storedTask) string { return t.ID }, limit, cursor)
	if e != nil {
		return 0, nil, e
	}
	p := v.(list[*storedTask])
	out := list[*botonom.Task]{Data: make([]*botonom.Task, len(p.Data)), HasMore: p.HasMore, NextCursor: p.NextCursor}
	for i, t := range p.Data {
		out.Data[i] = &t.Task
	}
	return code, out, nil
}

// PUT /agents/{id}/skills
func (s *Server) updateSkills(agent *botonom.Agent, body []byte, now time.Time) (int, any, *apiError) {
	var req struct {
		Install []string `json:"install"`
		Remove  []string `json:"remove"`
	}
	if e := decodeBody(body, &req); e != nil {
		return 0, nil, e
	}
	if len(req.Install) == 0 && len(req.Remove) == 0 {
		return 0, nil, badRequest("missing_field", "install", "install or remove must list at least one skill")
	}
	for _, l := range []struct {
		field  string
		skills []string
	}{{"install", req.Install}, {"remove", req.Remove}} {
		for i, skill := range l.skills {
			if strings.TrimSpace(skill) == "" {
				return 0, nil, badRequest("invalid_value", l.field, "%s[%d] is blank", l.field, i)
			}
		}
	}
	for _, skill := range req.Install {
		if slices.Contains(req.Remove, skill) {
			return 0, nil, badRequest("invalid_value", "remove", "%q is both installed and removed", skill)
		}
	}
	skills := slices.Clone(agent.Skills)
	for _, skill := range req.Install {
		if !slices.Contains(skills, skill) {
			skills = append(skills, skill)
		}
	}
	skills = slices.DeleteFunc(skills, func(skill string) bool { return slices.Contains(req.Remove, skill) })
	if skills == nil {
		skills = []string{}
	}
	if !slices.Equal(skills, agent.Skills) {
		agent.Skills = skills
		agent.UpdatedAt = stamp(now)
	}
	return http.StatusOK, agent, nil
}

// POST /webhooks
func (s *Server) registerWebhook(body []byte, now time.Time) (int, any, *apiError) {
	var req struct {
		URL    *string   `json:"url"`
		Events *[]string `json:"events"`
		Secret *string   `json:"secret"`
	}
	if e := decodeBody(body, &req); e != nil {
		return 0, nil, e
	}
	if req.URL == nil || strings.TrimSpace(*req.URL) == "" {
		return 0, nil, badRequest("missing_field", "url", "url is required")
	}
	if u, err := url.Parse(*req.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" || strings.ContainsFunc(*req.URL, unicode.IsSpace) {
		return 0, nil, badRequest("invalid_value", "url", "url %q is not an absolute http(s) URL", *req.URL)
	}
	if req.Events == nil || len(*req.Events) == 0 {
		return 0, nil, badRequest("missing_field", "events", "events must list at least one event type")
	}
	var events []botonom.EventType
	for i, ev := range *req.Events {
		if !botonom.EventType(ev).Known() {
			return 0, nil, badRequest("invalid_value", "events", "events[%d]: %q is not an event type", i, ev)
		}
		if !slices.Contains(events, botonom.EventType(ev)) {
			events = append(events, botonom.EventType(ev))
		}
	}
	if req.Secret == nil || strings.TrimSpace(*req.Secret) == "" {
		return 0, nil, badRequest("missing_field", "secret", "secret is required")
	}
	wh := botonom.Webhook{ID: s.nextID("wh"), URL: *req.URL, Events: events, CreatedAt: stamp(now)}
	s.webhooks = append(s.webhooks, RegisteredWebhook{Webhook: wh, Secret: *req.Secret})
	return http.StatusCreated, wh, nil
}

// maxUsagePeriods bounds the periods of one Usage answer (a year of hours
// is 8,784).
const maxUsagePeriods = 10000

// GET /analytics/usage
func (s *Server) usage(q url.Values, now time.Time) (int, any, *apiError) {
	from, e := parseTime(q, "from")
	if e != nil {
		return 0, nil, e
	}
	to, e := parseTime(q, "to")
	if e != nil {
		return 0, nil, e
	}
	g, e := parseEnum(q, "granularity", string(botonom.GranularityHour), string(botonom.GranularityDay), string(botonom.GranularityMonth))
	if e != nil {
		return 0, nil, e
	}
	gran := botonom.Granularity(g)
	if gran == "" {
		gran = botonom.GranularityDay
	}
	agentID := q.Get("agent_id")
	if _, ok := q["agent_id"]; ok && agentID == "" {
		return 0, nil, badRequest("invalid_value", "agent_id", "agent_id must not be empty")
	}
	if agentID != "" && s.agent(agentID) == nil {
		return 0, nil, &apiError{status: http.StatusNotFound, typ: "not_found_error", code: "agent_not_found", param: "agent_id",
			message: fmt.Sprintf("no agent %q in this workspace", agentID)}
	}
	// Defaults: the last 24 hours, 30 days or 12 months, up to the end of
	// the current period, so that what happened a moment ago counts.
	if to.IsZero() {
		to = next(truncate(now, gran), gran)
	}
	if from.IsZero() {
		switch gran {
		case botonom.GranularityHour:
			from = to.Add(-24 * time.Hour)
		case botonom.GranularityMonth:
			from = to.AddDate(0, -12, 0)
		default:
			from = to.AddDate(0, 0, -30)
		}
	}
	// from == to is a valid, empty window: no period, zero totals.
	if to.Before(from) {
		return 0, nil, badRequest("invalid_value", "to", "to must not be before from")
	}

	type period struct {
		PeriodStart time.Time `json:"period_start"`
		PeriodEnd   time.Time `json:"period_end"`
		botonom.UsageCounts
	}
	var periods []*period
	for start := truncate(from, gran); start.Before(to) && to.After(from); start = next(start, gran) {
		if len(periods) == maxUsagePeriods {
			return 0, nil, badRequest("invalid_value", "from", "from..to spans more than %d periods of a %s", maxUsagePeriods, gran)
		}
		periods = append(periods, &period{PeriodStart: start, PeriodEnd: next(start, gran)})
	}
	// RFC 3339 writes the years 0000 to 9999: a window whose periods (or
	// whose ends, in UTC) fall outside cannot be answered. The periods
	// cover from..to.
	first, last := from, to
	if len(periods) > 0 {
		first, last = periods[0].PeriodStart, periods[len(periods)-1].PeriodEnd
	}
	for _, end := range []struct {
		param string
		at    time.Time
	}{{"from", first}, {"to", last}} {
		if y := end.at.UTC().Year(); y < 0 || y > 9999 {
			return 0, nil, badRequest("invalid_value", end.param, "the %s periods of from..to reach the year %d, outside the years 0000-9999 a time can be written in", gran, y)
		}
	}
	var total botonom.UsageCounts
	for _, t := range s.tasks {
		if (agentID != "" && t.AgentID != agentID) || t.CreatedAt.Before(from) || !t.CreatedAt.Before(to) {
			continue
		}
		in := t.TokensUsed * 7 / 10
		c := botonom.UsageCounts{InputTokens: in, OutputTokens: t.TokensUsed - in, TotalTokens: t.TokensUsed, Requests: 1}
		i, _ := slices.BinarySearchFunc(periods, t.CreatedAt, func(p *period, at time.Time) int {
			if !p.PeriodEnd.After(at) {
				return -1
			}
			if p.PeriodStart.After(at) {
				return 1
			}
			return 0
		})
		add(&periods[i].UsageCounts, c)
		add(&total, c)
	}
	if periods == nil {
		periods = []*period{}
	}
	return http.StatusOK, struct {
		From        time.Time           `json:"from"`
		To          time.Time           `json:"to"`
		Granularity botonom.Granularity `json:"granularity"`
		Total       botonom.UsageCounts `json:"total"`
		Data        []*period           `json:"data"`
	}{from.UTC(), to.UTC(), gran, total, periods}, nil
}

func add(dst *botonom.UsageCounts, c botonom.UsageCounts) {
	dst.InputTokens += c.InputTokens
	dst.OutputTokens += c.OutputTokens
	dst.TotalTokens += c.TotalTokens
	dst.Requests += c.Requests
}

// truncate is the start of the UTC period of granularity g holding t.
func truncate(t time.Time, g botonom.Granularity) time.Time {
	t = t.UTC()
	switch g {
	case botonom.GranularityHour:
		return t.Truncate(time.Hour)
	case botonom.GranularityMonth:
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// next is the start of the period after the one starting at start.
func next(start time.Time, g botonom.Granularity) time.Time {
	switch g {
	case botonom.GranularityHour:
		return start.Add(time.Hour)
	case botonom.GranularityMonth:
		return start.AddDate(0, 1, 0)
	}
	return start.AddDate(0, 0, 1)
}

// page cuts one page out of items (already filtered and ordered). The
// cursor is opaque to clients: base64url of "after:<ID of the last item
// of the previous page>", so a page is stable when items are added before
// it.
func page[T any](items []T, id func(T) string, limit int, cursor string) (int, any, *apiError) {
	start := 0
	if cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(cursor)
		after, ok := strings.CutPrefix(string(raw), "after:")
		if err != nil || !ok {
			return 0, nil, badRequest("invalid_cursor", "cursor", "cursor is not one this list gave out")
		}
		i := slices.IndexFunc(items, func(it T) bool { return id(it) == after })
		if i < 0 {
			return 0, nil, badRequest("invalid_cursor", "cursor", "cursor does not belong to this list (were the filters changed?)")
		}
		start = i + 1
	}
	end := min(start+limit, len(items))
	out := list[T]{Data: slices.Clone(items[start:end])}
	if out.Data == nil {
		out.Data = []T{}
	}
	if end < len(items) {
		out.HasMore = true
		out.NextCursor = base64.RawURLEncoding.EncodeToString([]byte("after:" + id(items[end-1])))
	}
	return http.StatusOK, out, nil
}

// parseLimit reads limit: an integer 1–100, 20 when absent.
func parseLimit(q url.Values) (int, *apiError) {
	raw, ok := q["limit"]
	if !ok {
		return 20, nil
	}
	n, err := strconv.Atoi(raw[0])
	if err != nil || n < 1 || n > 100 {
		return 0, badRequest("invalid_value", "limit", "limit must be an integer from 1 to 100, got %q", raw[0])
	}
	return n, nil
}

// parseCursor reads cursor: absent for the first page, else not empty.
func parseCursor(q url.Values) (string, *apiError) {
	raw, ok := q["cursor"]
	if !ok {
		return "", nil
	}
	if raw[0] == "" {
		return "", badRequest("invalid_value", "cursor", "cursor must not be empty; leave it out for the first page")
	}
	return raw[0], nil
}

// parseEnum reads an optional query parameter that must be one of allowed.
func parseEnum(q url.Values, name string, allowed ...string) (string, *apiError) {
	raw, ok := q[name]
	if !ok {
		return "", nil
	}
	if !slices.Contains(allowed, raw[0]) {
		return "", badRequest("invalid_value", name, "%s must be one of %s, got %q", name, strings.Join(allowed, ", "), raw[0])
	}
	return raw[0], nil
}

// parseTime reads an optional RFC 3339 query parameter.
func parseTime(q url.Values, name string) (time.Time, *apiError) {
	raw, ok := q[name]
	if !ok {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, raw[0])
	if err != nil {
		return time.Time{}, badRequest("invalid_value", name, "%s must be an RFC 3339 time such as 2026-02-18T14:30:00Z, got %q", name, raw[0])
	}
	return t, nil
}

// decodeBody decodes a JSON object body into v, refusing unknown fields,
// and turns each way it can be wrong into a 400 naming the field.
func decodeBody(body []byte, v any) *apiError {
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("invalid_json", "", "the request body is empty; send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			return badRequest("invalid_json", "", "the request body has data after the JSON object")
		}
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field == "":
		return badRequest("invalid_json", "", "the request body must be a JSON object")
	case errors.As(err, &typeErr):
		field, _, _ := strings.Cut(typeErr.Field, ".")
		return badRequest("invalid_type", field, "%s must not be a JSON %s", typeErr.Field, typeErr.Value)
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("invalid_json", "", "the request body is not valid JSON: %v", err)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name, _ = strconv.Unquote(name)
		return badRequest("unknown_field", name, "unknown field %q", name)
	}
	return badRequest("invalid_json", "", "the request body cannot be read: %v", err)
}

// stamp is a timestamp as the API writes it: UTC, whole seconds.
func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

// summarize shortens s to at most n runes, with an ellipsis when cut.
func summarize(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
