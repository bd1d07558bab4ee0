package anomaly

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/healthcheck"
	"github.com/checkstack/checkstack/internal/lease"
	"github.com/checkstack/checkstack/internal/loop"
	"github.com/checkstack/checkstack/internal/notification"
	"github.com/checkstack/checkstack/internal/signal"
	"github.com/checkstack/checkstack/internal/store"
)

// SignalStateChanged is broadcast after every transition of an episode:
// {systemId, anomalyId, state}, state being suspicious, anomaly,
// recovered or cleared (a suspicious episode that ended unconfirmed), and
// after a suppression changes (state as it stands).
const SignalStateChanged = "ANOMALY_STATE_CHANGED"

// Payload is the payload of SignalStateChanged.
type Payload struct {
	SystemID  string `json:"systemId"`
	AnomalyID string `json:"anomalyId"`
	State     State  `json:"state"`
}

// HealthReader reads what the analyzer learns from; *healthcheck.Service
// is one.
type HealthReader interface {
	Runs(ctx context.Context, configurationID string, since time.Time) ([]healthcheck.Run, error)
	Associations(ctx context.Context) ([]healthcheck.Association, error)
}

// Notifier tells a system's subscribers, leaving some out;
// *notification.Service is one (it holds the message while the system's
// notifications are suppressed).
type Notifier interface {
	NotifySystemWithout(ctx context.Context, systemID string, m notification.Message, skip []string) ([]notification.Notification, error)
}

// Options configure a Service. Zero values are the defaults shown.
type Options struct {
	// TTL is how long reads stay cached; 15s. Every transition, baseline
	// and settings change invalidates what it changed at once.
	TTL time.Duration
	// Clock tells the time and paces the analyzer; loop.Wall.
	Clock loop.Clock
	// AnalyzeEvery is how often the baselines are learnt again, once per
	// fleet; 1h.
	AnalyzeEvery time.Duration
	// Instance names this instance for the analyzer's lease; a random id.
	Instance string
	// Health is what the analyzer reads runs and assignments from; nil:
	// the analyzer learns nothing.
	Health HealthReader
	// Notifier tells subscribers of confirmations and recoveries; nil:
	// nobody is told.
	Notifier Notifier
	// SystemName and CheckName name a system and a check in messages;
	// nil: their ids.
	SystemName func(ctx context.Context, id string) string
	CheckName  func(ctx context.Context, id string) string
}

// Service is the anomaly domain. Safe for concurrent use.
type Service struct {
	st    sqlStore
	cache *cache.Scope
	bus   signal.Bus
	log   *slog.Logger
	opts  Options
	lease *lease.Lease
	jobs  loop.Loop
	// passes counts the analyzer passes this instance ran.
	passes atomic.Int64

	// seen counts, per pair without a baseline, the runs since it last
	// tried to learn one, so that a new check is judged after its first
	// MinSamples runs rather than at the next hourly analysis.
	mu   sync.Mutex
	seen map[[2]string]int
}

// New returns the anomaly service on db, caching through provider. Its
// analyzer runs once Start is called.
func New(db *store.DB, provider cache.Provider, bus signal.Bus, log *slog.Logger, opts Options) *Service {
	if opts.TTL <= 0 {
		opts.TTL = 15 * time.Second
	}
	if opts.Clock == nil {
		opts.Clock = loop.Wall{}
	}
	if opts.AnalyzeEvery <= 0 {
		opts.AnalyzeEvery = time.Hour
	}
	if opts.Instance == "" {
		opts.Instance = rand.Text()
	}
	log = log.With("component", "anomaly")
	return &Service{
		st: sqlStore{db: db.For("anomaly")},
		cache: cache.NewScope(provider, cache.ScopeOptions{
			Name:       scopeName,
			DefaultTTL: opts.TTL,
			OnError:    func(op string, err error) { log.Warn("cache provider error", "op", op, "err", err) },
		}),
		bus:   bus,
		log:   log,
		opts:  opts,
		lease: lease.New(db, "anomaly-analyzer", opts.Instance),
		seen:  map[[2]string]int{},
	}
}

// Scope is the service's cache scope, for metrics.
func (s *Service) Scope() *cache.Scope { return s.cache }

func (s *Service) now() time.Time { return s.opts.Clock.Now().UTC().Truncate(time.Microsecond) }

// Reads.

// Suppression selects anomalies by whether an admin suppressed them.
type Suppression string

const (
	SuppressionActive     Suppression = "active" // the default
	SuppressionSuppressed Suppression = "suppressed"
	SuppressionAll        Suppression = "all"
)

// Filter selects anomalies for List; empty fields select all.
type Filter struct {
	SystemID        string
	ConfigurationID string
	State           State
	Kind            Kind
	Suppression     Suppression // "": active
	Limit           int         // 1–500; 0: 50
}

func (f Filter) normalized() Filter {
	if f.Suppression == "" {
		f.Suppression = SuppressionActive
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	return f
}

// ListJSON returns the anomalies matching f, newest first, as a JSON
// array, cached per filter.
func (s *Service) ListJSON(ctx context.Context, f Filter) ([]byte, error) {
	f = f.normalized()
	return cache.WrapBytes(ctx, s.cache, keyList(f), func(ctx context.Context) ([]byte, error) {
		as, err := s.st.list(ctx, f)
		if err != nil {
			return nil, err
		}
		return json.Marshal(as)
	})
}

// List is ListJSON, decoded.
func (s *Service) List(ctx context.Context, f Filter) ([]Anomaly, error) {
	raw, err := s.ListJSON(ctx, f)
	if err != nil {
		return nil, err
	}
	var out []Anomaly
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("anomaly: decode list: %w", err)
	}
	return out, nil
}

// SystemsJSON returns, for each system in order, its open unsuppressed
// anomalies (newest first) as a JSON array: the dashboard's badge, from
// per-system entries whose misses load together.
func (s *Service) SystemsJSON(ctx context.Context, systemIDs []string) ([]json.RawMessage, error) {
	return cache.WrapManyJSONFamily(ctx, s.cache, systemIDs, famSystem, s.st.openOf)
}

// Baselines returns what was learnt of each field of a check on a system.
func (s *Service) Baselines(ctx context.Context, systemID, configID string) ([]Baseline, error) {
	return cache.Wrap(ctx, s.cache, keyBaselines(systemID, configID), func(ctx context.Context) ([]Baseline, error) {
		return s.st.baselines(ctx, systemID, configID)
	})
}

// CheckSettings returns a check's settings as set (not the effective
// ones).
func (s *Service) CheckSettings(ctx context.Context, configID string) (Settings, error) {
	return cache.Wrap(ctx, s.cache, keySettings(configID), func(ctx context.Context) (Settings, error) {
		return s.st.checkSettings(ctx, configID)
	})
}

// AssignmentSettings returns a system's override of a check's settings.
func (s *Service) AssignmentSettings(ctx context.Context, systemID, configID string) (Settings, error) {
	return cache.Wrap(ctx, s.cache, keyAssign(systemID, configID), func(ctx context.Context) (Settings, error) {
		return s.st.assignmentSettings(ctx, systemID, configID)
	})
}

// Effective returns the settings that apply to each field of a check on a
// system.
func (s *Service) Effective(ctx context.Context, systemID, configID string) (map[string]Effective, error) {
	check, err := s.CheckSettings(ctx, configID)
	if err != nil {
		return nil, err
	}
	assign, err := s.AssignmentSettings(ctx, systemID, configID)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Effective, len(Fields))
	for _, f := range Fields {
		out[f] = effective(f, check, assign)
	}
	return out, nil
}

// openPair is a pair's open episodes, cached for the detector.
func (s *Service) openPair(ctx context.Context, systemID, configID string) ([]Anomaly, error) {
	return cache.Wrap(ctx, s.cache, keyOpen(systemID, configID), func(ctx context.Context) ([]Anomaly, error) {
		return s.st.openPair(ctx, s.st.db, systemID, configID, false)
	})
}

// Mutes lists a user's mutes.
func (s *Service) Mutes(ctx context.Context, userID string) ([]Mute, error) {
	return cache.Wrap(ctx, s.cache, keyMutes(userID), func(ctx context.Context) ([]Mute, error) {
		return s.st.mutes(ctx, userID)
	})
}

// Detection.

// RunRecorded is the healthcheck's run hook: every field the run reports
// is judged against its baseline on every system of the run, and the
// episodes step. With everything cached and nothing anomalous, it runs no
// query.
func (s *Service) RunRecorded(ctx context.Context, r healthcheck.RunRecorded) {
	values := Extract(r.Run)
	if len(values) == 0 {
		return
	}
	for _, sys := range r.SystemIDs {
		if err := s.judgeRun(ctx, sys, r.Run, values); err != nil {
			s.log.ErrorContext(ctx, "cannot judge a run", "system", sys, "configuration", r.Run.ConfigurationID, "err", err)
		}
	}
}

func (s *Service) judgeRun(ctx context.Context, systemID string, run healthcheck.Run, values map[string]float64) error {
	configID := run.ConfigurationID
	eff, err := s.Effective(ctx, systemID, configID)
	if err != nil {
		return err
	}
	bs, err := s.Baselines(ctx, systemID, configID)
	if err != nil {
		return err
	}
	if len(bs) == 0 {
		return s.bootstrap(ctx, systemID, configID)
	}
	open, err := s.openPair(ctx, systemID, configID)
	if err != nil {
		return err
	}
	isOpen := map[string]bool{}
	for _, a := range open {
		if a.Kind == Spike {
			isOpen[a.Field] = true
		}
	}
	var obs []observation
	for _, b := range bs {
		v, ok := values[b.Field]
		e := eff[b.Field]
		if !ok || !e.Enabled || b.Samples < MinSamples {
			continue
		}
		verdict := Judge(v, b.Median, b.Spread, e.Rule())
		if !verdict.Anomalous && !isOpen[b.Field] {
			continue // the usual case: nothing to step
		}
		obs = append(obs, observation{field: b.Field, kind: Spike, value: v, verdict: verdict,
			base: Centre{Median: b.Median, Spread: b.Spread}, at: run.StartedAt, confirm: e.ConfirmationWindow, recover: 1})
	}
	if len(obs) == 0 {
		return nil
	}
	return s.observe(ctx, systemID, configID, obs)
}

// bootstrap learns a first baseline for a pair once it has had
// MinSamples runs, then every MinSamples/2 runs until it has one.
func (s *Service) bootstrap(ctx context.Context, systemID, configID string) error {
	key := [2]string{systemID, configID}
	s.mu.Lock()
	s.seen[key]++
	n := s.seen[key]
	s.mu.Unlock()
	if n < MinSamples || (n-MinSamples)%(MinSamples/2) != 0 || s.opts.Health == nil {
		return nil
	}
	learnt, err := s.learn(ctx, systemID, configID, nil, false)
	if err != nil {
		return err
	}
	if learnt {
		s.mu.Lock()
		delete(s.seen, key)
		s.mu.Unlock()
	}
	return nil
}

// observation is one field's verdict for one pair at one instant: a run
// (spikes) or an analyzer pass (drift).
type observation struct {
	field   string
	kind    Kind
	value   float64
	verdict Verdict
	base    Centre
	at      time.Time
	confirm int
	recover int
}

// moved is an episode a transaction changed, with the state it had.
type moved struct {
	a    Anomaly
	from State // "" for a new episode
}

// observe steps the pair's episodes by obs in one transaction that reads
// and holds them, so that of two runs judged at once (here or on another
// instance) each steps what the other left; then drops the pair's and
// the system's entries and every list, signals each transition, and
// tells subscribers of confirmations and recoveries.
func (s *Service) observe(ctx context.Context, systemID, configID string, obs []observation) error {
	var ms []moved
	const attempts = 3
	for attempt := 1; ; attempt++ {
		ms = ms[:0]
		err := s.st.db.InTx(ctx, func(tx *store.Tx) error {
			ms = ms[:0]
			open, err := s.st.openPair(ctx, tx, systemID, configID, true)
			if err != nil {
				return err
			}
			byKey := map[string]Anomaly{}
			for _, a := range open {
				byKey[a.Field+"/"+string(a.Kind)] = a
			}
			for _, o := range obs {
				cur, has := byKey[o.field+"/"+string(o.kind)]
				if has && !o.at.After(cur.observedAt) {
					continue // older than what the episode saw
				}
				m, changed, err := s.step(ctx, tx, systemID, configID, cur, has, o)
				if err != nil {
					return err
				}
				if changed {
					ms = append(ms, m)
				}
			}
			return nil
		})
		if errors.Is(err, errConflict) && attempt < attempts {
			continue // another writer opened one meanwhile: step what it left
		}
		if errors.Is(err, errUnknown) {
			return nil // the system or check went meanwhile
		}
		if err != nil {
			return err
		}
		break
	}
	if len(ms) == 0 {
		return nil
	}
	ctx = context.WithoutCancel(ctx) // written: finish telling
	if err := s.invalidatePair(ctx, systemID, configID); err != nil {
		s.log.WarnContext(ctx, "cache invalidation failed", "err", err)
	}
	for _, m := range ms {
		if m.a.State != m.from {
			s.signal(ctx, m.a)
		}
		if (m.a.State == Confirmed && m.from != Confirmed) || m.a.State == Recovered {
			s.notify(ctx, m.a)
		}
	}
	return nil
}

// step applies one observation to an episode (cur, when has) inside tx.
func (s *Service) step(ctx context.Context, tx *store.Tx, systemID, configID string, cur Anomaly, has bool, o observation) (moved, bool, error) {
	next, count, flat := Step(has, cur.State, cur.Observations, cur.flat, o.verdict.Anomalous, o.confirm, o.recover)
	now := s.now()
	switch {
	case next == "":
		return moved{}, false, nil
	case next == Cleared:
		if err := s.st.delete(ctx, tx, cur.ID); err != nil {
			return moved{}, false, err
		}
		cur.State, cur.UpdatedAt = Cleared, now
		return moved{a: cur, from: Suspicious}, true, nil
	}
	from := cur.State
	if !has {
		cur = Anomaly{ID: rand.Text(), SystemID: systemID, ConfigurationID: configID, Field: o.field, Kind: o.kind, StartedAt: o.at}
		from = ""
	}
	cur.State, cur.Observations, cur.flat, cur.observedAt, cur.UpdatedAt = next, count, flat, o.at, now
	if o.verdict.Anomalous {
		cur.Value, cur.Baseline, cur.Deviation = o.value, o.base, o.verdict.Deviation
		cur.PeakDeviation = max(cur.PeakDeviation, o.verdict.Deviation)
	}
	if next == Confirmed && from != Confirmed {
		at := o.at
		cur.ConfirmedAt = &at
	}
	if next == Recovered {
		at := o.at
		cur.RecoveredAt = &at
	}
	if err := s.st.save(ctx, tx, cur); err != nil {
		return moved{}, false, err
	}
	return moved{a: cur, from: from}, true, nil
}

// invalidatePair drops what a pair's episodes show: the pair's open
// episodes, the system's entry and every list.
func (s *Service) invalidatePair(ctx context.Context, systemID, configID string) error {
	_, err := s.cache.InvalidatePrefix(ctx, listFam)
	return errors.Join(err, s.cache.Invalidate(ctx, keyOpen(systemID, configID)), s.cache.Invalidate(ctx, keySystem(systemID)))
}

func (s *Service) signal(ctx context.Context, a Anomaly) {
	p := Payload{SystemID: a.SystemID, AnomalyID: a.ID, State: a.State}
	if err := s.bus.Broadcast(ctx, SignalStateChanged, p); err != nil {
		s.log.WarnContext(ctx, "signal failed", "signal", SignalStateChanged, "err", err)
	}
}

// notify tells the system's subscribers of a confirmation (warning) or a
// recovery (info), unless an admin suppressed the anomaly; users who
// muted the system or the field are left out.
func (s *Service) notify(ctx context.Context, a Anomaly) {
	if a.Suppressed || s.opts.Notifier == nil {
		return
	}
	skip, err := s.st.mutedUsers(ctx, a.SystemID, a.Field)
	if err != nil {
		s.log.ErrorContext(ctx, "cannot read mutes; telling nobody", "anomaly", a.ID, "err", err)
		return
	}
	if _, err := s.opts.Notifier.NotifySystemWithout(ctx, a.SystemID, s.message(ctx, a), skip); err != nil {
		s.log.ErrorContext(ctx, "cannot notify an anomaly's subscribers", "anomaly", a.ID, "err", err)
	}
}

// message is an anomaly as a notification: the field, the observed value,
// the baseline and the deviation.
func (s *Service) message(ctx context.Context, a Anomaly) notification.Message {
	system, check := a.SystemID, a.ConfigurationID
	if s.opts.SystemName != nil {
		system = s.opts.SystemName(ctx, a.SystemID)
	}
	if s.opts.CheckName != nil {
		check = s.opts.CheckName(ctx, a.ConfigurationID)
	}
	what := fmt.Sprintf("%s of %s on %s", a.Field, check, system)
	var b strings.Builder
	fmt.Fprintf(&b, "**Field:** %s (%s, check %s)  \n", a.Field, a.Kind, check)
	if a.Kind == Drift {
		fmt.Fprintf(&b, "**Trend:** %.2f spreads a day  \n", a.Deviation)
	} else {
		fmt.Fprintf(&b, "**Observed:** %.4g  \n**Deviation:** %.1f spreads  \n", a.Value, a.Deviation)
	}
	fmt.Fprintf(&b, "**Baseline:** %.4g ± %.4g", a.Baseline.Median, a.Baseline.Spread)
	m := notification.Message{Title: "Anomaly: " + what, Body: b.String(), Importance: notification.Warning,
		Action: &notification.Action{Label: "View system", URL: "/systems/" + a.SystemID}}
	if a.State == Recovered {
		m.Title, m.Importance = "Anomaly recovered: "+what, notification.Info
	}
	return m
}
