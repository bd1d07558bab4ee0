package cache

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
)

// The package doc: "Stats counts every read exactly, parallel hits
// included". Goroutines, more than there are counter cells, hit at once
// through each hit path; every hit must be counted.
func TestStatsCountEveryParallelHit(t *testing.T) {
	ctx := context.Background()
	s := newTestScope(t, NewMemory(MemoryOptions{}))
	keys := make([]string, 16)
	for i := range keys {
		keys[i] = fmt.Sprint("k", i)
		if _, err := WrapBytes(ctx, s, keys[i], func(context.Context) ([]byte, error) { return []byte("v"), nil }); err != nil {
			t.Fatal(err)
		}
	}
	before := s.Stats()
	goroutines := 4*counterCells + runtime.GOMAXPROCS(0)
	const each = 5000
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range goroutines {
		wg.Go(func() {
			<-start
			for i := range each {
				k := keys[(g+i)%len(keys)]
				if _, err := WrapBytes(ctx, s, k, nil); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	st := s.Stats()
	if got, want := st.Hits-before.Hits, uint64(goroutines*each); got != want || st.Loads != before.Loads {
		t.Fatalf("%d hits counted for %d, with %d more loads; want every hit counted", got, want, st.Loads-before.Loads)
	}
}

// Goroutines whose stacks are neighbours, a power of two from 2 KiB to
// 64 KiB apart (as the runtime allocates them), get different counter
// cells, so that two goroutines running at once on two cores do not share
// a cache line.
func TestNeighbouringStacksGetDifferentCounterCells(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 10_000 {
		sp := uintptr(r.Uint64()>>16) &^ (2<<10 - 1) // a 2 KiB-aligned stack
		off := uintptr(r.IntN(2 << 10))              // anywhere in it
		for d := uintptr(2 << 10); d <= 64<<10; d *= 2 {
			if counterCell(sp+off) == counterCell(sp+d+off) {
				t.Fatalf("stacks at %#x and %#x, %d KiB apart, share cell %d", sp, sp+d, d>>10, counterCell(sp+off))
			}
		}
	}
}
