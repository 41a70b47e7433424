package botonomredis

import (
	"context"
	"fmt"
	"time"

	"github.com/botonom/botonom-go"
	"github.com/redis/go-redis/v9"
)

// stateKeySuffix ends the ordering record's keys, after the entity's key
// in braces: "botonom:{agent_status:agt_123}:state". The braces make the
// entity's key the record's hash tag on Redis Cluster, so that a state
// event's de-duplication key under both guards ("botonom:{agent_status:
// agt_123}:webhook:evt_1") lies in the same slot and one script can take
// both. The tag is the entity's, not the event's: the record is one key
// shared by all the entity's events, so each event's key joins it.
const stateKeySuffix = "}:state"

// Lua fragments of the ordering record's scripts, after luaNow.
const (
	// luaDoneState: doneState(key, token, state's time, retention ms)
	// records the newer of the two states and removes this claim (or an
	// ended one); 1, or 0 when another claim holds key: that claim is left
	// whole, its lease included (the key lives at least until it ends).
	luaDoneState = `local function doneState(key, token, at, retention)
  local v = redis.call('HMGET', key, 'n', 'c', 'u')
  local lost = v[2] and v[2] ~= token and tonumber(v[3]) > now
  if v[2] and not lost then
    redis.call('HDEL', key, 'c', 'u')
  end
  if not v[1] or v[1] < at then
    redis.call('HSET', key, 'n', at)
  end
  if lost then
    redis.call('PEXPIRE', key, math.max(tonumber(retention), tonumber(v[3]) - now))
    return 0
  end
  redis.call('PEXPIRE', key, retention)
  return 1
end
`
	// luaReleaseState: releaseState(key, token) removes this claim; 1, or
	// 0 when another claim holds key.
	luaReleaseState = `local function releaseState(key, token)
  local v = redis.call('HMGET', key, 'c', 'u', 'n')
  if v[1] == token then
    if v[3] then
      redis.call('HDEL', key, 'c', 'u')
    else
      redis.call('DEL', key)
    end
    return 1
  end
  if v[1] and tonumber(v[2]) > now then
    return 0
  end
  return 1
end
`
)

// The three steps of the ordering record, each one Lua script on one hash
// per entity — n: the newest state processed (sortableTime), c: the claim's
// token, u: when the claim ends (ms, the server's clock) — so each is one
// round trip, atomic, and the compare-and-set is the server's; and the
// three steps of both guards at once, on a state event's key and its
// entity's record.
var (
	// claimStateScript: KEYS[1], ARGV[1] the state's time, ARGV[2] the
	// token, ARGV[3] the lease in ms. Answers {1, 0} claimed, {2, 0} stale,
	// {3, ms left} in flight; claimed when it finds its own token (sent
	// again, as claimScript).
	claimStateScript = redis.NewScript(luaNow + `
local v = redis.call('HMGET', KEYS[1], 'n', 'c', 'u')
if v[1] and ARGV[1] < v[1] then
  return {2, 0}
end
if v[2] == ARGV[2] and tonumber(v[3]) > now then
  return {1, 0}
end
if v[2] and tonumber(v[3]) > now then
  return {3, tonumber(v[3]) - now}
end
redis.call('HSET', KEYS[1], 'c', ARGV[2], 'u', string.format('%d', now + tonumber(ARGV[3])))
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return {1, 0}
`)
	// doneStateScript: KEYS[1], ARGV[1] the token, ARGV[2] the state's
	// time, ARGV[3] the retention in ms (luaDoneState).
	doneStateScript = redis.NewScript(luaNow + luaDoneState + `return doneState(KEYS[1], ARGV[1], ARGV[2], ARGV[3])`)
	// releaseStateScript: KEYS[1], ARGV[1] the token (luaReleaseState).
	releaseStateScript = redis.NewScript(luaNow + luaReleaseState + `return releaseState(KEYS[1], ARGV[1])`)

	// claimEventStateScript: KEYS[1] the event's key, KEYS[2] its entity's,
	// ARGV[1] the state's time, ARGV[2] the token, ARGV[3] the lease in ms,
	// ARGV[4] the event's retention in ms. Answers {2, 0} done, {3, ms
	// left} in flight (either claim), {4, 0} stale (then marks the event
	// done), else claims both: {1, 0}; claimed when it finds its own
	// claim (sent again, as claimScript).
	claimEventStateScript = redis.NewScript(luaNow + `
local cur = redis.call('GET', KEYS[1])
if cur == 'done' then
  return {2, 0}
end
if cur == 'claim:' .. ARGV[2] then
  return {1, 0}
end
if cur then
  return {3, redis.call('PTTL', KEYS[1])}
end
local v = redis.call('HMGET', KEYS[2], 'n', 'c', 'u')
if v[1] and ARGV[1] < v[1] then
  redis.call('SET', KEYS[1], 'done', 'PX', ARGV[4])
  return {4, 0}
end
if v[2] and tonumber(v[3]) > now then
  return {3, tonumber(v[3]) - now}
end
redis.call('SET', KEYS[1], 'claim:' .. ARGV[2], 'PX', ARGV[3])
redis.call('HSET', KEYS[2], 'c', ARGV[2], 'u', string.format('%d', now + tonumber(ARGV[3])))
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[3]) then
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return {1, 0}
`)
	// doneEventStateScript: KEYS as claimEventStateScript's, ARGV[1] the
	// token, ARGV[2] the state's time, ARGV[3] the event's retention in
	// ms, ARGV[4] the record's. Both steps run; 0 if either claim is lost.
	doneEventStateScript = redis.NewScript(luaNow + luaDone + luaDoneState +
		`return math.min(done(KEYS[1], 'claim:' .. ARGV[1], ARGV[3]), doneState(KEYS[2], ARGV[1], ARGV[2], ARGV[4]))`)
	// releaseEventStateScript: KEYS as claimEventStateScript's, ARGV[1] the
	// token. Both steps run; 0 if either claim is lost.
	releaseEventStateScript = redis.NewScript(luaNow + luaRelease + luaReleaseState +
		`return math.min(release(KEYS[1], 'claim:' .. ARGV[1]), releaseState(KEYS[2], ARGV[1]))`)
)

var _ botonom.OrderStore = (*DedupStore)(nil)

// StateKey returns the Redis key of the ordering record of key (an
// entity, as botonom.OrderKeyFunc names it): the prefix, then key in
// braces (its hash tag on Redis Cluster), then ":state".
func (s *DedupStore) StateKey(key string) string {
	return s.prefix + "{" + key + stateKeySuffix
}

// EventStateKey returns the Redis key of the de-duplication record of
// eventID, a state event of key, under both guards (see ClaimEventState).
// On a *redis.Client (one server, or Sentinel's master) it is Key(eventID),
// the key of de-duplication alone, so that replicas with different guards
// share one record of each event. On any other client (Redis Cluster) it
// lies in key's hash slot, beside StateKey(key) — the prefix, key in
// braces, then ":webhook:" and eventID — so that one script can take both;
// it then differs from Key(eventID): give every replica the same guards.
func (s *DedupStore) EventStateKey(key, eventID string) string {
	if !s.tagged {
		return s.Key(eventID)
	}
	return s.prefix + "{" + key + "}:" + dedupKeyInfix + eventID
}

// sortableTime is t as 20 decimal digits whose order as strings is the
// order of the times (Lua compares them as strings: its numbers are
// doubles, too short for nanoseconds).
func sortableTime(t time.Time) string {
	return fmt.Sprintf("%020d", uint64(t.UnixNano())^(1<<63))
}

// ClaimState implements botonom.OrderStore: the ordering guard of
// botonom.WithOrdering, for many replicas. One key per entity (StateKey), a hash of the newest state processed and the
// claim; one round trip, atomic. lease is rounded down to whole
// milliseconds and must be at least one.
func (s *DedupStore) ClaimState(ctx context.Context, key string, at time.Time, lease time.Duration) (botonom.DedupClaim, error) {
	if lease < time.Millisecond {
		return botonom.DedupClaim{}, fmt.Errorf("botonomredis: claim state: lease %s is under a millisecond: %w", lease, botonom.ErrInvalidArgument)
	}
	token := newToken()
	return s.claimKey(ctx, "claim state", claimStateScript, releaseStateScript, []string{s.StateKey(key)}, key, token, token, botonom.DedupStale,
		sortableTime(at), token, lease.Milliseconds())
}

// DoneState implements botonom.OrderStore; one round trip. retention is
// rounded down to whole milliseconds and must be at least one.
func (s *DedupStore) DoneState(ctx context.Context, key, token string, at time.Time, retention time.Duration) error {
	if retention < time.Millisecond {
		return fmt.Errorf("botonomredis: done state: retention %s is under a millisecond: %w", retention, botonom.ErrInvalidArgument)
	}
	return s.settleKey(ctx, "done state", doneStateScript, []string{s.StateKey(key)}, key, token, sortableTime(at), retention.Milliseconds())
}

// ReleaseState implements botonom.OrderStore; one round trip.
func (s *DedupStore) ReleaseState(ctx context.Context, key, token string) error {
	return s.settleKey(ctx, "release state", releaseStateScript, []string{s.StateKey(key)}, key, token)
}

var _ botonom.GuardStore = (*DedupStore)(nil)

// ClaimEventState implements botonom.GuardStore: both guards' claims of a
// state event in one round trip, on EventStateKey and StateKey (one hash
// slot, so it runs on Redis Cluster). A handler given the store as both
// WithDeduplication's and WithOrdering's calls it. On Redis Cluster, give
// every replica of an endpoint the same guards: a state event's
// de-duplication key is then EventStateKey, not Key. Lease and Retention
// are rounded down to whole milliseconds and must be at least one.
func (s *DedupStore) ClaimEventState(ctx context.Context, es *botonom.EventState) (botonom.DedupClaim, error) {
	if es.Lease < time.Millisecond || es.Retention < time.Millisecond {
		return botonom.DedupClaim{}, fmt.Errorf("botonomredis: claim event state: lease %s or retention %s is under a millisecond: %w", es.Lease, es.Retention, botonom.ErrInvalidArgument)
	}
	token := newToken()
	return s.claimKey(ctx, "claim event state", claimEventStateScript, releaseEventStateScript, s.eventStateKeys(es), es.EventID, token, token,
		botonom.DedupDone, sortableTime(es.At), token, es.Lease.Milliseconds(), es.Retention.Milliseconds())
}

// DoneEventState implements botonom.GuardStore; one round trip. The
// retentions are rounded down to whole milliseconds and must be at least
// one.
func (s *DedupStore) DoneEventState(ctx context.Context, es *botonom.EventState, token string) error {
	if es.Retention < time.Millisecond || es.StateRetention < time.Millisecond {
		return fmt.Errorf("botonomredis: done event state: retention %s or %s is under a millisecond: %w", es.Retention, es.StateRetention, botonom.ErrInvalidArgument)
	}
	return s.settleKey(ctx, "done event state", doneEventStateScript, s.eventStateKeys(es), es.EventID,
		token, sortableTime(es.At), es.Retention.Milliseconds(), es.StateRetention.Milliseconds())
}

// ReleaseEventState implements botonom.GuardStore; one round trip.
func (s *DedupStore) ReleaseEventState(ctx context.Context, es *botonom.EventState, token string) error {
	return s.settleKey(ctx, "release event state", releaseEventStateScript, s.eventStateKeys(es), es.EventID, token)
}

// eventStateKeys are the two keys of es: the event's, its entity's.
func (s *DedupStore) eventStateKeys(es *botonom.EventState) []string {
	return []string{s.EventStateKey(es.Key, es.EventID), s.StateKey(es.Key)}
}
