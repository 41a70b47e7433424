package botonom

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/botonom/botonom-go/internal/faultnet"
)

// sdkTransport returns the *http.Transport under the client's default
// transport (no WithHTTPClient), one of its own for the test to change
// (ownDefaultTransport), and the SDK's transport around it.
func sdkTransport(t *testing.T, c *Client) (*http.Transport, *transport) {
	t.Helper()
	return defaultTransportOf(t, c), c.hc.HTTPClient.Transport.(*transport)
}

func TestTimeout_DefaultBoundsAServerThatNeverAnswers(t *testing.T) {
	s := newFaultServer(t, faultnet.Always(faultnet.BlackHole))
	c := s.client(t, WithMaxRetries(1))
	ht, tr := sdkTransport(t, c)
	assert.Equal(t, DefaultTimeout, ht.ResponseHeaderTimeout, "the default bound, on the SDK's transport")
	assert.Zero(t, tr.defaultTimeout, "no per-call cost: the transport bounds it")

	ht.ResponseHeaderTimeout = 50 * time.Millisecond // DefaultTimeout, scaled down for the test
	start := time.Now()
	_, _, err := c.Agents.Get(context.Background(), "agt_1") // context.Background: nothing else bounds it
	require.Error(t, err)
	assert.ErrorContains(t, err, "timeout awaiting response headers")
	assert.ErrorContains(t, err, "after 2 attempts", "a timed-out attempt is retried")
	assert.Less(t, time.Since(start), 2*time.Second)
}

func TestTimeout_DefaultBoundsTheAttemptOnACallersHTTPClient(t *testing.T) {
	s := newFaultServer(t, faultnet.Always(faultnet.BlackHole))
	c := s.client(t, WithMaxRetries(0), WithHTTPClient(&http.Client{}))
	tr := c.hc.HTTPClient.Transport.(*transport)
	assert.Equal(t, DefaultTimeout, tr.defaultTimeout)
	tr.defaultTimeout = 50 * time.Millisecond
	start := time.Now()
	_, _, err := c.Agents.Get(context.Background(), "agt_1")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 2*time.Second)

	withOwn := s.client(t, WithHTTPClient(&http.Client{Timeout: time.Minute}))
	assert.Zero(t, withOwn.hc.HTTPClient.Transport.(*transport).defaultTimeout, "the caller's Timeout is the bound")
}

func TestTimeout_WithTimeoutBoundsTheBodyToo(t *testing.T) {
	srv := newAttemptServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(200)
		fmt.Fprint(w, `{"id":`)
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the rest never comes
	})
	start := time.Now()
	_, _, err := srv.client(t, WithMaxRetries(1)).Agents.Get(context.Background(), "agt_1", WithTimeout(50*time.Millisecond))
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorContains(t, err, "decode response")
	assert.Equal(t, 2, srv.count(), "a body that does not arrive whole is retried")
	assert.Less(t, time.Since(start), 2*time.Second)
}

// reaches reports where s can be found from v, following pointers,
// interfaces, the exported fields of structs, maps and slices — what a
// deep dumper such as spew prints of a Response. Funcs and channels are
// opaque; bodies and unexported fields (net/http's connection state) are
// skipped, as reading them races with net/http's goroutines.
func reaches(v reflect.Value, s string, path string, seen map[uintptr]bool) (string, bool) {
	switch v.Kind() {
	case reflect.String:
		if strings.Contains(v.String(), s) {
			return path, true
		}
	case reflect.Pointer:
		if v.IsNil() || seen[v.Pointer()] {
			return "", false
		}
		seen[v.Pointer()] = true
		return reaches(v.Elem(), s, path, seen)
	case reflect.Interface:
		if !v.IsNil() {
			return reaches(v.Elem(), s, path, seen)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			name := v.Type().Field(i).Name
			if !v.Type().Field(i).IsExported() || name == "Body" {
				// net/http's own state (a closed body's connection, the
				// transport behind a context), still in use by its goroutines.
				continue
			}
			if p, ok := reaches(v.Field(i), s, path+"."+name, seen); ok {
				return p, true
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			key := "?"
			if it.Key().Kind() == reflect.String {
				key = it.Key().String()
			}
			if p, ok := reaches(it.Value(), s, path+"["+key+"]", seen); ok {
				return p, true
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && (v.IsNil() || seen[v.Pointer()]) {
			return "", false
		}
		for i := range v.Len() {
			if p, ok := reaches(v.Index(i), s, fmt.Sprintf("%s[%d]", path, i), seen); ok {
				return p, true
			}
		}
	}
	return "", false
}

func TestResponse_RequestHoldsNoToken(t *testing.T) {
	srv := newAttemptServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch {
		case r.URL.Path == "/v1/agents/redirected":
			http.Redirect(w, r, "/v1/agents/again", http.StatusFound) // same origin: the token follows
		case r.URL.Path == "/v1/agents/again":
			http.Redirect(w, r, "/v1/agents/agt_1", http.StatusFound) // a chain of three requests
		case r.URL.Path == "/v1/agents/agt_404":
			writeStatus(w, 404)
		case n == 0:
			writeStatus(w, 503) // a retry first
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/webhooks"):
			w.WriteHeader(201)
			fmt.Fprint(w, `{"id":"wh_1"}`)
		case strings.HasSuffix(r.URL.Path, "/tasks") || r.URL.Path == "/v1/agents":
			fmt.Fprint(w, `{"data":[{"id":"x"}],"has_more":false}`)
		default:
			writeStatus(w, 200)
		}
	})
	c := srv.client(t)
	ctx := context.Background()
	calls := map[string]func() (*Response, error){
		"List":       func() (*Response, error) { _, r, err := c.Agents.List(ctx, nil); return r, err },
		"Get":        func() (*Response, error) { _, r, err := c.Agents.Get(ctx, "agt_1"); return r, err },
		"Get 404":    func() (*Response, error) { _, r, err := c.Agents.Get(ctx, "agt_404"); return r, err },
		"redirected": func() (*Response, error) { _, r, err := c.Agents.Get(ctx, "redirected"); return r, err },
		"SendMessage": func() (*Response, error) {
			_, r, err := c.Agents.SendMessage(ctx, "agt_1", &SendMessageRequest{Content: "hi"})
			return r, err
		},
		"ListTasks": func() (*Response, error) { _, r, err := c.Agents.ListTasks(ctx, "agt_1", nil); return r, err },
		"UpdateSkills": func() (*Response, error) {
			_, r, err := c.Agents.UpdateSkills(ctx, "agt_1", &UpdateSkillsRequest{Install: []string{"x"}})
			return r, err
		},
		"Register": func() (*Response, error) {
			_, r, err := c.Webhooks.Register(ctx, &RegisterWebhookRequest{URL: "https://x.test/h", Events: []EventType{EventTaskCompleted}, Secret: "whsec_1"})
			return r, err
		},
		"Usage": func() (*Response, error) { _, r, err := c.Analytics.Usage(ctx, nil); return r, err },
		"Do": func() (*Response, error) {
			req, err := c.NewRequest(ctx, "GET", "agents/agt_1", nil)
			require.NoError(t, err)
			r, err := c.Do(req, nil)
			assert.Equal(t, "Bearer "+testToken, req.Header.Get("Authorization"), "the caller's own request is left as it was")
			return r, err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			resp, err := call()
			require.NotNil(t, resp, "%v", err)
			if path, ok := reaches(reflect.ValueOf(resp), testToken, "resp", map[uintptr]bool{}); ok {
				t.Errorf("the token is reachable at %s", path)
			}
		})
	}
}

func TestWithResponseInto_EveryPageOfListAll(t *testing.T) {
	c, mt := setup(t)
	requested := pages(mt, "agents", agentItem, "never")
	var page *Response
	byItem := map[string]string{}
	for agent, err := range c.Agents.ListAll(context.Background(), &ListAgentsOptions{ListOptions: ListOptions{Limit: 2}}, WithResponseInto(&page)) {
		require.NoError(t, err)
		byItem[agent.ID] = page.Request.URL.RawQuery
	}
	require.Len(t, *requested, 3)
	assert.Equal(t, "limit=2", byItem["agt_0"])
	assert.Equal(t, "cursor=p2&limit=2", byItem["agt_2"], "the item's own page")
	assert.Equal(t, "cursor=p3&limit=2", byItem["agt_4"])

	var one *Response
	handle(mt, "GET", "agents/agt_nope", 404, `{"error":{"type":"not_found_error"}}`, nil)
	_, resp, err := c.Agents.Get(context.Background(), "agt_nope", WithResponseInto(&one))
	require.Error(t, err)
	assert.Same(t, resp, one, "set on an API error too")

	_, err = NewClient(testToken, WithResponseInto(&one))
	assert.ErrorIs(t, err, ErrInvalidArgument)
	_, _, err = c.Agents.Get(context.Background(), "agt_1", WithResponseInto(nil))
	assert.ErrorIs(t, err, ErrInvalidArgument)
}
