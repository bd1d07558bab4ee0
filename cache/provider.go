package cache

import (
	"context"
	"time"
)

// Provider stores opaque byte values under string keys. Implementations must
// be safe for concurrent use.
//
// Outcomes, for every method: a nil error means the operation took effect on
// the store; a non-nil error means it may or may not have. A Scope reports
// provider errors through ScopeOptions.OnError and falls back to the loader,
// so a provider never needs to retry on its own.
type Provider interface {
	// Get returns the value stored under key. A missing or expired key is
	// (nil, false, nil). The returned slice may be shared with the provider
	// and with other callers: it must not be modified.
	Get(ctx context.Context, key string) (value []byte, found bool, err error)

	// Set stores value under key for ttl; ttl 0 means no expiry. The provider
	// does not retain value after Set returns (it copies it, or sends it).
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error

	// Delete removes key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error

	// DeleteByPrefix removes every key that starts with prefix and returns
	// how many live entries it removed. Its cost must grow with the number
	// of keys removed, not with the size of the whole keyspace.
	DeleteByPrefix(ctx context.Context, prefix string) (removed int, err error)

	// Has reports whether a live (unexpired) entry is stored under key.
	Has(ctx context.Context, key string) (bool, error)
}

// BatchGetter is implemented by providers that fetch many keys in one round
// trip. WrapMany and WrapManyBatched use it when available, so a warm bulk
// read costs one call instead of one per id.
type BatchGetter interface {
	// GetMany returns one element per key, in order. A nil element is a
	// miss; a stored empty value comes back as a non-nil empty slice. The
	// slices must not be modified.
	GetMany(ctx context.Context, keys []string) ([][]byte, error)
}

// Entry is one value to store, for Guard.SetGuarded.
type Entry struct {
	Key   string
	Value []byte
	TTL   time.Duration // 0 = no expiry
}

// Guard is implemented by providers that keep the stale-write guard inside
// the store itself, so that it holds across every process sharing the store.
//
// The contract: SetGuarded must not store an entry if, after token was
// issued by Token, a Delete of that entry's key or a DeleteByPrefix of a
// prefix of that key took effect. The check and the write are one atomic step
// in the store, so no interleaving of a slow SetGuarded with a Delete can
// leave the older value behind. A provider may refuse conservatively (for
// example once it has forgotten invalidations older than a bounded log), but
// must never store a value it should have refused.
//
// A Scope on a Provider that is not a Guard keeps the same guarantee within
// its own process only.
type Guard interface {
	// Token returns the store's current invalidation position. A Scope takes
	// it before it runs a loader.
	Token(ctx context.Context) (uint64, error)

	// SetGuarded stores each entry unless an invalidation covering its key
	// took effect after token was issued, and returns the indexes (into
	// entries, ascending) of the entries it dropped for that reason.
	SetGuarded(ctx context.Context, token uint64, entries []Entry) (dropped []int, err error)
}
