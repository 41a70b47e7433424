package botonom

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// envelope is a delivery body of DESIGN.md §2 "Webhook deliveries".
func envelope(typ EventType, data string) string {
	return fmt.Sprintf(`{"id": "evt_1", "type": %q, "created_at": "2026-02-18T14:30:05Z", "data": %s}`, typ, data)
}

// constructAtVectorTime signs body at the vector's time and constructs the
// event back.
func constructAtVectorTime(t *testing.T, body string) *Event {
	t.Helper()
	ev, err := ConstructEvent([]byte(body), SignPayload([]byte(body), vectorSecret, vectorTime), vectorSecret, atVectorTime())
	require.NoError(t, err)
	return ev
}

// eventAccessors calls each typed accessor, by name.
var eventAccessors = map[string]func(*Event) (any, error){
	"Task":           func(e *Event) (any, error) { return e.Task() },
	"Message":        func(e *Event) (any, error) { return e.Message() },
	"StatusChange":   func(e *Event) (any, error) { return e.StatusChange() },
	"SkillInstalled": func(e *Event) (any, error) { return e.SkillInstalled() },
	"Invoice":        func(e *Event) (any, error) { return e.Invoice() },
}

const (
	eventTaskJSON = `{"id": "tsk_001", "agent_id": "agt_abc123", "message_id": "msg_789", "status": "completed",
		"description": "Book a table for 4 at 7pm tomorrow", "result": "Booked at Luigi's, 19:00",
		"error": "", "tokens_used": 1834, "created_at": "2026-02-18T14:30:00Z", "completed_at": "2026-02-18T14:30:04Z"}`
	eventMessageJSON = `{"id": "msg_789", "status": "delivered", "agent_id": "agt_abc123", "created_at": "2026-02-18T14:30:00Z",
		"channel": "api", "content": "Book a table for 4 at 7pm tomorrow", "metadata": {"customer_id": "cust_456"}}`
)

func TestEvent_AccessorsForEveryType(t *testing.T) {
	completedAt := mustTime("2026-02-18T14:30:04Z")
	message := &Message{
		ID: "msg_789", Status: MessageStatusDelivered, AgentID: "agt_abc123", CreatedAt: mustTime("2026-02-18T14:30:00Z"),
		Channel: "api", Content: "Book a table for 4 at 7pm tomorrow", Metadata: map[string]string{"customer_id": "cust_456"},
	}
	for _, tc := range []struct {
		typ      EventType
		data     string
		accessor string
		want     any
	}{
		{EventTaskCompleted, eventTaskJSON, "Task", &Task{
			ID: "tsk_001", AgentID: "agt_abc123", MessageID: "msg_789", Status: TaskStatusCompleted,
			Description: "Book a table for 4 at 7pm tomorrow", Result: "Booked at Luigi's, 19:00",
			TokensUsed: 1834, CreatedAt: mustTime("2026-02-18T14:30:00Z"), CompletedAt: &completedAt,
		}},
		{EventMessageReceived, eventMessageJSON, "Message", message},
		{EventMessageSent, eventMessageJSON, "Message", message},
		{EventStatusChanged, `{"agent_id": "agt_abc123", "status": "online", "previous_status": "offline"}`, "StatusChange",
			&StatusChange{AgentID: "agt_abc123", Status: AgentStatusOnline, PreviousStatus: AgentStatusOffline}},
		{EventSkillInstalled, `{"agent_id": "agt_abc123", "skill": "calendar"}`, "SkillInstalled",
			&SkillInstalled{AgentID: "agt_abc123", Skill: "calendar"}},
		{EventInvoiceCreated, `{"id": "inv_42", "amount_due": 4900, "currency": "usd", "period_start": "2026-01-01T00:00:00Z",
			"period_end": "2026-02-01T00:00:00Z", "created_at": "2026-02-01T00:05:00Z"}`, "Invoice",
			&Invoice{ID: "inv_42", AmountDue: 4900, Currency: "usd", PeriodStart: mustTime("2026-01-01T00:00:00Z"),
				PeriodEnd: mustTime("2026-02-01T00:00:00Z"), CreatedAt: mustTime("2026-02-01T00:05:00Z")}},
	} {
		t.Run(string(tc.typ), func(t *testing.T) {
			ev := constructAtVectorTime(t, envelope(tc.typ, tc.data))
			assert.Equal(t, "evt_1", ev.ID)
			assert.Equal(t, tc.typ, ev.Type)
			assert.Equal(t, mustTime("2026-02-18T14:30:05Z"), ev.CreatedAt)
			assert.JSONEq(t, tc.data, string(ev.Data))

			for name, get := range eventAccessors {
				got, err := get(ev)
				if name == tc.accessor {
					require.NoError(t, err)
					assert.Equal(t, tc.want, got)
					continue
				}
				assert.ErrorIs(t, err, ErrWrongEventType, name)
			}
		})
	}
}

func TestEvent_WrongTypeErrorSaysWhat(t *testing.T) {
	ev := &Event{ID: "evt_1", Type: EventStatusChanged, Data: []byte(`{}`)}
	_, err := ev.Task()
	assert.ErrorIs(t, err, ErrWrongEventType)
	assert.EqualError(t, err, `botonom: wrong event type: Event.Task needs "agent.task.completed", event evt_1 is "agent.status.changed"`)
	_, err = ev.Message()
	assert.ErrorContains(t, err, `Event.Message needs "agent.message.received" or "agent.message.sent"`)
}

func TestEvent_UnknownTypeDecodes(t *testing.T) {
	body := envelope("agent.exploded", `{"boom": true}`)
	ev := constructAtVectorTime(t, body)
	assert.Equal(t, EventType("agent.exploded"), ev.Type)
	assert.False(t, ev.Type.Known())
	assert.JSONEq(t, `{"boom": true}`, string(ev.Data))
	for name, get := range eventAccessors {
		_, err := get(ev)
		assert.ErrorIs(t, err, ErrWrongEventType, name)
	}
}

func TestEvent_AccessorOnBadData(t *testing.T) {
	for name, tc := range map[string]struct {
		data string
		want string
	}{
		"no data":      {"", "has no data"},
		"null data":    {"null", "has no data"},
		"string data":  {`"oops"`, "data: json: cannot unmarshal string"},
		"wrong fields": {`{"tokens_used": "many"}`, "data: json: cannot unmarshal string"},
	} {
		t.Run(name, func(t *testing.T) {
			ev := &Event{ID: "evt_1", Type: EventTaskCompleted, Data: []byte(tc.data)}
			task, err := ev.Task()
			assert.Nil(t, task)
			assert.ErrorIs(t, err, ErrInvalidEvent)
			assert.ErrorContains(t, err, tc.want)
		})
	}
	t.Run("nil event", func(t *testing.T) {
		var ev *Event
		for name, get := range eventAccessors {
			_, err := get(ev)
			assert.ErrorContains(t, err, "nil event", name)
		}
	})
}

func TestConstructEvent_SignedPayloadThatIsNotAnEvent(t *testing.T) {
	for name, body := range map[string]string{
		"empty":            "",
		"not JSON":         "hello",
		"JSON array":       `[{"id": "evt_1"}]`,
		"JSON null":        "null",
		"no id":            `{"type": "agent.task.completed", "data": {}}`,
		"no type":          `{"id": "evt_1", "data": {}}`,
		"id not a string":  `{"id": 1, "type": "agent.task.completed"}`,
		"trailing garbage": `{"id": "evt_1", "type": "agent.task.completed"} {}`,
		"bad created_at":   `{"id": "evt_1", "type": "agent.task.completed", "created_at": "yesterday"}`,
	} {
		t.Run(name, func(t *testing.T) {
			ev, err := ConstructEvent([]byte(body), SignPayload([]byte(body), vectorSecret, vectorTime), vectorSecret, atVectorTime())
			assert.Nil(t, ev)
			assert.ErrorIs(t, err, ErrInvalidEvent)
		})
	}
}

func TestConstructEvent_VerifiesBeforeDecoding(t *testing.T) {
	for name, tc := range map[string]struct {
		body, header string
		want         error
	}{
		"garbage, bad signature": {"hello", vectorHeader, ErrSignatureMismatch},
		"garbage, no signature":  {"hello", "", ErrMissingSignature},
		"event, bad header":      {vectorBody, "t=x", ErrInvalidSignatureHeader},
		"event, expired":         {vectorBody, SignPayload([]byte(vectorBody), vectorSecret, vectorTime.Add(-time.Hour)), ErrSignatureExpired},
	} {
		t.Run(name, func(t *testing.T) {
			ev, err := ConstructEvent([]byte(tc.body), tc.header, vectorSecret, atVectorTime())
			assert.Nil(t, ev)
			assert.ErrorIs(t, err, tc.want)
			assert.NotErrorIs(t, err, ErrInvalidEvent)
		})
	}
	t.Run("bad option", func(t *testing.T) {
		_, err := ConstructEvent([]byte(vectorBody), vectorHeader, vectorSecret, WithTolerance(0))
		assert.ErrorContains(t, err, "botonom: construct event: WithTolerance")
	})
	t.Run("empty secret", func(t *testing.T) {
		_, err := ConstructEvent([]byte(vectorBody), vectorHeader, "", atVectorTime())
		assert.ErrorContains(t, err, "secret is empty")
	})
}

func TestConstructEvent_DesignTestVector(t *testing.T) {
	payload := []byte(vectorBody)
	ev, err := ConstructEvent(payload, vectorHeader, vectorSecret, atVectorTime())
	require.NoError(t, err)
	task, err := ev.Task()
	require.NoError(t, err)
	assert.Equal(t, &Task{ID: "tsk_001", AgentID: "agt_abc123", Status: TaskStatusCompleted}, task)

	// The event owns its data: the caller may reuse the body's buffer.
	copy(payload, bytes.Repeat([]byte("x"), len(payload)))
	assert.JSONEq(t, `{"id":"tsk_001","agent_id":"agt_abc123","status":"completed"}`, string(ev.Data))
}

// lockedBuffer is a log sink safe to share with a server goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// recordingFn is an event function that counts its calls and returns err.
type recordingFn struct {
	mu     sync.Mutex
	calls  int
	events []*Event
	err    error
}

func (f *recordingFn) handle(_ context.Context, ev *Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.events = append(f.events, ev)
	return f.err
}

func (f *recordingFn) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// webhookRequest is a POST of body, signed with secret at signedAt unless
// secret is empty.
func webhookRequest(body io.Reader, payload []byte, secret string, signedAt time.Time) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/botonom/webhook", body)
	if secret != "" {
		r.Header.Set(SignatureHeader, SignPayload(payload, secret, signedAt))
	}
	return r
}

func TestWebhookHandler_Statuses(t *testing.T) {
	event := envelope(EventTaskCompleted, eventTaskJSON)
	signed := func(body string) *http.Request {
		return webhookRequest(strings.NewReader(body), []byte(body), vectorSecret, vectorTime)
	}
	for name, tc := range map[string]struct {
		req       *http.Request
		fnErr     error
		status    int
		body      string
		wantCalls int
		log       string // in the log line, if any
	}{
		"GET": {req: httptest.NewRequest(http.MethodGet, "/botonom/webhook", nil),
			status: 405, body: "method not allowed\n"},
		"PUT, signed": {req: func() *http.Request { r := signed(event); r.Method = http.MethodPut; return r }(),
			status: 405, body: "method not allowed\n"},
		"declared body over 1 MiB": {req: signed(event + strings.Repeat(" ", 1<<20)),
			status: 413, body: "body too large\n", log: "over the 1048576-byte cap"},
		"no signature": {req: webhookRequest(strings.NewReader(event), nil, "", vectorTime),
			status: 401, body: "invalid signature\n", log: "missing webhook signature"},
		"signed with another secret": {req: webhookRequest(strings.NewReader(event), []byte(event), "whsec_other", vectorTime),
			status: 401, body: "invalid signature\n", log: "signature mismatch"},
		"signature of another body": {req: webhookRequest(strings.NewReader(event), []byte(vectorBody), vectorSecret, vectorTime),
			status: 401, body: "invalid signature\n", log: "signature mismatch"},
		"malformed signature header": {req: func() *http.Request { r := signed(event); r.Header.Set(SignatureHeader, "t=now"); return r }(),
			status: 401, body: "invalid signature\n", log: "invalid webhook signature header"},
		"signed an hour ago": {req: webhookRequest(strings.NewReader(event), []byte(event), vectorSecret, vectorTime.Add(-time.Hour)),
			status: 401, body: "invalid signature\n", log: "1h0m0s old"},
		"signed, not JSON": {req: signed("hello"),
			status: 400, body: "invalid event\n", log: "invalid webhook event"},
		"signed, no type": {req: signed(`{"id": "evt_1"}`),
			status: 400, body: "invalid event\n", log: "has no type"},
		"fn fails": {req: signed(event), fnErr: errors.New("database down"),
			status: 500, body: "event handling failed\n", wantCalls: 1, log: "database down"},
		"delivered": {req: signed(event),
			status: 200, wantCalls: 1},
		"unknown event type": {req: signed(envelope("agent.exploded", "{}")),
			status: 200, wantCalls: 1},
	} {
		t.Run(name, func(t *testing.T) {
			fn := &recordingFn{err: tc.fnErr}
			var logs lockedBuffer
			h := WebhookHandler(vectorSecret, fn.handle,
				WithClock(webhookClockAt(vectorTime)),
				WithHandlerLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, tc.req)

			assert.Equal(t, tc.status, w.Code)
			assert.Equal(t, tc.body, w.Body.String())
			assert.Equal(t, tc.wantCalls, fn.count())
			if tc.status == 405 {
				assert.Equal(t, "POST", w.Header().Get("Allow"))
			}
			if tc.log != "" {
				assert.Contains(t, logs.String(), tc.log)
			}
			assert.NotContains(t, logs.String(), vectorSecret)
			if sig := tc.req.Header.Get(SignatureHeader); len(sig) > 20 {
				assert.NotContains(t, logs.String(), sig[len(sig)-20:], "the log shows the signature")
			}
		})
	}
}

func TestWebhookHandler_PassesTheEventAndContext(t *testing.T) {
	type ctxKey struct{}
	var got *Event
	var gotValue any
	h := WebhookHandler(vectorSecret, func(ctx context.Context, ev *Event) error {
		got, gotValue = ev, ctx.Value(ctxKey{})
		return nil
	}, WithClock(webhookClockAt(vectorTime)))
	r := webhookRequest(strings.NewReader(vectorBody), []byte(vectorBody), vectorSecret, vectorTime)
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, "from the request"))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	require.Equal(t, 200, w.Code)
	assert.Equal(t, "from the request", gotValue)
	assert.Equal(t, "evt_1", got.ID)
	assert.Equal(t, EventTaskCompleted, got.Type)
}

func TestWebhookHandler_TwoMiBBodyIsNotReadPastTheCap(t *testing.T) {
	for name, maxBody := range map[string]int64{"default 1 MiB": 0, "64 KiB": 64 << 10} {
		t.Run(name, func(t *testing.T) {
			// A body of unknown length (no Content-Length): only reading
			// tells it is too large.
			body := &countingBody{r: &repeating{pattern: []byte("x"), max: 2 << 20}}
			r := httptest.NewRequest(http.MethodPost, "/botonom/webhook", body)
			require.EqualValues(t, -1, r.ContentLength)
			r.Header.Set(SignatureHeader, vectorHeader)
			fn := &recordingFn{}
			opts := []HandlerOption{WithClock(webhookClockAt(vectorTime))}
			limit := int64(DefaultMaxWebhookBodyBytes)
			if maxBody > 0 {
				opts, limit = append(opts, WithHandlerMaxBodyBytes(maxBody)), maxBody
			}
			w := httptest.NewRecorder()
			WebhookHandler(vectorSecret, fn.handle, opts...).ServeHTTP(w, r)

			assert.Equal(t, http.StatusRequestEntityTooLarge, w.Code)
			assert.LessOrEqual(t, body.n, limit+512, "read %d bytes for a cap of %d", body.n, limit)
			assert.Zero(t, fn.count())
		})
	}
}

func TestWebhookHandler_BodyExactlyAtTheCapPasses(t *testing.T) {
	body := []byte(vectorBody)
	for name, tc := range map[string]struct {
		declared bool
		max      int64
		status   int
	}{
		"at the cap, declared":       {true, int64(len(body)), 200},
		"at the cap, streamed":       {false, int64(len(body)), 200},
		"one over the cap, declared": {true, int64(len(body)) - 1, 413},
		"one over the cap, streamed": {false, int64(len(body)) - 1, 413},
	} {
		t.Run(name, func(t *testing.T) {
			var rd io.Reader = bytes.NewReader(body)
			if !tc.declared {
				rd = &countingBody{r: rd}
			}
			fn := &recordingFn{}
			w := httptest.NewRecorder()
			WebhookHandler(vectorSecret, fn.handle, WithHandlerMaxBodyBytes(tc.max), WithClock(webhookClockAt(vectorTime))).
				ServeHTTP(w, webhookRequest(rd, body, vectorSecret, vectorTime))
			assert.Equal(t, tc.status, w.Code)
			assert.Equal(t, map[int]int{200: 1, 413: 0}[tc.status], fn.count())
		})
	}
}

func TestWebhookHandler_RotationWithTwoSecrets(t *testing.T) {
	const oldSecret, newSecret = "whsec_old", "whsec_new"
	fn := &recordingFn{}
	h := WebhookHandler(oldSecret, fn.handle, WithSecrets(newSecret), WithClock(webhookClockAt(vectorTime)))
	body := []byte(vectorBody)
	for secret, want := range map[string]int{oldSecret: 200, newSecret: 200, "whsec_other": 401} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, webhookRequest(bytes.NewReader(body), body, secret, vectorTime))
		assert.Equal(t, want, w.Code, secret)
	}
	assert.Equal(t, 2, fn.count())
}

func TestWebhookHandler_ToleranceOption(t *testing.T) {
	body := []byte(vectorBody)
	fn := &recordingFn{}
	h := WebhookHandler(vectorSecret, fn.handle, WithTolerance(2*time.Hour), WithClock(webhookClockAt(vectorTime)))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, webhookRequest(bytes.NewReader(body), body, vectorSecret, vectorTime.Add(-time.Hour)))
	assert.Equal(t, 200, w.Code)
}

func TestWebhookHandler_MisconfigurationAnswers500AndLogs(t *testing.T) {
	okFn := (&recordingFn{}).handle
	for name, tc := range map[string]struct {
		secret string
		fn     func(context.Context, *Event) error
		opts   []HandlerOption
		log    string
	}{
		"empty secret":          {"", okFn, nil, "webhook secret is empty"},
		"only empty secrets":    {"", okFn, []HandlerOption{WithSecrets("", "")}, "webhook secret is empty"},
		"nil fn":                {vectorSecret, nil, nil, "nil event function"},
		"zero tolerance":        {vectorSecret, okFn, []HandlerOption{WithTolerance(0)}, "WithTolerance: 0s is not positive"},
		"negative tolerance":    {vectorSecret, okFn, []HandlerOption{WithTolerance(-time.Second)}, "WithTolerance: -1s is not positive"},
		"zero body cap":         {vectorSecret, okFn, []HandlerOption{WithHandlerMaxBodyBytes(0)}, "WithHandlerMaxBodyBytes: 0 is not positive"},
		"nil clock":             {vectorSecret, okFn, []HandlerOption{WithClock(nil)}, "WithClock: nil clock"},
		"bad option, then good": {vectorSecret, okFn, []HandlerOption{WithHandlerMaxBodyBytes(-1), WithHandlerMaxBodyBytes(10)}, "WithHandlerMaxBodyBytes: -1 is not positive"},
	} {
		t.Run(name, func(t *testing.T) {
			var logs lockedBuffer
			opts := append([]HandlerOption{WithHandlerLogger(slog.New(slog.NewTextHandler(&logs, nil)))}, tc.opts...)
			h := WebhookHandler(tc.secret, tc.fn, opts...)
			assert.Contains(t, logs.String(), "botonom: WebhookHandler: "+tc.log, "said at start, before any delivery")
			assert.Equal(t, 1, strings.Count(logs.String(), "misconfigured"))
			body := []byte(vectorBody)
			for range 2 {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, webhookRequest(bytes.NewReader(body), body, vectorSecret, time.Now()))
				assert.Equal(t, http.StatusInternalServerError, w.Code)
				assert.Equal(t, "webhook handler misconfigured\n", w.Body.String())
			}
			assert.Equal(t, 3, strings.Count(logs.String(), "misconfigured"), "one log line at start, one per request")
			assert.Contains(t, logs.String(), "botonom: WebhookHandler: "+tc.log)
		})
	}
}

func TestWebhookHandler_MisconfigurationWithoutLoggerGoesToSlogDefault(t *testing.T) {
	var logs lockedBuffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })

	for name, opt := range map[string]HandlerOption{"nil logger": WithHandlerLogger(nil), "no logger": nil} {
		t.Run(name, func(t *testing.T) {
			secret := vectorSecret
			if opt == nil {
				secret = ""
			}
			w := httptest.NewRecorder()
			WebhookHandler(secret, (&recordingFn{}).handle, opt).
				ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}")))
			assert.Equal(t, http.StatusInternalServerError, w.Code)
		})
	}
	assert.Contains(t, logs.String(), "WithHandlerLogger: nil *slog.Logger")
	assert.Contains(t, logs.String(), "webhook secret is empty")
}

func TestWebhookHandler_WithoutLoggerLogsNothing(t *testing.T) {
	var logs lockedBuffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })

	w := httptest.NewRecorder()
	WebhookHandler(vectorSecret, (&recordingFn{}).handle).
		ServeHTTP(w, webhookRequest(strings.NewReader("x"), nil, "", time.Now()))
	assert.Equal(t, 401, w.Code)
	assert.Empty(t, logs.String())
}

func TestWebhookHandler_OverHTTP(t *testing.T) {
	fn := &recordingFn{}
	srv := httptest.NewServer(WebhookHandler(vectorSecret, fn.handle))
	t.Cleanup(srv.Close)

	body := []byte(envelope(EventStatusChanged, `{"agent_id": "agt_abc123", "status": "online", "previous_status": "offline"}`))
	post := func(header string) int {
		req, err := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set(SignatureHeader, header)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, 200, post(SignPayload(body, vectorSecret, time.Now())))
	assert.Equal(t, 401, post(SignPayload(body, vectorSecret, time.Now().Add(-10*time.Minute))))
	assert.Equal(t, 401, post(SignPayload(body, "whsec_other", time.Now())))

	resp, err := srv.Client().Get(srv.URL)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, 405, resp.StatusCode)

	require.Equal(t, 1, fn.count())
	sc, err := fn.events[0].StatusChange()
	require.NoError(t, err)
	assert.Equal(t, &StatusChange{AgentID: "agt_abc123", Status: AgentStatusOnline, PreviousStatus: AgentStatusOffline}, sc)
}

// BenchmarkConstructEvent verifies and decodes a ~2 KiB
// agent.task.completed delivery.
func BenchmarkConstructEvent(b *testing.B) {
	long := strings.Repeat("Book a table for 4 at 7pm tomorrow, by the window if possible. ", 14)
	payload := []byte(envelope(EventTaskCompleted, fmt.Sprintf(`{"id": "tsk_001", "agent_id": "agt_abc123",
		"message_id": "msg_789", "status": "completed", "description": %q, "result": %q, "error": "",
		"tokens_used": 1834, "created_at": "2026-02-18T14:30:00Z", "completed_at": "2026-02-18T14:30:04Z"}`, long, long)))
	header := SignPayload(payload, vectorSecret, vectorTime)
	clock := atVectorTime()
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		ev, err := ConstructEvent(payload, header, vectorSecret, clock)
		if err != nil || ev.Type != EventTaskCompleted {
			b.Fatal(err)
		}
	}
}
