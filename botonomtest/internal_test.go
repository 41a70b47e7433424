package botonomtest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// errorsTB records Errorf calls instead of failing the test.
type errorsTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (e *errorsTB) Errorf(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.errs = append(e.errs, fmt.Sprintf(format, args...))
}

// A bug in the fake is never a panic on the client's side: the answer is a
// 500 api_error in the API's shape, and the test fails saying why.
func TestPanicIsA500AndAFailedTest(t *testing.T) {
	rec := &errorsTB{TB: t}
	srv := NewServer(rec)
	srv.mu.Lock()
	srv.agents = append(srv.agents, nil) // a corrupt store: listing it panics
	srv.mu.Unlock()

	req, err := http.NewRequest("GET", srv.URL()+"agents?status=online", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+Token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()

	assert.Equal(t, 500, resp.StatusCode)
	assert.Contains(t, string(body), `"type":"api_error"`)
	assert.NotEmpty(t, resp.Header.Get("X-Request-Id"))
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Len(t, rec.errs, 1, "%v", rec.errs)
	assert.True(t, strings.Contains(rec.errs[0], "panic answering GET /v1/agents?status=online"), rec.errs[0])
}

// The answers are checked against the spec too: a store that breaks the
// contract (here an agent status the API never sends) fails the test.
func TestAnswerThatBreaksTheSpecFailsTheTest(t *testing.T) {
	rec := &errorsTB{TB: t}
	srv := NewServer(rec)
	srv.mu.Lock()
	srv.agents[0].Status = "busy"
	srv.mu.Unlock()

	_, _, err := srv.Client().Agents.Get(context.Background(), SampleAgentID)
	require.NoError(t, err, "the client still gets the answer")
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Len(t, rec.errs, 1, "%v", rec.errs)
	assert.Contains(t, rec.errs[0], "GET /v1/agents/agt_abc123: the answer (200")
	assert.Contains(t, rec.errs[0], "does not match api/openapi.yaml")
	assert.Contains(t, rec.errs[0], "busy")
}
