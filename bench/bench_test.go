package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/viccon/sturdyc"
	"golang.org/x/sync/singleflight"

	"github.com/checkstack/checkstack/cache"
)

// The workloads, the same for every library:
//
//   - hits: 1,024 keys holding 1 KiB []byte values, read from every core
//     (b.RunParallel), each goroutine cycling through the keys;
//   - misses: 1,000 callers released at once on one fresh key, with a
//     loader that takes 2 ms;
//   - batches: 1,000 ids, all cached, read in one call.
//
// Every cache is bounded to the same number of entries and given the same
// TTL where the library has one (the map under a mutex has neither).
// Sub-benchmarks are named lib=..., so that benchstat -col /lib puts the
// libraries side by side.
const (
	hitKeys   = 1024
	valueSize = 1024
	callers   = 1000
	loadTime  = 2 * time.Millisecond
	batchIDs  = 1000
	capacity  = 100_000
	ttl       = time.Hour
	scopeName = "bench"
)

var errMissing = errors.New("bench: value missing")

// fullKeys are the keys as every library stores them: the scope's
// "bench:" prefix plus "k:0" .. "k:1023", so that each hashes the same bytes.
func fullKeys() (scoped, full []string) {
	scoped = make([]string, hitKeys)
	full = make([]string, hitKeys)
	for i := range scoped {
		scoped[i] = "k:" + strconv.Itoa(i)
		full[i] = scopeName + ":" + scoped[i]
	}
	return scoped, full
}

func newScope(p cache.Provider, codec cache.Codec) *cache.Scope {
	return cache.NewScope(p, cache.ScopeOptions{Name: scopeName, DefaultTTL: ttl, Codec: codec})
}

func newMemory() *cache.Memory { return cache.NewMemory(cache.MemoryOptions{MaxEntries: capacity}) }

func newSturdyc[T any]() *sturdyc.Client[T] {
	return sturdyc.New[T](capacity, 64, ttl, 10)
}

func newOtter[V any]() *otter.Cache[string, V] {
	return otter.Must(&otter.Options[string, V]{
		MaximumSize:      capacity,
		ExpiryCalculator: otter.ExpiryWriting[string, V](ttl),
	})
}

// mapCache is the hand-rolled baseline: a map under a sync.RWMutex, with
// x/sync/singleflight for misses. It has no bound and no expiry.
type mapCache struct {
	mu sync.RWMutex
	m  map[string][]byte
	sf singleflight.Group
}

func newMapCache() *mapCache { return &mapCache{m: make(map[string][]byte)} }

func (c *mapCache) lookup(key string) ([]byte, bool) {
	c.mu.RLock()
	v, ok := c.m[key]
	c.mu.RUnlock()
	return v, ok
}

// get is a hit under the read lock, or one load per key through
// singleflight. The map is read again inside Do: a caller that missed just
// before another caller's flight stored and left would otherwise load again.
func (c *mapCache) get(key string, load func() ([]byte, error)) ([]byte, error) {
	if v, ok := c.lookup(key); ok {
		return v, nil
	}
	v, err, _ := c.sf.Do(key, func() (any, error) {
		if v, ok := c.lookup(key); ok {
			return v, nil
		}
		v, err := load()
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.m[key] = v
		c.mu.Unlock()
		return v, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]byte), nil
}

// startOffset gives each RunParallel goroutine its own place in the key
// cycle.
func startOffset(next *atomic.Uint32) int { return int(next.Add(1)) * 7919 }

// checkHit reports a wrong hit from inside RunParallel, where b.Fatal may
// not be called; it returns false when the goroutine should stop.
func checkHit(b *testing.B, v []byte, err error) bool {
	if err != nil || len(v) != valueSize {
		b.Errorf("hit = %d bytes, %v; want %d bytes", len(v), err, valueSize)
		return false
	}
	return true
}

// Each sub-benchmark has its own loop, rather than one loop calling each
// library through a func value, so that no library pays for an indirect
// call the others would not make in real code.
func BenchmarkHitParallel(b *testing.B) {
	ctx := context.Background()
	scoped, full := fullKeys()
	value := bytes.Repeat([]byte("x"), valueSize)
	loadBytes := func(context.Context) ([]byte, error) { return value, nil }

	b.Run("lib=checkstack-WrapBytes", func(b *testing.B) {
		s := newScope(newMemory(), nil)
		for _, k := range scoped {
			if _, err := cache.WrapBytes(ctx, s, k, loadBytes); err != nil {
				b.Fatal(err)
			}
		}
		var next atomic.Uint32
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for i := startOffset(&next); pb.Next(); i++ {
				v, err := cache.WrapBytes(ctx, s, scoped[i%hitKeys], loadBytes)
				if !checkHit(b, v, err) {
					return
				}
			}
		})
	})

	b.Run("lib=checkstack-Memory.Get", func(b *testing.B) {
		m := newMemory()
		for _, k := range full {
			if err := m.Set(ctx, k, value, ttl); err != nil {
				b.Fatal(err)
			}
		}
		var next atomic.Uint32
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for i := startOffset(&next); pb.Next(); i++ {
				v, found, err := m.Get(ctx, full[i%hitKeys])
				if !found && err == nil {
					err = errMissing
				}
				if !checkHit(b, v, err) {
					return
				}
			}
		})
	})

	b.Run("lib=map-RWMutex-singleflight", func(b *testing.B) {
		c := newMapCache()
		load := func() ([]byte, error) { return value, nil }
		for _, k := range full {
			if _, err := c.get(k, load); err != nil {
				b.Fatal(err)
			}
		}
		var next atomic.Uint32
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for i := startOffset(&next); pb.Next(); i++ {
				v, err := c.get(full[i%hitKeys], load)
				if !checkHit(b, v, err) {
					return
				}
			}
		})
	})

	b.Run("lib=sturdyc-GetOrFetch", func(b *testing.B) {
		c := newSturdyc[[]byte]()
		for _, k := range full {
			if _, err := c.GetOrFetch(ctx, k, loadBytes); err != nil {
				b.Fatal(err)
			}
		}
		var next atomic.Uint32
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for i := startOffset(&next); pb.Next(); i++ {
				v, err := c.GetOrFetch(ctx, full[i%hitKeys], loadBytes)
				if !checkHit(b, v, err) {
					return
				}
			}
		})
	})

	b.Run("lib=otter-GetIfPresent", func(b *testing.B) {
		c := newOtter[[]byte]()
		for _, k := range full {
			c.Set(k, value)
		}
		var next atomic.Uint32
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for i := startOffset(&next); pb.Next(); i++ {
				v, found := c.GetIfPresent(full[i%hitKeys])
				var err error
				if !found {
					err = errMissing
				}
				if !checkHit(b, v, err) {
					return
				}
			}
		})
	})

	b.Run("lib=otter-Get", func(b *testing.B) {
		c := newOtter[[]byte]()
		loader := otter.LoaderFunc[string, []byte](func(context.Context, string) ([]byte, error) { return value, nil })
		for _, k := range full {
			if _, err := c.Get(ctx, k, loader); err != nil {
				b.Fatal(err)
			}
		}
		var next atomic.Uint32
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for i := startOffset(&next); pb.Next(); i++ {
				v, err := c.Get(ctx, full[i%hitKeys], loader)
				if !checkHit(b, v, err) {
					return
				}
			}
		})
	})
}

// together runs call(0) .. call(n-1) on n goroutines released at once: each
// waits on a channel that is closed only when all of them are ready.
func together(n int, call func(i int)) {
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			call(i)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
}

// missGetter reads key through one library, loading it with load on a miss.
type missGetter func(ctx context.Context, key string, load func(context.Context) ([]byte, error)) ([]byte, error)

// BenchmarkMisses1000 releases 1,000 callers at once on a fresh key whose
// loader takes 2 ms, and reports loader calls per op, the slowest caller's
// latency, and that latency over the loader's own duration (x-loader).
func BenchmarkMisses1000(b *testing.B) {
	for _, c := range []struct {
		name string
		get  func() missGetter
	}{
		{"lib=checkstack-WrapBytes", func() missGetter {
			s := newScope(newMemory(), nil)
			return func(ctx context.Context, key string, load func(context.Context) ([]byte, error)) ([]byte, error) {
				return cache.WrapBytes(ctx, s, key, load)
			}
		}},
		{"lib=map-RWMutex-singleflight", func() missGetter {
			c := newMapCache()
			return func(ctx context.Context, key string, load func(context.Context) ([]byte, error)) ([]byte, error) {
				return c.get(key, func() ([]byte, error) { return load(ctx) })
			}
		}},
		{"lib=sturdyc-GetOrFetch", func() missGetter {
			c := newSturdyc[[]byte]()
			return func(ctx context.Context, key string, load func(context.Context) ([]byte, error)) ([]byte, error) {
				return c.GetOrFetch(ctx, key, load)
			}
		}},
		{"lib=otter-Get", func() missGetter {
			c := newOtter[[]byte]()
			return func(ctx context.Context, key string, load func(context.Context) ([]byte, error)) ([]byte, error) {
				return c.Get(ctx, key, otter.LoaderFunc[string, []byte](func(ctx context.Context, _ string) ([]byte, error) {
					return load(ctx)
				}))
			}
		}},
	} {
		b.Run(c.name, func(b *testing.B) { benchMisses(b, c.get()) })
	}
}

func benchMisses(b *testing.B, get missGetter) {
	ctx := context.Background()
	value := bytes.Repeat([]byte("x"), valueSize)
	var loads atomic.Int64
	var loaded atomic.Int64 // the current op's loader duration, in ns
	load := func(context.Context) ([]byte, error) {
		loads.Add(1)
		t0 := time.Now()
		time.Sleep(loadTime) // the database query
		loaded.Store(int64(time.Since(t0)))
		return value, nil
	}
	latencies := make([]time.Duration, callers)
	errs := make([]error, callers)
	var ratios, slowestMS float64
	ops := 0
	b.ReportAllocs()
	for b.Loop() {
		key := "miss:" + strconv.Itoa(ops)
		together(callers, func(i int) {
			t0 := time.Now()
			var v []byte
			v, errs[i] = get(ctx, key, load)
			latencies[i] = time.Since(t0)
			if errs[i] == nil && len(v) != valueSize {
				errs[i] = fmt.Errorf("got %d bytes, want %d", len(v), valueSize)
			}
		})
		slowest := time.Duration(0)
		for i, d := range latencies {
			if errs[i] != nil {
				b.Fatal(errs[i])
			}
			slowest = max(slowest, d)
		}
		ratios += float64(slowest) / float64(loaded.Load())
		slowestMS += float64(slowest) / float64(time.Millisecond)
		ops++
	}
	b.ReportMetric(float64(loads.Load())/float64(ops), "loads/op")
	b.ReportMetric(ratios/float64(ops), "x-loader")
	b.ReportMetric(slowestMS/float64(ops), "slowest-ms")
}

// systemState is a compact per-system record, the typed value of the batch
// comparison.
type systemState struct {
	ID    string    `json:"id"`
	State string    `json:"state"`
	Since time.Time `json:"since"`
}

// rawCodec stores []byte values as they are, so that the batched read of
// bytes measures the cache and not an encoding (the default JSON codec
// would store a []byte as base64).
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.([]byte)
	if !ok {
		return nil, fmt.Errorf("bench: raw codec cannot marshal %T", v)
	}
	return b, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("bench: raw codec cannot unmarshal into %T", v)
	}
	*p = data
	return nil
}

func BenchmarkBatchWarm1000(b *testing.B) {
	value := bytes.Repeat([]byte("x"), valueSize)
	since := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	b.Run("value=bytes-1KiB", func(b *testing.B) {
		benchBatch(b, rawCodec{}, func(string) []byte { return value })
	})
	b.Run("value=state-JSON", func(b *testing.B) {
		benchBatch(b, nil, func(id string) systemState { return systemState{ID: id, State: "up", Since: since} })
	})
}

// benchBatch reads 1,000 warm ids in one call per op. checkstack encodes
// values with codec; sturdyc and otter keep them as Go values.
func benchBatch[T any](b *testing.B, codec cache.Codec, newValue func(id string) T) {
	ctx := context.Background()
	ids := make([]string, batchIDs)
	keys := make([]string, batchIDs) // for otter, which takes keys, not ids
	byID := make(map[string]T, batchIDs)
	for i := range ids {
		ids[i] = strconv.Itoa(i)
		keys[i] = keyFor(ids[i])
		byID[ids[i]] = newValue(ids[i])
	}

	b.Run("lib=checkstack-WrapManyBatched", func(b *testing.B) {
		s := newScope(newMemory(), codec)
		load := func(_ context.Context, ids []string) ([]T, error) {
			out := make([]T, len(ids))
			for i, id := range ids {
				out[i] = byID[id]
			}
			return out, nil
		}
		read := func() int {
			vs, err := cache.WrapManyBatched(ctx, s, ids, keyFor, load)
			if err != nil {
				b.Fatal(err)
			}
			return len(vs)
		}
		benchBatchLoop(b, read)
		if st := s.Stats(); st.Loads != 1 {
			b.Errorf("%d loads, want 1 (the warm-up)", st.Loads)
		}
	})

	b.Run("lib=sturdyc-GetOrFetchBatch", func(b *testing.B) {
		c := newSturdyc[T]()
		var loads atomic.Int64
		load := func(_ context.Context, ids []string) (map[string]T, error) {
			loads.Add(1)
			out := make(map[string]T, len(ids))
			for _, id := range ids {
				out[id] = byID[id]
			}
			return out, nil
		}
		read := func() int {
			vs, err := c.GetOrFetchBatch(ctx, ids, keyFor, load)
			if err != nil {
				b.Fatal(err)
			}
			return len(vs)
		}
		benchBatchLoop(b, read)
		if n := loads.Load(); n != 1 {
			b.Errorf("%d loads, want 1 (the warm-up)", n)
		}
	})

	b.Run("lib=otter-BulkGet", func(b *testing.B) {
		c := newOtter[T]()
		var loads atomic.Int64
		load := otter.BulkLoaderFunc[string, T](func(_ context.Context, keys []string) (map[string]T, error) {
			loads.Add(1)
			out := make(map[string]T, len(keys))
			for _, k := range keys {
				out[k] = byID[k[len(keyPrefix):]]
			}
			return out, nil
		})
		read := func() int {
			vs, err := c.BulkGet(ctx, keys, load)
			if err != nil {
				b.Fatal(err)
			}
			return len(vs)
		}
		benchBatchLoop(b, read)
		if n := loads.Load(); n != 1 {
			b.Errorf("%d loads, want 1 (the warm-up)", n)
		}
	})
}

const keyPrefix = "system:"

// keyFor is the key of an id, built the same way for every library.
func keyFor(id string) string { return keyPrefix + id }

// benchBatchLoop warms the cache with one read, then times reads. The
// indirect call to read is negligible next to a 1,000-id read.
func benchBatchLoop(b *testing.B, read func() int) {
	if n := read(); n != batchIDs {
		b.Fatalf("warm-up read %d values, want %d", n, batchIDs)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if n := read(); n != batchIDs {
			b.Fatalf("read %d values, want %d", n, batchIDs)
		}
	}
}
