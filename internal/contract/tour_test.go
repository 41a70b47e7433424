package contract

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	botonom "github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/botonomtest"
)

// The addresses of Prism as a validating proxy in front of `botonom mock`
// and as a static mock of the spec ("http://127.0.0.1:4011"), which
// scripts/contract sets, and the mock's token if not botonomtest.Token.
const (
	envProxy      = "BOTONOM_CONTRACT_PROXY"
	envSlowProxy  = "BOTONOM_CONTRACT_SLOW_PROXY"
	envStaticMock = "BOTONOM_CONTRACT_STATIC_MOCK"
	envToken      = "BOTONOM_CONTRACT_TOKEN"
)

// slowProcessing is the --latency of the second mock behind
// BOTONOM_CONTRACT_SLOW_PROXY (scripts/contract): how long it processes a
// POST with an Idempotency-Key.
const slowProcessing = 400 * time.Millisecond

// validated is the transport of every tour client: it sends each attempt
// to Prism and fails the test on any violation Prism reports.
//
// Prism ignores the base path of the spec's server (/v1): its routes are
// the spec's paths as written, "/agents", and it forwards them to the
// mock's /v1 base URL. So the SDK talks to "<proxy>/v1/", as to the API,
// and this transport strips the /v1 on the way to Prism.
type validated struct {
	t        *testing.T
	next     http.RoundTripper
	requests atomic.Int64
	statuses [600]atomic.Int64
}

func (v *validated) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.URL.Path = strings.TrimPrefix(req.URL.Path, "/v1")
	out.URL.RawPath = strings.TrimPrefix(req.URL.RawPath, "/v1")
	v.requests.Add(1)
	resp, err := v.next.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode > 0 && resp.StatusCode < len(v.statuses) {
		v.statuses[resp.StatusCode].Add(1)
	}
	viol := resp.Header.Get("sl-violations")
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		// Prism's own answer (422 for a request, 500 for an answer):
		// the body says what is wrong.
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		viol += " " + string(body)
	}
	if viol != "" {
		v.t.Errorf("Prism: %s %s → %d: the request or the answer breaks api/openapi.yaml: %s", req.Method, out.URL.RequestURI(), resp.StatusCode, viol)
	}
	return resp, nil
}

// through returns the validating transport and a constructor of clients
// that talk through it to the Prism instance named by the environment
// variable env; it skips the test when env is not set.
func through(t *testing.T, env string) (*validated, func(token string, opts ...botonom.Option) *botonom.Client) {
	t.Helper()
	prism := os.Getenv(env)
	if prism == "" {
		t.Skipf("%s is not set: scripts/contract starts botonom mock and Prism and runs this test", env)
	}
	tr := &validated{t: t, next: http.DefaultTransport}
	hc := &http.Client{Transport: tr}
	return tr, func(token string, opts ...botonom.Option) *botonom.Client {
		c, err := botonom.NewClient(token, append([]botonom.Option{
			botonom.WithBaseURL(strings.TrimSuffix(prism, "/") + "/v1/"),
			botonom.WithHTTPClient(hc),
			botonom.WithRetryWait(time.Millisecond, 10*time.Millisecond),
		}, opts...)...)
		require.NoError(t, err)
		return c
	}
}

// TestContract_TheSpecsOwnExamplesThroughPrism calls every endpoint method
// against Prism's static mock of api/openapi.yaml, which answers with the
// spec's examples: each answer fits the spec, decodes, and a list is one
// page, so following cursors ends. Without BOTONOM_CONTRACT_STATIC_MOCK it
// skips: run scripts/contract.
func TestContract_TheSpecsOwnExamplesThroughPrism(t *testing.T) {
	tr, newClient := through(t, envStaticMock)
	client := newClient(botonomtest.Token)
	ctx := context.Background()
	const id = "agt_abc123"

	n := 0
	for a, err := range client.Agents.ListAll(ctx, nil) {
		require.NoError(t, err)
		require.Less(t, n, 10, "the example list pages forever")
		assert.Regexp(t, `^agt_`, a.ID)
		n++
	}
	n = 0
	for task, err := range client.Agents.ListAllTasks(ctx, id, &botonom.ListTasksOptions{Status: botonom.TaskStatusCompleted}) {
		require.NoError(t, err)
		require.Less(t, n, 10, "the example list pages forever")
		assert.Regexp(t, `^agt_`, task.AgentID)
		n++
	}
	_, _, err := client.Agents.Get(ctx, id)
	require.NoError(t, err)
	msg, _, err := client.Agents.SendMessage(ctx, id, &botonom.SendMessageRequest{Content: "hi"})
	require.NoError(t, err)
	assert.Regexp(t, `^agt_`, msg.AgentID)
	_, _, err = client.Agents.UpdateSkills(ctx, id, &botonom.UpdateSkillsRequest{Install: []string{"calendar"}})
	require.NoError(t, err)
	_, _, err = client.Webhooks.Register(ctx, &botonom.RegisterWebhookRequest{
		URL: "https://yourapp.example/h", Events: []botonom.EventType{botonom.EventTaskCompleted}, Secret: "whsec_x",
	})
	require.NoError(t, err)
	_, resp, err := client.Analytics.Usage(ctx, &botonom.UsageOptions{Granularity: botonom.GranularityDay})
	require.NoError(t, err)
	assert.Regexp(t, `^req_`, resp.RequestID)
	assert.Positive(t, resp.Rate.Remaining, "the example rate limit is not spent")
	t.Logf("static mock: %d requests through Prism", tr.requests.Load())
}

// TestContract_TheSDKsWholeTourThroughPrism sends every endpoint method of
// the SDK, with its options, pagination to the end, the errors a caller
// meets (400, 401, 404, 409, 429) and a retry, through Prism to the fake
// API, and fails on any violation Prism reports. Without
// BOTONOM_CONTRACT_PROXY it skips, and its 409 step without
// BOTONOM_CONTRACT_SLOW_PROXY: run scripts/contract.
func TestContract_TheSDKsWholeTourThroughPrism(t *testing.T) {
	tr, newClient := through(t, envProxy)
	var slow *validated // the 409 step's, behind the second proxy
	token := os.Getenv(envToken)
	if token == "" {
		token = botonomtest.Token
	}
	// The mock allows 20 requests a second (scripts/contract); the tour
	// paces itself below that until it runs into the limit on purpose.
	client := newClient(token, botonom.WithLimiter(rate.NewLimiter(10, 1)))
	ctx := context.Background()
	const (
		online  = botonomtest.SampleAgentID
		offline = botonomtest.BillingAgentID
	)

	t.Run("agents", func(t *testing.T) {
		agents, resp, err := client.Agents.List(ctx, nil)
		require.NoError(t, err)
		assert.Len(t, agents, 3)
		assert.Empty(t, resp.NextCursor)
		assert.Regexp(t, `^req_`, resp.RequestID)

		var ids []string
		for a, err := range client.Agents.ListAll(ctx, &botonom.ListAgentsOptions{ListOptions: botonom.ListOptions{Limit: 1}}) {
			require.NoError(t, err)
			ids = append(ids, a.ID)
		}
		assert.Len(t, ids, 3, "three pages of one")

		off, _, err := client.Agents.List(ctx, &botonom.ListAgentsOptions{Status: botonom.AgentStatusOffline, ListOptions: botonom.ListOptions{Limit: 100}})
		require.NoError(t, err)
		require.Len(t, off, 1)
		assert.Equal(t, offline, off[0].ID)

		for _, id := range ids {
			a, _, err := client.Agents.Get(ctx, id)
			require.NoError(t, err)
			assert.Equal(t, id, a.ID)
		}
	})

	t.Run("messages and tasks", func(t *testing.T) {
		start := time.Now().UTC().Add(-time.Second).Truncate(time.Second)
		for i, id := range []string{online, online, offline} {
			msg, _, err := client.Agents.SendMessage(ctx, id, &botonom.SendMessageRequest{
				Content:  "Book a table for 4 at 7pm tomorrow",
				Channel:  "api",
				Metadata: map[string]string{"customer_id": "cust_456", "n": string(rune('0' + i))},
			})
			require.NoError(t, err)
			assert.Equal(t, id, msg.AgentID)
		}

		tasks, _, err := client.Agents.ListTasks(ctx, online, &botonom.ListTasksOptions{
			Status: botonom.TaskStatusCompleted, CreatedAfter: start, CreatedBefore: time.Now().Add(time.Hour),
		})
		require.NoError(t, err)
		assert.GreaterOrEqual(t, len(tasks), 2)

		// Content the JSON encoders on both sides must agree on.
		for _, content := range []string{"Réserver une table pour 4 🍝", "line one\nline \"two\"\t<b>&amp;</b>", strings.Repeat("long ", 2000)} {
			_, _, err := client.Agents.SendMessage(ctx, botonomtest.SupportAgentID, &botonom.SendMessageRequest{
				Content: content, Channel: "sms", Metadata: map[string]string{},
			})
			require.NoError(t, err)
		}
		for _, id := range []string{online, botonomtest.SupportAgentID, offline} {
			for _, st := range []botonom.TaskStatus{botonom.TaskStatusPending, botonom.TaskStatusRunning, botonom.TaskStatusCompleted, botonom.TaskStatusFailed} {
				_, _, err := client.Agents.ListTasks(ctx, id, &botonom.ListTasksOptions{Status: st, ListOptions: botonom.ListOptions{Limit: 100}})
				require.NoError(t, err)
			}
		}

		n := 0
		for _, err := range client.Agents.ListAllTasks(ctx, online, &botonom.ListTasksOptions{ListOptions: botonom.ListOptions{Limit: 2}}) {
			require.NoError(t, err)
			n++
		}
		assert.GreaterOrEqual(t, n, 2)

		empty, _, err := client.Agents.ListTasks(ctx, offline, &botonom.ListTasksOptions{CreatedAfter: start, CreatedBefore: start})
		require.NoError(t, err)
		assert.Empty(t, empty, "an empty window")

		// The escape hatch, with the caller's own Idempotency-Key sent
		// twice: the second answer is the first one replayed.
		var first, second botonom.Message
		for _, m := range []*botonom.Message{&first, &second} {
			req, err := client.NewRequest(ctx, http.MethodPost, "agents/"+online+"/message", map[string]string{"content": "once"})
			require.NoError(t, err)
			req.Header.Set("Idempotency-Key", "contract-tour-"+start.Format("150405"))
			_, err = client.Do(req, m)
			require.NoError(t, err)
		}
		assert.Equal(t, first.ID, second.ID)
	})

	t.Run("skills", func(t *testing.T) {
		a, _, err := client.Agents.UpdateSkills(ctx, online, &botonom.UpdateSkillsRequest{Install: []string{"weather"}, Remove: []string{"booking"}})
		require.NoError(t, err)
		assert.Contains(t, a.Skills, "weather")
		a, _, err = client.Agents.InstallSkills(ctx, online, "booking")
		require.NoError(t, err)
		assert.Contains(t, a.Skills, "booking")
		a, _, err = client.Agents.RemoveSkills(ctx, online, "weather", "never-installed")
		require.NoError(t, err)
		assert.NotContains(t, a.Skills, "weather")
	})

	t.Run("webhooks", func(t *testing.T) {
		wh, _, err := client.Webhooks.Register(ctx, &botonom.RegisterWebhookRequest{
			URL:    "https://yourapp.example/botonom/webhook",
			Events: []botonom.EventType{botonom.EventTaskCompleted, botonom.EventMessageReceived},
			Secret: "whsec_contract_tour",
		})
		require.NoError(t, err)
		assert.Regexp(t, `^wh_`, wh.ID)
	})

	t.Run("usage", func(t *testing.T) {
		u, _, err := client.Analytics.Usage(ctx, nil)
		require.NoError(t, err)
		assert.Equal(t, botonom.GranularityDay, u.Granularity)
		to := time.Now().UTC().Truncate(time.Hour).Add(time.Hour)
		for _, g := range []botonom.Granularity{botonom.GranularityHour, botonom.GranularityDay, botonom.GranularityMonth} {
			u, _, err := client.Analytics.Usage(ctx, &botonom.UsageOptions{From: to.Add(-48 * time.Hour), To: to, AgentID: online, Granularity: g})
			require.NoError(t, err)
			assert.Positive(t, u.Total.Requests, g)
		}
		u, _, err = client.Analytics.Usage(ctx, &botonom.UsageOptions{From: to, To: to})
		require.NoError(t, err)
		assert.Empty(t, u.Data, "an empty window")
	})

	t.Run("errors", func(t *testing.T) {
		_, _, err := client.Agents.Get(ctx, "agt_nope")
		assert.ErrorIs(t, err, botonom.ErrNotFound)
		_, _, err = client.Agents.Get(ctx, "../webhooks")
		assert.ErrorIs(t, err, botonom.ErrNotFound, "an escaped ID stays one path segment")
		_, _, err = client.Agents.SendMessage(ctx, "agt_nope", &botonom.SendMessageRequest{Content: "hi"})
		assert.ErrorIs(t, err, botonom.ErrNotFound)
		_, _, err = client.Agents.ListTasks(ctx, "agt_nope", nil)
		assert.ErrorIs(t, err, botonom.ErrNotFound)
		_, _, err = client.Agents.UpdateSkills(ctx, "agt_nope", &botonom.UpdateSkillsRequest{Install: []string{"x"}})
		assert.ErrorIs(t, err, botonom.ErrNotFound)
		_, _, err = client.Analytics.Usage(ctx, &botonom.UsageOptions{AgentID: "agt_nope"})
		assert.ErrorIs(t, err, botonom.ErrNotFound)

		_, _, err = client.Agents.List(ctx, &botonom.ListAgentsOptions{ListOptions: botonom.ListOptions{Cursor: "not-a-cursor"}})
		assert.ErrorIs(t, err, botonom.ErrBadRequest)
		var apiErr *botonom.APIError
		require.True(t, errors.As(err, &apiErr))
		assert.Equal(t, "invalid_cursor", apiErr.Code)

		_, _, err = newClient("btm_sk_not_the_token").Agents.List(ctx, nil)
		assert.ErrorIs(t, err, botonom.ErrUnauthorized)
	})

	t.Run("409", func(t *testing.T) {
		// A mock that takes slowProcessing over a keyed POST, behind its
		// own Prism, so that the rest of the tour stays fast. The first
		// attempt gives up (per-call timeout) while the mock still
		// processes it; the retries, with the same key, get 409
		// idempotency_key_in_use until it is done, then its answer.
		var newSlowClient func(string, ...botonom.Option) *botonom.Client
		slow, newSlowClient = through(t, envSlowProxy)
		client := newSlowClient(token)
		before, _, err := client.Agents.ListTasks(ctx, online, &botonom.ListTasksOptions{ListOptions: botonom.ListOptions{Limit: 100}})
		require.NoError(t, err)
		require.Less(t, len(before), 100, "one page holds every task")

		msg, resp, err := client.Agents.SendMessage(ctx, online, &botonom.SendMessageRequest{Content: "Once, however slow"},
			botonom.WithTimeout(slowProcessing/4), botonom.WithRetryWait(20*time.Millisecond, 60*time.Millisecond),
			botonom.WithMaxRetries(30))
		require.NoError(t, err)
		assert.Equal(t, "true", resp.Header.Get("Idempotent-Replayed"), "the first attempt's answer, replayed")
		assert.Positive(t, slow.statuses[409].Load(), "a 409 answered through Prism")
		assert.Equal(t, int64(1), slow.statuses[201].Load(), "only the replay got through: the first gave up")

		after, _, err := client.Agents.ListTasks(ctx, online, &botonom.ListTasksOptions{ListOptions: botonom.ListOptions{Limit: 100}})
		require.NoError(t, err)
		assert.Len(t, after, len(before)+1, "one message stored")
		n := 0
		for _, task := range after {
			if task.MessageID == msg.ID {
				n++
			}
		}
		assert.Equal(t, 1, n, "one task for the message %s", msg.ID)
	})

	t.Run("429", func(t *testing.T) {
		// Unpaced, four at a time and not retried, until the window's
		// budget runs out and an answer is a 429 with Retry-After. A new
		// client for each call, so that none holds back a request it
		// knows is bound to fail.
		var first atomic.Pointer[botonom.RateLimitError]
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 50 && first.Load() == nil; i++ {
					_, _, err := newClient(token, botonom.WithMaxRetries(0)).Agents.Get(ctx, online)
					var rle *botonom.RateLimitError
					if errors.As(err, &rle) {
						first.CompareAndSwap(nil, rle)
					} else if err != nil {
						t.Errorf("want a *RateLimitError or success, got %v", err)
					}
				}
			}()
		}
		wg.Wait()
		rle := first.Load()
		require.NotNil(t, rle, "no 429 in 200 requests: is the mock limited to 20/s?")
		assert.Equal(t, 0, rle.Rate.Remaining)
		assert.Positive(t, rle.RetryAfter)
		assert.Positive(t, tr.statuses[429].Load(), "a 429 answered through Prism")

		// A client with retries waits for the window and gets through.
		_, _, err := newClient(token).Agents.Get(ctx, online)
		require.NoError(t, err)
	})

	if slow != nil {
		t.Logf("contract tour: %d requests through Prism; %d answered 429; %d through the slow mock's Prism, %d answered 409",
			tr.requests.Load()+slow.requests.Load(), tr.statuses[429].Load(), slow.requests.Load(), slow.statuses[409].Load())
	} else {
		t.Logf("contract tour: %d requests through Prism; %d answered 429", tr.requests.Load(), tr.statuses[429].Load())
	}
}
