package cache

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestInvalidateDuringLoad(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name       string
		invalidate func(s *Scope) error
	}{
		{"Invalidate of the key", func(s *Scope) error { return s.Invalidate(ctx, "obj:1") }},
		{"InvalidatePrefix over a key never invalidated before", func(s *Scope) error {
			_, err := s.InvalidatePrefix(ctx, "obj:")
			return err
		}},
		{"InvalidatePrefix of the whole scope", func(s *Scope) error {
			_, err := s.InvalidatePrefix(ctx, "")
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name+" stops the load in flight from storing its value", func(t *testing.T) {
			p := NewMemory(MemoryOptions{})
			s := newTestScope(t, p)
			g := newGate()
			old := async(func() (string, error) { return Wrap(ctx, s, "obj:1", g.load("old")) })
			<-g.started

			if err := tc.invalidate(s); err != nil {
				t.Fatal(err)
			}
			// A read that starts now must not join the old load.
			fresh, err := Wrap(ctx, s, "obj:1", func(context.Context) (string, error) { return "new", nil })
			if err != nil || fresh != "new" {
				t.Fatalf("read after Invalidate = %q, %v; want its own load of new", fresh, err)
			}
			g.open()
			if o := <-old; o.v != "old" || o.err != nil {
				t.Fatalf("the caller of the old load got %q, %v; want old (it started before the write)", o.v, o.err)
			}
			raw, _, _ := p.Get(ctx, "test:obj:1")
			if string(raw) != `"new"` {
				t.Fatalf("cache holds %s, want \"new\": the old load stored after the invalidation", raw)
			}
			if st := s.Stats(); st.StaleWritesDropped != 1 {
				t.Fatalf("StaleWritesDropped = %d, want 1", st.StaleWritesDropped)
			}
		})
	}

	t.Run("an invalidation of another key leaves the load alone", func(t *testing.T) {
		p := NewMemory(MemoryOptions{})
		s := newTestScope(t, p)
		g := newGate()
		res := async(func() (string, error) { return Wrap(ctx, s, "obj:1", g.load("v")) })
		<-g.started
		s.Invalidate(ctx, "obj:10")
		s.InvalidatePrefix(ctx, "obj:2")
		g.open()
		<-res
		if ok, _ := p.Has(ctx, "test:obj:1"); !ok {
			t.Fatal("the load did not store although no invalidation covered its key")
		}
	})
}

// TestInvalidateWaitsForAStoreUnderWay: a load has reached its Set, which is
// slow; Invalidate runs meanwhile. If Invalidate's Delete were applied
// before the Set, the old value would land after it and stay.
func TestInvalidateWaitsForAStoreUnderWay(t *testing.T) {
	ctx := context.Background()
	setStarted, setGo := make(chan struct{}), make(chan struct{})
	var inSet, deleteDuringSet atomic.Bool
	var once sync.Once
	h := &hookProvider{p: NewMemory(MemoryOptions{})}
	h.beforeSet = func(string) {
		once.Do(func() {
			inSet.Store(true)
			close(setStarted)
			<-setGo
		})
	}
	h.beforeDelete = func(string) { deleteDuringSet.Store(inSet.Load()) }
	s := newTestScope(t, h)

	waiting := make(chan struct{})
	testHookSettleWait = func() { close(waiting) }
	t.Cleanup(func() { testHookSettleWait = nil })

	old := async(func() (string, error) {
		return Wrap(ctx, s, "k", func(context.Context) (string, error) { return "old", nil })
	})
	<-setStarted
	inv := async(func() (struct{}, error) { return struct{}{}, s.Invalidate(ctx, "k") })
	select {
	case <-waiting:
	case o := <-inv:
		t.Fatalf("Invalidate returned (%v) while a store of the key was still under way", o.err)
	}
	inSet.Store(false)
	close(setGo)
	if o := <-inv; o.err != nil {
		t.Fatal(o.err)
	}
	if deleteDuringSet.Load() {
		t.Fatal("Delete was sent while the Set was still under way")
	}
	if ok, _ := h.Has(ctx, "test:k"); ok {
		t.Fatal("the old value is cached after Invalidate returned")
	}
	<-old
	v, _ := Wrap(ctx, s, "k", func(context.Context) (string, error) { return "new", nil })
	if v != "new" {
		t.Fatalf("read after Invalidate = %q, want new", v)
	}
}

// TestNoStaleReadAfterInvalidate is the stress test of the invariant:
// readers and writers on a few keys, a provider with random latency on
// every call. A writer bumps a key's version in the "database",
// invalidates, and then publishes the version as the least any read that
// starts afterwards may return. Any read below it is a violation.
func TestNoStaleReadAfterInvalidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		prefix bool // invalidate the key's family instead of the key
		bulk   bool // read with WrapManyBatched
	}{
		{"Wrap and Invalidate", false, false},
		{"Wrap and InvalidatePrefix", true, false},
		{"WrapManyBatched and Invalidate", false, true},
		{"WrapManyBatched and InvalidatePrefix", true, true},
	} {
		// Through a provider that delays writes (and hides *Memory, so the
		// scope takes its generic paths), and on a plain Memory, whose
		// reads take no lock and which the scope reads directly.
		t.Run(tc.name, func(t *testing.T) {
			stress(t, tc.prefix, tc.bulk, false)
		})
		t.Run(tc.name+" on a plain Memory", func(t *testing.T) {
			stress(t, tc.prefix, tc.bulk, true)
		})
	}
}

func stress(t *testing.T, prefix, bulk, plain bool) {
	const (
		readers, writers = 8, 2
		readsEach        = 1500
		writesEach       = 300
	)
	ctx := context.Background()
	jitter := func() {
		if d := rand.IntN(150); d > 100 {
			time.Sleep(time.Duration(d-100) * 10 * time.Microsecond) // latency, not ordering
		}
	}
	h := &hookProvider{p: NewMemory(MemoryOptions{})}
	h.beforeSet = func(string) { jitter() }
	h.beforeDelete = func(string) { jitter() }
	var p Provider = h
	if plain {
		p = NewMemory(MemoryOptions{})
	}
	s := newTestScope(t, p)

	keys := []string{"fam0:a", "fam0:b", "fam1:a", "fam1:b"}
	var dbMu sync.Mutex
	db := map[string]int{}
	var visible sync.Map // key -> least version a new read must see
	least := func(k string) int {
		v, _ := visible.Load(k)
		n, _ := v.(int)
		return n
	}
	loadOne := func(ctx context.Context, k string) (int, error) {
		jitter()
		dbMu.Lock()
		v := db[k]
		dbMu.Unlock()
		if plain {
			jitter() // the provider cannot delay the store: the loader does
		}
		return v, nil
	}

	var violations, reads atomic.Int64
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range writesEach {
				if plain {
					jitter() // spread the writes over the reads
				}
				k := keys[rand.IntN(len(keys))]
				dbMu.Lock()
				db[k]++
				v := db[k]
				dbMu.Unlock()
				var err error
				if prefix {
					_, err = s.InvalidatePrefix(ctx, k[:5])
				} else {
					err = s.Invalidate(ctx, k)
				}
				if err != nil {
					t.Error(err)
					return
				}
				for { // publish max(visible, v)
					old, _ := visible.Load(k)
					n, _ := old.(int)
					if n >= v || visible.CompareAndSwap(k, old, v) {
						break
					}
					if old == nil {
						if _, loaded := visible.LoadOrStore(k, v); !loaded {
							break
						}
					}
				}
			}
		})
	}
	for range readers {
		wg.Go(func() {
			for range readsEach {
				k := keys[rand.IntN(len(keys))]
				want := least(k)
				var got int
				var err error
				if bulk {
					var vs []int
					vs, err = WrapManyBatched(ctx, s, []string{k}, func(k string) string { return k },
						func(ctx context.Context, ks []string) ([]int, error) {
							out := make([]int, len(ks))
							for i, k := range ks {
								out[i], _ = loadOne(ctx, k)
							}
							return out, nil
						})
					if err == nil {
						got = vs[0]
					}
				} else {
					got, err = Wrap(ctx, s, k, func(ctx context.Context) (int, error) { return loadOne(ctx, k) })
				}
				if err != nil {
					t.Error(err)
					return
				}
				reads.Add(1)
				if got < want {
					violations.Add(1)
				}
			}
		})
	}
	wg.Wait()
	st := s.Stats()
	t.Logf("%d reads: %d hits, %d loads, %d shared, %d stale writes dropped", reads.Load(), st.Hits, st.Loads, st.SharedWaits, st.StaleWritesDropped)
	if n := violations.Load(); n != 0 {
		t.Fatalf("%d reads returned a version older than one invalidated before they started", n)
	}
	if st.Hits == 0 || st.StaleWritesDropped == 0 {
		t.Fatalf("the test did not exercise the cache (hits %d) or the race (stale writes dropped %d)", st.Hits, st.StaleWritesDropped)
	}
	if s.Len() != 0 {
		t.Fatalf("%d flights left in the table", s.Len())
	}
}

func TestStateDoesNotGrowWithInvalidatedKeys(t *testing.T) {
	ctx := context.Background()
	s := newTestScope(t, NewMemory(MemoryOptions{}))
	for i := range 5000 {
		k := fmt.Sprint("k:", i)
		Wrap(ctx, s, k, func(context.Context) (int, error) { return i, nil })
		s.Invalidate(ctx, k)
		s.InvalidatePrefix(ctx, k+":")
	}
	if n := s.Len(); n != 0 {
		t.Fatalf("%d flights remembered after every load finished", n)
	}
	if n := s.bypass.n.Load(); n != 0 {
		t.Fatalf("%d bypass entries while every delete succeeded", n)
	}
}

func TestFailOpen(t *testing.T) {
	ctx := context.Background()

	t.Run("a failing provider never fails a read", func(t *testing.T) {
		h := &hookProvider{p: NewMemory(MemoryOptions{})}
		h.failGet.Store(true)
		h.failSet.Store(true)
		var mu sync.Mutex
		ops := map[string]int{}
		s := NewScope(h, ScopeOptions{Name: "t", OnError: func(op string, err error) {
			if !errors.Is(err, errProvider) {
				t.Errorf("OnError(%s) got %v", op, err)
			}
			mu.Lock()
			ops[op]++
			mu.Unlock()
		}})
		v, err := Wrap(ctx, s, "k", func(context.Context) (int, error) { return 1, nil })
		if err != nil || v != 1 {
			t.Fatalf("Wrap = %d, %v", v, err)
		}
		vs, err := WrapManyBatched(ctx, s, []int{1, 2}, func(i int) string { return fmt.Sprint(i) },
			func(_ context.Context, ids []int) ([]int, error) { return ids, nil })
		if err != nil || fmt.Sprint(vs) != "[1 2]" {
			t.Fatalf("WrapManyBatched = %v, %v", vs, err)
		}
		mu.Lock()
		defer mu.Unlock()
		if ops["get"] == 0 || ops["set"] == 0 {
			t.Fatalf("OnError ops %v, want get and set", ops)
		}
		st := s.Stats()
		if st.GetErrors != uint64(ops["get"]) || st.SetErrors != uint64(ops["set"]) {
			t.Fatalf("stats %+v disagree with OnError %v", st, ops)
		}
	})

	t.Run("a failed Delete returns the error and the scope stops reading the stale entry", func(t *testing.T) {
		h := &hookProvider{p: NewMemory(MemoryOptions{})}
		var ops []string
		s := NewScope(h, ScopeOptions{Name: "t", DefaultTTL: time.Minute, OnError: func(op string, _ error) { ops = append(ops, op) }})
		clock := newFakeClock()
		s.clock = clock.Now
		db := "v1"
		load := func(context.Context) (string, error) { return db, nil }
		Wrap(ctx, s, "k", load)
		Wrap(ctx, s, "fam:x", load)

		db = "v2"
		h.failDelete.Store(true)
		if err := s.Invalidate(ctx, "k"); !errors.Is(err, errProvider) {
			t.Fatalf("Invalidate = %v, want the provider's error", err)
		}
		if _, err := s.InvalidatePrefix(ctx, "fam:"); !errors.Is(err, errProvider) {
			t.Fatalf("InvalidatePrefix = %v, want the provider's error", err)
		}
		if strings.Join(ops, ",") != "delete,deleteByPrefix" {
			t.Fatalf("OnError ops %v", ops)
		}
		for _, k := range []string{"k", "fam:x"} {
			if v, _ := Wrap(ctx, s, k, load); v != "v2" {
				t.Fatalf("read of %s after a failed invalidation = %q, want v2 from the loader", k, v)
			}
			if vs, _ := WrapMany(ctx, s, []string{k}, func(k string) string { return k },
				func(context.Context, string) (string, error) { return db, nil }); vs[0] != "v2" {
				t.Fatalf("bulk read of %s after a failed invalidation = %q, want v2", k, vs[0])
			}
		}

		h.failDelete.Store(false)
		if err := s.Invalidate(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		Wrap(ctx, s, "k", load)
		hits := s.Stats().Hits
		Wrap(ctx, s, "k", load)
		if s.Stats().Hits != hits+1 {
			t.Fatal("reads of k still bypass the cache after a successful invalidation")
		}

		// The prefix entry lapses once every value written before it has
		// expired.
		clock.Advance(2 * time.Minute)
		hits = s.Stats().Hits
		Wrap(ctx, s, "fam:x", load)
		Wrap(ctx, s, "fam:x", load)
		if s.Stats().Hits == hits {
			t.Fatal("reads under fam: still bypass the cache after the longest TTL passed")
		}
		if s.bypass.n.Load() != 0 {
			t.Fatalf("%d bypass entries left", s.bypass.n.Load())
		}
	})
}

func TestStats(t *testing.T) {
	ctx := context.Background()
	s := newTestScope(t, NewMemory(MemoryOptions{}))
	load := func(context.Context) (int, error) { return 1, nil }
	Wrap(ctx, s, "a", load)                                                           // miss, load
	Wrap(ctx, s, "a", load)                                                           // hit
	WrapBytes(ctx, s, "b", func(context.Context) ([]byte, error) { return nil, nil }) // miss, load
	WrapMany(ctx, s, []string{"a", "b", "c"}, func(k string) string { return k },
		func(context.Context, string) (int, error) { return 2, nil }) // a, b hit (b is empty bytes: decode error → miss), c miss
	Wrap(ctx, s, "e", func(context.Context) (int, error) { return 0, errors.New("x") }) // miss, load error
	st := s.Stats()
	if st.Hits != 2 || st.Loads != 5 || st.LoadErrors != 1 || st.Misses != 5 {
		t.Fatalf("stats %+v; want 2 hits, 5 misses, 5 loads, 1 load error", st)
	}
}
