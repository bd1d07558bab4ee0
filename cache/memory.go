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
)

// Memory is an in-process Provider. Reads take no lock and write nothing
// shared, except an entry's visited bit once (see memTable for how a shard
// is read while it is written); an entry's value is never changed in place,
// so a hit returns the stored slice without copying it. Writes take their
// shard's lock. A read concurrent with a Set of the same key returns the old
// value or the new one, never a miss; a read that starts after a Set, Delete
// or DeleteByPrefix returned sees its effect.
//
// Eviction is SIEVE: new entries enter a queue at its head; a hit sets the
// entry's visited bit (one atomic store, no lock); when a shard is full, a
// hand moves from the tail towards the head, clearing visited bits, and
// evicts the first entry that was not visited (or has expired). It keeps
// popular entries as well as LRU does without a write on every hit.
//
// Each shard keeps its keys in a B-tree as well as a table, so DeleteByPrefix
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
	_ Provider    = (*Memory)(nil)
	_ BatchGetter = (*Memory)(nil)
)

type memShard struct {
	tab atomic.Pointer[memTable] // the key index; read without mu, written under it
	_   [56]byte                 // readers' line apart from the one writers take

	mu    sync.Mutex
	live  int // entries in tab
	dead  int // tombstones in tab
	keys  *btree.BTreeG[string]
	head  *memEntry // newest
	tail  *memEntry // oldest
	hand  *memEntry // SIEVE hand; nil means start at tail
	bytes int64     // of the entries in the queue

	maxEntries int
	maxBytes   int64
	_          [64]byte // keep shards' locks on separate cache lines
}

// memEntry is immutable once stored, but for its visited bit, its memo and
// its place in the queue (prev and next, under the shard's lock). The
// fields a hit reads come first, together.
type memEntry struct {
	hash    uint64 // of key, by Memory.hash
	key     string
	value   []byte
	expires int64 // clock nanoseconds; 0 = never
	visited atomic.Bool
	memo              // the value a scope decoded value into
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
		sh.tab.Store(newMemTable(minTableSlots))
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

// hash hashes key in two parts, up to its first ':' and after it, so that
// a scope can look up Name + ":" + key from the two parts, without joining
// them (see memPrefix).
func (m *Memory) hash(key string) uint64 {
	i := strings.IndexByte(key, ':') + 1 // 0 if there is none
	return m.hashParts(maphash.String(m.seed, key[:i]), key[i:])
}

// hashParts combines the hash of a key's part up to its first ':' with the
// rest of the key. Without the multiplication, a key whose two parts are
// the same string ("x:x:") would hash to 0, and every such key alike.
func (m *Memory) hashParts(prefixHash uint64, rest string) uint64 {
	return prefixHash ^ maphash.String(m.seed, rest)*0x9e3779b97f4a7c15
}

// memPrefix is a scope's key prefix, Name + ":", with its hash: a key under
// it is hashed from the hash of the prefix and the rest of the key. Its
// only ':' is its last byte (scope names have none), so the first ':' of
// every key under it is the prefix's, as hash requires.
type memPrefix struct {
	s string
	h uint64
}

func (m *Memory) prefix(p string) memPrefix {
	if p == "" || strings.IndexByte(p, ':') != len(p)-1 {
		panic("cache: a Memory key prefix must end in its only ':'")
	}
	return memPrefix{s: p, h: maphash.String(m.seed, p)}
}

// shard is the shard of a key whose hash is h: its low bits pick the shard,
// its high bits the first slot in the shard's table.
func (m *Memory) shard(h uint64) *memShard { return &m.shards[h&m.mask] }

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

// getPrefixed is Get(p.s+key) without building the string.
func (m *Memory) getPrefixed(p memPrefix, key string) ([]byte, bool) {
	return m.hit(m.entryPrefixed(p, key))
}

// memoPrefixed is getPrefixed with the entry's memo.
func (m *Memory) memoPrefixed(p memPrefix, key string) ([]byte, *memo, bool) {
	return m.withMemo(m.entryPrefixed(p, key))
}

// memoPrefixedAt is memoPrefixed with the clock read already, at now: a
// bulk read reads it once for all its keys.
func (m *Memory) memoPrefixedAt(p memPrefix, key string, now int64) ([]byte, *memo, bool) {
	return m.memoAt(m.entryPrefixed(p, key), now)
}

// memoPartsAt is memoPrefixedAt(p, mid+key, now) without building mid+key:
// the rest of the key is hashed as the two strings written in turn, which
// maphash hashes as their concatenation.
func (m *Memory) memoPartsAt(p memPrefix, mid, key string, now int64) ([]byte, *memo, bool) {
	var rest maphash.Hash
	rest.SetSeed(m.seed)
	rest.WriteString(mid)
	rest.WriteString(key)
	h := p.h ^ rest.Sum64()*0x9e3779b97f4a7c15 // as hashParts
	return m.memoAt(m.shard(h).tab.Load().findParts3(h, p.s, mid, key), now)
}

func (m *Memory) memoAt(e *memEntry, now int64) ([]byte, *memo, bool) {
	if e == nil || (e.expires != 0 && now >= e.expires) {
		return nil, nil, false
	}
	if !e.visited.Load() {
		e.visited.Store(true)
	}
	return e.value, &e.memo, true
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
	h := m.hash(key)
	return m.shard(h).tab.Load().find(h, key)
}

// entryPrefixed is entry(p.s+key) without building the string.
func (m *Memory) entryPrefixed(p memPrefix, key string) *memEntry {
	h := m.hashParts(p.h, key)
	return m.shard(h).tab.Load().findParts(h, p.s, key)
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
	e := &memEntry{hash: m.hash(key), key: key, value: append(make([]byte, 0, len(value)), value...)}
	if ttl > 0 {
		e.expires = m.nowNanos() + int64(ttl)
	}
	sh := m.shard(e.hash)
	if e.size() > sh.maxBytes {
		return ErrTooLarge
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	// An old entry of key stays readable until put replaces it: a
	// concurrent read sees the old value or the new, never a miss.
	replacing := 0
	if old := sh.tab.Load().find(e.hash, key); old != nil {
		sh.unlink(old)
		replacing = 1
	} else {
		sh.keys.ReplaceOrInsert(key)
	}
	for sh.live-replacing >= sh.maxEntries || sh.bytes+e.size() > sh.maxBytes {
		sh.evict(m.nowNanos())
	}
	sh.put(e)
	sh.pushHead(e)
	return nil
}

// Delete implements Provider. It never fails.
func (m *Memory) Delete(_ context.Context, key string) error {
	h := m.hash(key)
	sh := m.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e := sh.tab.Load().find(h, key); e != nil {
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
			e := sh.tab.Load().find(m.hash(k), k)
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
		sh.mu.Lock()
		n += sh.live
		sh.mu.Unlock()
	}
	return n
}

// pushHead queues e as the newest entry. The caller holds sh.mu.
func (sh *memShard) pushHead(e *memEntry) {
	e.next = sh.head
	if sh.head != nil {
		sh.head.prev = e
	}
	sh.head = e
	if sh.tail == nil {
		sh.tail = e
	}
	sh.bytes += e.size()
}

// remove takes e out of the queue and the table, but not out of the key
// index (the caller does that). The caller holds sh.mu.
func (sh *memShard) remove(e *memEntry) {
	sh.unlink(e)
	sh.drop(e)
}

// unlink takes e out of the queue, leaving it in the table: Set then
// replaces it there. The caller holds sh.mu.
func (sh *memShard) unlink(e *memEntry) {
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
