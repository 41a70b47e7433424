package botonom

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of webhook de-duplication (WithDeduplication).
const (
	// DefaultDedupLease is how long a delivery holds the claim on its event
	// while fn runs: 5 minutes (WithDedupLease). fn's context ends before.
	DefaultDedupLease = 5 * time.Minute
	// DefaultDedupRetention is how long an event is remembered as done:
	// 72 hours (WithDedupRetention), longer than the API redelivers.
	DefaultDedupRetention = 72 * time.Hour
	// DefaultMaxDoneEntries is how many done events a MemoryDedupStore
	// remembers at most: 100,000 (WithMaxDoneEntries).
	DefaultMaxDoneEntries = 100_000
)

// DedupStatus is what a DedupStore knows about an event ID when a delivery
// claims it.
type DedupStatus int

// The answers of DedupStore.Claim.
const (
	// DedupClaimed: the event was neither done nor claimed; it is now
	// claimed by this delivery, under DedupClaim.Token, for the lease.
	DedupClaimed DedupStatus = iota + 1
	// DedupDone: the event was processed already.
	DedupDone
	// DedupInFlight: another delivery holds a claim whose lease has not
	// ended.
	DedupInFlight
	// DedupStale: an OrderStore processed a newer state of the entity
	// already (OrderStore.ClaimState only); the event is acknowledged
	// without processing.
	DedupStale
)

// String returns "claimed", "done", "in flight" or "stale".
func (s DedupStatus) String() string {
	switch s {
	case DedupClaimed:
		return "claimed"
	case DedupDone:
		return "done"
	case DedupInFlight:
		return "in flight"
	case DedupStale:
		return "stale"
	}
	return "DedupStatus(" + strconv.Itoa(int(s)) + ")"
}

// DedupClaim is the answer of DedupStore.Claim.
type DedupClaim struct {
	Status DedupStatus
	// Token identifies this claim (DedupClaimed only): Done and Release
	// act only on the claim that holds it.
	Token string
	// Remaining is how long the claim of the delivery in flight still
	// lasts (DedupInFlight only; 0 when the store cannot tell).
	Remaining time.Duration
}

// ErrDedupClaimLost is what DedupStore.Done and Release return when the
// event is claimed by another delivery, because this one's lease ended
// first: the newer claim is left alone.
var ErrDedupClaimLost = errors.New("botonom: de-duplication claim lost to a newer delivery")

// DedupStore records which webhook events are being processed and which are
// done, so that a handler given WithDeduplication runs fn once per event ID.
// Each method is one atomic step, safe for concurrent use by many handlers;
// a store is one namespace: handlers that share it share one record of what
// was processed. NewMemoryDedupStore is one for a single process; the
// botonomredis module has one for many replicas.
//
// Use it directly to de-duplicate without WebhookHandler (see the example
// of ConstructEvent with a store): Claim, then process, then Done on
// success or Release on failure.
type DedupStore interface {
	// Claim claims eventID for lease unless it is done or claimed by a
	// lease that has not ended. An error means the store could not tell.
	Claim(ctx context.Context, eventID string, lease time.Duration) (DedupClaim, error)
	// Done marks eventID processed, for retention, if token holds its claim
	// or no claim holds it (the lease ended and nobody claimed it since);
	// if another claim holds it, Done changes nothing and returns
	// ErrDedupClaimLost.
	Done(ctx context.Context, eventID, token string, retention time.Duration) error
	// Release removes the claim token holds, so that the next delivery
	// processes the event. If another claim holds eventID it changes
	// nothing and returns ErrDedupClaimLost.
	Release(ctx context.Context, eventID, token string) error
}

// dedupConfig is what WithDeduplication and its DedupOptions set.
type dedupConfig struct {
	store     DedupStore
	lease     time.Duration
	retention time.Duration
	failOpen  bool
}

// DedupOption configures WithDeduplication.
type DedupOption func(*dedupConfig) error

// WithDedupLease sets how long a delivery holds its claim on an event
// (default DefaultDedupLease). fn's context ends at nine tenths of it, so
// that the claim outlives fn and its Done. A Done that fails is retried
// for up to 10 seconds (see WithDeduplication): with a lease shorter than
// that, a store that stays down past the lease's end lets a redelivery
// claim the event and run fn again. d must be at least a second.
func WithDedupLease(d time.Duration) DedupOption {
	return func(c *dedupConfig) error {
		if d < time.Second {
			return fmt.Errorf("WithDedupLease: %s is shorter than a second", d)
		}
		c.lease = d
		return nil
	}
}

// WithDedupRetention sets how long a processed event is remembered
// (default DefaultDedupRetention): a redelivery after that runs fn again.
// d must be positive.
func WithDedupRetention(d time.Duration) DedupOption {
	return func(c *dedupConfig) error {
		if d <= 0 {
			return fmt.Errorf("WithDedupRetention: %s is not positive", d)
		}
		c.retention = d
		return nil
	}
}

// WithDedupFailOpen makes the handler run fn unguarded when the store fails
// (Redis down): the event may then be processed twice. Without it the
// handler fails closed: it answers 503 and the API redelivers later.
func WithDedupFailOpen() DedupOption {
	return func(c *dedupConfig) error {
		c.failOpen = true
		return nil
	}
}

// WithDeduplication makes WebhookHandler process each event ID once, across
// redeliveries and concurrent deliveries, with store as the record. After
// the signature is verified (a forged delivery never reaches the store) the
// handler claims the event ID:
//
//   - claimed now: it runs fn with a context that ends before the lease
//     (WithDedupLease); on success it marks the event done (kept
//     WithDedupRetention) and answers 200, on failure it releases the
//     claim and answers 500;
//   - done already: 200, fn is not called;
//   - claimed by a delivery in flight: 409 with Retry-After (seconds,
//     at least 1, the time left of that delivery's lease), fn is not called;
//   - the store fails: 503 with Retry-After, fn is not called; with
//     WithDedupFailOpen, fn runs unguarded instead.
//
// The store's steps are not cancelled when the sender hangs up (a sender
// that hung up is no store failure): each runs under its own bound of 10
// seconds. A delivery whose sender hung up before the claim runs nothing.
// A done or release that fails after fn ran (the Redis master died) is
// retried within the bound; if marking done still fails the handler
// answers 200 (fn's work is done) and logs the error. Under
// WithDedupFailOpen, fn's context is the one a claim gives it. Handlers
// given the same store share one record; secrets play no part in it.
func WithDeduplication(store DedupStore, opts ...DedupOption) HandlerOption {
	return handlerOption(func(c *handlerConfig) error {
		if isNilStore(store) {
			return errors.New("WithDeduplication: nil store")
		}
		d := dedupConfig{store: store, lease: DefaultDedupLease, retention: DefaultDedupRetention}
		if err := applyEach(&d, opts); err != nil {
			return err
		}
		c.dedup = d
		return nil
	})
}

// applyEach applies opts to c in order, skipping nil ones, and returns
// the first error.
func applyEach[C any, O ~func(*C) error](c *C, opts []O) error {
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(c); err != nil {
			return err
		}
	}
	return nil
}

// isNilStore reports whether s is nil, or a nil pointer in the interface.
func isNilStore(s any) bool {
	if s == nil {
		return true
	}
	v := reflect.ValueOf(s)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// serveOnce is the rest of serve with de-duplication: the outcome table
// of WithDeduplication.
func (h *webhookHandler) serveOnce(w http.ResponseWriter, r *http.Request, ev *Event) {
	ctx := r.Context()
	d := &h.dedup
	if err := ctx.Err(); err != nil {
		h.finish(w, r, ev, senderGone(err))
		return
	}
	if h.guards != nil {
		if key, state, g := h.stateKey(ctx, ev); g.skip != 0 {
			h.finish(w, r, ev, g)
			return
		} else if state {
			h.serveStateOnce(w, r, ev, key)
			return
		}
	}
	// fn's deadline is set before the claim, so it falls before the
	// store's lease ends, whatever the claim's latency.
	deadline := leaseDeadline(d.lease)
	fnCtx := &leaseContext{Context: ctx, deadline: deadline}
	defer fnCtx.stop()
	claim, err := storeStep(ctx, func(ctx context.Context) (DedupClaim, error) { return d.store.Claim(ctx, ev.ID, d.lease) })
	if err == nil && claim.Status != DedupClaimed && claim.Status != DedupDone && claim.Status != DedupInFlight {
		err = fmt.Errorf("store answered an unknown status %d", claim.Status)
	}
	if err != nil {
		h.storeFailed(w, r, ev, "botonom: webhook de-duplication store failed", err, d.failOpen,
			func() guarded { return h.runOrdered(ctx, fnCtx, ev) }) // as under a claim
		return
	}
	if h.answerUnclaimed(w, r, ev, claim, "") {
		return
	}

	g := h.runClaimed(ctx, fnCtx, ev, claim.Token)
	// A state event found stale is done: it is acknowledged.
	if g.err != nil || (g.skip != 0 && g.skip != http.StatusOK) {
		if err := settle(ctx, func(ctx context.Context) error { return d.store.Release(ctx, ev.ID, claim.Token) }); err != nil {
			h.log(ctx, "botonom: webhook de-duplication release failed", ev, err)
		}
		h.finish(w, r, ev, g)
		return
	}
	if err := settle(ctx, func(ctx context.Context) error { return d.store.Done(ctx, ev.ID, claim.Token, d.retention) }); err != nil {
		h.log(ctx, "botonom: webhook de-duplication done failed; answering 200 as fn succeeded", ev, err)
	}
	h.finish(w, r, ev, g) // 200: processed, or stale
}

// storeStepTimeout bounds each step of a de-duplication or ordering store
// (a claim; a done or release, its retries included).
const storeStepTimeout = 10 * time.Second

// errSenderGone is why a delivery whose sender hung up before its claim
// runs nothing.
var errSenderGone = errors.New("the sender hung up before the event was claimed; nothing ran")

// senderGone is what a delivery whose request context ended (err) before
// its claim did: nothing. It is answered 503 (should anyone still read
// it, the API delivers again) with outcome refused, not unavailable: the
// store did not fail.
func senderGone(err error) guarded {
	return guarded{err: fmt.Errorf("%w: %w", errSenderGone, err), skip: http.StatusServiceUnavailable, retryAfter: time.Second}
}

// storeContext is the context of one store step: ctx's values without its
// cancellation (a sender that hangs up is no store failure, and fn's work
// must still be recorded), ending storeStepTimeout from now. Its timer
// starts only if the store waits on it; stop releases it.
func storeContext(ctx context.Context) *leaseContext {
	sc := &struct {
		leaseContext
		values valuesOnly
	}{values: valuesOnly{ctx}} // one allocation, not two
	sc.leaseContext.Context, sc.deadline = &sc.values, time.Now().Add(storeStepTimeout)
	return &sc.leaseContext
}

// valuesOnly is its parent's values, without its deadline and
// cancellation: context.WithoutCancel, in storeContext's allocation.
type valuesOnly struct{ parent context.Context }

func (valuesOnly) Deadline() (time.Time, bool) { return time.Time{}, false }
func (valuesOnly) Done() <-chan struct{}       { return nil }
func (valuesOnly) Err() error                  { return nil }
func (c *valuesOnly) Value(key any) any        { return c.parent.Value(key) }

// storeStep runs one store step under its own storeContext.
func storeStep[T any](ctx context.Context, step func(context.Context) (T, error)) (T, error) {
	sc := storeContext(ctx)
	defer sc.stop()
	return step(sc)
}

// settle runs a store step that follows fn (done, or release) under its
// own storeContext, retrying a failure after a short wait until it
// succeeds or the bound passes: the Redis master may have died after the
// claim, and a replica takes its place within seconds. A lost claim or a
// bad argument is final. It returns the last error.
func settle(ctx context.Context, step func(context.Context) error) error {
	sc := storeContext(ctx)
	defer sc.stop()
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		err := step(sc)
		if err == nil || errors.Is(err, ErrDedupClaimLost) || errors.Is(err, ErrInvalidArgument) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-sc.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// runClaimed runs fn (under the ordering guard, with WithOrdering) under
// the claim token holds. If fn panics, the claim is released before the
// panic goes on, so that a redelivery can process the event at once.
func (h *webhookHandler) runClaimed(ctx, fnCtx context.Context, ev *Event, token string) guarded {
	returned := false
	defer func() {
		if !returned {
			_, _ = storeStep(ctx, func(ctx context.Context) (struct{}, error) {
				return struct{}{}, h.dedup.store.Release(ctx, ev.ID, token)
			})
		}
	}()
	g := h.runOrdered(ctx, fnCtx, ev)
	returned = true
	return g
}

// log logs a de-duplication event when the handler has a logger.
func (h *webhookHandler) log(ctx context.Context, msg string, ev *Event, err error, attrs ...any) {
	if h.logger != nil {
		h.logger.ErrorContext(ctx, msg, append([]any{"event_id", ev.ID, "event_type", string(ev.Type), "error", err}, attrs...)...)
	}
}

// MemoryDedupStore is a DedupStore for one process: handlers in one process
// given the same store share its record. It keeps at most a fixed number of
// done events (DefaultMaxDoneEntries; WithMaxDoneEntries), evicting the
// oldest first, and forgets them after their retention. Every method is
// O(1) and safe for concurrent use. Its zero value is not usable: call
// NewMemoryDedupStore.
type MemoryDedupStore struct {
	mu      sync.Mutex
	entries map[string]*dedupEntry
	// The done entries in the order they were marked done, oldest first;
	// with one retention for all, that is also the order they expire in.
	oldest, newest *dedupEntry
	done           int
	maxDone        int
	tokens         atomic.Uint64
	now            func() time.Time // tests set it
	// The ordering record (OrderStore), apart from the event IDs; the
	// recorded entries in stateOrder, oldest record first.
	states     map[string]*stateEntry
	stateOrder list.List
}

// dedupEntry is one event ID in a MemoryDedupStore: a claim (token set) or
// a done event (token empty, linked in the done list).
type dedupEntry struct {
	id         string
	token      string
	expires    time.Time
	prev, next *dedupEntry
}

// MemoryDedupOption configures NewMemoryDedupStore.
type MemoryDedupOption func(*MemoryDedupStore) error

// WithMaxDoneEntries sets how many done events the store remembers at most
// (default DefaultMaxDoneEntries); beyond it the oldest is forgotten, and
// a redelivery of it would run fn again. n must be positive.
func WithMaxDoneEntries(n int) MemoryDedupOption {
	return func(s *MemoryDedupStore) error {
		if n <= 0 {
			return fmt.Errorf("WithMaxDoneEntries: %d is not positive", n)
		}
		s.maxDone = n
		return nil
	}
}

// NewMemoryDedupStore returns an empty MemoryDedupStore. It fails only on a
// bad option.
func NewMemoryDedupStore(opts ...MemoryDedupOption) (*MemoryDedupStore, error) {
	s := &MemoryDedupStore{entries: make(map[string]*dedupEntry), states: make(map[string]*stateEntry), maxDone: DefaultMaxDoneEntries, now: time.Now}
	if err := applyEach(s, opts); err != nil {
		return nil, fmt.Errorf("botonom: NewMemoryDedupStore: %w", err)
	}
	return s, nil
}

// Claim implements DedupStore. It fails only on a done context or a lease
// that is not positive (ErrInvalidArgument).
func (s *MemoryDedupStore) Claim(ctx context.Context, eventID string, lease time.Duration) (DedupClaim, error) {
	if err := ctx.Err(); err != nil {
		return DedupClaim{}, err
	}
	if lease <= 0 {
		return DedupClaim{}, invalidArgf("MemoryDedupStore.Claim: lease %s is not positive", lease)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if e := s.live(eventID, now); e != nil {
		if e.token == "" {
			return DedupClaim{Status: DedupDone}, nil
		}
		return DedupClaim{Status: DedupInFlight, Remaining: e.expires.Sub(now)}, nil
	}
	token := strconv.FormatUint(s.tokens.Add(1), 36)
	s.entries[eventID] = &dedupEntry{id: eventID, token: token, expires: now.Add(lease)}
	return DedupClaim{Status: DedupClaimed, Token: token}, nil
}

// Done implements DedupStore.
func (s *MemoryDedupStore) Done(ctx context.Context, eventID, token string, retention time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	e := s.live(eventID, now)
	switch {
	case e != nil && e.token == "":
		return nil // done already
	case e != nil && e.token != token:
		return ErrDedupClaimLost
	case e == nil:
		e = &dedupEntry{id: eventID}
		s.entries[eventID] = e
	}
	e.token, e.expires = "", now.Add(retention)
	e.prev, s.newest = s.newest, e
	if e.prev != nil {
		e.prev.next = e
	} else {
		s.oldest = e
	}
	s.done++
	for s.oldest != nil && (s.done > s.maxDone || !now.Before(s.oldest.expires)) {
		s.remove(s.oldest)
	}
	return nil
}

// Release implements DedupStore.
func (s *MemoryDedupStore) Release(ctx context.Context, eventID, token string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.live(eventID, s.now())
	switch {
	case e == nil || e.token == "":
		return nil
	case e.token != token:
		return ErrDedupClaimLost
	}
	s.remove(e)
	return nil
}

// Len returns how many event IDs the store holds, claimed or done.
func (s *MemoryDedupStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// live returns the entry of id unless it has expired, in which case it is
// removed.
func (s *MemoryDedupStore) live(id string, now time.Time) *dedupEntry {
	e := s.entries[id]
	if e != nil && !now.Before(e.expires) {
		s.remove(e)
		return nil
	}
	return e
}

// remove forgets e, unlinking it from the done list if it is done.
func (s *MemoryDedupStore) remove(e *dedupEntry) {
	delete(s.entries, e.id)
	if e.token != "" {
		return
	}
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		s.oldest = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		s.newest = e.prev
	}
	e.prev, e.next = nil, nil
	s.done--
}

// leaseContext is fn's context under a claim: its parent (the request's
// context, or the de-duplication claim's leaseContext under an ordering
// claim), ending at a deadline before the claim's lease does. Its timer starts only when
// something waits on it (Done, or a context derived from it): a fn that
// never does — most quick handlers — costs no timer. Err reports the
// deadline either way. Once fn has returned (stop), it is done: a fn that
// kept it and waits on it afterwards finds it canceled, and starts no timer.
type leaseContext struct {
	context.Context // the parent
	deadline        time.Time

	mu      sync.Mutex
	timed   context.Context // the parent with the deadline, once asked for
	cancel  context.CancelFunc
	stopped bool // fn has returned
}

func (c *leaseContext) Deadline() (time.Time, bool) {
	if d, ok := c.Context.Deadline(); ok && d.Before(c.deadline) {
		return d, true
	}
	return c.deadline, true
}

func (c *leaseContext) Done() <-chan struct{} { return c.start().Done() }

func (c *leaseContext) Err() error {
	c.mu.Lock()
	timed, stopped := c.timed, c.stopped
	c.mu.Unlock()
	if timed == nil && stopped {
		timed = c.start()
	}
	if timed != nil {
		return timed.Err()
	}
	if err := c.Context.Err(); err != nil {
		return err
	}
	if !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

// AfterFunc arranges for f to run once c is done. With it, a context fn
// derives from c (context.WithCancel, WithTimeout…) registers with c's
// timed context, as with any context of the standard library; without it,
// the context package watches c from a goroutine of its own per derived
// context.
func (c *leaseContext) AfterFunc(f func()) (stop func() bool) {
	return context.AfterFunc(c.start(), f)
}

// leaseDeadline is the deadline of fn's context under a claim of lease
// taken now: nine tenths of it, so that fn's work and its Done fit in the
// lease.
func leaseDeadline(lease time.Duration) time.Time {
	return time.Now().Add(lease - lease/10)
}

// start returns the parent with the deadline, making it on the first call.
func (c *leaseContext) start() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timed == nil {
		c.timed, c.cancel = context.WithDeadline(c.Context, c.deadline)
		if c.stopped {
			c.cancel() // asked for after fn returned: done at once, its timer stopped
		}
	}
	return c.timed
}

// stop ends c when fn has returned, releasing the timer if one was started.
func (c *leaseContext) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	if c.cancel != nil {
		c.cancel()
	}
}
