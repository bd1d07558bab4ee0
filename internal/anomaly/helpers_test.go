package anomaly

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/clocktest"
	"github.com/checkstack/checkstack/internal/healthcheck"
	"github.com/checkstack/checkstack/internal/notification"
	"github.com/checkstack/checkstack/internal/store"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var t0 = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

// seen is one ANOMALY_STATE_CHANGED signal with what a dashboard read at
// that moment, through the cached service.
type seen struct {
	Payload Payload
	System  []Anomaly // the system's bulk entry
	List    []Anomaly // getAnomalies {systemId}
}

type recordingBus struct {
	mu   sync.Mutex
	svc  *Service
	seen []seen
	t    *testing.T
}

func (b *recordingBus) Broadcast(ctx context.Context, name string, payload any) error {
	p, ok := payload.(Payload)
	if name != SignalStateChanged || !ok {
		return nil
	}
	b.mu.Lock()
	svc := b.svc
	b.mu.Unlock()
	obs := seen{Payload: p}
	if svc != nil {
		raws, err := svc.SystemsJSON(ctx, []string{p.SystemID})
		if err != nil {
			b.t.Errorf("SystemsJSON at the signal: %v", err)
		} else if err := json.Unmarshal(raws[0], &obs.System); err != nil {
			b.t.Error(err)
		}
		if obs.List, err = svc.List(ctx, Filter{SystemID: p.SystemID, Suppression: SuppressionAll}); err != nil {
			b.t.Errorf("List at the signal: %v", err)
		}
	}
	b.mu.Lock()
	b.seen = append(b.seen, obs)
	b.mu.Unlock()
	return nil
}

func (b *recordingBus) SendToUser(context.Context, string, string, any) error { return nil }

func (b *recordingBus) all() []seen {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.seen)
}

func (b *recordingBus) states() []State {
	var out []State
	for _, s := range b.all() {
		out = append(out, s.Payload.State)
	}
	return out
}

type told struct {
	System string
	Title  string
	Skip   []string
}

type recordingNotifier struct {
	mu   sync.Mutex
	told []told
}

func (n *recordingNotifier) NotifySystemWithout(_ context.Context, systemID string, m notification.Message, skip []string) ([]notification.Notification, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.told = append(n.told, told{systemID, m.Title, slices.Clone(skip)})
	return nil, nil
}

func (n *recordingNotifier) all() []told {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.told)
}

// env is a scenario: real health on a fresh database, one check assigned
// to systems, the anomaly service hooked to health as the server does,
// and a second anomaly service on the same database that never caches.
type env struct {
	t        *testing.T
	db       *store.DB
	clock    *clocktest.Clock
	health   *healthcheck.Service
	s        *Service
	truth    *Service
	bus      *recordingBus
	notifier *recordingNotifier
	check    string
	systems  []string
	rand     *rand.Rand
}

func newEnv(t *testing.T, db *store.DB, systems int) *env {
	t.Helper()
	e := &env{t: t, db: db, clock: clocktest.New(t0), notifier: &recordingNotifier{}, rand: rand.New(rand.NewPCG(1, 1))}
	e.health = healthcheck.New(db, cache.NewMemory(cache.MemoryOptions{Now: e.clock.Now}), &recordingBus{t: t}, quiet, healthcheck.Options{Now: e.clock.Now})
	e.s, e.bus = e.instance(cache.NewMemory(cache.MemoryOptions{Now: e.clock.Now}))
	e.bus.svc = e.s
	e.truth, _ = e.instance(cache.NewNull())
	e.health.OnRunRecorded(e.s.RunRecorded)
	e.health.OnRemoved(e.s.ChecksRemoved)
	ctx := t.Context()
	for i := range systems {
		id := fmt.Sprintf("sys%d", i)
		if _, err := db.For("test").ExecContext(ctx, `INSERT INTO catalog_systems (id, name, created_at, updated_at) VALUES (?, ?, 0, 0)`, id, id); err != nil {
			t.Fatal(err)
		}
		e.systems = append(e.systems, id)
	}
	name, strategy, interval, timeout := "api", "http", 60, 5
	c, err := e.health.CreateConfiguration(ctx, healthcheck.ConfigurationInput{Name: &name, Strategy: &strategy,
		Config: json.RawMessage(`{"url":"http://127.0.0.1:1/"}`), IntervalSeconds: &interval, TimeoutSeconds: &timeout})
	if err != nil {
		t.Fatal(err)
	}
	e.check = c.ID
	for _, sys := range e.systems {
		if _, err := e.health.Associate(ctx, sys, c.ID, true, healthcheck.Thresholds{}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// instance is another anomaly service on the env's database, health and
// clock, as another server would run.
func (e *env) instance(p cache.Provider) (*Service, *recordingBus) {
	bus := &recordingBus{t: e.t}
	s := New(e.db, p, bus, quiet, Options{Clock: e.clock, Health: e.health, Notifier: e.notifier,
		SystemName: func(_ context.Context, id string) string { return "System " + id }})
	e.t.Cleanup(func() {
		if err := s.Stop(context.Background()); err != nil {
			e.t.Error(err)
		}
	})
	return s, bus
}

// run records one healthy run of the check with latency ms, a minute
// after the previous one.
func (e *env) run(ms float64) { e.t.Helper(); e.runAfter(time.Minute, ms) }

// runAfter records one healthy run of the check with latency ms, d after
// the previous one.
func (e *env) runAfter(d time.Duration, ms float64) {
	e.t.Helper()
	at := e.clock.Advance(d)
	r := healthcheck.Run{ID: fmt.Sprint("r", at.UnixMicro()), ConfigurationID: e.check, Status: healthcheck.Healthy, LatencyMs: ms,
		Details: json.RawMessage(`{"statusCode":200}`), Source: "local", StartedAt: at}
	if err := e.health.Process(e.t.Context(), r); err != nil {
		e.t.Fatal(err)
	}
}

// normal records n runs around 100 ms (± 5).
func (e *env) normal(n int) {
	e.t.Helper()
	for range n {
		e.run(100 + 5*e.rand.NormFloat64())
	}
}

func (e *env) open(sys string) []Anomaly {
	e.t.Helper()
	as, err := e.truth.List(e.t.Context(), Filter{SystemID: sys, Suppression: SuppressionAll})
	if err != nil {
		e.t.Fatal(err)
	}
	return slices.DeleteFunc(as, func(a Anomaly) bool { return !a.Open() })
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
