package botonomredis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/botonom/botonom-go"
	"github.com/redis/go-redis/v9"
)

// dedupKeyInfix follows the key prefix in a DedupStore's keys:
// "botonom:webhook:evt_123".
const dedupKeyInfix = "webhook:"

// Lua fragments the scripts below are made of, so that a step of one
// guard and the same step of both guards at once run the same code.
const (
	// luaNow sets now to the server's clock, in ms.
	luaNow = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`
	// luaDone: done(key, claim value, retention ms) marks the event of key
	// done if this claim or none holds it; 1, or 0 when another claim does.
	luaDone = `local function done(key, claim, retention)
  local cur = redis.call('GET', key)
  if cur == 'done' then
    return 1
  end
  if cur and cur ~= claim then
    return 0
  end
  redis.call('SET', key, 'done', 'PX', retention)
  return 1
end
`
	// luaRelease: release(key, claim value) deletes key if this claim holds
	// it; 1, or 0 when another claim holds it.
	luaRelease = `local function release(key, claim)
  local cur = redis.call('GET', key)
  if cur == claim then
    redis.call('DEL', key)
    return 1
  end
  if cur and cur ~= 'done' then
    return 0
  end
  return 1
end
`
)

// The three steps of the store, each one Lua script: one round trip (an
// EVALSHA; an EVAL the first time a server sees the script), atomic.
var (
	// claimScript: KEYS[1] the event's key, ARGV[1] the claim value,
	// ARGV[2] the lease in ms. Answers {1, 0} claimed, {2, 0} done,
	// {3, pttl} in flight. A claim finding its own value answers claimed:
	// go-redis sends a command again when its answer was lost (a dropped
	// connection, a read timeout), and the claim had then been taken.
	claimScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {1, 0}
end
if cur == ARGV[1] then
  return {1, 0}
end
if cur == 'done' then
  return {2, 0}
end
return {3, redis.call('PTTL', KEYS[1])}
`)
	// doneScript: KEYS[1], ARGV[1] the claim value, ARGV[2] the retention
	// in ms (luaDone).
	doneScript = redis.NewScript(luaDone + `return done(KEYS[1], ARGV[1], ARGV[2])`)
	// releaseScript: KEYS[1], ARGV[1] the claim value (luaRelease).
	releaseScript = redis.NewScript(luaRelease + `return release(KEYS[1], ARGV[1])`)
)

// DedupStore is a botonom.DedupStore kept in Redis, for the replicas of one
// webhook endpoint: give every replica's handler a DedupStore on the same
// Redis with the same key prefix and each event is processed once, across
// replicas and redeliveries.
//
// Each event is one key, the prefix then "webhook:" then the event ID
// (Key; a state event under both guards: EventStateKey), holding either a
// claim ("claim:" and a random token, expiring with the lease) or "done"
// (expiring after the retention). Claim, Done and Release
// are each one Lua script: atomic, and one round trip. Leases and
// retentions are timed by the Redis server, so replicas' clocks need not
// agree.
//
// When Redis fails, the methods return an error starting "botonomredis: "
// and the handler answers 503 (fail closed) unless it was given
// botonom.WithDedupFailOpen. No secret, token or event data is sent to
// Redis: only event IDs, and for ordering the entity's key and the
// state's created_at.
//
// It is also a botonom.OrderStore, the record of botonom.WithOrdering (see
// ClaimState): the replicas of an endpoint then apply each entity's states
// in order, whichever replica each delivery reaches.
type DedupStore struct {
	rdb    redis.UniversalClient
	prefix string
	ack    replicaAck
	// tagged: a state event's key under both guards carries its entity's
	// hash tag (EventStateKey), as Redis Cluster needs; on one server (a
	// *redis.Client: a single server, or Sentinel's master) it is Key.
	tagged bool
}

var _ botonom.DedupStore = (*DedupStore)(nil)

type dedupConfig struct {
	prefix string
	ack    replicaAck
}

// replicaAck is WithReplicaAck's setting; n 0: none.
type replicaAck struct {
	n       int
	timeout time.Duration
}

func (a replicaAck) applyDedup(c *dedupConfig) error {
	switch {
	case a.n < 1:
		return fmt.Errorf("WithReplicaAck: %d replicas; want at least 1", a.n)
	case a.timeout < time.Millisecond:
		return fmt.Errorf("WithReplicaAck: timeout %s is under a millisecond", a.timeout)
	}
	c.ack = a
	return nil
}

// WithReplicaAck makes every step of the store (claim, done and release,
// of de-duplication and ordering alike) wait until n replicas of the
// key's master hold it: Redis WAIT n timeout, sent in one pipeline with
// the step's script to the key's node (on Redis Cluster, the master of
// its slot), so it costs no extra round trip. A step that fewer than n
// replicas acknowledge within timeout fails, as a store failure: the
// handler answers 503 unless it fails open (a claim that was taken is
// released first), and a done or release after fn is retried. Replication
// is asynchronous: without it, a master that dies can take with it a
// claim or done record it acknowledged, and a failover can then process
// an event twice; with it, what the handler acted on is on a replica.
// n must be at least 1; timeout (whole milliseconds) at least 1 ms, and
// shorter than the client's ReadTimeout.
func WithReplicaAck(n int, timeout time.Duration) DedupStoreOption {
	return replicaAck{n: n, timeout: timeout}
}

// NewDedupStore returns a DedupStore in rdb. It checks its arguments but
// does not contact Redis; it fails on a nil rdb.
func NewDedupStore(rdb redis.UniversalClient, opts ...DedupStoreOption) (*DedupStore, error) {
	if isNil(rdb) {
		return nil, errors.New("botonomredis: NewDedupStore: nil Redis client")
	}
	cfg := &dedupConfig{prefix: DefaultKeyPrefix}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt.applyDedup(cfg); err != nil {
			return nil, fmt.Errorf("botonomredis: NewDedupStore: %w", err)
		}
	}
	_, oneServer := rdb.(*redis.Client)
	return &DedupStore{rdb: rdb, prefix: cfg.prefix, ack: cfg.ack, tagged: !oneServer}, nil
}

// Key returns the Redis key of eventID.
func (s *DedupStore) Key(eventID string) string {
	return s.prefix + dedupKeyInfix + eventID
}

// Claim implements botonom.DedupStore. lease is rounded down to whole
// milliseconds and must be at least one.
func (s *DedupStore) Claim(ctx context.Context, eventID string, lease time.Duration) (botonom.DedupClaim, error) {
	if lease < time.Millisecond {
		return botonom.DedupClaim{}, fmt.Errorf("botonomredis: claim: lease %s is under a millisecond: %w", lease, botonom.ErrInvalidArgument)
	}
	token := newToken()
	return s.claimKey(ctx, "claim", claimScript, releaseScript, []string{s.Key(eventID)}, eventID, token, "claim:"+token, botonom.DedupDone,
		"claim:"+token, lease.Milliseconds())
}

// newToken returns a random claim token: 16 bytes, in hex.
func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// claimKey runs a claim script on keys, which answers {1, 0} when it
// claimed them with token, {2, 0} for the status second (done, or stale),
// {3, ms} when a claim in flight holds one for ms more, {4, 0} stale, and
// turns the answer into a DedupClaim; op and name say what failed in an
// error. If the claim was taken but its replicas did not acknowledge it,
// undo (a release script, given undoArg) releases it.
func (s *DedupStore) claimKey(ctx context.Context, op string, script, undo *redis.Script, keys []string, name, token, undoArg string, second botonom.DedupStatus, args ...any) (botonom.DedupClaim, error) {
	answer, ackErr, err := s.eval(ctx, script, keys, args...)
	res, _ := answer.([]any)
	if ackErr != nil && len(res) == 2 && res[0] == int64(1) {
		_ = undo.Run(ctx, s.rdb, keys, undoArg).Err()
	}
	if err == nil {
		err = ackErr
	}
	if err != nil {
		return botonom.DedupClaim{}, fmt.Errorf("botonomredis: %s %s: %w", op, name, err)
	}
	return s.claimAnswer(op, name, token, second, res)
}

// claimAnswer turns a claim script's answer into a DedupClaim.
func (s *DedupStore) claimAnswer(op, name, token string, second botonom.DedupStatus, answer []any) (botonom.DedupClaim, error) {
	var status, ms int64
	ok := len(answer) == 2
	if ok {
		status, ok = answer[0].(int64)
		ms, _ = answer[1].(int64)
	}
	switch {
	case !ok:
	case status == 1:
		return botonom.DedupClaim{Status: botonom.DedupClaimed, Token: token}, nil
	case status == 2:
		return botonom.DedupClaim{Status: second}, nil
	case status == 3:
		return botonom.DedupClaim{Status: botonom.DedupInFlight, Remaining: time.Duration(max(ms, 0)) * time.Millisecond}, nil
	case status == 4:
		return botonom.DedupClaim{Status: botonom.DedupStale}, nil
	}
	return botonom.DedupClaim{}, fmt.Errorf("botonomredis: %s %s: unexpected answer %v", op, name, answer)
}

// Done implements botonom.DedupStore. retention is rounded down to whole
// milliseconds and must be at least one.
func (s *DedupStore) Done(ctx context.Context, eventID, token string, retention time.Duration) error {
	if retention < time.Millisecond {
		return fmt.Errorf("botonomredis: done: retention %s is under a millisecond: %w", retention, botonom.ErrInvalidArgument)
	}
	return s.settleKey(ctx, "done", doneScript, []string{s.Key(eventID)}, eventID, "claim:"+token, retention.Milliseconds())
}

// Release implements botonom.DedupStore.
func (s *DedupStore) Release(ctx context.Context, eventID, token string) error {
	return s.settleKey(ctx, "release", releaseScript, []string{s.Key(eventID)}, eventID, "claim:"+token)
}

// settleKey runs a done or release script on keys, those of name (an
// event ID or an entity), which answers 1 when it did its part and 0 when
// another claim holds one of them.
func (s *DedupStore) settleKey(ctx context.Context, op string, script *redis.Script, keys []string, name string, args ...any) error {
	res, ackErr, err := s.eval(ctx, script, keys, args...)
	if err == nil {
		err = ackErr
	}
	switch {
	case err != nil:
		return fmt.Errorf("botonomredis: %s %s: %w", op, name, err)
	case res != int64(1):
		return fmt.Errorf("botonomredis: %s %s: %w", op, name, botonom.ErrDedupClaimLost)
	}
	return nil
}

// eval runs script on keys and returns its answer. With WithReplicaAck it
// sends WAIT in the same pipeline, to the keys' node, and ackErr says if
// fewer replicas than asked acknowledged the step (which then ran).
func (s *DedupStore) eval(ctx context.Context, script *redis.Script, keys []string, args ...any) (res any, ackErr, err error) {
	if s.ack.n == 0 {
		res, err = script.Run(ctx, s.rdb, keys, args...).Result()
		return res, nil, err
	}
	node := redis.Cmdable(s.rdb)
	cluster, _ := s.rdb.(*redis.ClusterClient)
	if cluster != nil {
		master, err := cluster.MasterForKey(ctx, keys[0])
		if err != nil {
			return nil, nil, err
		}
		node = master
	}
	res, ackErr, err = s.evalWait(ctx, node, script, keys, args)
	if err != nil && cluster != nil {
		cluster.ReloadState(ctx) // the slot may have moved (a failover): the next step asks again
	}
	return res, ackErr, err
}

// evalWait is eval's pipeline to node: the script (EVALSHA; EVAL if the
// node does not know it yet), then WAIT.
func (s *DedupStore) evalWait(ctx context.Context, node redis.Cmdable, script *redis.Script, keys []string, args []any) (res any, ackErr, err error) {
	for _, run := range []func(redis.Scripter) *redis.Cmd{
		func(p redis.Scripter) *redis.Cmd { return script.EvalSha(ctx, p, keys, args...) },
		func(p redis.Scripter) *redis.Cmd { return script.Eval(ctx, p, keys, args...) },
	} {
		pipe := node.Pipeline()
		cmd := run(pipe)
		wait := redis.NewIntCmd(ctx, "wait", s.ack.n, s.ack.timeout.Milliseconds())
		_ = pipe.Process(ctx, wait)
		_, _ = pipe.Exec(ctx)
		if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
			continue
		}
		if res, err = cmd.Result(); err != nil {
			return nil, nil, err
		}
		if n, err := wait.Result(); err != nil {
			ackErr = fmt.Errorf("replica acknowledgement: %w", err)
		} else if n < int64(s.ack.n) {
			ackErr = fmt.Errorf("%d of %d replicas acknowledged within %s", n, s.ack.n, s.ack.timeout)
		}
		return res, ackErr, nil
	}
	return nil, nil, errors.New("the script is unknown to the server after EVAL")
}

// String describes the store by its key prefix.
func (s *DedupStore) String() string {
	if s == nil {
		return "botonomredis.DedupStore(nil)"
	}
	return fmt.Sprintf("botonomredis.DedupStore{prefix: %q}", s.prefix)
}
