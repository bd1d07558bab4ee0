package slo

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"time"

	"github.com/checkstack/checkstack/internal/healthcheck"
	"github.com/checkstack/checkstack/internal/loop"
	"github.com/checkstack/checkstack/internal/store"
)

// The engine keeps each objective's open downtime event in line with live
// health. See the package documentation for its invariants.

// SystemStatusChanged is the healthcheck systemStatusChanged hook: the
// system and every system depending on it are reconciled (blame moves
// with an upstream's health).
func (s *Service) SystemStatusChanged(ctx context.Context, c healthcheck.StatusChange) {
	systems := []string{c.SystemID}
	down, err := s.st.downstreams(ctx, c.SystemID)
	if err != nil {
		s.log.ErrorContext(ctx, "cannot read dependents", "system", c.SystemID, "err", err)
	}
	if err := s.Reconcile(ctx, append(systems, down...)...); err != nil {
		s.log.ErrorContext(ctx, "cannot reconcile downtime events", "system", c.SystemID, "err", err)
	}
}

// CheckStatusChanged is the healthcheck check-status hook, for objectives
// based on one check.
func (s *Service) CheckStatusChanged(ctx context.Context, c healthcheck.CheckChange) {
	if err := s.Reconcile(ctx, c.SystemID); err != nil {
		s.log.ErrorContext(ctx, "cannot reconcile downtime events", "system", c.SystemID, "err", err)
	}
}

// SystemDeleted is the catalog's systemDeleted hook. The system's
// objectives, events and links went with it (ON DELETE CASCADE); its
// cached entries are dropped, and the systems whose ongoing downtime was
// blamed on it are reconciled (the blame falls back on themselves).
func (s *Service) SystemDeleted(ctx context.Context, systemID string) {
	_, err := s.cache.InvalidatePrefix(ctx, objectiveFam)
	err = errors.Join(err, s.cache.Invalidate(ctx, keyList), s.cache.Invalidate(ctx, keySystem(systemID)))
	if err != nil {
		s.log.WarnContext(ctx, "cache invalidation failed", "system", systemID, "err", err)
	}
	blamed, err := store.Strings(ctx, s.st.db, `SELECT DISTINCT system_id FROM slo_downtime_events WHERE ended_at IS NULL AND upstream_id = ?`, systemID)
	if err != nil {
		s.log.ErrorContext(ctx, "cannot read events blamed on a deleted system", "system", systemID, "err", err)
		return
	}
	if err := s.Reconcile(ctx, blamed...); err != nil {
		s.log.ErrorContext(ctx, "cannot reconcile downtime events", "err", err)
	}
}

// Reconcile brings the downtime events of each system in line with live
// health, then drops the cached entries of what moved, signals each moved
// objective's status, and evaluates its alerts.
func (s *Service) Reconcile(ctx context.Context, systemIDs ...string) error {
	var changed []Objective
	var errs []error
	for _, id := range slices.Compact(slices.Sorted(slices.Values(systemIDs))) {
		moved, err := s.reconcileEvents(ctx, id)
		errs = append(errs, err)
		changed = append(changed, moved...)
	}
	if len(changed) > 0 {
		// The events moved: finish invalidating and telling even if the
		// caller goes away.
		ctx = context.WithoutCancel(ctx)
		ids := make([]string, len(changed))
		systems := make([]string, len(changed))
		for i, o := range changed {
			ids[i], systems[i] = o.ID, o.SystemID
		}
		// The alert states are read before the statuses are computed, so
		// that a state another evaluation moved meanwhile refuses ours.
		states, err := s.st.alertStates(ctx, ids)
		errs = append(errs, err, s.invalidate(ctx, ids, systems))
		statuses := s.announce(ctx, changed)
		if err == nil {
			s.evaluate(ctx, states, statuses)
		}
	}
	return errors.Join(errs...)
}

// reconcileEvents makes the open events of a system's objectives match
// live health, and returns the objectives whose events moved. What to do
// is planned first from a plain read, so that the usual case — nothing to
// change — takes no write transaction; a plan with steps is made again
// and applied inside one.
//
// It holds the system's lock within this instance; across instances, the
// unique index on open events makes a concurrent writer's transaction
// fail, and it starts again from what is stored then.
func (s *Service) reconcileEvents(ctx context.Context, systemID string) ([]Objective, error) {
	mu := &s.locks[maphash.String(s.seed, systemID)%uint64(len(s.locks))]
	mu.Lock()
	defer mu.Unlock()

	objs, ups, open, err := s.st.systemEvents(ctx, s.st.db, systemID, false)
	if err != nil || len(objs) == 0 {
		return nil, err
	}
	health, names, err := s.live(ctx, systemID, ups)
	if err != nil {
		return nil, err
	}
	if len(plan(objs, ups, health, open, s.now())) == 0 {
		return nil, nil
	}

	const attempts = 5
	for attempt := 1; ; attempt++ {
		var changed []Objective
		err := s.st.db.InTx(ctx, func(tx *store.Tx) error {
			// Everything but health is read again inside the transaction
			// (and, on PostgreSQL, the objectives held against moves and
			// deletes until it ends); health belongs to another domain and
			// is never read while a transaction is open.
			objs, ups, open, err := s.st.systemEvents(ctx, tx, systemID, true)
			if err != nil {
				return err
			}
			changed = changed[:0]
			for _, st := range plan(objs, ups, health, open, s.now()) {
				if st.close != nil {
					if err := closeEvent(ctx, tx, st.close.ID, st.closeAt); err != nil {
						return err
					}
				}
				if st.open != nil {
					e := *st.open
					e.ID, e.UpstreamName = newID(), names[e.UpstreamID]
					if err := openEvent(ctx, tx, e); err != nil {
						return err
					}
				}
				changed = append(changed, st.objective)
			}
			return nil
		})
		if errors.Is(err, errConflict) && attempt < attempts {
			// Another writer moved the events meanwhile: health may
			// have moved too.
			if health, names, err = s.live(ctx, systemID, ups); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("slo: reconcile %s: %w", systemID, err)
		}
		return changed, nil
	}
}

// live reads the health of a system and its upstreams, and the names of
// the upstreams that are down (those an event may be blamed on).
func (s *Service) live(ctx context.Context, systemID string, ups []string) (map[string]healthcheck.SystemStatus, map[string]string, error) {
	health, err := s.healthOf(ctx, append([]string{systemID}, ups...))
	if err != nil {
		return nil, nil, err
	}
	names := map[string]string{}
	for _, u := range ups {
		if isDown(health[u].Status) {
			names[u] = s.name(ctx, u)
		}
	}
	return health, names, nil
}

// step is one change to an objective's events: close its open event at
// closeAt, open a new one, or both at the same instant.
type step struct {
	objective Objective
	close     *Event
	closeAt   time.Time
	open      *Event // without its id
}

// plan decides the steps that bring the open events of one system's
// objectives in line with live health at now:
//
//   - subject up, event open → close it (at the recovery health reports,
//     when it knows it, else now);
//   - subject down, no event → open one, blamed on the first upstream (by
//     id) that is down and not excluded, else on the system itself;
//   - subject down, event open with other blame → close it and open one
//     with the new blame at the same instant;
//   - an open event left on another system (the objective moved) → close
//     it now, and open one here if this system is down.
//
// It is pure: the same input gives the same steps.
func plan(objs []Objective, ups []string, health map[string]healthcheck.SystemStatus, open map[string]Event, now time.Time) []step {
	var steps []step
	for _, o := range objs {
		live := liveOf(o, health[o.SystemID])
		cur, has := open[o.ID]
		st := step{objective: o}
		at := now
		if has && at.Before(cur.StartedAt) {
			at = cur.StartedAt // a clock behind the one that opened it: no inverted or overlapping events
		}
		if has && cur.SystemID != o.SystemID {
			st.close, st.closeAt = &cur, at
			has = false
		}
		switch {
		case !live.Down:
			if has {
				st.close, st.closeAt = &cur, recoveredAt(cur, live, at)
			}
		default:
			want := Event{ObjectiveID: o.ID, SystemID: o.SystemID, StartedAt: at, Attribution: Self}
			for _, u := range ups {
				if isDown(health[u].Status) && !o.excludes(u) {
					want.Attribution, want.UpstreamID = Upstream, u
					break
				}
			}
			if has && cur.Attribution == want.Attribution && cur.UpstreamID == want.UpstreamID {
				break
			}
			if has {
				st.close, st.closeAt = &cur, at
			}
			st.open = &want
		}
		if st.close != nil || st.open != nil {
			steps = append(steps, st)
		}
	}
	return steps
}

// recoveredAt is when an open event ends on recovery: when health says
// the subject came back, if that is known and after the event began
// (the recovery was missed: an instance stopped before recording it),
// else now.
func recoveredAt(e Event, live Live, now time.Time) time.Time {
	if !live.Since.IsZero() && live.Since.After(e.StartedAt) && live.Since.Before(now) {
		return live.Since
	}
	return now
}

func (s *Service) name(ctx context.Context, systemID string) string {
	if s.opts.SystemName == nil {
		return ""
	}
	n, err := s.opts.SystemName(ctx, systemID)
	if err != nil {
		s.log.WarnContext(ctx, "cannot name an upstream system", "system", systemID, "err", err)
		return ""
	}
	return n
}

// Sweep reconciles every system whose events disagree with live health,
// and evaluates every objective's alerts. It repairs what a hook missed (a
// recovery while no instance ran, a failed write), and raises the alerts
// that move with the clock alone. It runs at start and every SweepEvery,
// reading everything in a few queries and writing only where a plan has
// steps.
func (s *Service) Sweep(ctx context.Context) error {
	os, err := s.st.allObjectives(ctx)
	if err != nil {
		return err
	}
	if len(os) == 0 {
		return nil
	}
	ups, err := s.st.allUpstreams(ctx)
	if err != nil {
		return err
	}
	bySystem := map[string][]Objective{}
	ids := make([]string, len(os))
	systems := []string{}
	for i, o := range os {
		ids[i] = o.ID
		bySystem[o.SystemID] = append(bySystem[o.SystemID], o)
		systems = append(systems, o.SystemID)
		systems = append(systems, ups[o.SystemID]...)
	}
	health, err := s.healthOf(ctx, systems)
	if err != nil {
		return err
	}
	open, err := s.st.openEventsOf(ctx, s.st.db, ids)
	if err != nil {
		return err
	}
	var stale []string
	for sys, objs := range bySystem {
		if len(plan(objs, ups[sys], health, open, s.now())) > 0 {
			stale = append(stale, sys)
		}
	}
	err = s.Reconcile(ctx, stale...)
	// Alerts move with the clock: evaluate on statuses computed now, not
	// on cached ones up to a TTL old, against the states read before them.
	states, serr := s.st.alertStates(ctx, ids)
	if serr != nil {
		return errors.Join(err, serr)
	}
	statuses, serr := s.withStatus(ctx, os)
	if serr != nil {
		return errors.Join(err, serr)
	}
	s.evaluate(ctx, states, statuses)
	return err
}

// Alerts.

// AlertKind is what an Alert announces.
type AlertKind string

const (
	AlertBreaching AlertKind = "breaching" // availability fell below the target
	AlertRecovered AlertKind = "recovered" // availability is back at or above the target
	AlertFastBurn  AlertKind = "fast-burn" // the fast-burn alert started
	AlertSlowBurn  AlertKind = "slow-burn" // the slow-burn alert started
)

// Alert is an objective's alert state moving.
type Alert struct {
	Kind      AlertKind
	Objective Objective
	Status    Status
}

// Message is the alert as a notification: a title, a body and an
// importance (info, warning or critical).
func (a Alert) Message() (title, body, importance string) {
	o, st := a.Objective, a.Status
	switch a.Kind {
	case AlertBreaching:
		return "SLO breached: " + o.Name,
			fmt.Sprintf("Availability is %.3f%% over the last %d days, below the %g%% target; %.1f%% of the error budget remains.",
				st.Availability, o.WindowDays, o.Target, st.ErrorBudget.RemainingPercent), "critical"
	case AlertRecovered:
		return "SLO back within target: " + o.Name,
			fmt.Sprintf("Availability is %.3f%% over the last %d days, at or above the %g%% target.",
				st.Availability, o.WindowDays, o.Target), "info"
	case AlertFastBurn:
		return "Error budget burning fast: " + o.Name,
			fmt.Sprintf("The error budget is burning %.1f× faster than sustainable over the last hour (%.1f× over 5 minutes); %.1f%% remains.",
				st.BurnRates.OneHour, st.BurnRates.FiveMinutes, st.ErrorBudget.RemainingPercent), "critical"
	default:
		return "Error budget burning: " + o.Name,
			fmt.Sprintf("The error budget is burning %.1f× faster than sustainable over the last 6 hours (%.1f× over 30 minutes); %.1f%% remains.",
				st.BurnRates.SixHours, st.BurnRates.ThirtyMinutes, st.ErrorBudget.RemainingPercent), "warning"
	}
}

// alertLevel is the stored form of the burn alerts: "", "slow" or "fast".
func alertLevel(a Alerts) string {
	switch {
	case a.FastBurn:
		return "fast"
	case a.SlowBurn:
		return "slow"
	}
	return ""
}

func levelRank(l string) int { return map[string]int{"": 0, "slow": 1, "fast": 2}[l] }

// evaluate compares each objective's status with states, the alert states
// read before the statuses were computed, and announces what changed,
// once across instances: the state moves by an update conditional on
// prev, so an evaluation working from statuses older than the stored state
// changes nothing. Escalations and breach changes are told to OnAlert; a
// burn alert that calms down only updates the state.
func (s *Service) evaluate(ctx context.Context, states map[string]alertState, statuses []ObjectiveStatus) {
	for _, st := range statuses {
		id := st.Objective.ID
		prev, ok := states[id]
		if !ok {
			continue // created or deleted meanwhile: the next evaluation sees it
		}
		level, breaching := alertLevel(st.Status.Alerts), st.Status.IsBreaching
		if level == prev.level && breaching == prev.breaching {
			continue
		}
		moved, err := s.st.moveAlertState(ctx, id, prev.level, prev.breaching, level, breaching)
		if err != nil || !moved {
			if err != nil {
				s.log.WarnContext(ctx, "cannot record alert state", "objective", id, "err", err)
			}
			continue // another evaluation announced it
		}
		ctx := context.WithoutCancel(ctx) // moved: it must be told
		var kinds []AlertKind
		switch {
		case breaching && !prev.breaching:
			kinds = append(kinds, AlertBreaching)
		case !breaching && prev.breaching:
			kinds = append(kinds, AlertRecovered)
		}
		if levelRank(level) > levelRank(prev.level) {
			kinds = append(kinds, map[string]AlertKind{"slow": AlertSlowBurn, "fast": AlertFastBurn}[level])
		}
		// The figures behind the alert moved with the clock: drop the
		// cached reads before telling anyone.
		if err := s.invalidate(ctx, []string{id}, []string{st.Objective.SystemID}); err != nil {
			s.log.WarnContext(ctx, "cache invalidation failed", "objective", id, "err", err)
		}
		s.broadcast(ctx, SignalStatusChanged, StatusPayload{SystemID: st.Objective.SystemID, ObjectiveID: id,
			BudgetRemainingPercent: st.Status.ErrorBudget.RemainingPercent, IsBreaching: breaching})
		if s.opts.OnAlert != nil {
			for _, k := range kinds {
				s.opts.OnAlert(ctx, Alert{Kind: k, Objective: st.Objective, Status: st.Status})
			}
		}
	}
}

// Background jobs.

// Start runs the sweep (at once, then every SweepEvery) and the daily
// purge of old events, until ctx ends or Stop is called.
func (s *Service) Start(ctx context.Context) {
	s.jobs.Start(ctx,
		func(ctx context.Context) {
			loop.Every(ctx, s.opts.SweepEvery, func(ctx context.Context) {
				if err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
					s.log.ErrorContext(ctx, "sweep failed", "err", err)
				}
			})
		},
		func(ctx context.Context) { loop.Every(ctx, 24*time.Hour, s.purge) })
}

// Stop stops the jobs and waits, until ctx ends, for a sweep under way.
// Safe to call more than once.
func (s *Service) Stop(ctx context.Context) error {
	if err := s.jobs.Stop(ctx); err != nil {
		return fmt.Errorf("slo: sweep still running at shutdown: %w", err)
	}
	return nil
}

func (s *Service) purge(ctx context.Context) {
	n, err := s.st.purgeEvents(ctx, s.now().Add(-s.opts.Retention))
	if err != nil {
		if ctx.Err() == nil {
			s.log.ErrorContext(ctx, "retention failed", "err", err)
		}
		return
	}
	s.log.InfoContext(ctx, "retention applied", "events_deleted", n)
}
