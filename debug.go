package botonom

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// DefaultDebugBodyBytes is how much of each request and response body
// WithDebug and WithDebugLogger show: 4 KiB. The rest is sent and read as
// usual, only not shown.
const DefaultDebugBodyBytes = 4 << 10

// debugSlack is how far past the bound a body is read and masked before
// it is cut, so that a secret that straddles the bound is masked whole.
const debugSlack = 1 << 10

// WithDebug writes every attempt of every call (of one call, given to a
// method call) to w, for debugging an integration: the request (method,
// URL, headers, body up to DefaultDebugBodyBytes), a curl command line
// that sends it again, and the answer (status, headers, body up to the
// same bound) or the transport error. Nothing secret is written:
// Authorization shows as "Bearer btm_sk_…" and the token's last 4
// characters (the curl line reads it from $BOTONOM_API_TOKEN, so that it
// runs as is); the client's token anywhere else likewise, and no 8
// characters in a row of it show, even of a copy that a body's bound
// cuts or one written with JSON or URL escapes; the secret of a webhook registration and any "whsec_…" value show
// as "whsec_…"; Proxy-Authorization, Cookie and Set-Cookie as "…".
//
// It is a Middleware (see WithMiddleware): it sees each attempt as the
// middleware given before it leave it, so give it last to see exactly what
// is sent. It reads the bodies it shows and puts them back, so the call
// goes on unchanged. Each attempt is one Write, safe for concurrent calls
// sharing w. Without it, nothing is done and nothing allocated.
func WithDebug(w io.Writer) Option {
	if w == nil {
		return func(*config) error { return errors.New("WithDebug: nil io.Writer") }
	}
	var mu sync.Mutex
	return WithMiddleware(debugMiddleware(func(_ context.Context, d *debugAttempt) {
		text := d.text()
		mu.Lock()
		defer mu.Unlock()
		_, _ = io.WriteString(w, text)
	}))
}

// WithDebugLogger is WithDebug to a logger: one record per attempt at
// slog.LevelDebug, "botonom: debug", with the same content, masked the
// same way, as attributes (request.headers and response.headers are
// groups; curl is the command line).
func WithDebugLogger(l *slog.Logger) Option {
	if l == nil {
		return func(*config) error { return errors.New("WithDebugLogger: nil *slog.Logger") }
	}
	return WithMiddleware(debugMiddleware(func(ctx context.Context, d *debugAttempt) {
		l.LogAttrs(ctx, slog.LevelDebug, "botonom: debug", d.attrs()...)
	}))
}

// debugMiddleware captures each attempt, masked, and hands it to emit once
// the answer (or error) is in.
func debugMiddleware(emit func(context.Context, *debugAttempt)) Middleware {
	return func(req *http.Request, next MiddlewareNext) (*http.Response, error) {
		d := &debugAttempt{attempt: headerValue(req.Header, headerRetryCount)}
		if call, ok := CallFromContext(req.Context()); ok {
			d.operation = call.Operation
		}
		req = d.captureRequest(req)
		resp, err := next(req)
		if err != nil {
			d.err = d.mask(err.Error())
		} else {
			d.captureResponse(resp)
		}
		emit(req.Context(), d)
		return resp, err
	}
}

// debugAttempt is one attempt as shown: every string in it is masked.
type debugAttempt struct {
	token     string // the client's token, found in Authorization: masked wherever it shows
	operation string
	attempt   string

	method, url string
	reqHeader   []headerLine
	reqBody     debugBody
	curl        string

	status     string // "200 OK"; empty after a transport error
	respHeader []headerLine
	respBody   debugBody
	err        string
}

type headerLine struct{ key, value string }

// debugBody is the shown part of a body.
type debugBody struct {
	text      string // masked, cut at the bound
	shown     int    // bytes of the body read before the cut
	truncated bool
	length    int64 // the whole body's length; -1 if unknown
}

// captureRequest records req, masked, and returns the request to send:
// req itself when its body can be had again from GetBody (every request
// the SDK builds), else a copy whose body gives back what was read.
func (d *debugAttempt) captureRequest(req *http.Request) *http.Request {
	d.token = requestToken(req)
	d.method, d.url = hideToken(req.Method, d.token), d.mask(req.URL.String())
	d.reqHeader = d.headers(req.Header)
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody != nil {
			if body, err := req.GetBody(); err == nil {
				d.reqBody, _ = d.peek(body, req.ContentLength)
				_ = body.Close()
			}
		} else {
			var rest io.ReadCloser
			d.reqBody, rest = d.peek(req.Body, req.ContentLength)
			r := *req
			r.Body = rest
			req = &r
		}
	}
	d.curl = d.curlLine(req)
	return req
}

// captureResponse records resp, masked, and puts back what it read of the
// body.
func (d *debugAttempt) captureResponse(resp *http.Response) {
	d.status = hideToken(resp.Status, d.token)
	if d.status == "" {
		d.status = strconv.Itoa(resp.StatusCode)
	}
	d.respHeader = d.headers(resp.Header)
	if resp.Body != nil && resp.Body != http.NoBody {
		d.respBody, resp.Body = d.peek(resp.Body, resp.ContentLength)
	}
}

// peek reads up to the bound (and the slack) of body, masks it, and
// returns it with a body that reads the same bytes as body would have,
// read error included, and closes body.
func (d *debugAttempt) peek(body io.ReadCloser, length int64) (debugBody, io.ReadCloser) {
	buf := make([]byte, DefaultDebugBodyBytes+debugSlack+1)
	// Not io.ReadFull: it reports a body that ends early as
	// io.ErrUnexpectedEOF, which a body cut short by the peer (fewer bytes
	// than its Content-Length) also returns, and that error must reach
	// the caller as it is.
	var n int
	var err error
	for n < len(buf) && err == nil {
		var m int
		m, err = body.Read(buf[n:])
		n += m
	}
	buf = buf[:n]
	var rest io.Reader = body
	switch {
	case err == io.EOF: // all of it
		rest, length = eofReader{}, int64(n)
	case err != nil:
		rest = errReader{err}
	}
	b := debugBody{length: length, shown: n}
	text := strings.ToValidUTF8(d.mask(string(buf)), "\uFFFD")
	if n > DefaultDebugBodyBytes {
		cut := min(DefaultDebugBodyBytes, len(text))
		for cut > 0 && cut < len(text) && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text, b.shown, b.truncated = text[:cut], DefaultDebugBodyBytes, true
	}
	b.text = text
	return b, readCloser{io.MultiReader(bytes.NewReader(buf), rest), body}
}

type readCloser struct {
	io.Reader
	io.Closer
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// Secret-looking values, masked wherever they show: API tokens, webhook
// secrets, and the value of any JSON key ending in "secret", even when the
// bound cuts it short.
var (
	debugTokenRE      = regexp.MustCompile(`btm_sk_[A-Za-z0-9_\-]+`)
	debugWhsecRE      = regexp.MustCompile(`whsec_[^\s"'&,;<>\\]+`)
	debugJSONSecretRE = regexp.MustCompile(`("[A-Za-z0-9_\-]*(?i:secret)"\s*:\s*)"(whsec_)?(?:[^"\\]|\\.)*(?:"|\\?$)`)
)

// mask hides every secret in s: the client's token, other API tokens,
// webhook secrets.
func (d *debugAttempt) mask(s string) string {
	s = hideToken(s, d.token)
	s = debugTokenRE.ReplaceAllStringFunc(s, maskToken)
	s = debugJSONSecretRE.ReplaceAllString(s, `$1"${2}…"`) // a webhook secret keeps its prefix
	return debugWhsecRE.ReplaceAllLiteralString(s, "whsec_…")
}

// bearerToken is the token of h's "Authorization: Bearer" header; "" if
// none.
func bearerToken(h http.Header) string { return bearer(headerValue(h, "Authorization")) }

// bearer is the token of an Authorization value "Bearer <token>"; "" for
// any other value.
func bearer(authorization string) string {
	if scheme, token, ok := strings.Cut(authorization, " "); ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(token)
	}
	return ""
}

// requestToken is the token req is sent with: its bearer token, or for a
// redirect hop to another origin, which goes without Authorization, the
// token of the call's client (the hop's Location, and so what it shows,
// may still carry it); "" for a request of no call.
func requestToken(req *http.Request) string {
	if token := bearerToken(req.Header); token != "" {
		return token
	}
	if info := callInfoFrom(req.Context()); info != nil {
		return bearer(info.cfg.authorization())
	}
	return ""
}

// tokenRun is the shortest run of the client's token's characters that
// the debug view hides wherever it shows, whatever is around it.
const tokenRun = 8

// hideToken hides token in s: each whole copy as maskToken shows it, and
// any other run of tokenRun or more of its characters — a copy cut short
// by the end of what was read of a body, or cut anywhere else — as "…".
// A copy written with escapes, as JSON string text or percent-encoded
// (\u0041, \/, %2F for any of its characters), is found through them and
// hidden as "…" too. What stays shown of a copy (the "btm_sk_" prefix,
// the last 4 characters) is always next to the "…", so no run of
// tokenRun of the token's characters shows, whatever the token's shape. A
// token shorter than tokenRun is hidden where a whole copy shows (from 4
// characters: a shorter one would hide every match of a few letters).
func hideToken(s, token string) string {
	if len(token) < tokenRun {
		if len(token) >= 4 {
			s = strings.ReplaceAll(s, token, maskToken(token))
		}
		return s
	}
	runs := tokenRuns(nil, s, token, nil)
	if strings.ContainsAny(s, `\%`) {
		text, at := unescape(s)
		runs = tokenRuns(runs, text, token, at)
		slices.SortFunc(runs, func(a, b [2]int) int { return a[0] - b[0] })
	}
	if len(runs) == 0 {
		return s
	}
	var b strings.Builder
	shown := 0 // s[:shown] is in b
	for i, r := range runs {
		start, end := max(r[0], shown), r[1]
		if end <= start {
			continue
		}
		for _, next := range runs[i+1:] { // runs that overlap this one join it
			if next[0] >= end {
				break
			}
			end = max(end, next[1])
		}
		b.WriteString(s[shown:start])
		if s[start:end] == token {
			b.WriteString(maskToken(token))
		} else {
			b.WriteString("…")
		}
		shown = end
	}
	b.WriteString(s[shown:])
	out := b.String()
	if strings.Contains(token, "…") && out != s {
		// What hides a run is then the token's own characters, and can
		// make a run with what is next to it: hide again, until nothing
		// changes (each pass that changes something shortens it).
		return hideToken(out, token)
	}
	return out
}

// tokenRuns appends to runs each run of tokenRun or more of token's
// characters in s, as a span [start, end) of s, widened to whole UTF-8
// characters; at, if not nil, maps each byte of s (and its end) to where
// it was read from in the text s was unescaped from, and the spans are of
// that text.
func tokenRuns(runs [][2]int, s, token string, at []int) [][2]int {
	for i := 0; i+tokenRun <= len(s); i++ {
		if !strings.Contains(token, s[i:i+tokenRun]) {
			continue
		}
		// A run starts at i: it goes on while the next window of
		// tokenRun characters overlapping it is also the token's.
		end := i + tokenRun
		for j := i + 1; j < end && j+tokenRun <= len(s); j++ {
			if strings.Contains(token, s[j:j+tokenRun]) {
				end = j + tokenRun
			}
		}
		start := i
		for start > 0 && !utf8.RuneStart(s[start]) {
			start--
		}
		for end < len(s) && !utf8.RuneStart(s[end]) {
			end++
		}
		if at != nil {
			runs = append(runs, [2]int{at[start], at[end]})
		} else {
			runs = append(runs, [2]int{start, end})
		}
		i = end - 1
	}
	return runs
}

// unescape is s with its JSON string escapes (\uXXXX, surrogate pairs
// included, and \/, \\, \", \b, \f, \n, \r, \t) and its percent-encoding
// (%XX) read, and for each byte of it (and its end) the offset in s it was
// read from.
func unescape(s string) (string, []int) {
	text := make([]byte, 0, len(s))
	at := make([]int, 0, len(s)+1)
	for i := 0; i < len(s); {
		from, n := i, 1
		switch c := s[i]; {
		case c == '%' && i+3 <= len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			text, n = append(text, byte(v)), 3
		case c == '\\' && i+6 <= len(s) && s[i+1] == 'u':
			r, err := strconv.ParseUint(s[i+2:i+6], 16, 16)
			if err != nil {
				text = append(text, c)
				break
			}
			n = 6
			if utf16.IsSurrogate(rune(r)) && i+12 <= len(s) && s[i+6] == '\\' && s[i+7] == 'u' {
				if r2, err := strconv.ParseUint(s[i+8:i+12], 16, 16); err == nil {
					if pair := utf16.DecodeRune(rune(r), rune(r2)); pair != utf8.RuneError {
						r, n = uint64(pair), 12
					}
				}
			}
			text = utf8.AppendRune(text, rune(r))
		case c == '\\' && i+2 <= len(s) && strings.IndexByte(`/\"bfnrt`, s[i+1]) >= 0:
			text, n = append(text, "/\\\"\b\f\n\r\t"[strings.IndexByte(`/\"bfnrt`, s[i+1])]), 2
		default:
			text = append(text, c)
		}
		for len(at) < len(text) {
			at = append(at, from)
		}
		i += n
	}
	return string(text), append(at, len(s))
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// maskToken shows an API token as its "btm_sk_" prefix, if it has it, and
// its last 4 characters, if it is long enough that they say little and
// they are ASCII; as "…" alone when that would show tokenRun characters
// of a token that holds "…".
func maskToken(token string) string {
	prefix := ""
	if strings.HasPrefix(token, "btm_sk_") {
		prefix = "btm_sk_"
	}
	shown := prefix + "…"
	if rest := token[len(prefix):]; len(rest) >= 12 {
		// Not the last 4 bytes of a character cut apart, nor 4 characters
		// of several bytes each, which could make tokenRun bytes of it.
		if last := rest[len(rest)-4:]; !strings.ContainsFunc(last, func(r rune) bool { return r >= utf8.RuneSelf }) {
			shown += last
		}
	}
	if strings.Contains(token, "…") && len(tokenRuns(nil, shown, token, nil)) > 0 {
		return "…" // what would show is a run of the token's own characters
	}
	return shown
}

// headers returns h sorted by key, masked: Authorization keeps its scheme,
// the cookie and proxy credentials are hidden whole.
func (d *debugAttempt) headers(h http.Header) []headerLine {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	lines := make([]headerLine, 0, len(keys))
	for _, k := range keys {
		for _, v := range h[k] {
			switch http.CanonicalHeaderKey(k) {
			case "Proxy-Authorization", "Cookie", "Set-Cookie":
				v = "…"
			case "Authorization":
				if scheme, cred, ok := strings.Cut(v, " "); ok && strings.EqualFold(scheme, "Bearer") {
					v = scheme + " " + maskToken(strings.TrimSpace(cred))
				} else {
					v = "…"
				}
			default:
				v = d.mask(v)
			}
			lines = append(lines, headerLine{hideToken(k, d.token), v})
		}
	}
	return lines
}

// curlLine is a curl command that sends req again, masked like the rest;
// the User-Agent is curl's own, and Content-Length curl's to set. A
// bearer token is read from $BOTONOM_API_TOKEN, so the line runs as is.
func (d *debugAttempt) curlLine(req *http.Request) string {
	var b strings.Builder
	b.WriteString("curl -X ")
	b.WriteString(d.method)
	b.WriteString(" ")
	b.WriteString(shellQuote(d.url))
	for _, h := range d.reqHeader {
		switch http.CanonicalHeaderKey(h.key) {
		case "User-Agent", "Content-Length", "Host":
			continue
		case "Authorization":
			if scheme, _, _ := strings.Cut(h.value, " "); strings.EqualFold(scheme, "Bearer") {
				b.WriteString(` -H "Authorization: Bearer $BOTONOM_API_TOKEN"`)
				continue
			}
		}
		b.WriteString(" -H ")
		b.WriteString(shellQuote(h.key + ": " + h.value))
	}
	if d.reqBody.shown > 0 {
		b.WriteString(" --data-raw ")
		b.WriteString(shellQuote(d.reqBody.text))
		if d.reqBody.truncated {
			b.WriteString(" # body cut short: see above")
		}
	}
	return b.String()
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// text renders the attempt as curl -v does: "> " the request, "< " the
// answer, one Write's worth.
func (d *debugAttempt) text() string {
	var b strings.Builder
	b.WriteString("botonom: debug")
	if d.operation != "" {
		b.WriteString(" " + d.operation)
	}
	b.WriteString(" attempt " + d.attempt + "\n")
	b.WriteString("> " + d.method + " " + d.url + "\n")
	for _, h := range d.reqHeader {
		b.WriteString("> " + h.key + ": " + h.value + "\n")
	}
	d.reqBody.write(&b, ">")
	b.WriteString(d.curl + "\n")
	if d.err != "" {
		b.WriteString("< error: " + d.err + "\n\n")
		return b.String()
	}
	b.WriteString("< " + d.status + "\n")
	for _, h := range d.respHeader {
		b.WriteString("< " + h.key + ": " + h.value + "\n")
	}
	d.respBody.write(&b, "<")
	b.WriteString("\n")
	return b.String()
}

// write writes the body after an empty line, and says what was cut.
func (body debugBody) write(b *strings.Builder, side string) {
	if body.shown == 0 {
		return
	}
	b.WriteString(side + "\n")
	b.WriteString(body.text)
	b.WriteString("\n")
	if body.truncated {
		b.WriteString(side + " " + body.cutNote() + "\n")
	}
}

func (body debugBody) cutNote() string {
	if body.length > 0 {
		return "(body cut short: " + strconv.Itoa(body.shown) + " of " + strconv.FormatInt(body.length, 10) + " bytes shown)"
	}
	return "(body cut short: first " + strconv.Itoa(body.shown) + " bytes shown)"
}

// attrs renders the attempt as log attributes.
func (d *debugAttempt) attrs() []slog.Attr {
	headerGroup := func(name string, lines []headerLine) slog.Attr {
		as := make([]any, 0, len(lines))
		for _, h := range lines {
			as = append(as, slog.String(h.key, h.value))
		}
		return slog.Group(name, as...)
	}
	attrs := []slog.Attr{
		slog.String("operation", d.operation),
		slog.String("attempt", d.attempt),
		slog.String("method", d.method),
		slog.String("url", d.url),
		headerGroup("request.headers", d.reqHeader),
	}
	if d.reqBody.shown > 0 {
		attrs = append(attrs, slog.String("request.body", d.reqBody.text))
	}
	attrs = append(attrs, slog.String("curl", d.curl))
	if d.err != "" {
		return append(attrs, slog.String("error", d.err))
	}
	attrs = append(attrs, slog.String("status", d.status), headerGroup("response.headers", d.respHeader))
	if d.respBody.shown > 0 {
		attrs = append(attrs, slog.String("response.body", d.respBody.text))
	}
	return attrs
}
