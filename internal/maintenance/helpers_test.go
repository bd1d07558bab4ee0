package maintenance

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/catalog"
	"github.com/checkstack/checkstack/internal/clocktest"
	"github.com/checkstack/checkstack/internal/notification"
	"github.com/checkstack/checkstack/internal/rpc"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/timeline"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var admin = timeline.Author{ID: "u1", Name: "Ada"}

// t0 is when every scenario begins: a Friday.
var t0 = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

// waitFor bounds how long a test waits for what should happen at once.
const waitFor = 10 * time.Second

// seen is one MAINTENANCE_UPDATED signal with what a client refetching
// on it read at that moment.
type seen struct {
	Payload Payload
	Detail  *Detail
	Systems map[string][]Window
	Lists   map[Filter][]Window
	Under   map[string]bool
}

// recordingBus records MAINTENANCE_UPDATED signals, reading through the
// service before Broadcast returns, and passes each on to signals.
type recordingBus struct {
	mu      sync.Mutex
	svc     *Service
	watch   []string
	filters []Filter
	seen    []seen
	signals chan Payload
	t       *testing.T
}

func (b *recordingBus) Broadcast(ctx context.Context, name string, payload any) error {
	p, ok := payload.(Payload)
	if name != SignalUpdated || !ok {
		return nil
	}
	b.mu.Lock()
	svc, watch, filters := b.svc, b.watch, b.filters
	b.mu.Unlock()
	obs := seen{Payload: p, Systems: map[string][]Window{}, Lists: map[Filter][]Window{}}
	if svc != nil {
		if d, err := svc.Get(ctx, p.MaintenanceID); err == nil {
			obs.Detail = &d
		}
		ids := append(slices.Clone(watch), p.SystemIDs...)
		ws, err := svc.ForSystems(ctx, ids)
		if err != nil {
			b.t.Errorf("ForSystems at the signal: %v", err)
		}
		for i, id := range ids {
			obs.Systems[id] = ws[i]
		}
		if obs.Under, err = svc.UnderMaintenance(ctx, ids); err != nil {
			b.t.Errorf("UnderMaintenance at the signal: %v", err)
		}
		for _, f := range filters {
			l, err := svc.List(ctx, f)
			if err != nil {
				b.t.Errorf("List at the signal: %v", err)
			}
			obs.Lists[f] = l
		}
	}
	b.mu.Lock()
	b.seen = append(b.seen, obs)
	ch := b.signals
	b.mu.Unlock()
	if ch != nil {
		select {
		case ch <- p:
		default:
			b.t.Error("too many signals unread")
		}
	}
	return nil
}

func (b *recordingBus) SendToUser(context.Context, string, string, any) error { return nil }

func (b *recordingBus) all() []seen {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.seen)
}

// awaitAll waits for signals with each of actions, in any order.
func (b *recordingBus) awaitAll(t *testing.T, actions ...string) {
	t.Helper()
	want := map[string]int{}
	for _, a := range actions {
		want[a]++
	}
	deadline := time.After(waitFor)
	for len(want) > 0 {
		select {
		case p := <-b.signals:
			if _, ok := want[p.Action]; !ok {
				continue
			}
			if want[p.Action]--; want[p.Action] == 0 {
				delete(want, p.Action)
			}
		case <-deadline:
			t.Fatalf("still waiting for %v after %v", want, waitFor)
		}
	}
}

// await waits for the next signal with action.
func (b *recordingBus) await(t *testing.T, action string) Payload {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case p := <-b.signals:
			if p.Action == action {
				return p
			}
		case <-deadline:
			t.Fatalf("no %s signal within %v", action, waitFor)
		}
	}
}

type sent struct {
	Systems []string
	Message notification.Message
}

type recordingNotifier struct {
	mu   sync.Mutex
	sent []sent
}

func (n *recordingNotifier) NotifySystems(_ context.Context, ids []string, m notification.Message) ([]notification.Notification, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.sent = append(n.sent, sent{slices.Clone(ids), m})
	return nil, nil
}

func (n *recordingNotifier) titles() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for _, s := range n.sent {
		out = append(out, s.Message.Title)
	}
	return out
}

// titlesOnce returns the titles sent once there are at least n: the clock
// notifies after the signal a test awaits, so the notification may still
// be on its way.
func (n *recordingNotifier) titlesOnce(t *testing.T, count int) []string {
	t.Helper()
	waitUntil(t, func() bool { return len(n.titles()) >= count })
	return n.titles()
}

// liveRecorder records the OnLiveChange calls.
type liveRecorder struct {
	mu    sync.Mutex
	calls [][]string
}

func (l *liveRecorder) record(_ context.Context, ids []string) {
	l.mu.Lock()
	l.calls = append(l.calls, slices.Clone(ids))
	l.mu.Unlock()
}

func (l *liveRecorder) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.calls)
}

// env is a maintenance service on a fresh database with a real catalog,
// a clock the test drives, and a second service on the same database that
// never caches: the truth.
type env struct {
	db       *store.DB
	catalog  *catalog.Service
	clock    *clocktest.Clock
	s        *Service
	truth    *Service
	bus      *recordingBus
	notifier *recordingNotifier
	live     *liveRecorder
}

func newEnv(t *testing.T, db *store.DB) *env {
	t.Helper()
	clk := clocktest.New(t0)
	cat := catalog.New(db, cache.NewNull(), &recordingBus{}, nil, quiet)
	e := &env{db: db, catalog: cat, clock: clk, notifier: &recordingNotifier{}, live: &liveRecorder{}}
	e.s, e.bus = e.service(t, cache.NewMemory(cache.MemoryOptions{}))
	e.bus.svc = e.s
	e.truth, _ = e.service(t, cache.NewNull())
	cat.OnSystemDeleted(e.s.SystemDeleted)
	e.s.OnLiveChange(e.live.record)
	return e
}

// service makes another service on the env's database and clock, as
// another instance would be.
func (e *env) service(t *testing.T, provider cache.Provider) (*Service, *recordingBus) {
	bus := &recordingBus{t: t, signals: make(chan Payload, 1000)}
	s := New(e.db, provider, bus, quiet, Options{
		Clock:    e.clock,
		Fallback: 10 * 365 * 24 * time.Hour, // the alarms wait for instants, not for their fallback
		SystemExists: func(ctx context.Context, id string) (bool, error) {
			_, err := e.catalog.System(ctx, id)
			if err == catalog.ErrNotFound {
				return false, nil
			}
			return err == nil, err
		},
		SystemName: func(ctx context.Context, id string) string { return "sys-" + id[:4] },
		Notifier:   e.notifier,
	})
	t.Cleanup(func() {
		if err := s.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return s, bus
}

// run starts a service's clock.
func (e *env) run(t *testing.T, s *Service) {
	t.Helper()
	s.Start(context.Background())
}

// armed waits until an alarm waits for the clock to reach at.
func (e *env) armed(t *testing.T, at time.Time) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !e.clock.WaitingFor(at) {
		if time.Now().After(deadline) {
			t.Fatalf("no alarm waits for %v", at)
		}
		time.Sleep(time.Millisecond)
	}
}

func (e *env) systems(t *testing.T, names ...string) []string {
	t.Helper()
	var ids []string
	for _, n := range names {
		sys, err := e.catalog.CreateSystem(t.Context(), catalog.SystemInput{Name: &n})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, sys.ID)
	}
	return ids
}

// window schedules a window from start to end (offsets from t0) on the
// systems.
func (e *env) window(t *testing.T, title string, start, end time.Duration, systems ...string) Detail {
	t.Helper()
	s, en := t0.Add(start), t0.Add(end)
	d, err := e.s.Create(t.Context(), admin, WindowInput{Title: &title, StartAt: &s, EndAt: &en, SystemIDs: systems})
	if err != nil {
		t.Fatalf("Create(%s): %v", title, err)
	}
	return d
}

func (e *env) get(t *testing.T, id string) Detail {
	t.Helper()
	d, err := e.truth.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (e *env) periods(t *testing.T, system string) []Period {
	t.Helper()
	ps, err := e.s.Periods(t.Context(), []string{system}, t0.Add(-365*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return ps[system]
}

func ptr[T any](v T) *T { return &v }

func same(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func isStatus(err error, status int) bool {
	var e *rpc.Error
	return errors.As(err, &e) && e.Status == status
}

// errorLog is a slog handler keeping the records at error level.
type errorLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *errorLog) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelError }

func (l *errorLog) Handle(_ context.Context, r slog.Record) error {
	line := r.Message
	r.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.mu.Unlock()
	return nil
}

func (l *errorLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *errorLog) WithGroup(string) slog.Handler      { return l }

func (l *errorLog) errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}
