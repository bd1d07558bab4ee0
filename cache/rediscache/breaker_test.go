package rediscache_test

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/cache/rediscache"
)

// proxy forwards TCP connections to a Redis server and can be switched
// down: then it closes every connection it carries and closes each new one
// as soon as it accepts it.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{} // both ends of every forwarded connection
	wg    sync.WaitGroup
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.acceptLoop)
	t.Cleanup(func() {
		_ = ln.Close() // ends acceptLoop; its error is not interesting
		p.setDown(true)
		p.wg.Wait()
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) acceptLoop() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // listener closed
		}
		p.wg.Go(func() { p.forward(c) })
	}
}

// track registers c, unless the proxy is down, in which case it closes c.
func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		_ = c.Close() // refusing the connection is the point
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close() // may already be closed by setDown
}

func (p *proxy) forward(c net.Conn) {
	if !p.track(c) {
		return
	}
	defer p.untrack(c)
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	if !p.track(up) {
		return
	}
	defer p.untrack(up)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(up, c) // ends when either side closes
		_ = up.Close()        // unblocks the copy below
	}()
	_, _ = io.Copy(c, up)
	_ = c.Close()
	<-done
}

func (p *proxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			_ = c.Close() // the forwarders untrack it
		}
	}
}

func TestBreakerOpensWithoutNetworkIOAndRecovers(t *testing.T) {
	base := redisOptions(t)
	px := startProxy(t, base.Addr)
	ns := newNamespace(t)

	var dials atomic.Int64
	opt := *base
	opt.Addr = px.addr()
	opt.MaxRetries = -1
	opt.DialerRetries = 1
	opt.DialTimeout = 200 * time.Millisecond
	opt.ReadTimeout = 200 * time.Millisecond
	opt.WriteTimeout = 200 * time.Millisecond
	opt.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	client := redis.NewClient(&opt)
	t.Cleanup(func() { _ = client.Close() }) // closing a client on a dead proxy may report the dead connections

	p := newProvider(t, client, ns, rediscache.Options{
		FailureThreshold: 3,
		ProbeInterval:    20 * time.Millisecond,
		OpTimeout:        time.Second,
	})
	// Hold the prober until the dials have been counted: each probe dials.
	hold := make(chan struct{})
	var probes atomic.Int64
	rediscache.WrapProbe(p, func(check func(context.Context) error) func(context.Context) error {
		return func(ctx context.Context) error {
			select {
			case <-hold:
			case <-ctx.Done():
				return ctx.Err()
			}
			probes.Add(1)
			return check(ctx)
		}
	})

	ctx := t.Context()
	if err := p.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatalf("Set through the proxy: %v", err)
	}

	px.setDown(true)
	for i := range 3 {
		_, _, err := p.Get(ctx, "k")
		if err == nil {
			t.Fatalf("Get %d with Redis down succeeded", i+1)
		}
		if errors.Is(err, rediscache.ErrUnavailable) {
			t.Fatalf("Get %d: the breaker opened before FailureThreshold failures: %v", i+1, err)
		}
	}

	before := dials.Load()
	if before == 0 {
		t.Fatal("the dial hook never ran")
	}
	g := cache.Guard(p)
	ops := []func() error{
		func() error { _, _, err := p.Get(ctx, "k"); return err },
		func() error { _, err := p.GetMany(ctx, []string{"k", "j"}); return err },
		func() error { _, err := p.Has(ctx, "k"); return err },
		func() error { return p.Set(ctx, "k", []byte("v"), time.Minute) },
		func() error { return p.Delete(ctx, "k") },
		func() error { _, err := p.DeleteByPrefix(ctx, "k"); return err },
		func() error { _, err := g.Token(ctx); return err },
		func() error { _, err := g.SetGuarded(ctx, 1, []cache.Entry{{Key: "k"}}); return err },
	}
	for i := range 1000 {
		if err := ops[i%len(ops)](); !errors.Is(err, rediscache.ErrUnavailable) {
			t.Fatalf("op %d with the breaker open: err = %v, want ErrUnavailable", i, err)
		}
	}
	if d := dials.Load() - before; d != 0 {
		t.Errorf("%d dials while the breaker was open, want 0", d)
	}

	close(hold)
	px.setDown(false)
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, found, err := p.Get(ctx, "k")
		if err == nil {
			if !found || string(v) != "v" {
				t.Errorf("Get after recovery = %q, %v; want v", v, found)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Get still fails 5s after Redis came back: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("recovered after %d probes", probes.Load())
}

func TestBreakerIgnoresMissesAndCallerCancellation(t *testing.T) {
	c := newClient(t)
	p := newProvider(t, c, newNamespace(t), rediscache.Options{FailureThreshold: 2})

	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	for range 10 {
		if _, _, err := p.Get(cancelled, "k"); !errors.Is(err, context.Canceled) {
			t.Fatalf("Get with a cancelled context: err = %v, want context.Canceled", err)
		}
	}
	ctx := t.Context()
	for range 10 {
		if _, found, err := p.Get(ctx, "missing"); err != nil || found {
			t.Fatalf("Get of a missing key = %v, %v; want a miss", found, err)
		}
	}
	if err := p.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatalf("Set after misses and cancellations: %v", err)
	}
}

func TestCloseIsSafeTwiceAndStopsTheProber(t *testing.T) {
	base := redisOptions(t)
	px := startProxy(t, base.Addr)
	opt := *base
	opt.Addr = px.addr()
	opt.DialerRetries = 1
	client := redis.NewClient(&opt)
	t.Cleanup(func() { _ = client.Close() }) // see TestBreakerOpensWithoutNetworkIOAndRecovers

	p := rediscache.New(client, rediscache.Options{
		Namespace:        newNamespace(t),
		FailureThreshold: 1,
		ProbeInterval:    time.Millisecond,
	})
	var probes atomic.Int64
	rediscache.WrapProbe(p, func(check func(context.Context) error) func(context.Context) error {
		return func(ctx context.Context) error {
			probes.Add(1)
			return check(ctx)
		}
	})
	px.setDown(true)
	ctx := t.Context()
	if _, _, err := p.Get(ctx, "k"); err == nil {
		t.Fatal("Get with Redis down succeeded")
	}
	if _, _, err := p.Get(ctx, "k"); !errors.Is(err, rediscache.ErrUnavailable) {
		t.Fatalf("Get with the breaker open: err = %v, want ErrUnavailable", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	// Close waited for the prober: no probe runs after it returned.
	n := probes.Load()
	px.setDown(false)
	if _, _, err := p.Get(ctx, "k"); err != nil {
		t.Fatalf("Get after Close with Redis up: %v", err)
	}
	if got := probes.Load(); got != n {
		t.Errorf("%d probes ran after Close", got-n)
	}
}
