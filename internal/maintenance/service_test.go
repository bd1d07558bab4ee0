package maintenance

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

func TestEveryChangeIsSeenByEveryCachedReadWhenItsSignalArrives(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ids := e.systems(t, "a", "b", "c")
		a, b := ids[0], ids[1]
		filters := []Filter{{}, {Status: Scheduled}, {Status: InProgress}, {Status: Completed}, {SystemID: a}, {SystemID: b}}
		e.bus.mu.Lock()
		e.bus.watch, e.bus.filters = ids, filters
		e.bus.mu.Unlock()
		w := e.window(t, "w", time.Hour, 2*time.Hour, a)
		e.run(t, e.s)
		var updateID string
		steps := []struct {
			name string
			do   func(t *testing.T)
		}{
			{"create", func(t *testing.T) { e.window(t, "other", 3*time.Hour, 4*time.Hour, a, b) }},
			{"move from a to b", func(t *testing.T) {
				must(t, second(e.s.Update(t.Context(), w.ID, WindowInput{SystemIDs: []string{b}})))
			}},
			{"retitle", func(t *testing.T) { must(t, second(e.s.Update(t.Context(), w.ID, WindowInput{Title: ptr("renamed")}))) }},
			{"post an update", func(t *testing.T) {
				u, err := e.s.AddUpdate(t.Context(), admin, w.ID, "getting ready", nil)
				updateID = u.ID
				must(t, err)
			}},
			{"edit the update", func(t *testing.T) { must(t, second(e.s.EditUpdate(t.Context(), updateID, "ready"))) }},
			{"the clock starts it", func(t *testing.T) {
				e.armed(t, t0.Add(time.Hour))
				e.clock.Set(t0.Add(time.Hour))
				e.bus.await(t, ActionStarted)
			}},
			{"delete the update", func(t *testing.T) { must(t, e.s.DeleteUpdate(t.Context(), updateID)) }},
			{"the clock ends it", func(t *testing.T) {
				e.armed(t, t0.Add(2*time.Hour))
				e.clock.Set(t0.Add(2 * time.Hour))
				e.bus.await(t, ActionCompleted)
			}},
			{"delete", func(t *testing.T) { must(t, e.s.Delete(t.Context(), w.ID)) }},
		}
		for _, st := range steps {
			for _, f := range filters {
				if _, err := e.s.List(t.Context(), f); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := e.s.ForSystems(t.Context(), ids); err != nil {
				t.Fatal(err)
			}
			if _, err := e.s.Get(t.Context(), w.ID); err != nil && !errors.Is(err, ErrNotFound) {
				t.Fatal(err)
			}
			before := len(e.bus.all())
			st.do(t)
			all := e.bus.all()
			if len(all) != before+1 {
				t.Fatalf("%s: %d signals, want 1", st.name, len(all)-before)
			}
			obs := all[len(all)-1]
			want, err := e.truth.Get(t.Context(), obs.Payload.MaintenanceID)
			switch {
			case errors.Is(err, ErrNotFound):
				if obs.Detail != nil {
					t.Errorf("%s: the deleted window was still read at its signal", st.name)
				}
			case err != nil:
				t.Fatal(err)
			case !same(obs.Detail, want):
				t.Errorf("%s: getMaintenance at the signal = %s\nwant %s", st.name, js(obs.Detail), js(want))
			}
			truth, err := e.truth.ForSystems(t.Context(), ids)
			if err != nil {
				t.Fatal(err)
			}
			for i, id := range ids {
				if !same(obs.Systems[id], truth[i]) {
					t.Errorf("%s: system %d at the signal = %s\nwant %s", st.name, i, js(obs.Systems[id]), js(truth[i]))
				}
			}
			for f, got := range obs.Lists {
				want, _ := e.truth.List(t.Context(), f)
				if !same(got, want) {
					t.Errorf("%s: List(%+v) at the signal = %s\nwant %s", st.name, f, js(got), js(want))
				}
			}
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestADeletedSystemLeavesItsWindowsAndEmptiedOnesGo(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ids := e.systems(t, "a", "b")
		a, b := ids[0], ids[1]
		both := e.window(t, "both", time.Hour, 2*time.Hour, a, b)
		onlyA := e.window(t, "only a", time.Hour, 2*time.Hour, a)
		if _, err := e.s.ForSystems(t.Context(), ids); err != nil {
			t.Fatal(err)
		}
		must(t, e.catalog.DeleteSystem(t.Context(), a))
		got, err := e.s.Get(t.Context(), both.ID)
		if err != nil || !slices.Equal(got.SystemIDs, []string{b}) {
			t.Errorf("the window on both systems: %v, %v", got.SystemIDs, err)
		}
		if _, err := e.s.Get(t.Context(), onlyA.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("the window left with no system: %v, want it deleted", err)
		}
		ws, _ := e.s.ForSystems(t.Context(), ids)
		if len(ws[0]) != 0 || len(ws[1]) != 1 {
			t.Errorf("systems after the deletion: %s", js(ws))
		}
	})
}

func TestBadWindowsAreRefusedByFieldAndChangeNothing(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		a := e.systems(t, "a")[0]
		title := "w"
		at := func(d time.Duration) *time.Time { return ptr(t0.Add(d)) }
		for _, tc := range []struct {
			in   WindowInput
			want string
		}{
			{WindowInput{Title: &title, StartAt: at(time.Hour), EndAt: at(time.Hour), SystemIDs: []string{a}}, "endAt: must be after startAt"},
			{WindowInput{Title: &title, StartAt: at(-2 * time.Hour), EndAt: at(-time.Hour), SystemIDs: []string{a}}, "endAt: must be in the future"},
			{WindowInput{Title: &title, StartAt: at(time.Hour), EndAt: at(2 * time.Hour), SystemIDs: []string{a, "ghost"}}, `systemIds[1]: no system "ghost"`},
			{WindowInput{Title: &title, StartAt: at(time.Hour), EndAt: at(2 * time.Hour), SystemIDs: []string{a},
				Recurrence: ptr(&Recurrence{Rule: "FREQ=YEARLY", Timezone: "UTC"})}, "recurrence.rule: FREQ must be"},
			{WindowInput{Title: &title, StartAt: at(time.Hour), EndAt: at(2 * time.Hour), SystemIDs: []string{a},
				Recurrence: ptr(&Recurrence{Rule: "FREQ=DAILY", Timezone: "Europe/Atlantis"})}, "recurrence.timezone: unknown time zone"},
			{WindowInput{Title: &title, StartAt: at(-48 * time.Hour), EndAt: at(-47 * time.Hour), SystemIDs: []string{a},
				Recurrence: ptr(&Recurrence{Rule: "FREQ=DAILY;COUNT=1", Timezone: "UTC"})}, "recurrence.rule: has no occurrence still to end"},
		} {
			_, err := e.s.Create(t.Context(), admin, tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Create = %v, want %q", err, tc.want)
			}
		}
		if ws, _ := e.truth.List(t.Context(), Filter{}); len(ws) != 0 {
			t.Fatalf("refused windows were stored: %s", js(ws))
		}
	})
}

func TestASystemAWindowNewlyCoversHearsOfIt(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ids := e.systems(t, "a", "b")
		a, b := ids[0], ids[1]
		w := e.window(t, "w", time.Hour, 2*time.Hour, a)
		before := len(e.notifier.titles())
		if _, err := e.s.Update(t.Context(), w.ID, WindowInput{SystemIDs: []string{a, b}}); err != nil {
			t.Fatal(err)
		}
		e.notifier.mu.Lock()
		told := slices.Clone(e.notifier.sent[before:])
		e.notifier.mu.Unlock()
		if len(told) != 1 || !slices.Equal(told[0].Systems, []string{b}) || told[0].Message.Title != "Maintenance scheduled: w" {
			t.Fatalf("adding a system told %+v, want the added system told it is scheduled", told)
		}
	})
}
