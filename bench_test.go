package botonom

// Benchmarks for the issue "the SDK costs next to nothing over raw
// net/http". Every SDK benchmark has a baseline measured in the same run,
// against the same in-process httptest.Server answering the same bytes:
//
//   - raw: what a careful engineer writes by hand with net/http and
//     encoding/json — a tuned transport (MaxIdleConnsPerHost 256, as the
//     SDK's default), the same request headers, decode into the same model,
//     drain and close.
//   - retryablehttp-default: retryablehttp.NewClient() as it comes (its
//     pooled transport keeps GOMAXPROCS+1 idle connections per host), with
//     its Logger set to nil so it stays quiet.
//
// The server runs in the same process, so B/op and allocs/op include its
// share of each request (the same for both sides); compare sides, not
// absolute numbers. scripts/bench runs them and prints the ratios.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/botonom/botonom-go/internal/uuid"
)

const (
	benchToken   = "btm_sk_bench_token_0123456789"
	benchAgentID = "agt_abc123"
)

// benchMessageJSON is the documented answer to a send.
var benchMessageJSON = []byte(`{"id":"msg_789","status":"delivered","agent_id":"agt_abc123","created_at":"2026-02-18T14:30:00Z"}`)

// benchAgentJSON is the documented typical agent.
var benchAgentJSON = []byte(`{"id":"agt_abc123","name":"Reservations","description":"Books restaurant tables","status":"online","skills":["calendar","booking"],"created_at":"2026-01-05T09:00:00Z","updated_at":"2026-02-18T14:30:00Z"}`)

// benchSendRequest is the quick start's message.
func benchSendRequest() *SendMessageRequest {
	return &SendMessageRequest{
		Content:  "Book a table for 4 at 7pm tomorrow",
		Metadata: map[string]string{"customer_id": "cust_456", "priority": "normal"},
	}
}

// benchServer is an httptest.Server that counts the TCP connections it
// accepts (http.StateNew).
type benchServer struct {
	*httptest.Server
	newConns atomic.Int64
	baseURL  string // with the /v1/ path, as the production base URL has
}

func newBenchServer(tb testing.TB, h http.Handler) *benchServer {
	tb.Helper()
	s := &benchServer{}
	s.Server = httptest.NewUnstartedServer(h)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.newConns.Add(1)
		}
	}
	s.Start()
	tb.Cleanup(s.Close)
	s.baseURL = s.URL + "/v1/"
	return s
}

// benchRateReset is a reset time an hour ahead, so Remaining never reads 0.
var benchRateReset = strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)

// benchAnswer writes status and body with the API's usual headers.
func benchAnswer(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Request-Id", "req_8f3a2b1c")
	h.Set("X-RateLimit-Limit", "500")
	h.Set("X-RateLimit-Remaining", "499")
	h.Set("X-RateLimit-Reset", benchRateReset)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// benchAPI answers a send and a get as the API does, and refuses requests
// that lack the headers both sides must send (so a broken baseline cannot
// look fast).
func benchAPI() http.Handler {
	mux := http.NewServeMux()
	auth := "Bearer " + benchToken
	checked := func(next func(w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			if r.Header.Get("Authorization") != auth || r.Header.Get("Accept") != "application/json" ||
				!strings.HasPrefix(r.Header.Get("User-Agent"), "botonom-go/") {
				benchAnswer(w, http.StatusUnauthorized, []byte(`{"error":{"type":"authentication_error"}}`))
				return
			}
			next(w, r)
		}
	}
	mux.HandleFunc("POST /v1/agents/{id}/message", checked(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Idempotency-Key") == "" || r.Header.Get("Content-Type") != "application/json" {
			benchAnswer(w, http.StatusBadRequest, []byte(`{"error":{"type":"invalid_request_error"}}`))
			return
		}
		benchAnswer(w, http.StatusCreated, benchMessageJSON)
	}))
	mux.HandleFunc("GET /v1/agents/{id}", checked(func(w http.ResponseWriter, r *http.Request) {
		benchAnswer(w, http.StatusOK, benchAgentJSON)
	}))
	return mux
}

// newBenchSDK is the SDK with its defaults (its own tuned transport),
// pointed at srv.
func newBenchSDK(tb testing.TB, srv *benchServer) *Client {
	tb.Helper()
	c, err := NewClient(benchToken, WithBaseURL(srv.baseURL))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if t, ok := c.hc.HTTPClient.Transport.(*transport); ok {
			if ci, ok := t.next().(interface{ CloseIdleConnections() }); ok {
				ci.CloseIdleConnections()
			}
		}
	})
	return c
}

// benchRawClient is the hand-written baseline: net/http and encoding/json only.
type benchRawClient struct {
	hc   *http.Client
	base string
	auth string
}

// newBenchRawClient uses a clone of http.DefaultTransport sized as the SDK's.
func newBenchRawClient(tb testing.TB, srv *benchServer) *benchRawClient {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = DefaultMaxIdleConnsPerHost
	t.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
	t.ResponseHeaderTimeout = DefaultTimeout // the same bound as the SDK's transport
	tb.Cleanup(t.CloseIdleConnections)
	return &benchRawClient{hc: &http.Client{Transport: t}, base: srv.baseURL, auth: "Bearer " + benchToken}
}

func (rc *benchRawClient) sendMessage(ctx context.Context, id string, body *SendMessageRequest) (*Message, error) {
	buf, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rc.base+"agents/"+url.PathEscape(id)+"/message", bytes.NewReader(buf))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", rc.auth)
	req.Header.Set("User-Agent", defaultUserAgent)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", uuid.New())
	msg := new(Message)
	return msg, benchRawDo(rc.hc.Do, req, http.StatusCreated, msg)
}

func (rc *benchRawClient) getAgent(ctx context.Context, id string) (*Agent, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rc.base+"agents/"+url.PathEscape(id), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", rc.auth)
	req.Header.Set("User-Agent", defaultUserAgent)
	req.Header.Set("Accept", "application/json")
	agent := new(Agent)
	return agent, benchRawDo(rc.hc.Do, req, http.StatusOK, agent)
}

// benchRawDo sends req, checks the status, decodes the body into v, then drains
// and closes the body.
func benchRawDo(do func(*http.Request) (*http.Response, error), req *http.Request, want int, v any) error {
	resp, err := do(req)
	if err != nil {
		return err
	}
	defer func() {
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}()
	if resp.StatusCode != want {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// benchSender makes one send-message call and checks its answer.
type benchSender func(ctx context.Context) error

func benchCheckMessage(m *Message, err error) error {
	if err != nil {
		return err
	}
	if m.ID != "msg_789" || m.Status != MessageStatusDelivered {
		return fmt.Errorf("unexpected message %+v", m)
	}
	return nil
}

func benchSDKSender(c *Client) benchSender {
	return func(ctx context.Context) error {
		m, _, err := c.Agents.SendMessage(ctx, benchAgentID, benchSendRequest())
		return benchCheckMessage(m, err)
	}
}

func benchRawSender(rc *benchRawClient) benchSender {
	return func(ctx context.Context) error {
		return benchCheckMessage(rc.sendMessage(ctx, benchAgentID, benchSendRequest()))
	}
}

// benchRetryableDefaultSender sends through retryablehttp.NewClient() with its
// defaults, Logger nil.
func benchRetryableDefaultSender(tb testing.TB, srv *benchServer) benchSender {
	rh := retryablehttp.NewClient()
	rh.Logger = nil
	tb.Cleanup(rh.HTTPClient.CloseIdleConnections)
	auth := "Bearer " + benchToken
	return func(ctx context.Context) error {
		buf, err := json.Marshal(benchSendRequest())
		if err != nil {
			return err
		}
		req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, srv.baseURL+"agents/"+url.PathEscape(benchAgentID)+"/message", buf)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", auth)
		req.Header.Set("User-Agent", defaultUserAgent)
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", uuid.New())
		msg := new(Message)
		err = benchRawDo(func(*http.Request) (*http.Response, error) { return rh.Do(req) }, req.Request, http.StatusCreated, msg)
		return benchCheckMessage(msg, err)
	}
}

// BenchmarkSendMessage: one call at a time. Target: sdk ≤ 1.10× raw ns/op
// and ≤ raw + 25 allocs/op.
//
// go test runs each sub-benchmark -count times in a row (all sdk runs, then
// all raw runs), so a change in machine load between the two skews their
// ratio. "paired" measures both in the same loop, alternating blocks of
// calls, and reports sdk-ns/call, raw-ns/call and their ratio (its ns/op,
// B/op and allocs/op are per pair of calls).
func BenchmarkSendMessage(b *testing.B) {
	srv := newBenchServer(b, benchAPI())
	sdk := newBenchSDK(b, srv)
	sides := [2]benchSender{benchSDKSender(sdk), benchRawSender(newBenchRawClient(b, srv))}
	benchSequential(b, map[string]func(context.Context) error{
		"sdk": sides[0],
		"raw": sides[1],
		// One per-call option: what it costs over "sdk" (target: +2 allocs).
		"sdk+option": func(ctx context.Context) error {
			m, _, err := sdk.Agents.SendMessage(ctx, benchAgentID, benchSendRequest(), WithMaxRetries(2))
			return benchCheckMessage(m, err)
		},
	})
	b.Run("paired", func(b *testing.B) {
		ctx := context.Background()
		const block = 16
		var took [2]time.Duration
		for i := 0; i < b.N; i += block {
			n := min(block, b.N-i)
			for k := range 2 {
				side := (k + i/block) % 2 // each side goes first every other block
				start := time.Now()
				for range n {
					if err := sides[side](ctx); err != nil {
						b.Fatal(err)
					}
				}
				took[side] += time.Since(start)
			}
		}
		b.ReportMetric(float64(took[0].Nanoseconds())/float64(b.N), "sdk-ns/call")
		b.ReportMetric(float64(took[1].Nanoseconds())/float64(b.N), "raw-ns/call")
		b.ReportMetric(took[0].Seconds()/took[1].Seconds(), "ratio")
	})
}

const benchWarmUp = 500 // calls per side before measuring

// benchSequential runs each side as a sub-benchmark ("sdk" first), one
// call per iteration. Both sides first make benchWarmUp calls, which check
// the wiring and keep the process's own warm-up (heap growth, first GC
// cycles, cold caches) from landing on whichever side runs first.
func benchSequential(b *testing.B, sides map[string]func(context.Context) error) {
	ctx := context.Background()
	for range benchWarmUp {
		for _, call := range sides {
			if err := call(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, name := range []string{"sdk", "raw", "sdk+option"} {
		call, ok := sides[name]
		if !ok {
			continue
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := call(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchMemTransport answers every request in memory, with the bytes and
// headers benchAnswer sends, after reading the request body.
type benchMemTransport struct {
	status int
	body   []byte
	header http.Header
}

func newBenchMemTransport(status int, body []byte) *benchMemTransport {
	rec := httptest.NewRecorder()
	benchAnswer(rec, status, body)
	return &benchMemTransport{status: status, body: body, header: rec.Result().Header}
}

func (t *benchMemTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		_ = req.Body.Close()
	}
	return &http.Response{
		StatusCode: t.status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: t.header.Clone(), Body: io.NopCloser(bytes.NewReader(t.body)),
		ContentLength: int64(len(t.body)), Request: req,
	}, nil
}

// BenchmarkClientOverhead is BenchmarkSendMessage without the network or
// the server: both sides send through an in-memory transport, so ns/op,
// B/op and allocs/op are the client's own work alone. No target: it shows
// what the SDK adds in CPU, which over a real connection is lost in the
// noise of syscalls and scheduling.
func BenchmarkClientOverhead(b *testing.B) {
	mem := newBenchMemTransport(http.StatusCreated, benchMessageJSON)
	const base = "http://botonom.invalid/v1/"
	c, err := NewClient(benchToken, WithBaseURL(base), WithHTTPClient(&http.Client{Transport: mem}))
	if err != nil {
		b.Fatal(err)
	}
	rc := &benchRawClient{hc: &http.Client{Transport: mem}, base: base, auth: "Bearer " + benchToken}
	benchSequential(b, map[string]func(context.Context) error{"sdk": benchSDKSender(c), "raw": benchRawSender(rc)})
}

// BenchmarkAgentsGet: one GET decoding a typical agent, sdk and raw.
func BenchmarkAgentsGet(b *testing.B) {
	srv := newBenchServer(b, benchAPI())
	c := newBenchSDK(b, srv)
	rc := newBenchRawClient(b, srv)
	check := func(a *Agent, err error) error {
		if err != nil {
			return err
		}
		if a.ID != benchAgentID || len(a.Skills) != 2 {
			return fmt.Errorf("unexpected agent %+v", a)
		}
		return nil
	}
	benchSequential(b, map[string]func(context.Context) error{
		"sdk": func(ctx context.Context) error { a, _, err := c.Agents.Get(ctx, benchAgentID); return check(a, err) },
		"raw": func(ctx context.Context) error { return check(rc.getAgent(ctx, benchAgentID)) },
	})
}

const (
	benchConcurrentGoroutines = 64
	benchConcurrentCalls      = 100 // per goroutine
	benchConcurrentMinRounds  = 7   // at least 5; odd, so the median is one round
)

// benchRunConcurrent makes goroutines × calls sends and returns the wall time.
func benchRunConcurrent(send benchSender, goroutines, calls int) (time.Duration, error) {
	ctx := context.Background()
	var wg sync.WaitGroup
	var firstErr atomic.Pointer[error]
	start := time.Now()
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range calls {
				if err := send(ctx); err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if p := firstErr.Load(); p != nil {
		return took, *p
	}
	return took, nil
}

// BenchmarkConcurrentSend: 64 goroutines × 100 sends per run. Each
// sub-benchmark runs max(b.N, 7) rounds; a round is one run of the measured
// side and one of raw, the order alternating between rounds, against one
// server. Each side has its own client (and pool) for the whole benchmark,
// so its first run starts with a cold pool. Metrics:
//
//	ratio          median over rounds of (side calls/s) ÷ (raw calls/s); target ≥ 0.90
//	calls/s        the side's throughput (median round)
//	conns/run      most new TCP connections the side opened in one run; target ≤ 128
//	raw-conns/run  the same for raw
//	ns/op, B/op, allocs/op   per call of the side (B and allocs include the
//	                         in-process server's share; ReadMemStats around the side's runs)
func BenchmarkConcurrentSend(b *testing.B) {
	for _, side := range []struct {
		name string
		make func(b *testing.B, srv *benchServer) benchSender
	}{
		{"sdk", func(b *testing.B, srv *benchServer) benchSender { return benchSDKSender(newBenchSDK(b, srv)) }},
		{"retryablehttp-default", func(b *testing.B, srv *benchServer) benchSender { return benchRetryableDefaultSender(b, srv) }},
	} {
		b.Run(side.name, func(b *testing.B) {
			srv := newBenchServer(b, benchAPI())
			sides := [2]benchSender{side.make(b, srv), benchRawSender(newBenchRawClient(b, srv))}
			rounds := max(b.N, benchConcurrentMinRounds)
			calls := benchConcurrentGoroutines * benchConcurrentCalls
			var ratios, rates []float64
			var conns [2]int64
			var sideTime time.Duration
			var sideMallocs, sideBytes uint64
			var ms runtime.MemStats
			b.ResetTimer()
			for r := range rounds {
				var took [2]time.Duration
				for k := range 2 {
					i := k
					if r%2 == 1 {
						i = 1 - k // raw first on odd rounds
					}
					// Each run starts with a collected heap, so that no
					// side pays for the other's garbage.
					runtime.GC()
					before := srv.newConns.Load()
					if i == 0 {
						runtime.ReadMemStats(&ms)
						sideMallocs -= ms.Mallocs
						sideBytes -= ms.TotalAlloc
					}
					d, err := benchRunConcurrent(sides[i], benchConcurrentGoroutines, benchConcurrentCalls)
					if err != nil {
						b.Fatal(err)
					}
					if i == 0 {
						runtime.ReadMemStats(&ms)
						sideMallocs += ms.Mallocs
						sideBytes += ms.TotalAlloc
					}
					conns[i] = max(conns[i], srv.newConns.Load()-before)
					took[i] = d
				}
				sideTime += took[0]
				rates = append(rates, float64(calls)/took[0].Seconds())
				ratios = append(ratios, took[1].Seconds()/took[0].Seconds())
			}
			b.StopTimer()
			n := float64(rounds * calls)
			b.ReportMetric(float64(sideTime.Nanoseconds())/n, "ns/op")
			b.ReportMetric(float64(sideBytes)/n, "B/op")
			b.ReportMetric(float64(sideMallocs)/n, "allocs/op")
			b.ReportMetric(benchMedian(rates), "calls/s")
			b.ReportMetric(benchMedian(ratios), "ratio")
			b.ReportMetric(float64(conns[0]), "conns/run")
			b.ReportMetric(float64(conns[1]), "raw-conns/run")
		})
	}
}

func benchMedian(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

const (
	benchListPages    = 100
	benchListPageSize = 100
)

// benchListServer serves 10,000 agents in 100 pages of 100. The pages are
// encoded once up front so the benchmark measures the client.
func benchListServer(tb testing.TB) *benchServer {
	pages := make([][]byte, benchListPages)
	for p := range pages {
		var buf bytes.Buffer
		buf.WriteString(`{"data":[`)
		for i := range benchListPageSize {
			if i > 0 {
				buf.WriteByte(',')
			}
			fmt.Fprintf(&buf, `{"id":"agt_%05d","name":"Reservations","description":"Books restaurant tables","status":"online","skills":["calendar","booking"],"created_at":"2026-01-05T09:00:00Z","updated_at":"2026-02-18T14:30:00Z"}`, p*benchListPageSize+i)
		}
		if p < benchListPages-1 {
			fmt.Fprintf(&buf, `],"has_more":true,"next_cursor":"c%d"}`, p+1)
		} else {
			buf.WriteString(`],"has_more":false,"next_cursor":""}`)
		}
		pages[p] = buf.Bytes()
	}
	return newBenchServer(tb, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		p := 0
		if c := q.Get("cursor"); c != "" {
			p, _ = strconv.Atoi(strings.TrimPrefix(c, "c"))
		}
		if r.URL.Path != "/v1/agents" || q.Get("limit") != strconv.Itoa(benchListPageSize) || p < 0 || p >= benchListPages {
			benchAnswer(w, http.StatusBadRequest, []byte(`{"error":{"type":"invalid_request_error"}}`))
			return
		}
		benchAnswer(w, http.StatusOK, pages[p])
	}))
}

// benchListAll walks every agent; keep collects them into a slice (the
// baseline). When sample is true it forces a GC at the end of each page and
// returns the peak of HeapInuse above what it was before the walk: after a
// GC, HeapInuse is the live heap, not garbage waiting for the collector.
func benchListAll(ctx context.Context, c *Client, keep, sample bool) (n int, peak int64, err error) {
	var ms runtime.MemStats
	var base int64
	if sample {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		base = int64(ms.HeapInuse)
	}
	var all []*Agent
	opts := &ListAgentsOptions{ListOptions: ListOptions{Limit: benchListPageSize}}
	for a, err := range c.Agents.ListAll(ctx, opts) {
		if err != nil {
			return n, peak, err
		}
		if keep {
			all = append(all, a)
		}
		n++
		if sample && n%benchListPageSize == 0 {
			// The page being yielded is still held by the iterator here.
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, int64(ms.HeapInuse)-base)
		}
	}
	runtime.KeepAlive(all)
	return n, peak, nil
}

// BenchmarkListAll10k walks 10,000 agents in 100 pages with ListAll:
// "iter" uses each agent and drops it, "collect" (the baseline) keeps them
// all in a slice. peak-heap-B is the most live heap above the starting
// point seen at any page boundary, measured in one extra untimed walk:
// bounded by a page for iter, by the total for collect.
func BenchmarkListAll10k(b *testing.B) {
	srv := benchListServer(b)
	c := newBenchSDK(b, srv)
	ctx := context.Background()
	for _, side := range []struct {
		name string
		keep bool
	}{{"iter", false}, {"collect", true}} {
		b.Run(side.name, func(b *testing.B) {
			n, peak, err := benchListAll(ctx, c, side.keep, true)
			if err != nil || n != benchListPages*benchListPageSize {
				b.Fatalf("walked %d agents: %v", n, err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := benchListAll(ctx, c, side.keep, false); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(peak), "peak-heap-B")
		})
	}
}

// TestSendMessage_ReusesConnectionsUnderConcurrency: 16 goroutines × 50
// sends through the SDK's default transport open at most 32 TCP
// connections. With a pool at least as large as the concurrency, each
// goroutine needs one connection, plus at most one more while its previous
// one is still on its way back to the pool; a pool of GOMAXPROCS+1 would
// open hundreds.
func TestSendMessage_ReusesConnectionsUnderConcurrency(t *testing.T) {
	const goroutines, calls, maxConns = 16, 50, 32
	srv := newBenchServer(t, benchAPI())
	c := newBenchSDK(t, srv)
	if _, err := benchRunConcurrent(benchSDKSender(c), goroutines, calls); err != nil {
		t.Fatal(err)
	}
	if n := srv.newConns.Load(); n > maxConns {
		t.Errorf("%d goroutines × %d sends opened %d connections, want ≤ %d", goroutines, calls, n, maxConns)
	} else {
		t.Logf("%d goroutines × %d sends opened %d connections", goroutines, calls, n)
	}
}

// The optimisations above change how a request body reaches each attempt
// (see rewindBody); this pins down that every attempt still sends all of it.
func TestRetry_EveryAttemptSendsTheWholeBody(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	srv := newBenchServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		n := len(bodies)
		mu.Unlock()
		if n%3 != 0 { // two 503s, then a success
			benchAnswer(w, http.StatusServiceUnavailable, nil)
			return
		}
		benchAnswer(w, http.StatusCreated, benchMessageJSON)
	}))
	c, err := NewClient(benchToken, WithBaseURL(srv.baseURL), WithRetryWait(time.Millisecond, 2*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const want = `{"content":"hi"}`
	for name, send := range map[string]func() error{
		"SendMessage": func() error {
			_, _, err := c.Agents.SendMessage(ctx, "agt_1", &SendMessageRequest{Content: "hi"})
			return err
		},
		"Do after the caller read the body": func() error {
			req, err := c.NewRequest(ctx, http.MethodPost, "agents/agt_1/message", &SendMessageRequest{Content: "hi"})
			if err != nil {
				return err
			}
			if b, _ := io.ReadAll(req.Body); string(b) != want {
				return fmt.Errorf("NewRequest body %q", b)
			}
			_, err = c.Do(req, nil)
			return err
		},
		"Do with a body without GetBody": func() error {
			req, err := http.NewRequestWithContext(ctx, http.MethodPut, srv.baseURL+"agents/agt_1/skills", io.NopCloser(strings.NewReader(want)))
			if err != nil {
				return err
			}
			_, err = c.Do(req, nil)
			return err
		},
	} {
		mu.Lock()
		bodies = nil
		mu.Unlock()
		if err := send(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		mu.Lock()
		if len(bodies) != 3 {
			t.Errorf("%s: %d attempts, want 3", name, len(bodies))
		}
		for i, b := range bodies {
			if b != want {
				t.Errorf("%s: attempt %d sent %q, want %q", name, i, b, want)
			}
		}
		mu.Unlock()
	}

	req, err := c.NewRequest(ctx, http.MethodPost, "agents/agt_1/message", &SendMessageRequest{Content: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	req.GetBody = func() (io.ReadCloser, error) { return nil, errors.New("no body today") }
	mu.Lock()
	bodies = nil
	mu.Unlock()
	if _, err := c.Do(req, nil); err == nil || !strings.Contains(err.Error(), "no body today") {
		t.Errorf("Do with a failing GetBody: %v", err)
	}
	if len(bodies) != 0 {
		t.Errorf("Do with a failing GetBody sent %d requests", len(bodies))
	}
}
