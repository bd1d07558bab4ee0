package cachetest_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/cache/cachetest"
)

// mapProvider is the smallest provider that passes the suite: a map under a
// mutex, with a clock, and an unbounded invalidation log for the guard.
type mapProvider struct {
	now func() time.Time

	mu   sync.Mutex
	m    map[string]mapEntry
	log  []invalidation // log[i] has sequence number i+1
	seen uint64
}

type mapEntry struct {
	value   []byte
	expires time.Time // zero: never
}

type invalidation struct {
	target string
	prefix bool
}

var (
	_ cache.Provider    = (*mapProvider)(nil)
	_ cache.BatchGetter = (*mapProvider)(nil)
	_ cache.Guard       = (*mapProvider)(nil)
)

func newMapProvider(now func() time.Time) *mapProvider {
	return &mapProvider{now: now, m: map[string]mapEntry{}}
}

// live returns key's entry if it has not expired. p.mu must be held.
func (p *mapProvider) live(key string) (mapEntry, bool) {
	e, ok := p.m[key]
	if !ok || (!e.expires.IsZero() && !p.now().Before(e.expires)) {
		return mapEntry{}, false
	}
	return e, true
}

func (p *mapProvider) Get(_ context.Context, key string) ([]byte, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.live(key)
	return e.value, ok, nil
}

func (p *mapProvider) GetMany(_ context.Context, keys []string) ([][]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([][]byte, len(keys))
	for i, k := range keys {
		if e, ok := p.live(k); ok {
			out[i] = e.value
		}
	}
	return out, nil
}

func (p *mapProvider) Has(_ context.Context, key string) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.live(key)
	return ok, nil
}

// set stores one entry. p.mu must be held.
func (p *mapProvider) set(key string, value []byte, ttl time.Duration) {
	e := mapEntry{value: append([]byte{}, value...)}
	if ttl > 0 {
		e.expires = p.now().Add(ttl)
	}
	p.m[key] = e
}

func (p *mapProvider) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.set(key, value, ttl)
	return nil
}

func (p *mapProvider) Delete(_ context.Context, key string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.log = append(p.log, invalidation{target: key})
	delete(p.m, key)
	return nil
}

func (p *mapProvider) DeleteByPrefix(_ context.Context, prefix string) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.log = append(p.log, invalidation{target: prefix, prefix: true})
	n := 0
	for k := range p.m {
		if strings.HasPrefix(k, prefix) {
			if _, ok := p.live(k); ok {
				n++
			}
			delete(p.m, k)
		}
	}
	return n, nil
}

func (p *mapProvider) Token(context.Context) (uint64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return uint64(len(p.log)), nil
}

func (p *mapProvider) SetGuarded(_ context.Context, token uint64, entries []cache.Entry) ([]int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var dropped []int
	for i, e := range entries {
		covered := false
		for _, inv := range p.log[token:] {
			if inv.target == e.Key || inv.prefix && strings.HasPrefix(e.Key, inv.target) {
				covered = true
				break
			}
		}
		if covered {
			dropped = append(dropped, i)
			continue
		}
		p.set(e.Key, e.Value, e.TTL)
	}
	return dropped, nil
}

// clock is a clock the test drives.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestRunWithDrivenClock(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	cachetest.Run(t, func(t *testing.T) cache.Provider {
		return newMapProvider(c.Now)
	}, cachetest.Options{Advance: c.Advance})
}

func TestRunInRealTime(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) cache.Provider {
		return newMapProvider(time.Now)
	}, cachetest.Options{})
}

// nullProvider retains nothing; the suite must skip what needs a stored
// value and pass the rest.
type nullProvider struct{}

func (nullProvider) Get(context.Context, string) ([]byte, bool, error)        { return nil, false, nil }
func (nullProvider) Set(context.Context, string, []byte, time.Duration) error { return nil }
func (nullProvider) Delete(context.Context, string) error                     { return nil }
func (nullProvider) DeleteByPrefix(context.Context, string) (int, error)      { return 0, nil }
func (nullProvider) Has(context.Context, string) (bool, error)                { return false, nil }

func TestRunOnAProviderThatRetainsNothing(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) cache.Provider { return nullProvider{} }, cachetest.Options{})
}

// The providers of package cache go through the suite too.

func TestMemory(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	cachetest.Run(t, func(t *testing.T) cache.Provider {
		return cache.NewMemory(cache.MemoryOptions{Now: c.Now})
	}, cachetest.Options{Advance: c.Advance})
}

func TestNull(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) cache.Provider { return cache.NewNull() }, cachetest.Options{})
}
