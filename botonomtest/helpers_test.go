package botonomtest_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	botonom "github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/botonomtest"
)

// recordingTB is a testing.TB whose Errorf and Fatalf are recorded instead
// of failing the test, to assert that the server reports what it should.
// Everything else (Cleanup, Logf, Helper) goes to the real test.
type recordingTB struct {
	testing.TB
	mu     sync.Mutex
	errors []string
	fatals []string
}

func record(t *testing.T) *recordingTB { return &recordingTB{TB: t} }

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recordingTB) Error(args ...any) { r.Errorf("%s", fmt.Sprint(args...)) }

// Fatalf records and ends the goroutine, as testing.T's does; call the code
// that may use it through r.run.
func (r *recordingTB) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.fatals = append(r.fatals, fmt.Sprintf(format, args...))
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recordingTB) Fatal(args ...any) { r.Fatalf("%s", fmt.Sprint(args...)) }

// run calls fn on its own goroutine, so that a Fatalf ends only fn.
func (r *recordingTB) run(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
}

func (r *recordingTB) Errors() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errors...)
}

// requestErrors are the recorded complaints about requests breaking the spec.
func (r *recordingTB) requestErrors() []string {
	var out []string
	for _, e := range r.Errors() {
		if strings.Contains(e, "the request does not match") {
			out = append(out, e)
		}
	}
	return out
}

// answer is a raw HTTP answer, read in full.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// errorBody decodes the API's error shape.
func (a answer) errorBody(t *testing.T) (typ, code, param string) {
	t.Helper()
	var v struct {
		Error struct {
			Type, Code, Message, Param string
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal(a.body, &v), "body %s", a.body)
	require.NotEmpty(t, v.Error.Message, "body %s", a.body)
	return v.Error.Type, v.Error.Code, v.Error.Param
}

// send sends a request by hand (net/http, not the SDK) with the server's
// token unless header says otherwise, for what the SDK refuses to send.
// path is relative to the base URL.
func send(t *testing.T, srv *botonomtest.Server, method, path, body string, header ...string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL()+path, rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+botonomtest.Token)
	req.Header.Set("Accept", "application/json")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

// requireRefused asserts that a is a 400 invalid_request_error with this
// code and param.
func requireRefused(t *testing.T, a answer, code, param string) {
	t.Helper()
	require.Equal(t, 400, a.status, "body %s", a.body)
	typ, gotCode, gotParam := a.errorBody(t)
	assert.Equal(t, "invalid_request_error", typ)
	assert.Equal(t, code, gotCode, "code")
	assert.Equal(t, param, gotParam, "param")
}

// requireAPIError asserts that err is an *APIError with this status, type
// and param.
func requireAPIError(t *testing.T, err error, status int, typ, param string) *botonom.APIError {
	t.Helper()
	var apiErr *botonom.APIError
	require.True(t, errors.As(err, &apiErr), "want *botonom.APIError, got %T: %v", err, err)
	assert.Equal(t, status, apiErr.StatusCode, "status")
	assert.Equal(t, typ, apiErr.Type, "type")
	assert.Equal(t, param, apiErr.Param, "param")
	assert.True(t, strings.HasPrefix(apiErr.RequestID, "req_"), "request ID %q", apiErr.RequestID)
	return apiErr
}

func jsonHas(t *testing.T, body []byte, key string) bool {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m))
	_, ok := m[key]
	return ok
}
