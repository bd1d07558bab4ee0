package healthcheck

import (
	"context"
	"encoding/json"
	"hash/maphash"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

// A result that completes while a flush of a full buffer is in flight must
// be either delivered or still buffered afterwards.
func TestTheAgentKeepsResultsThatArriveDuringAFlush(t *testing.T) {
	inFlight := make(chan struct{})
	release := make(chan struct{})
	var mu sync.Mutex
	received := map[string]bool{}
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Runs []Run }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		mu.Lock()
		for _, run := range in.Runs {
			received[run.ID] = true
		}
		mu.Unlock()
		once.Do(func() { close(inFlight); <-release })
		w.Write([]byte(`{"accepted":0,"duplicates":0}`))
	}))
	defer srv.Close()

	a := NewAgent(AgentOptions{Server: srv.URL, Key: "css_x", BufferSize: 3})
	now := time.Now().UTC()
	for _, id := range []string{"r1", "r2", "r3"} {
		a.buffer = append(a.buffer, Run{ID: id, ConfigurationID: "c", Status: Healthy, StartedAt: now})
	}
	flushed := make(chan error, 1)
	go func() { flushed <- a.flush(context.Background()) }()
	<-inFlight

	// A check completes while the batch r1..r3 is being posted.
	a.mu.Lock()
	a.configs = map[string]Configuration{"c": {ID: "c", Strategy: "no-such-strategy", IntervalSeconds: 60, TimeoutSeconds: 1}}
	a.mu.Unlock()
	a.tick(context.Background(), now)
	a.running.Wait()
	a.mu.Lock()
	var fresh string
	for _, r := range a.buffer {
		if r.ID != "r1" && r.ID != "r2" && r.ID != "r3" {
			fresh = r.ID
		}
	}
	a.mu.Unlock()
	if fresh == "" {
		t.Fatal("the new result did not reach the buffer")
	}
	close(release)
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	delivered := received[fresh]
	mu.Unlock()
	stillBuffered := false
	a.mu.Lock()
	for _, r := range a.buffer {
		stillBuffered = stillBuffered || r.ID == fresh
	}
	dropped := a.dropped
	a.mu.Unlock()
	if !delivered && !stillBuffered {
		t.Fatalf("result %s was neither delivered nor kept (dropped counter %d counts only r1)", fresh, dropped)
	}
}

// Shortening a configuration's interval should take effect on the next
// tick, not after the old (long) interval has elapsed.
func TestAnIntervalChangeTakesEffectOnTheNextTick(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := t.Context()
	svc, _ := newService(t, db)
	c := httpConfig(t, svc, "http://127.0.0.1:1")
	if _, err := svc.UpdateConfiguration(ctx, c.ID, ConfigurationInput{IntervalSeconds: ptr(3600)}); err != nil {
		t.Fatal(err)
	}
	s := NewScheduler(svc, SchedulerOptions{FirstRunJitter: time.Nanosecond})
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s.Tick(ctx, t0)
	if got := queued(s); len(got) != 1 {
		t.Fatalf("first run not queued: %v", got)
	}
	s.finished(c.ID)
	if _, err := svc.UpdateConfiguration(ctx, c.ID, ConfigurationInput{IntervalSeconds: ptr(10)}); err != nil {
		t.Fatal(err)
	}
	for sec := 1; sec <= 60; sec++ {
		s.Tick(ctx, t0.Add(time.Duration(sec)*time.Second))
		if got := queued(s); len(got) > 0 {
			return
		}
	}
	s.mu.Lock()
	next := s.next[c.ID]
	s.mu.Unlock()
	t.Fatalf("interval now 10s, but no run in the next minute; next due at t+%v", next.Sub(t0))
}

// A configuration moved onto a satellite between RemoveSatellite's read of
// the affected systems and its write is disabled by that write, but its
// systems are neither settled nor invalidated.
func TestRemovingASatelliteSettlesSystemsOfConfigurationsMovedMeanwhile(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := t.Context()
	s, bus := newService(t, db)
	addSystem(t, db, "a")
	addSystem(t, db, "b")
	sat, _, err := s.RegisterSatellite(ctx, "dc-2")
	if err != nil {
		t.Fatal(err)
	}
	remote := httpConfig(t, s, "http://10.0.0.1/health")
	if _, err := s.UpdateConfiguration(ctx, remote.ID, ConfigurationInput{SatelliteID: &sat.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Associate(ctx, "a", remote.ID, true, Thresholds{}); err != nil {
		t.Fatal(err)
	}
	tg := newTarget(t)
	local := httpConfig(t, s, tg.URL)
	if _, err := s.Associate(ctx, "b", local.ID, true, Thresholds{}); err != nil {
		t.Fatal(err)
	}
	runOnce(t, s, local)
	if st, _ := s.SystemHealth(ctx, "b"); st.Status != Healthy { // warm b's cache entry
		t.Fatalf("b: %s", st.Status)
	}

	// Another writer holds SQLite's write lock while RemoveSatellite reads
	// the systems to settle; that writer is an UpdateConfiguration moving
	// local onto the satellite (a move that changes no status by itself).
	holding := make(chan struct{})
	commit := make(chan struct{})
	txDone := make(chan error, 1)
	go func() {
		txDone <- db.For("test").InTx(ctx, func(tx *store.Tx) error {
			close(holding)
			<-commit
			_, err := tx.ExecContext(ctx, `UPDATE healthcheck_configurations SET satellite_id = ? WHERE id = ?`, sat.ID, local.ID)
			return err
		})
	}()
	<-holding
	removed := make(chan error, 1)
	go func() { removed <- s.RemoveSatellite(ctx, sat.ID) }()
	// Whether RemoveSatellite's transaction starts before the move commits
	// or after, the outcome below must hold.
	close(commit)
	if err := <-txDone; err != nil {
		t.Fatal(err)
	}
	if err := <-removed; err != nil {
		t.Fatal(err)
	}

	fresh, err := s.st.statuses(ctx, []string{"b"})
	if err != nil {
		t.Fatal(err)
	}
	if fresh["b"].Status != Unknown {
		t.Fatalf("setup: b's stored status is %s; local should have been disabled by RemoveSatellite", fresh["b"].Status)
	}
	cached, _ := s.SystemHealth(ctx, "b")
	var announced bool
	for _, c := range bus.changes() {
		announced = announced || (c.SystemID == "b" && c.New == Unknown)
	}
	if cached.Status != Unknown || !announced {
		t.Fatalf("b went healthy → unknown, but the cache still says %s and SYSTEM_STATUS_CHANGED for b was sent: %v", cached.Status, announced)
	}
}

// lockCheckingBus fails the test if SYSTEM_STATUS_CHANGED is broadcast
// while the system's status lock is free.
type lockCheckingBus struct {
	recordingBus
	s      *Service
	freeAt []string
}

func (b *lockCheckingBus) Broadcast(ctx context.Context, name string, payload any) error {
	if c, ok := payload.(StatusChange); ok && b.s.statusLockFree(c.SystemID) {
		b.freeAt = append(b.freeAt, "signal "+c.SystemID)
	}
	return b.recordingBus.Broadcast(ctx, name, payload)
}

// statusLockFree reports whether the lock serialising systemID's status is
// free (taking and releasing it if so).
func (s *Service) statusLockFree(systemID string) bool {
	l := &s.locks[maphash.String(s.seed, systemID)%uint64(len(s.locks))]
	if l.TryLock() {
		l.Unlock()
		return true
	}
	return false
}

// TestStatusChangesAreAnnouncedUnderTheSystemsLock: the signal and the
// hooks of a status change run while the system's status is locked, so
// that a later change of the same system cannot overtake them.
func TestStatusChangesAreAnnouncedUnderTheSystemsLock(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := t.Context()
	bus := &lockCheckingBus{}
	s := New(db, cache.NewMemory(cache.MemoryOptions{}), bus, quiet, Options{})
	bus.s = s
	var hookFree []string
	s.OnStatusChange(func(_ context.Context, c StatusChange) {
		if s.statusLockFree(c.SystemID) {
			hookFree = append(hookFree, "hook "+c.SystemID)
		}
	})
	addSystem(t, db, "sys")
	tg := newTarget(t)
	c := httpConfig(t, s, tg.URL)
	s.Associate(ctx, "sys", c.ID, true, Thresholds{DegradedAfter: 1, UnhealthyAfter: 1})
	runOnce(t, s, c)
	tg.status.Store(500)
	runOnce(t, s, c)
	if len(bus.changes()) != 2 {
		t.Fatalf("changes %v, want two", bus.changes())
	}
	if free := append(bus.freeAt, hookFree...); len(free) > 0 {
		t.Fatalf("announced with the system's lock free: %v", free)
	}
}
