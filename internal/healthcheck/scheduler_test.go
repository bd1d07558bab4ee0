package healthcheck

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

// queued drains what the scheduler queued, without workers.
func queued(s *Scheduler) []string {
	var ids []string
	q := s.queue.(*MemoryQueue)
	for {
		select {
		case j := <-q.jobs:
			ids = append(ids, j.Configuration.ID)
		default:
			return ids
		}
	}
}

func (s *Scheduler) finished(id string) {
	s.mu.Lock()
	delete(s.busy, id)
	s.mu.Unlock()
}

func TestSchedulerRules(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := t.Context()
	svc, _ := newService(t, db)
	c := httpConfig(t, svc, "http://127.0.0.1:1") // interval 5s
	s := NewScheduler(svc, SchedulerOptions{FirstRunJitter: time.Nanosecond})
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

	s.Tick(ctx, t0)
	if got := queued(s); len(got) != 1 {
		t.Fatalf("a never-run configuration was not queued at once: %v", got)
	}
	s.Tick(ctx, t0.Add(6*time.Second))
	if got := queued(s); len(got) != 0 {
		t.Fatalf("queued again while the first run had not finished: %v", got)
	}
	s.finished(c.ID)
	s.Tick(ctx, t0.Add(7*time.Second))
	if got := queued(s); len(got) != 0 {
		t.Fatalf("queued at t+7s although the next slot is t+10s: %v", got)
	}
	s.Tick(ctx, t0.Add(10*time.Second))
	if got := queued(s); len(got) != 1 {
		t.Fatalf("not queued at its slot t+10s: %v", got)
	}
	s.finished(c.ID)
	// A long pause: the slots that passed are skipped, the phase is kept.
	s.Tick(ctx, t0.Add(32*time.Second))
	if got := queued(s); len(got) != 1 {
		t.Fatalf("after a pause: %v, want one run, not the missed ones", got)
	}
	s.finished(c.ID)
	s.mu.Lock()
	next := s.next[c.ID]
	s.mu.Unlock()
	if !next.Equal(t0.Add(35 * time.Second)) {
		t.Fatalf("next due %v, want t+35s (the phase kept)", next.Sub(t0))
	}

	// Disabling takes effect on the next tick.
	svc.UpdateConfiguration(ctx, c.ID, ConfigurationInput{Enabled: ptr(false)})
	s.Tick(ctx, t0.Add(40*time.Second))
	if got := queued(s); len(got) != 0 {
		t.Fatalf("a disabled configuration was queued: %v", got)
	}
	svc.UpdateConfiguration(ctx, c.ID, ConfigurationInput{Enabled: ptr(true)})
	s.Tick(ctx, t0.Add(41*time.Second))
	if got := queued(s); len(got) != 1 {
		t.Fatalf("a re-enabled configuration was not queued: %v", got)
	}
}

func TestSchedulerKeepsPhaseAcrossRestarts(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := t.Context()
	svc, _ := newService(t, db)
	overdue := httpConfig(t, svc, "http://127.0.0.1:1")
	recent := httpConfig(t, svc, "http://127.0.0.1:2")
	now := time.Now().UTC().Truncate(time.Second)
	setLastRun(t, db, overdue.ID, now.Add(-time.Minute))
	setLastRun(t, db, recent.ID, now.Add(-2*time.Second))

	s := NewScheduler(svc, SchedulerOptions{}) // as after a restart
	s.Tick(ctx, now)
	if got := queued(s); len(got) != 1 || got[0] != overdue.ID {
		t.Fatalf("on start: queued %v, want only the overdue configuration", got)
	}
	s.Tick(ctx, now.Add(2*time.Second))
	if got := queued(s); len(got) != 0 {
		t.Fatalf("queued %v before the recent one's phase", got)
	}
	s.Tick(ctx, now.Add(3*time.Second))
	if got := queued(s); len(got) != 1 || got[0] != recent.ID {
		t.Fatalf("at last run + interval: queued %v, want the recent configuration", got)
	}
}

func setLastRun(t *testing.T, db *store.DB, id string, at time.Time) {
	t.Helper()
	if _, err := db.For("test").ExecContext(t.Context(), `UPDATE healthcheck_configurations SET last_run_at = ? WHERE id = ?`, store.Micros(at), id); err != nil {
		t.Fatal(err)
	}
}

func TestTheSchedulerRunsChecksAndStops(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := t.Context()
	svc, bus := newService(t, db)
	addSystem(t, db, "sys")
	tg := newTarget(t)
	c := httpConfig(t, svc, tg.URL)
	svc.Associate(ctx, "sys", c.ID, true, Thresholds{})
	s := NewScheduler(svc, SchedulerOptions{Tick: 10 * time.Millisecond, FirstRunJitter: time.Nanosecond})
	s.Start(ctx)
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, _ := svc.SystemHealth(ctx, "sys")
		if st.Status == Healthy {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the scheduled run never made the system healthy")
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, with a deadline
	}
	if err := svc.RunNow(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	stop, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.Stop(stop); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(stop); err != nil {
		t.Fatalf("a second Stop: %v", err)
	}
	if len(bus.changes()) != 1 {
		t.Fatalf("status changes %v", bus.changes())
	}
}

func TestAHungCheckIsCutOffAtItsTimeout(t *testing.T) {
	db := storetest.SQLite(t)
	svc, _ := newService(t, db)
	hang := make(chan struct{})
	defer close(hang)
	srv := newHangingServer(t, hang)
	c, err := svc.CreateConfiguration(t.Context(), ConfigurationInput{Name: ptr("slow"), Strategy: ptr("http"),
		Config: json.RawMessage(`{"url":"` + srv + `"}`), IntervalSeconds: ptr(5), TimeoutSeconds: ptr(1)})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := svc.Execute(t.Context(), c)
	if r.Status != Unhealthy || time.Since(start) > 3*time.Second {
		t.Fatalf("a hung check: %+v after %v", r, time.Since(start))
	}
}

func TestStopBeforeStartAndRunNowOnASatelliteConfiguration(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := t.Context()
	svc, _ := newService(t, db)
	s := NewScheduler(svc, SchedulerOptions{})
	sat, _, _ := svc.RegisterSatellite(ctx, "edge")
	c := httpConfig(t, svc, "http://127.0.0.1:1")
	svc.UpdateConfiguration(ctx, c.ID, ConfigurationInput{SatelliteID: &sat.ID})
	if err := svc.RunNow(ctx, c.ID); err == nil || !strings.Contains(err.Error(), "satellite") {
		t.Fatalf("runNow of a satellite's configuration: %v, want a refusal", err)
	}
	if got := queued(s); len(got) != 0 {
		t.Fatalf("queued %v", got)
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("Stop before Start: %v", err)
	}
}
