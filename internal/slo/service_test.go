package slo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/checkstack/checkstack/internal/rpc"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

func TestCreatingAnObjectiveOnADownSystemOpensItsEventAtOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		e := newEnv(t, db)
		e.addSystems("checkout")
		e.clock.Advance(time.Hour)
		e.down("checkout")
		created := e.clock.Advance(10 * time.Minute)
		e.warm("checkout")

		st, err := e.svc.CreateObjective(ctx, inputFor("checkout", "Checkout is up", 99.9, 30, Strict))
		if err != nil {
			t.Fatal(err)
		}
		if !st.Status.IsDegraded {
			t.Errorf("the created objective's status is not degraded: %+v", st.Status)
		}
		e.assertEvents("created on a down system", st.Objective.ID, selfSpan("checkout", created, ongoing))
		e.assertShown("right after the creation", "checkout", []Objective{st.Objective}, true)
	})
}

func TestDeletingAnObjectiveRemovesItsEventsAndItsCachedEntries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		e := newEnv(t, db)
		e.addSystems("checkout")
		o := e.addObjective(inputFor("checkout", "Checkout is up", 99.9, 30, Strict))
		kept := e.addObjective(inputFor("checkout", "Checkout is mostly up", 99, 30, Strict))
		for _, d := range []time.Duration{time.Hour, time.Minute} {
			e.clock.Advance(d)
			e.down("checkout")
			e.clock.Advance(time.Minute)
			e.up("checkout")
		}
		if n := len(e.eventsOf(o.ID)); n != 2 {
			t.Fatalf("%d events before the deletion, want 2", n)
		}
		e.warm("checkout", o.ID, kept.ID)
		mark := e.bus.mark()

		if err := e.svc.DeleteObjective(ctx, o.ID); err != nil {
			t.Fatal(err)
		}
		e.assertEvents("the deleted objective", o.ID)
		if n := len(e.eventsOf(kept.ID)); n != 2 {
			t.Errorf("the other objective has %d events, want its 2", n)
		}
		if _, err := e.svc.Objective(ctx, o.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("Objective after the deletion: %v, want ErrNotFound", err)
		}
		if os, err := e.svc.ForSystem(ctx, "checkout"); err != nil || !slices.Equal(objectiveIDs(os), []string{kept.ID}) {
			t.Errorf("ForSystem after the deletion: %v (%v), want only %s", objectiveIDs(os), err, kept.ID)
		}
		if os, err := e.svc.List(ctx); err != nil || !slices.Equal(objectiveIDs(os), []string{kept.ID}) {
			t.Errorf("List after the deletion: %v (%v), want only %s", objectiveIDs(os), err, kept.ID)
		}
		sig := e.bus.since(mark)
		if len(sig) != 1 || sig[0].Payload != (StatusPayload{SystemID: "checkout", ObjectiveID: o.ID, Deleted: true}) {
			t.Errorf("signals %+v, want one SLO_STATUS_CHANGED with deleted", sig)
		}
		if err := e.svc.DeleteObjective(ctx, o.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleting it again: %v, want ErrNotFound", err)
		}
	})
}

func TestMovingAnObjectiveRefreshesBothSystemsCachedEntries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		e := newEnv(t, db)
		e.addSystems("checkout", "search")
		o := e.addObjective(inputFor("checkout", "Is up", 99.9, 30, Strict))
		e.warm("checkout", o.ID)
		e.warm("search")

		moved, err := e.svc.UpdateObjective(ctx, o.ID, ObjectiveInput{SystemID: ptr("search")})
		if err != nil {
			t.Fatal(err)
		}
		if moved.Objective.SystemID != "search" {
			t.Fatalf("the update returned %+v", moved.Objective)
		}
		if os, err := e.svc.ForSystem(ctx, "checkout"); err != nil || len(os) != 0 {
			t.Errorf("ForSystem(checkout) after the move: %v (%v), want none", objectiveIDs(os), err)
		}
		if os, err := e.svc.ForSystem(ctx, "search"); err != nil || !slices.Equal(objectiveIDs(os), []string{o.ID}) {
			t.Errorf("ForSystem(search) after the move: %v (%v), want %s", objectiveIDs(os), err, o.ID)
		}
		if st, err := e.svc.Objective(ctx, o.ID); err != nil || st.Objective.SystemID != "search" {
			t.Errorf("Objective after the move: on %q (%v), want search", st.Objective.SystemID, err)
		}

		e.warm("search", o.ID)
		if err := e.svc.DeleteObjective(ctx, o.ID); err != nil {
			t.Fatal(err)
		}
		if os, err := e.svc.ForSystem(ctx, "search"); err != nil || len(os) != 0 {
			t.Errorf("ForSystem(search) after the deletion: %v (%v), want none", objectiveIDs(os), err)
		}
	})
}

func TestMovingAnObjectiveClosesItsEventOnTheOldSystemAndReconcilesOnTheNew(t *testing.T) {
	for _, tc := range []struct {
		name string
		// newDown: the system it moves to is down at the move; else it
		// went down and recovered after the objective's outage began.
		newDown bool
	}{
		{"to a system that is down too", true},
		{"to a system that recovered meanwhile", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				ctx := t.Context()
				e := newEnv(t, db)
				e.addSystems("checkout", "search")
				o := e.addObjective(inputFor("checkout", "Is up", 99.9, 30, Strict))
				checkoutDown := e.clock.Advance(time.Hour)
				e.down("checkout")
				e.clock.Advance(10 * time.Minute)
				e.down("search")
				if !tc.newDown {
					e.clock.Advance(time.Minute)
					e.up("search")
				}

				movedAt := e.clock.Advance(10 * time.Minute)
				e.warm("checkout", o.ID)
				e.warm("search")
				if _, err := e.svc.UpdateObjective(ctx, o.ID, ObjectiveInput{SystemID: ptr("search")}); err != nil {
					t.Fatal(err)
				}
				want := []span{selfSpan("checkout", checkoutDown, movedAt)}
				if tc.newDown {
					want = append(want, selfSpan("search", movedAt, ongoing))
				}
				e.assertEvents("moved at +"+movedAt.Sub(clockStart).String(), o.ID, want...)
				if os, err := e.svc.ForSystem(ctx, "checkout"); err != nil || len(os) != 0 {
					t.Errorf("ForSystem(checkout) right after the move: %v (%v), want none", objectiveIDs(os), err)
				}
				moved := o
				moved.SystemID = "search"
				e.assertShown("right after the move", "search", []Objective{moved}, tc.newDown)
			})
		})
	}
}

func TestObjectiveValidationRefusesAndWritesNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		e := newEnv(t, db)
		e.addSystems("checkout", "search")
		searchCheck := e.checks["search"][0]
		checkoutCheck := e.checks["checkout"][0]
		in := inputFor("checkout", "Checkout API is up", 99.9, 30, Strict)
		in.ConfigurationID = &checkoutCheck
		existing := e.addObjective(in)
		e.clock.Advance(time.Hour)
		e.down("checkout")
		e.down("search")

		withExcluded := func(in ObjectiveInput, ids ...string) ObjectiveInput { in.ExcludedUpstreamIDs = ids; return in }
		withCheck := func(in ObjectiveInput, id string) ObjectiveInput { in.ConfigurationID = &id; return in }
		create := func(in ObjectiveInput) func() error {
			return func() error { _, err := e.svc.CreateObjective(ctx, in); return err }
		}
		update := func(in ObjectiveInput) func() error {
			return func() error { _, err := e.svc.UpdateObjective(ctx, existing.ID, in); return err }
		}
		base := inputFor("checkout", "Checkout is up", 99.9, 30, SelfOnly)
		for _, tc := range []struct {
			name   string
			do     func() error
			status int
			field  string // named in the message
		}{
			{"creating one that excludes its own system", create(withExcluded(base, "search", "checkout")),
				http.StatusBadRequest, "excludedUpstreamIds"},
			{"creating one on another system's check", create(withCheck(base, searchCheck)),
				http.StatusBadRequest, "healthCheckConfigurationId"},
			{"creating one on a check that does not exist", create(withCheck(base, "no-such-check")),
				http.StatusBadRequest, "healthCheckConfigurationId"},
			{"creating one on an unknown system", create(inputFor("ghost", "Ghost is up", 99.9, 30, Strict)),
				http.StatusNotFound, "ghost"},
			{"updating one to exclude its own system", update(ObjectiveInput{ExcludedUpstreamIDs: []string{"checkout"}}),
				http.StatusBadRequest, "excludedUpstreamIds"},
			{"moving one away from its check's system", update(ObjectiveInput{SystemID: ptr("search")}),
				http.StatusBadRequest, "healthCheckConfigurationId"},
			{"moving one to an unknown system", update(ObjectiveInput{SystemID: ptr("ghost"), ConfigurationID: ptr("")}),
				http.StatusNotFound, "ghost"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := e.rows(t)
				mark := e.bus.mark()
				err := tc.do()
				var re *rpc.Error
				if !errors.As(err, &re) || re.Status != tc.status || !strings.Contains(re.Message, tc.field) {
					t.Fatalf("error %v, want an *rpc.Error %d naming %s", err, tc.status, tc.field)
				}
				if after := e.rows(t); after != before {
					t.Errorf("the database changed:\nbefore %s\nafter  %s", before, after)
				}
				if sig := e.bus.since(mark); len(sig) != 0 {
					t.Errorf("signals %+v", sig)
				}
			})
		}
	})
}

// rows is every objective and event as stored, for comparing before and
// after a refused change.
func (e *env) rows(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	rows, err := e.test.QueryContext(t.Context(), `SELECT id, system_id, name, target, window_days, dependency_mode, excluded_upstreams,
		configuration_id, updated_at FROM slo_objectives ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, system, name, mode, excluded, check string
		var target float64
		var days int
		var updated int64
		if err := rows.Scan(&id, &system, &name, &target, &days, &mode, &excluded, &check, &updated); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %s %q %v %d %s %s %q %d; ", id, system, name, target, days, mode, excluded, check, updated)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var events int
	if err := e.test.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM slo_downtime_events`).Scan(&events); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "%d events", events)
	return b.String()
}

func TestDependencyCyclesAreRefusedAndNothingIsStored(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		e := newEnv(t, db)
		e.addBareSystems("a", "b", "c")
		for _, link := range [][2]string{{"a", "b"}, {"b", "c"}} {
			if err := e.svc.AddDependency(ctx, link[0], link[1]); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			name             string
			system, upstream string
		}{
			{"a system depending on itself", "a", "a"},
			{"a link back to the start of a chain", "c", "a"},
			{"a link back across one step", "b", "a"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if err := e.svc.AddDependency(ctx, tc.system, tc.upstream); !errors.Is(err, ErrCycle) {
					t.Fatalf("AddDependency(%s, %s) = %v, want ErrCycle", tc.system, tc.upstream, err)
				}
				if got := e.links(t); !slices.Equal(got, []string{"a→b", "b→c"}) {
					t.Fatalf("links %v, want a→b and b→c only", got)
				}
			})
		}
	})
}

// links lists the stored dependencies as "system→upstream".
func (e *env) links(t *testing.T) []string {
	t.Helper()
	rows, err := e.test.QueryContext(t.Context(), `SELECT system_id, upstream_id FROM slo_dependencies ORDER BY system_id, upstream_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var s, u string
		if err := rows.Scan(&s, &u); err != nil {
			t.Fatal(err)
		}
		out = append(out, s+"→"+u)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDependenciesAreListedBothWaysAddedOnceAndRemovedOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		e := newEnv(t, db)
		e.addBareSystems("a", "b", "c", "d")
		for _, link := range [][2]string{{"a", "b"}, {"b", "c"}, {"b", "d"}, {"a", "b"}} {
			if err := e.svc.AddDependency(ctx, link[0], link[1]); err != nil {
				t.Fatalf("AddDependency(%s, %s): %v", link[0], link[1], err)
			}
		}
		if got := e.links(t); !slices.Equal(got, []string{"a→b", "b→c", "b→d"}) {
			t.Fatalf("links %v: a link added twice is kept once", got)
		}
		deps, err := e.svc.Dependencies(ctx, "b")
		if err != nil {
			t.Fatal(err)
		}
		pairs := func(ds []Dependency) []string {
			out := []string{}
			for _, d := range ds {
				out = append(out, d.SystemID+"→"+d.UpstreamID)
			}
			return out
		}
		if up, down := pairs(deps.Upstream), pairs(deps.Downstream); !slices.Equal(up, []string{"b→c", "b→d"}) || !slices.Equal(down, []string{"a→b"}) {
			t.Fatalf("Dependencies(b): upstream %v, downstream %v; want [b→c b→d] and [a→b]", up, down)
		}
		if deps.Upstream[0].CreatedAt.IsZero() {
			t.Errorf("a dependency without its creation time: %+v", deps.Upstream[0])
		}
		if deps, err := e.svc.Dependencies(ctx, "d"); err != nil || len(deps.Upstream) != 0 || len(deps.Downstream) != 1 {
			t.Fatalf("Dependencies(d) = %+v, %v", deps, err)
		}

		if err := e.svc.RemoveDependency(ctx, "a", "b"); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.RemoveDependency(ctx, "a", "b"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("removing a link twice: %v, want ErrNotFound", err)
		}
		if err := e.svc.RemoveDependency(ctx, "c", "a"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("removing a link never added: %v, want ErrNotFound", err)
		}
		if err := e.svc.AddDependency(ctx, "a", "ghost"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("a link to an unknown system: %v, want ErrNotFound", err)
		}
		if got := e.links(t); !slices.Equal(got, []string{"b→c", "b→d"}) {
			t.Fatalf("links %v after the removal", got)
		}
	})
}

func TestTwoOppositeLinksAddedAtOnceNeverBothSucceed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		e := newEnv(t, db)
		const rounds = 25
		var systems []string
		for i := range rounds {
			systems = append(systems, fmt.Sprintf("p%02d-a", i), fmt.Sprintf("p%02d-b", i))
		}
		e.addBareSystems(systems...)
		for i := range rounds {
			a, b := systems[2*i], systems[2*i+1]
			errs := atOnce(2, func(k int) error {
				if k == 0 {
					return e.svc.AddDependency(ctx, a, b)
				}
				return e.svc.AddDependency(ctx, b, a)
			})
			ok := 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case !errors.Is(err, ErrCycle):
					t.Fatalf("round %d: %v", i, err)
				}
			}
			if ok != 1 {
				t.Fatalf("round %d: %d of the two opposite links were added (errors %v), want exactly one", i, ok, errs)
			}
		}
		if n := len(e.links(t)); n != rounds {
			t.Fatalf("%d links stored, want %d (one per pair)", n, rounds)
		}
	})
}

func TestBulkReadsReturnEachSystemsObjectivesInOrder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		e := newEnv(t, db)
		e.addBareSystems("s0", "s1", "s2", "s3", "s4")
		b := e.addObjective(inputFor("s1", "B", 99.9, 30, Strict))
		a := e.addObjective(inputFor("s1", "A", 99.9, 30, Strict))
		c := e.addObjective(inputFor("s3", "C", 99, 7, SelfOnly))
		order := []string{"s4", "s3", "s2", "s1", "s0", "s3"}
		want := [][]string{{}, {c.ID}, {}, {a.ID, b.ID}, {}, {c.ID}}

		got, err := e.svc.ForSystems(ctx, order)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%d lists for %d systems", len(got), len(order))
		}
		for i := range want {
			if !slices.Equal(objectiveIDs(got[i]), want[i]) {
				t.Errorf("ForSystems()[%d] (%s) = %v, want %v", i, order[i], objectiveIDs(got[i]), want[i])
			}
			if raw, _ := json.Marshal(got[i]); len(want[i]) == 0 && string(raw) != "[]" {
				t.Errorf("ForSystems()[%d] (%s), a system without objectives, encodes as %s, want []", i, order[i], raw)
			}
		}
		if budget := got[1][0].Status.ErrorBudget.TotalMinutes; math.Abs(budget-100.8) > 1e-9 {
			t.Errorf("a bulk read without its status: %+v", got[1][0].Status)
		}
	})
}

func TestBulkReadsShareEntriesWithSingleReads(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		e := newEnv(t, db)
		systems := []string{"s0", "s1", "s2", "s3"}
		e.addBareSystems(systems...)
		for _, s := range systems[:3] {
			e.addObjective(inputFor(s, "Up", 99.9, 30, Strict))
		}
		single := make([][]ObjectiveStatus, len(systems))
		for i, s := range systems {
			var err error
			if single[i], err = e.svc.ForSystem(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		before := db.QueryCount("slo")
		bulk, err := e.svc.ForSystems(ctx, systems)
		if err != nil {
			t.Fatal(err)
		}
		if n := db.QueryCount("slo") - before; n != 0 {
			t.Errorf("a bulk read of systems each read alone before ran %d queries, want 0", n)
		}
		for i := range systems {
			if !slices.Equal(objectiveIDs(bulk[i]), objectiveIDs(single[i])) {
				t.Errorf("%s: bulk %v, single %v", systems[i], objectiveIDs(bulk[i]), objectiveIDs(single[i]))
			}
		}

		// The other way round: a bulk read fills what single reads use.
		e.clock.Advance(time.Minute) // every entry expires
		if _, err := e.svc.ForSystems(ctx, systems); err != nil {
			t.Fatal(err)
		}
		before = db.QueryCount("slo")
		for _, s := range systems {
			if _, err := e.svc.ForSystem(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		if n := db.QueryCount("slo") - before; n != 0 {
			t.Errorf("single reads after a bulk read of the same systems ran %d queries, want 0", n)
		}
	})
}

func TestAColdBulkReadOfFiftySystemsRunsAFewQueries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		e := newEnv(t, db)
		var systems []string
		for i := range 50 {
			systems = append(systems, fmt.Sprintf("s%02d", i))
		}
		e.addBareSystems(systems...)
		for i, s := range systems {
			if i%5 != 4 {
				e.addObjective(inputFor(s, "Up", 99.9, 30, Strict))
			}
		}
		cold := e.newInstance()
		before := db.QueryCount("slo")
		got, err := cold.ForSystems(ctx, systems)
		if err != nil {
			t.Fatal(err)
		}
		if n := db.QueryCount("slo") - before; n > 3 {
			t.Errorf("a cold bulk read of 50 systems ran %d slo queries, want at most 3", n)
		}
		for i, os := range got {
			if want := map[bool]int{true: 0, false: 1}[i%5 == 4]; len(os) != want {
				t.Errorf("%s: %d objectives, want %d", systems[i], len(os), want)
			}
		}
	})
}

func TestStartSweepsAtOnceAndStopIsSafeTwice(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newUnhookedEnv(t, db)
		e.addSystems("checkout")
		o := e.addObjective(inputFor("checkout", "Checkout is up", 99.9, 30, Strict))
		e.clock.Advance(time.Hour)
		e.down("checkout") // nobody hears it: the first sweep must
		signals := e.bus.watch()

		e.svc.Start(t.Context())
		select {
		case p := <-signals:
			if p.ObjectiveID != o.ID {
				t.Fatalf("signal %+v", p)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no sweep at start")
		}
		for i := range 2 {
			if err := e.svc.Stop(context.Background()); err != nil {
				t.Fatalf("Stop %d: %v", i+1, err)
			}
		}
		if n := e.openEventsOf(o.ID); n != 1 {
			t.Fatalf("%d open events after the sweep, want 1", n)
		}

		// A stopped service does not start again.
		before := db.QueryCount("slo")
		e.svc.Start(t.Context())
		if err := e.svc.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := db.QueryCount("slo") - before; n != 0 {
			t.Fatalf("Start after Stop ran %d queries", n)
		}
	})
}

func TestStopBeforeStartIsFine(t *testing.T) {
	db := storetest.SQLite(t)
	e := newEnv(t, db)
	for i := range 2 {
		if err := e.svc.Stop(context.Background()); err != nil {
			t.Fatalf("Stop %d before any Start: %v", i+1, err)
		}
	}
	before := db.QueryCount("slo")
	e.svc.Start(t.Context())
	if err := e.svc.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := db.QueryCount("slo") - before; n != 0 {
		t.Fatalf("Start after Stop ran %d queries", n)
	}
}
