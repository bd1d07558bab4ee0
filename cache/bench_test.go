package cache_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/checkstack/checkstack/cache"
)

// The figures these benchmarks produce, and the command behind them, are in
// docs/BENCHMARKS.md.

const (
	hitKeys   = 1024                 // keys cycled through by the hit benchmarks
	valueSize = 1024                 // bytes of a raw value
	loadTime  = 2 * time.Millisecond // what a simulated database query takes
)

// systemStatus is what a dashboard reads per system: a few nested fields
// and a slice, about 1 KiB as JSON (see TestSystemStatusIsAboutOneKiB).
type systemStatus struct {
	ID        string        `json:"id"`
	Name      string        `json:"name"`
	State     string        `json:"state"`
	URL       string        `json:"url"`
	UpdatedAt time.Time     `json:"updated_at"`
	Owner     team          `json:"owner"`
	Uptime    uptime        `json:"uptime"`
	Tags      []string      `json:"tags"`
	Checks    []checkResult `json:"checks"`
}

type team struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	OnCall  string `json:"on_call"`
	Channel string `json:"channel"`
}

type uptime struct {
	Day   float64 `json:"day"`
	Week  float64 `json:"week"`
	Month float64 `json:"month"`
}

type checkResult struct {
	Name      string    `json:"name"`
	Kind      string    `json:"kind"`
	State     string    `json:"state"`
	LatencyMS float64   `json:"latency_ms"`
	CheckedAt time.Time `json:"checked_at"`
	Message   string    `json:"message,omitempty"`
}

func newSystemStatus(id int) systemStatus {
	at := time.Date(2026, 3, 14, 9, 26, 53, 589_793_000, time.UTC)
	s := systemStatus{
		ID:        "sys-" + strconv.Itoa(id),
		Name:      "Payments API (eu-west-1)",
		State:     "degraded",
		URL:       "https://status.example.com/systems/sys-" + strconv.Itoa(id),
		UpdatedAt: at,
		Owner:     team{ID: "team-42", Name: "Payments", OnCall: "alice@example.com", Channel: "#payments-oncall"},
		Uptime:    uptime{Day: 99.812, Week: 99.954, Month: 99.987},
		Tags:      []string{"tier-1", "public", "pci", "eu-west-1"},
	}
	for i, kind := range []string{"http", "http", "tcp", "dns", "tls"} {
		s.Checks = append(s.Checks, checkResult{
			Name:      fmt.Sprintf("%s check %d", kind, i),
			Kind:      kind,
			State:     "up",
			LatencyMS: 41.7 + float64(i),
			CheckedAt: at.Add(-time.Duration(i) * time.Second),
		})
	}
	s.Checks[1].State = "down"
	s.Checks[1].Message = "GET /healthz: 503 Service Unavailable after 2.1s"
	return s
}

// systemState is the compact per-system record a bulk read returns.
type systemState struct {
	ID    string    `json:"id"`
	State string    `json:"state"`
	Since time.Time `json:"since"`
}

func newSystemState(id int) systemState {
	return systemState{ID: "sys-" + strconv.Itoa(id), State: "up", Since: time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)}
}

// numberedKeys returns prefix+"0" .. prefix+(n-1), built once, outside the
// timed loops.
func numberedKeys(prefix string, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = prefix + strconv.Itoa(i)
	}
	return keys
}

func newMemoryScope() *cache.Scope {
	return cache.NewScope(cache.NewMemory(cache.MemoryOptions{}), cache.ScopeOptions{Name: "bench", DefaultTTL: time.Hour})
}

// startOffset gives each RunParallel goroutine its own place in the key
// cycle, so they do not march through the keys in step.
func startOffset(next *atomic.Uint32) int { return int(next.Add(1)) * 7919 }

func BenchmarkWrapBytesHitParallel(b *testing.B) {
	ctx := context.Background()
	s := newMemoryScope()
	keys := numberedKeys("k:", hitKeys)
	value := bytes.Repeat([]byte("x"), valueSize)
	load := func(context.Context) ([]byte, error) { return value, nil }
	for _, k := range keys {
		if _, err := cache.WrapBytes(ctx, s, k, load); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Uint32
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for i := startOffset(&next); pb.Next(); i++ {
			if v, err := cache.WrapBytes(ctx, s, keys[i%hitKeys], load); err != nil || len(v) != valueSize {
				b.Errorf("WrapBytes = %d bytes, %v", len(v), err)
				return
			}
		}
	})
	b.StopTimer()
	if st := s.Stats(); st.Loads != hitKeys {
		b.Errorf("%d loads, want %d: the timed reads were not all hits", st.Loads, hitKeys)
	}
}

// BenchmarkWrapHitTyped and BenchmarkJSONUnmarshal decode the same bytes
// into the same type: the difference is what the cache adds to a decode.
func BenchmarkWrapHitTyped(b *testing.B) {
	ctx := context.Background()
	s := newMemoryScope()
	keys := numberedKeys("status:", hitKeys)
	status := newSystemStatus(1)
	load := func(context.Context) (systemStatus, error) { return status, nil }
	for _, k := range keys {
		if _, err := cache.Wrap(ctx, s, k, load); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if v, err := cache.Wrap(ctx, s, keys[i%hitKeys], load); err != nil || v.ID != status.ID {
				b.Fatalf("Wrap = %q, %v", v.ID, err)
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		var next atomic.Uint32
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for i := startOffset(&next); pb.Next(); i++ {
				if v, err := cache.Wrap(ctx, s, keys[i%hitKeys], load); err != nil || v.ID != status.ID {
					b.Errorf("Wrap = %q, %v", v.ID, err)
					return
				}
			}
		})
	})
	if st := s.Stats(); st.Loads != hitKeys {
		b.Errorf("%d loads, want %d: the timed reads were not all hits", st.Loads, hitKeys)
	}
}

func BenchmarkJSONUnmarshal(b *testing.B) {
	raw, err := json.Marshal(newSystemStatus(1))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var v systemStatus
			if err := json.Unmarshal(raw, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				var v systemStatus
				if err := json.Unmarshal(raw, &v); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func TestSystemStatusIsAboutOneKiB(t *testing.T) {
	raw, err := json.Marshal(newSystemStatus(1))
	if err != nil {
		t.Fatal(err)
	}
	n := len(raw)
	if n < 900 || n > 1200 {
		t.Errorf("systemStatus encodes to %d bytes, want about 1 KiB", n)
	}
	t.Logf("systemStatus encodes to %d bytes", n)
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

// BenchmarkConcurrentMisses1000 misses on a fresh key from 1,000 callers at
// once, with a loader that takes 2 ms. It reports the loader calls per op
// (1 when the misses share one load) and the slowest caller's latency over
// the loader's own duration.
func BenchmarkConcurrentMisses1000(b *testing.B) {
	const callers = 1000
	ctx := context.Background()
	s := newMemoryScope()
	status := newSystemStatus(1)
	var loads atomic.Int64
	var loaded atomic.Int64 // the current op's loader duration, in ns
	load := func(context.Context) (systemStatus, error) {
		loads.Add(1)
		t0 := time.Now()
		time.Sleep(loadTime) // the database query
		loaded.Store(int64(time.Since(t0)))
		return status, nil
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
			_, errs[i] = cache.Wrap(ctx, s, key, load)
			latencies[i] = time.Since(t0)
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

func TestThousandConcurrentMissesShareOneLoad(t *testing.T) {
	const callers = 1000
	ctx := t.Context()
	s := newMemoryScope()
	var loads atomic.Int64
	load := func(context.Context) (systemState, error) {
		loads.Add(1)
		// Hold the load until every other caller has joined it, so that all
		// 1,000 are misses in flight together. The deadline only keeps a
		// broken single-flight (two leaders, each waiting) from hanging.
		deadline := time.Now().Add(time.Minute)
		for s.Stats().SharedWaits < callers-1 && time.Now().Before(deadline) {
			runtime.Gosched()
		}
		return newSystemState(7), nil
	}
	got := make([]systemState, callers)
	errs := make([]error, callers)
	together(callers, func(i int) {
		got[i], errs[i] = cache.Wrap(ctx, s, "system:7", load)
	})

	if n := loads.Load(); n != 1 {
		t.Errorf("loader ran %d times for %d concurrent misses, want once", n, callers)
	}
	want := newSystemState(7)
	for i := range callers {
		if errs[i] != nil || got[i] != want {
			t.Fatalf("caller %d got %+v, %v; want %+v", i, got[i], errs[i], want)
		}
	}
	st := s.Stats()
	if st.Misses != callers || st.SharedWaits != callers-1 || st.Loads != 1 {
		t.Errorf("Stats = %d misses, %d shared waits, %d loads; want %d, %d, 1",
			st.Misses, st.SharedWaits, st.Loads, callers, callers-1)
	}
}

// batchCase is one kind of value read in bulk.
type batchCase struct {
	name string
	run  func(b *testing.B, s *cache.Scope, before func())
}

// batchCases runs each bulk benchmark with the compact per-system record and
// with the 1 KiB status.
var batchCases = []batchCase{
	{"value=state", func(b *testing.B, s *cache.Scope, before func()) {
		benchWrapManyBatched(b, s, newSystemState, before)
	}},
	{"value=status-1KiB", func(b *testing.B, s *cache.Scope, before func()) {
		benchWrapManyBatched(b, s, newSystemStatus, before)
	}},
}

// benchWrapManyBatched reads 1,000 ids through one WrapManyBatched per op.
// before, if not nil, runs ahead of each op with the timer stopped.
func benchWrapManyBatched[T any](b *testing.B, s *cache.Scope, newValue func(id int) T, before func()) {
	const n = 1000
	ctx := context.Background()
	ids := make([]int, n)
	values := make([]T, n)
	for i := range ids {
		ids[i] = i
		values[i] = newValue(i)
	}
	keys := numberedKeys("system:", n)
	keyFor := func(id int) string { return keys[id] }
	load := func(_ context.Context, ids []int) ([]T, error) {
		out := make([]T, len(ids))
		for i, id := range ids {
			out[i] = values[id]
		}
		return out, nil
	}
	if _, err := cache.WrapManyBatched(ctx, s, ids, keyFor, load); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if before != nil {
			b.StopTimer()
			before()
			b.StartTimer()
		}
		vs, err := cache.WrapManyBatched(ctx, s, ids, keyFor, load)
		if err != nil || len(vs) != n {
			b.Fatalf("WrapManyBatched = %d values, %v", len(vs), err)
		}
	}
}

func BenchmarkWrapManyBatchedWarm1000(b *testing.B) {
	for _, c := range batchCases {
		b.Run(c.name, func(b *testing.B) {
			s := newMemoryScope()
			c.run(b, s, nil)
			b.StopTimer()
			if st := s.Stats(); st.Loads != 1 {
				b.Errorf("%d loads, want 1 (the warm-up): the timed reads were not all hits", st.Loads)
			}
		})
	}
}

// BenchmarkWrapManyBatchedCold1000 empties the scope (outside the timer)
// before each op, so every op loads all 1,000 ids in one call and stores
// them.
func BenchmarkWrapManyBatchedCold1000(b *testing.B) {
	ctx := context.Background()
	for _, c := range batchCases {
		b.Run(c.name, func(b *testing.B) {
			s := newMemoryScope()
			c.run(b, s, func() {
				if _, err := s.InvalidatePrefix(ctx, ""); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkWrapManyBatchedUncached1000 is the baseline without a cache: the
// Null provider stores nothing, so every op loads all 1,000 ids.
func BenchmarkWrapManyBatchedUncached1000(b *testing.B) {
	for _, c := range batchCases {
		b.Run(c.name, func(b *testing.B) {
			c.run(b, cache.NewScope(cache.NewNull(), cache.ScopeOptions{Name: "bench"}), nil)
		})
	}
}

var (
	millionOnce sync.Once
	million     *cache.Memory
	millionErr  error
)

// memoryWithMillion returns a Memory holding 1,000,000 unrelated keys,
// filled once per test binary.
func memoryWithMillion(b *testing.B) *cache.Memory {
	b.Helper()
	millionOnce.Do(func() {
		ctx := context.Background()
		m := cache.NewMemory(cache.MemoryOptions{MaxEntries: 2_000_000})
		v := []byte("v")
		for i := range 1_000_000 {
			if err := m.Set(ctx, fmt.Sprintf("other:%07d", i), v, 0); err != nil {
				millionErr = err
				return
			}
		}
		million = m
	})
	if millionErr != nil {
		b.Fatal(millionErr)
	}
	if n := million.Len(); n < 1_000_000 {
		b.Fatalf("Memory holds %d entries, want 1,000,000 or more", n)
	}
	return million
}

func BenchmarkMemoryDeleteByPrefix100Among1M(b *testing.B) {
	ctx := context.Background()
	m := memoryWithMillion(b)
	targets := numberedKeys("target:", 100)
	v := []byte("v")
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		for _, k := range targets {
			if err := m.Set(ctx, k, v, 0); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		n, err := m.DeleteByPrefix(ctx, "target:")
		if err != nil || n != len(targets) {
			b.Fatalf("DeleteByPrefix = %d, %v; want %d", n, err, len(targets))
		}
	}
}

func BenchmarkMemoryGetParallel(b *testing.B) {
	ctx := context.Background()
	m := cache.NewMemory(cache.MemoryOptions{})
	keys := numberedKeys("bench:k:", hitKeys)
	value := bytes.Repeat([]byte("x"), valueSize)
	for _, k := range keys {
		if err := m.Set(ctx, k, value, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Uint32
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for i := startOffset(&next); pb.Next(); i++ {
			if v, found, err := m.Get(ctx, keys[i%hitKeys]); err != nil || !found || len(v) != valueSize {
				b.Errorf("Get = %d bytes, %v, %v", len(v), found, err)
				return
			}
		}
	})
}

func BenchmarkMemorySetParallel(b *testing.B) {
	ctx := context.Background()
	m := cache.NewMemory(cache.MemoryOptions{})
	keys := numberedKeys("bench:k:", hitKeys)
	value := bytes.Repeat([]byte("x"), valueSize)
	var next atomic.Uint32
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for i := startOffset(&next); pb.Next(); i++ {
			if err := m.Set(ctx, keys[i%hitKeys], value, time.Hour); err != nil {
				b.Errorf("Set: %v", err)
				return
			}
		}
	})
}
