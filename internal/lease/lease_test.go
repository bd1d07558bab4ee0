package lease

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

func TestOfManyInstancesAskingAtOnceOneTakesTheLease(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
		for round := range 5 {
			at := now.Add(time.Duration(round) * time.Hour)
			var taken atomic.Int32
			var wg sync.WaitGroup
			for i := range 8 {
				l := New(db, "job", string(rune('a'+i)))
				wg.Go(func() {
					ok, err := l.Take(context.Background(), at, time.Hour)
					if err != nil {
						t.Error(err)
					}
					if ok {
						taken.Add(1)
					}
				})
			}
			wg.Wait()
			if n := taken.Load(); n != 1 {
				t.Fatalf("round %d: %d of 8 instances took the lease, want 1", round, n)
			}
		}
	})
}

func TestALeaseIsFreeOnlyOnceItsTimeHasPassed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
		a, b := New(db, "job", "a"), New(db, "job", "b")
		take := func(l *Lease, at time.Time) bool {
			t.Helper()
			ok, err := l.Take(t.Context(), at, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if !take(a, now) {
			t.Fatal("a could not take a lease nobody held")
		}
		if take(b, now.Add(59*time.Minute)) {
			t.Fatal("b took a's lease before it ended")
		}
		if take(a, now.Add(30*time.Minute)) {
			t.Fatal("a took its own lease again before it ended: its job would run twice in the period")
		}
		if !take(b, now.Add(90*time.Minute)) {
			t.Fatal("b could not take the lease once a's time had passed")
		}
		if other := New(db, "other", "a"); !take(other, now) {
			t.Fatal("a lease of another name was not free")
		}
	})
}
