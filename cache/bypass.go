package cache

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxBypass bounds the bypass set; past it, the set collapses into one entry
// covering the whole scope.
const maxBypass = 256

// bypassSet remembers the keys and prefixes whose invalidation failed in the
// provider, so the scope stops reading them from it. An entry lasts until
// the longest TTL the scope has written has passed (after which any entry
// written before the failure is gone) or until a later invalidation of the
// same key or a covering prefix succeeds. It holds at most maxBypass
// entries, and is empty, costing one atomic load per read, while the
// provider's deletes succeed.
type bypassSet struct {
	n atomic.Int32 // len(entries); read on every lookup without mu

	scopePrefix string // the scope's Name + ":": covers all its keys

	mu       sync.Mutex
	entries  []bypassEntry
	maxTTL   time.Duration // longest TTL stored so far
	noExpiry bool          // some value was stored without expiry
}

type bypassEntry struct {
	key    string // scoped key, or prefix when prefix is set
	prefix bool
	until  time.Time // zero: until a successful invalidation
}

// observe records a TTL the scope stored a value with.
func (b *bypassSet) observe(ttl time.Duration) {
	b.mu.Lock()
	if ttl <= 0 {
		b.noExpiry = true
	} else if ttl > b.maxTTL {
		b.maxTTL = ttl
	}
	b.mu.Unlock()
}

// add bypasses key (or every key under it) until every value written
// before now has expired; pending is how much longer a store still under
// way may take to land.
func (b *bypassSet) add(key string, prefix bool, now time.Time, pending time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := bypassEntry{key: key, prefix: prefix}
	if !b.noExpiry {
		e.until = now.Add(b.maxTTL + pending)
	}
	if len(b.entries) >= maxBypass {
		// Collapse into one entry covering every key of the scope; a
		// successful InvalidatePrefix of the whole scope clears it.
		e = bypassEntry{key: b.scopePrefix, prefix: true, until: e.until}
		b.entries = b.entries[:0]
	}
	b.entries = append(b.entries, e)
	b.n.Store(int32(len(b.entries)))
}

// clear forgets the entries a successful invalidation of key (or of every
// key under it, when prefix is set) has made unnecessary.
func (b *bypassSet) clear(key string, prefix bool) {
	if b.n.Load() == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	kept := b.entries[:0]
	for _, e := range b.entries {
		covered := e.key == key && e.prefix == prefix ||
			prefix && strings.HasPrefix(e.key, key)
		if !covered {
			kept = append(kept, e)
		}
	}
	b.entries = kept
	b.n.Store(int32(len(kept)))
}

// covers reports whether key must not be read from the provider.
func (b *bypassSet) covers(key string, now time.Time) bool {
	if b.n.Load() == 0 {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	hit := false
	kept := b.entries[:0]
	for _, e := range b.entries {
		if !e.until.IsZero() && now.After(e.until) {
			continue
		}
		kept = append(kept, e)
		if e.key == key || e.prefix && strings.HasPrefix(key, e.key) {
			hit = true
		}
	}
	b.entries = kept
	b.n.Store(int32(len(kept)))
	return hit
}
