package botonom

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

var fuzzNow = time.Date(2026, 2, 18, 14, 30, 0, 0, time.UTC)

func fuzzClock() time.Time { return fuzzNow }

// FuzzParseRetryAfter: serverWait (Retry-After, else X-RateLimit-Reset
// against Date) never panics, never answers a negative wait, answers 0
// when it found nothing, and caps delay-seconds at maxUnix seconds; the
// pre-send hold the same headers cause is computed without panicking.
func FuzzParseRetryAfter(f *testing.F) {
	f.Add("30", "", "", "", 429)
	f.Add("0", "", "", "", 503)
	f.Add("Wed, 18 Feb 2026 14:31:00 GMT", "Wed, 18 Feb 2026 14:30:00 GMT", "", "", 429)
	f.Add("Fri, 31 Dec 9999 23:59:59 GMT", "Mon, 01 Jan 0001 00:00:00 GMT", "", "", 429)
	f.Add("", "Thu, 01 Jan 1970 00:00:00 GMT", "0", "1771425060", 429)
	f.Add("99999999999999999999", "", "0", "8589934592", 429)
	f.Add("-1", "garbage", "-0", "+5", 429)
	f.Fuzz(func(t *testing.T, retryAfter, date, remaining, reset string, status int) {
		h := http.Header{}
		for k, v := range map[string]string{"Retry-After": retryAfter, "Date": date, "X-RateLimit-Remaining": remaining, "X-RateLimit-Reset": reset} {
			if v != "" {
				h.Set(k, v)
			}
		}
		h.Set("X-RateLimit-Limit", "100")
		resp := &http.Response{StatusCode: status, Header: h}
		wait, ok := serverWait(resp, fuzzNow)
		if wait < 0 {
			t.Fatalf("negative wait %s", wait)
		}
		if ok == "" && wait != 0 {
			t.Fatalf("no wait asked, but %s", wait)
		}
		if secs, err := strconv.ParseUint(strings.TrimSpace(retryAfter), 10, 64); err == nil {
			want := time.Duration(min(secs, maxUnix)) * time.Second
			if ok != WaitRetryAfter || wait != want {
				t.Fatalf("Retry-After %q: got %s, %v; want %s", retryAfter, wait, ok, want)
			}
		}
		var st rateState
		st.observe(resp, fuzzClock)
		_, _ = st.untilReset(fuzzClock)
		_ = checkResponse(resp, fuzzClock) // a 429's RetryAfter comes from here too
	})
}

// FuzzParseRate: parseRate never panics, and what it accepts is sane: no
// negative counts, a reset between 1970 and maxUnix, and the header values
// were plain decimal numbers.
func FuzzParseRate(f *testing.F) {
	f.Add("500", "499", "1708272000")
	f.Add("0", "0", "0")
	f.Add(" 7 ", "\t3", "8589934592")
	f.Add("1e3", "-1", "99999999999999999999")
	f.Add("+5", "0x10", "")
	f.Fuzz(func(t *testing.T, limit, remaining, reset string) {
		h := http.Header{}
		h.Set("X-RateLimit-Limit", limit)
		h.Set("X-RateLimit-Remaining", remaining)
		h.Set("X-RateLimit-Reset", reset)
		r, ok := parseRate(h)
		if !ok {
			if r != (Rate{}) {
				t.Fatalf("refused, yet %+v", r)
			}
			return
		}
		if r.Limit < 0 || r.Remaining < 0 || r.Reset.Before(time.Unix(0, 0)) || r.Reset.After(time.Unix(maxUnix, 0)) {
			t.Fatalf("accepted an insane rate %+v from %q %q %q", r, limit, remaining, reset)
		}
		if got := strconv.FormatInt(r.Reset.Unix(), 10); strings.TrimLeft(strings.TrimSpace(h.Get("X-RateLimit-Reset")), "+0") != strings.TrimLeft(got, "0") {
			t.Fatalf("reset %q read as %s", reset, got)
		}
	})
}

// FuzzCheckResponse: any status and body (repeated past 1 MiB when long
// is set) gives nil for a 2xx and otherwise a typed error carrying the
// status and request ID, *RateLimitError for a 429; it never panics and
// never reads more than 1 MiB (and the one byte that tells it was cut).
func FuzzCheckResponse(f *testing.F) {
	f.Add(400, []byte(`{"error":{"type":"invalid_request_error","code":"missing_field","message":"content is required","param":"content"}}`), false)
	f.Add(429, []byte(`{"error":{"type":"rate_limit_error"}}`), false)
	f.Add(502, []byte(`<html><body>502 Bad Gateway</body></html>`), true)
	f.Add(500, []byte(`{"error":`), false)
	f.Add(404, []byte{}, false)
	f.Add(200, []byte(`{}`), false)
	f.Add(418, []byte("{\"error\":{\"message\":\"\xff\xfe\"}}"), true)
	f.Fuzz(func(t *testing.T, status int, body []byte, long bool) {
		if status < 0 {
			status = -(status + 1)
		}
		status = 100 + status%900
		var rd io.Reader = bytes.NewReader(body)
		if long && len(body) > 0 {
			rd = &repeating{pattern: body, max: 1<<20 + 4096}
		}
		cr := &countingBody{r: rd}
		resp := &http.Response{StatusCode: status, Header: http.Header{"X-Request-Id": {"req_fuzz"}}, Body: cr}
		err := checkResponse(resp, fuzzClock)
		if cr.n > maxErrorBodySize+1 {
			t.Fatalf("read %d bytes of an error body", cr.n)
		}
		if status >= 200 && status <= 299 {
			if err != nil {
				t.Fatalf("%d: %v", status, err)
			}
			return
		}
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != status || apiErr.RequestID != "req_fuzz" {
			t.Fatalf("%d: got %#v", status, err)
		}
		var rle *RateLimitError
		if (status == http.StatusTooManyRequests) != errors.As(err, &rle) {
			t.Fatalf("%d: RateLimitError %v", status, errors.As(err, &rle))
		}
		if !strings.Contains(err.Error(), strconv.Itoa(status)) {
			t.Fatalf("%q does not say %d", err.Error(), status)
		}
	})
}

// FuzzConstructEvent: any payload, signed with the secret, decodes or is
// refused with ErrInvalidEvent, never panics; a decoded event has an ID and
// a type, and every accessor answers a value or an error wrapping
// ErrWrongEventType or ErrInvalidEvent, never panics. No error shows the
// secret.
func FuzzConstructEvent(f *testing.F) {
	f.Add([]byte(`{"id":"evt_1","type":"agent.task.completed","created_at":"2024-02-18T14:30:00Z","data":{"id":"tsk_001","agent_id":"agt_abc123","status":"completed"}}`))
	f.Add([]byte(`{"id":"evt_2","type":"agent.status.changed","data":{"agent_id":"agt_1","status":"online","previous_status":"offline"}}`))
	f.Add([]byte(`{"id":"evt_3","type":"billing.invoice.created","data":{"amount_due":"4900"}}`))
	f.Add([]byte(`{"id":"evt_4","type":"agent.message.sent","data":null}`))
	f.Add([]byte(`{"id":"evt_5","type":"something.new","data":[1,2,3]}`))
	f.Add([]byte(`{"id":"evt_6","type":"agent.skill.installed","data":"x"}`))
	f.Add([]byte(`{"id":"","type":""}`))
	f.Add([]byte(`[]`))
	const secret = "whsec_fuzz_secret_value"
	at := time.Unix(1708272000, 0)
	clock := WithClock(func() time.Time { return at })
	f.Fuzz(func(t *testing.T, payload []byte) {
		ev, err := ConstructEvent(payload, SignPayload(payload, secret, at), secret, clock)
		if err != nil {
			if !errors.Is(err, ErrInvalidEvent) {
				t.Fatalf("a signed payload refused with %v", err)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error shows the secret: %v", err)
			}
			return
		}
		if ev.ID == "" || ev.Type == "" {
			t.Fatalf("decoded an event without id or type: %+v", ev)
		}
		_ = ev.Type.Known()
		check := func(name string, v any, err error) {
			if err != nil {
				if !errors.Is(err, ErrWrongEventType) && !errors.Is(err, ErrInvalidEvent) {
					t.Fatalf("%s: untyped error %v", name, err)
				}
				return
			}
			if v == nil {
				t.Fatalf("%s: nil value and nil error", name)
			}
		}
		task, err := ev.Task()
		check("Task", task, err)
		msg, err := ev.Message()
		check("Message", msg, err)
		sc, err := ev.StatusChange()
		check("StatusChange", sc, err)
		si, err := ev.SkillInstalled()
		check("SkillInstalled", si, err)
		inv, err := ev.Invoice()
		check("Invoice", inv, err)
	})
}
