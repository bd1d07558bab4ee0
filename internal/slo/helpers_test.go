package slo

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/clocktest"
	"github.com/checkstack/checkstack/internal/healthcheck"
	"github.com/checkstack/checkstack/internal/signal"
	"github.com/checkstack/checkstack/internal/store"
)

// The scenarios below drive health for real: a healthcheck.Service on the
// same database processes runs the test hands it (no check is ever
// executed), and its hooks call the SLO service exactly as the server wires
// them. Every service reads one clock the test moves, so that every event
// time is exact; the in-memory cache expires entries on that clock too, so
// a read after the clock moved past the TTL recomputes, and a read at the
// same instant as the last one comes from the cache.

// clockStart is when every scenario begins.
var clockStart = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// observation is one SLO_STATUS_CHANGED signal with what a client that
// refetched on it would have read at that moment.
type observation struct {
	Payload      StatusPayload
	ForSystem    []ObjectiveStatus
	ForSystemErr error
	Objective    ObjectiveStatus
	ObjectiveErr error
}

// recordingBus records every signal; for SLO_STATUS_CHANGED it also reads,
// at signal time, the system's and the objective's cached entries through
// the service given to readAtSignal.
type recordingBus struct {
	mu       sync.Mutex
	reader   *Service
	names    []string
	statuses []observation
	watcher  chan StatusPayload
}

var _ signal.Bus = (*recordingBus)(nil)

func (b *recordingBus) Broadcast(ctx context.Context, name string, payload any) error {
	b.mu.Lock()
	b.names = append(b.names, name)
	reader, watcher := b.reader, b.watcher
	b.mu.Unlock()
	p, ok := payload.(StatusPayload)
	if name != SignalStatusChanged || !ok {
		return nil
	}
	obs := observation{Payload: p}
	if reader != nil {
		obs.ForSystem, obs.ForSystemErr = reader.ForSystem(ctx, p.SystemID)
		obs.Objective, obs.ObjectiveErr = reader.Objective(ctx, p.ObjectiveID)
	}
	b.mu.Lock()
	b.statuses = append(b.statuses, obs)
	b.mu.Unlock()
	if watcher != nil {
		select {
		case watcher <- p:
		default: // the test reads the first few only
		}
	}
	return nil
}

func (b *recordingBus) SendToUser(ctx context.Context, name, _ string, payload any) error {
	return b.Broadcast(ctx, name, payload)
}

// readAtSignal makes every SLO_STATUS_CHANGED read through s at signal time.
func (b *recordingBus) readAtSignal(s *Service) {
	b.mu.Lock()
	b.reader = s
	b.mu.Unlock()
}

// watch returns a channel that gets the SLO_STATUS_CHANGED payloads sent
// from now on (the first 64).
func (b *recordingBus) watch() <-chan StatusPayload {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.watcher = make(chan StatusPayload, 64)
	return b.watcher
}

// mark is the number of SLO_STATUS_CHANGED signals so far, for since.
func (b *recordingBus) mark() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.statuses)
}

// since returns the SLO_STATUS_CHANGED signals after mark.
func (b *recordingBus) since(mark int) []observation {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.statuses[mark:])
}

// alertLog records what OnAlert is told.
type alertLog struct {
	mu     sync.Mutex
	alerts []Alert
}

func (l *alertLog) record(_ context.Context, a Alert) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.alerts = append(l.alerts, a)
}

// count is how many alerts of kind were told for objective id.
func (l *alertLog) count(id string, kind AlertKind) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, a := range l.alerts {
		if a.Objective.ID == id && a.Kind == kind {
			n++
		}
	}
	return n
}

func (l *alertLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var parts []string
	for _, a := range l.alerts {
		parts = append(parts, fmt.Sprintf("%s(%s)", a.Kind, a.Objective.Name))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// errorLog is a slog handler that keeps the records at error level: the
// hooks only log their failures, so a scenario fails if any was logged.
type errorLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *errorLog) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelError }

func (l *errorLog) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, b.String())
	return nil
}

func (l *errorLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *errorLog) WithGroup(string) slog.Handler      { return l }

func (l *errorLog) errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

// env is one scenario: a database, real health, the SLO service wired to
// it, and the recorders.
type env struct {
	t      *testing.T
	db     *store.DB
	test   *store.Handle // the test's own queries, counted apart from "slo"
	clock  *clocktest.Clock
	bus    *recordingBus
	alerts *alertLog
	logs   *errorLog
	health *healthcheck.Service
	svc    *Service
	checks map[string][]string // system → the configurations associated with it
}

// newEnv builds a scenario whose health changes reach the SLO service
// through the hooks, as in the server.
func newEnv(t *testing.T, db *store.DB) *env { return buildEnv(t, db, true) }

// newUnhookedEnv builds a scenario whose health changes reach nobody: the
// SLO service learns of them only when the test calls Reconcile or Sweep,
// as after a missed hook.
func newUnhookedEnv(t *testing.T, db *store.DB) *env { return buildEnv(t, db, false) }

func buildEnv(t *testing.T, db *store.DB, hooked bool) *env {
	t.Helper()
	e := &env{
		t: t, db: db, test: db.For("test"),
		clock: clocktest.New(clockStart), bus: &recordingBus{}, alerts: &alertLog{}, logs: &errorLog{},
		checks: map[string][]string{},
	}
	provider := cache.NewMemory(cache.MemoryOptions{Now: e.clock.Now})
	e.health = healthcheck.New(db, provider, e.bus, slog.New(e.logs), healthcheck.Options{Now: e.clock.Now})
	e.svc = e.instance(provider)
	if hooked {
		e.health.OnStatusChange(e.svc.SystemStatusChanged)
		e.health.OnCheckStatusChange(e.svc.CheckStatusChanged)
	}
	t.Cleanup(func() {
		if lines := e.logs.errors(); len(lines) > 0 {
			t.Errorf("errors were logged:\n%s", strings.Join(lines, "\n"))
		}
	})
	return e
}

// newInstance is another server's SLO service on the same database and
// health, with a cache of its own; its hooks are not wired.
func (e *env) newInstance() *Service { return e.newInstanceReading(e.health) }

// newInstanceReading is newInstance reading live health through h.
func (e *env) newInstanceReading(h HealthReader) *Service {
	return e.instanceOn(cache.NewMemory(cache.MemoryOptions{Now: e.clock.Now}), h)
}

func (e *env) instance(p cache.Provider) *Service { return e.instanceOn(p, e.health) }

func (e *env) instanceOn(p cache.Provider, h HealthReader) *Service {
	return New(e.db, p, e.bus, h, slog.New(e.logs), Options{
		Now:        e.clock.Now,
		SystemName: e.systemName,
		OnAlert:    e.alerts.record,
	})
}

// systemName is Options.SystemName: the catalog's name of a system.
func (e *env) systemName(ctx context.Context, id string) (string, error) {
	var name string
	err := e.test.QueryRowContext(ctx, `SELECT name FROM catalog_systems WHERE id = ?`, id).Scan(&name)
	return name, err
}

func displayName(id string) string { return "System " + id }

// addBareSystems inserts catalog systems without any health check.
func (e *env) addBareSystems(ids ...string) {
	e.t.Helper()
	ctx := e.t.Context()
	err := e.test.InTx(ctx, func(tx *store.Tx) error {
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `INSERT INTO catalog_systems (id, name, created_at, updated_at) VALUES (?, ?, 0, 0)`,
				id, displayName(id)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// addSystems inserts systems, each with one check ("api"), healthy at the
// current time.
func (e *env) addSystems(ids ...string) {
	e.t.Helper()
	e.addBareSystems(ids...)
	for _, id := range ids {
		e.addCheck(id, "api")
		e.up(id)
	}
}

// addCheck creates an http configuration (never executed: the test hands
// its runs to Process) and associates it with the system so that one
// failing run makes the check unhealthy and one passing run heals it.
func (e *env) addCheck(systemID, name string) string {
	e.t.Helper()
	ctx := e.t.Context()
	c, err := e.health.CreateConfiguration(ctx, healthcheck.ConfigurationInput{
		Name: ptr(name), Strategy: ptr("http"), Config: json.RawMessage(`{"url":"http://127.0.0.1:1"}`),
		IntervalSeconds: ptr(60), TimeoutSeconds: ptr(10),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.health.Associate(ctx, systemID, c.ID, true, healthcheck.Thresholds{DegradedAfter: 1, UnhealthyAfter: 1}); err != nil {
		e.t.Fatal(err)
	}
	e.checks[systemID] = append(e.checks[systemID], c.ID)
	return c.ID
}

// run processes one run of a configuration at the current time.
func (e *env) run(configurationID string, st healthcheck.Status) {
	e.t.Helper()
	at := e.clock.Now()
	err := e.health.Process(e.t.Context(), healthcheck.Run{
		ID: rand.Text(), ConfigurationID: configurationID, Status: st, Source: "local", StartedAt: at,
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// down and up move a system's health through its first check.
func (e *env) down(systemID string) {
	e.t.Helper()
	e.run(e.checks[systemID][0], healthcheck.Unhealthy)
}
func (e *env) up(systemID string) { e.t.Helper(); e.run(e.checks[systemID][0], healthcheck.Healthy) }

func ptr[T any](v T) *T { return &v }

// inputFor is the input of an objective on a system with the given target,
// window and mode.
func inputFor(systemID, name string, target float64, days int, mode Mode) ObjectiveInput {
	return ObjectiveInput{SystemID: &systemID, Name: &name, Target: &target, WindowDays: &days, Mode: &mode}
}

func (e *env) addObjective(in ObjectiveInput) Objective {
	e.t.Helper()
	st, err := e.svc.CreateObjective(e.t.Context(), in)
	if err != nil {
		e.t.Fatal(err)
	}
	return st.Objective
}

// eventsOf reads an objective's events from the database, oldest first.
func (e *env) eventsOf(objectiveID string) []Event {
	e.t.Helper()
	rows, err := e.test.QueryContext(e.t.Context(), `SELECT id, objective_id, system_id, started_at, ended_at, attribution,
		upstream_id, upstream_name FROM slo_downtime_events WHERE objective_id = ? ORDER BY started_at, id`, objectiveID)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	out := []Event{}
	for rows.Next() {
		var ev Event
		var started int64
		var ended *int64
		if err := rows.Scan(&ev.ID, &ev.ObjectiveID, &ev.SystemID, &started, &ended, &ev.Attribution, &ev.UpstreamID, &ev.UpstreamName); err != nil {
			e.t.Fatal(err)
		}
		ev.StartedAt = time.UnixMicro(started).UTC()
		if ended != nil {
			end := time.UnixMicro(*ended).UTC()
			ev.EndedAt = &end
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// openEventsOf counts an objective's open events in the database.
func (e *env) openEventsOf(objectiveID string) int {
	e.t.Helper()
	var n int
	if err := e.test.QueryRowContext(e.t.Context(), `SELECT COUNT(*) FROM slo_downtime_events WHERE objective_id = ? AND ended_at IS NULL`,
		objectiveID).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// span is an expected event: who it is blamed on and when; a zero to is
// an open event.
type span struct {
	system   string
	blame    Attribution
	upstream string
	name     string
	from, to time.Time
}

func selfSpan(system string, from, to time.Time) span {
	return span{system: system, blame: Self, from: from, to: to}
}

func upstreamSpan(system, upstream string, from, to time.Time) span {
	return span{system: system, blame: Upstream, upstream: upstream, name: displayName(upstream), from: from, to: to}
}

var ongoing time.Time // the end of a span still going on

func spanOf(ev Event) span {
	s := span{system: ev.SystemID, blame: ev.Attribution, upstream: ev.UpstreamID, name: ev.UpstreamName, from: ev.StartedAt}
	if ev.EndedAt != nil {
		s.to = *ev.EndedAt
	}
	return s
}

func (s span) equal(o span) bool {
	return s.system == o.system && s.blame == o.blame && s.upstream == o.upstream && s.name == o.name &&
		s.from.Equal(o.from) && s.to.Equal(o.to)
}

func (s span) String() string {
	at := func(t time.Time) string {
		if t.IsZero() {
			return "open"
		}
		return "+" + t.Sub(clockStart).String()
	}
	who := string(s.blame)
	if s.blame == Upstream {
		who = fmt.Sprintf("upstream %s (%q)", s.upstream, s.name)
	}
	return fmt.Sprintf("{%s: %s, %s → %s}", s.system, who, at(s.from), at(s.to))
}

func spansString(ss []span) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = s.String()
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// assertEvents checks an objective's stored events, oldest first (times
// relative to clockStart in messages).
func (e *env) assertEvents(what, objectiveID string, want ...span) {
	e.t.Helper()
	evs := e.eventsOf(objectiveID)
	got := make([]span, len(evs))
	for i, ev := range evs {
		got[i] = spanOf(ev)
	}
	if !slices.EqualFunc(got, want, span.equal) {
		e.t.Errorf("%s: events %s, want %s", what, spansString(got), spansString(want))
	}
}

// status reads an objective's status through the service.
func (e *env) status(s *Service, id string) Status {
	e.t.Helper()
	st, err := s.Objective(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return st.Status
}

// warm reads a system's entry, each objective's and the list, so that the
// cache holds them.
func (e *env) warm(systemID string, ids ...string) {
	e.t.Helper()
	ctx := e.t.Context()
	if _, err := e.svc.ForSystem(ctx, systemID); err != nil {
		e.t.Fatal(err)
	}
	for _, id := range ids {
		if _, err := e.svc.Objective(ctx, id); err != nil && !errors.Is(err, ErrNotFound) {
			e.t.Fatal(err)
		}
	}
	if _, err := e.svc.List(ctx); err != nil {
		e.t.Fatal(err)
	}
}

func find(os []ObjectiveStatus, id string) (ObjectiveStatus, bool) {
	for _, o := range os {
		if o.Objective.ID == id {
			return o, true
		}
	}
	return ObjectiveStatus{}, false
}

func objectiveIDs(os []ObjectiveStatus) []string {
	out := make([]string, len(os))
	for i, o := range os {
		out[i] = o.Objective.ID
	}
	return out
}

// insertEvent writes an event straight into the database, as another
// instance would have.
func (e *env) insertEvent(ev Event) error {
	var ended any
	if ev.EndedAt != nil {
		ended = ev.EndedAt.UnixMicro()
	}
	_, err := e.test.ExecContext(e.t.Context(), `INSERT INTO slo_downtime_events (id, objective_id, system_id, started_at, ended_at,
		attribution, upstream_id, upstream_name) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		ev.ID, ev.ObjectiveID, ev.SystemID, ev.StartedAt.UnixMicro(), ended, string(ev.Attribution), ev.UpstreamID, ev.UpstreamName)
	return err
}

// atOnce runs fn from n goroutines released together through a channel,
// and returns their errors.
func atOnce(n int, fn func(i int) error) []error {
	start := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// assertShown checks that every read — the system's entry, each
// objective's, the list — shows each objective degraded or not.
func (e *env) assertShown(when, systemID string, objs []Objective, down bool) {
	e.t.Helper()
	ctx := e.t.Context()
	forSystem, err := e.svc.ForSystem(ctx, systemID)
	if err != nil {
		e.t.Fatal(err)
	}
	list, err := e.svc.List(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, o := range objs {
		if st, ok := find(forSystem, o.ID); !ok || st.Status.IsDegraded != down {
			e.t.Errorf("%s: ForSystem(%s) shows %q with isDegraded %v (listed: %v), want %v", when, systemID, o.Name, st.Status.IsDegraded, ok, down)
		}
		if st, err := e.svc.Objective(ctx, o.ID); err != nil || st.Status.IsDegraded != down {
			e.t.Errorf("%s: Objective(%q) shows isDegraded %v (%v), want %v", when, o.Name, st.Status.IsDegraded, err, down)
		}
		if st, ok := find(list, o.ID); !ok || st.Status.IsDegraded != down {
			e.t.Errorf("%s: List shows %q with isDegraded %v (listed: %v), want %v", when, o.Name, st.Status.IsDegraded, ok, down)
		}
	}
}

// assertSignalled checks that each objective was signalled after mark, and
// that what a client read when the signal arrived already showed the
// objective degraded or not.
func (e *env) assertSignalled(when string, mark int, objs []Objective, down bool) {
	e.t.Helper()
	obs := e.bus.since(mark)
	for _, o := range objs {
		n := 0
		for _, ob := range obs {
			if ob.Payload.ObjectiveID != o.ID {
				continue
			}
			n++
			if ob.Payload.SystemID != o.SystemID {
				e.t.Errorf("%s: SLO_STATUS_CHANGED for %q names system %q, want %q", when, o.Name, ob.Payload.SystemID, o.SystemID)
			}
			if ob.ObjectiveErr != nil || ob.Objective.Status.IsDegraded != down {
				e.t.Errorf("%s: at its SLO_STATUS_CHANGED signal, Objective(%q) read isDegraded %v (%v), want %v",
					when, o.Name, ob.Objective.Status.IsDegraded, ob.ObjectiveErr, down)
			}
			if st, ok := find(ob.ForSystem, o.ID); ob.ForSystemErr != nil || !ok || st.Status.IsDegraded != down {
				e.t.Errorf("%s: at its SLO_STATUS_CHANGED signal, ForSystem(%s) read %q with isDegraded %v (listed: %v, %v), want %v",
					when, o.SystemID, o.Name, st.Status.IsDegraded, ok, ob.ForSystemErr, down)
			}
		}
		if n == 0 {
			e.t.Errorf("%s: no SLO_STATUS_CHANGED signal for %q", when, o.Name)
		}
	}
}

// meeting is a HealthReader that, while armed, holds each read until
// another one arrives: two instances doing the same work at once go on
// together from each of their health reads, so that what follows (their
// alert evaluations, say) overlaps rather than running one after the
// other by chance.
type meeting struct {
	HealthReader
	mu      sync.Mutex
	armed   bool
	waiting chan struct{}
}

func (m *meeting) arm(on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.armed = on
	if !on && m.waiting != nil {
		close(m.waiting)
		m.waiting = nil
	}
}

func (m *meeting) BulkHealth(ctx context.Context, systemIDs []string) ([]healthcheck.SystemStatus, error) {
	m.mu.Lock()
	switch {
	case !m.armed:
		m.mu.Unlock()
	case m.waiting == nil:
		ch := make(chan struct{})
		m.waiting = ch
		m.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
		case <-time.After(time.Second):
			// The other instance read health fewer times: go on alone
			// rather than wait for a partner that will not come.
			m.mu.Lock()
			if m.waiting == ch {
				m.waiting = nil
			}
			m.mu.Unlock()
		}
	default:
		close(m.waiting)
		m.waiting = nil
		m.mu.Unlock()
	}
	return m.HealthReader.BulkHealth(ctx, systemIDs)
}
