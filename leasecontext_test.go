package botonom

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fn's context under a claim ends when fn returns: a fn that keeps it (in
// a goroutine of its own, say) and waits on it afterwards finds it done,
// rather than starting a timer that lives until the lease's deadline.
func TestWebhookHandler_FnContextEndsWhenFnReturns(t *testing.T) {
	guards := map[string]func(*MemoryDedupStore) []HandlerOption{
		"de-duplication": func(s *MemoryDedupStore) []HandlerOption { return []HandlerOption{WithDeduplication(s)} },
		"ordering":       func(s *MemoryDedupStore) []HandlerOption { return []HandlerOption{WithOrdering(s)} },
		"both": func(s *MemoryDedupStore) []HandlerOption {
			return []HandlerOption{WithDeduplication(s), WithOrdering(s)}
		},
	}
	for name, guard := range guards {
		t.Run(name, func(t *testing.T) {
			store, err := NewMemoryDedupStore()
			require.NoError(t, err)
			var kept context.Context
			opts := append(guard(store), WithClock(webhookClockAt(vectorTime)))
			h := WebhookHandler(vectorSecret, func(ctx context.Context, _ *Event) error {
				kept = ctx
				return nil
			}, opts...)
			require.Equal(t, http.StatusOK, deliver(h, statusEvent("evt_1", "agt_1", "online", 1)).Code)
			assert.ErrorIs(t, kept.Err(), context.Canceled, "Err before Done")
			select {
			case <-kept.Done():
			default:
				t.Fatal("fn's context is not done after fn returned: waiting on it started a timer that runs until the deadline")
			}
			child, cancel := context.WithCancel(kept)
			defer cancel()
			assert.ErrorIs(t, child.Err(), context.Canceled, "a context derived after fn returned")
		})
	}
}
