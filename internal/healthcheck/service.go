package healthcheck

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
	"github.com/checkstack/checkstack/internal/hook"
	"github.com/checkstack/checkstack/internal/mutate"
	"github.com/checkstack/checkstack/internal/probe"
	"github.com/checkstack/checkstack/internal/rpc"
	"github.com/checkstack/checkstack/internal/signal"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/systemlink"
)

// Signals.
const (
	SignalRunCompleted         = "HEALTH_CHECK_RUN_COMPLETED"         // {configurationId, runId, status, systemIds}
	SignalSystemStatusChanged  = "SYSTEM_STATUS_CHANGED"              // {systemId, previousStatus, newStatus}
	SignalConfigurationChanged = "HEALTH_CHECK_CONFIGURATION_CHANGED" // {configurationId, action}
)

// StatusChange is a system's aggregate status moving.
type StatusChange struct {
	SystemID string `json:"systemId"`
	Previous Status `json:"previousStatus"`
	New      Status `json:"newStatus"`
}

// Notification is how a status change reads to the system's subscribers:
// a title, a body and an importance (info, warning or critical). ok is
// false for the changes nobody needs to hear about: a first verdict of
// healthy, and any change to unknown (checks removed or disabled).
func (c StatusChange) Notification(systemName string) (title, body, importance string, ok bool) {
	if systemName == "" {
		systemName = c.SystemID
	}
	switch c.New {
	case Degraded:
		return "System health degraded: " + systemName,
			fmt.Sprintf("%s is degraded (it was %s).", systemName, c.Previous), "warning", true
	case Unhealthy:
		return "System health critical: " + systemName,
			fmt.Sprintf("%s is unhealthy (it was %s).", systemName, c.Previous), "critical", true
	case Healthy:
		if c.Previous == Degraded || c.Previous == Unhealthy {
			return "System health restored: " + systemName,
				fmt.Sprintf("%s is healthy again (it was %s).", systemName, c.Previous), "info", true
		}
	}
	return "", "", "", false
}

// CheckChange is one check's status on one system moving (a run crossed
// the association's thresholds).
type CheckChange struct {
	SystemID        string `json:"systemId"`
	ConfigurationID string `json:"configurationId"`
	Previous        Status `json:"previousStatus"`
	New             Status `json:"newStatus"`
}

// Options configure a Service. Zero values are the defaults shown.
type Options struct {
	// StatusTTL is how long a system's status stays cached; 15s. Every
	// change invalidates it at once; the TTL only bounds memory.
	StatusTTL time.Duration
	// MaxTimeout bounds every run, whatever its configuration says; 60s.
	MaxTimeout time.Duration
	// RunRetention is how long raw runs are kept; 7 days.
	RunRetention time.Duration
	// AggregateRetention is how long hourly aggregates are kept; 365 days.
	AggregateRetention time.Duration
	// PublicSystems is the set of systems the public status page shows:
	// what its anonymous visitors may read the health of; nil: none.
	PublicSystems systemlink.Shown
	// UnderMaintenance tells which systems have a maintenance window in
	// progress, for the statuses' Maintenance flag; nil: none ever has.
	// Whoever answers it calls MaintenanceChanged when the answer moves.
	UnderMaintenance func(ctx context.Context, systemIDs []string) (map[string]bool, error)
	// Now is the clock; time.Now.
	Now func() time.Time
}

// Service is the health check domain. Safe for concurrent use.
type Service struct {
	st    sqlStore
	cache *cache.Scope
	bus   signal.Bus
	log   *slog.Logger
	opts  Options
	seed  maphash.Seed

	// locks serialise status transitions per system (by stripe), so that a
	// change is announced exactly once however many runs land at once.
	locks [64]sync.Mutex

	mu            sync.Mutex
	onChange      []func(ctx context.Context, c StatusChange)
	onCheckChange []func(ctx context.Context, c CheckChange)
	onRun         hook.List[RunRecorded]
	onRemoved     hook.List[Removed]
	scheduler     interface {
		RunNow(ctx context.Context, configurationID string) error
	}
}

// New returns the health check service on db, caching through provider.
func New(db *store.DB, provider cache.Provider, bus signal.Bus, log *slog.Logger, opts Options) *Service {
	if opts.StatusTTL <= 0 {
		opts.StatusTTL = 15 * time.Second
	}
	if opts.MaxTimeout <= 0 {
		opts.MaxTimeout = time.Minute
	}
	if opts.RunRetention <= 0 {
		opts.RunRetention = 7 * 24 * time.Hour
	}
	if opts.AggregateRetention <= 0 {
		opts.AggregateRetention = 365 * 24 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log = log.With("component", "healthcheck")
	return &Service{
		st: sqlStore{db: db.For("healthcheck")},
		cache: cache.NewScope(provider, cache.ScopeOptions{
			Name:       "healthcheck",
			DefaultTTL: opts.StatusTTL,
			OnError:    func(op string, err error) { log.Warn("cache provider error", "op", op, "err", err) },
		}),
		bus:  bus,
		log:  log,
		opts: opts,
		seed: maphash.MakeSeed(),
	}
}

// Scope is the service's cache scope, for metrics.
func (s *Service) Scope() *cache.Scope { return s.cache }

// OnStatusChange registers fn, the systemStatusChanged hook: it runs after
// a system's status changed, its cache entry was dropped and the signal
// was sent, in order for each system. It runs while that system's status
// is locked, so it must not change a system's health synchronously (hand
// such work to a goroutine of its own).
func (s *Service) OnStatusChange(fn func(ctx context.Context, c StatusChange)) {
	s.mu.Lock()
	s.onChange = append(s.onChange, fn)
	s.mu.Unlock()
}

// OnCheckStatusChange registers fn to run after a run moved a check's
// status on a system, once the run's effects are stored, the systems'
// cached statuses dropped and their changes announced. Hooks of different
// runs may run concurrently, so fn should act on the current state (read
// it again) rather than on the change's order.
func (s *Service) OnCheckStatusChange(fn func(ctx context.Context, c CheckChange)) {
	s.mu.Lock()
	s.onCheckChange = append(s.onCheckChange, fn)
	s.mu.Unlock()
}

// RunRecorded is a run as recorded, with the systems it applies to.
type RunRecorded struct {
	Run       Run
	SystemIDs []string
}

// OnRunRecorded registers fn to run after each run is recorded and its
// effects on health are stored, invalidated and announced (the anomaly
// detector looks at every run). Runs of different configurations may be
// told concurrently.
func (s *Service) OnRunRecorded(fn func(ctx context.Context, r RunRecorded)) { s.onRun.Add(fn) }

func (s *Service) now() time.Time { return s.opts.Now().UTC().Truncate(time.Microsecond) }

func newID() string { return rand.Text() }

// famStatus is the family of the systems' status entries, which bulk reads
// find by id.
const famStatus cache.Family = "status"

func keyStatus(systemID string) string { return famStatus.Key(systemID) }

// Reads.

// SystemHealth returns a system's health, from the cache when it holds it.
func (s *Service) SystemHealth(ctx context.Context, systemID string) (SystemStatus, error) {
	return cache.Wrap(ctx, s.cache, keyStatus(systemID), s.loadStatus(systemID))
}

func (s *Service) loadStatus(systemID string) func(ctx context.Context) (SystemStatus, error) {
	return func(ctx context.Context) (SystemStatus, error) {
		out, err := s.loadStatuses(ctx, []string{systemID})
		if err != nil {
			return SystemStatus{}, err
		}
		return out[0], nil
	}
}

// BulkHealth returns the health of each system, in order. Cached entries
// are shared with SystemHealth and with overlapping bulk reads; the misses
// load in one query.
func (s *Service) BulkHealth(ctx context.Context, systemIDs []string) ([]SystemStatus, error) {
	return cache.WrapManyBatched(ctx, s.cache, systemIDs, keyStatus, s.loadStatuses)
}

// loadStatusMap is loadStatuses by system id, for cache.WrapManyJSON.
func (s *Service) loadStatusMap(ctx context.Context, ids []string) (map[string]SystemStatus, error) {
	ss, err := s.loadStatuses(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]SystemStatus, len(ids))
	for i, id := range ids {
		out[id] = ss[i]
	}
	return out, nil
}

// loadStatuses reads the statuses of systems, in order, with their
// maintenance flags.
func (s *Service) loadStatuses(ctx context.Context, ids []string) ([]SystemStatus, error) {
	m, err := s.st.statuses(ctx, ids)
	if err != nil {
		return nil, err
	}
	var under map[string]bool
	if s.opts.UnderMaintenance != nil {
		if under, err = s.opts.UnderMaintenance(ctx, ids); err != nil {
			return nil, fmt.Errorf("healthcheck: maintenance of systems: %w", err)
		}
	}
	out := make([]SystemStatus, len(ids))
	for i, id := range ids {
		out[i] = m[id]
		out[i].Maintenance = under[id]
	}
	return out, nil
}

// MaintenanceChanged is told the systems whose maintenance state moved (a
// window started or ended): their cached statuses, which carry the
// Maintenance flag, are dropped.
func (s *Service) MaintenanceChanged(ctx context.Context, systemIDs []string) {
	if err := s.invalidate(ctx, systemIDs); err != nil {
		s.log.WarnContext(ctx, "cache invalidation failed", "err", err)
	}
}

func (s *Service) Configurations(ctx context.Context) ([]Configuration, error) {
	return s.st.configurations(ctx, "")
}

func (s *Service) Configuration(ctx context.Context, id string) (Configuration, error) {
	return s.st.configuration(ctx, id)
}

// SystemConfigurations lists a system's associations, each with its
// configuration.
func (s *Service) SystemConfigurations(ctx context.Context, systemID string) ([]Association, []Configuration, error) {
	return s.st.systemAssociations(ctx, systemID)
}

// Runs lists a configuration's runs started at since or later, oldest
// first: what the anomaly analyzer learns its baselines from.
func (s *Service) Runs(ctx context.Context, configurationID string, since time.Time) ([]Run, error) {
	return s.st.runsSince(ctx, configurationID, since)
}

// Associations lists every association, with its configuration's enabled
// flag folded into Enabled.
func (s *Service) Associations(ctx context.Context) ([]Association, error) {
	return s.st.allAssociations(ctx)
}

// History lists a configuration's runs in [from, to), newest first.
func (s *Service) History(ctx context.Context, configurationID string, from, to time.Time, limit int, cursor string) (HistoryPage, error) {
	if _, err := s.st.configuration(ctx, configurationID); err != nil {
		return HistoryPage{}, err
	}
	return s.st.history(ctx, configurationID, from, to, limit, cursor)
}

// AggregatedHistory returns about targetPoints buckets over [from, to).
func (s *Service) AggregatedHistory(ctx context.Context, configurationID string, from, to time.Time, targetPoints int) ([]Bucket, error) {
	if _, err := s.st.configuration(ctx, configurationID); err != nil {
		return nil, err
	}
	return s.st.aggregated(ctx, configurationID, from, to, targetPoints)
}

// Mutations.

// ConfigurationInput is what may be set on a configuration; nil fields are
// left alone by UpdateConfiguration (and take defaults on create).
type ConfigurationInput struct {
	Name            *string
	Strategy        *string
	Config          json.RawMessage
	IntervalSeconds *int
	TimeoutSeconds  *int
	Enabled         *bool
	SatelliteID     *string // "" = this server
}

// apply validates in against c (the configuration as it stands).
func (s *Service) apply(c Configuration, in ConfigurationInput) (Configuration, error) {
	if in.Name != nil {
		c.Name = *in.Name
	}
	strategyChanged := in.Strategy != nil && *in.Strategy != c.Strategy
	if in.Strategy != nil {
		c.Strategy = *in.Strategy
	}
	if in.Config != nil {
		c.Config = in.Config
	} else if strategyChanged {
		return c, rpc.Invalid("config", "required when the strategy changes")
	}
	if in.IntervalSeconds != nil {
		c.IntervalSeconds = *in.IntervalSeconds
	}
	if in.TimeoutSeconds != nil {
		c.TimeoutSeconds = *in.TimeoutSeconds
	}
	if in.Enabled != nil {
		c.Enabled = *in.Enabled
	}
	if in.SatelliteID != nil {
		c.SatelliteID = *in.SatelliteID
	}
	strategy, ok := probe.Lookup(c.Strategy)
	if !ok {
		return c, rpc.Invalid("strategy", fmt.Sprintf("must be one of %v", probe.Names()))
	}
	config, err := strategy.Validate(c.Config)
	if err != nil {
		return c, err
	}
	c.Config = config
	maxTimeout := int(s.opts.MaxTimeout / time.Second)
	switch {
	case c.IntervalSeconds < 5:
		return c, rpc.Invalid("intervalSeconds", "must be at least 5")
	case c.IntervalSeconds > 7*24*3600:
		return c, rpc.Invalid("intervalSeconds", "must be at most a week")
	case c.TimeoutSeconds < 1 || c.TimeoutSeconds > maxTimeout:
		return c, rpc.Invalid("timeoutSeconds", fmt.Sprintf("must be between 1 and %d", maxTimeout))
	case c.TimeoutSeconds > c.IntervalSeconds:
		return c, rpc.Invalid("timeoutSeconds", "must not exceed intervalSeconds")
	}
	return c, nil
}

func (s *Service) CreateConfiguration(ctx context.Context, in ConfigurationInput) (Configuration, error) {
	now := s.now()
	c, err := s.apply(Configuration{ID: newID(), IntervalSeconds: 60, TimeoutSeconds: 10, Enabled: true, CreatedAt: now, UpdatedAt: now}, in)
	if err != nil {
		return Configuration{}, err
	}
	err = mutate.Do(ctx, s.log, "createConfiguration",
		func(ctx context.Context) error { return s.st.createConfiguration(ctx, c) },
		nil, // no system is associated yet
		func(ctx context.Context) { s.configurationChanged(ctx, c.ID, "created") })
	return c, err
}

// UpdateConfiguration sets the fields in gives and leaves the others as
// stored. The configuration is read, checked (apply) and written in one
// transaction that holds its row, so of two updates at once the second
// is checked against, and keeps, what the first wrote.
func (s *Service) UpdateConfiguration(ctx context.Context, id string, in ConfigurationInput) (Configuration, error) {
	var c Configuration
	var systems []string
	err := s.mutateSystems(ctx, "updateConfiguration", &systems,
		func(ctx context.Context) (err error) {
			c, systems, err = s.st.updateConfiguration(ctx, id, func(stored Configuration) (Configuration, error) {
				next, err := s.apply(stored, in)
				next.UpdatedAt = s.now()
				return next, err
			})
			return err
		},
		func(ctx context.Context) { s.configurationChanged(ctx, id, "updated") })
	if err != nil {
		return Configuration{}, err
	}
	return c, nil
}

func (s *Service) DeleteConfiguration(ctx context.Context, id string) error {
	var systems []string
	return s.mutateSystems(ctx, "deleteConfiguration", &systems,
		func(ctx context.Context) (err error) {
			systems, err = s.st.deleteConfiguration(ctx, id)
			return err
		},
		func(ctx context.Context) {
			s.configurationChanged(ctx, id, "deleted")
			s.onRemoved.Run(ctx, Removed{ConfigurationID: id, SystemIDs: nonNil(systems)})
		})
}

// Disassociate's and DeleteConfiguration's hook.

// Removed is configurations leaving systems: a configuration deleted
// (from every system it had), or one association removed.
type Removed struct {
	ConfigurationID string
	SystemIDs       []string
}

// OnRemoved registers fn to run after a configuration was deleted or
// disassociated from a system (its rows gone, caches dropped, signal
// sent), for the domains that keep data per check and system.
func (s *Service) OnRemoved(fn func(ctx context.Context, r Removed)) { s.onRemoved.Add(fn) }

// Associate links a system to a configuration (or updates the link's
// thresholds and enabled flag).
func (s *Service) Associate(ctx context.Context, systemID, configurationID string, enabled bool, th Thresholds) (Association, error) {
	th, err := th.Normalize()
	if err != nil {
		return Association{}, err
	}
	a := Association{SystemID: systemID, ConfigurationID: configurationID, Enabled: enabled, Thresholds: th, Status: Unknown, CreatedAt: s.now()}
	err = s.mutateSystems(ctx, "associateSystem", &[]string{systemID},
		func(ctx context.Context) error { return s.st.associate(ctx, a) },
		func(ctx context.Context) { s.configurationChanged(ctx, configurationID, "associated") })
	return a, err
}

func (s *Service) Disassociate(ctx context.Context, systemID, configurationID string) error {
	return s.mutateSystems(ctx, "disassociateSystem", &[]string{systemID},
		func(ctx context.Context) error { return s.st.disassociate(ctx, systemID, configurationID) },
		func(ctx context.Context) {
			s.configurationChanged(ctx, configurationID, "disassociated")
			s.onRemoved.Run(ctx, Removed{ConfigurationID: configurationID, SystemIDs: []string{systemID}})
		})
}

// SystemDeleted is the catalog's systemDeleted hook: the system's
// associations went with it (ON DELETE CASCADE); drop its cached status.
func (s *Service) SystemDeleted(ctx context.Context, systemID string) {
	if err := s.cache.Invalidate(ctx, keyStatus(systemID)); err != nil {
		s.log.WarnContext(ctx, "cache invalidation failed", "system", systemID, "err", err)
	}
}

// RunNow queues an immediate run of a configuration.
func (s *Service) RunNow(ctx context.Context, configurationID string) error {
	if _, err := s.st.configuration(ctx, configurationID); err != nil {
		return err
	}
	s.mu.Lock()
	sched := s.scheduler
	s.mu.Unlock()
	if sched == nil {
		return errors.New("healthcheck: no scheduler is running")
	}
	return sched.RunNow(ctx, configurationID)
}

// Process records a completed run and applies it: the one path for local
// runs and satellite results alike. A run recorded before (same id) is
// ErrDuplicate and changes nothing.
func (s *Service) Process(ctx context.Context, r Run) error {
	var systems []string
	var changes []CheckChange
	return mutate.Do(ctx, s.log, "checkRun",
		func(ctx context.Context) error {
			var err error
			systems, changes, err = s.st.recordRun(ctx, r)
			return err
		},
		func(ctx context.Context) error { return s.settle(ctx, systems) },
		func(ctx context.Context) {
			s.broadcast(ctx, SignalRunCompleted, map[string]any{
				"configurationId": r.ConfigurationID, "runId": r.ID, "status": r.Status, "systemIds": nonNil(systems)})
			defer s.onRun.Run(ctx, RunRecorded{Run: r, SystemIDs: nonNil(systems)})
			if len(changes) == 0 {
				return
			}
			s.mu.Lock()
			hooks := slices.Clone(s.onCheckChange)
			s.mu.Unlock()
			for _, c := range changes {
				for _, fn := range hooks {
					fn(ctx, c)
				}
			}
		})
}

// ErrDuplicate is Process's error for a run recorded before.
var ErrDuplicate = errDuplicate

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// mutateSystems runs a write that can change the status of systems as
// write → settle (which invalidates and announces) → signal. *systems is
// read after write returns, so a write can name the systems it touched
// from inside its own transaction.
func (s *Service) mutateSystems(ctx context.Context, name string, systems *[]string, write func(context.Context) error, signal func(context.Context)) error {
	return mutate.Do(ctx, s.log, name, write,
		func(ctx context.Context) error { return s.settle(ctx, *systems) },
		signal)
}

// settle brings systems up to date after a write: under each system's
// lock it recomputes the status, records a change since the last one
// announced, drops the cached status, and announces the change
// (SYSTEM_STATUS_CHANGED, then the hooks). Holding the lock through the
// announcement keeps one system's changes in order, and reports each
// once however many writes race in this process; across instances the
// record is a compare-and-set on the announced status, and only the
// instance whose write changed it announces: one signal and one set of
// hooks per transition, fleet-wide (TestATransitionIsAnnouncedOnceAcrossInstances).
// A hook therefore must not change a system's health synchronously.
func (s *Service) settle(ctx context.Context, systems []string) error {
	if len(systems) == 0 {
		return nil
	}
	systems = slices.Compact(slices.Sorted(slices.Values(systems)))
	stripes := make([]int, 0, len(systems))
	for _, id := range systems {
		stripes = append(stripes, int(maphash.String(s.seed, id)%uint64(len(s.locks))))
	}
	stripes = slices.Compact(slices.Sorted(slices.Values(stripes))) // a fixed order: no deadlock
	for _, i := range stripes {
		s.locks[i].Lock()
	}
	defer func() {
		for _, i := range stripes {
			s.locks[i].Unlock()
		}
	}()
	var changes []StatusChange
	current, err := s.st.statuses(ctx, systems)
	if err == nil {
		for _, id := range systems {
			var prev Status
			if prev, err = s.st.lastAnnounced(ctx, id); err != nil {
				break
			}
			if now := current[id].Status; now != prev {
				var won bool
				if won, err = s.st.transition(ctx, id, prev, now, s.now()); err != nil {
					break
				}
				if won { // else another instance announced it, or moved it on
					changes = append(changes, StatusChange{SystemID: id, Previous: prev, New: now})
				}
			}
		}
	}
	// Invalidate even if settling failed: the write happened.
	err = errors.Join(err, s.invalidate(ctx, systems))
	s.announce(ctx, changes)
	return err
}

func (s *Service) invalidate(ctx context.Context, systems []string) error {
	var errs []error
	for _, id := range systems {
		errs = append(errs, s.cache.Invalidate(ctx, keyStatus(id)))
		_, err := s.cache.InvalidatePrefix(ctx, prefixUptime(id))
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// announce signals each status change and runs the hooks.
func (s *Service) announce(ctx context.Context, changes []StatusChange) {
	if len(changes) == 0 {
		return
	}
	s.mu.Lock()
	hooks := slices.Clone(s.onChange)
	s.mu.Unlock()
	for _, c := range changes {
		s.broadcast(ctx, SignalSystemStatusChanged, c)
		for _, fn := range hooks {
			fn(ctx, c)
		}
	}
}

func (s *Service) configurationChanged(ctx context.Context, id, action string) {
	s.broadcast(ctx, SignalConfigurationChanged, map[string]string{"configurationId": id, "action": action})
}

func (s *Service) broadcast(ctx context.Context, name string, payload any) {
	if err := s.bus.Broadcast(ctx, name, payload); err != nil {
		s.log.WarnContext(ctx, "signal failed", "signal", name, "err", err)
	}
}

// Purge applies the retention: raw runs older than RunRetention, hourly
// aggregates older than AggregateRetention.
func (s *Service) Purge(ctx context.Context) error {
	now := s.now()
	runs, hours, err := s.st.purge(ctx, now.Add(-s.opts.RunRetention), now.Add(-s.opts.AggregateRetention))
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "retention applied", "runs_deleted", runs, "hourly_aggregates_deleted", hours)
	return nil
}
