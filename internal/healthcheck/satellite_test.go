package healthcheck

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/checkstack/checkstack/internal/rpc"
	"github.com/checkstack/checkstack/internal/server"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

func TestSatelliteService(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		s, _ := newService(t, db)
		addSystem(t, db, "sys")
		sat, key, err := s.RegisterSatellite(ctx, "dc-2")
		if err != nil || !strings.HasPrefix(key, SatelliteKeyPrefix) {
			t.Fatalf("RegisterSatellite = %+v, %q, %v", sat, key, err)
		}
		if _, _, err := s.RegisterSatellite(ctx, "dc-2"); err == nil {
			t.Fatal("a second satellite with the same name was registered")
		}
		if id, err := s.AuthenticateSatellite(ctx, key); err != nil || id != sat.ID {
			t.Fatalf("AuthenticateSatellite = %q, %v", id, err)
		}
		if _, err := s.AuthenticateSatellite(ctx, key+"x"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("a wrong key: %v", err)
		}

		remote := httpConfig(t, s, "http://10.0.0.1/health")
		if _, err := s.UpdateConfiguration(ctx, remote.ID, ConfigurationInput{SatelliteID: &sat.ID}); err != nil {
			t.Fatal(err)
		}
		local := httpConfig(t, s, "http://127.0.0.1:1")
		s.Associate(ctx, "sys", remote.ID, true, Thresholds{})
		as, _ := s.Assignments(ctx, sat.ID)
		if len(as) != 1 || as[0].ID != remote.ID {
			t.Fatalf("assignments %+v", as)
		}

		run := func(id, config string) Run {
			return Run{ID: id, ConfigurationID: config, Status: Healthy, LatencyMs: 3, StartedAt: time.Now().UTC().Truncate(time.Microsecond)}
		}
		// A batch with a run of a configuration not assigned: none recorded.
		_, _, err = s.Ingest(ctx, sat.ID, []Run{run("a", remote.ID), run("b", local.ID)})
		var e *rpc.Error
		if !errors.As(err, &e) || e.Status != 403 || !strings.Contains(e.Message, "runs[1].configurationId") {
			t.Fatalf("ingest with an unassigned configuration: %v", err)
		}
		if page, _ := s.History(ctx, remote.ID, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), 10, ""); len(page.Runs) != 0 {
			t.Fatal("a rejected batch was partly recorded")
		}
		acc, dup, err := s.Ingest(ctx, sat.ID, []Run{run("a", remote.ID)})
		if err != nil || acc != 1 || dup != 0 {
			t.Fatalf("ingest = %d, %d, %v", acc, dup, err)
		}
		acc, dup, _ = s.Ingest(ctx, sat.ID, []Run{run("a", remote.ID)})
		if acc != 0 || dup != 1 {
			t.Fatalf("the same run again = %d accepted, %d duplicates", acc, dup)
		}
		if st, _ := s.SystemHealth(ctx, "sys"); st.Status != Healthy {
			t.Fatalf("status after satellite ingest: %s", st.Status)
		}

		// Removing the satellite disables its checks: the system is unknown again.
		if err := s.RemoveSatellite(ctx, sat.ID); err != nil {
			t.Fatal(err)
		}
		c, _ := s.Configuration(ctx, remote.ID)
		if c.Enabled || c.SatelliteID != "" {
			t.Fatalf("configuration after its satellite went: %+v", c)
		}
		if st, _ := s.SystemHealth(ctx, "sys"); st.Status != Unknown {
			t.Fatalf("status after the satellite went: %s", st.Status)
		}
	})
}

// satelliteServer serves the satellite API of s, through the real HTTP
// layer, and can be switched off (every request answered 503).
func satelliteServer(t *testing.T, s *Service) (*httptest.Server, *atomic.Bool) {
	h := server.New(server.Options{
		Logger: quiet,
		Authenticate: func(r *http.Request) (rpc.Principal, error) {
			key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			id, err := s.AuthenticateSatellite(r.Context(), key)
			if err != nil {
				return rpc.Principal{}, err
			}
			return rpc.Principal{SatelliteID: id}, nil
		},
		Procedures: s.SatelliteProcedures(),
	})
	var down atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &down
}

func TestTheAgentBuffersWhileTheServerIsDown(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := t.Context()
	s, _ := newService(t, db)
	addSystem(t, db, "sys")
	sat, key, _ := s.RegisterSatellite(ctx, "edge")
	tg := newTarget(t)
	c := httpConfig(t, s, tg.URL)
	s.UpdateConfiguration(ctx, c.ID, ConfigurationInput{SatelliteID: &sat.ID})
	s.Associate(ctx, "sys", c.ID, true, Thresholds{})
	srv, down := satelliteServer(t, s)

	a := NewAgent(AgentOptions{Server: srv.URL, Key: key, FlushEvery: 20 * time.Millisecond, Logger: quiet})
	a.refresh(ctx) // fetch the assignment while the server is up
	down.Store(true)
	actx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(actx) }()
	waitUntil(t, "the first result is buffered", func() bool { return a.buffered() >= 1 })
	if st, _ := s.SystemHealth(ctx, "sys"); st.Status != Unknown {
		t.Fatalf("status while the server is down: %s", st.Status)
	}
	down.Store(false)
	waitUntil(t, "the buffer is delivered", func() bool {
		st, _ := s.SystemHealth(ctx, "sys")
		return a.buffered() == 0 && st.Status == Healthy
	})
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if sats, _ := s.Satellites(ctx); sats[0].LastSeenAt == nil {
		t.Fatal("the satellite was never noted as seen")
	}
}

func TestTheAgentDropsResultsOfWithdrawnAssignments(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := t.Context()
	s, _ := newService(t, db)
	sat, key, _ := s.RegisterSatellite(ctx, "edge")
	c := httpConfig(t, s, "http://127.0.0.1:1")
	s.UpdateConfiguration(ctx, c.ID, ConfigurationInput{SatelliteID: &sat.ID})
	srv, _ := satelliteServer(t, s)
	a := NewAgent(AgentOptions{Server: srv.URL, Key: key, Logger: quiet})
	a.refresh(ctx)
	a.buffer = []Run{{ID: "r1", ConfigurationID: c.ID, Status: Healthy, StartedAt: time.Now()}}
	empty := ""
	s.UpdateConfiguration(ctx, c.ID, ConfigurationInput{SatelliteID: &empty}) // withdrawn
	if err := a.flush(ctx); err != nil {
		t.Fatalf("flush after the assignment was withdrawn: %v", err)
	}
	if a.buffered() != 0 {
		t.Fatal("an undeliverable result stayed in the buffer")
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, with a deadline
	}
}
