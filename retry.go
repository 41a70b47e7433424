package botonom

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// The retry loop is go-retryablehttp's, configured so that every choice is
// the SDK's: checkRetry asks decide, the one function that says whether to
// retry, how long to wait and which error the caller gets; prepareRetry
// sleeps that wait (retryablehttp's own backoff is always 0); nothing else
// sleeps between the attempts of a call.

// newRetryableClient configures go-retryablehttp with the SDK's policy; none
// of its defaults (stderr logger, backoff, attempt cap, "giving up" error)
// survive.
func (c *Client) newRetryableClient() *retryablehttp.Client {
	return &retryablehttp.Client{
		HTTPClient:     c.newHTTPClient(),
		Logger:         nil,         // the SDK logs through its own slog.Logger, in transport
		RetryMax:       math.MaxInt, // decide caps the attempts, per call
		RequestLogHook: numberAttempt,
		CheckRetry:     c.checkRetry,
		Backoff:        noBackoff,
		PrepareRetry:   c.prepareRetry,
		ErrorHandler:   passthroughErrorHandler,
	}
}

// decision is what decide says about the outcome of one attempt.
type decision struct {
	retry  bool
	wait   time.Duration // before the retry
	reason WaitReason
	// err is what the caller gets if the call ends here: the typed error of
	// a non-2xx answer, the transport error, or nil after a 2xx.
	err error
}

// decide is the SDK's retry policy, in one place. From the call (its
// request, options and attempts so far) and the outcome of its latest
// attempt — an answer or a transport error — it decides:
//
//   - whether to retry: 429 on any method (the API did nothing); 409
//     idempotency_key_in_use on a POST with its key (the first attempt is
//     still running: the retry gets its answer); 408, 500, 502, 503, 504 and
//     transport errors only on requests that may be repeated
//     (retryableRequest), while the client's retry budget lasts. Never any
//     other status, never once the context is done, never a TLS, redirect
//     or pre-send error, never past MaxRetries;
//   - how long to wait: Retry-After when the answer has one, winning over
//     everything else; else after a 429 that spent the limit, until
//     X-RateLimit-Reset; else exponential backoff with full jitter. A wait
//     the API asks for that is longer than MaxRetryWait is not slept: the
//     call ends at once;
//   - which error the caller gets if the call ends here: the typed error of
//     the answer (checkResponse), with Attempts set, or the transport error.
func (c *Client) decide(info *callInfo, resp *http.Response, err error) decision {
	cost := 0 // retry-budget tokens a retry takes
	if err != nil {
		d := decision{err: err}
		if info.Err() != nil || !info.retryable || !retryableTransportError(err) {
			return d
		}
		cost = retryCost
		if isTimeout(err) {
			cost = retryTimeoutCost
		}
		return c.planRetry(info, d, nil, cost)
	}
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return decision{}
	}
	apiErr := checkResponse(resp, info.cfg.now)
	setAttempts(apiErr, info.sent)
	d := decision{err: apiErr}
	if info.Err() != nil {
		return d
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		// Paced by the API itself: free.
	case http.StatusConflict:
		if !keyInUse(apiErr) || !info.keyed {
			return d
		}
		// Nothing was done, and the retry is bound to the same key: free.
	case http.StatusRequestTimeout, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		if !info.retryable {
			return d
		}
		cost = retryCost
	default:
		return d
	}
	return c.planRetry(info, d, resp, cost)
}

// planRetry completes a decision to retry, if the call may: attempts left,
// a wait within MaxRetryWait, and cost tokens in the retry budget.
func (c *Client) planRetry(info *callInfo, d decision, resp *http.Response, cost int) decision {
	cfg := info.cfg
	if info.attempt >= cfg.maxRetries {
		return d
	}
	if wait, reason := serverWait(resp, cfg.now()); reason != "" {
		if wait > cfg.maxRetryWait {
			return d
		}
		d.wait, d.reason = wait, reason
	} else {
		d.wait, d.reason = backoff(cfg, info.attempt), WaitBackoff
	}
	if cost > 0 && !c.budget.take(info, cost) {
		return d
	}
	d.retry = true
	return d
}

// backoff is the wait before retry n+1 (n counting from 0) when the API
// asked for none: exponential backoff with full jitter, a random time in
// [0, min(RetryWaitMax, RetryWaitMin·2ⁿ)], never above MaxRetryWait.
func backoff(cfg *config, n int) time.Duration {
	lo, hi := cfg.retryWaitMin, cfg.retryWaitMax
	ceiling := hi
	if n < 32 && lo<<n > 0 && lo<<n < hi {
		ceiling = lo << n
	}
	return rand.N(min(ceiling, cfg.maxRetryWait) + 1)
}

// keyInUse reports whether err is the API's 409 idempotency_key_in_use.
func keyInUse(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Code == "idempotency_key_in_use"
}

// setAttempts records how many requests the call sent in the typed error.
func setAttempts(err error, n int) {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		apiErr.Attempts = n
	}
}

// checkRetry is retryablehttp's hook after each attempt: it records decide's
// decision for prepareRetry and do.
func (c *Client) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	info := callInfoFrom(ctx)
	if err == nil && resp == info.decided {
		// retryablehttp asks again after decodeAnswer found nothing wrong:
		// the answer (its body read by checkResponse) is decided already.
		return info.decision.retry, nil
	}
	info.decided = resp
	info.decision = c.decide(info, resp, err)
	if info.decision.retry {
		info.traceWait(Wait{Reason: info.decision.reason, Duration: info.decision.wait, Attempt: info.attempt + 1, Cause: info.decision.err})
	}
	return info.decision.retry, nil
}

// noBackoff is retryablehttp's wait: none, since prepareRetry sleeps the
// wait decide chose.
func noBackoff(_, _ time.Duration, _ int, _ *http.Response) time.Duration { return 0 }

// prepareRetry runs before each retry, on a new shallow copy of the
// request, after the previous answer was drained: it sleeps the wait
// decide chose (ending early with the context) and gives the retry its own
// header map and a fresh copy of the body from GetBody. net/http's writer
// of the previous attempt may still be reading that attempt's map (a
// server that answers before it has read the request): numberAttempt
// writes into the retry's own.
func (c *Client) prepareRetry(req *http.Request) error {
	info := callInfoFrom(req.Context())
	if err := c.sleep(info, info.decision.wait); err != nil {
		return err
	}
	req.Header = req.Header.Clone()
	if req.GetBody == nil || req.Body == nil || req.Body == http.NoBody {
		return nil
	}
	body, err := req.GetBody()
	if err != nil {
		return err
	}
	req.Body = body
	return nil
}

// sleepFor waits d or until ctx is done, whichever comes first.
func sleepFor(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// numberAttempt runs before each attempt: it numbers the attempt in
// X-Botonom-Retry-Count and for decide, and clears the previous attempt's
// deadline (the transport sets the new one at the first request sent).
func numberAttempt(_ retryablehttp.Logger, req *http.Request, attempt int) {
	info := callInfoFrom(req.Context())
	info.attempt = attempt
	info.deadline = time.Time{}
	if attempt == 0 {
		// The call's own "0", not a slice shared with other requests; a
		// retry writes a new slice into its own map (prepareRetry).
		info.firstRetryCount[0] = "0"
		req.Header[headerRetryCount] = info.firstRetryCount[:]
		return
	}
	req.Header[headerRetryCount] = []string{strconv.Itoa(attempt)}
}

// passthroughErrorHandler hands the last answer and error to do unchanged,
// rather than retryablehttp's "giving up" text.
func passthroughErrorHandler(resp *http.Response, err error, _ int) (*http.Response, error) {
	return resp, err
}

// retryableRequest reports whether a request may be sent again after an
// answer that says nothing about whether the API acted on it (5xx, a
// dropped connection): reads and idempotent writes, and POST only with an
// Idempotency-Key, which makes the API treat the repeat as the same call.
func retryableRequest(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return headerValue(req.Header, headerIdempotencyKey) != ""
}

// retryableTransportError reports whether an error without a (whole) answer
// may be retried: not TLS failures, redirect-policy failures, the SDK's own
// pre-send errors or a 2xx body that arrived whole but does not decode,
// which would fail the same way again; a body cut short may be. Each is
// matched by its type or sentinel, never by its text. (An https:// URL
// answered in plain HTTP is a tls.RecordHeaderError that net/http's Client
// turns into http.ErrSchemeMismatch.)
func retryableTransportError(err error) bool {
	var stop *stopError
	var redirect *redirectError
	var decode *decodeError
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	var authErr x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invErr x509.CertificateInvalidError
	if errors.As(err, &decode) {
		return !decode.whole
	}
	return !errors.Is(err, http.ErrSchemeMismatch) && !errors.As(err, &stop) && !errors.As(err, &redirect) &&
		!errors.As(err, &certErr) && !errors.As(err, &recErr) &&
		!errors.As(err, &authErr) && !errors.As(err, &hostErr) && !errors.As(err, &invErr)
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &te) && te.Timeout())
}

// stopError marks an error from the SDK's own pre-send steps (the Limiter
// refused): never retried, returned to the caller as is.
type stopError struct{ err error }

func (e *stopError) Error() string { return e.err.Error() }
func (e *stopError) Unwrap() error { return e.err }

// Retry budget: a token bucket, shared by a client and the clients WithToken
// makes from it, that bounds the extra load
// retries add during an outage (the AWS SDKs' retry quota is the model).
// It holds retryBudgetCapacity tokens; a retry after a 5xx or a transport
// error takes retryCost (retryTimeoutCost after a timeout); a successful
// call gives back what it took, or retrySuccessRefill if it took nothing.
// So a full bucket pays for 100 retries in a row, and once it is empty a
// call returns its last error instead of retrying until successes refill
// it. Retries after a 429 or a 409 idempotency_key_in_use are paced by the
// API itself and take nothing.
const (
	retryBudgetCapacity = 500
	retryCost           = 5
	retryTimeoutCost    = 10
	retrySuccessRefill  = 1
)

type retryBudget struct {
	mu     sync.Mutex
	tokens int
}

func newRetryBudget() *retryBudget { return &retryBudget{tokens: retryBudgetCapacity} }

// take spends cost tokens for a retry of info's call, if there are enough.
func (b *retryBudget) take(info *callInfo, cost int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tokens < cost {
		return false
	}
	b.tokens -= cost
	info.budgetSpent += cost
	return true
}

// succeeded refills the bucket after a 2xx answer.
func (b *retryBudget) succeeded(info *callInfo) {
	refill := info.budgetSpent
	if refill == 0 {
		refill = retrySuccessRefill
	}
	b.mu.Lock()
	b.tokens = min(b.tokens+refill, retryBudgetCapacity)
	b.mu.Unlock()
}
