package botonom

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var _ HandlerOption = WithDeliveryTrace(&DeliveryTrace{})

func TestWithDeliveryTrace_IsAHandlerOptionOnly(t *testing.T) {
	_, isVerify := any(WithDeliveryTrace(&DeliveryTrace{})).(VerifyOption)
	assert.False(t, isVerify, "WithDeliveryTrace is a VerifyOption")
}

// endRecorder is a DeliveryTrace that records every End.
type endRecorder struct{ ends []Delivery }

func (e *endRecorder) trace() *DeliveryTrace {
	return &DeliveryTrace{End: func(_ context.Context, d Delivery) { e.ends = append(e.ends, d) }}
}

// Every answer of the handler, with the stores scripted: End is called
// once, with the status answered, the outcome, the event once verified and
// the reason.
func TestWebhookHandler_DeliveryTraceOutcomes(t *testing.T) {
	storeDown := errors.New("dial tcp: connection refused")
	fnFailed := errors.New("db down")
	state := statusEvent("evt_5", "agt_1", "online", 5)
	signed := func(body []byte) *http.Request {
		return webhookRequest(strings.NewReader(string(body)), body, vectorSecret, vectorTime)
	}
	claimed := DedupClaim{Status: DedupClaimed, Token: "t1"}
	for name, tc := range map[string]struct {
		req        *http.Request
		secret     string // default vectorSecret
		fnErr      error
		dedup      *DedupClaim
		dedupErr   error
		dedupOpts  []DedupOption
		order      *DedupClaim
		orderErr   error
		orderOpts  []OrderOption
		maxBody    int64
		status     int
		outcome    DeliveryOutcome
		noEvent    bool
		err        error  // Err matches it (errors.Is)
		errContent string // Err's text contains it
	}{
		"not a POST":         {req: httptest.NewRequest(http.MethodGet, "/", nil), status: 405, outcome: DeliveryRefused, noEvent: true, err: errMethodNotAllowed},
		"declared too large": {req: signed([]byte(vectorBody)), maxBody: 10, status: 413, outcome: DeliveryRefused, noEvent: true, errContent: "declared body length"},
		"read too large": {req: func() *http.Request {
			r := signed([]byte(vectorBody))
			r.ContentLength = -1
			return r
		}(), maxBody: 10, status: 413, outcome: DeliveryRefused, noEvent: true, errContent: "over the 10-byte cap"},
		"unreadable": {req: func() *http.Request {
			r := signed([]byte(vectorBody))
			r.Body = io.NopCloser(iotestErrReader{})
			r.ContentLength = -1
			return r
		}(), status: 400, outcome: DeliveryRefused, noEvent: true, errContent: "read failed"},
		"unsigned":             {req: webhookRequest(strings.NewReader(vectorBody), nil, "", vectorTime), status: 401, outcome: DeliveryRefused, noEvent: true, err: ErrMissingSignature},
		"forged":               {req: webhookRequest(strings.NewReader(vectorBody), []byte(vectorBody), "whsec_forger", vectorTime), status: 401, outcome: DeliveryRefused, noEvent: true, err: ErrSignatureMismatch},
		"signed, not an event": {req: signed([]byte(`{"nope":1}`)), status: 400, outcome: DeliveryRefused, noEvent: true, err: ErrInvalidEvent},
		"misconfigured":        {req: signed([]byte(vectorBody)), secret: "-", status: 500, outcome: DeliveryRefused, noEvent: true, errContent: "secret is empty"},
		"processed":            {req: signed([]byte(vectorBody)), status: 200, outcome: DeliveryProcessed},
		"fn fails":             {req: signed([]byte(vectorBody)), fnErr: fnFailed, status: 500, outcome: DeliveryFailed, err: fnFailed},

		"dedup, claimed":         {req: signed([]byte(vectorBody)), dedup: &claimed, status: 200, outcome: DeliveryProcessed},
		"dedup, claimed, fails":  {req: signed([]byte(vectorBody)), dedup: &claimed, fnErr: fnFailed, status: 500, outcome: DeliveryFailed, err: fnFailed},
		"dedup, done":            {req: signed([]byte(vectorBody)), dedup: &DedupClaim{Status: DedupDone}, status: 200, outcome: DeliveryDuplicate},
		"dedup, in flight":       {req: signed([]byte(vectorBody)), dedup: &DedupClaim{Status: DedupInFlight}, status: 409, outcome: DeliveryInFlight},
		"dedup, store down":      {req: signed([]byte(vectorBody)), dedup: &claimed, dedupErr: storeDown, status: 503, outcome: DeliveryUnavailable, err: storeDown},
		"dedup, fail open":       {req: signed([]byte(vectorBody)), dedup: &claimed, dedupErr: storeDown, dedupOpts: []DedupOption{WithDedupFailOpen()}, status: 200, outcome: DeliveryProcessed},
		"dedup, fail open fails": {req: signed([]byte(vectorBody)), dedup: &claimed, dedupErr: storeDown, dedupOpts: []DedupOption{WithDedupFailOpen()}, fnErr: fnFailed, status: 500, outcome: DeliveryFailed, err: fnFailed},

		"order, newest":       {req: signed(state), order: &claimed, status: 200, outcome: DeliveryProcessed},
		"order, stale":        {req: signed(state), order: &DedupClaim{Status: DedupStale}, status: 200, outcome: DeliveryStale},
		"order, in flight":    {req: signed(state), order: &DedupClaim{Status: DedupInFlight}, status: 409, outcome: DeliveryInFlight},
		"order, store down":   {req: signed(state), order: &claimed, orderErr: storeDown, status: 503, outcome: DeliveryUnavailable, err: storeDown},
		"order, fail open":    {req: signed(state), order: &claimed, orderErr: storeDown, orderOpts: []OrderOption{WithOrderFailOpen()}, status: 200, outcome: DeliveryProcessed},
		"order, no agent_id":  {req: signed([]byte(`{"id":"evt_5","type":"agent.status.changed","created_at":"2026-02-18T10:00:05Z","data":{}}`)), order: &claimed, status: 400, outcome: DeliveryRefused, err: ErrInvalidEvent},
		"dedup+order, stale":  {req: signed(state), dedup: &claimed, order: &DedupClaim{Status: DedupStale}, status: 200, outcome: DeliveryStale},
		"dedup+order, newest": {req: signed(state), dedup: &claimed, order: &claimed, status: 200, outcome: DeliveryProcessed},
	} {
		t.Run(name, func(t *testing.T) {
			var rec endRecorder
			opts := []HandlerOption{WithClock(webhookClockAt(vectorTime)), WithDeliveryTrace(rec.trace())}
			store := &scriptedOrderStore{}
			if tc.dedup != nil {
				store.claim, store.claimErr = *tc.dedup, tc.dedupErr
				opts = append(opts, WithDeduplication(store, tc.dedupOpts...))
			}
			if tc.order != nil {
				store.orderClaim, store.orderErr = *tc.order, tc.orderErr
				opts = append(opts, WithOrdering(store, tc.orderOpts...))
			}
			if tc.maxBody != 0 {
				opts = append(opts, WithHandlerMaxBodyBytes(tc.maxBody))
			}
			secret := vectorSecret
			if tc.secret == "-" {
				secret = ""
			}
			h := WebhookHandler(secret, func(context.Context, *Event) error { return tc.fnErr }, opts...)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, tc.req)

			require.Len(t, rec.ends, 1)
			d := rec.ends[0]
			assert.Equal(t, tc.status, w.Code, w.Body.String())
			assert.Equal(t, w.Code, d.Status)
			assert.Equal(t, tc.outcome, d.Outcome)
			if tc.noEvent {
				assert.Nil(t, d.Event)
			} else if assert.NotNil(t, d.Event) {
				assert.NotEmpty(t, d.Event.ID)
			}
			switch {
			case tc.err != nil:
				assert.ErrorIs(t, d.Err, tc.err)
			case tc.errContent != "":
				require.Error(t, d.Err)
				assert.Contains(t, d.Err.Error(), tc.errContent)
			default:
				assert.NoError(t, d.Err)
			}
			if d.Err != nil {
				assert.NotContains(t, d.Err.Error(), vectorSecret)
			}
		})
	}
}

// iotestErrReader fails every read.
type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("read failed") }

type traceKey struct{}

// Start's context is the delivery's: fn and End get it; several traces
// run in the order given, each Start getting the previous one's context.
func TestWebhookHandler_DeliveryTraceContextAndOrder(t *testing.T) {
	var calls []string
	traceNamed := func(name string) *DeliveryTrace {
		return &DeliveryTrace{
			Start: func(ctx context.Context, r *http.Request) context.Context {
				calls = append(calls, "start "+name+" "+r.Method)
				prev, _ := ctx.Value(traceKey{}).(string)
				return context.WithValue(ctx, traceKey{}, prev+name)
			},
			End: func(ctx context.Context, d Delivery) {
				calls = append(calls, "end "+name+" "+ctx.Value(traceKey{}).(string)+" "+string(d.Outcome))
			},
		}
	}
	var nilStart DeliveryTrace // nil hooks are skipped
	h := WebhookHandler(vectorSecret, func(ctx context.Context, ev *Event) error {
		calls = append(calls, "fn "+ctx.Value(traceKey{}).(string))
		return nil
	}, WithClock(webhookClockAt(vectorTime)), WithDeliveryTrace(traceNamed("a")), WithDeliveryTrace(&nilStart), WithDeliveryTrace(traceNamed("b")))
	w := deliver(h, []byte(vectorBody))
	assert.Equal(t, 200, w.Code)
	assert.Equal(t, []string{"start a POST", "start b POST", "fn ab", "end a ab processed", "end b ab processed"}, calls)
}

// A panicking fn is reported failed, with no status, and the panic goes on
// to net/http untouched.
func TestWebhookHandler_DeliveryTracePanickingFn(t *testing.T) {
	var rec endRecorder
	h := WebhookHandler(vectorSecret, func(context.Context, *Event) error { panic("boom") },
		WithClock(webhookClockAt(vectorTime)), WithDeliveryTrace(rec.trace()))
	assert.PanicsWithValue(t, "boom", func() { deliver(h, []byte(vectorBody)) })
	require.Len(t, rec.ends, 1)
	assert.Equal(t, DeliveryFailed, rec.ends[0].Outcome)
	assert.Zero(t, rec.ends[0].Status)
	assert.Equal(t, "evt_1", rec.ends[0].Event.ID)
	assert.ErrorContains(t, rec.ends[0].Err, "panicked")
}

// A nil DeliveryTrace is a misconfiguration: every delivery answered 500.
func TestWithDeliveryTrace_Nil(t *testing.T) {
	fn := &recordingFn{}
	h := WebhookHandler(vectorSecret, fn.handle, WithClock(webhookClockAt(vectorTime)), WithDeliveryTrace(nil), WithHandlerLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	w := deliver(h, []byte(vectorBody))
	assert.Equal(t, 500, w.Code)
	assert.Zero(t, fn.count())
}
