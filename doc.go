// Package botonom is the official Go client for the Botonom REST API: list
// the AI agents of a workspace, send them messages, read their task
// history, install skills, register webhooks and read token usage.
//
// # Two-minute tour
//
// Build one Client at start-up and share it; it is safe for concurrent use:
//
//	client, err := botonom.NewClient(os.Getenv("BOTONOM_API_TOKEN"))
//	if err != nil {
//		log.Fatal(err)
//	}
//
// Every endpoint is a method of a service (Agents, Webhooks, Analytics)
// that takes a context and returns the typed result, the *Response (rate
// limit, request ID, next cursor) and an error:
//
//	msg, _, err := client.Agents.SendMessage(ctx, "agt_abc123", &botonom.SendMessageRequest{
//		Content:  "Book a table for 4 at 7pm tomorrow",
//		Metadata: map[string]string{"customer_id": "cust_456"},
//	})
//
// Lists come a page at a time (List, ListTasks) or as an iterator that
// follows cursors and stops requesting when the loop breaks:
//
//	for agent, err := range client.Agents.ListAll(ctx, nil) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(agent.Name, agent.Status)
//	}
//
// # Errors
//
// Every non-2xx answer is an *APIError (a 429 is a *RateLimitError) with
// the status, the API's error type, code, message and the request ID.
// Match them with errors.Is against the sentinels, or errors.As:
//
//	if errors.Is(err, botonom.ErrNotFound) { ... }
//	var rle *botonom.RateLimitError
//	if errors.As(err, &rle) { wait(rle.RetryAfter) }
//
// Bad arguments (empty IDs, empty content, a limit outside 1–100, malformed
// event names) are errors before anything is sent; they match
// errors.Is(err, botonom.ErrInvalidArgument).
//
// # Options for one call
//
// The options of NewClient also work for one call, given last to any
// method; what a call is given wins, for that call only:
//
//	msg, _, err := client.Agents.SendMessage(ctx, "agt_abc123", req,
//		botonom.WithIdempotencyKey("order-1042"), // your own key: safe to resend after a crash
//		botonom.WithTimeout(5*time.Second))
//
// WithMiddleware wraps every attempt (the request as sent, the raw answer);
// WithCallTrace sees each call whole — its operation, waits, attempts and
// result — for metrics and tracing (the otelbotonom module builds on both).
//
// # Retries and rate limits
//
// One function decides every retry. Calls are retried (DefaultMaxRetries
// times) on 429 on any method, and on 408, 500, 502, 503, 504, dropped
// connections and answers cut short for GET, PUT and for POST, which
// always carries an Idempotency-Key reused by every retry (a 409
// idempotency_key_in_use, the first attempt still running, is retried
// too), so a message is never lost nor delivered twice. Waits honour
// Retry-After, else X-RateLimit-Reset (measured against the answer's Date
// header); a wait longer than WithMaxRetryWait is not slept: the call ends
// with that answer's error. When the last answer said the limit is spent,
// the next call waits for the window to reset instead of sending a request
// bound to fail. Every attempt is bounded (DefaultTimeout, or WithTimeout).
// WithLimiter adds a client-side throttle; a client-wide retry budget keeps
// retries from multiplying load during an outage.
//
// # Webhooks
//
// Deliveries carry an X-Botonom-Signature header; WebhookHandler verifies
// it and hands the typed Event to your function. VerifySignature,
// ConstructEvent and SignPayload are the building blocks. Delivery is at
// least once; WithDeduplication (NewMemoryDedupStore, or the botonomredis
// module's store for many replicas) makes the handler run your function
// once per event. The signature covers the raw body: behind a web framework, verify the bytes as
// received (recipes for net/http, chi, gin and echo are in the repository's
// examples/frameworks); SignatureFailureHint says what most likely went
// wrong when they do not match.
//
// # Debugging
//
// WithDebug (or WithDebugLogger) shows every attempt's request, a curl line
// that sends it again, and the answer, with the token, webhook secrets and
// cookies masked.
//
// # Testing
//
// Package botonomtest runs an in-memory fake of the API that the client
// can be pointed at, with fault injection and signed webhook deliveries.
package botonom
