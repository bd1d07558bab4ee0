package cache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// memGuard is an in-memory Provider that also implements Guard with the
// contract rediscache implements in Redis: every Delete and DeleteByPrefix
// bumps a sequence and logs what it covered; SetGuarded drops an entry a
// logged invalidation after the token covers. Two scopes on one memGuard
// behave like two processes sharing one Redis.
type memGuard struct {
	m   *Memory
	mu  sync.Mutex
	seq uint64
	log []memGuardRecord
}

type memGuardRecord struct {
	seq    uint64
	target string
	prefix bool
}

func newMemGuard() *memGuard { return &memGuard{m: NewMemory(MemoryOptions{})} }

var _ Guard = (*memGuard)(nil)

func (g *memGuard) Get(ctx context.Context, key string) ([]byte, bool, error) {
	return g.m.Get(ctx, key)
}

func (g *memGuard) Has(ctx context.Context, key string) (bool, error) { return g.m.Has(ctx, key) }

func (g *memGuard) Set(ctx context.Context, key string, v []byte, ttl time.Duration) error {
	return g.m.Set(ctx, key, v, ttl)
}

func (g *memGuard) Delete(ctx context.Context, key string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.seq++
	g.log = append(g.log, memGuardRecord{seq: g.seq, target: key})
	return g.m.Delete(ctx, key)
}

func (g *memGuard) DeleteByPrefix(ctx context.Context, prefix string) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.seq++
	g.log = append(g.log, memGuardRecord{seq: g.seq, target: prefix, prefix: true})
	return g.m.DeleteByPrefix(ctx, prefix)
}

func (g *memGuard) Token(context.Context) (uint64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.seq, nil
}

func (g *memGuard) SetGuarded(ctx context.Context, token uint64, entries []Entry) ([]int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var dropped []int
	for i, e := range entries {
		covered := false
		for _, r := range g.log {
			if r.seq > token && (r.target == e.Key || r.prefix && strings.HasPrefix(e.Key, r.target)) {
				covered = true
				break
			}
		}
		if covered {
			dropped = append(dropped, i)
			continue
		}
		if err := g.m.Set(ctx, e.Key, e.Value, e.TTL); err != nil {
			return dropped, err
		}
	}
	return dropped, nil
}

// TestADoomedGuardedLoadStillGoesThroughTheGuard:
// with a Guard provider, a read that joins a load after another process's
// Invalidate returned relies on the guarded store being refused, which makes
// the load run again. When this process's own Invalidate also dooms that
// load, the guard must still be asked (the load runs again); skipping the
// store would give the late joiner the value read before the other
// process's write:
//
//	process A, flight F:  token ── loader reads v0 ───────────────────────────── returns v0 ── doomed: no store → waiters get v0
//	process B:                      db=1, Invalidate returns
//	process A, reader R:                                 joins F
//	process A:                                                  db=2, Invalidate (dooms F)
func TestADoomedGuardedLoadStillGoesThroughTheGuard(t *testing.T) {
	ctx := context.Background()
	shared := newMemGuard()
	a := newTestScope(t, shared) // process A
	b := newTestScope(t, shared) // process B

	var db atomic.Int64
	started, release := make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	load := func(context.Context) (int64, error) {
		v := db.Load()
		if first.CompareAndSwap(false, true) {
			close(started)
			<-release
		}
		return v, nil
	}

	q := async(func() (int64, error) { return Wrap(ctx, a, "k", load) })
	<-started // F holds its token and has read version 0

	db.Store(1)
	if err := b.Invalidate(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	// R starts after B's Invalidate returned.
	r := async(func() (int64, error) { return Wrap(ctx, a, "k", load) })
	eventually(t, "R joins the load in flight", func() bool { return a.Stats().SharedWaits == 1 })

	db.Store(2)
	if err := a.Invalidate(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	close(release)

	if o := <-q; o.err != nil {
		t.Fatal(o.err)
	}
	o := <-r
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.v < 1 {
		t.Fatalf("a read that started after process B's Invalidate returned got version %d, want at least 1", o.v)
	}
}

// TestACollapsedBypassIsClearedByAWholeScopeInvalidation: after more than
// maxBypass failed invalidations the bypass set collapses into one entry
// covering the scope. A later successful InvalidatePrefix(ctx, "") must
// clear it: with values stored without expiry it would never lapse, and
// the scope would never read from its provider again.
func TestACollapsedBypassIsClearedByAWholeScopeInvalidation(t *testing.T) {
	ctx := context.Background()
	h := &hookProvider{p: NewMemory(MemoryOptions{})}
	s := NewScope(h, ScopeOptions{Name: "test"}) // DefaultTTL 0: no expiry
	load := func(context.Context) (int, error) { return 1, nil }
	if _, err := Wrap(ctx, s, "k", load); err != nil {
		t.Fatal(err)
	}

	h.failDelete.Store(true) // an outage
	for i := range maxBypass + 1 {
		if err := s.Invalidate(ctx, fmt.Sprint("x:", i)); err == nil {
			t.Fatal("Invalidate succeeded on a failing provider")
		}
	}
	h.failDelete.Store(false) // the provider is back

	if _, err := s.InvalidatePrefix(ctx, ""); err != nil {
		t.Fatal(err)
	}
	Wrap(ctx, s, "k", load) // loads and stores
	hits := s.Stats().Hits
	Wrap(ctx, s, "k", load)
	if s.Stats().Hits != hits+1 {
		t.Fatalf("reads still bypass the provider after a successful InvalidatePrefix of the whole scope (%d bypass entries)", s.bypass.n.Load())
	}
}

// getStepProvider numbers the Gets it serves and lets a test act on each.
type getStepProvider struct {
	*hookProvider
	gets  atomic.Int64
	onGet func(n int64) error // before Get number n; a non-nil error fails it
}

func (p *getStepProvider) Get(ctx context.Context, key string) ([]byte, bool, error) {
	n := p.gets.Add(1)
	if p.onGet != nil {
		if err := p.onGet(n); err != nil {
			return nil, false, err
		}
	}
	return p.hookProvider.Get(ctx, key)
}

// TestAFailedInvalidateLeavesNoJoinableFlightWithTheStaleEntry: when
// Delete fails, a flight created while Invalidate runs may re-read the
// provider before the key is in the bypass set and get the entry the
// failed Delete left. It must not stay joinable: a read that starts after
// Invalidate returned goes to the loader (see the package doc). The test
// holds Invalidate, through the scope's clock (read as the bypass entry is
// added), while that flight re-reads:
//
//	Invalidate: settle ── Delete fails ─┬─ bypass.add ── detachMatching ── return err
//	reader Q:   Get fails (miss) ... leads F
//	flight F:                          recheck → Get → v0 (held)
//	reader R:                                                              bypassed → loads v1
func TestAFailedInvalidateLeavesNoJoinableFlightWithTheStaleEntry(t *testing.T) {
	ctx := context.Background()
	p := &getStepProvider{hookProvider: &hookProvider{p: NewMemory(MemoryOptions{})}}
	s := newTestScope(t, p)

	db := atomic.Value{}
	db.Store("v0")
	load := func(context.Context) (string, error) { return db.Load().(string), nil }
	if v, err := Wrap(ctx, s, "k", load); err != nil || v != "v0" {
		t.Fatalf("Wrap = %q, %v", v, err)
	}
	base := p.gets.Load()

	qInGet, qGo := make(chan struct{}), make(chan struct{})
	fInGet, fGo := make(chan struct{}), make(chan struct{})
	p.onGet = func(n int64) error {
		switch n - base {
		case 1: // reader Q's lookup: the provider is flaky, Q misses
			close(qInGet)
			<-qGo
			return errProvider
		case 2: // flight F's re-check
			close(fInGet)
			<-fGo
		}
		return nil
	}
	var armed atomic.Bool
	s.clock = func() time.Time {
		if armed.CompareAndSwap(true, false) { // Invalidate, about to add the bypass entry
			close(qGo)
			<-fInGet
		}
		return time.Now()
	}

	db.Store("v1") // db.write
	q := async(func() (string, error) { return Wrap(ctx, s, "k", load) })
	<-qInGet
	p.failDelete.Store(true)
	armed.Store(true)
	if err := s.Invalidate(ctx, "k"); !errors.Is(err, errProvider) {
		t.Fatalf("Invalidate = %v, want the provider's error", err)
	}

	// R starts after Invalidate returned: per the package doc it reads
	// from the loader.
	// F is still stuck in its re-check: R must not be waiting for it.
	if v, err := Wrap(ctx, s, "k", load); err != nil || v != "v1" {
		t.Fatalf("a read that started after a failed Invalidate returned got %q, %v; want v1 from the loader", v, err)
	}
	close(fGo)
	<-q
}

// ctxSetProvider's Set waits until released or until its context ends, as
// a network provider does when the server does not answer.
type ctxSetProvider struct {
	Provider
	release chan struct{}
	inSet   chan struct{}
	once    sync.Once
}

func (p *ctxSetProvider) Set(ctx context.Context, key string, v []byte, ttl time.Duration) error {
	p.once.Do(func() { close(p.inSet) })
	select {
	case <-p.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return p.Provider.Set(ctx, key, v, ttl)
}

// TestInvalidateHonoursItsContextWhileAStoreIsUnderWay: settle waits
// for a store under way, and must give up when the caller's context ends,
// rather than hold the mutation until the cache server answers or the
// load's timeout ends the Set.
func TestInvalidateHonoursItsContextWhileAStoreIsUnderWay(t *testing.T) {
	p := &ctxSetProvider{Provider: NewMemory(MemoryOptions{}), release: make(chan struct{}), inSet: make(chan struct{})}
	defer close(p.release)
	s := NewScope(p, ScopeOptions{Name: "test", DefaultTTL: time.Minute, LoadTimeout: time.Hour})

	waiting := make(chan struct{})
	testHookSettleWait = func() { close(waiting) }
	t.Cleanup(func() { testHookSettleWait = nil })

	go Wrap(context.Background(), s, "k", func(context.Context) (int, error) { return 1, nil })
	<-p.inSet

	ctx, cancel := context.WithCancel(context.Background())
	inv := async(func() (struct{}, error) { return struct{}{}, s.Invalidate(ctx, "k") })
	<-waiting
	cancel()
	select {
	case o := <-inv:
		if o.err == nil {
			t.Fatal("Invalidate returned nil although its context ended before the store under way finished")
		}
	case <-time.After(5 * time.Second): // a watchdog, not an ordering
		t.Fatal("Invalidate still blocked 5s after its context was cancelled, waiting for another load's Set")
	}
}

type panicMarshal struct{ p *int }

func (v panicMarshal) MarshalJSON() ([]byte, error) { return []byte(fmt.Sprint(*v.p)), nil }

// TestACodecPanicOnTheLoadGoroutineDoesNotEndTheProcess: a loader's panic
// reaches the waiters as ErrPanic, and so must a panicking MarshalJSON (or
// custom Codec) run on the load's own goroutine, where no caller could
// recover it and it would end the process. It runs in a child process, so
// a regression fails this test instead of the test binary.
func TestACodecPanicOnTheLoadGoroutineDoesNotEndTheProcess(t *testing.T) {
	if os.Getenv("CACHE_TEST_CHILD") == "1" {
		s := newTestScope(t, NewMemory(MemoryOptions{}))
		_, err := Wrap(context.Background(), s, "k", func(context.Context) (panicMarshal, error) {
			return panicMarshal{}, nil
		})
		fmt.Println("Wrap returned:", err)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestACodecPanicOnTheLoadGoroutineDoesNotEndTheProcess$")
	cmd.Env = append(os.Environ(), "CACHE_TEST_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		first := string(out)
		if i := strings.Index(first, "\n\ngoroutine "); i > 0 {
			first = first[:i]
		}
		t.Fatalf("the process died on a value whose MarshalJSON panics (%v):\n%s", err, first)
	}
}
