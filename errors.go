package botonom

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/botonom/botonom-go/internal/capped"
)

// Sentinel errors matched with errors.Is against any error the client returns
// for a non-2xx answer:
//
//	if errors.Is(err, botonom.ErrNotFound) { ... }
var (
	ErrBadRequest   = errors.New("botonom: bad request")  // 400
	ErrUnauthorized = errors.New("botonom: unauthorized") // 401
	ErrForbidden    = errors.New("botonom: forbidden")    // 403
	ErrNotFound     = errors.New("botonom: not found")    // 404
	ErrRateLimited  = errors.New("botonom: rate limited") // 429, or the client-side wait refused
	ErrServer       = errors.New("botonom: server error") // 5xx
)

// ErrInvalidArgument matches (errors.Is) every error for bad input that
// the client refused before sending anything: an empty or dot-segment ID,
// a nil request, empty content, a limit outside 1–100, an unknown event
// name, a bad idempotency key… The error's text names the field.
var ErrInvalidArgument = errors.New("botonom: invalid argument")

// argError is a bad-input error; it matches ErrInvalidArgument.
type argError struct{ msg string }

func (e *argError) Error() string        { return e.msg }
func (e *argError) Is(target error) bool { return target == ErrInvalidArgument }

// invalidArgf returns a bad-input error "botonom: <formatted text>".
func invalidArgf(format string, args ...any) error {
	return &argError{msg: "botonom: " + fmt.Sprintf(format, args...)}
}

// ErrResponseTooLarge matches (errors.Is) the error for a success body
// larger than the client's cap (WithMaxResponseSize); the client stopped
// reading at the cap.
var ErrResponseTooLarge = capped.ErrTooLarge

// maxErrorBodySize is the most the client reads of a non-2xx body (1 MiB).
const maxErrorBodySize = 1 << 20

// APIError is the error for every non-2xx answer of the API. Its fields come
// from the JSON error body when there is one; StatusCode and RequestID are
// set even when the body is missing, empty, HTML or cut short.
type APIError struct {
	StatusCode int    // HTTP status of the answer
	Type       string // e.g. "invalid_request_error"
	Code       string // e.g. "missing_field"
	Message    string // human-readable, from the API
	Param      string // the request field at fault, if any
	RequestID  string // X-Request-Id of the answer: quote it to support
	Attempts   int    // requests sent: attempts, retries and redirect hops included (0 when nothing was sent)
}

// Error formats the error as "botonom: 400 invalid_request_error/missing_field:
// content is required (param content, request req_1)". What the server
// sent is shown safely: each field cut at 1 KiB (with "…"), and characters
// that are not printable (newlines, terminal escapes) written as Go
// escapes ("\n", "\x1b").
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("botonom:")
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, " %d", e.StatusCode)
	}
	if e.Type != "" {
		b.WriteByte(' ')
		writeServerText(&b, e.Type)
		if e.Code != "" {
			b.WriteByte('/')
			writeServerText(&b, e.Code)
		}
	} else if text := http.StatusText(e.StatusCode); text != "" {
		b.WriteString(" " + strings.ToLower(text))
	}
	if e.Message != "" {
		if b.Len() > len("botonom:") {
			b.WriteByte(':')
		}
		b.WriteByte(' ')
		writeServerText(&b, e.Message)
	}
	sep := " ("
	extra := func(label, value string) {
		b.WriteString(sep + label)
		writeServerText(&b, value)
		sep = ", "
	}
	if e.Param != "" {
		extra("param ", e.Param)
	}
	if e.RequestID != "" {
		extra("request ", e.RequestID)
	}
	if e.Attempts > 1 {
		extra("", fmt.Sprintf("after %d attempts", e.Attempts))
	}
	if sep == ", " {
		b.WriteByte(')')
	}
	return b.String()
}

// requestRef is " (request ID)" for an error's text, with the ID written
// as server text; "" when the answer carried no request ID.
func requestRef(id string) string {
	if id == "" {
		return ""
	}
	var b strings.Builder
	b.WriteString(" (request ")
	writeServerText(&b, id)
	b.WriteByte(')')
	return b.String()
}

// maxErrorText is the most of one server-sent field an error's text shows.
const maxErrorText = 1 << 10

// writeServerText writes s, text from the server, to b: at most
// maxErrorText bytes of it, then "…", with every character that is not
// printable written as its Go escape, so that an error printed to a
// terminal or a log line shows what the server sent and nothing else.
func writeServerText(b *strings.Builder, s string) {
	start := b.Len()
	for _, r := range s {
		if b.Len()-start >= maxErrorText {
			b.WriteString("…")
			return
		}
		if strconv.IsPrint(r) {
			b.WriteRune(r)
			continue
		}
		q := strconv.QuoteRune(r)
		b.WriteString(q[1 : len(q)-1])
	}
}

// Is reports whether target is the sentinel for e's status code, so that
// errors.Is(err, ErrNotFound) holds for any 404.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrBadRequest:
		return e.StatusCode == http.StatusBadRequest
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrRateLimited:
		return e.StatusCode == http.StatusTooManyRequests
	case ErrServer:
		return e.StatusCode >= 500
	}
	return false
}

// RateLimitError is the error for a 429 answer, and for a call the client
// refused to send because the rate limit is spent and the wait would be
// longer than allowed (see WithMaxRetryWait and WithRateLimitWait). Reach it
// with errors.As; errors.Is(err, ErrRateLimited) also holds.
type RateLimitError struct {
	*APIError
	Rate       Rate          // the rate-limit state of the answer
	RetryAfter time.Duration // how long the API asked to wait; 0 if it did not say
}

// Error adds the wait the API asked for to the APIError text, unless the
// API's message says it already:
//
//	botonom: 429 rate_limit_error: slow down (request req_1); retry after 30s
//	botonom: 429 rate_limit_error: rate limit of 100 requests per 1m0s exceeded; retry after 1 s (request req_1)
func (e *RateLimitError) Error() string {
	if e.RetryAfter > 0 && !strings.Contains(strings.ToLower(e.Message), "retry after") {
		return fmt.Sprintf("%s; retry after %s", e.APIError.Error(), e.RetryAfter)
	}
	return e.APIError.Error()
}

// Unwrap returns the embedded *APIError, so errors.As(err, &apiErr) works for
// rate-limit errors too.
func (e *RateLimitError) Unwrap() error { return e.APIError }

// errorBody is the JSON shape of an error answer, {"error": {"type": …,
// "code": …, "message": …, "param": …}}; each field is decoded on its own,
// so that one of another type (a gateway's numeric "code") loses only
// itself.
type errorBody struct {
	Error map[string]json.RawMessage `json:"error"`
}

// requestID is resp's X-Request-Id, without the request's token, should
// the server echo it there.
func requestID(resp *http.Response) string {
	id := headerValue(resp.Header, headerRequestID)
	if id != "" && resp.Request != nil {
		id = hideToken(id, requestToken(resp.Request))
	}
	return id
}

// checkResponse returns nil for a 2xx answer and otherwise the typed error
// for it. It decides from the status and headers alone, then reads at most
// maxErrorBodySize bytes of the body for the details; a body that is
// missing, empty, not JSON or cut off leaves those details empty. clock
// turns a 429's rate-limit headers into a wait; it is read for a 429 only.
func checkResponse(resp *http.Response, clock func() time.Time) error {
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return nil
	}
	apiErr := &APIError{StatusCode: resp.StatusCode, RequestID: resp.Header.Get(headerRequestID)}
	if resp.Body != nil {
		// A read error leaves a prefix that does not decode: no details.
		data, _, _ := capped.ReadAll(resp.Body, maxErrorBodySize)
		var body errorBody
		if json.Unmarshal(data, &body) == nil {
			for name, field := range map[string]*string{
				"type": &apiErr.Type, "code": &apiErr.Code, "message": &apiErr.Message, "param": &apiErr.Param,
			} {
				if raw, ok := body.Error[name]; ok {
					_ = json.Unmarshal(raw, field) // another type leaves the field empty
				}
			}
		}
	}
	if resp.Request != nil {
		// A server or gateway that echoes the request's token back (in
		// a message quoting the header, say) does not put it in the error.
		if token := requestToken(resp.Request); token != "" {
			for _, field := range []*string{&apiErr.Type, &apiErr.Code, &apiErr.Message, &apiErr.Param, &apiErr.RequestID} {
				*field = hideToken(*field, token)
			}
		}
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		if apiErr.Type == "" {
			apiErr.Type = "rate_limit_error"
		}
		rate, _ := parseRate(resp.Header)
		wait, _ := serverWait(resp, clock())
		return &RateLimitError{APIError: apiErr, Rate: rate, RetryAfter: wait}
	}
	return apiErr
}
