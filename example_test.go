package botonom_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/botonom/botonom-go"
	"github.com/botonom/botonom-go/botonomtest"
)

func ExampleNewClient() {
	// A fake API stands in for https://api.botonom.com/v1 here; in
	// production, pass os.Getenv("BOTONOM_API_TOKEN") and no base URL.
	srv, err := botonomtest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	client, err := botonom.NewClient(botonomtest.Token,
		botonom.WithBaseURL(srv.URL()),
		botonom.WithUserAgent("booking-service/1.0"),
		botonom.WithTimeout(10*time.Second),
	)
	if err != nil {
		log.Fatal(err)
	}

	agent, resp, err := client.Agents.Get(context.Background(), "agt_abc123")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(agent.Name, agent.Status, resp.RequestID)
	// Output: Reservations online req_000001
}

func ExampleWithBaseURL() {
	// A host alone means its /v1/: the address "botonom mock" prints works
	// with or without the path.
	client, err := botonom.NewClient("btm_sk_example", botonom.WithBaseURL("http://127.0.0.1:12111"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(client.BaseURL())
	// Output: http://127.0.0.1:12111/v1/
}

func ExampleAgentsService_SendMessage() {
	srv, err := botonomtest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	client := srv.Client()

	msg, _, err := client.Agents.SendMessage(context.Background(), "agt_abc123", &botonom.SendMessageRequest{
		Content:  "Book a table for 4 at 7pm tomorrow",
		Metadata: map[string]string{"customer_id": "cust_456"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(msg.ID, msg.Status)
	// Output: msg_000001 delivered
}

func ExampleAgentsService_ListAll() {
	srv, err := botonomtest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	client := srv.Client()

	// Two agents per page: the loop follows the cursor to the second page.
	opts := &botonom.ListAgentsOptions{ListOptions: botonom.ListOptions{Limit: 2}}
	for agent, err := range client.Agents.ListAll(context.Background(), opts) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(agent.ID, agent.Name, agent.Status)
	}
	// Output:
	// agt_abc123 Reservations online
	// agt_def456 Support online
	// agt_ghi789 Billing offline
}

func ExampleVerifySignature() {
	// The raw body and X-Botonom-Signature header of a delivery.
	payload := []byte(`{"id":"evt_1","type":"agent.task.completed","created_at":"2024-02-18T14:30:00Z","data":{"id":"tsk_001","agent_id":"agt_abc123","status":"completed"}}`)
	header := "t=1708272000,v1=4c533e86114e90bcf1dc89dd139a6cfe8f04451416164483fce84c7342a68f2b"
	secret := "whsec_your_secret_here"

	// The delivery was signed at 2024-02-18 16:00 UTC; a minute later it is
	// fresh. Leave WithClock out in real code: the default is time.Now.
	now := func() time.Time { return time.Unix(1708272000, 0).Add(time.Minute) }

	err := botonom.VerifySignature(payload, header, secret, botonom.WithClock(now))
	fmt.Println("authentic:", err == nil)

	tampered := bytes.Replace(payload, []byte(`"status":"completed"`), []byte(`"status":"failed"`), 1)
	err = botonom.VerifySignature(tampered, header, secret, botonom.WithClock(now))
	fmt.Println("tampered:", errors.Is(err, botonom.ErrSignatureMismatch))

	tooLate := func() time.Time { return time.Unix(1708272000, 0).Add(time.Hour) }
	err = botonom.VerifySignature(payload, header, secret, botonom.WithClock(tooLate))
	fmt.Println("an hour later:", errors.Is(err, botonom.ErrSignatureExpired))
	// Output:
	// authentic: true
	// tampered: true
	// an hour later: true
}

func ExampleWebhookHandler() {
	secret := "whsec_example_secret"
	handler := botonom.WebhookHandler(secret, func(ctx context.Context, ev *botonom.Event) error {
		// Only verified deliveries get here.
		if ev.Type != botonom.EventTaskCompleted {
			return nil // acknowledge the others
		}
		task, err := ev.Task()
		if err != nil {
			return err // answered 500: the API delivers again
		}
		fmt.Println(ev.ID, ev.Type, task.ID, task.Status)
		return nil
	})
	// In a service: http.Handle("/botonom/webhook", handler).
	receiver := httptest.NewServer(handler)
	defer receiver.Close()

	// The fake API delivers a signed event, as Botonom would.
	srv, err := botonomtest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	resp, err := srv.SendEvent(context.Background(), receiver.URL, secret, botonom.EventTaskCompleted,
		&botonom.Task{ID: "tsk_001", AgentID: "agt_abc123", Status: botonom.TaskStatusCompleted})
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println("answer:", resp.Status)
	// Output:
	// evt_000001 agent.task.completed tsk_001 completed
	// answer: 200 OK
}

func ExampleWithMiddleware() {
	srv, err := botonomtest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	// A middleware runs around every attempt, retries included: it sees
	// the request as sent and the raw answer.
	logAttempts := func(req *http.Request, next botonom.MiddlewareNext) (*http.Response, error) {
		req.Header.Set("X-Tenant", "acme") // or add a header with WithHeader
		resp, err := next(req)
		if err == nil {
			call, _ := botonom.CallFromContext(req.Context())
			fmt.Println(call.Operation, req.Method, req.URL.Path, "attempt", req.Header.Get("X-Botonom-Retry-Count"), "→", resp.StatusCode)
		}
		return resp, err
	}
	client := srv.Client(botonom.WithMiddleware(logAttempts))

	srv.FailNext(1, http.StatusServiceUnavailable) // the first attempt fails; the client retries
	if _, _, err := client.Agents.Get(context.Background(), "agt_abc123"); err != nil {
		log.Fatal(err)
	}
	// Output:
	// agents.get GET /v1/agents/agt_abc123 attempt 0 → 503
	// agents.get GET /v1/agents/agt_abc123 attempt 1 → 200
}

func ExampleWithCallTrace() {
	srv, err := botonomtest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	// A CallTrace sees each call whole: its waits and how it ended — the
	// place for your own metrics, or a tracer's span per call.
	trace := &botonom.CallTrace{
		Wait: func(ctx context.Context, call botonom.Call, w botonom.Wait) {
			fmt.Println(call.Operation, "waits:", w.Reason, "before attempt", w.Attempt)
		},
		End: func(ctx context.Context, call botonom.Call, r botonom.CallResult) {
			fmt.Println(call.Operation, call.Route, "attempts:", r.Attempts, "status:", r.Response.StatusCode, "error:", r.Err)
		},
	}
	client := srv.Client(botonom.WithCallTrace(trace))

	srv.FailNext(2, http.StatusBadGateway)
	_, _, err = client.Agents.SendMessage(context.Background(), "agt_abc123", &botonom.SendMessageRequest{Content: "hi"},
		botonom.WithIdempotencyKey("order-1042")) // per-call options come last
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// agents.send_message waits: backoff before attempt 1
	// agents.send_message waits: backoff before attempt 2
	// agents.send_message /agents/{id}/message attempts: 3 status: 201 error: <nil>
}

// Exactly once without WebhookHandler: inside your own framework, verify
// with ConstructEvent, then claim the event in a DedupStore, process it,
// and mark it done (or release it on failure, so that a redelivery
// processes it). The same store across replicas (botonomredis) makes it
// exactly once across them.
func ExampleConstructEvent_deduplication() {
	store, err := botonom.NewMemoryDedupStore()
	if err != nil {
		log.Fatal(err)
	}
	secret := "whsec_example_secret"
	payload := []byte(`{"id":"evt_42","type":"agent.task.completed","created_at":"2026-02-18T14:30:00Z","data":{"id":"tsk_001"}}`)
	header := botonom.SignPayload(payload, secret, time.Now())

	receive := func(ctx context.Context) (status int) {
		ev, err := botonom.ConstructEvent(payload, header, secret)
		if err != nil {
			return http.StatusUnauthorized // a forged delivery never reaches the store
		}
		claim, err := store.Claim(ctx, ev.ID, botonom.DefaultDedupLease)
		switch {
		case err != nil:
			return http.StatusServiceUnavailable // the API redelivers later
		case claim.Status == botonom.DedupDone:
			return http.StatusOK // processed already
		case claim.Status == botonom.DedupInFlight:
			return http.StatusConflict // another delivery is processing it
		}
		fmt.Println("processing", ev.ID)
		if err := process(ev); err != nil {
			_ = store.Release(ctx, ev.ID, claim.Token)
			return http.StatusInternalServerError
		}
		_ = store.Done(ctx, ev.ID, claim.Token, botonom.DefaultDedupRetention)
		return http.StatusOK
	}

	ctx := context.Background()
	fmt.Println(receive(ctx))
	fmt.Println(receive(ctx)) // the API delivers it again
	// Output:
	// processing evt_42
	// 200
	// 200
}

func process(*botonom.Event) error { return nil }

func ExampleWithOrdering() {
	store, err := botonom.NewMemoryDedupStore() // many replicas: botonomredis.NewDedupStore
	if err != nil {
		log.Fatal(err)
	}
	secret := "whsec_example_secret"
	handler := botonom.WebhookHandler(secret, func(ctx context.Context, ev *botonom.Event) error {
		sc, err := ev.StatusChange()
		if err != nil {
			return err
		}
		fmt.Println("applied:", sc.AgentID, sc.Status, ev.CreatedAt.Format(time.TimeOnly))
		return nil
	}, botonom.WithOrdering(store), botonom.WithDeduplication(store))

	deliver := func(id, status, createdAt string) {
		body := []byte(`{"id":"` + id + `","type":"agent.status.changed","created_at":"2026-02-18T` + createdAt +
			`Z","data":{"agent_id":"agt_abc123","status":"` + status + `"}}`)
		r := httptest.NewRequest(http.MethodPost, "/botonom/webhook", bytes.NewReader(body))
		r.Header.Set(botonom.SignatureHeader, botonom.SignPayload(body, secret, time.Now()))
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		fmt.Println(id, status, "sent", createdAt, "→", w.Code)
	}
	deliver("evt_2", "online", "10:00:07")
	deliver("evt_1", "offline", "10:00:05") // a retry that arrives late: stale
	deliver("evt_3", "offline", "10:00:09")
	// Output:
	// applied: agt_abc123 online 10:00:07
	// evt_2 online sent 10:00:07 → 200
	// evt_1 offline sent 10:00:05 → 200
	// applied: agt_abc123 offline 10:00:09
	// evt_3 offline sent 10:00:09 → 200
}

func ExampleWithDeliveryTrace() {
	store, err := botonom.NewMemoryDedupStore()
	if err != nil {
		log.Fatal(err)
	}
	// Your own metrics: count the deliveries by outcome.
	counts := map[botonom.DeliveryOutcome]int{}
	trace := &botonom.DeliveryTrace{
		End: func(ctx context.Context, d botonom.Delivery) {
			counts[d.Outcome]++
			id := "-" // no event before the signature is verified
			if d.Event != nil {
				id = d.Event.ID
			}
			fmt.Println(d.Status, d.Outcome, id, d.Err)
		},
	}
	secret := "whsec_example_secret"
	handler := botonom.WebhookHandler(secret, func(ctx context.Context, ev *botonom.Event) error { return nil },
		botonom.WithDeduplication(store), botonom.WithDeliveryTrace(trace))

	deliver := func(signWith string) {
		body := []byte(`{"id":"evt_1","type":"agent.task.completed","created_at":"2026-02-18T10:00:00Z","data":{}}`)
		r := httptest.NewRequest(http.MethodPost, "/botonom/webhook", bytes.NewReader(body))
		r.Header.Set(botonom.SignatureHeader, botonom.SignPayload(body, signWith, time.Now()))
		handler.ServeHTTP(httptest.NewRecorder(), r)
	}
	deliver(secret)
	deliver(secret) // redelivered
	deliver("whsec_forger")
	fmt.Println(counts)
	// Output:
	// 200 processed evt_1 <nil>
	// 200 duplicate evt_1 <nil>
	// 401 refused - botonom: webhook signature mismatch
	// map[duplicate:1 processed:1 refused:1]
}

// A platform serving many workspaces builds one client with the options
// they all share, then one per workspace token from it, kept while the
// workspace is connected: they share one connection pool, never a rate
// limit.
func ExampleClient_WithToken() {
	base, err := botonom.NewClient("btm_sk_platform", botonom.WithUserAgent("platform/1.0"))
	if err != nil {
		log.Fatal(err)
	}
	clients := map[string]*botonom.Client{} // by workspace, guarded by a mutex in a real service
	for id, token := range map[string]string{"ws_1": "btm_sk_first", "ws_2": "btm_sk_second"} {
		if clients[id], err = base.WithToken(token); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println(len(clients), clients["ws_1"].BaseURL() == base.BaseURL())
	// Output: 2 true
}
