package rediscache

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/checkstack/checkstack/cache"
)

// ErrUnavailable is returned, wrapped with the operation, while the circuit
// breaker is open: the provider has seen FailureThreshold consecutive
// failures and answers at once, without network I/O, until a background
// probe reaches Redis again.
var ErrUnavailable = errors.New("rediscache: redis unavailable")

var (
	_ cache.Provider    = (*Provider)(nil)
	_ cache.BatchGetter = (*Provider)(nil)
	_ cache.Guard       = (*Provider)(nil)
)

// Options configures a Provider. The zero value of every field selects the
// documented default.
type Options struct {
	// Namespace separates this cache's keys from everything else in the
	// database. Every key lives under the hash tag "{Namespace}", so all of
	// them share one cluster slot. "" means "checkstack".
	Namespace string

	// OpTimeout bounds each operation, on top of the caller's context.
	// 0 means 100ms. It must also cover the largest DeleteByPrefix, which
	// runs as one script: a script that outlives it still completes in
	// Redis, but the call reports an error and counts as a failure.
	OpTimeout time.Duration

	// FailureThreshold is how many consecutive failed operations open the
	// circuit breaker. 0 means 3.
	FailureThreshold int

	// ProbeInterval is how often, while the breaker is open, a background
	// probe PINGs Redis; the first successful PING closes the breaker.
	// 0 means 250ms.
	ProbeInterval time.Duration

	// GuardLogSize is how many invalidations the stale-write guard
	// remembers. A SetGuarded whose token is older than the oldest
	// remembered invalidation drops its entries. 0 means 4096.
	GuardLogSize int
}

// Provider is a cache.Provider on Redis. It also implements
// cache.BatchGetter and cache.Guard. It is safe for concurrent use; Close
// stops its background prober.
type Provider struct {
	client  redis.UniversalClient
	timeout time.Duration
	logSize string // GuardLogSize, formatted once for the scripts

	data  string // prefix of data keys: "{ns}d:"
	idx   string // "{ns}m:idx"
	seq   string // "{ns}m:seq"
	log   string // "{ns}m:log"
	floor string // "{ns}m:floor"

	guardKeys []string // seq, log, floor, idx: the scripts' KEYS
	tokenKeys []string // seq, log, floor
	indexKeys []string // idx
	breaker   *breaker
}

// New returns a Provider that keeps its entries in client. The caller owns
// client and closes it after calling Close.
func New(client redis.UniversalClient, opts Options) *Provider {
	ns := opts.Namespace
	if ns == "" {
		ns = "checkstack"
	}
	if opts.OpTimeout <= 0 {
		opts.OpTimeout = 100 * time.Millisecond
	}
	if opts.FailureThreshold <= 0 {
		opts.FailureThreshold = 3
	}
	if opts.ProbeInterval <= 0 {
		opts.ProbeInterval = 250 * time.Millisecond
	}
	if opts.GuardLogSize <= 0 {
		opts.GuardLogSize = 4096
	}
	tag := "{" + ns + "}"
	p := &Provider{
		client:  client,
		timeout: opts.OpTimeout,
		logSize: strconv.Itoa(opts.GuardLogSize),
		data:    tag + "d:",
		idx:     tag + "m:idx",
		seq:     tag + "m:seq",
		log:     tag + "m:log",
		floor:   tag + "m:floor",
	}
	p.guardKeys = []string{p.seq, p.log, p.floor, p.idx}
	p.tokenKeys = p.guardKeys[:3]
	p.indexKeys = []string{p.idx}
	p.breaker = newBreaker(opts.FailureThreshold, opts.ProbeInterval, opts.OpTimeout, func(ctx context.Context) error {
		return client.Ping(ctx).Err()
	})
	return p
}

// Close stops the background prober and waits for it to return. It does
// not close the client. After Close the breaker stays closed: operations
// go to Redis and fail on their own. Close is safe to call more than once.
func (p *Provider) Close() error {
	p.breaker.stop()
	return nil
}

// Get returns the value stored under key, in one GET.
func (p *Provider) Get(ctx context.Context, key string) ([]byte, bool, error) {
	opCtx, cancel, err := p.start(ctx, "get")
	if err != nil {
		return nil, false, err
	}
	v, err := p.client.Get(opCtx, p.data+key).Bytes()
	cancel()
	if err == redis.Nil {
		p.breaker.success()
		return nil, false, nil
	}
	if err := p.finish(ctx, "get", err); err != nil {
		return nil, false, err
	}
	return v, true, nil
}

// GetMany returns the values stored under keys, in one MGET.
func (p *Provider) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	if len(keys) == 0 {
		return [][]byte{}, nil
	}
	dataKeys := make([]string, len(keys))
	for i, k := range keys {
		dataKeys[i] = p.data + k
	}
	opCtx, cancel, err := p.start(ctx, "get many")
	if err != nil {
		return nil, err
	}
	vals, err := p.client.MGet(opCtx, dataKeys...).Result()
	cancel()
	if err := p.finish(ctx, "get many", err); err != nil {
		return nil, err
	}
	if len(vals) != len(keys) {
		return nil, fmt.Errorf("rediscache: get many: %d replies for %d keys", len(vals), len(keys))
	}
	out := make([][]byte, len(keys))
	for i, v := range vals {
		switch v := v.(type) {
		case nil:
		case string:
			out[i] = []byte(v)
		case []byte:
			out[i] = v
		default:
			return nil, fmt.Errorf("rediscache: get many: unexpected reply %T", v)
		}
	}
	return out, nil
}

// Has reports whether a live entry is stored under key, in one EXISTS.
func (p *Provider) Has(ctx context.Context, key string) (bool, error) {
	opCtx, cancel, err := p.start(ctx, "has")
	if err != nil {
		return false, err
	}
	n, err := p.client.Exists(opCtx, p.data+key).Result()
	cancel()
	if err := p.finish(ctx, "has", err); err != nil {
		return false, err
	}
	return n > 0, nil
}

// Set stores value under key for ttl and adds key to the index, in one
// script call that also collects two index members whose data has expired.
func (p *Provider) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	ms, err := ttlMillis(ttl)
	if err != nil {
		return fmt.Errorf("rediscache: set: %w", err)
	}
	opCtx, cancel, err := p.start(ctx, "set")
	if err != nil {
		return err
	}
	err = setScript.Run(opCtx, p.client, p.indexKeys, value, ms, key, p.data).Err()
	cancel()
	return p.finish(ctx, "set", err)
}

// Delete records the invalidation of key in the guard's log and removes
// key, atomically.
func (p *Provider) Delete(ctx context.Context, key string) error {
	opCtx, cancel, err := p.start(ctx, "delete")
	if err != nil {
		return err
	}
	err = deleteScript.Run(opCtx, p.client, p.guardKeys, p.logSize, key, p.data).Err()
	cancel()
	return p.finish(ctx, "delete", err)
}

// DeleteByPrefix records the invalidation of prefix in the guard's log and
// removes every indexed key that starts with prefix, atomically. It reads
// the index over one lexicographic range, so its cost is O(log N + k) for k
// keys removed out of N indexed; it never scans the keyspace.
func (p *Provider) DeleteByPrefix(ctx context.Context, prefix string) (int, error) {
	lo, hi := lexRange(prefix)
	opCtx, cancel, err := p.start(ctx, "delete by prefix")
	if err != nil {
		return 0, err
	}
	n, err := deletePrefixScript.Run(opCtx, p.client, p.guardKeys, p.logSize, prefix, lo, hi, p.data).Int()
	cancel()
	if err := p.finish(ctx, "delete by prefix", err); err != nil {
		return 0, err
	}
	return n, nil
}

// Token returns the current invalidation sequence number, creating the
// sequence on first use, in one script call.
func (p *Provider) Token(ctx context.Context) (uint64, error) {
	opCtx, cancel, err := p.start(ctx, "token")
	if err != nil {
		return 0, err
	}
	tok, err := tokenScript.Run(opCtx, p.client, p.tokenKeys).Uint64()
	cancel()
	if err := p.finish(ctx, "token", err); err != nil {
		return 0, err
	}
	return tok, nil
}

// SetGuarded stores entries, in one script call, unless an invalidation
// covering an entry's key was recorded after token, and returns the indexes
// of the entries it dropped. It drops every entry when token is older than
// the oldest invalidation the log remembers.
func (p *Provider) SetGuarded(ctx context.Context, token uint64, entries []cache.Entry) ([]int, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	args := make([]any, 0, 2+3*len(entries))
	args = append(args, strconv.FormatUint(token, 10), p.data)
	for _, e := range entries {
		ms, err := ttlMillis(e.TTL)
		if err != nil {
			return nil, fmt.Errorf("rediscache: set guarded: %w", err)
		}
		args = append(args, e.Key, e.Value, ms)
	}
	opCtx, cancel, err := p.start(ctx, "set guarded")
	if err != nil {
		return nil, err
	}
	idx, err := setGuardedScript.Run(opCtx, p.client, p.guardKeys, args...).Int64Slice()
	cancel()
	if err := p.finish(ctx, "set guarded", err); err != nil {
		return nil, err
	}
	dropped := make([]int, len(idx))
	for i, v := range idx {
		dropped[i] = int(v)
	}
	return dropped, nil
}

// start checks the caller's context and the breaker, and derives the
// operation's context.
func (p *Provider) start(ctx context.Context, op string) (context.Context, context.CancelFunc, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("rediscache: %s: %w", op, err)
	}
	if p.breaker.isOpen() {
		return nil, nil, fmt.Errorf("rediscache: %s: %w", op, ErrUnavailable)
	}
	opCtx, cancel := context.WithTimeout(ctx, p.timeout)
	return opCtx, cancel, nil
}

// finish reports the outcome to the breaker and wraps err with op. A
// failure caused by the caller's own context ending says nothing about
// Redis and is not counted.
func (p *Provider) finish(ctx context.Context, op string, err error) error {
	switch {
	case err == nil:
		p.breaker.success()
		return nil
	case ctx.Err() == nil:
		p.breaker.failure()
	}
	return fmt.Errorf("rediscache: %s: %w", op, err)
}

// ttlMillis converts a TTL to whole milliseconds, rounding up so that a
// positive TTL never becomes 0 (no expiry).
func ttlMillis(ttl time.Duration) (int64, error) {
	if ttl < 0 {
		return 0, fmt.Errorf("negative ttl %v", ttl)
	}
	return int64((ttl + time.Millisecond - 1) / time.Millisecond), nil
}

// lexRange returns the ZRANGEBYLEX bounds of the members that start with
// prefix: from prefix, inclusive, to the smallest string greater than every
// string with that prefix, exclusive. That successor drops trailing 0xff
// bytes and increments the last remaining byte; when nothing remains (prefix
// "" or all 0xff) the range is open-ended.
func lexRange(prefix string) (lo, hi string) {
	if prefix == "" {
		return "-", "+"
	}
	lo = "[" + prefix
	end := len(prefix)
	for end > 0 && prefix[end-1] == 0xff {
		end--
	}
	if end == 0 {
		return lo, "+"
	}
	succ := []byte(prefix[:end])
	succ[end-1]++
	return lo, "(" + string(succ)
}
