package rediscache_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/cache/rediscache"
)

// TestScopesOnTwoInstances: instance A starts a load; while its loader
// runs, instance B invalidates the key; A's loader then returns the value it
// read before the write. A's caller still gets that value, but it must not
// reach Redis, and B's next read must load again.
func TestScopesOnTwoInstances(t *testing.T) {
	for _, tc := range []struct {
		name       string
		invalidate func(ctx context.Context, s *cache.Scope) error
	}{
		{"Invalidate", func(ctx context.Context, s *cache.Scope) error {
			return s.Invalidate(ctx, "objective:1")
		}},
		{"InvalidatePrefix", func(ctx context.Context, s *cache.Scope) error {
			_, err := s.InvalidatePrefix(ctx, "objective:")
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			ns := newNamespace(t)
			pa := newProvider(t, newClient(t), ns, rediscache.Options{OpTimeout: time.Second})
			pb := newProvider(t, newClient(t), ns, rediscache.Options{OpTimeout: time.Second})
			opts := cache.ScopeOptions{
				Name:       "slo",
				DefaultTTL: time.Minute,
				OnError:    func(op string, err error) { t.Errorf("provider error on %s: %v", op, err) },
			}
			a, b := cache.NewScope(pa, opts), cache.NewScope(pb, opts)

			started, release := make(chan struct{}), make(chan struct{})
			var first sync.Once
			type result struct {
				v   string
				err error
			}
			done := make(chan result, 1)
			go func() {
				calls := 0
				v, err := cache.Wrap(ctx, a, "objective:1", func(context.Context) (string, error) {
					calls++
					first.Do(func() { close(started) })
					<-release
					if calls == 1 {
						return "old", nil
					}
					return "reloaded", nil
				})
				done <- result{v, err}
			}()

			<-started
			if err := tc.invalidate(ctx, b); err != nil {
				t.Fatalf("invalidate on B: %v", err)
			}
			close(release)
			r := <-done
			// The guard refuses "old", so A loads again: a read of A's may
			// have joined after B's Invalidate returned.
			if r.err != nil || r.v != "reloaded" {
				t.Fatalf("Wrap on A = %q, %v; want the value it loaded again after the refused store", r.v, r.err)
			}
			if v, found, err := pb.Get(ctx, "slo:objective:1"); err != nil || found && string(v) != `"reloaded"` {
				t.Fatalf("Get(slo:objective:1) = %q, %v, %v after the invalidation; the stale value reached Redis", v, found, err)
			}
			if _, err := b.InvalidatePrefix(ctx, ""); err != nil {
				t.Fatal(err)
			}
			loaded := false
			v, err := cache.Wrap(ctx, b, "objective:1", func(context.Context) (string, error) {
				loaded = true
				return "new", nil
			})
			if err != nil || v != "new" || !loaded {
				t.Fatalf("Wrap on B = %q, %v (loader ran: %v); want a fresh load of new", v, err, loaded)
			}
		})
	}
}

// slowProvider adds 0-2ms of latency before every write, to widen the
// windows between a load's token, its store and a concurrent invalidation.
// Embedding keeps the provider's whole method set, so a Scope on it still
// finds cache.Guard and cache.BatchGetter. It also notes, in the readTrace
// of the context, the values a read got from Redis.
type slowProvider struct {
	*rediscache.Provider
	dropped *atomic.Int64
}

type traceKey struct{}

// readTrace records the values one read was served from Redis.
type readTrace struct {
	mu   sync.Mutex
	hits [][]byte
}

func (p slowProvider) trace(ctx context.Context, vs ...[]byte) {
	tr, ok := ctx.Value(traceKey{}).(*readTrace)
	if !ok {
		return
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, v := range vs {
		if v != nil {
			tr.hits = append(tr.hits, v)
		}
	}
}

func (p slowProvider) Get(ctx context.Context, key string) ([]byte, bool, error) {
	v, found, err := p.Provider.Get(ctx, key)
	p.trace(ctx, v)
	return v, found, err
}

func (p slowProvider) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	vs, err := p.Provider.GetMany(ctx, keys)
	p.trace(ctx, vs...)
	return vs, err
}

var (
	_ cache.Guard       = slowProvider{}
	_ cache.BatchGetter = slowProvider{}
)

func pause() { time.Sleep(rand.N(2 * time.Millisecond)) }

func (p slowProvider) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	pause()
	return p.Provider.Set(ctx, key, value, ttl)
}

func (p slowProvider) Delete(ctx context.Context, key string) error {
	pause()
	return p.Provider.Delete(ctx, key)
}

func (p slowProvider) DeleteByPrefix(ctx context.Context, prefix string) (int, error) {
	pause()
	return p.Provider.DeleteByPrefix(ctx, prefix)
}

func (p slowProvider) SetGuarded(ctx context.Context, token uint64, entries []cache.Entry) ([]int, error) {
	pause()
	dropped, err := p.Provider.SetGuarded(ctx, token, entries)
	p.dropped.Add(int64(len(dropped)))
	return dropped, err
}

// TestNoStaleReadsAcrossInstances runs readers and writers on two instances
// sharing one Redis. The database is a version per key. A writer bumps a
// version, invalidates the key on either instance, and then publishes the
// version as the least every later reader must see. A reader notes that
// least version before it starts, reads through either instance, and counts
// a violation if it sees less.
//
// A violation is charged to Redis when the stale value was served from it:
// the guard let a stale store through, and the test fails. Otherwise the
// reader joined a load that its own instance began before the other
// instance's Invalidate; single-flight is per process, so that case is the
// one TestReadAfterAnotherInstanceInvalidated isolates, and here it is only
// counted.
func TestNoStaleReadsAcrossInstances(t *testing.T) {
	const (
		readers  = 8
		writers  = 2
		duration = 2 * time.Second
	)
	keys := []string{"objective:1", "objective:2", "objective:3", "objective:4"}

	ns := newNamespace(t)
	var dropped atomic.Int64
	scopes := make([]*cache.Scope, 2)
	for i := range scopes {
		p := slowProvider{newProvider(t, newClient(t), ns, rediscache.Options{OpTimeout: 2 * time.Second}), &dropped}
		scopes[i] = cache.NewScope(p, cache.ScopeOptions{
			Name:       "slo",
			DefaultTTL: time.Minute,
			OnError:    func(op string, err error) { t.Errorf("provider error on %s: %v", op, err) },
		})
	}

	var (
		dbMu    sync.Mutex
		db      = map[string]int{} // key -> version
		visMu   sync.Mutex
		visible = map[string]int{} // key -> least version a new reader must see
	)
	load := func(key string) func(context.Context) (int, error) {
		return func(context.Context) (int, error) {
			dbMu.Lock()
			defer dbMu.Unlock()
			return db[key], nil
		}
	}

	ctx := t.Context()
	stop := time.Now().Add(duration)
	var reads, writes, staleFromRedis, staleFromJoin atomic.Int64
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for time.Now().Before(stop) {
				key := keys[rand.IntN(len(keys))]
				dbMu.Lock()
				db[key]++
				v := db[key]
				dbMu.Unlock()
				if err := scopes[rand.IntN(2)].Invalidate(ctx, key); err != nil {
					t.Errorf("Invalidate(%s): %v", key, err)
					return
				}
				visMu.Lock()
				visible[key] = max(visible[key], v)
				visMu.Unlock()
				writes.Add(1)
			}
		})
	}
	for range readers {
		wg.Go(func() {
			for time.Now().Before(stop) {
				key := keys[rand.IntN(len(keys))]
				visMu.Lock()
				least := visible[key]
				visMu.Unlock()
				tr := &readTrace{}
				v, err := cache.Wrap(context.WithValue(ctx, traceKey{}, tr), scopes[rand.IntN(2)], key, load(key))
				if err != nil {
					t.Errorf("Wrap(%s): %v", key, err)
					return
				}
				reads.Add(1)
				if v >= least {
					continue
				}
				tr.mu.Lock()
				fromRedis := slices.ContainsFunc(tr.hits, func(b []byte) bool { return string(b) == strconv.Itoa(v) })
				tr.mu.Unlock()
				if fromRedis {
					staleFromRedis.Add(1)
					t.Errorf("read %s version %d from Redis after version %d was invalidated", key, v, least)
				} else {
					staleFromJoin.Add(1)
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d reads, %d writes; the guard refused %d stale stores", reads.Load(), writes.Load(), dropped.Load())
	if reads.Load() == 0 || writes.Load() == 0 {
		t.Fatal("the test did no work")
	}
	if n := staleFromJoin.Load(); n > 0 {
		t.Errorf("%d reads got a value loaded before another instance's Invalidate (see TestReadAfterAnotherInstanceInvalidated)", n)
	}
	if n := staleFromRedis.Load(); n != 0 {
		t.Fatalf("%d stale reads served from Redis", n)
	}
}

// TestReadAfterAnotherInstanceInvalidated: A begins a load; B invalidates
// the key and returns; then a second read starts on A. Inside one process
// the scope detaches the older load so the new read cannot join it; across
// processes A does not know about B's Invalidate. The new read must still
// not get the value loaded before the write.
func TestReadAfterAnotherInstanceInvalidated(t *testing.T) {
	ctx := t.Context()
	ns := newNamespace(t)
	pa := newProvider(t, newClient(t), ns, rediscache.Options{OpTimeout: time.Second})
	pb := newProvider(t, newClient(t), ns, rediscache.Options{OpTimeout: time.Second})
	opts := cache.ScopeOptions{Name: "slo", DefaultTTL: time.Minute}
	a, b := cache.NewScope(pa, opts), cache.NewScope(pb, opts)

	var version atomic.Int64 // the database
	started, release := make(chan struct{}), make(chan struct{})
	var first sync.Once
	load := func(context.Context) (int64, error) {
		v := version.Load()
		first.Do(func() {
			close(started)
			<-release
		})
		return v, nil
	}
	type result struct {
		v   int64
		err error
	}
	r1, r2 := make(chan result, 1), make(chan result, 1)
	go func() {
		v, err := cache.Wrap(ctx, a, "objective:1", load)
		r1 <- result{v, err}
	}()
	<-started

	version.Store(1) // db.write
	if err := b.Invalidate(ctx, "objective:1"); err != nil {
		t.Fatal(err)
	}
	misses := a.Stats().Misses
	go func() {
		v, err := cache.Wrap(ctx, a, "objective:1", load)
		r2 <- result{v, err}
	}()
	// Wait until the second read has missed (and so has joined A's load,
	// or started its own), then let the first load finish.
	deadline := time.Now().Add(5 * time.Second)
	for a.Stats().Misses == misses {
		if time.Now().After(deadline) {
			t.Fatal("the second read never missed")
		}
		time.Sleep(time.Millisecond)
	}
	close(release)

	if r := <-r1; r.err != nil || r.v > 1 {
		t.Fatalf("first read = %d, %v; want 0 or 1", r.v, r.err)
	}
	r := <-r2
	if r.err != nil {
		t.Fatal(r.err)
	}
	if found, err := pb.Has(ctx, "slo:objective:1"); err != nil || (found && r.v == 0) {
		t.Fatalf("Has = %v, %v: the stale value reached Redis", found, err)
	}
	if r.v != 1 {
		t.Fatalf("a read that started after another instance's Invalidate returned got version %d, want 1", r.v)
	}
}
