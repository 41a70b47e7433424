package otelbotonom

import (
	"sync"
	"sync/atomic"
)

// maxCacheEntries bounds each cache: the keys are an operation, a route or
// a status, of which a client has a few dozen; past the bound, values are
// built afresh each time rather than kept.
const maxCacheEntries = 1024

// cache keeps what build made for each key, so that the attributes of a
// route are built once and not on every call. Reads take no lock (one
// atomic load of a map never written after it is published); a miss builds
// the value and publishes a copy of the map with it.
type cache[K comparable, V any] struct {
	mu sync.Mutex // serialises writers
	m  atomic.Pointer[map[K]V]
}

func (c *cache[K, V]) get(k K, build func(K) V) V {
	if m := c.m.Load(); m != nil {
		if v, ok := (*m)[k]; ok {
			return v
		}
	}
	v := build(k)
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old == nil {
		old = &map[K]V{}
	}
	if len(*old) >= maxCacheEntries {
		return v
	}
	if prev, ok := (*old)[k]; ok {
		return prev // another goroutine built it first
	}
	next := make(map[K]V, len(*old)+1)
	for key, val := range *old {
		next[key] = val
	}
	next[k] = v
	c.m.Store(&next)
	return v
}
