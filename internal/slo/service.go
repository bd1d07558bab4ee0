package slo

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/healthcheck"
	"github.com/checkstack/checkstack/internal/loop"
	"github.com/checkstack/checkstack/internal/maintenance"
	"github.com/checkstack/checkstack/internal/mutate"
	"github.com/checkstack/checkstack/internal/rpc"
	"github.com/checkstack/checkstack/internal/signal"
	"github.com/checkstack/checkstack/internal/store"
)

// Signals.
const (
	// SignalStatusChanged: an objective's status moved (its events, its
	// definition or its alerts changed), or it was deleted.
	SignalStatusChanged = "SLO_STATUS_CHANGED" // {systemId, objectiveId, budgetRemainingPercent, isBreaching, deleted?}
	// SignalDependenciesChanged: a dependency was added or removed.
	SignalDependenciesChanged = "SLO_DEPENDENCIES_CHANGED" // {systemId, upstreamId, action}
)

// StatusPayload is the payload of SignalStatusChanged.
type StatusPayload struct {
	SystemID               string  `json:"systemId"`
	ObjectiveID            string  `json:"objectiveId"`
	BudgetRemainingPercent float64 `json:"budgetRemainingPercent"`
	IsBreaching            bool    `json:"isBreaching"`
	Deleted                bool    `json:"deleted,omitempty"`
}

// HealthReader reads live health; *healthcheck.Service is one.
type HealthReader interface {
	BulkHealth(ctx context.Context, systemIDs []string) ([]healthcheck.SystemStatus, error)
}

// MaintenanceReader reads the stretches systems were under maintenance;
// *maintenance.Service is one.
type MaintenanceReader interface {
	// Periods returns, for each system, the periods of its windows that
	// had not ended by since (an ongoing one has no EndedAt).
	Periods(ctx context.Context, systemIDs []string, since time.Time) (map[string][]maintenance.Period, error)
}

// Options configure a Service. Zero values are the defaults shown.
type Options struct {
	// TTL is how long reads stay cached; 15s. Every change of events or
	// objectives invalidates at once; the TTL bounds how stale the
	// figures that move with the clock alone (budget spent by an ongoing
	// outage) may be.
	TTL time.Duration
	// SystemName names an upstream system for the events blamed on it;
	// nil: events carry the id only.
	SystemName func(ctx context.Context, id string) (string, error)
	// OnAlert is told when an objective starts or stops breaching, or its
	// budget starts burning fast or slowly; nil: nobody is told.
	OnAlert func(ctx context.Context, a Alert)
	// SweepEvery is how often every system is reconciled with live health
	// and every objective's alerts evaluated; 1m.
	SweepEvery time.Duration
	// Retention is how long events are kept after they end; 400 days
	// (longer than the longest window).
	Retention time.Duration
	// Maintenance reads maintenance periods, which clip the downtime of
	// objectives that exclude maintenance; nil: there is none.
	Maintenance MaintenanceReader
	// Now is the clock; time.Now.
	Now func() time.Time
}

// Service is the SLO domain: objectives, dependencies, the engine that
// records downtime, and the cached reads. Safe for concurrent use.
type Service struct {
	st     sqlStore
	cache  *cache.Scope
	bus    signal.Bus
	health HealthReader
	log    *slog.Logger
	opts   Options

	// locks serialise reconciliation per system (by stripe) within this
	// instance; across instances the unique index on open events does.
	seed  maphash.Seed
	locks [64]sync.Mutex

	jobs loop.Loop
}

// New returns the SLO service on db, caching through provider and reading
// live health from health.
func New(db *store.DB, provider cache.Provider, bus signal.Bus, health HealthReader, log *slog.Logger, opts Options) *Service {
	if opts.TTL <= 0 {
		opts.TTL = 15 * time.Second
	}
	if opts.SweepEvery <= 0 {
		opts.SweepEvery = time.Minute
	}
	if opts.Retention <= 0 {
		opts.Retention = 400 * 24 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log = log.With("component", "slo")
	return &Service{
		st: sqlStore{db: db.For("slo")},
		cache: cache.NewScope(provider, cache.ScopeOptions{
			Name:       scopeName,
			DefaultTTL: opts.TTL,
			OnError:    func(op string, err error) { log.Warn("cache provider error", "op", op, "err", err) },
		}),
		bus:    bus,
		health: health,
		log:    log,
		opts:   opts,
		seed:   maphash.MakeSeed(),
	}
}

// Scope is the service's cache scope, for metrics.
func (s *Service) Scope() *cache.Scope { return s.cache }

func (s *Service) now() time.Time { return s.opts.Now().UTC().Truncate(time.Microsecond) }

func newID() string { return rand.Text() }

// Reads.

// List returns every objective with its status.
func (s *Service) List(ctx context.Context) ([]ObjectiveStatus, error) {
	return cache.Wrap(ctx, s.cache, keyList, s.loadList)
}

func (s *Service) loadList(ctx context.Context) ([]ObjectiveStatus, error) {
	os, err := s.st.allObjectives(ctx)
	if err != nil {
		return nil, err
	}
	return s.withStatus(ctx, os)
}

// Objective returns one objective with its status.
func (s *Service) Objective(ctx context.Context, id string) (ObjectiveStatus, error) {
	return cache.WrapFound(ctx, s.cache, keyObjective(id), ErrNotFound, func(ctx context.Context) (ObjectiveStatus, error) {
		o, err := s.st.objective(ctx, id)
		if err != nil {
			return ObjectiveStatus{}, err
		}
		out, err := s.withStatus(ctx, []Objective{o})
		if err != nil {
			return ObjectiveStatus{}, err
		}
		return out[0], nil
	})
}

// ForSystem returns a system's objectives with their statuses.
func (s *Service) ForSystem(ctx context.Context, systemID string) ([]ObjectiveStatus, error) {
	out, err := s.ForSystems(ctx, []string{systemID})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// ForSystems returns each system's objectives with their statuses, in
// order (see SystemsJSON).
func (s *Service) ForSystems(ctx context.Context, systemIDs []string) ([][]ObjectiveStatus, error) {
	raws, err := s.SystemsJSON(ctx, systemIDs)
	if err != nil {
		return nil, err
	}
	return cache.DecodeJSON[[]ObjectiveStatus](raws)
}

// SystemsJSON returns, for each system in order, its objectives with their
// statuses as a JSON array, the form the API serves: a warm read copies
// bytes and encodes nothing. Entries (system:<id>) are shared by every
// read of a system, single or bulk, so dashboards asking for overlapping
// sets share them; the misses load together, in three queries (objectives,
// events, health) whatever their number.
func (s *Service) SystemsJSON(ctx context.Context, systemIDs []string) ([]json.RawMessage, error) {
	return cache.WrapManyBatched(ctx, s.cache, systemIDs, keySystem, func(ctx context.Context, ids []string) ([]json.RawMessage, error) {
		lists, err := s.loadSystems(ctx, ids)
		if err != nil {
			return nil, err
		}
		out := make([]json.RawMessage, len(lists))
		for i, l := range lists {
			if out[i], err = json.Marshal(l); err != nil {
				return nil, fmt.Errorf("slo: encode objectives of %s: %w", ids[i], err)
			}
		}
		return out, nil
	})
}

func (s *Service) loadSystems(ctx context.Context, systemIDs []string) ([][]ObjectiveStatus, error) {
	bySystem, err := s.st.objectivesOf(ctx, systemIDs)
	if err != nil {
		return nil, err
	}
	var all []Objective
	for _, id := range systemIDs {
		all = append(all, bySystem[id]...)
	}
	statuses, err := s.withStatus(ctx, all)
	if err != nil {
		return nil, err
	}
	out := make([][]ObjectiveStatus, len(systemIDs))
	i := 0
	for k, id := range systemIDs {
		n := len(bySystem[id])
		out[k] = statuses[i : i+n : i+n]
		i += n
	}
	return out, nil
}

// withStatus computes the status of each objective: one query for their
// events, one health read for their systems.
func (s *Service) withStatus(ctx context.Context, os []Objective) ([]ObjectiveStatus, error) {
	out := make([]ObjectiveStatus, len(os))
	if len(os) == 0 {
		return out, nil
	}
	now := s.now()
	ids := make([]string, len(os))
	var systems []string
	longest := time.Duration(0)
	for i, o := range os {
		ids[i] = o.ID
		systems = append(systems, o.SystemID)
		longest = max(longest, o.Window())
	}
	events, err := s.st.eventsSince(ctx, ids, now.Add(-longest))
	if err != nil {
		return nil, err
	}
	health, err := s.healthOf(ctx, systems)
	if err != nil {
		return nil, err
	}
	periods, err := s.maintenanceOf(ctx, systems, now.Add(-longest))
	if err != nil {
		return nil, err
	}
	for i, o := range os {
		live := liveOf(o, health[o.SystemID])
		live.Maintenance = periods[o.SystemID]
		out[i] = ObjectiveStatus{Objective: o, Status: ComputeStatus(o, events[o.ID], live, now)}
	}
	return out, nil
}

// maintenanceOf reads the maintenance periods of the systems since since,
// as intervals.
func (s *Service) maintenanceOf(ctx context.Context, systemIDs []string, since time.Time) (map[string][]Interval, error) {
	if s.opts.Maintenance == nil {
		return nil, nil
	}
	ids := slices.Compact(slices.Sorted(slices.Values(systemIDs)))
	ps, err := s.opts.Maintenance.Periods(ctx, ids, since)
	if err != nil {
		return nil, fmt.Errorf("slo: maintenance periods: %w", err)
	}
	out := make(map[string][]Interval, len(ps))
	for sys, list := range ps {
		for _, p := range list {
			in := Interval{From: p.StartedAt}
			if p.EndedAt != nil {
				in.To = *p.EndedAt
			}
			out[sys] = append(out[sys], in)
		}
	}
	return out, nil
}

// MaintenanceChanged is told the systems whose maintenance state moved (a
// window started, ended, moved or was deleted): the statuses of their
// objectives, which maintenance clips, are dropped and announced.
func (s *Service) MaintenanceChanged(ctx context.Context, systemIDs []string) {
	bySystem, err := s.st.objectivesOf(ctx, systemIDs)
	if err != nil {
		s.log.ErrorContext(ctx, "cannot read the objectives of systems under maintenance", "err", err)
		return
	}
	var os []Objective
	var ids []string
	for _, id := range systemIDs {
		for _, o := range bySystem[id] {
			os = append(os, o)
			ids = append(ids, o.ID)
		}
	}
	if err := s.invalidate(ctx, ids, systemIDs); err != nil {
		s.log.WarnContext(ctx, "cache invalidation failed", "err", err)
	}
	s.announce(ctx, os)
}

// healthOf reads the live health of the systems (each once).
func (s *Service) healthOf(ctx context.Context, systemIDs []string) (map[string]healthcheck.SystemStatus, error) {
	ids := slices.Compact(slices.Sorted(slices.Values(systemIDs)))
	hs, err := s.health.BulkHealth(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]healthcheck.SystemStatus, len(hs))
	for _, h := range hs {
		out[h.SystemID] = h
	}
	return out, nil
}

// isDown is the rule for downtime: a system (or check) is down while it
// is degraded or unhealthy — it has left healthy. Unknown (no run has
// decided) is not downtime.
func isDown(st healthcheck.Status) bool {
	return st == healthcheck.Degraded || st == healthcheck.Unhealthy
}

// liveOf is what live health says of an objective's subject: its one
// check when it names one (a check gone from the system is not down),
// else the system.
func liveOf(o Objective, h healthcheck.SystemStatus) Live {
	if o.ConfigurationID != "" {
		for _, c := range h.Checks {
			if c.ConfigurationID == o.ConfigurationID {
				return Live{Down: c.Enabled && isDown(c.Status)}
			}
		}
		return Live{}
	}
	l := Live{Down: isDown(h.Status)}
	if h.Since != nil {
		l.Since = *h.Since
	}
	return l
}

// Dependencies lists a system's links in both directions.
func (s *Service) Dependencies(ctx context.Context, systemID string) (Dependencies, error) {
	return s.st.dependencies(ctx, systemID)
}

// Events lists an objective's downtime events overlapping [from, to),
// newest first.
func (s *Service) Events(ctx context.Context, objectiveID string, from, to time.Time, limit int) ([]Event, error) {
	if _, err := s.st.objective(ctx, objectiveID); err != nil {
		return nil, err
	}
	return s.st.eventsPage(ctx, objectiveID, from, to, limit)
}

// Mutations.

// ObjectiveInput is what may be set on an objective; nil fields are left
// alone by UpdateObjective (and take defaults on create).
type ObjectiveInput struct {
	SystemID            *string
	Name                *string
	Description         *string
	Target              *float64
	WindowDays          *int
	Mode                *Mode
	ExcludedUpstreamIDs []string // nil: unchanged
	ConfigurationID     *string  // "": the system's aggregate health
	Maintenance         *MaintenanceMode
}

func (in ObjectiveInput) apply(o Objective) Objective {
	set(&o.SystemID, in.SystemID)
	set(&o.Name, in.Name)
	set(&o.Description, in.Description)
	set(&o.Target, in.Target)
	set(&o.WindowDays, in.WindowDays)
	set(&o.Mode, in.Mode)
	set(&o.ConfigurationID, in.ConfigurationID)
	set(&o.Maintenance, in.Maintenance)
	if in.ExcludedUpstreamIDs != nil {
		o.ExcludedUpstreamIDs = slices.Compact(slices.Sorted(slices.Values(in.ExcludedUpstreamIDs)))
	}
	return o
}

func set[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// checkObjective validates what the input could not check alone: the
// system does not exclude itself, and a named check is one of its own.
func (s *Service) checkObjective(ctx context.Context, o Objective) error {
	if err := checkExclusions(o); err != nil {
		return err
	}
	return s.checkCheck(ctx, o)
}

// checkExclusions checks that the objective's system does not exclude
// itself.
func checkExclusions(o Objective) error {
	if slices.Contains(o.ExcludedUpstreamIDs, o.SystemID) {
		return rpc.Invalid("excludedUpstreamIds", "must not contain the objective's own system")
	}
	return nil
}

// checkCheck checks, against live health, that the check the objective
// names (if any) is one of its system's.
func (s *Service) checkCheck(ctx context.Context, o Objective) error {
	if o.ConfigurationID == "" {
		return nil
	}
	h, err := s.healthOf(ctx, []string{o.SystemID})
	if err != nil {
		return err
	}
	for _, c := range h[o.SystemID].Checks {
		if c.ConfigurationID == o.ConfigurationID {
			return nil
		}
	}
	return rpc.Invalid("healthCheckConfigurationId", "is not a health check of the objective's system")
}

// CreateObjective creates an objective. On a system that is down already
// it opens a downtime event at once.
func (s *Service) CreateObjective(ctx context.Context, in ObjectiveInput) (ObjectiveStatus, error) {
	now := s.now()
	o := in.apply(Objective{ID: newID(), Mode: Strict, Maintenance: MaintenanceExclude, ExcludedUpstreamIDs: []string{}, CreatedAt: now, UpdatedAt: now})
	if err := s.checkObjective(ctx, o); err != nil {
		return ObjectiveStatus{}, err
	}
	err := s.mutateObjective(ctx, "createObjective", func(ctx context.Context) (Objective, []string, error) {
		return o, []string{o.SystemID}, s.st.createObjective(ctx, o)
	})
	if err != nil {
		return ObjectiveStatus{}, err
	}
	return s.Objective(ctx, o.ID)
}

// UpdateObjective sets the fields in gives and leaves the others as
// stored. Moving it to another system closes its open event there and
// reconciles it on the new one; both systems' cached entries are dropped.
//
// The objective is read, checked and written in one transaction that
// holds its row, so of two updates at once the second starts from, and is
// checked against, what the first wrote, and each drops the system the
// objective was really on. Whether a named check is one of the system's
// is live health, another domain's read, which runs before the
// transaction rather than while it holds the row; the transaction writes
// only if the system and check it arrives at are the ones checked, and
// when an update moved the objective in between, this one starts again.
func (s *Service) UpdateObjective(ctx context.Context, id string, in ObjectiveInput) (ObjectiveStatus, error) {
	const attempts = 5
	for attempt := 1; ; attempt++ {
		seen, err := s.st.objective(ctx, id)
		if err != nil {
			return ObjectiveStatus{}, err
		}
		checked := in.apply(seen)
		if err := s.checkCheck(ctx, checked); err != nil {
			return ObjectiveStatus{}, err
		}
		err = s.mutateObjective(ctx, "updateObjective", func(ctx context.Context) (Objective, []string, error) {
			was, o, err := s.st.updateObjective(ctx, id, func(stored Objective) (Objective, error) {
				o := in.apply(stored)
				if o.SystemID != checked.SystemID || o.ConfigurationID != checked.ConfigurationID {
					return o, errMoved
				}
				o.UpdatedAt = s.now()
				if !o.UpdatedAt.After(stored.UpdatedAt) {
					o.UpdatedAt = stored.UpdatedAt.Add(time.Microsecond) // updatedAt only grows
				}
				return o, checkExclusions(o)
			})
			return o, []string{was.SystemID, o.SystemID}, err
		})
		if errors.Is(err, errMoved) && attempt < attempts {
			continue
		}
		if err != nil {
			return ObjectiveStatus{}, err
		}
		return s.Objective(ctx, id)
	}
}

// DeleteObjective deletes an objective with its events.
func (s *Service) DeleteObjective(ctx context.Context, id string) error {
	var systemID string // the system it was on when deleted
	return mutate.Do(ctx, s.log, "deleteObjective",
		func(ctx context.Context) (err error) {
			systemID, err = s.st.deleteObjective(ctx, id)
			return err
		},
		func(ctx context.Context) error { return s.invalidate(ctx, []string{id}, []string{systemID}) },
		func(ctx context.Context) {
			s.broadcast(ctx, SignalStatusChanged, StatusPayload{SystemID: systemID, ObjectiveID: id, Deleted: true})
		})
}

// mutateObjective runs write, which returns the objective it wrote and
// the systems it touched; brings the events of those systems up to date
// with live health, drops the objective's, the list's and the systems'
// entries, and signals the objective's new status.
func (s *Service) mutateObjective(ctx context.Context, name string, write func(context.Context) (Objective, []string, error)) error {
	var o Objective
	var systems []string
	var changed []Objective
	err := mutate.Do(ctx, s.log, name,
		func(ctx context.Context) (err error) {
			if o, systems, err = write(ctx); err != nil {
				return err
			}
			changed = []Objective{o}
			for _, sys := range slices.Compact(slices.Sorted(slices.Values(systems))) {
				// The objective is written; a failure here is repaired by
				// the next sweep, so it is logged, not returned.
				moved, err := s.reconcileEvents(ctx, sys)
				if err != nil {
					s.log.ErrorContext(ctx, "cannot reconcile downtime events", "system", sys, "err", err)
				}
				for _, m := range moved {
					if m.ID != o.ID {
						changed = append(changed, m)
					}
				}
			}
			return nil
		},
		func(ctx context.Context) error {
			ids := make([]string, len(changed))
			for i, c := range changed {
				ids[i] = c.ID
				systems = append(systems, c.SystemID)
			}
			return s.invalidate(ctx, ids, systems)
		},
		func(ctx context.Context) { s.announce(ctx, changed) })
	if errors.Is(err, errUnknownSystem) {
		return rpc.NotFound("system", o.SystemID)
	}
	return err
}

// AddDependency makes systemID depend on upstreamID, then re-attributes
// the system's ongoing downtime.
func (s *Service) AddDependency(ctx context.Context, systemID, upstreamID string) error {
	return s.changeDependency(ctx, "added", systemID, upstreamID,
		func(ctx context.Context) error { return s.st.addDependency(ctx, systemID, upstreamID, s.now()) })
}

// RemoveDependency removes a link, then re-attributes the system's
// ongoing downtime.
func (s *Service) RemoveDependency(ctx context.Context, systemID, upstreamID string) error {
	return s.changeDependency(ctx, "removed", systemID, upstreamID,
		func(ctx context.Context) error { return s.st.removeDependency(ctx, systemID, upstreamID) })
}

func (s *Service) changeDependency(ctx context.Context, action, systemID, upstreamID string, write func(context.Context) error) error {
	err := mutate.Do(ctx, s.log, "dependency "+action, write, nil, func(ctx context.Context) {
		s.broadcast(ctx, SignalDependenciesChanged, map[string]string{"systemId": systemID, "upstreamId": upstreamID, "action": action})
	})
	if errors.Is(err, errUnknownSystem) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	// Blame follows the graph: reconcile as the engine would (it
	// invalidates and signals what moved).
	if err := s.Reconcile(context.WithoutCancel(ctx), systemID); err != nil {
		s.log.ErrorContext(ctx, "cannot reconcile downtime events", "system", systemID, "err", err)
	}
	return nil
}

// invalidate drops the list and the entries of the objectives and
// systems.
func (s *Service) invalidate(ctx context.Context, objectives, systems []string) error {
	errs := []error{s.cache.Invalidate(ctx, keyList)}
	for _, id := range slices.Compact(slices.Sorted(slices.Values(objectives))) {
		errs = append(errs, s.cache.Invalidate(ctx, keyObjective(id)))
	}
	for _, id := range slices.Compact(slices.Sorted(slices.Values(systems))) {
		errs = append(errs, s.cache.Invalidate(ctx, keySystem(id)))
	}
	return errors.Join(errs...)
}

// announce signals the fresh status of each objective (read through the
// cache after its invalidation, so the read also warms it), and returns
// the statuses it read.
func (s *Service) announce(ctx context.Context, os []Objective) []ObjectiveStatus {
	out := make([]ObjectiveStatus, 0, len(os))
	for _, o := range os {
		st, err := s.Objective(ctx, o.ID)
		if err != nil {
			if !errors.Is(err, ErrNotFound) {
				s.log.WarnContext(ctx, "cannot read a status to announce", "objective", o.ID, "err", err)
			}
			continue
		}
		out = append(out, st)
		s.broadcast(ctx, SignalStatusChanged, StatusPayload{SystemID: st.Objective.SystemID, ObjectiveID: o.ID,
			BudgetRemainingPercent: st.Status.ErrorBudget.RemainingPercent, IsBreaching: st.Status.IsBreaching})
	}
	return out
}

func (s *Service) broadcast(ctx context.Context, name string, payload any) {
	if err := s.bus.Broadcast(ctx, name, payload); err != nil {
		s.log.WarnContext(ctx, "signal failed", "signal", name, "err", err)
	}
}
