package healthcheck

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

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

// Two instances recording two runs of one check at once apply both to its
// systems' check state, one after the other: no run's count is lost, and
// the check's change is reported once, by the instance whose run made it.
func TestRunsRecordedAtOnceByTwoInstancesAreBothApplied(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var instances []*Service
		var changed atomic.Int64
		for range 2 {
			s := New(db, cache.NewMemory(cache.MemoryOptions{}), &recordingBus{}, quiet, Options{})
			s.OnCheckStatusChange(func(context.Context, CheckChange) { changed.Add(1) })
			instances = append(instances, s)
		}
		addSystem(t, db, "api")
		c := httpConfig(t, instances[0], "http://127.0.0.1:1/")
		if _, err := instances[0].Associate(ctx, "api", c.ID, true, Thresholds{DegradedAfter: 2, UnhealthyAfter: 2}); err != nil {
			t.Fatal(err)
		}
		h := db.For("test")
		const rounds = 20
		for round := range rounds {
			if _, err := h.ExecContext(ctx, `UPDATE healthcheck_associations SET status = 'healthy', consecutive_failures = 0,
				consecutive_successes = 1, recent = 'h', last_run_at = NULL WHERE system_id = ?`, "api"); err != nil {
				t.Fatal(err)
			}
			at := time.Now().UTC().Truncate(time.Microsecond)
			run := func(s *Service, n int) func() {
				return func() {
					r := Run{ID: fmt.Sprintf("r%d-%d", round, n), ConfigurationID: c.ID, Status: Unhealthy, Message: "down",
						Source: "local", StartedAt: at}
					if err := s.Process(ctx, r); err != nil {
						t.Error(err)
					}
				}
			}
			before := changed.Load()
			storetest.Together(run(instances[0], 0), run(instances[1], 1))
			var failures int
			if err := h.QueryRowContext(ctx, `SELECT consecutive_failures FROM healthcheck_associations WHERE system_id = ?`, "api").Scan(&failures); err != nil {
				t.Fatal(err)
			}
			if failures != 2 {
				t.Fatalf("round %d: %d consecutive failures after two failed runs, want 2: a run was lost", round, failures)
			}
			if n := changed.Load() - before; n != 1 {
				t.Fatalf("round %d: the check's change to unhealthy was reported %d times, want once", round, n)
			}
		}
	})
}
