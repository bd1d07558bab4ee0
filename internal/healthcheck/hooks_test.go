package healthcheck

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

func TestRunNowDuringARunIsFollowedByOneMoreRun(t *testing.T) {
	db := storetest.SQLite(t)
	svc, _ := newService(t, db)
	arrived := make(chan struct{})
	release := make(chan struct{})
	var mu sync.Mutex
	requests := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		mu.Unlock()
		arrived <- struct{}{}
		<-release
	}))
	defer srv.Close()
	c := httpConfig(t, svc, srv.URL)
	s := NewScheduler(svc, SchedulerOptions{Workers: 2, Tick: time.Hour, FirstRunJitter: time.Hour})
	s.Start(t.Context())
	defer s.Stop(context.Background())

	if err := s.RunNow(t.Context(), c.ID); err != nil {
		t.Fatal(err)
	}
	<-arrived // the first run is under way
	for range 3 {
		if err := s.RunNow(t.Context(), c.ID); err != nil {
			t.Fatal(err)
		}
	}
	release <- struct{}{}
	select { // the follow-up run: asked for during the first, not lost
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("no run followed the one under way when RunNow was called")
	}
	release <- struct{}{}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if requests != 2 {
		t.Fatalf("%d runs, want 2: the first and one follow-up for the three asked during it", requests)
	}
}

func TestCheckChangesAreHookedAndStatusCarriesItsSince(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		svc, _ := newService(t, db)
		sys := addSystems(t, db, "sys", 1)[0]
		c := httpConfig(t, svc, "http://127.0.0.1:1")
		if _, err := svc.Associate(ctx, sys, c.ID, true, Thresholds{DegradedAfter: 1, UnhealthyAfter: 2}); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var checks []CheckChange
		var systems []StatusChange
		svc.OnCheckStatusChange(func(_ context.Context, ch CheckChange) { mu.Lock(); checks = append(checks, ch); mu.Unlock() })
		svc.OnStatusChange(func(_ context.Context, ch StatusChange) { mu.Lock(); systems = append(systems, ch); mu.Unlock() })

		t0 := time.Now().UTC().Truncate(time.Second)
		for i, st := range []Status{Healthy, Unhealthy, Unhealthy, Unhealthy} {
			at := t0.Add(time.Duration(i) * time.Second)
			svc.opts.Now = func() time.Time { return at }
			if err := svc.Process(ctx, Run{ID: newID(), ConfigurationID: c.ID, Status: st, Source: "local", StartedAt: at}); err != nil {
				t.Fatal(err)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		want := []CheckChange{
			{sys, c.ID, Unknown, Healthy},
			{sys, c.ID, Healthy, Degraded},
			{sys, c.ID, Degraded, Unhealthy},
		}
		if len(checks) != len(want) {
			t.Fatalf("check changes %+v, want %+v", checks, want)
		}
		for i := range want {
			if checks[i] != want[i] {
				t.Fatalf("check change %d = %+v, want %+v", i, checks[i], want[i])
			}
		}
		if len(systems) != 3 {
			t.Fatalf("system changes %+v, want 3 (unknown→healthy→degraded→unhealthy)", systems)
		}
		st, err := svc.SystemHealth(ctx, sys)
		if err != nil {
			t.Fatal(err)
		}
		// Unhealthy since the third run; the fourth kept it.
		if st.Status != Unhealthy || st.Since == nil || !st.Since.Equal(t0.Add(2*time.Second)) {
			t.Fatalf("status %s since %v, want unhealthy since %v", st.Status, st.Since, t0.Add(2*time.Second))
		}
	})
}

func TestStatusChangeNotifications(t *testing.T) {
	for _, tc := range []struct {
		prev, next Status
		importance string // "" = no notification
	}{
		{Unknown, Healthy, ""},
		{Healthy, Degraded, "warning"},
		{Degraded, Unhealthy, "critical"},
		{Unhealthy, Healthy, "info"},
		{Degraded, Healthy, "info"},
		{Healthy, Unknown, ""},
	} {
		t.Run(string(tc.prev)+" to "+string(tc.next), func(t *testing.T) {
			title, body, importance, ok := StatusChange{SystemID: "s1", Previous: tc.prev, New: tc.next}.Notification("payments")
			if ok != (tc.importance != "") || importance != tc.importance {
				t.Fatalf("ok=%v importance=%q, want %q", ok, importance, tc.importance)
			}
			if ok && (title == "" || body == "") {
				t.Fatalf("empty title or body: %q %q", title, body)
			}
		})
	}
}

func TestStatusReadsSayUnderMaintenanceTheMomentAWindowStarts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		var mu sync.Mutex
		under := map[string]bool{}
		svc := New(db, cache.NewMemory(cache.MemoryOptions{}), &recordingBus{}, quiet, Options{
			UnderMaintenance: func(_ context.Context, ids []string) (map[string]bool, error) {
				mu.Lock()
				defer mu.Unlock()
				out := map[string]bool{}
				for _, id := range ids {
					out[id] = under[id]
				}
				return out, nil
			},
		})
		ids := addSystems(t, db, "m", 2)
		read := func() (single bool, bulk []bool) {
			t.Helper()
			st, err := svc.SystemHealth(t.Context(), ids[0])
			if err != nil {
				t.Fatal(err)
			}
			sts, err := svc.BulkHealth(t.Context(), ids)
			if err != nil {
				t.Fatal(err)
			}
			return st.Maintenance, []bool{sts[0].Maintenance, sts[1].Maintenance}
		}
		if single, bulk := read(); single || bulk[0] || bulk[1] {
			t.Fatalf("no window: single %v, bulk %v", single, bulk)
		}
		mu.Lock()
		under[ids[0]] = true
		mu.Unlock()
		svc.MaintenanceChanged(t.Context(), []string{ids[0]})
		if single, bulk := read(); !single || !bulk[0] || bulk[1] {
			t.Fatalf("a window started on the first: single %v, bulk %v", single, bulk)
		}
		mu.Lock()
		under[ids[0]] = false
		mu.Unlock()
		svc.MaintenanceChanged(t.Context(), []string{ids[0]})
		if single, bulk := read(); single || bulk[0] {
			t.Fatalf("the window ended: single %v, bulk %v", single, bulk)
		}
	})
}
