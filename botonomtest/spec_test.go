package botonomtest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	botonom "github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/api"
	"github.com/botonom/botonom-go/botonomtest"
)

func TestSpec_LoadsAndValidates(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background()))
}

// A request that breaks the OpenAPI description fails the test that sent
// it, with the method, path and the validation error, even though the
// server answers it (400) as the API would.
func TestSpecCheck_ARequestThatBreaksTheSpecFailsTheTest(t *testing.T) {
	rec := record(t)
	srv := botonomtest.NewServer(rec)
	a := send(t, srv, "GET", "agents?limit=0", "")
	assert.Equal(t, 400, a.status)

	errs := rec.Errors()
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0], "GET /v1/agents?limit=0")
	assert.Contains(t, errs[0], "does not match api/openapi.yaml")
	assert.Contains(t, errs[0], `parameter "limit"`)
}

func TestSpecCheck_ExpectInvalidRequestsAndWithoutSpecValidation(t *testing.T) {
	rec := record(t)
	srv := botonomtest.NewServer(rec)
	restore := srv.ExpectInvalidRequests()
	send(t, srv, "GET", "agents?limit=0", "")
	assert.Empty(t, rec.Errors())
	restore()
	send(t, srv, "GET", "agents?limit=0", "")
	assert.Len(t, rec.Errors(), 1, "checked again after restore")

	rec = record(t)
	srv = botonomtest.NewServer(rec, botonomtest.WithoutSpecValidation())
	send(t, srv, "POST", "agents/agt_abc123/message", `{"content":""}`)
	send(t, srv, "GET", "agents?status=busy", "")
	assert.Empty(t, rec.Errors())
}

// Two parallel subtests on one server, each expecting invalid requests,
// overlap: A starts, B starts, A ends, B sends an invalid request (not
// reported: B still expects it), B ends; after both, an invalid request is
// reported again. Saving and restoring one flag got both wrong.
func TestSpecCheck_ExpectInvalidRequestsNestsAcrossParallelSubtests(t *testing.T) {
	rec := record(t)
	srv := botonomtest.NewServer(rec)
	aStarted, bStarted, aEnded := make(chan struct{}), make(chan struct{}), make(chan struct{})
	t.Run("group", func(t *testing.T) {
		t.Run("A", func(t *testing.T) {
			t.Parallel()
			end := srv.ExpectInvalidRequests()
			close(aStarted)
			<-bStarted
			end()
			end() // twice: still one end
			close(aEnded)
		})
		t.Run("B", func(t *testing.T) {
			t.Parallel()
			<-aStarted
			end := srv.ExpectInvalidRequests()
			close(bStarted)
			<-aEnded
			send(t, srv, "GET", "agents?limit=0", "")
			assert.Empty(t, rec.requestErrors(), "B still expects invalid requests")
			end()
		})
	})
	send(t, srv, "GET", "agents?limit=0", "")
	assert.Len(t, rec.requestErrors(), 1, "checked again once both ended: %v", rec.Errors())
}

// What the SDK sends for every endpoint, with every option set, fits the
// description; and so does every answer (an Errorf would show up here).
func TestSpecCheck_TheSDKsTrafficFitsTheSpec(t *testing.T) {
	rec := record(t)
	srv := botonomtest.NewServer(rec)
	client := srv.Client()
	ctx := context.Background()
	day := time.Now().Add(-24 * time.Hour)

	_, resp, err := client.Agents.List(ctx, &botonom.ListAgentsOptions{ListOptions: botonom.ListOptions{Limit: 1}, Status: botonom.AgentStatusOnline})
	require.NoError(t, err)
	_, _, err = client.Agents.List(ctx, &botonom.ListAgentsOptions{ListOptions: botonom.ListOptions{Limit: 1, Cursor: resp.NextCursor}})
	require.NoError(t, err)
	_, _, err = client.Agents.Get(ctx, botonomtest.SampleAgentID)
	require.NoError(t, err)
	_, _, err = client.Agents.SendMessage(ctx, botonomtest.SampleAgentID, &botonom.SendMessageRequest{
		Content: "hi", Channel: "sms", Metadata: map[string]string{"a": "b"},
	}, botonom.WithIdempotencyKey("order-1042"))
	require.NoError(t, err)
	_, _, err = client.Agents.ListTasks(ctx, botonomtest.SampleAgentID, &botonom.ListTasksOptions{
		ListOptions: botonom.ListOptions{Limit: 100}, Status: botonom.TaskStatusCompleted,
		CreatedAfter: day.In(time.FixedZone("X", -5*3600)), CreatedBefore: time.Now().Add(time.Hour),
	})
	require.NoError(t, err)
	_, _, err = client.Agents.UpdateSkills(ctx, botonomtest.SampleAgentID, &botonom.UpdateSkillsRequest{Install: []string{"weather"}, Remove: []string{"booking"}})
	require.NoError(t, err)
	_, _, err = client.Agents.InstallSkills(ctx, botonomtest.SampleAgentID, "maps")
	require.NoError(t, err)
	_, _, err = client.Agents.RemoveSkills(ctx, botonomtest.SampleAgentID, "maps")
	require.NoError(t, err)
	_, _, err = client.Webhooks.Register(ctx, &botonom.RegisterWebhookRequest{URL: "HTTPS://hooks.example:8443/botonom?x=1", Events: botonom.EventTypes(), Secret: "whsec_x"})
	require.NoError(t, err)
	_, _, err = client.Analytics.Usage(ctx, &botonom.UsageOptions{From: day, To: time.Now(), AgentID: botonomtest.SampleAgentID, Granularity: botonom.GranularityHour})
	require.NoError(t, err)
	_, _, err = client.Analytics.Usage(ctx, nil)
	require.NoError(t, err)
	// Errors are answers too.
	_, _, err = client.Agents.Get(ctx, "agt_nope")
	require.Error(t, err)
	srv.FailNext(1, 503)
	_, _, err = client.Agents.Get(ctx, botonomtest.SampleAgentID)
	require.NoError(t, err)
	srv.FailNext(1, 429)
	_, _, err = client.Webhooks.Register(ctx, &botonom.RegisterWebhookRequest{URL: "https://x.example/h", Events: []botonom.EventType{botonom.EventInvoiceCreated}, Secret: "s"})
	require.NoError(t, err)

	assert.Empty(t, rec.Errors())
	assert.Len(t, srv.Requests(), 16)
}

func TestSendEvent_DeliversASignedEnvelope(t *testing.T) {
	const secret = "whsec_your_secret_here"
	type delivery struct {
		body   []byte
		header http.Header
	}
	got := make(chan delivery, 1)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := botonom.VerifySignature(body, r.Header.Get("X-Botonom-Signature"), secret); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		got <- delivery{body, r.Header.Clone()}
		w.WriteHeader(http.StatusOK)
	}))
	defer receiver.Close()

	srv := botonomtest.NewServer(t)
	task := &botonom.Task{ID: "tsk_001", AgentID: botonomtest.SampleAgentID, Status: botonom.TaskStatusCompleted, CreatedAt: time.Now().UTC().Truncate(time.Second)}
	resp, err := srv.SendEvent(context.Background(), receiver.URL, secret, botonom.EventTaskCompleted, task)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	d := <-got
	assert.Equal(t, "application/json", d.header.Get("Content-Type"))
	assert.Regexp(t, `^t=\d+,v1=[0-9a-f]{64}$`, d.header.Get("X-Botonom-Signature"))
	var env struct {
		ID        string          `json:"id"`
		Type      string          `json:"type"`
		CreatedAt time.Time       `json:"created_at"`
		Data      json.RawMessage `json:"data"`
	}
	require.NoError(t, json.Unmarshal(d.body, &env))
	assert.Regexp(t, `^evt_`, env.ID)
	assert.Equal(t, "agent.task.completed", env.Type)
	assert.WithinDuration(t, time.Now(), env.CreatedAt, 2*time.Second)
	var data botonom.Task
	require.NoError(t, json.Unmarshal(env.Data, &data))
	assert.Equal(t, *task, data)

	// The envelope fits the spec's TaskCompletedEvent.
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
	require.NoError(t, err)
	var v any
	require.NoError(t, json.Unmarshal(d.body, &v))
	assert.NoError(t, doc.Components.Schemas["TaskCompletedEvent"].Value.VisitJSON(v))

	// Another secret does not verify; unknown types and nil data are sent as given.
	resp, err = srv.SendEvent(context.Background(), receiver.URL, "whsec_other", botonom.EventSkillInstalled, map[string]string{"agent_id": "agt_abc123", "skill": "x"})
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp, err = srv.SendEvent(context.Background(), receiver.URL, secret, "agent.brand.new", nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	d = <-got
	assert.Contains(t, string(d.body), `"type":"agent.brand.new"`)
	assert.True(t, strings.HasSuffix(string(d.body), `"data":{}}`), "body %s", d.body)
}

// A receiver that redirects (a wrong route, a missing trailing slash) has
// not taken the delivery: SendEvent and DeliverEvent do not follow it, even
// with a client that would, and say why the delivery failed.
func TestSendEvent_ARedirectIsAFailedDelivery(t *testing.T) {
	var delivered atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/hook/", func(w http.ResponseWriter, r *http.Request) { delivered.Add(1) })
	mux.HandleFunc("/hook", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/hook/", http.StatusPermanentRedirect)
	})
	receiver := httptest.NewServer(mux)
	defer receiver.Close()
	srv := botonomtest.NewServer(t)

	resp, err := srv.SendEvent(context.Background(), receiver.URL+"/hook", "whsec_x", botonom.EventTaskCompleted, nil)
	assert.Nil(t, resp)
	require.ErrorContains(t, err, "botonomtest: SendEvent: the receiver at "+receiver.URL+"/hook answered 308 Permanent Redirect to \"/hook/\": a redirect is a failed delivery")

	ev := &botonom.Event{ID: "evt_1", Type: botonom.EventTaskCompleted, CreatedAt: time.Now(), Data: json.RawMessage(`{}`)}
	resp, err = botonomtest.DeliverEvent(context.Background(), &http.Client{}, receiver.URL+"/hook", "whsec_x", ev, time.Now())
	assert.Nil(t, resp)
	require.ErrorContains(t, err, "308 Permanent Redirect")
	assert.Zero(t, delivered.Load(), "the redirect was not followed")

	// A URL's password stays out of the error, as net/http's own errors
	// leave it out.
	withPassword := strings.Replace(receiver.URL, "http://", "http://hook:s3cr3tpass@", 1) + "/hook"
	_, err = botonomtest.DeliverEvent(context.Background(), nil, withPassword, "whsec_x", ev, time.Now())
	require.ErrorContains(t, err, "the receiver at "+strings.Replace(withPassword, "s3cr3tpass", "xxxxx", 1)+" answered 308")
	assert.NotContains(t, err.Error(), "s3cr3tpass")

	resp, err = botonomtest.DeliverEvent(context.Background(), nil, receiver.URL+"/hook/", "whsec_x", ev, time.Now())
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, int32(1), delivered.Load())
}

func TestNewServer_BadOptionsFailTheTest(t *testing.T) {
	for name, opt := range map[string]botonomtest.Option{
		"rate limit":     botonomtest.WithRateLimit(0, time.Second),
		"latency":        botonomtest.WithLatency(-time.Second),
		"token":          botonomtest.WithToken(" "),
		"clock":          botonomtest.WithClock(nil),
		"request log":    botonomtest.WithRequestLog(0),
		"agent id":       botonomtest.WithAgents(&botonom.Agent{ID: "abc"}),
		"agent status":   botonomtest.WithAgents(&botonom.Agent{ID: "agt_1", Status: "busy"}),
		"duplicate":      botonomtest.WithAgents(&botonom.Agent{ID: "agt_1"}, &botonom.Agent{ID: "agt_1"}),
		"task agent":     botonomtest.WithTasks(&botonom.Task{ID: "tsk_1", AgentID: "agt_nope", Status: botonom.TaskStatusPending}),
		"task status":    botonomtest.WithTasks(&botonom.Task{ID: "tsk_1", AgentID: botonomtest.SampleAgentID, Status: "done"}),
		"task id prefix": botonomtest.WithTasks(&botonom.Task{ID: "1", AgentID: botonomtest.SampleAgentID, Status: botonom.TaskStatusPending}),
	} {
		t.Run(name, func(t *testing.T) {
			rec := record(t)
			rec.run(func() { botonomtest.NewServer(rec, opt) })
			assert.Len(t, rec.fatals, 1)
		})
	}
}

func TestWithAgents_FillsDefaults(t *testing.T) {
	srv := botonomtest.NewServer(t, botonomtest.WithAgents(&botonom.Agent{ID: "agt_1", Name: "One"}))
	agents, _, err := srv.Client().Agents.List(context.Background(), nil)
	require.NoError(t, err)
	require.Len(t, agents, 1)
	assert.Equal(t, botonom.AgentStatusOnline, agents[0].Status)
	assert.Equal(t, []string{}, agents[0].Skills)
	assert.False(t, agents[0].CreatedAt.IsZero())
	tasks, _, err := srv.Client().Agents.ListTasks(context.Background(), "agt_1", nil)
	require.NoError(t, err)
	assert.Empty(t, tasks, "no sample history for custom agents")
}

func TestStart_RunsOutsideATest(t *testing.T) {
	srv, err := botonomtest.Start(botonomtest.WithLatency(time.Millisecond))
	require.NoError(t, err)
	defer srv.Close()
	agents, _, err := srv.Client().Agents.List(context.Background(), nil)
	require.NoError(t, err)
	assert.Len(t, agents, 3)
	srv.Close()
	srv.Close() // twice is fine

	_, err = botonomtest.Start(botonomtest.WithRateLimit(-1, time.Second))
	assert.ErrorContains(t, err, "WithRateLimit")
}
