// Package cache is a read-through cache with single-flight loading,
// per-entity bulk reads and race-safe invalidation.
//
// # Reading through a scope
//
// A Scope names a family of keys on a Provider. Every read goes through Wrap
// (or WrapBytes, WrapMany, WrapManyBatched): on a hit the cached value is
// returned; on a miss the loader runs once, however many callers miss at the
// same time, and its value is stored with the scope's TTL.
//
//	p := cache.NewMemory(cache.MemoryOptions{})
//	slo := cache.NewScope(p, cache.ScopeOptions{Name: "slo", DefaultTTL: 15 * time.Second})
//
//	obj, err := cache.Wrap(ctx, slo, "objective:"+cache.Part(id), func(ctx context.Context) (Objective, error) {
//		return store.GetObjective(ctx, id)
//	})
//
// Keys are stored as Name + ":" + key, so one scope never reads or
// invalidates another's entries. Build keys from request input with Key or
// Part, which escape the separator so that two different inputs never make
// the same key and one id's prefix never covers another id.
//
// # Mutations
//
// Every mutation runs
//
//	db.write → scope.Invalidate (awaited) → signal
//
// and the scope guarantees that a read which starts after Invalidate returned
// sees the write. Concretely, these must never happen:
//
//  1. A load that was in flight when Invalidate(k) or InvalidatePrefix(p)
//     (with k under p) ran stores its value afterwards. This holds for keys
//     never invalidated before, and for a Set and a Delete that are slow and
//     interleave: Invalidate waits for a store already under way before it
//     deletes, and dooms a load that has not reached its store yet.
//  2. A read that starts after Invalidate returned joins a load that began
//     before it. Invalidate detaches such loads from the single-flight table;
//     their existing waiters still get their value, nobody new does.
//  3. The state kept for 1 and 2 grows with the number of keys ever
//     invalidated. The scope only remembers loads in flight; a Guard
//     provider keeps a bounded log.
//
// Within one process these hold for any Provider. Across processes (several
// servers on one Redis) they need the provider's help: a provider that
// implements Guard checks, atomically inside the store, that no invalidation
// covering a key happened since the load began before it stores the value.
// A refused store tells the scope that another process invalidated the key
// while it loaded, so the load runs again before its waiters are answered
// (some may have joined after that invalidation returned); and a load is
// joinable only while its loader runs, never while the provider is
// answering for it, so nobody joins after the answer that made it fresh.
//
// # Failures
//
// The cache fails open. A provider error is counted, reported through
// ScopeOptions.OnError, and the read falls through to the loader; a cache
// outage never fails a read. A loader error reaches every waiter and is
// never cached; a loader panic reaches every waiter as an error wrapping
// ErrPanic. A waiter whose own context ends gets ctx.Err() at once, while the
// load goes on, on a context no single waiter can cancel (bounded by
// ScopeOptions.LoadTimeout), and still fills the cache for the others.
//
// When the provider's Delete fails inside Invalidate, the entry may still be
// in the store. Invalidate then returns the error (the caller's write has
// happened; its signal should still be sent) and the scope stops reading
// that key, or that prefix, from the provider: reads go to the loader, whose
// fresh values overwrite the stale entry, until the longest TTL the scope
// has written has passed or a later invalidation of the same key or prefix
// succeeds. Other processes sharing the store are not covered by that
// fallback; they see the stale entry at most until its TTL. If ctx ends
// while Invalidate waits for a store under way, it returns ctx's error and
// bypasses the key the same way, for long enough to outlast that store.
//
// Two limits, both fail-open by design. A loader that ignores its context
// keeps its key's flight busy until it returns, and callers of that key wait
// on their own contexts meanwhile. And when a Guard provider cannot answer
// (its Token or SetGuarded fails, say Redis is down), a load's value is
// served unguarded and not stored, so the cross-process protection of rule
// 2 lapses for that load; within the process it still holds.
//
// # Values
//
// Wrap encodes values with the scope's Codec (JSON by default). WrapBytes
// stores and returns bytes as they are, for HTTP handlers that serve a cached
// JSON body without decoding it. Callers that share a load also share the
// loader's value; a hit may return bytes shared with the provider; and on
// the in-process provider, typed hits of one entry share the value it was
// decoded into once (so a warm typed read costs a lookup, not a decode):
// treat every returned value as read-only. One key holds one kind of value.
//
// # Expiry and statistics
//
// A value is not served once its TTL has passed: the in-process provider
// compares an entry's expiry with its clock (the monotonic clock, or
// MemoryOptions.Now) on every read, not with a coarser time kept by a
// ticker; Redis expires keys itself. A bulk read (WrapMany and its kin)
// reads the clock once, when it starts: it serves the entries live then.
// Scope.Stats counts every read exactly, parallel hits included: a hit
// adds one (a bulk read its number of hits), atomically, to a counter cell
// chosen from its goroutine's stack address, so that goroutines running at
// once mostly write different cache lines, and Stats sums the cells.
//
// # The in-process provider
//
// Memory's reads take no lock. Each shard indexes its keys in a table whose
// slots are atomic pointers: a writer, holding the shard's lock, makes each
// change visible to readers with one atomic store (an insert, an overwrite
// or a delete; a delete may then clear tombstones, which readers do not
// need), and a table that fills is replaced by a new one, never rebuilt in
// place. So a read concurrent with a Set of the same key returns the old
// value or the new one, never a miss (unless another key's Set evicts it
// meanwhile, as it could before), and a read that starts after a Set,
// Delete or DeleteByPrefix returned sees its effect (DeleteByPrefix is not
// atomic across keys while it runs): what Invalidate's guarantees rest on.
// A read's probe ends after one lap of the table whatever writers do
// meanwhile; a miss it then answers is one the read's overlap with a
// change allows. (TestMemoryReadsDuringWritesNeverMissAPresentKey,
// TestNoStaleReadAfterInvalidate on a plain Memory)
package cache
