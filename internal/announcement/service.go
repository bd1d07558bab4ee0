package announcement

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/loop"
	"github.com/checkstack/checkstack/internal/mutate"
	"github.com/checkstack/checkstack/internal/rpc"
	"github.com/checkstack/checkstack/internal/signal"
	"github.com/checkstack/checkstack/internal/store"
)

// SignalUpdated is sent after every change of an announcement, the
// clock's included: {announcementId, action}. A dismissal is sent to its
// user only; everything else is broadcast. announcementId is "" for a
// reorder.
const SignalUpdated = "ANNOUNCEMENT_UPDATED"

// Actions of SignalUpdated.
const (
	ActionCreated   = "created"
	ActionUpdated   = "updated"
	ActionDeleted   = "deleted"
	ActionReordered = "reordered"
	ActionStarted   = "started" // the clock: startsAt passed
	ActionExpired   = "expired" // the clock: expiresAt passed
	ActionDismissed = "dismissed"
)

// Payload is the payload of SignalUpdated.
type Payload struct {
	AnnouncementID string `json:"announcementId"`
	Action         string `json:"action"`
}

// Options configure a Service. Zero values are the defaults shown.
type Options struct {
	// TTL is how long reads stay cached at most; 45s. Entries of
	// getActiveAnnouncements are also capped at the next boundary.
	TTL time.Duration
	// Clock tells the time and drives the boundaries; loop.Wall.
	Clock loop.Clock
	// Fallback bounds how long the clock waits without reading the next
	// boundary again, for announcements other instances changed; 30s.
	Fallback time.Duration
}

// Service is the announcement domain. Safe for concurrent use.
type Service struct {
	st    sqlStore
	cache *cache.Scope
	bus   signal.Bus
	log   *slog.Logger
	opts  Options

	hz     horizon
	hzLoad sync.Mutex // one read at a time reads a passed horizon again

	alarm *loop.Alarm
	jobs  loop.Loop
	// Owned by the alarm's goroutine: the time of the clock's last pass
	// (the boundaries up to it are done here), and whether it failed.
	through time.Time
	failed  bool
}

// New returns the announcement service on db, caching through provider.
// Its clock runs once Start is called.
func New(db *store.DB, provider cache.Provider, bus signal.Bus, log *slog.Logger, opts Options) *Service {
	if opts.TTL <= 0 {
		opts.TTL = 45 * time.Second
	}
	if opts.Clock == nil {
		opts.Clock = loop.Wall{}
	}
	log = log.With("component", "announcement")
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
	s.alarm = loop.NewAlarm(opts.Clock, s.nextDue, s.fire)
	s.alarm.Fallback = opts.Fallback
	s.alarm.OnError = func(err error) { log.Error("cannot read the next announcement boundary", "err", err) }
	return s
}

// Scope is the service's cache scope, for metrics.
func (s *Service) Scope() *cache.Scope { return s.cache }

func (s *Service) now() time.Time { return s.opts.Clock.Now().UTC().Truncate(time.Microsecond) }

func newID() string { return rand.Text() }

// Start runs the clock: every boundary at its instant, those that passed
// while no server ran at once. It stops when ctx ends or Stop is called.
func (s *Service) Start(ctx context.Context) { s.jobs.Start(ctx, s.alarm.Run) }

// Stop stops the clock and waits, until ctx ends, for a pass under way.
// Safe to call more than once, and before Start.
func (s *Service) Stop(ctx context.Context) error {
	if err := s.jobs.Stop(ctx); err != nil {
		return fmt.Errorf("announcement: clock still running at shutdown: %w", err)
	}
	return nil
}

// Reads.

// ActiveJSON returns, as a JSON array, the announcements live now that
// userID sees ("": an anonymous caller, who sees visibility "all" only,
// and not who wrote them), in display order. A user's dismissed announcements are left out, or,
// with includeDismissed, kept and every item carries "dismissed".
func (s *Service) ActiveJSON(ctx context.Context, userID string, includeDismissed bool) ([]byte, error) {
	return s.capped(ctx, keyActive(userID, includeDismissed), func(ctx context.Context) ([]byte, error) {
		shown, err := s.st.live(ctx, userID, s.now())
		if err != nil {
			return nil, err
		}
		out := make([]Shown, 0, len(shown))
		for _, a := range shown {
			if userID == "" {
				a.CreatedBy, a.CreatedByName = "", "" // who wrote it is for signed-in readers
			}
			if !includeDismissed {
				if *a.Dismissed {
					continue
				}
				a.Dismissed = nil
			}
			out = append(out, a)
		}
		return json.Marshal(out)
	})
}

// Active is ActiveJSON, decoded.
func (s *Service) Active(ctx context.Context, userID string, includeDismissed bool) ([]Shown, error) {
	raw, err := s.ActiveJSON(ctx, userID, includeDismissed)
	if err != nil {
		return nil, err
	}
	var out []Shown
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("announcement: decode active: %w", err)
	}
	return out, nil
}

// capped reads key through the cache, with a TTL that ends by the next
// boundary.
//
// The horizon is read before the load, so a change can move it between
// the two:
//
//	read:   horizon none → TTL 45 s
//	change:                 commit X (starts in 10 s), horizon → X, invalidate
//	read:                                                            miss, load, store for 45 s
//
// The load began after the invalidation, so the cache stores it, for 45 s
// though X starts in 10. Hence the second look: if the horizon now lies
// before the entry's end, the entry may outlive it, and is dropped.
func (s *Service) capped(ctx context.Context, key string, load func(ctx context.Context) ([]byte, error)) ([]byte, error) {
	now := s.now()
	next, err := s.horizon(ctx, now)
	if err != nil {
		return nil, err
	}
	ttl := s.opts.TTL
	if !next.IsZero() && next.Sub(now) < ttl {
		ttl = next.Sub(now) // > 0: the horizon is after now
	}
	raw, err := cache.WrapBytes(ctx, s.cache, key, load, cache.TTL(ttl))
	if err != nil {
		return nil, err
	}
	if s.hz.before(now.Add(ttl)) {
		if err := s.cache.Invalidate(ctx, key); err != nil {
			s.log.WarnContext(ctx, "cache invalidation failed", "key", key, "err", err)
		}
	}
	return raw, nil
}

// horizon returns the next boundary after now (zero: none), reading it
// from the database when it is unknown or has passed.
func (s *Service) horizon(ctx context.Context, now time.Time) (time.Time, error) {
	if at, ok := s.hz.get(now); ok {
		return at, nil
	}
	s.hzLoad.Lock()
	defer s.hzLoad.Unlock()
	if at, ok := s.hz.get(now); ok {
		return at, nil
	}
	at, err := s.st.nextAfter(ctx, now)
	if err != nil {
		return time.Time{}, err
	}
	s.hz.offer(at, now)
	if kept, ok := s.hz.get(now); ok {
		return kept, nil
	}
	return at, nil
}

// refreshHorizon reads the next boundary again, after a change or a pass
// of the clock, before its invalidation.
func (s *Service) refreshHorizon(ctx context.Context) {
	now := s.now()
	at, err := s.st.nextAfter(ctx, now)
	if err != nil {
		s.hz.forget() // the next read reads it
		s.log.WarnContext(ctx, "cannot read the next announcement boundary", "err", err)
		return
	}
	s.hz.offer(at, now)
}

// ListJSON returns every announcement, in display order, as a JSON array.
func (s *Service) ListJSON(ctx context.Context) ([]byte, error) {
	return cache.WrapBytes(ctx, s.cache, keyList, func(ctx context.Context) ([]byte, error) {
		as, err := s.st.list(ctx)
		if err != nil {
			return nil, err
		}
		return json.Marshal(as)
	})
}

// List is ListJSON, decoded.
func (s *Service) List(ctx context.Context) ([]Announcement, error) {
	raw, err := s.ListJSON(ctx)
	if err != nil {
		return nil, err
	}
	var out []Announcement
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("announcement: decode list: %w", err)
	}
	return out, nil
}

// Get returns one announcement, read from the database.
func (s *Service) Get(ctx context.Context, id string) (Announcement, error) {
	return s.st.get(ctx, s.st.db, id, false)
}

// Mutations.

// Input is what may be set on an announcement; nil fields are left alone
// by Update and take their defaults on Create (Title and Message are
// required there). StartsAt and ExpiresAt: nil leaves the time, a
// pointer to nil clears it.
type Input struct {
	Title       *string
	Message     *string
	Severity    *Severity
	Visibility  *Visibility
	DisplayMode *DisplayMode
	Active      *bool
	StartsAt    **time.Time
	ExpiresAt   **time.Time
}

// Limits of the fields.
const (
	maxTitle   = 200
	maxMessage = 10000
	maxReorder = 10000
)

// validate checks each field given; create requires the title and the
// message. Its error names the field.
func (in Input) validate(create bool) error {
	err := rpc.FirstErr(
		rpc.CheckName("title", in.Title, create, maxTitle),
		rpc.CheckName("message", in.Message, create, maxMessage),
		oneOf("severity", in.Severity, Severities),
		oneOf("visibility", in.Visibility, Visibilities),
		oneOf("displayMode", in.DisplayMode, DisplayModes),
	)
	if err != nil {
		return err
	}
	if in.StartsAt != nil && in.ExpiresAt != nil {
		return checkSpan(*in.StartsAt, *in.ExpiresAt, "expiresAt")
	}
	return nil
}

func oneOf[T ~string](field string, v *T, valid []T) error {
	if v != nil && !slices.Contains(valid, *v) {
		return rpc.Invalid(field, fmt.Sprintf("must be one of %v", valid))
	}
	return nil
}

// checkSpan requires expiresAt after startsAt when both are set; the
// error names field, the one the input changed.
func checkSpan(startsAt, expiresAt *time.Time, field string) error {
	if startsAt == nil || expiresAt == nil || normal(expiresAt).After(*normal(startsAt)) {
		return nil
	}
	if field == "startsAt" {
		return rpc.Invalid(field, "must be before expiresAt")
	}
	return rpc.Invalid(field, "must be after startsAt")
}

// normal is a time as stored: UTC, to the microsecond.
func normal(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	n := t.UTC().Truncate(time.Microsecond)
	return &n
}

func (in Input) apply(a *Announcement) {
	set(&a.Title, in.Title)
	set(&a.Message, in.Message)
	set(&a.Severity, in.Severity)
	set(&a.Visibility, in.Visibility)
	set(&a.DisplayMode, in.DisplayMode)
	set(&a.Active, in.Active)
	if in.StartsAt != nil {
		a.StartsAt = normal(*in.StartsAt)
	}
	if in.ExpiresAt != nil {
		a.ExpiresAt = normal(*in.ExpiresAt)
	}
}

func set[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// Create adds an announcement after every other one: by default info,
// shown to all, in the banner and on the dashboard, active, with no start
// or expiry.
func (s *Service) Create(ctx context.Context, by Author, in Input) (Announcement, error) {
	if err := in.validate(true); err != nil {
		return Announcement{}, err
	}
	now := s.now()
	a := Announcement{ID: newID(), Severity: Info, Visibility: All, DisplayMode: Both, Active: true,
		CreatedBy: by.ID, CreatedByName: by.Name, CreatedAt: now, UpdatedAt: now}
	in.apply(&a)
	err := s.apply(ctx, "createAnnouncement", func(ctx context.Context, tx *store.Tx) (change, error) {
		order, err := s.st.insert(ctx, tx, a)
		a.SortOrder = order
		return change{id: a.ID, action: ActionCreated}, err
	})
	if err != nil {
		return Announcement{}, err
	}
	return a, nil
}

// Update changes the fields in gives, and only those: it reads the
// announcement, checks the result and writes it in one transaction that
// holds the row. An unknown id is ErrNotFound.
func (s *Service) Update(ctx context.Context, id string, in Input) (Announcement, error) {
	if err := in.validate(false); err != nil {
		return Announcement{}, err
	}
	var out Announcement
	err := s.apply(ctx, "updateAnnouncement", func(ctx context.Context, tx *store.Tx) (change, error) {
		a, err := s.st.get(ctx, tx, id, true)
		if err != nil {
			return change{}, err
		}
		in.apply(&a)
		field := "expiresAt"
		if in.ExpiresAt == nil {
			field = "startsAt"
		}
		if err := checkSpan(a.StartsAt, a.ExpiresAt, field); err != nil {
			return change{}, err
		}
		a.UpdatedAt = s.now()
		if err := s.st.save(ctx, tx, a); err != nil {
			return change{}, err
		}
		out = a
		return change{id: id, action: ActionUpdated}, nil
	})
	if err != nil {
		return Announcement{}, err
	}
	return out, nil
}

// Delete deletes an announcement and its dismissals. An unknown id is
// ErrNotFound.
func (s *Service) Delete(ctx context.Context, id string) error {
	return s.apply(ctx, "deleteAnnouncement", func(ctx context.Context, tx *store.Tx) (change, error) {
		return change{id: id, action: ActionDeleted}, s.st.delete(ctx, tx, id)
	})
}

// Reorder gives ids[i] sort order i. ids must name every announcement
// once; anything else is an *rpc.Error naming orderedIds, and changes
// nothing.
func (s *Service) Reorder(ctx context.Context, ids []string) error {
	if err := checkOrder(ids); err != nil {
		return err
	}
	return s.apply(ctx, "reorderAnnouncements", func(ctx context.Context, tx *store.Tx) (change, error) {
		have, err := s.st.ids(ctx, tx)
		if err != nil {
			return change{}, err
		}
		if err := permutation(ids, have); err != nil {
			return change{}, err
		}
		return change{action: ActionReordered}, s.st.setOrder(ctx, tx, ids, s.now())
	})
}

// checkOrder checks a reorder's ids on their own: each a valid id, none
// twice.
func checkOrder(ids []string) error {
	if ids == nil {
		return rpc.Invalid("orderedIds", "required")
	}
	if len(ids) > maxReorder {
		return rpc.Invalid("orderedIds", fmt.Sprintf("too many (at most %d)", maxReorder))
	}
	seen := make(map[string]bool, len(ids))
	for i, id := range ids {
		if err := rpc.CheckID(fmt.Sprintf("orderedIds[%d]", i), id); err != nil {
			return err
		}
		if seen[id] {
			return rpc.Invalid("orderedIds", fmt.Sprintf("names %q twice", id))
		}
		seen[id] = true
	}
	return nil
}

// permutation requires ids (distinct) to name exactly the announcements
// of have (sorted), and says which one is not.
func permutation(ids, have []string) error {
	for _, id := range ids {
		if _, ok := slices.BinarySearch(have, id); !ok {
			return rpc.Invalid("orderedIds", fmt.Sprintf("no announcement %q", id))
		}
	}
	named := make(map[string]bool, len(ids))
	for _, id := range ids {
		named[id] = true
	}
	for _, id := range have {
		if !named[id] {
			return rpc.Invalid("orderedIds", fmt.Sprintf("must name every announcement: %q is missing", id))
		}
	}
	return nil
}

// Dismiss hides an announcement from userID (and only them). Dismissing
// one twice is dismissing it once. An unknown id is ErrNotFound.
func (s *Service) Dismiss(ctx context.Context, userID, id string) error {
	if userID == "" {
		return errors.New("announcement: dismiss: no user")
	}
	return mutate.Do(ctx, s.log, "dismissAnnouncement",
		func(ctx context.Context) error { return s.st.dismiss(ctx, userID, id, s.now()) },
		func(ctx context.Context) error { return s.dropUser(ctx, userID) },
		func(ctx context.Context) {
			p := Payload{AnnouncementID: id, Action: ActionDismissed}
			if err := s.bus.SendToUser(ctx, SignalUpdated, userID, p); err != nil {
				s.log.WarnContext(ctx, "signal failed", "signal", SignalUpdated, "err", err)
			}
		})
}

// UserDeleted is the auth userDeleted hook: it drops the user's entries
// (their dismissals went with the user's row, by cascade).
func (s *Service) UserDeleted(ctx context.Context, userID string) {
	if err := s.dropUser(ctx, userID); err != nil {
		s.log.WarnContext(ctx, "cache invalidation failed", "user", userID, "err", err)
	}
}

func (s *Service) dropUser(ctx context.Context, userID string) error {
	_, err := s.cache.InvalidatePrefix(ctx, prefixUser(userID))
	return err
}

// The mutation path.

// change is what a mutation did, for its signal.
type change struct {
	id     string
	action string
}

// apply runs write in a transaction, then reads the horizon again and
// drops every caller's entries and the list, then broadcasts and pokes
// the clock.
func (s *Service) apply(ctx context.Context, name string, write func(ctx context.Context, tx *store.Tx) (change, error)) error {
	var ch change
	return mutate.Do(ctx, s.log, name,
		func(ctx context.Context) error {
			return s.st.db.InTx(ctx, func(tx *store.Tx) (err error) {
				ch, err = write(ctx, tx)
				return err
			})
		},
		func(ctx context.Context) error {
			return errors.Join(s.dropActive(ctx), s.cache.Invalidate(ctx, keyList))
		},
		func(ctx context.Context) {
			s.broadcast(ctx, ch)
			s.alarm.Poke()
		})
}

// dropActive reads the horizon again, then drops every caller's entries.
func (s *Service) dropActive(ctx context.Context) error {
	s.refreshHorizon(ctx)
	_, err := s.cache.InvalidatePrefix(ctx, activeFam)
	return err
}

func (s *Service) broadcast(ctx context.Context, ch change) {
	if err := s.bus.Broadcast(ctx, SignalUpdated, Payload{AnnouncementID: ch.id, Action: ch.action}); err != nil {
		s.log.WarnContext(ctx, "signal failed", "signal", SignalUpdated, "err", err)
	}
}
