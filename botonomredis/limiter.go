// Package botonomredis holds the Redis-backed parts of the Botonom SDK, for
// services that run as many replicas: a rate limiter they share
// (NewLimiter) and a webhook de-duplication store they share
// (NewDedupStore). It is its own Go module, so the SDK itself never depends
// on Redis.
//
// # Limiter
//
// A client-side rate limiter that many processes share through Redis, so
// that every replica of a service together stays within one API token's
// limit (a Workspace token allows 500 requests a minute, whatever the
// number of replicas).
//
// It uses GCRA (the generic cell rate algorithm, from
// github.com/go-redis/redis_rate/v10): limit requests per period, spaced
// evenly, with a burst of requests allowed at once after a quiet spell. All
// state lives in one Redis key per token, updated atomically by a Lua
// script, and all timing comes from the Redis server's clock, so replicas'
// clocks need not agree.
//
// Usage, in every replica:
//
//	rdb := redis.NewClient(&redis.Options{Addr: "redis:6379"})
//	token := os.Getenv("BOTONOM_API_TOKEN")
//	l, err := botonomredis.NewLimiter(rdb, token, 500, time.Minute)
//	if err != nil {
//		return err
//	}
//	client, err := botonom.NewClient(token, botonom.WithLimiter(l))
//
// The client calls Wait before every attempt of every request, retries
// included.
//
// The token is never stored, logged or sent to Redis: the Redis key is a
// prefix and a SHA-256 hash of the token (see Limiter.Key).
//
// # Webhook de-duplication
//
// NewDedupStore returns a botonom.DedupStore for
// botonom.WithDeduplication: the replicas of one webhook endpoint process
// each event once, even when the API delivers it to two of them at the same
// moment. The same store keeps the record of botonom.WithOrdering (it is a
// botonom.OrderStore too). See DedupStore.
package botonomredis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// DefaultKeyPrefix is prepended to the hashed token to make the Redis key
// (see WithKeyPrefix).
const DefaultKeyPrefix = "botonom:"

// DefaultBurst is the number of requests allowed at once after a quiet
// spell: 1, so requests are spaced evenly, one every period/limit, and no
// window of length period ever holds more than limit of them.
const DefaultBurst = 1

// redisRatePrefix is what redis_rate prepends to every key it is given.
const redisRatePrefix = "rate:"

// Limiter is a rate limiter shared through Redis by every Limiter made with
// the same token and key prefix. It satisfies botonom.Limiter. It is safe
// for concurrent use. It holds no copy of the token, so printing it shows
// only the Redis key, the limit and the burst.
type Limiter struct {
	rl       *redis_rate.Limiter
	key      string // passed to redis_rate, which stores it under redisRatePrefix+key
	limit    redis_rate.Limit
	failOpen bool
}

type limiterConfig struct {
	prefix   string
	burst    int
	failOpen bool
}

// LimiterOption configures a Limiter in NewLimiter. An option with a bad
// argument makes NewLimiter fail with an error that says what is wrong.
type LimiterOption interface {
	applyLimiter(*limiterConfig) error
}

// DedupStoreOption configures a DedupStore in NewDedupStore.
type DedupStoreOption interface {
	applyDedup(*dedupConfig) error
}

// Option is an option of both NewLimiter and NewDedupStore, with the same
// meaning: WithKeyPrefix.
type Option interface {
	LimiterOption
	DedupStoreOption
}

type limiterOption func(*limiterConfig) error

func (f limiterOption) applyLimiter(c *limiterConfig) error { return f(c) }

// prefixOption is WithKeyPrefix.
type prefixOption string

func (p prefixOption) applyLimiter(c *limiterConfig) error {
	c.prefix = string(p)
	return nil
}

func (p prefixOption) applyDedup(c *dedupConfig) error {
	c.prefix = string(p)
	return nil
}

// WithKeyPrefix sets the prefix of the Redis keys (default
// DefaultKeyPrefix), for example to separate environments that share a
// Redis. Limiters share a budget only if their prefixes and tokens are
// equal; DedupStores share one record of processed events only if their
// prefixes are equal (two endpoints that must each process every event use
// two prefixes).
func WithKeyPrefix(prefix string) Option {
	return prefixOption(prefix)
}

// WithBurst sets how many requests may go at once after a quiet spell
// (default DefaultBurst). In any window of length period, GCRA lets through
// at most limit + burst - 1 requests, so to stay within the API's limit
// give NewLimiter that limit minus (burst - 1). burst must be at least 1.
func WithBurst(burst int) LimiterOption {
	return limiterOption(func(c *limiterConfig) error {
		if burst < 1 {
			return fmt.Errorf("WithBurst: burst must be at least 1, got %d", burst)
		}
		c.burst = burst
		return nil
	})
}

// WithFailOpen makes Wait return nil, letting the request go, when Redis
// fails (down, timing out). Without it Wait fails closed: it returns the
// Redis error and the request is not sent. Failing open keeps the service
// working through a Redis outage at the risk of 429 answers from the API,
// which the botonom client retries when they say how long to wait. (For
// the webhook handler, failing open is botonom.WithDedupFailOpen.)
func WithFailOpen() LimiterOption {
	return limiterOption(func(c *limiterConfig) error {
		c.failOpen = true
		return nil
	})
}

// NewLimiter returns a Limiter that lets through limit requests per period,
// together, for all processes whose Limiters share a Redis (through rdb),
// the token and the key prefix. The token is trimmed of surrounding white
// space, as botonom.NewClient does, and only its hash is kept.
//
// NewLimiter checks its arguments but does not contact Redis. It fails on a nil
// rdb, an empty token, a limit or period that is not positive, or a bad
// option.
func NewLimiter(rdb redis.UniversalClient, token string, limit int, period time.Duration, opts ...LimiterOption) (*Limiter, error) {
	if isNil(rdb) {
		return nil, errors.New("botonomredis: NewLimiter: nil Redis client")
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, errors.New("botonomredis: NewLimiter: empty API token")
	}
	if limit <= 0 {
		return nil, fmt.Errorf("botonomredis: NewLimiter: limit must be positive, got %d", limit)
	}
	if period <= 0 {
		return nil, fmt.Errorf("botonomredis: NewLimiter: period must be positive, got %s", period)
	}
	cfg := &limiterConfig{prefix: DefaultKeyPrefix, burst: DefaultBurst}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt.applyLimiter(cfg); err != nil {
			return nil, fmt.Errorf("botonomredis: NewLimiter: %w", err)
		}
	}
	sum := sha256.Sum256([]byte(token))
	return &Limiter{
		rl:       redis_rate.NewLimiter(rdb),
		key:      cfg.prefix + hex.EncodeToString(sum[:16]),
		limit:    redis_rate.Limit{Rate: limit, Period: period, Burst: cfg.burst},
		failOpen: cfg.failOpen,
	}, nil
}

// isNil reports whether rdb is nil, including a nil *redis.Client and the
// other go-redis clients held in a non-nil interface.
func isNil(rdb redis.UniversalClient) bool {
	switch c := rdb.(type) {
	case nil:
		return true
	case *redis.Client:
		return c == nil
	case *redis.ClusterClient:
		return c == nil
	case *redis.Ring:
		return c == nil
	}
	return false
}

// Wait blocks until the shared limit lets one request through, then returns
// nil. While the limit is spent it sleeps for as long as Redis says the next
// request must wait, then asks again (other processes may take that slot).
//
// It returns ctx.Err(), unwrapped, as soon as ctx is done. When Redis fails
// it returns an error starting "botonomredis: " that wraps the Redis error
// (fail closed), or nil with WithFailOpen.
func (l *Limiter) Wait(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		res, err := l.rl.Allow(ctx, l.key, l.limit)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if l.failOpen {
				return nil
			}
			return fmt.Errorf("botonomredis: wait for %s: %w", l.Key(), err)
		}
		if res.Allowed > 0 {
			return nil
		}
		wait := res.RetryAfter
		if wait <= 0 { // not expected from redis_rate, but never spin
			wait = time.Millisecond
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
	}
}

// Key returns the Redis key that holds the shared state: the key prefix
// followed by 32 hex digits of the token's SHA-256 hash, after the "rate:"
// that redis_rate adds. It never contains the token.
func (l *Limiter) Key() string {
	return redisRatePrefix + l.key
}

// String describes the limiter by its Redis key, limit and burst; never by
// the token.
func (l *Limiter) String() string {
	if l == nil {
		return "botonomredis.Limiter(nil)"
	}
	return fmt.Sprintf("botonomredis.Limiter{key: %s, limit: %d per %s, burst: %d, failOpen: %t}",
		l.Key(), l.limit.Rate, l.limit.Period, l.limit.Burst, l.failOpen)
}

// GoString is String, so %#v prints the same safe description.
func (l *Limiter) GoString() string {
	return l.String()
}
