// Package rediscache is a cache.Provider on Redis, for several server
// instances that share one cache.
//
//	client := redis.NewClient(&redis.Options{
//		Addr:         "127.0.0.1:6379",
//		MaxRetries:   -1, // the cache fails open; the provider never retries
//		DialTimeout:  200 * time.Millisecond,
//		ReadTimeout:  100 * time.Millisecond,
//		WriteTimeout: 100 * time.Millisecond,
//	})
//	p := rediscache.New(client, rediscache.Options{Namespace: "checkstack"})
//	defer client.Close()
//	defer p.Close()
//
//	slo := cache.NewScope(p, cache.ScopeOptions{Name: "slo", DefaultTTL: time.Minute})
//
// Build the client with MaxRetries -1 (or a small number) and short dial,
// read and write timeouts. By default go-redis retries a failed command with
// backoff, which turns one Redis outage into a slow request for every cache
// read; a cache read that fails falls through to the loader anyway, so a
// quick error is what the caller wants.
//
// # Key layout
//
// All keys of a namespace N live under the hash tag "{N}":
//
//	{N}d:<key>    the value stored under cache key <key>
//	{N}m:idx      sorted set of the cache keys stored, all with score 0
//	{N}m:seq      the invalidation sequence
//	{N}m:log      sorted set of recent invalidations, scored by sequence:
//	              "<seq>|k|<key>" for Delete, "<seq>|p|<prefix>" for
//	              DeleteByPrefix
//	{N}m:floor    the highest sequence number trimmed out of the log
//
// The provider needs Redis 6.2 or later (for ZRANDMEMBER). Get, GetMany and
// Has are one GET, MGET and EXISTS. Token and everything
// that writes are one Lua script call each (EVALSHA, falling back to EVAL),
// so each is one round trip and atomic.
//
// # The index
//
// DeleteByPrefix must not scan the keyspace. Every Set adds its key to the
// index, a sorted set whose members all score 0 and so are ordered by their
// bytes; the keys that start with a prefix are one lexicographic range of it,
// read with ZRANGEBYLEX in O(log N + k). The keys are DELeted in batches and
// the range removed with ZREMRANGEBYLEX, in the same script. Like every
// script, it holds Redis for its whole run: removing a million keys at once
// takes a couple of seconds.
//
// Values expire on their own, but their index members do not. So each Set
// also picks two random members (ZRANDMEMBER) and removes those whose value
// is gone. If a fraction f of the index is dead, a Set removes 2f dead
// members on average while it adds at most one, so the index settles at no
// more than about twice the number of live keys.
//
// # The stale-write guard
//
// A Scope takes a Token before it runs a loader and stores the loaded value
// with SetGuarded. The guard guarantees that if a Delete of the key, or a
// DeleteByPrefix of a prefix of it, took effect after the token, the value is
// not stored: the loader may have read the database before the write that
// the invalidation announces. With several server instances the load and the
// invalidation can run in different processes, so the guard cannot live in
// process memory; it lives in Redis, next to the data, and SetGuarded checks
// it and writes in one atomic script.
//
// Every Delete and DeleteByPrefix increments {N}m:seq and appends a record
// to {N}m:log, in the script that deletes; a token is the sequence number,
// read by Token. SetGuarded stores everything
// when the sequence has not moved, and otherwise reads the records after its
// token and drops the entries they cover. The log keeps the last GuardLogSize
// records; older ones are trimmed and {N}m:floor remembers how far. A token
// older than the floor can no longer be checked, so its entries are dropped:
// the guard may refuse a value it could have stored, never the reverse.
//
// The guard also refuses, rather than guesses, when its state was lost:
// when the sequence is lower than the token, or when the log no longer holds
// exactly the records between the floor and the sequence (flushed or
// evicted). The sequence is created on first use, and recreated after a
// loss, from the server's clock in microseconds, above every token issued
// before, with its floor at the same number. It cannot detect a
// restore from an older snapshot, which rolls everything back consistently;
// run the cache's Redis without persistence, or flush it after a restore.
// Use the noeviction policy or a volatile-* one: the index and the guard's
// keys have no TTL, and an allkeys-* policy could evict the index, after which
// DeleteByPrefix would miss keys.
//
// # The circuit breaker
//
// Each operation is bounded by OpTimeout. FailureThreshold consecutive
// failures open the breaker (a miss is not a failure, nor is the caller's
// own context ending). While it is open every operation returns an error
// wrapping ErrUnavailable at once, without touching the network, so a Redis
// outage costs the callers nothing but the loader; one background goroutine
// PINGs every ProbeInterval and closes the breaker when Redis answers. Close
// stops that goroutine.
//
// # Redis Cluster
//
// The scripts touch the data keys they compute from the index, besides the
// keys they are passed, and Redis Cluster only allows that within one slot.
// The hash tag puts all of a namespace's keys in one slot, and so on one
// shard: to spread a large cache over a cluster, give different scopes
// different Providers with different namespaces.
package rediscache
