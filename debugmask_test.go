package botonom

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// debugTokens are tokens of every shape the debug view must hide: an API
// token, one without the "btm_sk_" prefix (44 characters, as in the
// probe that found a cut copy showing 36 of them), one of exactly
// tokenRun characters, and a periodic one, whose copies side by side
// make one run.
var debugTokens = []string{
	"btm_sk_live_4eC39HqLyjWDarjtT1zdp7dcAbCdEfGh",
	"Zx9qT_4rLm-8KpWvB2nYc6DsFh0JgUe3ViXoA7MbNtQ1",
	"k3Y9-p_Q",
	"ab12ab12ab12ab12ab12",
}

// debugViewOf runs one attempt through the debug view with token as the
// client's, reqBody as the request's body and respBody as the answer's,
// and returns all it writes: the text and every attribute of the record.
func debugViewOf(t testing.TB, token, reqBody, respBody string) string {
	t.Helper()
	var out strings.Builder
	mw := debugMiddleware(func(_ context.Context, d *debugAttempt) {
		out.WriteString(d.text())
		writeAttrs(&out, d.attrs())
	})
	req, err := http.NewRequest(http.MethodPost, "https://api.botonom.com/v1/agents/agt_1/message", strings.NewReader(reqBody))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := mw(req, func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Status: "200 OK " + token, Header: http.Header{"X-Echo": {token}, "X-" + token: {"v"}},
			Body: io.NopCloser(strings.NewReader(respBody)), ContentLength: -1, Request: r}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The call still gets every byte.
	if got, _ := io.ReadAll(resp.Body); string(got) != respBody {
		t.Fatalf("the answer's body changed: %d bytes, want %d", len(got), len(respBody))
	}
	return out.String()
}

func writeAttrs(b *strings.Builder, attrs []slog.Attr) {
	for _, a := range attrs {
		if a.Value.Kind() == slog.KindGroup {
			writeAttrs(b, a.Value.Group())
			continue
		}
		b.WriteString(a.Key + "=" + a.Value.String() + "\n")
	}
}

// assertNoRunOf fails unless out shows no tokenRun characters in a row of
// token.
func assertNoRunOf(t testing.TB, out, token, where string) {
	t.Helper()
	for i := 0; i+tokenRun <= len(token); i++ {
		if at := strings.Index(out, token[i:i+tokenRun]); at >= 0 {
			t.Fatalf("%s: the debug view shows %q of the token %q: …%s…", where, token[i:i+tokenRun], token,
				out[max(0, at-40):min(len(out), at+60)])
		}
	}
}

// No tokenRun characters of the client's token show, wherever a copy of
// it falls in a body: at every offset around the bound the body is cut at
// (DefaultDebugBodyBytes) and around the end of what is read of it (the
// bound and the slack), alone, and behind 100 copies that masking shortens
// so that the cut falls past the end of what was read.
func TestDebugView_NoRunOfTheTokenWhereverACopyFalls(t *testing.T) {
	readEnd := DefaultDebugBodyBytes + debugSlack + 1
	for _, token := range debugTokens {
		copies := strings.Repeat(token+" ", 100)
		for _, layout := range []struct {
			name   string
			before string
			cuts   []int // offsets (in the body) around which a copy is placed
		}{
			{"alone", "", []int{DefaultDebugBodyBytes, readEnd}},
			{"behind copies", copies, []int{readEnd}},
		} {
			for _, cut := range layout.cuts {
				for at := cut - len(token) - 1; at <= cut+1; at++ {
					fill := at - len(layout.before)
					body := layout.before + strings.Repeat(".", fill) + token + strings.Repeat(".", 2000)
					out := debugViewOf(t, token, body, body)
					assertNoRunOf(t, out, token, layout.name+": a copy at "+strconv.Itoa(at))
				}
			}
		}
	}
}

// FuzzDebugView_NoRunOfTheToken: whatever the token (printable, no space)
// and the bodies, and wherever copies of the token fall in them, the debug
// view shows no tokenRun characters in a row of it.
func FuzzDebugView_NoRunOfTheToken(f *testing.F) {
	for _, token := range debugTokens {
		f.Add(token, strings.Repeat("x", 100), uint16(DefaultDebugBodyBytes-5), uint8(3))
		f.Add(token, `{"a":"`, uint16(DefaultDebugBodyBytes+debugSlack-10), uint8(40))
	}
	f.Fuzz(func(t *testing.T, token, filler string, at uint16, copies uint8) {
		if len(token) < tokenRun || strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r > '~' }) {
			t.Skip()
		}
		var b strings.Builder
		for range copies {
			b.WriteString(token + filler)
		}
		for b.Len() < int(at) {
			b.WriteString(filler + ".")
		}
		body := b.String()[:at] + token + body2k
		out := debugViewOf(t, token, body, body)
		assertNoRunOf(t, out, token, "a copy at "+strconv.Itoa(int(at)))
	})
}

var body2k = strings.Repeat(".", 2000)

// hideToken's exact output: what of a copy stays shown, and where a run
// begins and ends.
func TestHideToken(t *testing.T) {
	const plain = "Zx9qT_4rLm-8KpWvB2nYc6DsFh0JgUe3ViXoA7MbNtQ1" // shows as …NtQ1
	const api = "btm_sk_live_4eC39HqLyjWDarjtT1zdp7dcAbCdEfGh"   // shows as btm_sk_…EfGh
	for _, c := range []struct{ token, s, want string }{
		{plain, "", ""},
		{plain, "no copy here", "no copy here"},
		{plain, plain, "…NtQ1"},
		{plain, "<" + plain + ">", "<…NtQ1>"},
		{plain, plain + plain, "…NtQ1…NtQ1"},
		{plain, plain + "," + plain, "…NtQ1,…NtQ1"},
		{plain, "cut " + plain[:30], "cut …"},
		{plain, plain[14:] + " cut", "… cut"},
		{plain, "x" + plain[3:11], "x…"},                          // exactly tokenRun characters, at the end
		{plain, plain[3:11] + "x", "…x"},                          // at the start
		{plain, "x" + plain[3:10] + "y", "x" + plain[3:10] + "y"}, // one short of a run
		{plain, plain[:20] + "|" + plain[20:], "…|…"},
		{api, "t=" + api + "&", "t=btm_sk_…EfGh&"},
		{api, api[:25], "…"},
		{"abcdefgh", "abcdefgh abcdefg", "… abcdefg"},             // a token of tokenRun characters
		{"abababab", "ababababab", "…"},                           // one that overlaps itself: one run
		{"ab12ab12ab12ab12ab12", "ab12ab12ab12ab12ab12ab12", "…"}, // periodic: one run
		{"ab12ab12ab12ab12ab12", "ab12ab12ab12ab12ab12", "…ab12"},
		{"abcdefg", "abcdefg abcdef", "… abcdef"}, // shorter than tokenRun: whole copies only
		{"abcd", "abcd abc", "… abc"},
		{"abc", "abc", "abc"},                                              // too short to hide
		{"btm_sk_abcdefghijkl", "[btm_sk_abcdefghijkl]", "[btm_sk_…ijkl]"}, // 12 after the prefix: the last 4 show
		{"btm_sk_abcdefghijk", "[btm_sk_abcdefghijk]", "[btm_sk_…]"},       // 11: they would say too much
		{"abcdefghijkl", "[abcdefghijkl]", "[…ijkl]"},
		{"abcdefghijk", "[abcdefghijk]", "[…]"},
		{"ab…cdeQWERTYUIOP", "ab" + "QWERTYUI" + "cde", "…"}, // "…" hides a run, and makes one with what is next to it
		{"btm_sk_…", "[btm_sk_…]", "[…]"},                    // "btm_sk_…" would be the token itself
		{"btm_sk_…abcdefghijkl", "[btm_sk_…abcdefghijkl]", "[…]"},
	} {
		if got := hideToken(c.s, c.token); got != c.want {
			t.Errorf("hideToken(%q, %q) = %q, want %q", c.s, c.token, got, c.want)
		}
	}
}

// A body of up to DefaultDebugBodyBytes shows whole; one byte more is cut
// at the bound, and says so, with the body's length when it is known: the
// request's Content-Length, or for an answer of unknown length, whether
// its end was read (bound and slack).
func TestDebugView_BodyAtTheBound(t *testing.T) {
	readAll := DefaultDebugBodyBytes + debugSlack
	for _, n := range []int{DefaultDebugBodyBytes - 1, DefaultDebugBodyBytes, DefaultDebugBodyBytes + 1, readAll, readAll + 1} {
		body := strings.Repeat("a", n)
		out := debugViewOf(t, "btm_sk_test_token_0123", body, body)
		shown := min(n, DefaultDebugBodyBytes)
		if !strings.Contains(out, "\n"+body[:shown]+"\n") || strings.Contains(out, body[:shown]+"a") {
			t.Errorf("%d bytes: the body does not show as its first %d", n, shown)
		}
		var wantReq, wantResp string
		if n > DefaultDebugBodyBytes {
			wantReq = "> (body cut short: 4096 of " + strconv.Itoa(n) + " bytes shown)"
			wantResp = "< (body cut short: 4096 of " + strconv.Itoa(n) + " bytes shown)"
			if n > readAll {
				wantResp = "< (body cut short: first 4096 bytes shown)"
			}
		}
		for _, want := range []string{wantReq, wantResp} {
			if want != "" && !strings.Contains(out, want) {
				t.Errorf("%d bytes: no %q", n, want)
			}
		}
		if wantReq == "" && strings.Contains(out, "cut short") {
			t.Errorf("%d bytes: a body shown whole is said cut short", n)
		}
	}
}

// A request without a body: its curl line sends none, and no body shows.
func TestDebugView_RequestWithoutABody(t *testing.T) {
	var out strings.Builder
	var keys []string
	mw := debugMiddleware(func(_ context.Context, d *debugAttempt) {
		out.WriteString(d.text())
		for _, a := range d.attrs() {
			keys = append(keys, a.Key)
		}
	})
	req, err := http.NewRequest(http.MethodGet, "https://api.botonom.com/v1/agents", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer btm_sk_test_token_0123")
	_, _ = mw(req, func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 204, Header: http.Header{}, Body: http.NoBody}, nil
	})
	want := "botonom: debug attempt \n" +
		"> GET https://api.botonom.com/v1/agents\n" +
		"> Authorization: Bearer btm_sk_…0123\n" +
		`curl -X GET 'https://api.botonom.com/v1/agents' -H "Authorization: Bearer $BOTONOM_API_TOKEN"` + "\n" +
		"< 204\n\n"
	if out.String() != want {
		t.Errorf("the debug view wrote\n%s\nwant\n%s", out.String(), want)
	}
	if got := strings.Join(keys, " "); got != "operation attempt method url request.headers curl status response.headers" {
		t.Errorf("attributes %s, want no body", got)
	}
}

// A request body of unknown length (no Content-Length) cut at the bound
// says how much shows, not of how many bytes.
func TestDebugView_RequestBodyOfUnknownLength(t *testing.T) {
	var out strings.Builder
	mw := debugMiddleware(func(_ context.Context, d *debugAttempt) { out.WriteString(d.text()) })
	body := strings.Repeat("a", DefaultDebugBodyBytes+debugSlack+100)
	req, err := http.NewRequest(http.MethodPost, "https://api.botonom.com/v1/agents", io.MultiReader(strings.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = mw(req, func(r *http.Request) (*http.Response, error) {
		if got, _ := io.ReadAll(r.Body); string(got) != body {
			t.Errorf("the request's body changed: %d bytes, want %d", len(got), len(body))
		}
		return &http.Response{StatusCode: 204, Header: http.Header{}, Body: http.NoBody}, nil
	})
	if !strings.Contains(out.String(), "> (body cut short: first 4096 bytes shown)\n") {
		t.Errorf("no cut note of unknown length in\n%s", out.String())
	}
}

// A copy of the token written with escapes — JSON string text as any
// encoder may write it (\u0041 for any character, \/ for a slash,
// surrogate pairs for a character past U+FFFF), or percent-encoded in a
// query — is hidden as a run, though no tokenRun of its characters are in
// a row as written; its last 4 characters show only when they are ASCII,
// never as bytes of a character cut apart.
func TestHideToken_EscapedCopies(t *testing.T) {
	const api = "btm_sk_live_4eC39HqLyjWDarjtT1zdp7dcAbCdEfGh"
	const slashed = "Zx9q/4rLm/8KpW+B2nY/6DsF=0JgU/3ViX/A7Mb/tQ1"
	const wide = "btm_sk_Zx9qT4rL😀m8KpWvB2nYc6…"
	every5 := func(s string) string { // every 5th character as \u00XX
		var b strings.Builder
		for i, r := range s {
			if i%5 == 4 {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
		return b.String()
	}
	for _, c := range []struct{ token, s, want string }{
		{api, `{"echo":"` + every5(api) + `"}`, `{"echo":"…"}`},
		{slashed, `{"echo":"` + strings.ReplaceAll(slashed, "/", `\/`) + `"}`, `{"echo":"…"}`},
		{slashed, "/v1/agents?q=" + url.QueryEscape(slashed) + "&x=1", "/v1/agents?q=…&x=1"},
		{slashed, "/v1/agents?q=" + url.QueryEscape(slashed[:20]), "/v1/agents?q=…"}, // cut short
		{wide, `"` + strings.ReplaceAll(strings.ReplaceAll(wide, "😀", `\ud83d\ude00`), "…", `\u2026`) + `"`, `"…"`},
		{wide, "[" + wide + "]", "[btm_sk_…]"}, // the last 4 are not ASCII: not shown
		{"btm_sk_ééééééééé", "[btm_sk_ééééééééé]", "[btm_sk_…]"},
		{api, `\u00zz` + api + `%G1\`, `\u00zzbtm_sk_…EfGh%G1\`}, // what is not an escape is kept as it is
	} {
		if got := hideToken(c.s, c.token); got != c.want {
			t.Errorf("hideToken(%q, %q) = %q, want %q", c.s, c.token, got, c.want)
		}
	}
	// Through the debug view: the request's body and the answer's.
	body := `{"echo":"` + strings.ReplaceAll(slashed, "/", `\/`) + `","q":"` + url.QueryEscape(slashed) + `"}`
	if out := debugViewOf(t, slashed, body, body); strings.Contains(out, `\/`+slashed[5:9]) || strings.Contains(out, "%2F"+slashed[5:9]) {
		t.Errorf("the debug view shows an escaped copy of the token:\n%s", out)
	}
}

// A redirect hop to another origin goes without Authorization, but the
// debug view still hides the client's token in it: a server that puts the
// token in the Location puts it in the hop's URL, its curl line and what
// the other origin echoes. So does the error of the hop's answer, and its
// Response.RequestID.
func TestDebugView_RedirectHopToAnotherOriginHidesTheToken(t *testing.T) {
	token := debugTokens[1] // no "btm_sk_" prefix to find it by
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Echo", r.URL.RawQuery)
		w.Header().Set("X-Request-Id", r.URL.RawQuery)
		if strings.HasSuffix(r.URL.Path, "/err") {
			w.WriteHeader(400)
			_, _ = io.WriteString(w, `{"error":{"message":"`+r.URL.RawQuery+`"}}`)
			return
		}
		writeStatus(w, 200)
	}))
	defer other.Close()
	otherOrigin := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, otherOrigin+r.URL.Path+"?t="+strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), http.StatusTemporaryRedirect)
	}))
	defer api.Close()
	var out strings.Builder
	c, err := NewClient(token, WithBaseURL(api.URL+"/v1/"), WithDebug(&out))
	if err != nil {
		t.Fatal(err)
	}
	_, resp, err := c.Agents.Get(context.Background(), "x")
	if err != nil {
		t.Fatal(err)
	}
	_, errResp, err := c.Agents.Get(context.Background(), "err")
	if err == nil {
		t.Fatal("the other origin's 400 is no error")
	}
	assertNoRunOf(t, fmt.Sprintf("%v %+v %+v", err, *resp, *errResp), token, "the hop's error and Response")
	if !strings.Contains(out.String(), "> GET "+otherOrigin) {
		t.Fatalf("the hop is not shown:\n%s", out.String())
	}
	assertNoRunOf(t, out.String(), token, "a redirect hop")
}
