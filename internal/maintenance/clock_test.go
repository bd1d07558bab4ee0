package maintenance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

func TestAWindowStartsAndEndsAtItsInstants(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ids := e.systems(t, "api", "db")
		api := ids[0]
		e.bus.mu.Lock()
		e.bus.watch = ids
		e.bus.mu.Unlock()
		d := e.window(t, "Database upgrade", time.Hour, 2*time.Hour, ids...)
		if d.Status != Scheduled {
			t.Fatalf("a new window is %s", d.Status)
		}
		e.run(t, e.s)
		e.armed(t, t0.Add(time.Hour))

		// A second early: nothing moves.
		e.clock.Set(t0.Add(time.Hour - time.Second))
		e.armed(t, t0.Add(time.Hour))
		if got := e.get(t, d.ID).Status; got != Scheduled {
			t.Fatalf("a second before its start the window is %s", got)
		}

		e.clock.Set(t0.Add(time.Hour))
		p := e.bus.await(t, ActionStarted)
		if !slices.Equal(p.SystemIDs, d.SystemIDs) {
			t.Errorf("started names %v, want %v", p.SystemIDs, d.SystemIDs)
		}
		obs := e.bus.all()[len(e.bus.all())-1]
		if obs.Detail == nil || obs.Detail.Status != InProgress || !obs.Under[api] || len(obs.Systems[api]) != 1 ||
			obs.Systems[api][0].Status != InProgress {
			t.Fatalf("reads at the started signal: %s", js(obs))
		}
		if ps := e.periods(t, api); len(ps) != 1 || !ps[0].StartedAt.Equal(t0.Add(time.Hour)) || ps[0].EndedAt != nil {
			t.Fatalf("periods while in progress: %s", js(ps))
		}
		if e.live.count() != 1 {
			t.Errorf("%d live changes at the start, want 1", e.live.count())
		}

		e.armed(t, t0.Add(2*time.Hour))
		e.clock.Set(t0.Add(2 * time.Hour))
		e.bus.await(t, ActionCompleted)
		got := e.get(t, d.ID)
		if got.Status != Completed || !got.EndAt.Equal(t0.Add(2*time.Hour)) {
			t.Fatalf("after its end: %s", js(got.Window))
		}
		if under, _ := e.s.UnderMaintenance(t.Context(), []string{api}); under[api] {
			t.Error("still under maintenance after the end")
		}
		if ps := e.periods(t, api); len(ps) != 1 || ps[0].EndedAt == nil || !ps[0].EndedAt.Equal(t0.Add(2*time.Hour)) {
			t.Fatalf("periods after the end: %s", js(ps))
		}
		want := []string{"Maintenance scheduled: Database upgrade", "Maintenance started: Database upgrade", "Maintenance completed: Database upgrade"}
		if got := e.notifier.titlesOnce(t, len(want)); !slices.Equal(got, want) {
			t.Errorf("notifications %q, want %q", got, want)
		}
		var statuses []string
		for _, u := range got.Updates {
			statuses = append(statuses, u.StatusChange+"/"+u.CreatedByName)
		}
		if !slices.Equal(statuses, []string{"completed/Checkstack", "in_progress/Checkstack", "scheduled/Ada"}) {
			t.Errorf("timeline %v", statuses)
		}
	})
}

func TestWhatWasMissedWhileNoServerRanIsCaughtUpAtStart(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		sys := e.systems(t, "api")
		over := e.window(t, "over", time.Hour, 2*time.Hour, sys...)
		going := e.window(t, "going", time.Hour, 5*time.Hour, sys...)
		daily := time.Date(2026, 12, 5, 2, 0, 0, 0, time.UTC)
		title := "nightly"
		rec := &Recurrence{Rule: "FREQ=DAILY", Timezone: "UTC"}
		end := daily.Add(time.Hour)
		nightly, err := e.s.Create(t.Context(), admin, WindowInput{Title: &title, StartAt: &daily, EndAt: &end, SystemIDs: sys, Recurrence: &rec})
		if err != nil {
			t.Fatal(err)
		}
		// No clock ran; now "over" has ended and "going" is under way.
		e.clock.Set(t0.Add(3 * time.Hour))
		e.run(t, e.s)
		e.bus.awaitAll(t, ActionCompleted, ActionStarted)
		if got := e.get(t, over.ID); got.Status != Completed {
			t.Errorf("a window that ended while no server ran is %s", got.Status)
		}
		if got := e.get(t, going.ID); got.Status != InProgress {
			t.Errorf("a window going on at start is %s", got.Status)
		}
		// Three days on, the nightly window has missed three occurrences.
		e.clock.Set(time.Date(2026, 12, 8, 12, 0, 0, 0, time.UTC))
		e.bus.await(t, ActionCompleted) // "going" ends
		got := e.get(t, nightly.ID)
		for got.Status != Scheduled || !got.StartAt.Equal(time.Date(2026, 12, 9, 2, 0, 0, 0, time.UTC)) {
			e.bus.await(t, ActionCompleted)
			got = e.get(t, nightly.ID)
		}
		var nightlyPeriods int
		for _, p := range e.periods(t, sys[0]) {
			if p.StartedAt.Hour() == 2 && p.EndedAt != nil && p.EndedAt.Sub(p.StartedAt) == time.Hour {
				nightlyPeriods++
			}
		}
		if nightlyPeriods != 4 {
			t.Errorf("the nightly window recorded %d missed periods, want 4 (5 to 8 December)", nightlyPeriods)
		}
	})
}

func TestARecurringWindowMovesToItsNextOccurrenceUntilItsLast(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		sys := e.systems(t, "api")
		// Saturdays 01:00–02:00 UTC, twice; created on Friday 4 December
		// with a start on that Friday: the rule's first Saturday is the 5th.
		start, end := t0.Add(-11*time.Hour), t0.Add(-10*time.Hour)
		rec := &Recurrence{Rule: "FREQ=WEEKLY;BYDAY=SA;COUNT=2", Timezone: "UTC"}
		title := "backups"
		d, err := e.s.Create(t.Context(), admin, WindowInput{Title: &title, StartAt: &start, EndAt: &end, SystemIDs: sys, Recurrence: &rec})
		if err != nil {
			t.Fatal(err)
		}
		first := time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC)
		if !d.StartAt.Equal(first) || !d.EndAt.Equal(first.Add(time.Hour)) || d.Recurrence == nil || d.Recurrence.Rule != rec.Rule {
			t.Fatalf("the window shows %s, want its first occurrence %v", js(d.Window), first)
		}
		e.run(t, e.s)
		e.armed(t, first)
		e.clock.Set(first)
		e.bus.await(t, ActionStarted)
		e.armed(t, first.Add(time.Hour))
		e.clock.Set(first.Add(time.Hour))
		e.bus.await(t, ActionCompleted)
		got := e.get(t, d.ID)
		second := first.Add(7 * 24 * time.Hour)
		if got.Status != Scheduled || !got.StartAt.Equal(second) || !got.EndAt.Equal(second.Add(time.Hour)) {
			t.Fatalf("after the first occurrence: %s, want scheduled for %v", js(got.Window), second)
		}
		e.armed(t, second)
		e.clock.Set(second)
		e.bus.await(t, ActionStarted)
		e.armed(t, second.Add(time.Hour))
		e.clock.Set(second.Add(time.Hour))
		e.bus.await(t, ActionCompleted)
		if got := e.get(t, d.ID); got.Status != Completed || !got.StartAt.Equal(second) {
			t.Fatalf("after the last occurrence: %s", js(got.Window))
		}
		if ps := e.periods(t, sys[0]); len(ps) != 2 {
			t.Fatalf("%d periods, want one per occurrence", len(ps))
		}
	})
}

func TestSeveralInstancesMoveAWindowOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		sys := e.systems(t, "api")
		d := e.window(t, "w", time.Hour, 2*time.Hour, sys...)
		var buses []*recordingBus
		for range 3 {
			s, bus := e.service(t, cache.NewMemory(cache.MemoryOptions{}))
			buses = append(buses, bus)
			e.run(t, s)
		}
		deadline := time.Now().Add(waitFor)
		for e.clock.Waiting() < 3 {
			if time.Now().After(deadline) {
				t.Fatal("the three clocks never waited")
			}
			time.Sleep(time.Millisecond)
		}
		e.clock.Set(t0.Add(time.Hour))
		waitUntil(t, func() bool { return e.get(t, d.ID).Status == InProgress })
		e.clock.Set(t0.Add(2 * time.Hour))
		waitUntil(t, func() bool { return e.get(t, d.ID).Status == Completed })
		count := func() map[string]int {
			counts := map[string]int{}
			for _, b := range buses {
				for _, s := range b.all() {
					counts[s.Payload.Action]++
				}
			}
			return counts
		}
		// The completion is committed before its signal goes: wait for the
		// signal, then for every instance to have fired and found nothing
		// more to do (its alarm waits again, for its fallback), then count.
		waitUntil(t, func() bool { return count()[ActionCompleted] >= 1 })
		waitUntil(t, func() bool { return e.clock.Waiting() >= 3 })
		counts := count()
		if counts[ActionStarted] != 1 || counts[ActionCompleted] != 1 {
			t.Fatalf("signals across three instances: %v, want one started and one completed", counts)
		}
		titles := e.notifier.titles()
		if len(titles) != 3 { // scheduled, started, completed
			t.Fatalf("notifications across three instances: %q", titles)
		}
		if ps := e.periods(t, sys[0]); len(ps) != 1 {
			t.Fatalf("%d periods, want 1", len(ps))
		}
		updates := e.get(t, d.ID).Updates
		if len(updates) != 3 {
			t.Fatalf("%d timeline entries, want 3 (scheduled, started, completed)", len(updates))
		}
	})
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("the condition never held")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestAdminsStartCloseAndCancelWindows(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		sys := e.systems(t, "api")
		early := e.window(t, "early", time.Hour, 3*time.Hour, sys...)
		e.clock.Set(t0.Add(10 * time.Minute))
		if _, err := e.s.AddUpdate(t.Context(), admin, early.ID, "starting early", ptr(InProgress)); err != nil {
			t.Fatal(err)
		}
		got := e.get(t, early.ID)
		if got.Status != InProgress || !got.StartAt.Equal(t0.Add(time.Hour)) || got.StartedAt == nil || !got.StartedAt.Equal(t0.Add(10*time.Minute)) {
			t.Fatalf("started early: %s, want the planned start kept and startedAt 12:10", js(got.Window))
		}
		if _, err := e.s.Update(t.Context(), early.ID, WindowInput{StartAt: ptr(t0.Add(2 * time.Hour))}); !isStatus(err, 400) {
			t.Fatalf("moving the start of a window in progress = %v, want 400", err)
		}
		e.clock.Set(t0.Add(20 * time.Minute))
		closed, err := e.s.Close(t.Context(), admin, early.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		if closed.Status != Completed || !closed.EndAt.Equal(t0.Add(3*time.Hour)) || closed.EndedAt == nil ||
			!closed.EndedAt.Equal(t0.Add(20*time.Minute)) || closed.Updates[0].Message != "Maintenance completed early" {
			t.Fatalf("closed: %s", js(closed))
		}
		if ps := e.periods(t, sys[0]); len(ps) != 1 || !ps[0].StartedAt.Equal(t0.Add(10*time.Minute)) || !ps[0].EndedAt.Equal(t0.Add(20*time.Minute)) {
			t.Fatalf("the period of a window started and closed early: %s", js(ps))
		}
		for name, err := range map[string]error{
			"closing a completed window":         second(e.s.Close(t.Context(), admin, early.ID, nil)),
			"cancelling a completed window":      second(e.s.Cancel(t.Context(), admin, early.ID, nil)),
			"moving the times of a finished one": second(e.s.Update(t.Context(), early.ID, WindowInput{EndAt: ptr(t0.Add(5 * time.Hour))})),
		} {
			if !isStatus(err, 409) {
				t.Errorf("%s = %v, want 409", name, err)
			}
		}
		if _, err := e.s.Update(t.Context(), early.ID, WindowInput{Title: ptr("early (done)")}); err != nil {
			t.Errorf("renaming a completed window: %v", err)
		}

		later := e.window(t, "later", 5*time.Hour, 6*time.Hour, sys...)
		for name, err := range map[string]error{
			"closing a scheduled window": second(e.s.Close(t.Context(), admin, later.ID, nil)),
			"moving back to scheduled":   second(e.s.AddUpdate(t.Context(), admin, later.ID, "x", ptr(Completed))),
			"an end before the start":    second(e.s.Update(t.Context(), later.ID, WindowInput{EndAt: ptr(t0.Add(4 * time.Hour))})),
			"an end in the past":         second(e.s.Update(t.Context(), later.ID, WindowInput{StartAt: ptr(t0.Add(-2 * time.Hour)), EndAt: ptr(t0.Add(-time.Hour))})),
			"an unknown recurrence zone": second(e.s.Update(t.Context(), later.ID, WindowInput{Recurrence: ptr(&Recurrence{Rule: "FREQ=DAILY", Timezone: "Nowhere/Special"})})),
		} {
			if !isStatus(err, 409) && !isStatus(err, 400) {
				t.Errorf("%s = %v, want refused", name, err)
			}
		}
		if got := e.get(t, later.ID); got.Status != Scheduled || !got.StartAt.Equal(t0.Add(5*time.Hour)) || got.Recurrence != nil {
			t.Fatalf("refused changes changed the window: %s", js(got.Window))
		}
		cancelled, err := e.s.Cancel(t.Context(), admin, later.ID, ptr("not needed"))
		if err != nil || cancelled.Status != Cancelled || cancelled.Updates[0].Message != "not needed" {
			t.Fatalf("cancel: %s, %v", js(cancelled), err)
		}
		want := []string{"Maintenance scheduled: early", "Maintenance started: early", "Maintenance completed: early",
			"Maintenance scheduled: later", "Maintenance cancelled: later"}
		if got := e.notifier.titlesOnce(t, len(want)); !slices.Equal(got, want) {
			t.Errorf("notifications %q, want %q", got, want)
		}
	})
}

func second[T any](_ T, err error) error { return err }

func TestTheLiveHookHearsOfWhatMovesMaintenanceState(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ids := e.systems(t, "a", "b")
		a, b := ids[0], ids[1]
		w := e.window(t, "w", time.Hour, 2*time.Hour, a)
		steps := []struct {
			name string
			do   func() error
			want []string // nil: no call
		}{
			{"editing a scheduled window", func() error {
				return second(e.s.Update(t.Context(), w.ID, WindowInput{Title: ptr("x"), SystemIDs: []string{b}}))
			}, nil},
			{"starting it", func() error { return second(e.s.AddUpdate(t.Context(), admin, w.ID, "go", ptr(InProgress))) }, []string{b}},
			{"moving it while in progress", func() error { return second(e.s.Update(t.Context(), w.ID, WindowInput{SystemIDs: []string{a}})) }, []string{a, b}},
			{"closing it", func() error { return second(e.s.Close(t.Context(), admin, w.ID, nil)) }, []string{a}},
			{"renaming it when done", func() error { return second(e.s.Update(t.Context(), w.ID, WindowInput{Title: ptr("y")})) }, nil},
			{"deleting a window that ran", func() error { return e.s.Delete(t.Context(), w.ID) }, []string{a}},
		}
		for _, st := range steps {
			before := e.live.count()
			if err := st.do(); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			e.live.mu.Lock()
			calls := slices.Clone(e.live.calls[before:])
			e.live.mu.Unlock()
			switch {
			case st.want == nil && len(calls) != 0:
				t.Errorf("%s: live change %v, want none", st.name, calls)
			case st.want != nil && (len(calls) != 1 || !slices.Equal(calls[0], sortedIDs(st.want...))):
				t.Errorf("%s: live changes %v, want one for %v", st.name, calls, sortedIDs(st.want...))
			}
		}
	})
}

func sortedIDs(ids ...string) []string { return slices.Sorted(slices.Values(ids)) }

func TestTwoEditsOfAWindowAtOnceAreBothKept(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		sys := e.systems(t, "a")
		for round := range 20 {
			w := e.window(t, "w", time.Hour, 2*time.Hour, sys...)
			var wg sync.WaitGroup
			start := make(chan struct{})
			newEnd := t0.Add(3 * time.Hour)
			wg.Go(func() {
				<-start
				if _, err := e.s.Update(context.Background(), w.ID, WindowInput{Title: ptr("renamed")}); err != nil {
					t.Error(err)
				}
			})
			wg.Go(func() {
				<-start
				if _, err := e.s.Update(context.Background(), w.ID, WindowInput{EndAt: &newEnd}); err != nil {
					t.Error(err)
				}
			})
			wg.Go(func() {
				<-start
				if _, err := e.s.Update(context.Background(), w.ID, WindowInput{SuppressNotifications: ptr(true)}); err != nil {
					t.Error(err)
				}
			})
			close(start)
			wg.Wait()
			got := e.get(t, w.ID)
			if got.Title != "renamed" || !got.EndAt.Equal(newEnd) || !got.SuppressNotifications {
				t.Fatalf("round %d: after three edits at once: %s", round, js(got.Window))
			}
		}
	})
}

func TestAWindowHoldsNotificationsForItsSpanOnly(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ids := e.systems(t, "a", "b")
		a, b := ids[0], ids[1]
		title := "quiet"
		start, end := t0.Add(time.Hour), t0.Add(2*time.Hour)
		if _, err := e.s.Create(t.Context(), admin, WindowInput{Title: &title, StartAt: &start, EndAt: &end, SystemIDs: []string{a},
			SuppressNotifications: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		e.window(t, "loud", 0, 3*time.Hour, b)
		for _, tc := range []struct {
			at   time.Time
			sys  string
			want bool
		}{
			{start.Add(-time.Second), a, false},
			{start, a, true},
			{end.Add(-time.Second), a, true},
			{end, a, false},
			{start, b, false},
		} {
			e.clock.Set(tc.at)
			got, err := e.s.SuppressesNotifications(t.Context(), tc.sys)
			if err != nil || got != tc.want {
				t.Errorf("at %v, system %s held = %v, %v; want %v", tc.at.Sub(t0), tc.sys[:4], got, err, tc.want)
			}
		}
	})
}

func TestAChangeReArmsTheClockAtOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		sys := e.systems(t, "a")
		e.run(t, e.s)
		w := e.window(t, "w", 3*time.Hour, 4*time.Hour, sys...)
		e.armed(t, t0.Add(3*time.Hour)) // a running clock learned of the new window
		if _, err := e.s.Update(t.Context(), w.ID, WindowInput{StartAt: ptr(t0.Add(time.Minute))}); err != nil {
			t.Fatal(err)
		}
		e.armed(t, t0.Add(time.Minute)) // and of its earlier start
		e.clock.Set(t0.Add(time.Minute))
		e.bus.await(t, ActionStarted)
	})
}

func TestARecurringWindowStartedEarlyKeepsItsOccurrences(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		sys := e.systems(t, "a")
		first := time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC) // a Saturday
		title, end := "weekly", first.Add(time.Hour)
		rec := &Recurrence{Rule: "FREQ=WEEKLY;BYDAY=SA", Timezone: "UTC"}
		w, err := e.s.Create(t.Context(), admin, WindowInput{Title: &title, StartAt: &first, EndAt: &end, SystemIDs: sys, Recurrence: &rec})
		if err != nil {
			t.Fatal(err)
		}
		// Friday noon, 13 hours early.
		must(t, second(e.s.AddUpdate(t.Context(), admin, w.ID, "starting early", ptr(InProgress))))
		e.run(t, e.s)
		e.armed(t, end)
		e.clock.Set(end)
		e.bus.await(t, ActionCompleted)
		got := e.get(t, w.ID)
		next := first.Add(7 * 24 * time.Hour)
		if got.Status != Scheduled || !got.StartAt.Equal(next) || !got.EndAt.Equal(next.Add(time.Hour)) {
			t.Fatalf("after an occurrence started early: %s, want the next Saturday 01:00–02:00", js(got.Window))
		}
		if ps := e.periods(t, sys[0]); len(ps) != 1 || !ps[0].StartedAt.Equal(t0) || !ps[0].EndedAt.Equal(end) {
			t.Fatalf("the early occurrence's period: %s", js(ps))
		}
	})
}

func TestSendingBackUnchangedTimesChangesNothing(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		sys := e.systems(t, "a")
		first := time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC)
		title, end := "twice", first.Add(time.Hour)
		rec := &Recurrence{Rule: "FREQ=WEEKLY;COUNT=2", Timezone: "UTC"}
		w, err := e.s.Create(t.Context(), admin, WindowInput{Title: &title, StartAt: &first, EndAt: &end, SystemIDs: sys, Recurrence: &rec})
		if err != nil {
			t.Fatal(err)
		}
		e.run(t, e.s)
		e.clock.Set(first)
		e.bus.await(t, ActionStarted)
		e.armed(t, end)
		e.clock.Set(end)
		e.bus.await(t, ActionCompleted)
		cur := e.get(t, w.ID)
		// A form sends everything back, times and rule unchanged.
		if _, err := e.s.Update(t.Context(), w.ID, WindowInput{Title: ptr("twice, renamed"), StartAt: &cur.StartAt, EndAt: &cur.EndAt, Recurrence: &rec}); err != nil {
			t.Fatal(err)
		}
		second := first.Add(7 * 24 * time.Hour)
		e.armed(t, second)
		e.clock.Set(second)
		e.bus.await(t, ActionStarted)
		e.armed(t, second.Add(time.Hour))
		e.clock.Set(second.Add(time.Hour))
		e.bus.await(t, ActionCompleted)
		done := e.get(t, w.ID)
		if done.Status != Completed {
			t.Fatalf("after its second of COUNT=2: %s (the resent times restarted the count)", js(done.Window))
		}
		if _, err := e.s.Update(t.Context(), w.ID, WindowInput{Title: ptr("done"), StartAt: &done.StartAt, EndAt: &done.EndAt}); err != nil {
			t.Fatalf("renaming a completed window with its times sent back: %v", err)
		}
	})
}

func TestAWindowScheduledAfterTheFactErasesNoDowntime(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		sys := e.systems(t, "a")
		// Created at t0 to cover the two hours before it.
		title, start, end := "late", t0.Add(-2*time.Hour), t0.Add(time.Hour)
		d, err := e.s.Create(t.Context(), admin, WindowInput{Title: &title, StartAt: &start, EndAt: &end, SystemIDs: sys})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != InProgress || d.StartedAt == nil || !d.StartedAt.Equal(t0) {
			t.Fatalf("a window created after its start: %s, want in progress from its creation", js(d.Window))
		}
		if ps := e.periods(t, sys[0]); len(ps) != 1 || !ps[0].StartedAt.Equal(t0) {
			t.Fatalf("the period of a window created after its start: %s, want it to begin when it was created", js(ps))
		}
	})
}

func TestDeletingASystemWhileItsWindowsAreDeletedNeverDeadlocks(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		logs := &errorLog{}
		e := newEnv(t, db)
		e.s.log = slog.New(logs)
		for round := range 10 {
			sys := e.systems(t, fmt.Sprint("s", round))
			var ws []Detail
			for i := range 3 {
				ws = append(ws, e.window(t, fmt.Sprint("w", i), time.Hour, 2*time.Hour, sys...))
			}
			var wg sync.WaitGroup
			start := make(chan struct{})
			wg.Go(func() {
				<-start
				if err := e.catalog.DeleteSystem(context.Background(), sys[0]); err != nil {
					t.Error(err)
				}
			})
			for _, w := range ws {
				wg.Go(func() {
					<-start
					if err := e.s.Delete(context.Background(), w.ID); err != nil && !errors.Is(err, ErrNotFound) {
						t.Error(err)
					}
				})
			}
			close(start)
			wg.Wait()
		}
		if lines := logs.errors(); len(lines) > 0 {
			t.Fatalf("errors logged:\n%s", strings.Join(lines, "\n"))
		}
	})
}
