package cache

import (
	"context"
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/btree"
)

// MemoryOptions bound a Memory provider. Zero values pick the defaults.
type MemoryOptions struct {
	// MaxEntries is the most entries kept. Zero means 100,000.
	MaxEntries int
	// MaxBytes is the most bytes of keys, values and bookkeeping kept.
	// Zero means 256 MiB.
	MaxBytes int64
	// Now is the clock used for expiry. Nil means time.Now; tests pass a
	// clock they drive.
	Now func() time.Time
}

const (
	defaultMaxEntries = 100_000
	defaultMaxBytes   = 256 << 20
	maxShards         = 64
	minShardEntries   = 256     // fewer than this per shard: use fewer shards
	minShardBytes     = 1 << 20 // likewise for bytes
	entryOverhead     = 96      // bytes of bookkeeping per entry, roughly
	stackKeyLen       = 192     // prefixed keys up to this length are built on the stack
)

// Memory is an in-process Provider. Reads take a shard's read lock only;
// an entry's value is never changed in place, so a hit returns the stored
// slice without copying it.
//
// Eviction is SIEVE: new entries enter a queue at its head; a hit sets the
// entry's visited bit (one atomic store, no lock); when a shard is full, a
// hand moves from the tail towards the head, clearing visited bits, and
// evicts the first entry that was not visited (or has expired). It keeps
// popular entries as well as LRU does without a write on every hit.
//
// Each shard keeps its keys in a B-tree as well as a map, so DeleteByPrefix
// costs a seek per shard plus the entries it removes, however many others
// there are. The limits apply per shard (each gets an equal part), so a
// full cache may hold slightly fewer entries than MaxEntries.
type Memory struct {
	shards []memShard
	mask   uint64
	seed   maphash.Seed
	clock  func() time.Time // nil: monotonic time since epoch
	epoch  time.Time
}

var (
	_ Provider       = (*Memory)(nil)
	_ BatchGetter    = (*Memory)(nil)
	_ prefixedGetter = (*Memory)(nil)
)

type memShard struct {
	mu    sync.RWMutex
	m     map[string]*memEntry
	keys  *btree.BTreeG[string]
	head  *memEntry // newest
	tail  *memEntry // oldest
	hand  *memEntry // SIEVE hand; nil means start at tail
	bytes int64

	maxEntries int
	maxBytes   int64
	_          [64]byte // keep shards' locks on separate cache lines
}

type memEntry struct {
	memo    // the value a scope decoded value into
	key     string
	value   []byte
	expires int64 // clock nanoseconds; 0 = never
	visited atomic.Bool
	prev    *memEntry // towards head (newer)
	next    *memEntry // towards tail (older)
}

func (e *memEntry) size() int64 { return int64(len(e.key) + len(e.value) + entryOverhead) }

// NewMemory returns an empty in-process provider.
func NewMemory(opts MemoryOptions) *Memory {
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = defaultMaxEntries
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = defaultMaxBytes
	}
	n := 1
	for n < maxShards && opts.MaxEntries/(n*2) >= minShardEntries && opts.MaxBytes/int64(n*2) >= minShardBytes {
		n *= 2
	}
	m := &Memory{
		shards: make([]memShard, n),
		mask:   uint64(n - 1),
		seed:   maphash.MakeSeed(),
		clock:  opts.Now,
		epoch:  time.Now(),
	}
	for i := range m.shards {
		sh := &m.shards[i]
		sh.m = make(map[string]*memEntry)
		sh.keys = btree.NewG(32, func(a, b string) bool { return a < b })
		sh.maxEntries = max(1, opts.MaxEntries/n)
		sh.maxBytes = max(1, opts.MaxBytes/int64(n))
	}
	return m
}

func (m *Memory) nowNanos() int64 {
	if m.clock != nil {
		return m.clock().UnixNano()
	}
	return int64(time.Since(m.epoch)) // monotonic
}

func (m *Memory) shard(key string) *memShard {
	return &m.shards[maphash.String(m.seed, key)&m.mask]
}

func (m *Memory) live(e *memEntry) bool {
	return e != nil && (e.expires == 0 || m.nowNanos() < e.expires)
}

func (m *Memory) hit(e *memEntry) ([]byte, bool) {
	if !m.live(e) {
		return nil, false
	}
	if !e.visited.Load() { // avoid writing a shared line on every hit
		e.visited.Store(true)
	}
	return e.value, true
}

// Get implements Provider. It never fails.
func (m *Memory) Get(_ context.Context, key string) ([]byte, bool, error) {
	v, ok := m.hit(m.entry(key))
	return v, ok, nil
}

// getPrefixed is Get(prefix+key) without building the string.
func (m *Memory) getPrefixed(prefix, key string) ([]byte, bool) {
	return m.hit(m.entryPrefixed(prefix, key))
}

// memoPrefixed is getPrefixed with the entry's memo.
func (m *Memory) memoPrefixed(prefix, key string) ([]byte, *memo, bool) {
	return m.withMemo(m.entryPrefixed(prefix, key))
}

// memoFull is Get with the entry's memo.
func (m *Memory) memoFull(key string) ([]byte, *memo, bool) {
	return m.withMemo(m.entry(key))
}

func (m *Memory) withMemo(e *memEntry) ([]byte, *memo, bool) {
	v, ok := m.hit(e)
	if !ok {
		return nil, nil, false
	}
	return v, &e.memo, true
}

// entry returns the entry stored under key, live or not, or nil.
func (m *Memory) entry(key string) *memEntry {
	sh := m.shard(key)
	sh.mu.RLock()
	e := sh.m[key]
	sh.mu.RUnlock()
	return e
}

// entryPrefixed is entry(prefix+key) without building the string: the key
// is assembled in a stack buffer, hashed, and looked up with m[string(b)],
// which the compiler does without allocating.
func (m *Memory) entryPrefixed(prefix, key string) *memEntry {
	if len(prefix)+len(key) > stackKeyLen {
		return m.entry(prefix + key)
	}
	var buf [stackKeyLen]byte
	b := append(append(buf[:0], prefix...), key...)
	sh := &m.shards[maphash.Bytes(m.seed, b)&m.mask]
	sh.mu.RLock()
	e := sh.m[string(b)]
	sh.mu.RUnlock()
	return e
}

// GetMany implements BatchGetter. It never fails.
func (m *Memory) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		if v, ok, _ := m.Get(ctx, k); ok {
			if v == nil {
				v = []byte{}
			}
			out[i] = v
		}
	}
	return out, nil
}

// Has implements Provider. It never fails.
func (m *Memory) Has(_ context.Context, key string) (bool, error) {
	return m.live(m.entry(key)), nil
}

// Set implements Provider. It copies value. It fails only with ErrTooLarge,
// for a value that could never fit in its shard.
func (m *Memory) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	e := &memEntry{key: key, value: append(make([]byte, 0, len(value)), value...)}
	if ttl > 0 {
		e.expires = m.nowNanos() + int64(ttl)
	}
	sh := m.shard(key)
	if e.size() > sh.maxBytes {
		return ErrTooLarge
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if old := sh.m[key]; old != nil {
		sh.remove(old)
	} else {
		sh.keys.ReplaceOrInsert(key)
	}
	for len(sh.m) >= sh.maxEntries || sh.bytes+e.size() > sh.maxBytes {
		sh.evict(m.nowNanos())
	}
	sh.m[key] = e
	sh.pushHead(e)
	sh.bytes += e.size()
	return nil
}

// Delete implements Provider. It never fails.
func (m *Memory) Delete(_ context.Context, key string) error {
	sh := m.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e := sh.m[key]; e != nil {
		sh.remove(e)
		sh.keys.Delete(key)
	}
	return nil
}

// DeleteByPrefix implements Provider. It never fails.
func (m *Memory) DeleteByPrefix(_ context.Context, prefix string) (int, error) {
	now := m.nowNanos()
	removed := 0
	var doomed []string
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		doomed = doomed[:0]
		sh.keys.AscendGreaterOrEqual(prefix, func(k string) bool {
			if !strings.HasPrefix(k, prefix) {
				return false
			}
			doomed = append(doomed, k)
			return true
		})
		for _, k := range doomed {
			e := sh.m[k]
			if e.expires == 0 || now < e.expires {
				removed++
			}
			sh.remove(e)
			sh.keys.Delete(k)
		}
		sh.mu.Unlock()
	}
	return removed, nil
}

// Len returns the number of entries held, expired ones included until they
// are evicted or overwritten.
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}

// pushHead links e in as the newest entry. The caller holds sh.mu.
func (sh *memShard) pushHead(e *memEntry) {
	e.next = sh.head
	if sh.head != nil {
		sh.head.prev = e
	}
	sh.head = e
	if sh.tail == nil {
		sh.tail = e
	}
}

// remove unlinks e and forgets it, except from the key index (the caller
// decides: an overwrite keeps the key). The caller holds sh.mu.
func (sh *memShard) remove(e *memEntry) {
	if sh.hand == e {
		sh.hand = e.prev
	}
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		sh.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		sh.tail = e.prev
	}
	e.prev, e.next = nil, nil
	delete(sh.m, e.key)
	sh.bytes -= e.size()
}

// evict removes one entry by SIEVE, preferring an expired one on the way.
// The caller holds sh.mu and the shard is not empty.
func (sh *memShard) evict(now int64) {
	e := sh.hand
	if e == nil {
		e = sh.tail
	}
	for e.visited.Load() && (e.expires == 0 || now < e.expires) {
		e.visited.Store(false)
		if e = e.prev; e == nil {
			e = sh.tail
		}
	}
	sh.hand = e.prev
	sh.remove(e)
	sh.keys.Delete(e.key)
}
