package slo

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/checkstack/checkstack/internal/healthcheck"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

func TestASystemGoingDownOpensOneSelfEventPerObjectiveAndRecoveryClosesIt(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.addSystems("checkout", "search")
		objs := []Objective{
			e.addObjective(inputFor("checkout", "Checkout is up", 99.9, 30, Strict)),
			e.addObjective(inputFor("checkout", "Checkout is mostly up", 99, 7, SelfOnly)),
		}
		other := e.addObjective(inputFor("search", "Search is up", 99.9, 30, Strict))
		e.bus.readAtSignal(e.svc)

		// Warm every read at the instant of the change: only an
		// invalidation, not the TTL, can make them show it.
		wentDown := e.clock.Advance(time.Hour)
		e.warm("checkout", objs[0].ID, objs[1].ID)
		mark := e.bus.mark()
		e.down("checkout")
		for _, o := range objs {
			e.assertEvents(o.Name+", checkout down", o.ID, selfSpan("checkout", wentDown, ongoing))
		}
		e.assertEvents("an objective of a system still up", other.ID)
		e.assertShown("right after checkout went down", "checkout", objs, true)
		e.assertSignalled("checkout going down", mark, objs, true)

		for _, elapsed := range []time.Duration{10 * time.Minute, 25 * time.Minute} {
			e.clock.Set(wentDown.Add(elapsed))
			for _, o := range objs {
				st := e.status(e.svc, o.ID)
				if !st.IsDegraded || st.Downtime.SelfMinutes != elapsed.Minutes() || st.ErrorBudget.ConsumedMinutes != elapsed.Minutes() {
					t.Errorf("%s, %v into the outage: isDegraded %v, self downtime %v min, budget consumed %v min; want true, %v, %v",
						o.Name, elapsed, st.IsDegraded, st.Downtime.SelfMinutes, st.ErrorBudget.ConsumedMinutes, elapsed.Minutes(), elapsed.Minutes())
				}
			}
		}

		recovered := e.clock.Now()
		e.warm("checkout", objs[0].ID, objs[1].ID)
		mark = e.bus.mark()
		e.up("checkout")
		for _, o := range objs {
			e.assertEvents(o.Name+", checkout recovered", o.ID, selfSpan("checkout", wentDown, recovered))
		}
		e.assertShown("right after checkout recovered", "checkout", objs, false)
		e.assertSignalled("checkout recovering", mark, objs, false)

		e.clock.Advance(time.Hour)
		for _, o := range objs {
			if st := e.status(e.svc, o.ID); st.IsDegraded || st.Downtime.TotalMinutes != 25 {
				t.Errorf("%s an hour after recovery: isDegraded %v, downtime %v min; want false, 25", o.Name, st.IsDegraded, st.Downtime.TotalMinutes)
			}
		}
	})
}

func TestDowntimeWhileAnUpstreamIsDownIsBlamedOnItUntilItRecovers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		e := newEnv(t, db)
		e.addSystems("checkout", "payments")
		if err := e.svc.AddDependency(ctx, "checkout", "payments"); err != nil {
			t.Fatal(err)
		}
		selfOnly := e.addObjective(inputFor("checkout", "Checkout, own fault", 99.9, 30, SelfOnly))
		strict := e.addObjective(inputFor("checkout", "Checkout, any fault", 99.9, 30, Strict))
		in := inputFor("checkout", "Checkout, payments excluded", 99.9, 30, SelfOnly)
		in.ExcludedUpstreamIDs = []string{"payments"}
		excluding := e.addObjective(in)

		e.clock.Advance(time.Hour)
		e.down("payments")
		for _, o := range []Objective{selfOnly, strict, excluding} {
			e.assertEvents(o.Name+", only payments down", o.ID)
		}

		checkoutDown := e.clock.Advance(5 * time.Minute)
		e.down("checkout")
		e.assertEvents(selfOnly.Name+", both down", selfOnly.ID, upstreamSpan("checkout", "payments", checkoutDown, ongoing))
		e.assertEvents(strict.Name+", both down", strict.ID, upstreamSpan("checkout", "payments", checkoutDown, ongoing))
		e.assertEvents(excluding.Name+", both down", excluding.ID, selfSpan("checkout", checkoutDown, ongoing))

		// Payments recovers while checkout stays down: the blame splits,
		// with neither a gap nor an overlap.
		paymentsUp := e.clock.Advance(20 * time.Minute)
		e.up("payments")
		for _, o := range []Objective{selfOnly, strict} {
			e.assertEvents(o.Name+", payments recovered", o.ID,
				upstreamSpan("checkout", "payments", checkoutDown, paymentsUp), selfSpan("checkout", paymentsUp, ongoing))
		}
		e.assertEvents(excluding.Name+", payments recovered", excluding.ID, selfSpan("checkout", checkoutDown, ongoing))

		// 20 minutes blamed on payments, then 10 of checkout's own.
		e.clock.Advance(10 * time.Minute)
		for _, tc := range []struct {
			o                        Objective
			self, upstream, consumed float64
			degraded                 bool
		}{
			{selfOnly, 10, 20, 10, true},
			{strict, 10, 20, 30, true},
			{excluding, 30, 0, 30, true},
		} {
			st := e.status(e.svc, tc.o.ID)
			d := st.Downtime
			if d.TotalMinutes != 30 || d.SelfMinutes != tc.self || d.UpstreamMinutes != tc.upstream ||
				st.ErrorBudget.ConsumedMinutes != tc.consumed || st.IsDegraded != tc.degraded {
				t.Errorf("%s: downtime %v min (self %v, upstream %v), consumed %v, isDegraded %v; want 30 (%v, %v), %v, %v",
					tc.o.Name, d.TotalMinutes, d.SelfMinutes, d.UpstreamMinutes, st.ErrorBudget.ConsumedMinutes, st.IsDegraded,
					tc.self, tc.upstream, tc.consumed, tc.degraded)
			}
			if tc.upstream > 0 && (len(d.ByUpstream) != 1 || d.ByUpstream[0] != UpstreamDowntime{SystemID: "payments", Name: displayName("payments"), Minutes: 20}) {
				t.Errorf("%s: downtime by upstream %+v, want 20 min on payments", tc.o.Name, d.ByUpstream)
			}
		}
	})
}

func TestADownSystemIsReblamedWhenItsUpstreamGoesDownAfterIt(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.addSystems("checkout", "payments")
		if err := e.svc.AddDependency(t.Context(), "checkout", "payments"); err != nil {
			t.Fatal(err)
		}
		o := e.addObjective(inputFor("checkout", "Checkout is up", 99.9, 30, SelfOnly))

		checkoutDown := e.clock.Advance(time.Hour)
		e.down("checkout")
		e.assertEvents("checkout down alone", o.ID, selfSpan("checkout", checkoutDown, ongoing))
		paymentsDown := e.clock.Advance(3 * time.Minute)
		e.down("payments")
		e.assertEvents("payments down after it", o.ID,
			selfSpan("checkout", checkoutDown, paymentsDown), upstreamSpan("checkout", "payments", paymentsDown, ongoing))
		checkoutUp := e.clock.Advance(4 * time.Minute)
		e.up("checkout")
		e.assertEvents("checkout recovered before payments", o.ID,
			selfSpan("checkout", checkoutDown, paymentsDown), upstreamSpan("checkout", "payments", paymentsDown, checkoutUp))
	})
}

func TestBlameGoesToTheFirstDownUpstreamByIdAndMovesWhenItRecovers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		e := newEnv(t, db)
		e.addSystems("checkout", "zulu", "yankee")
		for _, up := range []string{"zulu", "yankee"} {
			if err := e.svc.AddDependency(ctx, "checkout", up); err != nil {
				t.Fatal(err)
			}
		}
		o := e.addObjective(inputFor("checkout", "Checkout is up", 99.9, 30, SelfOnly))

		e.clock.Advance(time.Hour)
		e.down("zulu")
		e.clock.Advance(time.Minute)
		e.down("yankee")
		checkoutDown := e.clock.Advance(time.Minute)
		e.down("checkout")
		e.assertEvents("both upstreams down", o.ID, upstreamSpan("checkout", "yankee", checkoutDown, ongoing))
		yankeeUp := e.clock.Advance(time.Minute)
		e.up("yankee")
		e.assertEvents("yankee recovered", o.ID,
			upstreamSpan("checkout", "yankee", checkoutDown, yankeeUp), upstreamSpan("checkout", "zulu", yankeeUp, ongoing))
		zuluUp := e.clock.Advance(time.Minute)
		e.up("zulu")
		e.assertEvents("zulu recovered", o.ID,
			upstreamSpan("checkout", "yankee", checkoutDown, yankeeUp), upstreamSpan("checkout", "zulu", yankeeUp, zuluUp),
			selfSpan("checkout", zuluUp, ongoing))
	})
}

func TestAddingAndRemovingALinkMovesTheBlameOfOngoingDowntime(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		e := newEnv(t, db)
		e.addSystems("checkout", "payments")
		o := e.addObjective(inputFor("checkout", "Checkout is up", 99.9, 30, SelfOnly))
		e.clock.Advance(time.Hour)
		e.down("payments")
		checkoutDown := e.clock.Advance(time.Minute)
		e.down("checkout")
		e.assertEvents("no link yet", o.ID, selfSpan("checkout", checkoutDown, ongoing))
		linked := e.clock.Advance(time.Minute)
		if err := e.svc.AddDependency(ctx, "checkout", "payments"); err != nil {
			t.Fatal(err)
		}
		e.assertEvents("link added", o.ID, selfSpan("checkout", checkoutDown, linked), upstreamSpan("checkout", "payments", linked, ongoing))
		unlinked := e.clock.Advance(time.Minute)
		if err := e.svc.RemoveDependency(ctx, "checkout", "payments"); err != nil {
			t.Fatal(err)
		}
		e.assertEvents("link removed", o.ID, selfSpan("checkout", checkoutDown, linked),
			upstreamSpan("checkout", "payments", linked, unlinked), selfSpan("checkout", unlinked, ongoing))
	})
}

func TestManyReconcilesOfOneSystemAtOnceKeepOneOpenEventPerObjective(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		e := newUnhookedEnv(t, db)
		e.addSystems("checkout")
		objs := []Objective{
			e.addObjective(inputFor("checkout", "Checkout is up", 99.9, 30, Strict)),
			e.addObjective(inputFor("checkout", "Checkout is mostly up", 99, 7, SelfOnly)),
		}
		const rounds, goroutines = 10, 16
		var want []span
		for round := range rounds {
			at := e.clock.Advance(time.Minute)
			down := round%2 == 0
			if down {
				e.down("checkout")
				want = append(want, selfSpan("checkout", at, at.Add(time.Minute)))
			} else {
				e.up("checkout")
			}
			for i, err := range atOnce(goroutines, func(int) error { return e.svc.Reconcile(ctx, "checkout") }) {
				if err != nil {
					t.Fatalf("round %d, reconcile %d: %v", round, i, err)
				}
			}
			for _, o := range objs {
				if n, w := e.openEventsOf(o.ID), map[bool]int{true: 1, false: 0}[down]; n != w {
					t.Fatalf("round %d (down: %v): %q has %d open events, want %d", round, down, o.Name, n, w)
				}
			}
		}
		for _, o := range objs {
			e.assertEvents(o.Name, o.ID, want...)
		}
	})
}

func TestTwoInstancesReconcilingAtOnceKeepOneOpenEventPerObjectiveAndNeverOverlap(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		e := newUnhookedEnv(t, db)
		e.addSystems("checkout", "payments")
		if err := e.svc.AddDependency(ctx, "checkout", "payments"); err != nil {
			t.Fatal(err)
		}
		objs := []Objective{
			e.addObjective(inputFor("checkout", "Checkout, any fault", 99.9, 30, Strict)),
			e.addObjective(inputFor("checkout", "Checkout, own fault", 99.9, 30, SelfOnly)),
		}
		instances := []*Service{e.svc, e.newInstance()}
		// One cycle: checkout down, payments down (the blame splits to it),
		// payments up (back to checkout), checkout up.
		steps := []struct {
			system string
			health healthcheck.Status
			blame  Attribution // "": no open event
		}{
			{"checkout", healthcheck.Unhealthy, Self},
			{"payments", healthcheck.Unhealthy, Upstream},
			{"payments", healthcheck.Healthy, Self},
			{"checkout", healthcheck.Healthy, ""},
		}
		const cycles, perInstance = 6, 4
		var want []span
		for cycle := range cycles {
			var at []time.Time
			for k, step := range steps {
				at = append(at, e.clock.Advance(time.Second))
				e.run(e.checks[step.system][0], step.health)
				errs := atOnce(len(instances)*perInstance, func(i int) error {
					return instances[i%len(instances)].Reconcile(ctx, "checkout")
				})
				for i, err := range errs {
					if err != nil {
						t.Fatalf("cycle %d step %d, reconcile %d: %v", cycle, k, i, err)
					}
				}
				for _, o := range objs {
					var opened []Event
					for _, ev := range e.eventsOf(o.ID) {
						if ev.Open() {
							opened = append(opened, ev)
						}
					}
					if step.blame == "" && len(opened) != 0 || step.blame != "" && (len(opened) != 1 || opened[0].Attribution != step.blame) {
						t.Fatalf("cycle %d step %d: %q has open events %+v, want one blamed on %q", cycle, k, o.Name, opened, step.blame)
					}
				}
			}
			want = append(want, selfSpan("checkout", at[0], at[1]), upstreamSpan("checkout", "payments", at[1], at[2]),
				selfSpan("checkout", at[2], at[3]))
		}
		for _, o := range objs {
			e.assertEvents(o.Name, o.ID, want...)
		}
	})
}

func TestTheDatabaseRefusesASecondOpenEventForAnObjective(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.addSystems("checkout")
		o := e.addObjective(inputFor("checkout", "Checkout is up", 99.9, 30, Strict))
		at := e.clock.Now()
		ended := at.Add(time.Minute)
		if err := e.insertEvent(Event{ID: "first", ObjectiveID: o.ID, SystemID: "checkout", StartedAt: at, Attribution: Self}); err != nil {
			t.Fatal(err)
		}
		if err := e.insertEvent(Event{ID: "closed", ObjectiveID: o.ID, SystemID: "checkout", StartedAt: at, EndedAt: &ended, Attribution: Self}); err != nil {
			t.Fatalf("a closed event beside an open one: %v", err)
		}
		err := e.insertEvent(Event{ID: "second", ObjectiveID: o.ID, SystemID: "checkout", StartedAt: at.Add(time.Second), Attribution: Self})
		if !store.IsUniqueViolation(err) {
			t.Fatalf("a second open event: %v, want a unique violation", err)
		}
		if n := e.openEventsOf(o.ID); n != 1 {
			t.Fatalf("%d open events", n)
		}
	})
}

func TestSweepClosesAnEventLeftOpenAtTheRecoveryHealthReports(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newUnhookedEnv(t, db)
		e.addSystems("checkout")
		o := e.addObjective(inputFor("checkout", "Checkout is up", 99.9, 30, Strict))

		// An instance recorded the outage, then stopped before the
		// recovery was recorded.
		wentDown := e.clock.Advance(time.Hour)
		e.down("checkout")
		if err := e.insertEvent(Event{ID: "left-open", ObjectiveID: o.ID, SystemID: "checkout", StartedAt: wentDown, Attribution: Self}); err != nil {
			t.Fatal(err)
		}
		recovered := e.clock.Advance(20 * time.Minute)
		e.up("checkout")

		e.clock.Advance(2 * time.Hour)
		if err := e.svc.Sweep(t.Context()); err != nil {
			t.Fatal(err)
		}
		e.assertEvents("after the sweep", o.ID, selfSpan("checkout", wentDown, recovered))
		if st := e.status(e.svc, o.ID); st.IsDegraded || st.Downtime.TotalMinutes != 20 {
			t.Errorf("after the sweep: isDegraded %v, downtime %v min; want false, 20", st.IsDegraded, st.Downtime.TotalMinutes)
		}
	})
}

func TestSweepOpensTheMissingEventOfAnObjectiveOnADownSystem(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newUnhookedEnv(t, db)
		e.addSystems("checkout")
		o := e.addObjective(inputFor("checkout", "Checkout is up", 99.9, 30, Strict))
		wentDown := e.clock.Advance(time.Hour)
		e.down("checkout") // nobody hears it
		e.assertEvents("before the sweep", o.ID)

		swept := e.clock.Advance(3 * time.Minute)
		mark := e.bus.mark()
		for range 2 {
			if err := e.svc.Sweep(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		evs := e.eventsOf(o.ID)
		if len(evs) != 1 || !evs[0].Open() || evs[0].Attribution != Self || evs[0].SystemID != "checkout" ||
			evs[0].StartedAt.Before(wentDown) || evs[0].StartedAt.After(swept) {
			t.Fatalf("after two sweeps: events %+v, want one open self event on checkout that began between the outage and the sweep", evs)
		}
		signalled := 0
		for _, ob := range e.bus.since(mark) {
			if ob.Payload.ObjectiveID == o.ID {
				signalled++
			}
		}
		if signalled == 0 {
			t.Fatal("the repaired objective was not signalled")
		}
	})
}

func TestACheckBasedObjectiveFollowsItsCheckNotTheSystem(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.addBareSystems("checkout")
		api := e.addCheck("checkout", "api")
		database := e.addCheck("checkout", "database")
		e.run(api, healthcheck.Healthy)
		e.run(database, healthcheck.Healthy)
		in := inputFor("checkout", "Checkout API is up", 99.9, 30, Strict)
		in.ConfigurationID = &api
		onAPI := e.addObjective(in)
		whole := e.addObjective(inputFor("checkout", "Checkout is up", 99.9, 30, Strict))

		databaseDown := e.clock.Advance(time.Hour)
		e.run(database, healthcheck.Unhealthy)
		e.assertEvents("the api check's objective, database failing", onAPI.ID)
		e.assertEvents("the system's objective, database failing", whole.ID, selfSpan("checkout", databaseDown, ongoing))

		// The system is down already: only the check's status moves.
		apiDown := e.clock.Advance(time.Minute)
		e.run(api, healthcheck.Unhealthy)
		e.assertEvents("the api check's objective, api failing", onAPI.ID, selfSpan("checkout", apiDown, ongoing))

		apiUp := e.clock.Advance(time.Minute)
		e.run(api, healthcheck.Healthy)
		e.assertEvents("the api check's objective, api recovered", onAPI.ID, selfSpan("checkout", apiDown, apiUp))
		e.assertEvents("the system's objective, api recovered", whole.ID, selfSpan("checkout", databaseDown, ongoing))

		databaseUp := e.clock.Advance(time.Minute)
		e.run(database, healthcheck.Healthy)
		e.assertEvents("the system's objective, database recovered", whole.ID, selfSpan("checkout", databaseDown, databaseUp))
		e.assertEvents("the api check's objective, database recovered", onAPI.ID, selfSpan("checkout", apiDown, apiUp))
	})
}

func TestALongOutageAlertsBreachingOnceAndRecoveredOnceTheWindowHasMovedOn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		e := newEnv(t, db)
		e.addSystems("checkout")
		// 1% of a day: the budget is 14.4 minutes.
		o := e.addObjective(inputFor("checkout", "Checkout daily", 99, 1, Strict))
		wentDown := e.clock.Advance(time.Hour)
		e.down("checkout")
		for elapsed := 5 * time.Minute; elapsed <= 30*time.Minute; elapsed += 5 * time.Minute {
			e.clock.Set(wentDown.Add(elapsed))
			if err := e.svc.Sweep(ctx); err != nil {
				t.Fatal(err)
			}
			want := 0
			if elapsed >= 15*time.Minute {
				want = 1
			}
			if got := e.alerts.count(o.ID, AlertBreaching); got != want {
				t.Fatalf("%v into the outage: %d breaching alerts, want %d (alerts %s)", elapsed, got, want, e.alerts)
			}
		}
		e.up("checkout")
		recovered := e.clock.Now()
		// The 30 minutes leave the one-day window a day after they ended;
		// the objective is back within target once less than 14.4 remain.
		for _, tc := range []struct {
			after     time.Duration
			recovered int
		}{
			{0, 0}, {6 * time.Hour, 0}, {23 * time.Hour, 0}, {24 * time.Hour, 1}, {25 * time.Hour, 1},
		} {
			e.clock.Set(recovered.Add(tc.after))
			if err := e.svc.Sweep(ctx); err != nil {
				t.Fatal(err)
			}
			if got := e.alerts.count(o.ID, AlertRecovered); got != tc.recovered {
				t.Fatalf("%v after the recovery: %d recovered alerts, want %d (alerts %s)", tc.after, got, tc.recovered, e.alerts)
			}
		}
		if b, f, s := e.alerts.count(o.ID, AlertBreaching), e.alerts.count(o.ID, AlertFastBurn), e.alerts.count(o.ID, AlertSlowBurn); b != 1 || f != 1 || s != 0 {
			t.Fatalf("alerts %s, want one breaching, one fast burn, no slow burn", e.alerts)
		}
	})
}

func TestFiveMinutesDownAlertsAFastBurnOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		e := newEnv(t, db)
		e.addSystems("checkout")
		o := e.addObjective(inputFor("checkout", "Checkout is up", 99.9, 30, Strict))
		wentDown := e.clock.Advance(time.Hour)
		e.down("checkout")
		if got := e.alerts.count(o.ID, AlertFastBurn); got != 0 {
			t.Fatalf("a fast burn alerted as the outage began: %s", e.alerts)
		}
		e.clock.Set(wentDown.Add(5 * time.Minute))
		for sweep := range 3 {
			if err := e.svc.Sweep(ctx); err != nil {
				t.Fatal(err)
			}
			if f, b := e.alerts.count(o.ID, AlertFastBurn), e.alerts.count(o.ID, AlertBreaching); f != 1 || b != 0 {
				t.Fatalf("sweep %d: alerts %s, want one fast burn and no breach (5 of 43.2 minutes spent)", sweep+1, e.alerts)
			}
			e.clock.Advance(time.Minute)
		}
	})
}

func TestTwoInstancesSweepingAtOnceTellEachAlertOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		e := newEnv(t, db)
		e.addSystems("checkout")
		// Many objectives: each instance reads their alert states at once,
		// then moves them one by one, so the two sweeps' moves interleave.
		var objs []Objective
		for i := range 40 {
			objs = append(objs, e.addObjective(inputFor("checkout", fmt.Sprintf("Checkout daily %02d", i), 99, 1, Strict)))
		}
		// Both read health through meet, so that their sweeps go on
		// together from each health read and evaluate alerts at once.
		meet := &meeting{HealthReader: e.health}
		instances := []*Service{e.newInstanceReading(meet), e.newInstanceReading(meet)}
		sweepBoth := func(when string) {
			t.Helper()
			meet.arm(true)
			defer meet.arm(false)
			for i, err := range atOnce(len(instances), func(i int) error { return instances[i].Sweep(ctx) }) {
				if err != nil {
					t.Fatalf("%s, instance %d: %v", when, i, err)
				}
			}
		}
		assertTold := func(when string, kind AlertKind, want int) {
			t.Helper()
			for _, o := range objs {
				if got := e.alerts.count(o.ID, kind); got != want {
					t.Fatalf("%s: %q got %d %s alerts, want %d (alerts %s)", when, o.Name, got, kind, want, e.alerts)
				}
			}
		}

		wentDown := e.clock.Advance(time.Hour)
		e.down("checkout")
		e.clock.Set(wentDown.Add(20 * time.Minute))
		for round := range 2 {
			sweepBoth(fmt.Sprintf("20 minutes down, sweep %d", round+1))
			assertTold("20 minutes down", AlertBreaching, 1)
			assertTold("20 minutes down", AlertFastBurn, 1)
		}
		e.up("checkout")
		e.clock.Advance(25 * time.Hour)
		for round := range 2 {
			sweepBoth(fmt.Sprintf("a day after the recovery, sweep %d", round+1))
			assertTold("a day after the recovery", AlertRecovered, 1)
		}
	})
}

func TestDeletingAnUpstreamSystemMovesTheBlameBackAndDropsItsObjectives(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		e := newEnv(t, db)
		e.addSystems("checkout", "payments")
		if err := e.svc.AddDependency(ctx, "checkout", "payments"); err != nil {
			t.Fatal(err)
		}
		onCheckout := e.addObjective(inputFor("checkout", "Checkout is up", 99.9, 30, SelfOnly))
		onPayments := e.addObjective(inputFor("payments", "Payments is up", 99.9, 30, Strict))
		e.clock.Advance(time.Hour)
		e.down("payments")
		checkoutDown := e.clock.Advance(5 * time.Minute)
		e.down("checkout")
		e.assertEvents("both down", onCheckout.ID, upstreamSpan("checkout", "payments", checkoutDown, ongoing))

		deleted := e.clock.Advance(10 * time.Minute)
		e.warm("payments", onPayments.ID)
		if _, err := e.test.ExecContext(ctx, `DELETE FROM catalog_systems WHERE id = ?`, "payments"); err != nil {
			t.Fatal(err)
		}
		e.health.SystemDeleted(ctx, "payments")
		e.svc.SystemDeleted(ctx, "payments")

		e.assertEvents("payments deleted", onCheckout.ID,
			upstreamSpan("checkout", "payments", checkoutDown, deleted), selfSpan("checkout", deleted, ongoing))
		if _, err := e.svc.Objective(ctx, onPayments.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("Objective of the deleted system's objective: %v, want ErrNotFound", err)
		}
		if os, err := e.svc.ForSystem(ctx, "payments"); err != nil || len(os) != 0 {
			t.Errorf("ForSystem(payments) after its deletion: %v objectives (%v), want none", objectiveIDs(os), err)
		}
		list, err := e.svc.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := find(list, onPayments.ID); ok {
			t.Errorf("List still has the deleted system's objective")
		}
		e.assertEvents("the deleted system's objective", onPayments.ID)
	})
}
