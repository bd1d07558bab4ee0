package rediscache_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/cache/rediscache"
)

// TestThousandConcurrentMissesOnRedisShareOneLoad: with a Guard provider a
// flight leaves the single-flight table while Redis answers for it; the
// callers that miss meanwhile must still not load again (they wait for a
// successor flight, which finds the stored value).
func TestThousandConcurrentMissesOnRedisShareOneLoad(t *testing.T) {
	for round := range 3 {
		p := newProvider(t, newClient(t), newNamespace(t), rediscache.Options{OpTimeout: time.Second})
		s := cache.NewScope(p, cache.ScopeOptions{Name: "herd", DefaultTTL: time.Minute})
		var loads atomic.Int64
		start := make(chan struct{})
		var wg sync.WaitGroup
		for range 1000 {
			wg.Go(func() {
				<-start
				v, err := cache.Wrap(context.Background(), s, "k", func(context.Context) (int, error) {
					loads.Add(1)
					time.Sleep(2 * time.Millisecond) // a database query's latency
					return 7, nil
				})
				if err != nil || v != 7 {
					t.Errorf("Wrap = %d, %v", v, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if n := loads.Load(); n != 1 {
			t.Fatalf("round %d: 1,000 concurrent misses ran the loader %d times, want 1 (stats %+v)", round, n, s.Stats())
		}
	}
}
