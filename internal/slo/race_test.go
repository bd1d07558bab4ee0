package slo

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/healthcheck"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

// gate is a HealthReader that holds the n-th BulkHealth call (1-based)
// until release is closed, after signalling entered.
type gate struct {
	HealthReader
	n       int32
	calls   atomic.Int32
	entered chan struct{}
	release chan struct{}
}

func (g *gate) BulkHealth(ctx context.Context, ids []string) ([]healthcheck.SystemStatus, error) {
	if g.calls.Add(1) == g.n {
		close(g.entered)
		<-g.release
	}
	return g.HealthReader.BulkHealth(ctx, ids)
}

// Instance A computes its statuses (at +14 min: not breaching yet), then is
// slow for a moment before it evaluates. Meanwhile instance B sweeps at +20
// min and announces the breach. A's older status must not move the state
// back (a false recovery, then the breach announced a second time).
func TestAStatusOlderThanTheAlertStateNeverMovesItBack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		e := newEnv(t, db)
		e.addSystems("checkout")
		// 1% of a day: the budget is 14.4 minutes.
		o := e.addObjective(inputFor("checkout", "Checkout daily", 99, 1, Strict))
		wentDown := e.clock.Advance(time.Hour)
		e.down("checkout")

		// Sweep's 2nd health read is the one in withStatus, after it took now.
		g := &gate{HealthReader: e.health, n: 2, entered: make(chan struct{}), release: make(chan struct{})}
		a := e.newInstanceReading(g)
		b := e.newInstance()

		e.clock.Set(wentDown.Add(14 * time.Minute)) // 14 of 14.4 minutes spent
		done := make(chan error, 1)
		go func() { done <- a.Sweep(ctx) }()
		<-g.entered // A holds its status computed at +14 min

		e.clock.Set(wentDown.Add(20 * time.Minute)) // now breaching
		if err := b.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		close(g.release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if err := b.Sweep(ctx); err != nil { // still +20 min, still breaching
			t.Fatal(err)
		}
		br, rec := e.alerts.count(o.ID, AlertBreaching), e.alerts.count(o.ID, AlertRecovered)
		if br != 1 || rec != 0 {
			t.Fatalf("one continuous outage: %d breaching and %d recovered alerts, want 1 and 0 (alerts %s)", br, rec, e.alerts)
		}
	})
}

// Two updates of one objective race: U2 reads it on a, U1 moves it to b
// (and a client caches b), then U2 moves it on to c. U2 must invalidate b,
// the system it really moved the objective from, or b's cached entry lists
// it after U2's signal.
func TestTwoMovesAtOnceLeaveNoSystemEntryStale(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		e := newUnhookedEnv(t, db)
		e.addSystems("a", "b", "c")
		cfgC := e.checks["c"][0]
		g := &gate{HealthReader: e.health, n: -1, entered: make(chan struct{}), release: make(chan struct{})}
		svc := e.instanceOn(cache.NewMemory(cache.MemoryOptions{Now: e.clock.Now}), g)
		created, err := svc.CreateObjective(ctx, inputFor("a", "Moving", 99.9, 30, Strict))
		if err != nil {
			t.Fatal(err)
		}
		id := created.Objective.ID
		g.n = g.calls.Load() + 1 // U2's validation read

		done := make(chan error, 1)
		go func() { // U2: to c, on c's check (its validation reads health: held there)
			_, err := svc.UpdateObjective(ctx, id, ObjectiveInput{SystemID: ptr("c"), ConfigurationID: &cfgC})
			done <- err
		}()
		<-g.entered
		if _, err := svc.UpdateObjective(ctx, id, ObjectiveInput{SystemID: ptr("b")}); err != nil { // U1
			t.Fatal(err)
		}
		if os, _ := svc.ForSystem(ctx, "b"); len(os) != 1 { // a client refetching b after U1's signal
			t.Fatalf("b after U1: %d objectives", len(os))
		}
		close(g.release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		os, err := svc.ForSystem(ctx, "b") // after U2's signal, same instant (no TTL expiry)
		if err != nil {
			t.Fatal(err)
		}
		if len(os) != 0 {
			t.Fatalf("after the objective moved on to c, ForSystem(b) still lists %v", objectiveIDs(os))
		}
	})
}

// Instance 1 reconciles system a, having read a's objectives (o still on a),
// and is slow for a moment. Instance 2 moves o to b, which is down, and opens
// its event there. Instance 1 must not close that event from its stale
// read: b is down and o on b keeps one open event.
func TestAReconcileReadingObjectivesBeforeAMoveLeavesTheMovedEventOpen(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		e := newUnhookedEnv(t, db)
		e.addSystems("a", "b")
		o := e.addObjective(inputFor("a", "Moving", 99.9, 30, Strict))
		e.clock.Advance(time.Minute)
		e.down("b") // unhooked

		g := &gate{HealthReader: e.health, n: 1, entered: make(chan struct{}), release: make(chan struct{})}
		inst1 := e.newInstanceReading(g)
		done := make(chan error, 1)
		go func() { done <- inst1.Reconcile(ctx, "a") }()
		<-g.entered // objectives of a read: [o]

		moved := e.clock.Advance(time.Second)
		if _, err := e.svc.UpdateObjective(ctx, o.ID, ObjectiveInput{SystemID: ptr("b")}); err != nil {
			t.Fatal(err)
		}
		e.assertEvents("moved to b (down)", o.ID, selfSpan("b", moved, ongoing))
		e.clock.Advance(time.Second)
		close(g.release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if n := e.openEventsOf(o.ID); n != 1 {
			t.Fatalf("b is down, o is on b, but o has %d open events: %v", n, e.eventsOf(o.ID))
		}
	})
}
