package cache

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// hookProvider wraps a Provider so a test can intercept and fail calls. It
// hides the wrapped provider's optional interfaces, so scopes on it take
// the generic paths.
type hookProvider struct {
	p Provider

	beforeSet    func(key string) // nil: none
	beforeDelete func(key string) // nil: none; also runs for DeleteByPrefix

	failGet, failSet, failDelete atomic.Bool

	sets, deletes atomic.Int64
}

var errProvider = errors.New("provider down")

func (h *hookProvider) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if h.failGet.Load() {
		return nil, false, errProvider
	}
	return h.p.Get(ctx, key)
}

func (h *hookProvider) Set(ctx context.Context, key string, v []byte, ttl time.Duration) error {
	if h.beforeSet != nil {
		h.beforeSet(key)
	}
	h.sets.Add(1)
	if h.failSet.Load() {
		return errProvider
	}
	return h.p.Set(ctx, key, v, ttl)
}

func (h *hookProvider) Delete(ctx context.Context, key string) error {
	if h.beforeDelete != nil {
		h.beforeDelete(key)
	}
	h.deletes.Add(1)
	if h.failDelete.Load() {
		return errProvider
	}
	return h.p.Delete(ctx, key)
}

func (h *hookProvider) DeleteByPrefix(ctx context.Context, prefix string) (int, error) {
	if h.beforeDelete != nil {
		h.beforeDelete(prefix)
	}
	h.deletes.Add(1)
	if h.failDelete.Load() {
		return 0, errProvider
	}
	return h.p.DeleteByPrefix(ctx, prefix)
}

func (h *hookProvider) Has(ctx context.Context, key string) (bool, error) {
	return h.p.Has(ctx, key)
}

// fakeClock is a clock a test drives.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// eventually waits until cond holds, failing the test after a generous
// deadline. It waits for a condition another goroutine makes true; it does
// not order events by time.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		runtime.Gosched()
		time.Sleep(100 * time.Microsecond)
	}
}

// gate is a loader that blocks until released, counting its calls.
type gate struct {
	calls   atomic.Int64
	started chan struct{} // receives once per call, when it starts
	release chan struct{} // closed to let every call return
}

func newGate() *gate {
	return &gate{started: make(chan struct{}, 1024), release: make(chan struct{})}
}

func (g *gate) load(v string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		g.calls.Add(1)
		g.started <- struct{}{}
		<-g.release
		return v, nil
	}
}

func (g *gate) open() { close(g.release) }

func newTestScope(t *testing.T, p Provider) *Scope {
	t.Helper()
	return NewScope(p, ScopeOptions{Name: "test", DefaultTTL: time.Minute})
}

// result of one call, for goroutines.
type outcome[T any] struct {
	v   T
	err error
}

func async[T any](f func() (T, error)) <-chan outcome[T] {
	c := make(chan outcome[T], 1)
	go func() {
		v, err := f()
		c <- outcome[T]{v, err}
	}()
	return c
}
