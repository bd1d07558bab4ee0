package maintenance

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/hook"
	"github.com/checkstack/checkstack/internal/loop"
	"github.com/checkstack/checkstack/internal/mutate"
	"github.com/checkstack/checkstack/internal/notification"
	"github.com/checkstack/checkstack/internal/rpc"
	"github.com/checkstack/checkstack/internal/signal"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/systemlink"
	"github.com/checkstack/checkstack/internal/timeline"
)

// SignalUpdated is broadcast after every change of a window, the clock's
// included: {maintenanceId, systemIds, action}. systemIds holds the
// systems before and after the change. A window starting or ending also
// changes its systems' health reads (their maintenance flag) and their
// SLO statuses.
const SignalUpdated = "MAINTENANCE_UPDATED"

// Actions of SignalUpdated.
const (
	ActionCreated       = "created"
	ActionUpdated       = "updated"
	ActionUpdateAdded   = "update_added"
	ActionUpdateEdited  = "update_edited"
	ActionUpdateDeleted = "update_deleted"
	ActionStarted       = "started"
	ActionCompleted     = "completed" // for a recurring window: an occurrence, the next one scheduled
	ActionCancelled     = "cancelled"
	ActionDeleted       = "deleted"
	ActionSystemRemoved = "system_removed"
)

// Payload is the payload of SignalUpdated.
type Payload struct {
	MaintenanceID string   `json:"maintenanceId"`
	SystemIDs     []string `json:"systemIds"`
	Action        string   `json:"action"`
}

// Notifier tells the subscribers of systems; *notification.Service is
// one.
type Notifier interface {
	NotifySystems(ctx context.Context, systemIDs []string, m notification.Message) ([]notification.Notification, error)
}

// Options configure a Service. Zero values are the defaults shown.
type Options struct {
	// TTL is how long reads stay cached; 15s. Every change, and every
	// transition the clock makes, invalidates at once.
	TTL time.Duration
	// Clock drives the transitions; loop.Wall.
	Clock loop.Clock
	// Fallback bounds how long the clock waits without reading the next
	// due transition again, for windows another instance scheduled; 30s.
	Fallback time.Duration
	// SystemExists, SystemName and Notifier: as for incidents (see
	// package incident).
	SystemExists systemlink.Exists
	SystemName   func(ctx context.Context, id string) string
	Notifier     Notifier
	// PublicSystems is the set of systems the public status page shows:
	// its visitors see the windows on them; nil: none.
	PublicSystems systemlink.Shown
}

// Service is the maintenance domain. Safe for concurrent use.
type Service struct {
	st    sqlStore
	cache *cache.Scope
	bus   signal.Bus
	log   *slog.Logger
	opts  Options

	alarm *loop.Alarm
	jobs  loop.Loop
	live  hook.List[[]string]
}

// New returns the maintenance service on db, caching through provider.
// Its clock runs once Start is called.
func New(db *store.DB, provider cache.Provider, bus signal.Bus, log *slog.Logger, opts Options) *Service {
	if opts.TTL <= 0 {
		opts.TTL = 15 * time.Second
	}
	if opts.Clock == nil {
		opts.Clock = loop.Wall{}
	}
	log = log.With("component", "maintenance")
	s := &Service{
		st: newStore(db),
		cache: cache.NewScope(provider, cache.ScopeOptions{
			Name:       scopeName,
			DefaultTTL: opts.TTL,
			OnError:    func(op string, err error) { log.Warn("cache provider error", "op", op, "err", err) },
		}),
		bus:  bus,
		log:  log,
		opts: opts,
	}
	s.alarm = loop.NewAlarm(opts.Clock, s.st.nextDue, s.fire)
	s.alarm.Fallback = opts.Fallback
	s.alarm.OnError = func(err error) { log.Error("cannot read the next due transition", "err", err) }
	return s
}

// Scope is the service's cache scope, for metrics.
func (s *Service) Scope() *cache.Scope { return s.cache }

// OnLiveChange registers fn, told the systems whose maintenance state
// changed — a window of theirs started, ended or moved while in progress,
// or one that was in progress was deleted or left them — after the
// window's own cache entries are dropped and before the signal, so that
// what fn drops (a health read's maintenance flag, an SLO status) is
// fresh when clients refetch.
func (s *Service) OnLiveChange(fn func(ctx context.Context, systemIDs []string)) { s.live.Add(fn) }

func (s *Service) now() time.Time { return s.opts.Clock.Now().UTC().Truncate(time.Microsecond) }

func newID() string { return rand.Text() }

// Start runs the clock: every due transition at its instant, those missed
// while no server ran at once. It stops when ctx ends or Stop is called.
func (s *Service) Start(ctx context.Context) { s.jobs.Start(ctx, s.alarm.Run) }

// Stop stops the clock and waits, until ctx ends, for a transition under
// way. Safe to call more than once.
func (s *Service) Stop(ctx context.Context) error {
	if err := s.jobs.Stop(ctx); err != nil {
		return fmt.Errorf("maintenance: clock still running at shutdown: %w", err)
	}
	return nil
}

// Reads.

// Filter selects windows for List: by status (empty: any) and system
// (empty: any).
type Filter struct {
	Status   Status
	SystemID string
}

// ListJSON returns the windows matching f, latest start first, as a JSON
// array, cached per filter.
func (s *Service) ListJSON(ctx context.Context, f Filter) ([]byte, error) {
	return cache.WrapBytes(ctx, s.cache, keyList(f), func(ctx context.Context) ([]byte, error) {
		ws, err := s.st.list(ctx, f)
		if err != nil {
			return nil, err
		}
		return json.Marshal(ws)
	})
}

// List is ListJSON, decoded.
func (s *Service) List(ctx context.Context, f Filter) ([]Window, error) {
	raw, err := s.ListJSON(ctx, f)
	if err != nil {
		return nil, err
	}
	var out []Window
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("maintenance: decode list: %w", err)
	}
	return out, nil
}

// Get returns a window with its timeline.
func (s *Service) Get(ctx context.Context, id string) (Detail, error) {
	return cache.WrapFound(ctx, s.cache, keyWindow(id), ErrNotFound, func(ctx context.Context) (Detail, error) {
		return s.st.detail(ctx, id)
	})
}

// SystemsJSON returns, for each system in order, its scheduled and
// in-progress windows (soonest first) as a JSON array, from entries shared
// by every read of a system; the misses load together, in two queries a
// chunk.
func (s *Service) SystemsJSON(ctx context.Context, systemIDs []string) ([]json.RawMessage, error) {
	return cache.WrapManyJSONFamily(ctx, s.cache, systemIDs, famSystem, s.st.openOf)
}

// ForSystems is SystemsJSON, decoded.
func (s *Service) ForSystems(ctx context.Context, systemIDs []string) ([][]Window, error) {
	raws, err := s.SystemsJSON(ctx, systemIDs)
	if err != nil {
		return nil, err
	}
	return cache.DecodeJSON[[]Window](raws)
}

// UnderMaintenance reports, for each system, whether a window of its is
// in progress: what health reads show as "under maintenance". It reads
// through the per-system cache entries.
func (s *Service) UnderMaintenance(ctx context.Context, systemIDs []string) (map[string]bool, error) {
	ws, err := s.ForSystems(ctx, systemIDs)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(systemIDs))
	for i, id := range systemIDs {
		out[id] = slices.ContainsFunc(ws[i], func(w Window) bool { return w.Status == InProgress })
	}
	return out, nil
}

// SuppressesNotifications reports whether a window with
// SuppressNotifications covers the system now: a notification suppressor.
// A window covers its systems while in progress, and from its planned
// start to its planned end even before the clock's transition lands, so
// that a health change in that instant is held too.
func (s *Service) SuppressesNotifications(ctx context.Context, systemID string) (bool, error) {
	ws, err := s.ForSystems(ctx, []string{systemID})
	if err != nil {
		return false, err
	}
	now := s.now()
	for _, w := range ws[0] {
		inSpan := w.Status == InProgress || (!now.Before(w.StartAt) && now.Before(w.EndAt))
		if w.SuppressNotifications && inSpan {
			return true, nil
		}
	}
	return false, nil
}

// Periods returns, for each system, the stretches its windows were in
// progress that had not ended by since (an ongoing one has no EndedAt):
// what an error budget that excludes maintenance clips downtime with.
func (s *Service) Periods(ctx context.Context, systemIDs []string, since time.Time) (map[string][]Period, error) {
	return s.st.periods(ctx, systemIDs, since)
}

// Mutations. Each runs in one transaction that reads the window (held
// against other writers until it commits) and writes only what its input
// names; then it drops the window, every system it had before and after,
// and every list, tells the OnLiveChange hooks when the window's systems'
// maintenance state moved, signals, notifies, and re-arms the clock.

// WindowInput is what may be set on a window; nil fields are left alone
// by Update (and take defaults on Create).
type WindowInput struct {
	Title                 *string
	Description           *string
	StartAt               *time.Time
	EndAt                 *time.Time
	SuppressNotifications *bool
	SystemIDs             []string // nil: unchanged
	// Recurrence: nil leaves it; a pointer to nil makes the window
	// one-off.
	Recurrence **Recurrence
}

// Create schedules a window. A recurring one whose first occurrences are
// over starts at its first occurrence still to end; one whose start has
// passed is in progress at once.
func (s *Service) Create(ctx context.Context, by timeline.Author, in WindowInput) (Detail, error) {
	systems := systemlink.Normalize(in.SystemIDs)
	if err := s.opts.SystemExists.Check(ctx, in.SystemIDs); err != nil {
		return Detail{}, err
	}
	now := s.now()
	w := Window{ID: newID(), Status: Scheduled, SystemIDs: systems, CreatedAt: now, UpdatedAt: now, plannedAt: now}
	in.apply(&w)
	if err := s.schedule(&w, true, now); err != nil {
		return Detail{}, err
	}
	err := s.apply(ctx, "createMaintenance", func(ctx context.Context, tx *store.Tx) (change, error) {
		if err := s.st.insert(ctx, tx, w); err != nil {
			return change{}, err
		}
		if _, err := s.st.updates.Insert(ctx, tx, w.ID, timeline.New("Maintenance scheduled", string(Scheduled), by, now)); err != nil {
			return change{}, err
		}
		ch := change{action: ActionCreated, window: w, systems: systems, notice: noticeScheduled}
		if now.Before(w.StartAt) {
			return ch, nil
		}
		started, err := s.start(ctx, tx, w, w.periodStart(w.StartAt))
		if err != nil {
			return change{}, err
		}
		if _, err := s.st.updates.Insert(ctx, tx, w.ID, timeline.New("Maintenance started", string(InProgress), timeline.Author{}, now)); err != nil {
			return change{}, err
		}
		started.action = ActionCreated
		return started, nil
	})
	if err != nil {
		return Detail{}, s.opts.SystemExists.Explain(ctx, err, errUnknownSystem, in.SystemIDs)
	}
	return s.Get(ctx, w.ID)
}

func (in WindowInput) apply(w *Window) {
	set(&w.Title, in.Title)
	set(&w.Description, in.Description)
	set(&w.SuppressNotifications, in.SuppressNotifications)
	if in.StartAt != nil {
		w.StartAt = in.StartAt.UTC().Truncate(time.Second)
	}
	if in.EndAt != nil {
		w.EndAt = in.EndAt.UTC().Truncate(time.Second)
	}
	if in.Recurrence != nil {
		w.Recurrence = *in.Recurrence
		if r := w.Recurrence; r != nil {
			w.Recurrence = &Recurrence{Rule: strings.TrimPrefix(strings.TrimSpace(r.Rule), "RRULE:"), Timezone: r.Timezone}
		}
	}
}

func sameRecurrence(a, b *Recurrence) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func set[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// schedule checks a scheduled window's times and recurrence (reanchor:
// they were just set) and moves a recurring window on to its first
// occurrence still to end.
func (s *Service) schedule(w *Window, reanchor bool, now time.Time) error {
	if !w.EndAt.After(w.StartAt) {
		return rpc.Invalid("endAt", "must be after startAt")
	}
	if reanchor {
		w.seriesStart = w.StartAt
	}
	sc, err := w.parsedSchedule()
	if err != nil {
		return err
	}
	if sc == nil {
		if !w.EndAt.After(now) {
			return rpc.Invalid("endAt", "must be in the future")
		}
		return nil
	}
	if w.Status != Scheduled {
		return nil // a window in progress keeps its occurrence
	}
	dur := w.EndAt.Sub(w.StartAt)
	occ, ok := sc.atOrAfter(w.StartAt)
	for ok && !occ.Add(dur).After(now) {
		occ, ok = sc.after(occ)
	}
	if !ok {
		return rpc.Invalid("recurrence.rule", "has no occurrence still to end")
	}
	w.StartAt, w.EndAt = occ, occ.Add(dur)
	return nil
}

// parsedSchedule is the window's recurrence anchored at its series start;
// nil for a one-off window.
func (w Window) parsedSchedule() (*schedule, error) {
	if w.Recurrence == nil {
		return nil, nil
	}
	return parseRecurrence(*w.Recurrence, w.seriesStart, w.EndAt.Sub(w.StartAt))
}

// Update changes a window. Its times and recurrence change only while it
// is scheduled or in progress, and a window in progress keeps its start.
func (s *Service) Update(ctx context.Context, id string, in WindowInput) (Detail, error) {
	var systems []string
	if in.SystemIDs != nil {
		systems = systemlink.Normalize(in.SystemIDs)
		if err := s.opts.SystemExists.Check(ctx, in.SystemIDs); err != nil {
			return Detail{}, err
		}
	}
	err := s.apply(ctx, "updateMaintenance", func(ctx context.Context, tx *store.Tx) (change, error) {
		w, err := s.st.get(ctx, tx, id, true)
		if err != nil {
			return change{}, err
		}
		old := w
		in.apply(&w)
		w.UpdatedAt = later(s.now(), w.UpdatedAt)
		// Only times or a rule that really differ count as a move: a form
		// that sends them back unchanged changes nothing (and does not
		// restart a COUNT).
		startMoved := !w.StartAt.Equal(old.StartAt)
		ruleMoved := !sameRecurrence(w.Recurrence, old.Recurrence)
		if startMoved || ruleMoved || !w.EndAt.Equal(old.EndAt) {
			if !old.Status.open() {
				return change{}, rpc.Conflict(fmt.Sprintf("the window is %s: its times and recurrence can no longer change", old.Status))
			}
			if old.Status == InProgress && startMoved {
				return change{}, rpc.Invalid("startAt", "a window in progress has started; change endAt, or close it")
			}
			if old.Status == InProgress && !w.EndAt.After(s.now()) {
				return change{}, rpc.Invalid("endAt", "must be in the future for a window in progress (close it to end it now)")
			}
			if err := s.schedule(&w, startMoved, s.now()); err != nil {
				return change{}, err
			}
			w.plannedAt = s.now()
		}
		if err := s.st.save(ctx, tx, w, old.Status); err != nil {
			return change{}, err
		}
		if systems != nil {
			if err := s.st.setSystems(ctx, tx, id, systems); err != nil {
				return change{}, err
			}
			w.SystemIDs = systems
		}
		live := old.Status == InProgress
		if !live && !slices.Equal(old.SystemIDs, w.SystemIDs) {
			if live, err = s.st.hasPeriods(ctx, tx, id); err != nil {
				return change{}, err
			}
		}
		ch := change{action: ActionUpdated, window: w, systems: systemlink.Union(old.SystemIDs, w.SystemIDs), live: live}
		// Systems the window now covers learn of it as the others did.
		if added := systemlink.Without(w.SystemIDs, old.SystemIDs); len(added) > 0 && w.Status.open() {
			ch.audience, ch.notice = added, map[Status]notice{Scheduled: noticeScheduled, InProgress: noticeStarted}[w.Status]
		}
		return ch, nil
	})
	if err != nil {
		return Detail{}, s.opts.SystemExists.Explain(ctx, err, errUnknownSystem, in.SystemIDs)
	}
	return s.Get(ctx, id)
}

// later is now, or just after prev when the clock has not moved past it.
func later(now, prev time.Time) time.Time {
	if !now.After(prev) {
		return prev.Add(time.Microsecond)
	}
	return now
}

// AddUpdate posts an update on a window's timeline. A statusChange moves
// it as the clock or an admin would: in_progress starts a scheduled
// window now, completed closes one in progress, cancelled cancels; a
// window never goes back to scheduled, and completed and cancelled are
// final.
func (s *Service) AddUpdate(ctx context.Context, by timeline.Author, id, message string, statusChange *Status) (Update, error) {
	var out Update
	err := s.apply(ctx, "addMaintenanceUpdate", func(ctx context.Context, tx *store.Tx) (change, error) {
		w, err := s.st.get(ctx, tx, id, true)
		if err != nil {
			return change{}, err
		}
		ch := change{action: ActionUpdateAdded, window: w, systems: w.SystemIDs}
		if statusChange != nil && *statusChange != w.Status {
			if ch, err = s.move(ctx, tx, w, *statusChange, s.now()); err != nil {
				return change{}, err
			}
		} else {
			w.UpdatedAt = later(s.now(), w.UpdatedAt)
			if err := s.st.save(ctx, tx, w, w.Status); err != nil {
				return change{}, err
			}
			ch.window = w
		}
		var to string // what the timeline records: a status that really changed
		if statusChange != nil && *statusChange != w.Status {
			to = string(*statusChange)
		}
		e := timeline.New(message, to, by, s.now())
		e, err = s.st.updates.Insert(ctx, tx, id, e)
		if err != nil {
			return change{}, err
		}
		ch.message = message
		out = Update{MaintenanceID: id, Entry: e}
		return ch, nil
	})
	return out, err
}

// Close completes a window in progress now ("Maintenance completed early"
// unless a message is given); a recurring window is scheduled for its
// next occurrence.
func (s *Service) Close(ctx context.Context, by timeline.Author, id string, message *string) (Detail, error) {
	return s.manual(ctx, "closeMaintenance", by, id, Completed, message, "Maintenance completed early")
}

// Cancel cancels a scheduled window, or one in progress (which ends now);
// a recurring window is cancelled with every occurrence to come.
func (s *Service) Cancel(ctx context.Context, by timeline.Author, id string, message *string) (Detail, error) {
	return s.manual(ctx, "cancelMaintenance", by, id, Cancelled, message, "Maintenance cancelled")
}

func (s *Service) manual(ctx context.Context, name string, by timeline.Author, id string, to Status, message *string, def string) (Detail, error) {
	m := def
	if message != nil && *message != "" {
		m = *message
	}
	err := s.apply(ctx, name, func(ctx context.Context, tx *store.Tx) (change, error) {
		w, err := s.st.get(ctx, tx, id, true)
		if err != nil {
			return change{}, err
		}
		now := s.now()
		ch, err := s.move(ctx, tx, w, to, now)
		if err != nil {
			return change{}, err
		}
		if _, err := s.st.updates.Insert(ctx, tx, id, timeline.New(m, string(to), by, now)); err != nil {
			return change{}, err
		}
		ch.message = m
		return ch, nil
	})
	if err != nil {
		return Detail{}, err
	}
	return s.Get(ctx, id)
}

// EditUpdate replaces an update's message.
func (s *Service) EditUpdate(ctx context.Context, updateID, message string) (Update, error) {
	var out Update
	err := s.apply(ctx, "editMaintenanceUpdate", func(ctx context.Context, tx *store.Tx) (change, error) {
		w, err := s.lockParent(ctx, tx, updateID)
		if err != nil {
			return change{}, err
		}
		w.UpdatedAt = later(s.now(), w.UpdatedAt)
		_, e, err := s.st.updates.Edit(ctx, tx, updateID, message, w.UpdatedAt)
		if err != nil {
			return change{}, err
		}
		if err := s.st.save(ctx, tx, w, w.Status); err != nil {
			return change{}, err
		}
		out = Update{MaintenanceID: w.ID, Entry: e}
		return change{action: ActionUpdateEdited, window: w, systems: w.SystemIDs}, nil
	})
	return out, err
}

// DeleteUpdate removes an update from a window's timeline.
func (s *Service) DeleteUpdate(ctx context.Context, updateID string) error {
	return s.apply(ctx, "deleteMaintenanceUpdate", func(ctx context.Context, tx *store.Tx) (change, error) {
		w, err := s.lockParent(ctx, tx, updateID)
		if err != nil {
			return change{}, err
		}
		if _, err := s.st.updates.Delete(ctx, tx, updateID); err != nil {
			return change{}, err
		}
		w.UpdatedAt = later(s.now(), w.UpdatedAt)
		if err := s.st.save(ctx, tx, w, w.Status); err != nil {
			return change{}, err
		}
		return change{action: ActionUpdateDeleted, window: w, systems: w.SystemIDs}, nil
	})
}

func (s *Service) lockParent(ctx context.Context, tx *store.Tx, updateID string) (Window, error) {
	parent, err := s.st.updates.ParentOf(ctx, tx, updateID)
	if err != nil {
		return Window{}, err
	}
	return s.st.get(ctx, tx, parent, true)
}

// Delete deletes a window with its timeline and periods (an error budget
// that excluded its downtime counts it again).
func (s *Service) Delete(ctx context.Context, id string) error {
	return s.apply(ctx, "deleteMaintenance", func(ctx context.Context, tx *store.Tx) (change, error) {
		w, err := s.st.get(ctx, tx, id, true)
		if err != nil {
			return change{}, err
		}
		live, err := s.st.hasPeriods(ctx, tx, id)
		if err != nil {
			return change{}, err
		}
		if err := s.st.delete(ctx, tx, id); err != nil {
			return change{}, err
		}
		return change{action: ActionDeleted, window: w, systems: w.SystemIDs, live: live}, nil
	})
}

// SystemDeleted is the catalog's systemDeleted hook: the system leaves
// every window, and a window left with none is deleted. Start-up calls it
// with "" to repair a deletion whose hook never ran.
func (s *Service) SystemDeleted(ctx context.Context, systemID string) {
	var changes []change
	err := mutate.Do(ctx, s.log, "systemDeleted",
		func(ctx context.Context) error {
			return s.st.db.InTx(ctx, func(tx *store.Tx) error {
				changes = changes[:0]
				parents, err := s.st.systems.OrphanParents(ctx, tx)
				if err != nil {
					return err
				}
				for _, id := range parents {
					// Lock the window, then take its orphaned links: the
					// order every writer takes them in.
					w, err := s.st.get(ctx, tx, id, true)
					if errors.Is(err, ErrNotFound) {
						continue // deleted meanwhile
					}
					if err != nil {
						return err
					}
					took, err := s.st.systems.DropOrphans(ctx, tx, id)
					if err != nil {
						return err
					}
					if !took {
						continue // another caller took them
					}
					ch := change{action: ActionSystemRemoved, window: w, systems: systemlink.Union(w.SystemIDs, nonEmpty(systemID))}
					if len(w.SystemIDs) == 0 {
						ch.action = ActionDeleted
						err = s.st.delete(ctx, tx, id)
					} else {
						w.UpdatedAt = later(s.now(), w.UpdatedAt)
						ch.window = w
						err = s.st.save(ctx, tx, w, w.Status)
					}
					if err != nil {
						return err
					}
					changes = append(changes, ch)
				}
				return nil
			})
		},
		func(ctx context.Context) error {
			var errs []error
			if systemID != "" {
				errs = append(errs, s.cache.Invalidate(ctx, keySystem(systemID)))
				_, err := s.cache.InvalidatePrefix(ctx, listFam)
				errs = append(errs, err)
			}
			for _, ch := range changes {
				errs = append(errs, s.invalidate(ctx, ch))
			}
			return errors.Join(errs...)
		},
		func(ctx context.Context) {
			for _, ch := range changes {
				s.signal(ctx, ch)
			}
			s.alarm.Poke()
		})
	if err != nil {
		s.log.ErrorContext(ctx, "cannot remove a deleted system from maintenance windows", "system", systemID, "err", err)
	}
}

func nonEmpty(id string) []string {
	if id == "" {
		return nil
	}
	return []string{id}
}

// The mutation path.

type notice int

const (
	noticeNone notice = iota
	noticeScheduled
	noticeStarted
	noticeCompleted
	noticeCancelled
)

// change is what a mutation or a transition did.
type change struct {
	action  string
	window  Window   // after the change (as it was, for a deletion)
	systems []string // before and after
	notice  notice
	message string
	// live: the maintenance state of the systems moved (see OnLiveChange).
	live bool
	// next is set when a recurring window's occurrence completed and the
	// next one is scheduled.
	next bool
	// audience are the systems whose subscribers are told; nil: the
	// window's.
	audience []string
}

// errNothing is a write's way of saying there was nothing to do: apply
// then changes, invalidates and signals nothing.
var errNothing = errors.New("maintenance: nothing to do")

func (s *Service) apply(ctx context.Context, name string, write func(ctx context.Context, tx *store.Tx) (change, error)) error {
	var ch change
	err := mutate.Do(ctx, s.log, name,
		func(ctx context.Context) error {
			return s.st.db.InTx(ctx, func(tx *store.Tx) (err error) {
				ch, err = write(ctx, tx)
				return err
			})
		},
		func(ctx context.Context) error {
			err := s.invalidate(ctx, ch)
			if ch.live {
				s.live.Run(ctx, ch.systems)
			}
			return err
		},
		func(ctx context.Context) {
			s.signal(ctx, ch)
			s.notify(ctx, ch)
			s.alarm.Poke()
		})
	switch {
	case errors.Is(err, errNothing):
		return nil
	case errors.Is(err, timeline.ErrNotFound):
		return ErrNotFound
	}
	return err
}

func (s *Service) invalidate(ctx context.Context, ch change) error {
	errs := []error{s.cache.Invalidate(ctx, keyWindow(ch.window.ID))}
	for _, id := range ch.systems {
		errs = append(errs, s.cache.Invalidate(ctx, keySystem(id)))
	}
	_, err := s.cache.InvalidatePrefix(ctx, listFam)
	return errors.Join(append(errs, err)...)
}

func (s *Service) signal(ctx context.Context, ch change) {
	p := Payload{MaintenanceID: ch.window.ID, SystemIDs: ch.systems, Action: ch.action}
	if p.SystemIDs == nil {
		p.SystemIDs = []string{}
	}
	if err := s.bus.Broadcast(ctx, SignalUpdated, p); err != nil {
		s.log.WarnContext(ctx, "signal failed", "signal", SignalUpdated, "err", err)
	}
}

func (s *Service) notify(ctx context.Context, ch change) {
	if ch.notice == noticeNone || s.opts.Notifier == nil {
		return
	}
	audience := ch.audience
	if audience == nil {
		audience = ch.window.SystemIDs
	}
	if _, err := s.opts.Notifier.NotifySystems(ctx, audience, s.message(ctx, ch)); err != nil {
		s.log.ErrorContext(ctx, "cannot notify a window's subscribers", "maintenance", ch.window.ID, "err", err)
	}
}

// message is a change as a notification: which systems, when, the status
// and the message posted, with a link to the window.
func (s *Service) message(ctx context.Context, ch change) notification.Message {
	w := ch.window
	title := map[notice]string{noticeScheduled: "Maintenance scheduled: ", noticeStarted: "Maintenance started: ",
		noticeCompleted: "Maintenance completed: ", noticeCancelled: "Maintenance cancelled: "}[ch.notice]
	names := make([]string, len(w.SystemIDs))
	for i, id := range w.SystemIDs {
		names[i] = id
		if s.opts.SystemName != nil {
			names[i] = s.opts.SystemName(ctx, id)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "**Systems:** %s  \n", strings.Join(names, ", "))
	if ch.next {
		fmt.Fprintf(&b, "**Next:** %s  \n", w.span())
	} else {
		fmt.Fprintf(&b, "**When:** %s  \n", w.span())
	}
	if w.Recurrence != nil {
		fmt.Fprintf(&b, "**Repeats:** %s (%s)  \n", w.Recurrence.Rule, w.Recurrence.Timezone)
	}
	fmt.Fprintf(&b, "**Status:** %s", strings.ReplaceAll(string(w.Status), "_", " "))
	if ch.message != "" {
		b.WriteString("\n\n" + ch.message)
	} else if ch.notice == noticeScheduled && w.Description != "" {
		b.WriteString("\n\n" + w.Description)
	}
	return notification.Message{Title: title + w.Title, Body: b.String(), Importance: notification.Info,
		Action: &notification.Action{Label: "View maintenance", URL: "/maintenance/" + w.ID}}
}

// span is the window's occurrence as people read it, in its recurrence's
// time zone (UTC for a one-off window).
func (w Window) span() string {
	loc := time.UTC
	if w.Recurrence != nil {
		if l, err := time.LoadLocation(w.Recurrence.Timezone); err == nil {
			loc = l
		}
	}
	start, end := w.StartAt.In(loc), w.EndAt.In(loc)
	const day, clock = "Mon 2 Jan 2006", "15:04"
	if start.Format(day) == end.Format(day) {
		return start.Format(day+" "+clock) + "–" + end.Format(clock+" MST")
	}
	return start.Format(day+" "+clock+" MST") + " – " + end.Format(day+" "+clock+" MST")
}
