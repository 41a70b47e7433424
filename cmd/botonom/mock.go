package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	botonom "github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/botonomtest"
)

const mockUsage = `Usage: botonom mock [--addr 127.0.0.1:12111] [--token T] [--agents FILE.json] [--rate-limit N/min] [--latency D]

Serves the fake Botonom API of package botonomtest (every endpoint, with the
API's validation, errors, rate-limit headers and pagination) until
interrupted, and logs one line per request to stderr: method, path, status
and request ID. It starts with three sample agents (agt_abc123, agt_def456,
agt_ghi789) unless --agents gives a JSON array of agents in the API's shape.
Everything is kept in memory and lost on exit.

The export line it prints also sets BOTONOM_WEBHOOK_SECRET to the test
secret ` + defaultTestSecret + `, the one "botonom trigger"
signs with by default: a handler started from that shell verifies them.
On Ctrl-C or SIGTERM it stops within a second, whatever its clients do.

--addr 127.0.0.1:0 picks a free port; the address is printed on startup.
--rate-limit takes N/min, N/s or N/h (a bare N is per minute).
--latency 300ms delays every answer by that long. For a POST with an
Idempotency-Key it is the processing time, which goes on when the client
gives up: a retry with the same key meanwhile gets 409 conflict_error
idempotency_key_in_use, and once the first is done, its answer replayed.
`

// defaultMockAddr is where the mock listens without --addr.
const defaultMockAddr = "127.0.0.1:12111"

func runMock(c *cli, args []string) int {
	fs := newFlagSet("mock")
	addr := fs.String("addr", defaultMockAddr, "`host:port` to listen on (port 0 picks a free one)")
	token := fs.String("token", botonomtest.Token, "the API `token` the mock accepts")
	agentsFile := fs.String("agents", "", "JSON `file` with the agents to serve instead of the samples")
	rateLimit := fs.String("rate-limit", "", "rate limit, `N/min` (also N/s, N/h; default 1000/min)")
	latency := fs.Duration("latency", 0, "delay every answer by `D` (such as 300ms); for a keyed POST, its processing time")
	if _, code, ok := c.parse(fs, mockUsage, args, nil, 0); !ok {
		return code
	}
	if _, _, err := net.SplitHostPort(*addr); err != nil {
		return c.usageError(fs, fmt.Errorf("--addr %q: want host:port, such as 127.0.0.1:12111 (port 0 picks a free one)", *addr))
	}
	if strings.TrimSpace(*token) == "" || strings.ContainsAny(*token, " \t\r\n") {
		return c.usageError(fs, fmt.Errorf("--token %q is not a usable token", *token))
	}

	logger := log.New(c.stderr, "", log.Ltime|log.Lmicroseconds)
	opts := []botonomtest.Option{
		botonomtest.WithAddr(*addr),
		botonomtest.WithToken(*token),
		botonomtest.WithRequestHook(func(r botonomtest.Request) { logRequest(logger, r) }),
	}
	if *rateLimit != "" {
		limit, window, err := parseRateLimit(*rateLimit)
		if err != nil {
			return c.usageError(fs, err)
		}
		opts = append(opts, botonomtest.WithRateLimit(limit, window))
	}
	if *latency < 0 {
		return c.usageError(fs, fmt.Errorf("--latency %s: want a duration of 0 or more, such as 300ms", *latency))
	}
	if *latency > 0 {
		opts = append(opts, botonomtest.WithLatency(*latency))
	}
	if *agentsFile != "" {
		agents, err := loadAgents(c, *agentsFile)
		if err != nil {
			return c.fail(err)
		}
		opts = append(opts, botonomtest.WithAgents(agents...))
	}

	srv, err := botonomtest.Start(opts...)
	if err != nil {
		var opErr *net.OpError
		if !errors.As(err, &opErr) && *agentsFile != "" { // the server refused the agents
			fmt.Fprintf(c.stderr, "botonom mock: --agents %s: %s\n", *agentsFile, strings.TrimPrefix(err.Error(), "botonomtest: Start: WithAgents: "))
			return exitFailure
		}
		return c.listenFailed(*addr, err)
	}

	base := reachableURL(srv.URL())
	var names []string
	for _, a := range srv.Agents() {
		names = append(names, fmt.Sprintf("%s (%s, %s)", a.ID, a.Name, a.Status))
	}
	if len(names) == 0 {
		names = append(names, "none")
	}
	fmt.Fprintf(c.stdout, `Botonom mock API listening on %s
  token:  %s
  agents: %s
  webhook test secret: %s
Point the SDK or this command (and a local webhook handler) at it with:
  export BOTONOM_BASE_URL=%s BOTONOM_API_TOKEN=%s %s=%s
Requests are logged to stderr; press Ctrl-C to stop.
`, base, *token, strings.Join(names, ", "), defaultTestSecret, base, *token, secretEnv, defaultTestSecret)

	<-c.ctx.Done()
	fmt.Fprintln(c.stderr, "botonom mock: shutting down")
	srv.Close() // bounded: requests still in flight are cut short
	return exitOK
}

// listenFailed reports that the mock could not start: the system's reason
// (not the layers of the package that tried), and a way out when the port
// is taken.
func (c *cli) listenFailed(addr string, err error) int {
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Err != nil {
		err = opErr.Err
		var sysErr *os.SyscallError
		if errors.As(err, &sysErr) {
			err = sysErr.Err
		}
	}
	fmt.Fprintf(c.stderr, "botonom mock: cannot listen on %s: %v\n", addr, err)
	if errors.Is(err, syscall.EADDRINUSE) {
		fmt.Fprintln(c.stderr, "hint: another program (another botonom mock?) uses that port: stop it, or try --addr 127.0.0.1:0 for a free port")
	}
	return exitFailure
}

// logRequest writes one line per request: never a header, so never the
// token.
func logRequest(l *log.Logger, r botonomtest.Request) {
	status := "---" // the connection was closed without an answer
	if r.Status != 0 {
		status = strconv.Itoa(r.Status)
	}
	reqID := r.RequestID
	if reqID == "" {
		reqID = "-"
	}
	l.Printf("%s %s %s %s", r.Method, r.EscapedPath, status, reqID)
}

// reachableURL turns a URL on an unspecified address (":12111" listens on
// every interface) into one a client can dial: the loopback address.
func reachableURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsUnspecified() {
		u.Host = net.JoinHostPort("127.0.0.1", u.Port())
	}
	return u.String()
}

// parseRateLimit parses "N/min", "N/s", "N/h" or a bare "N" (per minute).
func parseRateLimit(s string) (int, time.Duration, error) {
	n, unit, _ := strings.Cut(strings.TrimSpace(s), "/")
	window := time.Minute
	switch strings.ToLower(strings.TrimSpace(unit)) {
	case "", "m", "min", "minute":
	case "s", "sec", "second":
		window = time.Second
	case "h", "hour":
		window = time.Hour
	default:
		return 0, 0, fmt.Errorf("--rate-limit %q: the unit must be /s, /min or /h", s)
	}
	limit, err := strconv.Atoi(strings.TrimSpace(n))
	if err != nil || limit <= 0 {
		return 0, 0, fmt.Errorf("--rate-limit %q: want a positive number of requests, such as 100/min", s)
	}
	return limit, window, nil
}

// loadAgents reads agents in the API's shape: a JSON array of agents, or a
// list answer of GET /agents ({"data": [...]}) saved from the API. Unknown
// fields are an error, to catch typos.
func loadAgents(c *cli, path string) ([]*botonom.Agent, error) {
	b, err := c.readInput(path)
	if err != nil {
		return nil, fmt.Errorf("--agents: %w", err)
	}
	b = bytes.TrimSpace(b)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var agents []*botonom.Agent
	if bytes.HasPrefix(b, []byte("{")) {
		var list struct {
			Data       []*botonom.Agent `json:"data"`
			HasMore    bool             `json:"has_more"`
			NextCursor string           `json:"next_cursor"`
		}
		err = dec.Decode(&list)
		agents = list.Data
	} else {
		err = dec.Decode(&agents)
	}
	if err != nil {
		return nil, fmt.Errorf("--agents %s: want a JSON array of agents: %w", path, err)
	}
	for i, a := range agents {
		if a == nil {
			return nil, fmt.Errorf("--agents %s: agent %d is null", path, i)
		}
	}
	if dec.More() {
		return nil, errors.New("--agents " + path + ": more than one JSON value")
	}
	return agents, nil
}
