package cache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type objective struct {
	ID     string  `json:"id"`
	Target float64 `json:"target"`
}

func TestReadThrough(t *testing.T) {
	ctx := context.Background()

	t.Run("a miss runs the loader once and stores the value under the scoped key", func(t *testing.T) {
		clock := newFakeClock()
		p := NewMemory(MemoryOptions{Now: clock.Now})
		s := NewScope(p, ScopeOptions{Name: "slo", DefaultTTL: 15 * time.Second})
		calls := 0
		load := func(context.Context) (objective, error) {
			calls++
			return objective{ID: "1", Target: 99.9}, nil
		}
		got, err := Wrap(ctx, s, "objective:1", load)
		if err != nil || got != (objective{ID: "1", Target: 99.9}) {
			t.Fatalf("Wrap = %+v, %v", got, err)
		}
		raw, ok, _ := p.Get(ctx, "slo:objective:1")
		if !ok || string(raw) != `{"id":"1","target":99.9}` {
			t.Fatalf("stored %q (found %v), want the JSON under slo:objective:1", raw, ok)
		}
		if got, _ := Wrap(ctx, s, "objective:1", load); got.ID != "1" || calls != 1 {
			t.Fatalf("second read: %+v after %d loads, want a hit", got, calls)
		}
		if st := s.Stats(); st.Hits != 1 || st.Misses != 1 || st.Loads != 1 {
			t.Fatalf("stats %+v, want 1 hit, 1 miss, 1 load", st)
		}
	})

	t.Run("a stored value expires after the scope's TTL and TTL overrides it per call", func(t *testing.T) {
		clock := newFakeClock()
		p := NewMemory(MemoryOptions{Now: clock.Now})
		s := NewScope(p, ScopeOptions{Name: "slo", DefaultTTL: 15 * time.Second})
		calls := 0
		load := func(context.Context) (int, error) { calls++; return calls, nil }

		Wrap(ctx, s, "a", load)
		Wrap(ctx, s, "b", load, TTL(time.Minute))
		clock.Advance(16 * time.Second)
		if v, _ := Wrap(ctx, s, "a", load); v != 3 {
			t.Fatalf("a after its TTL = %d, want a fresh load (3)", v)
		}
		if v, _ := Wrap(ctx, s, "b", load); v != 2 {
			t.Fatalf("b within its own TTL = %d, want the cached 2", v)
		}
	})

	t.Run("one scope's invalidation never reaches another scope's keys", func(t *testing.T) {
		p := NewMemory(MemoryOptions{})
		a := NewScope(p, ScopeOptions{Name: "a"})
		ab := NewScope(p, ScopeOptions{Name: "ab"})
		load := func(context.Context) (string, error) { return "v", nil }
		Wrap(ctx, a, "k", load)
		Wrap(ctx, ab, "k", load)
		if _, err := a.InvalidatePrefix(ctx, ""); err != nil {
			t.Fatal(err)
		}
		if ok, _ := p.Has(ctx, "ab:k"); !ok {
			t.Fatal("scope a's InvalidatePrefix(\"\") removed scope ab's key")
		}
		if ok, _ := p.Has(ctx, "a:k"); ok {
			t.Fatal("scope a's own key survived InvalidatePrefix(\"\")")
		}
	})

	t.Run("scope names that could overlap are refused", func(t *testing.T) {
		for _, name := range []string{"", "a:b"} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("NewScope(%q) did not panic", name)
					}
				}()
				NewScope(NewNull(), ScopeOptions{Name: name})
			}()
		}
	})

	t.Run("WrapBytes stores and returns the bytes as they are", func(t *testing.T) {
		p := NewMemory(MemoryOptions{})
		s := newTestScope(t, p)
		body := []byte(`{"systems":[]}`)
		got, err := WrapBytes(ctx, s, "k", func(context.Context) ([]byte, error) { return body, nil })
		if err != nil || string(got) != string(body) {
			t.Fatalf("WrapBytes = %q, %v", got, err)
		}
		raw, _, _ := p.Get(ctx, "test:k")
		if string(raw) != string(body) {
			t.Fatalf("stored %q, want the body unencoded", raw)
		}
		got, _ = WrapBytes(ctx, s, "k", func(context.Context) ([]byte, error) { return nil, errors.New("loaded on a hit") })
		if string(got) != string(body) {
			t.Fatalf("hit = %q", got)
		}
	})

	t.Run("an undecodable entry is a miss, reported as a get error", func(t *testing.T) {
		p := NewMemory(MemoryOptions{})
		var ops []string
		s := NewScope(p, ScopeOptions{Name: "test", OnError: func(op string, err error) { ops = append(ops, op) }})
		p.Set(ctx, "test:k", []byte("not json"), 0)
		v, err := Wrap(ctx, s, "k", func(context.Context) (int, error) { return 7, nil })
		if err != nil || v != 7 {
			t.Fatalf("Wrap = %d, %v; want the loader's 7", v, err)
		}
		if len(ops) == 0 || strings.Trim(strings.Join(ops, ""), "get") != "" {
			t.Fatalf("OnError ops = %v, want only get errors", ops)
		}
	})
}

func TestSingleFlight(t *testing.T) {
	ctx := context.Background()

	t.Run("concurrent misses on one key share one load", func(t *testing.T) {
		s := newTestScope(t, NewMemory(MemoryOptions{}))
		g := newGate()
		const n = 100
		results := make([]<-chan outcome[string], n)
		for i := range results {
			results[i] = async(func() (string, error) { return Wrap(ctx, s, "k", g.load("v")) })
		}
		eventually(t, "every caller waits on the one load", func() bool {
			return s.Stats().SharedWaits+s.Stats().Loads == n
		})
		g.open()
		for _, r := range results {
			if o := <-r; o.err != nil || o.v != "v" {
				t.Fatalf("caller got %q, %v", o.v, o.err)
			}
		}
		if c := g.calls.Load(); c != 1 {
			t.Fatalf("loader ran %d times, want 1", c)
		}
	})

	t.Run("a caller that misses after the load stored finds the value instead of loading again", func(t *testing.T) {
		// The re-check inside the flight: the provider misses for caller B,
		// A's flight then completes and stores, and only then does B reach
		// the flight table. B must not load again.
		var first atomic.Bool
		bMissed := make(chan struct{})
		aDone := make(chan struct{})
		calls := atomic.Int64{}
		load := func(context.Context) (string, error) { calls.Add(1); return "v", nil }
		// B's first Get misses, then B waits for A to finish before it goes
		// on to the flight table; every later Get passes through.
		p := getHook{Provider: NewMemory(MemoryOptions{}), after: func(string) {
			if first.CompareAndSwap(false, true) {
				close(bMissed)
				<-aDone
			}
		}}
		s := newTestScope(t, p)
		bres := async(func() (string, error) { return Wrap(ctx, s, "k", load) })
		<-bMissed
		if v, err := Wrap(ctx, s, "k", load); v != "v" || err != nil {
			t.Fatalf("A = %q, %v", v, err)
		}
		close(aDone)
		if o := <-bres; o.v != "v" || o.err != nil {
			t.Fatalf("B = %q, %v", o.v, o.err)
		}
		if c := calls.Load(); c != 1 {
			t.Fatalf("loader ran %d times, want 1: the flight did not check the cache again", c)
		}
	})

	t.Run("WrapMany shares each id with a concurrent Wrap", func(t *testing.T) {
		s := newTestScope(t, NewMemory(MemoryOptions{}))
		g := newGate()
		single := async(func() (string, error) { return Wrap(ctx, s, "sys:1", g.load("one")) })
		<-g.started

		var mu sync.Mutex
		loaded := map[int]int{}
		many := async(func() ([]string, error) {
			return WrapMany(ctx, s, []int{1, 2, 3, 2}, func(id int) string { return fmt.Sprintf("sys:%d", id) },
				func(_ context.Context, id int) (string, error) {
					mu.Lock()
					loaded[id]++
					mu.Unlock()
					return fmt.Sprint("v", id), nil
				})
		})
		eventually(t, "WrapMany joins the flight of id 1", func() bool { return s.Stats().SharedWaits == 1 })
		g.open()
		got := <-many
		if got.err != nil || strings.Join(got.v, ",") != "one,v2,v3,v2" {
			t.Fatalf("WrapMany = %v, %v", got.v, got.err)
		}
		if o := <-single; o.v != "one" {
			t.Fatalf("Wrap = %q", o.v)
		}
		if loaded[1] != 0 || loaded[2] != 1 || loaded[3] != 1 {
			t.Fatalf("per-id loads %v, want id 1 shared and 2, 3 once each", loaded)
		}
	})

	t.Run("WrapManyBatched loads its misses in one call, in input order, awaiting ids already in flight", func(t *testing.T) {
		s := newTestScope(t, NewMemory(MemoryOptions{}))
		keyFor := func(id string) string { return "sys:" + id }
		if _, err := Wrap(ctx, s, "sys:warm", func(context.Context) (string, error) { return "cached", nil }); err != nil {
			t.Fatal(err)
		}
		g := newGate()
		inflight := async(func() (string, error) { return Wrap(ctx, s, "sys:b", g.load("B")) })
		<-g.started

		var batches [][]string
		res := async(func() ([]string, error) {
			return WrapManyBatched(ctx, s, []string{"d", "b", "warm", "a", "d", "c"}, keyFor,
				func(_ context.Context, ids []string) ([]string, error) {
					batches = append(batches, ids)
					out := make([]string, len(ids))
					for i, id := range ids {
						out[i] = strings.ToUpper(id)
					}
					return out, nil
				})
		})
		eventually(t, "the batch joins the flight of b", func() bool { return s.Stats().SharedWaits == 1 })
		g.open()
		o := <-res
		if o.err != nil || strings.Join(o.v, ",") != "D,B,cached,A,D,C" {
			t.Fatalf("WrapManyBatched = %v, %v", o.v, o.err)
		}
		if len(batches) != 1 || strings.Join(batches[0], ",") != "d,a,c" {
			t.Fatalf("loader calls %v, want one call with [d a c]", batches)
		}
		<-inflight
	})

	t.Run("a warm WrapManyBatched calls no loader", func(t *testing.T) {
		s := newTestScope(t, NewMemory(MemoryOptions{}))
		ids := []int{1, 2, 3}
		keyFor := func(id int) string { return fmt.Sprint(id) }
		load := func(_ context.Context, ids []int) ([]int, error) {
			out := make([]int, len(ids))
			for i, id := range ids {
				out[i] = id * 10
			}
			return out, nil
		}
		WrapManyBatched(ctx, s, ids, keyFor, load)
		got, err := WrapManyBatched(ctx, s, ids, keyFor, func(context.Context, []int) ([]int, error) {
			return nil, errors.New("loader called on a warm read")
		})
		if err != nil || fmt.Sprint(got) != "[10 20 30]" {
			t.Fatalf("warm read = %v, %v", got, err)
		}
	})
}

// getHook calls after once each Get has read the provider.
type getHook struct {
	Provider
	after func(key string)
}

func (g getHook) Get(ctx context.Context, key string) ([]byte, bool, error) {
	v, ok, err := g.Provider.Get(ctx, key)
	g.after(key)
	return v, ok, err
}

func TestLoaderFailures(t *testing.T) {
	ctx := context.Background()

	t.Run("an error reaches every waiter and is not cached", func(t *testing.T) {
		s := newTestScope(t, NewMemory(MemoryOptions{}))
		boom := errors.New("db down")
		release := make(chan struct{})
		calls := atomic.Int64{}
		load := func(context.Context) (string, error) {
			calls.Add(1)
			<-release
			return "", boom
		}
		a := async(func() (string, error) { return Wrap(ctx, s, "k", load) })
		b := async(func() (string, error) { return Wrap(ctx, s, "k", load) })
		eventually(t, "both callers share the load", func() bool { return s.Stats().SharedWaits == 1 })
		close(release)
		for _, r := range []<-chan outcome[string]{a, b} {
			if o := <-r; !errors.Is(o.err, boom) {
				t.Fatalf("waiter got %v, want %v", o.err, boom)
			}
		}
		v, err := Wrap(ctx, s, "k", func(context.Context) (string, error) { return "ok", nil })
		if err != nil || v != "ok" {
			t.Fatalf("after an error: %q, %v; want a fresh load", v, err)
		}
		if calls.Load() != 1 {
			t.Fatalf("failing loader ran %d times, want 1", calls.Load())
		}
	})

	t.Run("a panic reaches every waiter as ErrPanic and leaves nothing stuck", func(t *testing.T) {
		s := newTestScope(t, NewMemory(MemoryOptions{}))
		release := make(chan struct{})
		started := make(chan struct{})
		load := func(context.Context) (string, error) { close(started); <-release; panic("nil map") }
		a := async(func() (string, error) { return Wrap(ctx, s, "k", load) })
		<-started
		b := async(func() ([]string, error) {
			return WrapMany(ctx, s, []string{"k"}, func(k string) string { return k },
				func(context.Context, string) (string, error) { return "", errors.New("not shared") })
		})
		eventually(t, "both callers share the load", func() bool { return s.Stats().SharedWaits == 1 })
		close(release)
		oa, ob := <-a, <-b
		var pe *PanicError
		if !errors.Is(oa.err, ErrPanic) || !errors.As(oa.err, &pe) || pe.Value != "nil map" || len(pe.Stack) == 0 {
			t.Fatalf("Wrap got %v, want a *PanicError wrapping ErrPanic", oa.err)
		}
		if !errors.Is(ob.err, ErrPanic) {
			t.Fatalf("WrapMany got %v, want ErrPanic", ob.err)
		}
		v, err := Wrap(ctx, s, "k", func(context.Context) (string, error) { return "ok", nil })
		if err != nil || v != "ok" {
			t.Fatalf("after a panic: %q, %v", v, err)
		}
		if st := s.Stats(); st.Panics != 1 || st.LoadErrors != 1 {
			t.Fatalf("stats %+v, want 1 panic counted as 1 load error", st)
		}
	})

	t.Run("a batched loader returning the wrong number of values is an error", func(t *testing.T) {
		s := newTestScope(t, NewMemory(MemoryOptions{}))
		for _, n := range []int{1, 3} {
			_, err := WrapManyBatched(ctx, s, []int{1, 2}, func(id int) string { return fmt.Sprint(id) },
				func(context.Context, []int) ([]int, error) { return make([]int, n), nil })
			if !errors.Is(err, ErrBatchLength) {
				t.Fatalf("%d values for 2 ids: err %v, want ErrBatchLength", n, err)
			}
		}
		if s.Len() != 0 {
			t.Fatalf("%d flights left in the table", s.Len())
		}
	})
}

// Len returns the number of loads in the single-flight table.
func (s *Scope) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.flights)
}

func TestContext(t *testing.T) {
	t.Run("a waiter whose context ends leaves at once; the load goes on and fills the cache", func(t *testing.T) {
		s := newTestScope(t, NewMemory(MemoryOptions{}))
		var loaderCtxErr atomic.Value
		release := make(chan struct{})
		started := make(chan struct{})
		load := func(ctx context.Context) (string, error) {
			close(started)
			<-release
			loaderCtxErr.Store(fmt.Sprint(ctx.Err()))
			return "v", nil
		}
		leaderCtx, cancelLeader := context.WithCancel(context.Background())
		leader := async(func() (string, error) { return Wrap(leaderCtx, s, "k", load) })
		<-started
		other := async(func() (string, error) { return Wrap(context.Background(), s, "k", load) })
		eventually(t, "the second caller joins", func() bool { return s.Stats().SharedWaits == 1 })

		cancelLeader()
		if o := <-leader; !errors.Is(o.err, context.Canceled) {
			t.Fatalf("cancelled leader got %q, %v; want context.Canceled", o.v, o.err)
		}
		close(release)
		if o := <-other; o.v != "v" || o.err != nil {
			t.Fatalf("other waiter got %q, %v", o.v, o.err)
		}
		if e := loaderCtxErr.Load(); e != "<nil>" {
			t.Fatalf("loader's context was %v after the leader left, want still live", e)
		}
		v, _ := Wrap(context.Background(), s, "k", func(context.Context) (string, error) { return "reloaded", nil })
		if v != "v" {
			t.Fatalf("cache holds %q, want the load's v", v)
		}
	})

	t.Run("the loader's context is bounded by LoadTimeout", func(t *testing.T) {
		s := NewScope(NewMemory(MemoryOptions{}), ScopeOptions{Name: "t", LoadTimeout: time.Hour})
		var deadline time.Time
		Wrap(context.Background(), s, "k", func(ctx context.Context) (int, error) {
			deadline, _ = ctx.Deadline()
			return 1, nil
		})
		if until := time.Until(deadline); until < 59*time.Minute || until > time.Hour {
			t.Fatalf("loader deadline in %v, want about an hour", until)
		}
	})

	t.Run("the loader sees the caller's context values", func(t *testing.T) {
		type ctxKey struct{}
		s := newTestScope(t, NewMemory(MemoryOptions{}))
		ctx := context.WithValue(context.Background(), ctxKey{}, "trace-1")
		v, _ := Wrap(ctx, s, "k", func(ctx context.Context) (string, error) {
			return fmt.Sprint(ctx.Value(ctxKey{})), nil
		})
		if v != "trace-1" {
			t.Fatalf("loader saw %q", v)
		}
	})

	t.Run("WrapMany returns ctx.Err() when its context ends while waiting", func(t *testing.T) {
		s := newTestScope(t, NewMemory(MemoryOptions{}))
		ctx, cancel := context.WithCancel(context.Background())
		release := make(chan struct{})
		defer close(release)
		res := async(func() ([]int, error) {
			return WrapManyBatched(ctx, s, []int{1}, func(int) string { return "1" },
				func(context.Context, []int) ([]int, error) { <-release; return []int{1}, nil })
		})
		eventually(t, "the load starts", func() bool { return s.Stats().Loads == 1 })
		cancel()
		if o := <-res; !errors.Is(o.err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", o.err)
		}
	})
}

func TestWrapManyJSONEncodesEachValueOnceAndServesItsBytes(t *testing.T) {
	s := NewScope(NewMemory(MemoryOptions{}), ScopeOptions{Name: "t", DefaultTTL: time.Minute})
	loads := 0
	load := func(_ context.Context, ids []string) (map[string][]int, error) {
		loads++
		out := map[string][]int{}
		for _, id := range ids {
			if id != "none" {
				out[id] = []int{len(id)}
			}
		}
		return out, nil
	}
	for range 2 {
		raws, err := WrapManyJSON(context.Background(), s, []string{"a", "bbb", "none"}, func(id string) string { return "k:" + id }, load)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(raws[0]) + " " + string(raws[1]) + " " + string(raws[2]); got != "[1] [3] null" {
			t.Fatalf("raws = %s", got)
		}
	}
	if loads != 1 {
		t.Fatalf("%d loads, want 1: the second call is served from the cache", loads)
	}
}
