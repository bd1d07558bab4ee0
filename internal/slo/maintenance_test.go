package slo

import (
	"log/slog"
	"testing"
	"time"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/maintenance"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
	"github.com/checkstack/checkstack/internal/timeline"
)

// TestAMaintenanceWindowSparesTheBudgetOfObjectivesThatExcludeIt runs a
// real maintenance window over an outage: the objective that excludes
// maintenance spends nothing, the one that counts it spends the outage,
// and both statuses are dropped and announced as the window starts and
// ends.
func TestAMaintenanceWindowSparesTheBudgetOfObjectivesThatExcludeIt(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.addSystems("api")
		maint := maintenance.New(db, cache.NewMemory(cache.MemoryOptions{Now: e.clock.Now}), e.bus, slog.New(e.logs),
			maintenance.Options{Clock: e.clock})
		e.svc.opts.Maintenance = maint
		maint.OnLiveChange(e.svc.MaintenanceChanged)

		excludes := e.addObjective(inputFor("api", "excludes", 99.9, 30, Strict))
		counts := inputFor("api", "counts", 99.9, 30, Strict)
		counts.Maintenance = ptr(MaintenanceCount)
		counting := e.addObjective(counts)
		e.warm("api", excludes.ID, counting.ID)

		title, start, end := "upgrade", e.clock.Now().Add(time.Minute), e.clock.Now().Add(time.Hour)
		w, err := maint.Create(t.Context(), timeline.Author{}, maintenance.WindowInput{Title: &title, StartAt: &start, EndAt: &end, SystemIDs: []string{"api"}})
		if err != nil {
			t.Fatal(err)
		}
		mark := e.bus.mark()
		if _, err := maint.AddUpdate(t.Context(), timeline.Author{}, w.ID, "starting", ptr(maintenance.InProgress)); err != nil {
			t.Fatal(err)
		}
		if got := len(e.bus.since(mark)); got != 2 {
			t.Fatalf("the window's start announced %d statuses, want both objectives'", got)
		}

		e.down("api")
		e.clock.Advance(30 * time.Minute)
		if st := e.status(e.svc, excludes.ID); st.IsDegraded || st.ErrorBudget.ConsumedMinutes != 0 {
			t.Errorf("down inside the window, the objective that excludes it: degraded %v, consumed %v", st.IsDegraded, st.ErrorBudget.ConsumedMinutes)
		}
		e.up("api")
		e.clock.Advance(10 * time.Minute)
		mark = e.bus.mark()
		if _, err := maint.Close(t.Context(), timeline.Author{}, w.ID, nil); err != nil {
			t.Fatal(err)
		}
		if got := len(e.bus.since(mark)); got != 2 {
			t.Fatalf("the window's end announced %d statuses, want both objectives'", got)
		}
		ex, co := e.status(e.svc, excludes.ID), e.status(e.svc, counting.ID)
		if ex.ErrorBudget.ConsumedMinutes != 0 || ex.Downtime.TotalMinutes != 30 || ex.Downtime.MaintenanceMinutes != 30 {
			t.Errorf("the objective that excludes maintenance: %+v, %+v", ex.ErrorBudget, ex.Downtime)
		}
		if co.ErrorBudget.ConsumedMinutes != 30 || co.Downtime.MaintenanceMinutes != 30 {
			t.Errorf("the objective that counts maintenance: %+v, %+v", co.ErrorBudget, co.Downtime)
		}
		if err := maint.Delete(t.Context(), w.ID); err != nil {
			t.Fatal(err)
		}
		if st := e.status(e.svc, excludes.ID); st.ErrorBudget.ConsumedMinutes != 30 {
			t.Errorf("after the window was deleted, the objective that excluded it spent %v, want the whole outage", st.ErrorBudget.ConsumedMinutes)
		}
	})
}
