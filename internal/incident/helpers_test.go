package incident

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/catalog"
	"github.com/checkstack/checkstack/internal/notification"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/timeline"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var admin = timeline.Author{ID: "u1", Name: "Ada"}

// seen is one INCIDENT_UPDATED signal with what a client refetching on it
// read at that moment, through the cached service.
type seen struct {
	Payload Payload
	Detail  *Detail               // nil: the incident is gone
	Systems map[string][]Incident // each system of the payload
	Lists   map[Filter][]Incident // every list shape the test watches
}

// recordingBus records INCIDENT_UPDATED signals, reading through the
// service as a dashboard would before Broadcast returns.
type recordingBus struct {
	mu      sync.Mutex
	svc     *Service
	filters []Filter
	watch   []string // systems read at every signal, besides the payload's
	seen    []seen
	t       *testing.T
}

func (b *recordingBus) Broadcast(ctx context.Context, name string, payload any) error {
	p, ok := payload.(Payload)
	if name != SignalUpdated || !ok {
		return nil
	}
	b.mu.Lock()
	svc, filters, watch := b.svc, b.filters, b.watch
	b.mu.Unlock()
	obs := seen{Payload: p, Systems: map[string][]Incident{}, Lists: map[Filter][]Incident{}}
	if svc != nil {
		if d, err := svc.Get(ctx, p.IncidentID); err == nil {
			obs.Detail = &d
		}
		for _, id := range append(slices.Clone(watch), p.SystemIDs...) {
			ins, err := svc.ForSystem(ctx, id)
			if err != nil {
				b.t.Errorf("ForSystem(%s) at the signal: %v", id, err)
			}
			obs.Systems[id] = ins
		}
		for _, f := range filters {
			ins, err := svc.List(ctx, f)
			if err != nil {
				b.t.Errorf("List(%+v) at the signal: %v", f, err)
			}
			obs.Lists[f] = ins
		}
	}
	b.mu.Lock()
	b.seen = append(b.seen, obs)
	b.mu.Unlock()
	return nil
}

func (b *recordingBus) SendToUser(context.Context, string, string, any) error { return nil }

func (b *recordingBus) last(t *testing.T) seen {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.seen) == 0 {
		t.Fatal("no INCIDENT_UPDATED signal")
	}
	return b.seen[len(b.seen)-1]
}

func (b *recordingBus) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.seen)
}

// sent is one call to the notifier.
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

func (n *recordingNotifier) all() []sent {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.sent)
}

// env is an incident service on a fresh database with a real catalog to
// hold its systems, and a second service on the same database that never
// caches: the truth reads are compared with.
type env struct {
	db       *store.DB
	catalog  *catalog.Service
	s        *Service
	truth    *Service
	bus      *recordingBus
	notifier *recordingNotifier
}

func newEnv(t *testing.T, db *store.DB) *env {
	return newEnvWith(t, db, cache.NewMemory(cache.MemoryOptions{}))
}

func newEnvWith(t *testing.T, db *store.DB, provider cache.Provider) *env {
	t.Helper()
	cat := catalog.New(db, cache.NewNull(), &recordingBus{}, nil, quiet)
	bus := &recordingBus{t: t}
	n := &recordingNotifier{}
	opts := Options{
		SystemExists: func(ctx context.Context, id string) (bool, error) {
			_, err := cat.System(ctx, id)
			if err == catalog.ErrNotFound {
				return false, nil
			}
			return err == nil, err
		},
		SystemName: func(ctx context.Context, id string) string {
			sys, err := cat.System(ctx, id)
			if err != nil {
				return id
			}
			return sys.Name
		},
		Notifier: n,
	}
	s := New(db, provider, bus, quiet, opts)
	bus.svc = s
	truth := New(db, cache.NewNull(), &recordingBus{t: t}, quiet, opts)
	cat.OnSystemDeleted(s.SystemDeleted)
	return &env{db: db, catalog: cat, s: s, truth: truth, bus: bus, notifier: n}
}

// systems creates systems by name and returns their ids.
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

func (e *env) create(t *testing.T, title string, systems ...string) Detail {
	t.Helper()
	d, err := e.s.Create(t.Context(), admin, CreateInput{Title: title, SystemIDs: systems})
	if err != nil {
		t.Fatalf("Create(%s): %v", title, err)
	}
	return d
}

func ptr[T any](v T) *T { return &v }

// same compares as JSON, the form clients see.
func same(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
