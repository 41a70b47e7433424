package botonom

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/google/go-querystring/query"
	"github.com/hashicorp/go-retryablehttp"

	"github.com/botonom/botonom-go/internal/capped"
	"github.com/botonom/botonom-go/internal/uuid"
)

// NewRequest builds an API request. path is relative to the base URL (no
// leading slash: "agents/agt_1"); body, if not nil, is sent as JSON. Every
// POST gets an Idempotency-Key, a new random UUID, reused by every retry
// of the call (give Do WithIdempotencyKey to choose it).
func (c *Client) NewRequest(ctx context.Context, method, path string, body any) (*http.Request, error) {
	return c.newRequest(ctx, c.cfg, method, path, body, nil)
}

// newRequest is NewRequest with the call's config; with info (from call),
// the request's context is info around ctx, ready for do.
func (c *Client) newRequest(ctx context.Context, cfg *config, method, path string, body any, info *callInfo) (*http.Request, error) {
	if strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("botonom: path %q must be relative to the base URL (no leading slash)", path)
	}
	if err := checkIdempotencyKey(cfg, method, path); err != nil {
		return nil, err
	}
	var rd io.Reader
	if body != nil {
		buf, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("botonom: encode request body: %w", err)
		}
		rd = bytes.NewReader(buf)
	}
	if ctx == nil {
		return nil, invalidArgf("nil context")
	}
	if info != nil {
		info.Context = ctx
		ctx = info
	}
	req, err := http.NewRequestWithContext(ctx, method, cfg.baseURL+path, rd)
	if err != nil {
		return nil, fmt.Errorf("botonom: %w", err)
	}
	// The header values share one backing array: one allocation, not one
	// per header. Each is its own full slice (len = cap = 1), so appending
	// to one (Header.Add) copies rather than overwriting its neighbour, and
	// none is shared with another request: the caller, a middleware or a
	// custom transport may change this request's headers freely.
	vals := make([]string, 0, 5)
	set := func(key, value string) {
		vals = append(vals, value)
		req.Header[key] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	set("Authorization", cfg.authorization())
	set("User-Agent", cfg.userAgent)
	set("Accept", "application/json")
	if body != nil {
		set("Content-Type", "application/json")
	}
	if method == http.MethodPost {
		key := cfg.idempotencyKey
		if key == "" {
			key = uuid.New()
		}
		set(headerIdempotencyKey, key)
	}
	addHeaders(req.Header, cfg.headers)
	return req, nil
}

// checkIdempotencyKey refuses a call's WithIdempotencyKey on a request
// that is not a POST.
func checkIdempotencyKey(cfg *config, method, path string) error {
	if cfg.idempotencyKey != "" && method != http.MethodPost {
		return invalidArgf("WithIdempotencyKey: %s %s is not a POST", method, path)
	}
	return nil
}

// addHeaders sets the WithHeader headers on h, in order: a call's own
// come after the client's and win.
func addHeaders(h http.Header, headers []header) {
	for _, kv := range headers {
		h[kv.key] = []string{kv.value}
	}
}

// Do sends req (built by NewRequest, or by hand with the same headers),
// retrying as the client's policy allows, and decodes a 2xx JSON answer
// into v, which must be a non-nil pointer, or nil to discard the body
// (anything else is an error matching ErrInvalidArgument, and nothing is
// sent); a 2xx with no body (a 204, say) leaves v untouched.
// Any non-2xx answer is returned as *APIError or *RateLimitError, together
// with the Response. opts apply to this call only, as for the endpoint
// methods. Do is the escape hatch for endpoints the SDK does not wrap yet.
func (c *Client) Do(req *http.Request, v any, opts ...Option) (*Response, error) {
	if req == nil || req.URL == nil {
		return nil, invalidArgf("Do: nil request")
	}
	if rv := reflect.ValueOf(v); v != nil && (rv.Kind() != reflect.Pointer || rv.IsNil()) {
		return nil, invalidArgf("Do: v is %T, not a non-nil pointer (nil discards the body)", v)
	}
	cfg, err := c.callConfig("Do", opts)
	if err != nil {
		return nil, err
	}
	info := &callInfo{Context: req.Context(), cfg: cfg, call: Call{Operation: "do", Method: req.Method}, allowEmpty: true}
	if err := checkIdempotencyKey(cfg, req.Method, req.URL.Path); err != nil {
		return nil, err
	}
	req = req.WithContext(info)
	// The caller's request stays as it was: the call's own headers, and
	// forgetting the token at the end, apply to a copy of its header.
	req.Header = req.Header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	if cfg.idempotencyKey != "" {
		req.Header[headerIdempotencyKey] = []string{cfg.idempotencyKey}
	}
	addHeaders(req.Header, cfg.headers)
	if req.GetBody != nil && req.Body != nil && req.Body != http.NoBody {
		// The caller may have read req.Body (to log it, say): the first
		// attempt sends a fresh copy, as every retry does.
		body, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("botonom: %s %s: %w", req.Method, req.URL.Path, err)
		}
		req.Body = body
	}
	return c.do(req, info, v)
}

// callInfo is one call's state: its config, what the retry loop has done
// so far, and scratch space. It travels as the request's context.
//
// It is that context itself: it embeds the call's context and answers
// Value(callInfoKey{}) with itself, one allocation where context.WithValue
// and the value it carries were two. Its last four fields are scratch space
// do would otherwise allocate piece by piece. (A call's cost over
// hand-written net/http is measured, allocations included, in
// bench_test.go.)
type callInfo struct {
	context.Context // the call's: the caller's, or what a CallTrace made of it

	cfg        *config // the client's, or a copy with the call's options
	call       Call
	allowEmpty bool // a 2xx without a body is fine (Do)
	v          any  // where the 2xx body is decoded; nil: nowhere
	decoded    bool // a decode was tried (v must be reset before another)

	retryable   bool           // may be retried after a 5xx or transport error
	keyed       bool           // a POST with an Idempotency-Key
	attempt     int            // the attempt under way, from 0
	deadline    time.Time      // the attempt's, for all its redirect hops (zero: not set yet)
	sent        int            // requests sent so far
	budgetSpent int            // retry-budget tokens this call took
	rate        Rate           // the rate-limit headers of the latest answer
	decision    decision       // decide's, on the latest attempt
	decided     *http.Response // the answer decision is about
	waited      time.Duration  // the waits so far, for a CallTrace

	firstRetryCount [1]string             // X-Botonom-Retry-Count of the first attempt
	rreq            retryablehttp.Request // the request as the retry loop sees it
	body            capped.Reader         // the success body, under the size cap
	shown           http.Request          // the Response's request, without the token
	watch           *bodyWatch            // bounds the answers' bodies (SDK's transport), from a pool
	drain           io.LimitedReader      // what drainAndClose reads of the body
}

type callInfoKey struct{}

// Value makes the callInfo findable from the request's context, and from
// any context derived from it (the per-attempt timeout).
func (info *callInfo) Value(key any) any {
	if _, ok := key.(callInfoKey); ok {
		return info
	}
	return info.Context.Value(key)
}

func callInfoFrom(ctx context.Context) *callInfo {
	info, _ := ctx.Value(callInfoKey{}).(*callInfo)
	return info
}

// do is the life of a call after its request is built: hold back while
// the rate limit is spent, then the retry loop (every attempt through
// transport, every outcome through decide), then the answer: the error
// decide chose, or the decoded 2xx body. The endpoint methods come here
// from call, Do after attaching info to the request.
func (c *Client) do(req *http.Request, info *callInfo, v any) (resp *Response, err error) {
	if len(info.cfg.traces) > 0 {
		info.traceStart()
		defer func() { info.traceEnd(resp, err) }()
	}
	if dst := info.cfg.responseInto; dst != nil {
		defer func() { *dst = resp }()
	}
	if err := info.Err(); err != nil {
		return nil, c.callError(req, info, err) // nothing is sent for a context already done
	}
	info.retryable = retryableRequest(req)
	info.keyed = req.Method == http.MethodPost && headerValue(req.Header, headerIdempotencyKey) != ""
	if err := c.holdForRateLimit(info); err != nil {
		return nil, err
	}
	rreq, err := toRetryable(req, info)
	if err != nil {
		return nil, fmt.Errorf("botonom: %s %s: %w", req.Method, req.URL.Path, err)
	}
	if v != nil {
		info.v = v
		rreq.SetResponseHandler(decodeAnswer)
	}
	defer info.endWatch() // after the last body is closed (defers run last first)
	hresp, err := c.hc.Do(rreq)
	defer forgetToken(hresp, &info.shown) // after the body is closed
	if hresp != nil {
		defer drainAndClose(hresp.Body, &info.drain)
		resp = newResponse(hresp, info.rate)
	}
	if err != nil {
		return resp, c.callError(req, info, err)
	}
	if err := info.decision.err; err != nil {
		return resp, err
	}
	c.budget.succeeded(info)
	return resp, nil
}

// decodeAnswer runs in the retry loop, on the answer the loop would end
// with: it decodes a 2xx body into the call's v there, so that a body that
// fails to arrive whole (cut, reset, timed out: a read of it failed) is a
// failed attempt like a dropped connection — retried under the same rules
// and budget — while one read to its end that is not the expected JSON
// (whatever the decode error: syntax, type, a field's UnmarshalJSON, the
// size cap) is final.
func decodeAnswer(resp *http.Response) error {
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil // decide has turned it into its error
	}
	info := callInfoFrom(resp.Request.Context())
	if info.decoded {
		// A retry after a cut body: nothing of the first may remain.
		rv := reflect.ValueOf(info.v).Elem()
		rv.SetZero()
	}
	info.decoded = true
	info.body = capped.Reader{R: resp.Body, N: info.cfg.maxResponseSize, Limit: info.cfg.maxResponseSize}
	err := json.NewDecoder(&info.body).Decode(info.v)
	if err == nil {
		return nil
	}
	whole := info.body.ReadErr == nil
	switch {
	case err == io.EOF: // no body at all
		if info.allowEmpty {
			return nil
		}
		err = errors.New("empty body")
	case !whole:
		if timedOut := info.bodyTimedOut(); timedOut != nil {
			err = timedOut
		}
	}
	return &decodeError{requestID: requestID(resp), err: err, whole: whole}
}

// decodeError is a 2xx answer whose body did not decode. Whole says it
// was read to its end, or to the size cap, without a failed read:
// repeating the request would not help. Otherwise it was cut short, and
// the attempt failed like a dropped connection.
type decodeError struct {
	requestID string
	err       error
	whole     bool
}

func (e *decodeError) Error() string {
	return fmt.Sprintf("decode response%s: %v", requestRef(e.requestID), e.err)
}

func (e *decodeError) Unwrap() error { return e.err }

// forgetToken replaces the requests the caller can reach from resp
// (resp.Request, and through redirects its Response.Request chain) by
// copies without the token, so that no deep print of a Response shows it.
// Copies, never deletes: net/http's writer of an attempt may still be
// reading that request's header map after its answer came (a server that
// answers before it has read the request), so no map that was sent is
// written. shown is scratch space for the first copy (the call's, in
// callInfo); the copies share the header values, which nothing writes.
func forgetToken(resp *http.Response, shown *http.Request) {
	for ; resp != nil && resp.Request != nil; resp = resp.Request.Response {
		sent := resp.Request
		if shown == nil {
			shown = new(http.Request)
		}
		*shown = *sent
		shown.Header = make(http.Header, len(sent.Header))
		for k, v := range sent.Header {
			if !strings.EqualFold(k, "Authorization") {
				shown.Header[k] = v
			}
		}
		resp.Request, shown = shown, nil
	}
}

// call is the life of one endpoint call: apply its options, build the
// request, send it, decode the answer into a new T. Every endpoint method
// validates its arguments, builds its path, and ends in call.
func call[T any](ctx context.Context, c *Client, op *Call, path string, body any, opts []Option) (*T, *Response, error) {
	cfg, err := c.callConfig(op.Operation, opts)
	if err != nil {
		return nil, nil, err
	}
	info := &callInfo{cfg: cfg, call: *op}
	req, err := c.newRequest(ctx, cfg, op.Method, path, body, info)
	if err != nil {
		return nil, nil, err
	}
	v := new(T)
	resp, err := c.do(req, info, v)
	if err != nil {
		return nil, resp, err
	}
	return v, resp, nil
}

// callError turns what the retry loop returned without an answer into the
// error the caller gets: the SDK's own typed error as is, otherwise the
// transport (or context) error with the operation and attempt count.
func (c *Client) callError(req *http.Request, info *callInfo, err error) error {
	var stop *stopError
	if errors.As(err, &stop) {
		return stop.err
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // its text repeats the whole URL
	}
	if info.sent > 1 {
		return fmt.Errorf("botonom: %s %s (after %d attempts): %w", req.Method, req.URL.Path, info.sent, err)
	}
	return fmt.Errorf("botonom: %s %s: %w", req.Method, req.URL.Path, err)
}

// toRetryable wraps req for the retry loop, in info's scratch space. A body
// with GetBody (every request NewRequest builds) is sent as it is and
// replayed from GetBody by rewindBody before each retry; one without is
// read into memory by retryablehttp to be replayed.
func toRetryable(req *http.Request, info *callInfo) (*retryablehttp.Request, error) {
	if req.GetBody == nil && req.Body != nil && req.Body != http.NoBody {
		return retryablehttp.FromRequest(req)
	}
	info.rreq.Request = req
	return &info.rreq, nil
}

// drainAndClose reads what is left of a body (a little, so the connection
// can be reused) and closes it. lr is scratch space for the limit (the
// call's, in callInfo): io.CopyN would allocate its own.
func drainAndClose(body io.ReadCloser, lr *io.LimitedReader) {
	*lr = io.LimitedReader{R: body, N: 4 << 10}
	_, _ = io.Copy(io.Discard, lr)
	_ = body.Close()
}

// maxIdempotencyKeyLen is the longest Idempotency-Key the API accepts.
const maxIdempotencyKeyLen = 255

// validateIdempotencyKey checks a caller's key: at most 255 visible ASCII
// characters, so it survives as a header unchanged.
func validateIdempotencyKey(key string) error {
	if len(key) > maxIdempotencyKeyLen {
		return invalidArgf("idempotency key is %d bytes, longer than %d", len(key), maxIdempotencyKeyLen)
	}
	for i := 0; i < len(key); i++ {
		if key[i] <= ' ' || key[i] >= 0x7f {
			return invalidArgf("idempotency key has a character that is not visible ASCII at byte %d", i)
		}
	}
	return nil
}

// validateID checks a path parameter: non-blank and not a dot segment,
// which would point the request at another endpoint. Everything else is
// escaped by url.PathEscape.
func validateID(field, id string) error {
	switch strings.TrimSpace(id) {
	case "":
		return invalidArgf("%s is empty", field)
	case ".", "..":
		return invalidArgf("%s %q is not a valid ID", field, id)
	}
	return nil
}

// addQuery encodes opts (a struct with `url` tags, may be nil) as the
// query string of path.
func addQuery(path string, opts any) (string, error) {
	v, err := query.Values(opts)
	if err != nil {
		return "", fmt.Errorf("botonom: encode query: %w", err)
	}
	if len(v) == 0 {
		return path, nil
	}
	setQueryTimes(v, reflect.ValueOf(opts))
	return path + "?" + v.Encode(), nil
}

// setQueryTimes sets in v every non-zero time.Time field of the struct
// (or pointer to one) rv, embedded structs included, as RFC 3339 in UTC
// with the fraction of a second the time has: go-querystring drops the
// fraction, and a task created in the same second as CreatedBefore would
// be missed.
func setQueryTimes(v url.Values, rv reflect.Value) {
	for rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return
	}
	for i := range rv.NumField() {
		f := rv.Type().Field(i)
		switch {
		case f.Anonymous:
			setQueryTimes(v, rv.Field(i))
		case f.IsExported() && f.Type == reflect.TypeFor[time.Time]():
			name, _, _ := strings.Cut(f.Tag.Get("url"), ",")
			if t := rv.Field(i).Interface().(time.Time); name != "" && name != "-" && !t.IsZero() {
				v.Set(name, t.UTC().Format(time.RFC3339Nano))
			}
		}
	}
}
