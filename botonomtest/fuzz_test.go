package botonomtest

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"
)

// currentT reports to the *testing.T of the fuzz input being run, so that
// one server serves every input.
type currentT struct {
	testing.TB
	t atomic.Pointer[testing.T]
}

func (c *currentT) Errorf(format string, args ...any) { c.t.Load().Errorf(format, args...) }
func (c *currentT) Fatalf(format string, args ...any) { c.t.Load().Fatalf(format, args...) }
func (c *currentT) Logf(format string, args ...any)   {}

// Whatever window and granularity a client sends, GET /analytics/usage
// answers 200 with contiguous periods covering from..to, or 400: never a
// panic, never an answer outside the spec (the server checks its answers
// and reports through currentT).
func FuzzUsageWindow(f *testing.F) {
	for _, seed := range []struct{ from, to, gran string }{
		{"2026-02-01T00:00:00Z", "2026-02-18T00:00:00Z", "day"},
		{"9999-12-01T00:00:00Z", "9999-12-31T00:00:00Z", "month"},
		{"0000-01-01T00:00:00+01:00", "0000-01-02T00:00:00Z", "hour"},
		{"2026-02-18T00:00:00-23:59", "", "month"},
		{"", "2026-02-18T14:30:00.5Z", "week"},
	} {
		f.Add(seed.from, seed.to, seed.gran)
	}
	rep := &currentT{TB: f}
	srv, err := start(rep, []Option{WithoutSpecValidation(), WithRateLimit(math.MaxInt, time.Hour)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(srv.Close)
	f.Fuzz(func(t *testing.T, from, to, gran string) {
		rep.t.Store(t)
		q := url.Values{}
		for k, v := range map[string]string{"from": from, "to": to, "granularity": gran} {
			if v != "" {
				q.Set(k, v)
			}
		}
		req := httptest.NewRequest(http.MethodGet, "/v1/analytics/usage?"+q.Encode(), nil)
		req.Header.Set("Authorization", "Bearer "+Token)
		w := httptest.NewRecorder()
		srv.serveHTTP(w, req)
		switch w.Code {
		case http.StatusBadRequest:
			return
		case http.StatusOK:
		default:
			t.Fatalf("%s: %d %s", q.Encode(), w.Code, w.Body)
		}
		var u struct {
			From, To time.Time
			Data     []struct {
				PeriodStart time.Time `json:"period_start"`
				PeriodEnd   time.Time `json:"period_end"`
			}
		}
		if err := json.Unmarshal(w.Body.Bytes(), &u); err != nil {
			t.Fatalf("%s: %v", q.Encode(), err)
		}
		for i, p := range u.Data {
			if !p.PeriodStart.Before(p.PeriodEnd) || (i > 0 && !u.Data[i-1].PeriodEnd.Equal(p.PeriodStart)) {
				t.Fatalf("%s: period %d is %s..%s", q.Encode(), i, p.PeriodStart, p.PeriodEnd)
			}
		}
		if n := len(u.Data); n > 0 && (u.Data[0].PeriodStart.After(u.From) || u.Data[n-1].PeriodEnd.Before(u.To)) {
			t.Fatalf("%s: periods %s..%s do not cover %s..%s", q.Encode(), u.Data[0].PeriodStart, u.Data[n-1].PeriodEnd, u.From, u.To)
		}
	})
}
