// Command ratelimit shows how the client copes with the API's rate limit: a
// client-side throttle (WithLimiter with a *rate.Limiter), the default of
// waiting for the window to reset, and the two ways to get a
// *botonom.RateLimitError back at once instead (WithRateLimitWait(false),
// WithMaxRetryWait).
//
//	go run ./examples/ratelimit
//
// Without BOTONOM_API_TOKEN it runs against the fake API of package
// botonomtest, started in-process with a limit of 5 requests a second. With
// a token it shows only the throttle: running a real token out of requests
// would block every other caller of it for up to a minute.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/time/rate"

	"github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/botonomtest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "ratelimit:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// The API when a token is set, else a fake API allowing 5 requests a second.
	newClient := botonom.NewClientFromEnv
	live := os.Getenv("BOTONOM_API_TOKEN") != ""
	if !live {
		srv, err := botonomtest.Start(botonomtest.WithRateLimit(5, time.Second))
		if err != nil {
			return err
		}
		defer srv.Close()
		newClient = func(opts ...botonom.Option) (*botonom.Client, error) { return srv.Client(opts...), nil }
		fmt.Println("(BOTONOM_API_TOKEN is not set: using the built-in fake API, limited to 5 requests a second)")
	}
	call := func(c *botonom.Client) error {
		_, _, err := c.Agents.List(ctx, &botonom.ListAgentsOptions{ListOptions: botonom.ListOptions{Limit: 1}})
		return err
	}

	// 1. A throttle of 4 requests a second stays under the API's limit:
	// the client waits for the limiter before every attempt. (No retries
	// here, so that a 429 would show as an error.)
	throttled, err := newClient(botonom.WithLimiter(rate.NewLimiter(4, 1)), botonom.WithMaxRetries(0))
	if err != nil {
		return err
	}
	start := time.Now()
	for range 6 {
		if err := call(throttled); err != nil {
			return fmt.Errorf("throttled: %w", err)
		}
	}
	r := throttled.Rate()
	fmt.Printf("throttled:      6 calls in %s, no 429; %d of %d left in this window\n",
		time.Since(start).Round(100*time.Millisecond), r.Remaining, r.Limit)
	if live {
		fmt.Println("(the rest needs the fake API: it runs the token out of requests)")
		return nil
	}

	// 2. By default, when the limit is spent the client waits for the
	// window to reset (Retry-After, X-RateLimit-Reset) and carries on.
	patient, err := newClient()
	if err != nil {
		return err
	}
	start = time.Now()
	for range 8 {
		if err := call(patient); err != nil {
			return fmt.Errorf("patient: %w", err)
		}
	}
	fmt.Printf("waiting:        8 calls in %s: the client waited for the window to reset\n",
		time.Since(start).Round(100*time.Millisecond))

	// 3. WithRateLimitWait(false): once an answer says the limit is spent,
	// the next call is not sent; it fails at once.
	impatient, err := newClient(botonom.WithRateLimitWait(false))
	if err != nil {
		return err
	}
	err = callUntilLimited(impatient, call)
	var rle *botonom.RateLimitError
	if !errors.As(err, &rle) {
		return fmt.Errorf("no wait: expected a *botonom.RateLimitError, got %v", err)
	}
	fmt.Printf("no wait:        %s (attempts: %d)\n", retryIn(rle), rle.Attempts)

	// 4. WithMaxRetryWait: a 429 asking for a longer wait than this is not
	// slept through but returned, for the caller to decide.
	hurried, err := newClient(botonom.WithMaxRetryWait(100 * time.Millisecond))
	if err != nil {
		return err
	}
	err = callUntilLimited(hurried, call)
	if !errors.As(err, &rle) {
		return fmt.Errorf("max wait: expected a *botonom.RateLimitError, got %v", err)
	}
	fmt.Printf("max wait 100ms: %s (attempts: %d)\n", retryIn(rle), rle.Attempts)
	fmt.Println("                error text:", rle)
	if !errors.Is(err, botonom.ErrRateLimited) {
		return errors.New("errors.Is(err, botonom.ErrRateLimited) should hold")
	}
	return nil
}

// callUntilLimited calls until an error (at most 20 times) and returns it.
func callUntilLimited(c *botonom.Client, call func(*botonom.Client) error) error {
	for range 20 {
		if err := call(c); err != nil {
			return err
		}
	}
	return errors.New("20 calls and still not limited")
}

// retryIn says when a rate-limited call may be tried again.
func retryIn(rle *botonom.RateLimitError) string {
	return fmt.Sprintf("rate limited, retry in %s (%d of %d left)", rle.RetryAfter.Round(100*time.Millisecond), rle.Rate.Remaining, rle.Rate.Limit)
}
