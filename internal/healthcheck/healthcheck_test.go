package healthcheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

// recordingBus remembers signals.
type recordingBus struct {
	mu     sync.Mutex
	events []string
	status []StatusChange
}

func (b *recordingBus) Broadcast(_ context.Context, name string, payload any) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.events = append(b.events, name)
	if c, ok := payload.(StatusChange); ok {
		b.status = append(b.status, c)
	}
	return nil
}

func (b *recordingBus) SendToUser(ctx context.Context, name, _ string, payload any) error {
	return b.Broadcast(ctx, name, payload)
}

func (b *recordingBus) changes() []StatusChange {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]StatusChange(nil), b.status...)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newService(t *testing.T, db *store.DB) (*Service, *recordingBus) {
	t.Helper()
	bus := &recordingBus{}
	return New(db, cache.NewMemory(cache.MemoryOptions{}), bus, quiet, Options{}), bus
}

// addSystems inserts n systems named prefix0000… in one transaction and
// returns their ids.
func addSystems(t testing.TB, db *store.DB, prefix string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s%05d", prefix, i)
	}
	err := db.For("test").InTx(t.Context(), func(tx *store.Tx) error {
		for _, id := range ids {
			if _, err := tx.ExecContext(t.Context(), `INSERT INTO catalog_systems (id, name, created_at, updated_at) VALUES (?, ?, 0, 0)`, id, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func addSystem(t *testing.T, db *store.DB, id string) {
	t.Helper()
	_, err := db.For("test").ExecContext(t.Context(),
		`INSERT INTO catalog_systems (id, name, created_at, updated_at) VALUES (?, ?, 0, 0)`, id, "system "+id)
	if err != nil {
		t.Fatal(err)
	}
}

// target is a local HTTP server whose answer the test switches.
type target struct {
	*httptest.Server
	status atomic.Int32
}

func newTarget(t testing.TB) *target {
	tg := &target{}
	tg.status.Store(200)
	tg.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(tg.status.Load()))
	}))
	t.Cleanup(tg.Close)
	return tg
}

func ptr[T any](v T) *T { return &v }

func httpConfig(t testing.TB, s *Service, url string) Configuration {
	t.Helper()
	c, err := s.CreateConfiguration(t.Context(), ConfigurationInput{
		Name: ptr("api"), Strategy: ptr("http"), Config: json.RawMessage(fmt.Sprintf(`{"url":%q}`, url)),
		IntervalSeconds: ptr(5), TimeoutSeconds: ptr(2),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// runOnce executes and records one run of c.
func runOnce(t *testing.T, s *Service, c Configuration) Run {
	t.Helper()
	r := s.Execute(t.Context(), c)
	r.Source = "local"
	if err := s.Process(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestARealCheckDrivesTheSystemStatus(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		s, bus := newService(t, db)
		var hooked []StatusChange
		s.OnStatusChange(func(_ context.Context, c StatusChange) { hooked = append(hooked, c) })
		addSystem(t, db, "sys")
		tg := newTarget(t)
		c := httpConfig(t, s, tg.URL)
		if _, err := s.Associate(ctx, "sys", c.ID, true, Thresholds{DegradedAfter: 1, UnhealthyAfter: 2}); err != nil {
			t.Fatal(err)
		}
		status := func() Status {
			st, err := s.SystemHealth(ctx, "sys") // cached between calls
			if err != nil {
				t.Fatal(err)
			}
			return st.Status
		}
		if got := status(); got != Unknown {
			t.Fatalf("before any run: %s", got)
		}

		runOnce(t, s, c)
		if got := status(); got != Healthy {
			t.Fatalf("after a 200: %s", got)
		}
		tg.status.Store(503)
		r := runOnce(t, s, c)
		if r.Status != Unhealthy || r.Message == "" {
			t.Fatalf("run against a 503: %+v", r)
		}
		if got := status(); got != Degraded {
			t.Fatalf("after one failure (degradedAfter 1): %s", got)
		}
		runOnce(t, s, c)
		if got := status(); got != Unhealthy {
			t.Fatalf("after two failures: %s", got)
		}
		runOnce(t, s, c) // still unhealthy: no new change
		tg.status.Store(200)
		runOnce(t, s, c)
		if got := status(); got != Healthy {
			t.Fatalf("after recovery: %s", got)
		}

		want := []StatusChange{{"sys", Unknown, Healthy}, {"sys", Healthy, Degraded}, {"sys", Degraded, Unhealthy}, {"sys", Unhealthy, Healthy}}
		if got := bus.changes(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("SYSTEM_STATUS_CHANGED signals %v, want %v", got, want)
		}
		if fmt.Sprint(hooked) != fmt.Sprint(want) {
			t.Fatalf("systemStatusChanged hook got %v", hooked)
		}
		st, _ := s.SystemHealth(ctx, "sys")
		if len(st.Checks) != 1 || st.Checks[0].Name != "api" || st.Checks[0].LastRunAt == nil {
			t.Fatalf("per-check detail: %+v", st.Checks)
		}
	})
}

func TestEveryPathThatChangesAStatusInvalidatesIt(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		s, _ := newService(t, db)
		addSystem(t, db, "sys")
		tg := newTarget(t)
		c := httpConfig(t, s, tg.URL)
		warm := func() Status {
			ss, err := s.BulkHealth(ctx, []string{"sys"})
			if err != nil {
				t.Fatal(err)
			}
			return ss[0].Status
		}
		steps := []struct {
			name string
			do   func() error
			want Status
		}{
			{"associateSystem", func() error { _, err := s.Associate(ctx, "sys", c.ID, true, Thresholds{}); return err }, Unknown},
			{"a completed run", func() error { runOnce(t, s, c); return nil }, Healthy},
			{"updateConfiguration (disabled)", func() error {
				_, err := s.UpdateConfiguration(ctx, c.ID, ConfigurationInput{Enabled: ptr(false)})
				return err
			}, Unknown},
			{"updateConfiguration (enabled)", func() error {
				_, err := s.UpdateConfiguration(ctx, c.ID, ConfigurationInput{Enabled: ptr(true)})
				return err
			}, Healthy},
			{"associateSystem (association disabled)", func() error { _, err := s.Associate(ctx, "sys", c.ID, false, Thresholds{}); return err }, Unknown},
			{"associateSystem (enabled again)", func() error { _, err := s.Associate(ctx, "sys", c.ID, true, Thresholds{}); return err }, Healthy},
			{"disassociateSystem", func() error { return s.Disassociate(ctx, "sys", c.ID) }, Unknown},
			{"associateSystem and a run", func() error {
				if _, err := s.Associate(ctx, "sys", c.ID, true, Thresholds{}); err != nil {
					return err
				}
				runOnce(t, s, c)
				return nil
			}, Healthy},
			{"deleteConfiguration", func() error { return s.DeleteConfiguration(ctx, c.ID) }, Unknown},
		}
		for _, st := range steps {
			warm()
			if err := st.do(); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if got := warm(); got != st.want {
				t.Fatalf("after %s the cached status is %s, want %s", st.name, got, st.want)
			}
		}
	})
}

func TestAWarmBulkReadRunsNoQuery(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		s, _ := newService(t, db)
		ids := addSystems(t, db, "s", 1000)
		before := db.QueryCount("healthcheck")
		if _, err := s.BulkHealth(ctx, ids); err != nil {
			t.Fatal(err)
		}
		cold := db.QueryCount("healthcheck") - before
		if cold != 2 { // 1,000 ids in chunks of 500
			t.Fatalf("a cold bulk read of 1,000 systems ran %d queries, want 2", cold)
		}
		before = db.QueryCount("healthcheck")
		for range 5 {
			ss, err := s.BulkHealth(ctx, ids)
			if err != nil || len(ss) != 1000 || ss[999].SystemID != "s00999" {
				t.Fatalf("warm bulk read: %d, %v", len(ss), err)
			}
		}
		if n := db.QueryCount("healthcheck") - before; n != 0 {
			t.Fatalf("warm bulk reads ran %d queries", n)
		}
	})
}

func TestARunRecordedTwiceChangesNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		s, _ := newService(t, db)
		addSystem(t, db, "sys")
		c := httpConfig(t, s, newTarget(t).URL)
		s.Associate(ctx, "sys", c.ID, true, Thresholds{})
		r := runOnce(t, s, c)
		if err := s.Process(ctx, r); !errors.Is(err, ErrDuplicate) {
			t.Fatalf("recording a run twice: %v, want ErrDuplicate", err)
		}
		page, _ := s.History(ctx, c.ID, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), 10, "")
		if len(page.Runs) != 1 {
			t.Fatalf("%d runs in history", len(page.Runs))
		}
	})
}

func TestSystemDeletedDropsItsStatus(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		s, _ := newService(t, db)
		addSystem(t, db, "sys")
		c := httpConfig(t, s, newTarget(t).URL)
		s.Associate(ctx, "sys", c.ID, true, Thresholds{})
		runOnce(t, s, c)
		if st, _ := s.SystemHealth(ctx, "sys"); st.Status != Healthy {
			t.Fatalf("status %s", st.Status)
		}
		db.For("test").ExecContext(ctx, `DELETE FROM catalog_systems WHERE id = ?`, "sys")
		s.SystemDeleted(ctx, "sys")
		if st, _ := s.SystemHealth(ctx, "sys"); st.Status != Unknown || len(st.Checks) != 0 {
			t.Fatalf("status of a deleted system: %+v", st)
		}
	})
}

func TestConfigurationValidation(t *testing.T) {
	db := storetest.SQLite(t)
	s, _ := newService(t, db)
	for _, tc := range []struct {
		in   ConfigurationInput
		want string
	}{
		{ConfigurationInput{Name: ptr("x"), Strategy: ptr("smtp"), Config: json.RawMessage(`{}`)}, "strategy: must be one of"},
		{ConfigurationInput{Name: ptr("x"), Strategy: ptr("http"), Config: json.RawMessage(`{}`)}, "config.url"},
		{ConfigurationInput{Name: ptr("x"), Strategy: ptr("http"), Config: json.RawMessage(`{"url":"http://127.0.0.1:1"}`), IntervalSeconds: ptr(4)}, "intervalSeconds: must be at least 5"},
		{ConfigurationInput{Name: ptr("x"), Strategy: ptr("http"), Config: json.RawMessage(`{"url":"http://127.0.0.1:1"}`), IntervalSeconds: ptr(10), TimeoutSeconds: ptr(11)}, "timeoutSeconds"},
		{ConfigurationInput{Name: ptr("x"), Strategy: ptr("http"), Config: json.RawMessage(`{"url":"http://127.0.0.1:1"}`), TimeoutSeconds: ptr(0)}, "timeoutSeconds"},
		{ConfigurationInput{Name: ptr("x"), Strategy: ptr("http"), Config: json.RawMessage(`{"url":"http://127.0.0.1:1"}`), SatelliteID: ptr("ghost")}, "not found"},
	} {
		_, err := s.CreateConfiguration(t.Context(), tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CreateConfiguration(%s) = %v, want an error with %q", tc.in.Config, err, tc.want)
		}
	}
	cs, _ := s.Configurations(t.Context())
	if len(cs) != 0 {
		t.Fatalf("a rejected configuration was stored: %+v", cs)
	}
}

// newHangingServer answers nothing until hang is closed.
func newHangingServer(t *testing.T, hang <-chan struct{}) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
