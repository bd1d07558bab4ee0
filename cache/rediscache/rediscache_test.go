package rediscache_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/cache/cachetest"
	"github.com/checkstack/checkstack/cache/rediscache"
)

func TestConformance(t *testing.T) {
	c := newClient(t)
	cachetest.Run(t, func(t *testing.T) cache.Provider {
		return newProvider(t, c, newNamespace(t), rediscache.Options{OpTimeout: 5 * time.Second})
	}, cachetest.Options{})
}

func TestNamespacesAreSeparate(t *testing.T) {
	c := newClient(t)
	ctx := t.Context()
	a := newProvider(t, c, newNamespace(t), rediscache.Options{})
	b := newProvider(t, c, newNamespace(t), rediscache.Options{})
	if err := a.Set(ctx, "k", []byte("a"), 0); err != nil {
		t.Fatal(err)
	}
	if _, found, err := b.Get(ctx, "k"); err != nil || found {
		t.Fatalf("b.Get(k) = found %v, %v; want a miss", found, err)
	}
	if n, err := b.DeleteByPrefix(ctx, ""); err != nil || n != 0 {
		t.Fatalf("b.DeleteByPrefix(\"\") = %v, %v; want 0", n, err)
	}
	if v, found, err := a.Get(ctx, "k"); err != nil || !found || string(v) != "a" {
		t.Fatalf("a.Get(k) = %q, %v, %v; want a", v, found, err)
	}
}

// TestGuardAcrossClients runs the load on one instance and the invalidation
// on another: two clients, two providers, one namespace.
func TestGuardAcrossClients(t *testing.T) {
	for _, tc := range []struct {
		name       string
		invalidate func(ctx context.Context, p *rediscache.Provider) error
		dropped    int
	}{
		{"nothing invalidated: the value is stored", func(context.Context, *rediscache.Provider) error { return nil }, 0},
		{"Delete on B drops A's value", func(ctx context.Context, p *rediscache.Provider) error {
			return p.Delete(ctx, "obj:1")
		}, 1},
		{"DeleteByPrefix on B drops A's value", func(ctx context.Context, p *rediscache.Provider) error {
			_, err := p.DeleteByPrefix(ctx, "obj:")
			return err
		}, 1},
		{"Delete of another key on B keeps A's value", func(ctx context.Context, p *rediscache.Provider) error {
			return p.Delete(ctx, "obj:10")
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			ns := newNamespace(t)
			a := newProvider(t, newClient(t), ns, rediscache.Options{})
			b := newProvider(t, newClient(t), ns, rediscache.Options{})
			if err := a.Set(ctx, "obj:1", []byte("old"), 0); err != nil {
				t.Fatal(err)
			}
			tok, err := a.Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.invalidate(ctx, b); err != nil {
				t.Fatal(err)
			}
			idx, err := a.SetGuarded(ctx, tok, []cache.Entry{{Key: "obj:1", Value: []byte("loaded")}})
			dropped := len(idx)
			if err != nil {
				t.Fatal(err)
			}
			if dropped != tc.dropped {
				t.Errorf("SetGuarded dropped %d, want %d", dropped, tc.dropped)
			}
			v, found, err := b.Get(ctx, "obj:1")
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.dropped == 0 && string(v) != "loaded":
				t.Errorf("B reads %q, %v; want the stored value", v, found)
			case tc.dropped == 1 && found:
				t.Errorf("B reads %q; the value should have been dropped", v)
			}
		})
	}
}

func TestGuardLogTrimming(t *testing.T) {
	ctx := t.Context()
	c := newClient(t)
	ns := newNamespace(t)
	p := newProvider(t, c, ns, rediscache.Options{GuardLogSize: 4})
	entries := []cache.Entry{{Key: "k", Value: []byte("v")}}

	// Within the log, unrelated invalidations do not drop the entry.
	tok, err := p.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := p.Delete(ctx, fmt.Sprintf("other:%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if dropped, err := p.SetGuarded(ctx, tok, entries); err != nil || len(dropped) != 0 {
		t.Fatalf("SetGuarded after 3 unrelated invalidations = %v, %v; want 0", dropped, err)
	}

	// Beyond it, the guard cannot check and refuses.
	tok, err = p.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := p.Delete(ctx, fmt.Sprintf("other:%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if dropped, err := p.SetGuarded(ctx, tok, entries); err != nil || len(dropped) != 1 {
		t.Fatalf("SetGuarded with a token older than the log = %v, %v; want 1", dropped, err)
	}
	if n := c.ZCard(ctx, logKey(ns)).Val(); n != 4 {
		t.Errorf("log holds %d records, want 4", n)
	}

	// A fresh token works again.
	tok, err = p.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if dropped, err := p.SetGuarded(ctx, tok, entries); err != nil || len(dropped) != 0 {
		t.Fatalf("SetGuarded with a fresh token = %v, %v; want 0", dropped, err)
	}
}

// TestGuardRefusesAfterLosingItsState simulates a flush or an eviction of
// the guard's keys between Token and SetGuarded, after the invalidation
// that should drop the entry has been trimmed out of the log: only the
// guard's consistency checks can catch it.
func TestGuardRefusesAfterLosingItsState(t *testing.T) {
	losses := []struct {
		name string
		keys func(ns string) []string
	}{
		{"all guard keys", func(ns string) []string { return []string{seqKey(ns), logKey(ns), floorKey(ns)} }},
		{"the sequence", func(ns string) []string { return []string{seqKey(ns)} }},
		{"the log", func(ns string) []string { return []string{logKey(ns)} }},
		{"the floor", func(ns string) []string { return []string{floorKey(ns)} }},
	}
	for _, loss := range losses {
		for _, later := range []bool{false, true} {
			name := "losing " + loss.name
			if later {
				name += " then invalidating another key"
			}
			t.Run(name, func(t *testing.T) {
				ctx := t.Context()
				c := newClient(t)
				ns := newNamespace(t)
				p := newProvider(t, c, ns, rediscache.Options{GuardLogSize: 4})
				entries := []cache.Entry{{Key: "k", Value: []byte("stale")}}
				tok, err := p.Token(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if err := p.Delete(ctx, "k"); err != nil {
					t.Fatal(err)
				}
				for i := range 5 { // trim the record of k out of the log
					if err := p.Delete(ctx, fmt.Sprintf("other:%d", i)); err != nil {
						t.Fatal(err)
					}
				}
				if err := c.Del(ctx, loss.keys(ns)...).Err(); err != nil {
					t.Fatal(err)
				}
				if later {
					if err := p.Delete(ctx, "unrelated"); err != nil {
						t.Fatal(err)
					}
				}
				dropped, err := p.SetGuarded(ctx, tok, entries)
				if err != nil || len(dropped) != 1 {
					t.Fatalf("SetGuarded = %v, %v; want 1", dropped, err)
				}
				if found, _ := p.Has(ctx, "k"); found {
					t.Fatal("the stale value was stored")
				}
				// The guard recovers: a fresh token stores.
				tok, err = p.Token(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if dropped, err := p.SetGuarded(ctx, tok, entries); err != nil || len(dropped) != 0 {
					t.Fatalf("SetGuarded with a fresh token = %v, %v; want 0", dropped, err)
				}
			})
		}
	}
}

func TestTokenStartsAboveEarlierTokens(t *testing.T) {
	ctx := t.Context()
	c := newClient(t)
	ns := newNamespace(t)
	p := newProvider(t, c, ns, rediscache.Options{})
	first, err := p.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if first == 0 {
		t.Fatal("Token = 0; want a sequence started from the server clock")
	}
	if err := p.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	second, err := p.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if second != first+1 {
		t.Errorf("Token after one invalidation = %d, want %d", second, first+1)
	}
	if err := c.Del(ctx, seqKey(ns)).Err(); err != nil {
		t.Fatal(err)
	}
	third, err := p.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if third <= second {
		t.Errorf("Token after the sequence was lost = %d, want more than %d", third, second)
	}
}

// loadUnrelated writes n entries "other:<i>" straight into the namespace's
// documented layout (data key and index member), in server-side batches, so
// that setting up a million keys takes seconds.
func loadUnrelated(tb testing.TB, c *redis.Client, ns string, n int) {
	tb.Helper()
	const chunk = 50_000
	load := redis.NewScript(`
local first, last = tonumber(ARGV[2]), tonumber(ARGV[3])
for i = first, last, 1000 do
  local members = {}
  for j = i, math.min(i + 999, last) do
    local key = string.format('other:%07d', j)
    redis.call('SET', ARGV[1] .. key, 'v')
    members[#members + 1] = 0
    members[#members + 1] = key
  end
  redis.call('ZADD', KEYS[1], unpack(members))
end
return 1
`)
	ctx := context.Background()
	for first := 0; first < n; first += chunk {
		last := min(first+chunk, n) - 1
		if err := load.Run(ctx, c, []string{idxKey(ns)}, dataKey(ns, ""), first, last).Err(); err != nil {
			tb.Fatalf("load unrelated keys: %v", err)
		}
	}
}

func TestDeleteByPrefixAmongAMillionKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("loads a million keys")
	}
	ctx := t.Context()
	c := newClient(t)
	ns := newNamespace(t)
	p := newProvider(t, c, ns, rediscache.Options{OpTimeout: 10 * time.Second})
	const unrelated = 1_000_000
	loadUnrelated(t, c, ns, unrelated)

	for i := range 100 {
		if err := p.Set(ctx, fmt.Sprintf("target:%03d", i), []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
	}
	neighbours := []string{"target", "target;", "targets:1", "targe", "target\xff"}
	for _, k := range neighbours {
		if err := p.Set(ctx, k, []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
	}
	n, err := p.DeleteByPrefix(ctx, "target:")
	if err != nil {
		t.Fatal(err)
	}
	if n != 100 {
		t.Fatalf("DeleteByPrefix(target:) = %d, want 100", n)
	}
	if got, want := c.ZCard(ctx, idxKey(ns)).Val(), int64(unrelated+len(neighbours)); got != want {
		t.Errorf("index holds %d keys, want %d", got, want)
	}
	for _, k := range append(neighbours, "other:0000000", "other:0999999", "other:0500000") {
		if found, err := p.Has(ctx, k); err != nil || !found {
			t.Errorf("Has(%q) = %v, %v after DeleteByPrefix(target:); want true", k, found, err)
		}
	}
	for _, k := range []string{"target:000", "target:099"} {
		if found, err := p.Has(ctx, k); err != nil || found {
			t.Errorf("Has(%q) = %v, %v; want false", k, found, err)
		}
	}
}

func BenchmarkDeleteByPrefix100Among1M(b *testing.B) {
	ctx := context.Background()
	c := newClient(b)
	ns := newNamespace(b)
	p := newProvider(b, c, ns, rediscache.Options{OpTimeout: 10 * time.Second})
	loadUnrelated(b, c, ns, 1_000_000)
	members := make([]redis.Z, 100)
	for i := range members {
		members[i] = redis.Z{Member: fmt.Sprintf("target:%03d", i)}
	}
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		pipe := c.Pipeline()
		for _, m := range members {
			pipe.Set(ctx, dataKey(ns, m.Member.(string)), "v", 0)
		}
		pipe.ZAdd(ctx, idxKey(ns), members...)
		if _, err := pipe.Exec(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		n, err := p.DeleteByPrefix(ctx, "target:")
		if err != nil {
			b.Fatal(err)
		}
		if n != 100 {
			b.Fatalf("DeleteByPrefix = %d, want 100", n)
		}
	}
}

func TestIndexIsCollected(t *testing.T) {
	ctx := t.Context()
	c := newClient(t)
	ns := newNamespace(t)
	p := newProvider(t, c, ns, rediscache.Options{OpTimeout: 5 * time.Second})
	const n = 2000
	for i := range n {
		if err := p.Set(ctx, fmt.Sprintf("short:%d", i), []byte("v"), time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	last := fmt.Sprintf("short:%d", n-1)
	deadline := time.Now().Add(5 * time.Second)
	for {
		found, err := p.Has(ctx, last)
		if err != nil {
			t.Fatal(err)
		}
		if !found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has not expired after 5s", last)
		}
		time.Sleep(time.Millisecond)
	}
	before := c.ZCard(ctx, idxKey(ns)).Val()
	for i := range n {
		if err := p.Set(ctx, "live", []byte(fmt.Sprint(i)), 0); err != nil {
			t.Fatal(err)
		}
	}
	after := c.ZCard(ctx, idxKey(ns)).Val()
	// Most expired members are collected while the expiring keys are still
	// being written; the rest by the writes of "live".
	t.Logf("index: %d members after %d expiring writes, %d after %d more writes of one key", before, n, after, n)
	if after > n/20 {
		t.Errorf("index holds %d members after the expired keys had %d writes to be collected; want at most %d", after, n, n/20)
	}
}

// countHook counts the round trips a client makes: one per command, one
// per pipeline.
type countHook struct {
	n     atomic.Int64
	mu    sync.Mutex
	names []string
}

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.record(cmd.FullName())
		return next(ctx, cmd)
	}
}

func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.record(fmt.Sprintf("pipeline of %d", len(cmds)))
		return next(ctx, cmds)
	}
}

func (h *countHook) record(name string) {
	h.n.Add(1)
	h.mu.Lock()
	h.names = append(h.names, name)
	h.mu.Unlock()
}

// take returns the round trips since the last take.
func (h *countHook) take() (int64, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	names := h.names
	h.names = nil
	return h.n.Swap(0), names
}

func TestEachOperationIsOneRoundTrip(t *testing.T) {
	ctx := t.Context()
	c := newClient(t)
	ns := newNamespace(t)
	p := newProvider(t, c, ns, rediscache.Options{})
	keys := make([]string, 100)
	entries := make([]cache.Entry, 50)
	for i := range keys {
		keys[i] = fmt.Sprintf("k:%d", i)
		if err := p.Set(ctx, keys[i], []byte("v"), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	for i := range entries {
		entries[i] = cache.Entry{Key: fmt.Sprintf("g:%d", i), Value: []byte("v"), TTL: time.Minute}
	}

	tok, err := p.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}

	ops := []struct {
		name string
		run  func() error
	}{
		{"Get", func() error { _, _, err := p.Get(ctx, "k:1"); return err }},
		{"GetMany of 100 keys", func() error { _, err := p.GetMany(ctx, keys); return err }},
		{"Has", func() error { _, err := p.Has(ctx, "k:1"); return err }},
		{"Set", func() error { return p.Set(ctx, "k:1", []byte("v"), time.Minute) }},
		{"Token", func() error { _, err := p.Token(ctx); return err }},
		{"SetGuarded of 50 entries", func() error { _, err := p.SetGuarded(ctx, tok, entries); return err }},
		{"Delete", func() error { return p.Delete(ctx, "k:2") }},
		{"DeleteByPrefix", func() error { _, err := p.DeleteByPrefix(ctx, "k:3"); return err }},
	}
	// Warm up: load every script into Redis, so EVALSHA needs no EVAL.
	for _, op := range ops {
		if err := op.run(); err != nil {
			t.Fatalf("%s: %v", op.name, err)
		}
	}

	h := &countHook{}
	c.AddHook(h)
	for _, op := range ops {
		const want = 1
		h.take()
		if err := op.run(); err != nil {
			t.Fatalf("%s: %v", op.name, err)
		}
		if n, names := h.take(); n != want {
			t.Errorf("%s took %d round trips (%s), want %d", op.name, n, strings.Join(names, ", "), want)
		}
	}
}

func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	p := newProvider(b, newClient(b), newNamespace(b), rediscache.Options{})
	value := []byte(strings.Repeat("x", 512))
	if err := p.Set(ctx, "objective:1", value, time.Hour); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, found, err := p.Get(ctx, "objective:1"); err != nil || !found {
			b.Fatalf("Get = %v, %v", found, err)
		}
	}
}

func BenchmarkGetMany100(b *testing.B) {
	ctx := context.Background()
	p := newProvider(b, newClient(b), newNamespace(b), rediscache.Options{})
	value := []byte(strings.Repeat("x", 512))
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = fmt.Sprintf("objective:%d", i)
		if err := p.Set(ctx, keys[i], value, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		vs, err := p.GetMany(ctx, keys)
		if err != nil || vs[99] == nil {
			b.Fatalf("GetMany: %v", err)
		}
	}
}

func BenchmarkSetGuarded(b *testing.B) {
	ctx := context.Background()
	p := newProvider(b, newClient(b), newNamespace(b), rediscache.Options{})
	value := []byte(strings.Repeat("x", 512))
	for _, n := range []int{1, 50} {
		b.Run(fmt.Sprintf("%d entries", n), func(b *testing.B) {
			entries := make([]cache.Entry, n)
			for i := range entries {
				entries[i] = cache.Entry{Key: fmt.Sprintf("objective:%d", i), Value: value, TTL: time.Hour}
			}
			tok, err := p.Token(ctx)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.SetGuarded(ctx, tok, entries); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
