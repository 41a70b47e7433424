// Package recipetest checks a recipe's router the way the API uses it: it
// serves the router on loopback and delivers signed events through it.
package recipetest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	botonom "github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/botonomtest"
)

// Secret is the webhook secret the checks register and sign with.
const Secret = "whsec_recipe_test_secret"

// Routes builds a recipe's router: deliveries to its webhook paths are
// verified with secret, refusals logged to logger, events handed to handle.
type Routes func(secret string, logger *slog.Logger, handle func(context.Context, *botonom.Event) error) http.Handler

// Receiver is a served router and what reached it.
type Receiver struct {
	URL  string // the server's base URL
	Logs *LockedBuffer

	mu     sync.Mutex
	events []*botonom.Event
}

// Serve serves the router routes builds on loopback until the test ends.
func Serve(t *testing.T, routes Routes) *Receiver {
	t.Helper()
	r := &Receiver{Logs: &LockedBuffer{}}
	logger := slog.New(slog.NewTextHandler(r.Logs, nil))
	srv := httptest.NewServer(routes(Secret, logger, r.handle))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

func (r *Receiver) handle(_ context.Context, ev *botonom.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	return nil
}

// Events returns the events handed to the recipe's function so far.
func (r *Receiver) Events() []*botonom.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*botonom.Event(nil), r.events...)
}

// Deliver POSTs ev to path as the API does, signed with secret now, and
// returns the status and body of the answer.
func (r *Receiver) Deliver(t *testing.T, path, secret string, ev *botonom.Event) (int, string) {
	t.Helper()
	resp, err := botonomtest.DeliverEvent(context.Background(), nil, r.URL+path, secret, ev, time.Now())
	if err != nil {
		t.Fatalf("deliver to %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read the answer of %s: %v", path, err)
	}
	return resp.StatusCode, string(body)
}

// WantDelivered delivers a signed event to path and fails t unless the
// answer is want; a 401 must come with the likely causes in the log.
func (r *Receiver) WantDelivered(t *testing.T, path string, want int) {
	t.Helper()
	status, answer := r.Deliver(t, path, Secret, TaskCompleted(t, "evt_1"))
	if status != want {
		t.Fatalf("got %d %q, want %d", status, answer, want)
	}
	if status == http.StatusUnauthorized {
		WantHintLogged(t, r.Logs.String(), answer)
	}
}

// TaskCompleted returns an agent.task.completed event with realistic data.
func TaskCompleted(t *testing.T, id string) *botonom.Event {
	t.Helper()
	data, err := botonomtest.SampleEventData(botonom.EventTaskCompleted)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	return &botonom.Event{ID: id, Type: botonom.EventTaskCompleted,
		CreatedAt: time.Now().UTC().Truncate(time.Second), Data: raw}
}

// Check runs the checks every recipe passes, on each of paths: a signed
// event reaches the function intact and is answered 200; one signed with
// another secret is answered 401 without reaching it, and the log (never
// the answer) names the likely causes.
func Check(t *testing.T, routes Routes, paths ...string) {
	for _, path := range paths {
		t.Run(strings.TrimPrefix(path, "/"), func(t *testing.T) {
			r := Serve(t, routes)
			ev := TaskCompleted(t, "evt_recipe_1")
			if status, body := r.Deliver(t, path, Secret, ev); status != http.StatusOK {
				t.Fatalf("signed event: got %d %q, want 200", status, body)
			}
			got := r.Events()
			if len(got) != 1 {
				t.Fatalf("signed event: the function got %d events, want 1", len(got))
			}
			WantSameEvent(t, got[0], ev)

			status, body := r.Deliver(t, path, "whsec_not_the_registered_one", TaskCompleted(t, "evt_recipe_2"))
			if status != http.StatusUnauthorized {
				t.Errorf("wrong secret: got %d %q, want 401", status, body)
			}
			if n := len(r.Events()); n != 1 {
				t.Errorf("wrong secret: the function got the event (%d events)", n)
			}
			WantHintLogged(t, r.Logs.String(), body)

			// A body over the cap is refused 413, as WebhookHandler does,
			// before anything is verified or handled.
			status, body = r.post(t, path, bytes.Repeat([]byte("a"), botonom.DefaultMaxWebhookBodyBytes+1))
			if status != http.StatusRequestEntityTooLarge {
				t.Errorf("body over %d bytes: got %d %q, want 413", botonom.DefaultMaxWebhookBodyBytes, status, body)
			}
			if n := len(r.Events()); n != 1 {
				t.Errorf("body too large: the function got %d events", n)
			}
		})
	}
}

// post POSTs body to path, signed with Secret, and returns the answer.
func (r *Receiver) post(t *testing.T, path string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, r.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(botonom.SignatureHeader, botonom.SignPayload(body, Secret, time.Now()))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("post to %s: %v", path, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(answer)
}

// CheckServer fails t unless the recipe's server bounds what a client can
// hold: a deadline for the headers and for the whole request, and a cap
// on the headers.
func CheckServer(t *testing.T, newServer func(http.Handler) *http.Server) {
	t.Helper()
	srv := newServer(http.NotFoundHandler())
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.IdleTimeout <= 0 {
		t.Errorf("unbounded reads: ReadHeaderTimeout %s, ReadTimeout %s, IdleTimeout %s", srv.ReadHeaderTimeout, srv.ReadTimeout, srv.IdleTimeout)
	}
	if srv.MaxHeaderBytes <= 0 || srv.MaxHeaderBytes > 1<<20 {
		t.Errorf("MaxHeaderBytes %d", srv.MaxHeaderBytes)
	}
}

// runMainEnv, set in the environment of the test binary, makes RunMain run
// the recipe's main instead of the tests.
const runMainEnv = "RECIPETEST_RUN_MAIN"

// RunMain is a recipe's TestMain: it runs the tests, or the recipe's main
// when CheckMain starts the test binary as the recipe.
func RunMain(m *testing.M, main func()) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// CheckMain starts the recipe (the test binary, through RunMain) with
// --addr 127.0.0.1:0 and fails t unless it says where it listens and
// answers a signed delivery there.
func CheckMain(t *testing.T) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "--addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), runMainEnv+"=1", "BOTONOM_WEBHOOK_SECRET="+Secret)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	lines := bufio.NewScanner(stderr)
	var url string
	for url == "" && lines.Scan() {
		if _, after, ok := strings.Cut(lines.Text(), " at http://"); ok {
			url = "http://" + strings.TrimSuffix(after, "/botonom/webhook")
		}
	}
	if url == "" || strings.HasSuffix(url, ":0") {
		t.Fatalf("the recipe did not say where it listens (%q)", url)
	}
	go func() { _, _ = io.Copy(io.Discard, stderr) }()
	r := &Receiver{URL: url}
	if status, body := r.Deliver(t, "/botonom/webhook", Secret, TaskCompleted(t, "evt_main")); status != http.StatusOK {
		t.Fatalf("delivery to the address the recipe printed: got %d %q, want 200", status, body)
	}
}

// WantSameEvent fails t unless got is want as the API sent it.
func WantSameEvent(t *testing.T, got, want *botonom.Event) {
	t.Helper()
	if got.ID != want.ID || got.Type != want.Type || !got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("got event %s %s %s, want %s %s %s", got.ID, got.Type, got.CreatedAt, want.ID, want.Type, want.CreatedAt)
	}
	var gotData, wantData bytes.Buffer
	if err := json.Compact(&gotData, got.Data); err != nil {
		t.Fatalf("event data: %v", err)
	}
	_ = json.Compact(&wantData, want.Data)
	if gotData.String() != wantData.String() {
		t.Errorf("event data: got %s, want %s", gotData.String(), wantData.String())
	}
}

// WantHintLogged fails t unless logs name the likely causes of a signature
// mismatch and answer does not, nor shows the secret.
func WantHintLogged(t *testing.T, logs, answer string) {
	t.Helper()
	if !strings.Contains(logs, "examples/frameworks") {
		t.Errorf("the log does not name the likely causes:\n%s", logs)
	}
	if strings.Contains(answer, "frameworks") || strings.Contains(answer, "secret") {
		t.Errorf("the answer tells the sender why: %q", answer)
	}
	if strings.Contains(logs, Secret) {
		t.Errorf("the log shows the secret:\n%s", logs)
	}
}

// LockedBuffer is a log sink safe to share with the server's goroutines.
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
