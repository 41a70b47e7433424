package botonomtest_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	botonom "github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/botonomtest"
)

func TestWithAddr_ListensThere(t *testing.T) {
	srv := botonomtest.NewServer(t, botonomtest.WithAddr("127.0.0.1:0"))
	require.True(t, strings.HasPrefix(srv.URL(), "http://127.0.0.1:"), srv.URL())
	assert.NotEqual(t, "http://127.0.0.1:0/v1/", srv.URL())

	agent, _, err := srv.Client().Agents.Get(context.Background(), botonomtest.SampleAgentID)
	require.NoError(t, err)
	assert.Equal(t, "Reservations", agent.Name)
}

func TestWithAddr_Errors(t *testing.T) {
	_, err := botonomtest.Start(botonomtest.WithAddr("no-port"))
	require.ErrorContains(t, err, "WithAddr")

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	_, err = botonomtest.Start(botonomtest.WithAddr(busy.Addr().String()))
	require.ErrorContains(t, err, "WithAddr")
}

func TestWithRequestHook_SeesEveryRequestBeforeItsAnswer(t *testing.T) {
	var mu sync.Mutex
	var seen []botonomtest.Request
	srv := botonomtest.NewServer(t, botonomtest.WithRequestHook(func(r botonomtest.Request) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, r)
	}))
	client := srv.Client()
	ctx := context.Background()

	_, _, err := client.Agents.Get(ctx, botonomtest.SampleAgentID)
	require.NoError(t, err)
	mu.Lock()
	require.Len(t, seen, 1, "the hook ran before the client had its answer")
	mu.Unlock()

	_, _, err = client.Agents.Get(ctx, "agt_nope")
	require.ErrorIs(t, err, botonom.ErrNotFound)
	srv.ResetConnectionNext(1)
	_, _, err = client.Agents.List(ctx, nil) // reset, then retried
	require.NoError(t, err)

	mu.Lock()
	defer mu.Unlock()
	got := make([]string, len(seen))
	for i, r := range seen {
		got[i] = r.Method + " " + r.Path + " " + http.StatusText(r.Status)
	}
	assert.Equal(t, []string{
		"GET /v1/agents/agt_abc123 OK",
		"GET /v1/agents/agt_nope Not Found",
		"GET /v1/agents ", // the reset connection: no status
		"GET /v1/agents OK",
	}, got)
	reqs := srv.Requests()
	require.Len(t, reqs, len(seen))
	for i := range seen {
		assert.Equal(t, reqs[i].RequestID, seen[i].RequestID)
	}
	assert.True(t, strings.HasPrefix(seen[0].RequestID, "req_"), seen[0].RequestID)

	// The hook's copy is its own.
	seen[0].Header.Set("Authorization", "changed")
	assert.Equal(t, "Bearer "+botonomtest.Token, srv.Requests()[0].Header.Get("Authorization"))
}

func TestWithRequestHook_Nil(t *testing.T) {
	_, err := botonomtest.Start(botonomtest.WithRequestHook(nil))
	require.ErrorContains(t, err, "WithRequestHook")
}

func TestSampleEventData_DecodesAsItsType(t *testing.T) {
	const secret = "whsec_sample"
	srv := botonomtest.NewServer(t)
	for _, typ := range botonom.EventTypes() {
		t.Run(string(typ), func(t *testing.T) {
			data, err := botonomtest.SampleEventData(typ)
			require.NoError(t, err)
			var got *botonom.Event
			h := botonom.WebhookHandler(secret, func(_ context.Context, ev *botonom.Event) error {
				got = ev
				return nil
			})
			ts := httptest.NewServer(h)
			defer ts.Close()

			resp, err := srv.SendEvent(context.Background(), ts.URL, secret, typ, data)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.NotNil(t, got)
			require.Equal(t, typ, got.Type)

			var decodeErr error
			switch typ {
			case botonom.EventTaskCompleted:
				var task *botonom.Task
				task, decodeErr = got.Task()
				if decodeErr == nil {
					assert.Equal(t, botonom.TaskStatusCompleted, task.Status)
					assert.NotNil(t, task.CompletedAt)
				}
			case botonom.EventMessageReceived, botonom.EventMessageSent:
				var msg *botonom.Message
				msg, decodeErr = got.Message()
				if decodeErr == nil {
					assert.NotEmpty(t, msg.Content)
				}
			case botonom.EventStatusChanged:
				_, decodeErr = got.StatusChange()
			case botonom.EventSkillInstalled:
				_, decodeErr = got.SkillInstalled()
			case botonom.EventInvoiceCreated:
				var inv *botonom.Invoice
				inv, decodeErr = got.Invoice()
				if decodeErr == nil {
					assert.Equal(t, int64(4900), inv.AmountDue)
				}
			default:
				t.Fatalf("no case for %s", typ)
			}
			require.NoError(t, decodeErr)
		})
	}
}

func TestSampleEventData_UnknownType(t *testing.T) {
	_, err := botonomtest.SampleEventData("agent.unknown")
	require.ErrorContains(t, err, `unknown event type "agent.unknown"`)
	require.ErrorContains(t, err, "billing.invoice.created")
}
