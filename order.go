package botonom

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"time"
)

// OrderStore remembers, per entity, the created_at of the newest state event
// processed, so that a handler given WithOrdering never applies an older
// state over a newer one (deliveries are retried, so "offline" sent at
// 10:00:05 can arrive after "online" sent at 10:00:07). It speaks the
// vocabulary of DedupStore: a delivery claims the entity's key, processes,
// then marks done or releases; the claim serialises the deliveries of one
// entity, so that two of them never run fn at once and apply in the wrong
// order. Each method is one atomic step, safe for concurrent use; a store is
// one namespace. MemoryDedupStore implements it for one process, the
// botonomredis module's DedupStore for many replicas.
type OrderStore interface {
	// ClaimState answers DedupStale if a state of key newer than at was
	// processed (an equal one is not stale), DedupInFlight if another
	// delivery holds key's claim, else claims key for lease and answers
	// DedupClaimed with a token. An error means the store could not tell.
	ClaimState(ctx context.Context, key string, at time.Time, lease time.Duration) (DedupClaim, error)
	// DoneState records at as key's newest processed state unless a newer
	// one is recorded, keeps the record for retention, and removes the
	// claim token holds. If another claim holds key, it leaves that claim
	// alone and returns ErrDedupClaimLost (the record is still kept: fn
	// did process the state).
	DoneState(ctx context.Context, key, token string, at time.Time, retention time.Duration) error
	// ReleaseState removes the claim token holds and records nothing. If
	// another claim holds key it changes nothing and returns
	// ErrDedupClaimLost.
	ReleaseState(ctx context.Context, key, token string) error
}

// GuardStore is a store of both guards that takes the two claims of a
// state event's delivery (its event ID, as DedupStore's, and its entity's
// key, as OrderStore's) in one atomic step, and settles them in one: a
// WebhookHandler given it as the store of WithDeduplication and of
// WithOrdering calls it for state events instead of the six steps of the
// two guards, which saves two round trips to a remote store (and, for a
// stale event, two of three). The botonomredis module's DedupStore is one.
type GuardStore interface {
	DedupStore
	OrderStore
	// ClaimEventState answers DedupDone if the event is done, DedupInFlight
	// if another delivery holds its claim or its entity's, DedupStale if a
	// newer state of the entity was processed (and then marks the event
	// done, for s.Retention, in the same step); else it claims both for
	// s.Lease under one token and answers DedupClaimed. An error means the
	// store could not tell.
	ClaimEventState(ctx context.Context, s *EventState) (DedupClaim, error)
	// DoneEventState is Done and DoneState of the two claims token holds,
	// in one step: ErrDedupClaimLost if another claim holds either, which
	// it leaves alone.
	DoneEventState(ctx context.Context, s *EventState, token string) error
	// ReleaseEventState is Release and ReleaseState of the two claims
	// token holds, in one step.
	ReleaseEventState(ctx context.Context, s *EventState, token string) error
}

// EventState is the delivery of a state event as a GuardStore sees it.
type EventState struct {
	EventID string    // the event's ID, de-duplication's record
	Key     string    // the entity's key (OrderKeyFunc), ordering's record
	At      time.Time // the state's time, the event's created_at
	// Lease is how long the claims last; Retention how long the event is
	// remembered done, StateRetention the entity's newest state.
	Lease, Retention, StateRetention time.Duration
}

// OrderKeyFunc names the entity whose state a state event describes: the
// key under which WithOrdering remembers its newest processed state. Events
// with equal keys are ordered against each other, whatever their type.
type OrderKeyFunc func(*Event) (string, error)

// OrderedEvents returns the SDK's default set of state events, in a new map
// each time: agent.status.changed, keyed "agent_status:" and its agent_id.
func OrderedEvents() map[EventType]OrderKeyFunc {
	return map[EventType]OrderKeyFunc{EventStatusChanged: agentStatusKey}
}

// agentStatusKey is the key of an agent.status.changed event.
func agentStatusKey(ev *Event) (string, error) {
	sc, err := ev.StatusChange()
	if err != nil {
		return "", err
	}
	if sc.AgentID == "" {
		return "", fmt.Errorf("%w: event %s (%s) has no agent_id", ErrInvalidEvent, ev.ID, ev.Type)
	}
	return "agent_status:" + sc.AgentID, nil
}

// orderConfig is what WithOrdering and its OrderOptions set.
type orderConfig struct {
	store    OrderStore
	events   map[EventType]OrderKeyFunc
	failOpen bool
}

// OrderOption configures WithOrdering.
type OrderOption func(*orderConfig) error

// WithOrderedEvent adds t to the state events the guard orders, keyed by
// key, or replaces t's key; a nil key takes t out of the set (the default
// one included).
func WithOrderedEvent(t EventType, key OrderKeyFunc) OrderOption {
	return func(c *orderConfig) error {
		if !t.wellFormed() {
			return fmt.Errorf("WithOrderedEvent: %q is not an event name", t)
		}
		if key == nil {
			delete(c.events, t)
		} else {
			c.events[t] = key
		}
		return nil
	}
}

// WithOrderFailOpen makes the handler run fn unguarded when the order store
// fails (Redis down): an older state may then be applied over a newer one.
// Without it the handler fails closed: 503, and the API redelivers later.
func WithOrderFailOpen() OrderOption {
	return func(c *orderConfig) error {
		c.failOpen = true
		return nil
	}
}

// WithOrdering makes WebhookHandler apply the state events of an entity in
// the order they happened (by created_at), with store as the record of the
// newest state processed per entity. The state events are those of
// OrderedEvents (agent.status.changed, keyed by agent_id), changed with
// WithOrderedEvent; other events pass through untouched and cost the store
// nothing. After verification (and the de-duplication claim, with
// WithDeduplication) the handler claims the entity's key:
//
//   - claimed now: it runs fn with a context that ends at nine tenths of
//     DefaultDedupLease; on success it records the event's created_at as
//     the newest (kept DefaultDedupRetention) and answers 200; on failure
//     it releases the claim, recording nothing, and answers 500 — so a
//     newer event that failed never makes an older one stale;
//   - a newer state was processed: 200, fn is not called, logged as stale
//     (an equal created_at is processed);
//   - another delivery of the entity is in flight: 409 with Retry-After;
//   - the store fails: 503 with Retry-After, fn is not called; with
//     WithOrderFailOpen, fn runs unguarded instead;
//   - a state event without its key or created_at: 400.
//
// With WithDeduplication, a stale event is marked done; one answered 409,
// 503 or 400 has its de-duplication claim released. When both guards are
// given the same store and it is a GuardStore (the botonomredis module's
// is), a state event's two claims are taken in one step and settled in
// one, with the same outcomes (fn runs unguarded on a store failure only
// if both guards fail open), and fn's context ends at nine tenths of the
// shorter lease. Such a store may keep the combined step's record of a
// state event under another key than its Claim does (botonomredis on Redis
// Cluster does; on one Redis server it does not): give every replica of
// an endpoint the same guards on the same store, or, while replicas with
// and without WithOrdering both run, a state event can be processed once
// by each.
func WithOrdering(store OrderStore, opts ...OrderOption) HandlerOption {
	return handlerOption(func(c *handlerConfig) error {
		if isNilStore(store) {
			return errors.New("WithOrdering: nil store")
		}
		o := orderConfig{store: store, events: OrderedEvents()}
		if err := applyEach(&o, opts); err != nil {
			return err
		}
		c.order = o
		return nil
	})
}

// guarded is what runOrdered did: fn ran and returned err (skip 0), or the
// delivery is answered skip without fn (err: why, if it is a fault).
type guarded struct {
	err        error
	skip       int
	retryAfter time.Duration
}

// runOrdered runs fn under the ordering guard if ev is a state event, else
// runs it. ctx is the store's, fnCtx fn's.
func (h *webhookHandler) runOrdered(ctx, fnCtx context.Context, ev *Event) guarded {
	o := &h.order
	key, state, g := h.stateKey(ctx, ev)
	if !state {
		return guarded{err: h.fn(fnCtx, ev)}
	}
	if g.skip != 0 {
		return g
	}
	if err := ctx.Err(); err != nil {
		return senderGone(err)
	}
	deadline := leaseDeadline(DefaultDedupLease) // before the claim, as serveOnce's
	claim, err := storeStep(ctx, func(ctx context.Context) (DedupClaim, error) {
		return o.store.ClaimState(ctx, key, ev.CreatedAt, DefaultDedupLease)
	})
	if err == nil && claim.Status != DedupClaimed && claim.Status != DedupStale && claim.Status != DedupInFlight {
		err = fmt.Errorf("store answered an unknown status %d", claim.Status)
	}
	if err != nil {
		h.log(ctx, "botonom: webhook ordering store failed", ev, err, "fail_open", o.failOpen)
		if o.failOpen {
			return guarded{err: h.runUntil(fnCtx, deadline, ev)} // as under a claim
		}
		return guarded{err: err, skip: http.StatusServiceUnavailable, retryAfter: time.Second}
	}
	switch claim.Status {
	case DedupStale:
		h.logStale(ctx, ev, key)
		return guarded{skip: http.StatusOK}
	case DedupInFlight:
		return guarded{skip: http.StatusConflict, retryAfter: claim.Remaining}
	}

	release := func(ctx context.Context) error { return o.store.ReleaseState(ctx, key, claim.Token) }
	done := func(ctx context.Context) error {
		return o.store.DoneState(ctx, key, claim.Token, ev.CreatedAt, DefaultDedupRetention)
	}
	return guarded{err: h.runThenSettle(ctx, ev, "ordering", func() error { return h.runUntil(fnCtx, deadline, ev) }, done, release)}
}

// runThenSettle runs fn (through run) under claims, then settles them:
// done after a success, release after a failure, each under settle (logged
// as the guard what's if it still fails), or release at once if fn panics,
// before the panic goes on. It returns fn's error.
func (h *webhookHandler) runThenSettle(ctx context.Context, ev *Event, what string, run func() error, done, release func(context.Context) error) error {
	returned := false
	defer func() {
		if !returned {
			sc := storeContext(ctx)
			defer sc.stop()
			_ = release(sc)
		}
	}()
	fnErr := run()
	returned = true
	if fnErr != nil {
		if err := settle(ctx, release); err != nil {
			h.log(ctx, "botonom: webhook "+what+" release failed", ev, err)
		}
		return fnErr
	}
	if err := settle(ctx, done); err != nil {
		h.log(ctx, "botonom: webhook "+what+" done failed; answering 200 as fn succeeded", ev, err)
	}
	return nil
}

// logStale logs that ev, a state event of key, is stale.
func (h *webhookHandler) logStale(ctx context.Context, ev *Event, key string) {
	if h.logger != nil {
		h.logger.InfoContext(ctx, "botonom: webhook state event is stale; acknowledged without fn",
			"event_id", ev.ID, "event_type", string(ev.Type), "key", key, "created_at", ev.CreatedAt)
	}
}

// guardStore returns the store of both guards if they share one that is a
// GuardStore, else nil.
func guardStore(d DedupStore, o OrderStore) GuardStore {
	g, ok := d.(GuardStore)
	if !ok || !reflect.TypeOf(d).Comparable() || any(d) != any(o) {
		return nil
	}
	return g
}

// storeFailed answers a delivery whose claim failed with err: what run
// (fn) did if failOpen, else 503.
func (h *webhookHandler) storeFailed(w http.ResponseWriter, r *http.Request, ev *Event, msg string, err error, failOpen bool, run func() guarded) {
	h.log(r.Context(), msg, ev, err, "fail_open", failOpen)
	if failOpen {
		h.finish(w, r, ev, run())
		return
	}
	h.finish(w, r, ev, guarded{err: err, skip: http.StatusServiceUnavailable, retryAfter: time.Second})
}

// answerUnclaimed answers a delivery whose claim found its event done, in
// flight or stale (key: the entity, for the log), and reports whether it
// did; it does nothing for a claim.
func (h *webhookHandler) answerUnclaimed(w http.ResponseWriter, r *http.Request, ev *Event, claim DedupClaim, key string) bool {
	switch claim.Status {
	case DedupDone:
		noteOutcome(w, DeliveryDuplicate, nil)
		w.WriteHeader(http.StatusOK)
	case DedupInFlight:
		h.finish(w, r, ev, guarded{skip: http.StatusConflict, retryAfter: claim.Remaining})
	case DedupStale:
		h.logStale(r.Context(), ev, key)
		h.finish(w, r, ev, guarded{skip: http.StatusOK})
	default:
		return false
	}
	return true
}

// serveStateOnce is serveOnce for a state event of key when both guards
// share a GuardStore: one step claims both, one settles both, with the
// outcomes of the two guards'.
func (h *webhookHandler) serveStateOnce(w http.ResponseWriter, r *http.Request, ev *Event, key string) {
	ctx := r.Context()
	d := &h.dedup
	es := &EventState{EventID: ev.ID, Key: key, At: ev.CreatedAt, Lease: min(d.lease, DefaultDedupLease),
		Retention: d.retention, StateRetention: DefaultDedupRetention}
	fnCtx := &leaseContext{Context: ctx, deadline: leaseDeadline(es.Lease)}
	defer fnCtx.stop()
	claim, err := storeStep(ctx, func(ctx context.Context) (DedupClaim, error) { return h.guards.ClaimEventState(ctx, es) })
	if err == nil && (claim.Status < DedupClaimed || claim.Status > DedupStale) {
		err = fmt.Errorf("store answered an unknown status %d", claim.Status)
	}
	if err != nil {
		h.storeFailed(w, r, ev, "botonom: webhook de-duplication and ordering store failed", err, d.failOpen && h.order.failOpen,
			func() guarded { return guarded{err: h.fn(fnCtx, ev)} }) // as under the claims
		return
	}
	if h.answerUnclaimed(w, r, ev, claim, key) { // a stale event was marked done by the claim
		return
	}
	release := func(ctx context.Context) error { return h.guards.ReleaseEventState(ctx, es, claim.Token) }
	done := func(ctx context.Context) error { return h.guards.DoneEventState(ctx, es, claim.Token) }
	h.finish(w, r, ev, guarded{err: h.runThenSettle(ctx, ev, "de-duplication and ordering", func() error { return h.fn(fnCtx, ev) }, done, release)})
}

// stateKey returns ev's key if it is a state event under the ordering
// guard (state), or what to answer if it is one without its key or
// created_at (skip 400).
func (h *webhookHandler) stateKey(ctx context.Context, ev *Event) (key string, state bool, g guarded) {
	keyOf, ok := h.order.events[ev.Type]
	if h.order.store == nil || !ok {
		return "", false, guarded{}
	}
	key, err := keyOf(ev)
	if err == nil && ev.CreatedAt.IsZero() {
		err = fmt.Errorf("%w: state event %s has no created_at", ErrInvalidEvent, ev.ID)
	}
	if err != nil {
		h.log(ctx, "botonom: webhook state event cannot be ordered", ev, err)
		return "", true, guarded{err: err, skip: http.StatusBadRequest}
	}
	return key, true, guarded{}
}

// runUntil runs fn with parent ending at deadline.
func (h *webhookHandler) runUntil(parent context.Context, deadline time.Time, ev *Event) error {
	ctx := &leaseContext{Context: parent, deadline: deadline}
	defer ctx.stop()
	return h.fn(ctx, ev)
}

// finish answers what runOrdered did: fn's result, or the answer without fn.
func (h *webhookHandler) finish(w http.ResponseWriter, r *http.Request, ev *Event, g guarded) {
	switch g.skip {
	case 0:
		h.answer(w, r, ev, g.err)
	case http.StatusOK:
		noteOutcome(w, DeliveryStale, nil)
		w.WriteHeader(http.StatusOK)
	case http.StatusConflict:
		noteOutcome(w, DeliveryInFlight, nil)
		retryAfter(w, g.retryAfter)
		http.Error(w, "event is being processed by another delivery", http.StatusConflict)
	case http.StatusServiceUnavailable:
		outcome := DeliveryUnavailable
		if errors.Is(g.err, errSenderGone) {
			outcome = DeliveryRefused
		}
		noteOutcome(w, outcome, g.err)
		retryAfter(w, g.retryAfter)
		http.Error(w, "webhook store unavailable", http.StatusServiceUnavailable)
	default:
		noteOutcome(w, DeliveryRefused, g.err)
		http.Error(w, "invalid event", g.skip)
	}
}

// retryAfter sets Retry-After to d in whole seconds, rounded up, at least 1.
func retryAfter(w http.ResponseWriter, d time.Duration) {
	w.Header().Set("Retry-After", strconv.FormatInt(max(1, int64((d+time.Second-1)/time.Second)), 10))
}

// stateEntry is one key of a MemoryDedupStore's ordering record: the newest
// state processed (recorded), a claim (token set), or both.
type stateEntry struct {
	key        string
	newest     time.Time
	recorded   bool
	expires    time.Time // of the record
	token      string
	claimUntil time.Time
	elem       *list.Element // in states, oldest record first; nil if not recorded
}

var _ OrderStore = (*MemoryDedupStore)(nil)

// ClaimState implements OrderStore. It fails only on a done context or a
// lease that is not positive (ErrInvalidArgument).
func (s *MemoryDedupStore) ClaimState(ctx context.Context, key string, at time.Time, lease time.Duration) (DedupClaim, error) {
	if err := ctx.Err(); err != nil {
		return DedupClaim{}, err
	}
	if lease <= 0 {
		return DedupClaim{}, invalidArgf("MemoryDedupStore.ClaimState: lease %s is not positive", lease)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	e := s.liveState(key, now)
	switch {
	case e != nil && e.recorded && at.Before(e.newest):
		return DedupClaim{Status: DedupStale}, nil
	case e != nil && e.token != "":
		return DedupClaim{Status: DedupInFlight, Remaining: e.claimUntil.Sub(now)}, nil
	case e == nil:
		e = &stateEntry{key: key}
		s.states[key] = e
	}
	e.token, e.claimUntil = strconv.FormatUint(s.tokens.Add(1), 36), now.Add(lease)
	return DedupClaim{Status: DedupClaimed, Token: e.token}, nil
}

// DoneState implements OrderStore. The store keeps at most its maximum of
// done entries (WithMaxDoneEntries) of records too, forgetting the oldest
// recorded first.
func (s *MemoryDedupStore) DoneState(ctx context.Context, key, token string, at time.Time, retention time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	e := s.liveState(key, now)
	if e == nil {
		e = &stateEntry{key: key}
		s.states[key] = e
	}
	lost := e.token != "" && e.token != token
	if !lost {
		e.token = ""
	}
	if !e.recorded || at.After(e.newest) {
		e.newest = at
	}
	e.recorded, e.expires = true, now.Add(retention)
	if e.elem != nil {
		s.stateOrder.MoveToBack(e.elem)
	} else {
		e.elem = s.stateOrder.PushBack(e)
	}
	for f := s.stateOrder.Front(); f != nil && (s.stateOrder.Len() > s.maxDone || !now.Before(f.Value.(*stateEntry).expires)); f = s.stateOrder.Front() {
		s.forgetRecord(f.Value.(*stateEntry))
	}
	if lost {
		return ErrDedupClaimLost
	}
	return nil
}

// ReleaseState implements OrderStore.
func (s *MemoryDedupStore) ReleaseState(ctx context.Context, key, token string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.liveState(key, s.now())
	switch {
	case e == nil || e.token == "":
		return nil
	case e.token != token:
		return ErrDedupClaimLost
	}
	e.token = ""
	if !e.recorded {
		delete(s.states, key)
	}
	return nil
}

// liveState returns the state entry of key without its expired parts, or
// nil if nothing of it is left.
func (s *MemoryDedupStore) liveState(key string, now time.Time) *stateEntry {
	e := s.states[key]
	if e == nil {
		return nil
	}
	if e.token != "" && !now.Before(e.claimUntil) {
		e.token = ""
	}
	if e.recorded && !now.Before(e.expires) {
		s.forgetRecord(e)
	}
	if !e.recorded && e.token == "" {
		delete(s.states, key)
		return nil
	}
	return e
}

// forgetRecord forgets e's newest state, and e itself unless a claim holds
// it.
func (s *MemoryDedupStore) forgetRecord(e *stateEntry) {
	s.stateOrder.Remove(e.elem)
	e.elem, e.recorded, e.newest = nil, false, time.Time{}
	if e.token == "" {
		delete(s.states, e.key)
	}
}
