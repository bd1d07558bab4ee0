package announcement

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/clocktest"
	"github.com/checkstack/checkstack/internal/rpc"
	"github.com/checkstack/checkstack/internal/store"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var admin = Author{ID: "admin-1", Name: "Ada"}

// t0 is when every scenario begins.
var t0 = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

// waitFor bounds how long a test waits for what should happen at once.
const waitFor = 10 * time.Second

// view is one cached read of getActiveAnnouncements: whose, and whether
// it includes dismissed announcements.
type view struct {
	user             string // "": anonymous
	includeDismissed bool
}

func (v view) String() string { return fmt.Sprintf("%q/d=%v", v.user, v.includeDismissed) }

// seen is one ANNOUNCEMENT_UPDATED signal with what a client refetching
// on it read at that moment, through the cached service.
type seen struct {
	Payload Payload
	To      string // the user of a SendToUser; "" for a broadcast
	Views   map[view][]Shown
	List    []Announcement // broadcasts only
}

// recordingBus records ANNOUNCEMENT_UPDATED signals, reading through svc
// before it returns: for a broadcast, the anonymous views, each watched
// user's and the admin list; for a signal to a user, that user's views.
type recordingBus struct {
	mu      sync.Mutex
	svc     *Service
	users   []string
	seen    []seen
	signals chan seen
	t       *testing.T
}

func (b *recordingBus) Broadcast(ctx context.Context, name string, payload any) error {
	return b.record(ctx, name, "", payload)
}

func (b *recordingBus) SendToUser(ctx context.Context, name, userID string, payload any) error {
	return b.record(ctx, name, userID, payload)
}

func (b *recordingBus) record(ctx context.Context, name, to string, payload any) error {
	p, ok := payload.(Payload)
	if name != SignalUpdated || !ok {
		b.t.Errorf("unexpected signal %s %#v", name, payload)
		return nil
	}
	b.mu.Lock()
	svc, users := b.svc, slices.Clone(b.users)
	b.mu.Unlock()
	obs := seen{Payload: p, To: to, Views: map[view][]Shown{}}
	if svc != nil {
		if to != "" {
			users = []string{to}
		} else {
			users = append(users, "")
			l, err := svc.List(ctx)
			if err != nil {
				b.t.Errorf("List at the signal: %v", err)
			}
			obs.List = l
		}
		for _, u := range users {
			for _, d := range []bool{false, true} {
				v, err := svc.Active(ctx, u, d)
				if err != nil {
					b.t.Errorf("Active(%q, %v) at the signal: %v", u, d, err)
				}
				obs.Views[view{u, d}] = v
			}
		}
	}
	b.mu.Lock()
	b.seen = append(b.seen, obs)
	ch := b.signals
	b.mu.Unlock()
	select {
	case ch <- obs:
	default:
		b.t.Error("too many signals unread")
	}
	return nil
}

func (b *recordingBus) watch(users ...string) {
	b.mu.Lock()
	b.users = users
	b.mu.Unlock()
}

func (b *recordingBus) all() []seen {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.seen)
}

// await waits for the next signal with action, and returns it.
func (b *recordingBus) await(t *testing.T, action string) seen {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case s := <-b.signals:
			if s.Payload.Action == action {
				return s
			}
		case <-deadline:
			t.Fatalf("no %s signal within %v", action, waitFor)
		}
	}
}

// watchedClock is the test's clock as one service sees it: it notes the
// last instant the service's alarm asked to wait for, so that a test can
// tell that this alarm (not just any) waits for an instant.
type watchedClock struct {
	*clocktest.Clock
	mu   sync.Mutex
	last time.Time
}

func (c *watchedClock) At(t time.Time) <-chan time.Time {
	c.mu.Lock()
	c.last = t
	c.mu.Unlock()
	return c.Clock.At(t)
}

func (c *watchedClock) AtStop(t time.Time) (<-chan time.Time, func()) {
	c.mu.Lock()
	c.last = t
	c.mu.Unlock()
	return c.Clock.AtStop(t)
}

func (c *watchedClock) waitsFor(t time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last.Equal(t) && c.Clock.WaitingFor(t)
}

// env is an announcement service on a fresh database with a clock the
// test drives and a memory cache on that clock, and a second service on
// the same database that never caches: the truth.
type env struct {
	db    *store.DB
	clock *clocktest.Clock
	mem   *cache.Memory
	s     *Service
	sc    *watchedClock
	bus   *recordingBus
	truth *Service
}

func newEnv(t *testing.T, db *store.DB) *env {
	return newEnvWith(t, db, nil)
}

// newEnvWith is newEnv with the service's cache provider wrapped by wrap
// (nil: as it is).
func newEnvWith(t *testing.T, db *store.DB, wrap func(cache.Provider) cache.Provider) *env {
	t.Helper()
	clk := clocktest.New(t0)
	e := &env{db: db, clock: clk, mem: cache.NewMemory(cache.MemoryOptions{Now: clk.Now})}
	var p cache.Provider = e.mem
	if wrap != nil {
		p = wrap(p)
	}
	e.s, e.sc, e.bus = e.service(t, p)
	e.bus.svc = e.s
	e.truth, _, _ = e.service(t, cache.NewNull())
	return e
}

// service makes another service on the env's database and clock, as
// another instance would be, with a bus of its own.
func (e *env) service(t *testing.T, provider cache.Provider) (*Service, *watchedClock, *recordingBus) {
	t.Helper()
	bus := &recordingBus{t: t, signals: make(chan seen, 1000)}
	clk := &watchedClock{Clock: e.clock}
	s := New(e.db, provider, bus, quiet, Options{
		Clock:    clk,
		Fallback: 10 * 365 * 24 * time.Hour, // the alarms wait for instants, not for their fallback
	})
	t.Cleanup(func() {
		if err := s.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return s, clk, bus
}

// armed waits until the clock of a service waits for at.
func armed(t *testing.T, c *watchedClock, at time.Time) {
	t.Helper()
	waitUntil(t, fmt.Sprintf("an alarm waiting for %v", at), func() bool { return c.waitsFor(at) })
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still no %s after %v", what, waitFor)
		}
		time.Sleep(time.Millisecond)
	}
}

// user adds a user to auth_users (dismissals refer to it) and returns
// its id.
func (e *env) user(t *testing.T, name string) string {
	t.Helper()
	id := newID()
	_, err := e.db.For("test").ExecContext(t.Context(),
		`INSERT INTO auth_users (id, email, name, role, password_hash, created_at) VALUES (?, ?, ?, 'user', '', ?)`,
		id, id+"@example.com", name, store.Micros(t0))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// create adds an announcement titled title with the fields of in.
func (e *env) create(t *testing.T, title string, in Input) Announcement {
	t.Helper()
	in.Title = &title
	if in.Message == nil {
		in.Message = ptr("about " + title)
	}
	a, err := e.s.Create(t.Context(), admin, in)
	if err != nil {
		t.Fatalf("Create(%s): %v", title, err)
	}
	return a
}

// titles reads what user sees through svc, as titles.
func titles(t *testing.T, svc *Service, user string) []string {
	t.Helper()
	v, err := svc.Active(t.Context(), user, false)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, a := range v {
		out = append(out, a.Title)
	}
	return out
}

func listTitles(t *testing.T, svc *Service) []string {
	t.Helper()
	l, err := svc.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, a := range l {
		out = append(out, a.Title)
	}
	return out
}

// at is t0 + d, as an Input time.
func at(d time.Duration) **time.Time {
	t := t0.Add(d)
	p := &t
	return &p
}

// none clears a time in an Input.
func none() **time.Time {
	var p *time.Time
	return &p
}

func ptr[T any](v T) *T { return &v }

func same(a, b any) bool { return js(a) == js(b) }

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func isStatus(err error, status int) bool {
	var e *rpc.Error
	return errors.As(err, &e) && e.Status == status
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
