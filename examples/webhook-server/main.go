// Command webhook-server receives Botonom webhook deliveries: it verifies
// each one's signature with the secret the webhook was registered with,
// decodes the event and logs what happened, once per event: deliveries
// come at least once, and the handler de-duplicates them by event ID
// (botonom.WithDeduplication with an in-memory store; a service with many
// replicas gives each one botonomredis.NewDedupStore on a shared Redis).
//
//	BOTONOM_WEBHOOK_SECRET=whsec_… go run ./examples/webhook-server -addr 127.0.0.1:8080
//
// To try it without the API, send it a signed sample delivery from another
// terminal with the botonom command (cmd/botonom); the same delivery five
// times is processed once (de-duplication):
//
//	botonom trigger agent.task.completed --url http://127.0.0.1:8080/botonom/webhook --secret "$BOTONOM_WEBHOOK_SECRET" --repeat 5
//
// Deliveries are POSTed to /botonom/webhook. Stop it with Ctrl-C: requests
// in flight are finished before it exits.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/botonom/botonom-go"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	flag.Parse()

	secret := os.Getenv("BOTONOM_WEBHOOK_SECRET")
	if secret == "" {
		fmt.Fprintln(os.Stderr, "webhook-server: set BOTONOM_WEBHOOK_SECRET to the secret the webhook was registered with (whsec_…)")
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	store, err := botonom.NewMemoryDedupStore()
	if err != nil {
		fmt.Fprintln(os.Stderr, "webhook-server:", err)
		os.Exit(1)
	}

	mux := http.NewServeMux()
	mux.Handle("/botonom/webhook", botonom.WebhookHandler(secret, handleEvent(logger),
		botonom.WithHandlerLogger(logger), botonom.WithDeduplication(store)))

	srv := &http.Server{
		Addr:              *addr,
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	errc := make(chan error, 1)
	go func() {
		logger.Info("listening", "addr", *addr, "path", "/botonom/webhook")
		fmt.Fprintf(os.Stderr, "Try it: botonom trigger agent.task.completed --url http://%s/botonom/webhook --secret \"$BOTONOM_WEBHOOK_SECRET\"\n", *addr)
		errc <- srv.ListenAndServe()
	}()

	select {
	case err := <-errc:
		logger.Error("server stopped", "error", err)
		os.Exit(1)
	case <-ctx.Done():
	}
	stop() // a second Ctrl-C kills the process at once

	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		logger.Error("shutdown", "error", err)
		os.Exit(1)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Error("server stopped", "error", err)
		os.Exit(1)
	}
}

// handleEvent returns the function WebhookHandler calls once for each
// verified event. Returning an error answers 500, and the API delivers the
// event again later, when it runs again.
func handleEvent(logger *slog.Logger) func(context.Context, *botonom.Event) error {
	return func(ctx context.Context, ev *botonom.Event) error {
		log := logger.With("event_id", ev.ID, "event_type", string(ev.Type))
		switch ev.Type {
		case botonom.EventTaskCompleted:
			task, err := ev.Task()
			if err != nil {
				return err
			}
			log.InfoContext(ctx, "task completed", "task_id", task.ID, "agent_id", task.AgentID,
				"status", string(task.Status), "tokens_used", task.TokensUsed)
		case botonom.EventMessageReceived, botonom.EventMessageSent:
			msg, err := ev.Message()
			if err != nil {
				return err
			}
			log.InfoContext(ctx, "message", "message_id", msg.ID, "agent_id", msg.AgentID, "channel", msg.Channel)
		case botonom.EventStatusChanged:
			sc, err := ev.StatusChange()
			if err != nil {
				return err
			}
			log.InfoContext(ctx, "agent status changed", "agent_id", sc.AgentID,
				"from", string(sc.PreviousStatus), "to", string(sc.Status))
		case botonom.EventSkillInstalled:
			si, err := ev.SkillInstalled()
			if err != nil {
				return err
			}
			log.InfoContext(ctx, "skill installed", "agent_id", si.AgentID, "skill", si.Skill)
		case botonom.EventInvoiceCreated:
			inv, err := ev.Invoice()
			if err != nil {
				return err
			}
			log.InfoContext(ctx, "invoice created", "invoice_id", inv.ID,
				"amount_due_cents", inv.AmountDue, "currency", inv.Currency)
		default:
			// A type newer than this SDK: acknowledge it so that the API
			// does not redeliver it forever.
			log.InfoContext(ctx, "event of an unknown type ignored")
		}
		return nil
	}
}
