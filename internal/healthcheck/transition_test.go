package healthcheck

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

// Two instances settling one system at once, after its check moved,
// announce the transition once between them: one SYSTEM_STATUS_CHANGED
// and one run of the hooks per real transition, fleet-wide.
func TestATransitionIsAnnouncedOnceAcrossInstances(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		buses := []*recordingBus{{}, {}}
		var instances []*Service
		var hooked atomic.Int64
		for _, bus := range buses {
			s := New(db, cache.NewMemory(cache.MemoryOptions{}), bus, quiet, Options{})
			s.OnStatusChange(func(context.Context, StatusChange) { hooked.Add(1) })
			instances = append(instances, s)
		}
		addSystem(t, db, "api")
		c := httpConfig(t, instances[0], "http://127.0.0.1:1/")
		if _, err := instances[0].Associate(ctx, "api", c.ID, true, Thresholds{}); err != nil {
			t.Fatal(err)
		}
		h := db.For("test")
		const rounds = 20
		for round := range rounds {
			status := Healthy
			if round%2 == 1 {
				status = Unhealthy
			}
			if _, err := h.ExecContext(ctx, `UPDATE healthcheck_associations SET status = ? WHERE system_id = ?`, string(status), "api"); err != nil {
				t.Fatal(err)
			}
			storetest.Together(
				func() { _ = instances[0].settle(ctx, []string{"api"}) },
				func() { _ = instances[1].settle(ctx, []string{"api"}) },
			)
		}
		announced := len(buses[0].changes()) + len(buses[1].changes())
		if announced != rounds {
			t.Errorf("%d transitions announced for %d real ones (%d and %d by the two instances)",
				announced, rounds, len(buses[0].changes()), len(buses[1].changes()))
		}
		if hooked.Load() != rounds {
			t.Errorf("the hooks ran %d times for %d transitions", hooked.Load(), rounds)
		}
	})
}
