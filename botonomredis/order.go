package botonomredis

import (
	"context"
	"fmt"
	"time"

	"github.com/botonom/botonom-go"
	"github.com/redis/go-redis/v9"
)

// stateKeyInfix follows the key prefix in the ordering record's keys:
// "botonom:state:agent_status:agt_123".
const stateKeyInfix = "state:"

// The three steps of the ordering record, each one Lua script on one hash
// per entity — n: the newest state processed (sortableTime), c: the claim's
// token, u: when the claim ends (ms, the server's clock) — so each is one
// round trip, atomic, and the compare-and-set is the server's.
var (
	// claimStateScript: KEYS[1], ARGV[1] the state's time, ARGV[2] the
	// token, ARGV[3] the lease in ms. Answers {1, 0} claimed, {2, 0} stale,
	// {3, ms left} in flight.
	claimStateScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local v = redis.call('HMGET', KEYS[1], 'n', 'c', 'u')
if v[1] and ARGV[1] < v[1] then
  return {2, 0}
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
	// time, ARGV[3] the retention in ms. Records the newer of the two
	// states and removes this claim (or an ended one). Answers 1, or 0 when
	// another claim holds the key: that claim is left whole, its lease
	// included (the key lives at least until the lease ends).
	doneStateScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local v = redis.call('HMGET', KEYS[1], 'n', 'c', 'u')
local lost = v[2] and v[2] ~= ARGV[1] and tonumber(v[3]) > now
if v[2] and not lost then
  redis.call('HDEL', KEYS[1], 'c', 'u')
end
if not v[1] or v[1] < ARGV[2] then
  redis.call('HSET', KEYS[1], 'n', ARGV[2])
end
if lost then
  redis.call('PEXPIRE', KEYS[1], math.max(tonumber(ARGV[3]), tonumber(v[3]) - now))
  return 0
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`)
	// releaseStateScript: KEYS[1], ARGV[1] the token. Removes this claim.
	// Answers 1, or 0 when another claim holds the key.
	releaseStateScript = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'c', 'u', 'n')
if v[1] == ARGV[1] then
  if v[3] then
    redis.call('HDEL', KEYS[1], 'c', 'u')
  else
    redis.call('DEL', KEYS[1])
  end
  return 1
end
if v[1] then
  local t = redis.call('TIME')
  if tonumber(v[2]) > tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) then
    return 0
  end
end
return 1
`)
)

var _ botonom.OrderStore = (*DedupStore)(nil)

// StateKey returns the Redis key of the ordering record of key (an
// entity, as botonom.OrderKeyFunc names it).
func (s *DedupStore) StateKey(key string) string {
	return s.prefix + stateKeyInfix + key
}

// sortableTime is t as 20 decimal digits whose order as strings is the
// order of the times (Lua compares them as strings: its numbers are
// doubles, too short for nanoseconds).
func sortableTime(t time.Time) string {
	return fmt.Sprintf("%020d", uint64(t.UnixNano())^(1<<63))
}

// ClaimState implements botonom.OrderStore: the ordering guard of
// botonom.WithOrdering, for many replicas. One key per entity, the prefix
// then "state:" then key, a hash of the newest state processed and the
// claim; one round trip, atomic. lease is rounded down to whole
// milliseconds and must be at least one.
func (s *DedupStore) ClaimState(ctx context.Context, key string, at time.Time, lease time.Duration) (botonom.DedupClaim, error) {
	if lease < time.Millisecond {
		return botonom.DedupClaim{}, fmt.Errorf("botonomredis: claim state: lease %s is under a millisecond: %w", lease, botonom.ErrInvalidArgument)
	}
	token := newToken()
	return s.claimKey(ctx, "claim state", claimStateScript, s.StateKey(key), key, token, botonom.DedupStale, sortableTime(at), token, lease.Milliseconds())
}

// DoneState implements botonom.OrderStore; one round trip. retention is
// rounded down to whole milliseconds and must be at least one.
func (s *DedupStore) DoneState(ctx context.Context, key, token string, at time.Time, retention time.Duration) error {
	if retention < time.Millisecond {
		return fmt.Errorf("botonomredis: done state: retention %s is under a millisecond: %w", retention, botonom.ErrInvalidArgument)
	}
	return s.settleKey(ctx, "done state", doneStateScript, s.StateKey(key), key, token, sortableTime(at), retention.Milliseconds())
}

// ReleaseState implements botonom.OrderStore; one round trip.
func (s *DedupStore) ReleaseState(ctx context.Context, key, token string) error {
	return s.settleKey(ctx, "release state", releaseStateScript, s.StateKey(key), key, token)
}
