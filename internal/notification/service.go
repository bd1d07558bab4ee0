package notification

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/mutate"
	"github.com/checkstack/checkstack/internal/signal"
	"github.com/checkstack/checkstack/internal/store"
)

// Signals, each sent to one user. Every one carries the user's unread
// count after the change, so a notification bell updates without a
// refetch.
const (
	SignalReceived             = "NOTIFICATION_RECEIVED"              // {notificationId, importance, unreadCount}
	SignalRead                 = "NOTIFICATION_READ"                  // {notificationId (absent: all), unreadCount}
	SignalDeleted              = "NOTIFICATION_DELETED"               // {notificationId, unreadCount}
	SignalSubscriptionsChanged = "NOTIFICATION_SUBSCRIPTIONS_CHANGED" // {groupId, subscribed}
)

// countPayload is the payload of SignalReceived, SignalRead and
// SignalDeleted.
type countPayload struct {
	NotificationID string     `json:"notificationId,omitempty"`
	Importance     Importance `json:"importance,omitempty"`
	UnreadCount    int        `json:"unreadCount"`
}

// User is what delivery needs to know of a recipient.
type User struct {
	Name  string
	Email string
}

// UserLookup resolves a user for external delivery; ErrNotFound for an
// unknown user.
type UserLookup func(ctx context.Context, id string) (User, error)

// Options configure a Service. Zero values are the defaults shown.
type Options struct {
	// TTL is how long reads stay cached; 15s. Every mutation invalidates
	// what it changes at once; the TTL only bounds memory.
	TTL time.Duration
	// Retention is the age after which read notifications are purged;
	// 30 days.
	Retention time.Duration
	// SystemGroups lists the catalog groups a system belongs to, for
	// NotifySystem (ErrNotFound for a system that does not exist); nil:
	// only the system's own group is notified.
	SystemGroups func(ctx context.Context, systemID string) ([]string, error)
	// Delivery tunes the external channels' workers.
	Delivery DeliveryOptions
	// Now is the clock; time.Now.
	Now func() time.Time
}

// Service is the notification domain. Safe for concurrent use.
type Service struct {
	st    sqlStore
	cache *cache.Scope
	bus   signal.Bus
	users UserLookup
	log   *slog.Logger
	opts  Options

	deliverer *deliverer

	mu          sync.Mutex
	suppressors []Suppressor
}

// New returns the notification service on db, caching through provider.
// Its delivery workers run once Start is called.
func New(db *store.DB, provider cache.Provider, bus signal.Bus, users UserLookup, log *slog.Logger, opts Options) *Service {
	if opts.TTL <= 0 {
		opts.TTL = 15 * time.Second
	}
	if opts.Retention <= 0 {
		opts.Retention = 30 * 24 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log = log.With("component", "notification")
	s := &Service{
		st: sqlStore{db: db.For("notification")},
		cache: cache.NewScope(provider, cache.ScopeOptions{
			Name:       scopeName,
			DefaultTTL: opts.TTL,
			OnError:    func(op string, err error) { log.Warn("cache provider error", "op", op, "err", err) },
		}),
		bus:   bus,
		users: users,
		log:   log,
		opts:  opts,
	}
	s.deliverer = newDeliverer(s, opts.Delivery)
	return s
}

// Scope is the service's cache scope, for metrics.
func (s *Service) Scope() *cache.Scope { return s.cache }

func (s *Service) now() time.Time { return s.opts.Now().UTC().Truncate(time.Microsecond) }

func newID() string { return rand.Text() }

// Reads: each is one user's own.

// Notifications returns a page of the user's notifications, newest first.
func (s *Service) Notifications(ctx context.Context, userID string, f Filter) (Page, error) {
	return cache.Wrap(ctx, s.cache, keyNotifs(userID, f), s.loadPage(userID, f))
}

func (s *Service) loadPage(userID string, f Filter) func(ctx context.Context) (Page, error) {
	return func(ctx context.Context) (Page, error) { return s.st.page(ctx, userID, f) }
}

// UnreadCount returns how many of the user's notifications are unread.
func (s *Service) UnreadCount(ctx context.Context, userID string) (int, error) {
	return cache.Wrap(ctx, s.cache, keyUnread(userID), s.loadUnread(userID))
}

func (s *Service) loadUnread(userID string) func(ctx context.Context) (int, error) {
	return func(ctx context.Context) (int, error) { return s.st.unreadCount(ctx, userID) }
}

// Subscriptions lists the user's subscriptions with their groups' names.
func (s *Service) Subscriptions(ctx context.Context, userID string) ([]Subscription, error) {
	return cache.Wrap(ctx, s.cache, keySubs(userID), s.loadSubs(userID))
}

func (s *Service) loadSubs(userID string) func(ctx context.Context) ([]Subscription, error) {
	return func(ctx context.Context) ([]Subscription, error) { return s.st.subscriptions(ctx, userID) }
}

// Groups lists every group a user may subscribe to.
func (s *Service) Groups(ctx context.Context) ([]Group, error) { return s.st.groups(ctx) }

// Invalidation and signals.

// invalidateUsers drops every inbox entry of each user: the unread count
// and the notifications of every filter shape.
func (s *Service) invalidateUsers(ctx context.Context, userIDs []string) error {
	var errs []error
	for _, u := range userIDs {
		errs = append(errs, s.cache.Invalidate(ctx, keyUnread(u)))
		_, err := s.cache.InvalidatePrefix(ctx, prefixNotifs(u))
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// signalCounts sends name to each user, with the user's unread count read
// after the write (one query for all of them).
func (s *Service) signalCounts(ctx context.Context, name string, userIDs []string, payload func(userID string) countPayload) {
	counts, err := s.st.unreadCounts(ctx, userIDs)
	if err != nil {
		s.log.WarnContext(ctx, "unread counts for signals failed; signals sent without them", "err", err)
	}
	for _, u := range userIDs {
		p := payload(u)
		p.UnreadCount = counts[u]
		if err := s.bus.SendToUser(ctx, name, u, p); err != nil {
			s.log.WarnContext(ctx, "signal failed", "signal", name, "err", err)
		}
	}
}

// Mutations of a user's own inbox.

// MarkRead marks one of the user's notifications read, or all of them
// when id is "". Another user's notification is ErrNotFound.
func (s *Service) MarkRead(ctx context.Context, userID, id string) error {
	return mutate.Do(ctx, s.log, "markAsRead",
		func(ctx context.Context) error {
			if id == "" {
				return s.st.markAllRead(ctx, userID)
			}
			return s.st.markRead(ctx, userID, id)
		},
		func(ctx context.Context) error { return s.invalidateUsers(ctx, []string{userID}) },
		func(ctx context.Context) {
			s.signalCounts(ctx, SignalRead, []string{userID}, func(string) countPayload { return countPayload{NotificationID: id} })
		})
}

// Delete deletes one of the user's notifications. Another user's
// notification is ErrNotFound.
func (s *Service) Delete(ctx context.Context, userID, id string) error {
	return mutate.Do(ctx, s.log, "deleteNotification",
		func(ctx context.Context) error { return s.st.delete(ctx, userID, id) },
		func(ctx context.Context) error { return s.invalidateUsers(ctx, []string{userID}) },
		func(ctx context.Context) {
			s.signalCounts(ctx, SignalDeleted, []string{userID}, func(string) countPayload { return countPayload{NotificationID: id} })
		})
}

// Subscribe subscribes the user to a group (again is fine); ErrNotFound
// for an unknown group.
func (s *Service) Subscribe(ctx context.Context, userID, groupID string) error {
	return s.changeSubscription(ctx, "subscribe", userID, groupID, true,
		func(ctx context.Context) error { return s.st.subscribe(ctx, userID, groupID, s.now()) })
}

// Unsubscribe ends the user's subscription to a group (none is fine);
// ErrNotFound for an unknown group.
func (s *Service) Unsubscribe(ctx context.Context, userID, groupID string) error {
	return s.changeSubscription(ctx, "unsubscribe", userID, groupID, false,
		func(ctx context.Context) error { return s.st.unsubscribe(ctx, userID, groupID) })
}

func (s *Service) changeSubscription(ctx context.Context, name, userID, groupID string, subscribed bool, write func(context.Context) error) error {
	return mutate.Do(ctx, s.log, name, write,
		func(ctx context.Context) error { return s.cache.Invalidate(ctx, keySubs(userID)) },
		func(ctx context.Context) {
			p := map[string]any{"groupId": groupID, "subscribed": subscribed}
			if err := s.bus.SendToUser(ctx, SignalSubscriptionsChanged, userID, p); err != nil {
				s.log.WarnContext(ctx, "signal failed", "signal", SignalSubscriptionsChanged, "err", err)
			}
		})
}

// Sending: the service API other domains call.

// NotifyUsers puts m in the inbox of each user (each once), then, without
// waiting, hands it to the external channels each user opted into. It
// returns the notifications made. ErrUnknownUser, and nothing sent, when
// an id names no user.
func (s *Service) NotifyUsers(ctx context.Context, userIDs []string, m Message) ([]Notification, error) {
	users := slices.Compact(slices.Sorted(slices.Values(userIDs)))
	via := make(map[string]string, len(users))
	return s.notify(ctx, "notifyUsers", users, via, m)
}

// NotifyGroups puts m in the inbox of every subscriber of the groups, each
// user once however many of the groups they follow, then hands it to the
// external channels. ErrNotFound, and nothing sent, for an unknown group.
func (s *Service) NotifyGroups(ctx context.Context, groupIDs []string, m Message) ([]Notification, error) {
	return s.notifyGroups(ctx, groupIDs, m, nil)
}

// notifyGroups is NotifyGroups leaving out the users in skip.
func (s *Service) notifyGroups(ctx context.Context, groupIDs []string, m Message, skip []string) ([]Notification, error) {
	for attempt := 1; ; attempt++ {
		users, via, err := s.st.subscribers(ctx, groupIDs)
		if err != nil {
			return nil, err
		}
		if len(skip) > 0 {
			users = slices.DeleteFunc(users, func(u string) bool { return slices.Contains(skip, u) })
		}
		ns, err := s.notify(ctx, "notifyGroups", users, via, m)
		// A subscriber deleted between reading the subscribers and
		// writing must not cost the others their notification: read them
		// again.
		if errors.Is(err, ErrUnknownUser) && attempt < 3 {
			continue
		}
		return ns, err
	}
}

// NotifySystem notifies the subscribers of a system about its own health
// (health changes, SLO and anomaly alerts): the subscribers of its group
// and of the groups of every catalog group containing it, each user once.
// While a suppressor holds the system's notifications (see SuppressWhile)
// nothing is sent and the list is empty. Groups that do not exist (yet)
// are skipped.
func (s *Service) NotifySystem(ctx context.Context, systemID string, m Message) ([]Notification, error) {
	return s.NotifySystemWithout(ctx, systemID, m, nil)
}

// NotifySystemWithout is NotifySystem leaving out the users in skip (who
// muted what the message is about).
func (s *Service) NotifySystemWithout(ctx context.Context, systemID string, m Message, skip []string) ([]Notification, error) {
	if s.suppressed(ctx, systemID) {
		return []Notification{}, nil
	}
	return s.notifySystems(ctx, []string{systemID}, m, skip)
}

// NotifySystems notifies the subscribers of each system's group and of
// the groups of every catalog group containing one of them, each user
// once however many they follow. It is for news about the systems
// themselves (an incident, a maintenance window), which no suppressor
// holds back.
func (s *Service) NotifySystems(ctx context.Context, systemIDs []string, m Message) ([]Notification, error) {
	return s.notifySystems(ctx, systemIDs, m, nil)
}

func (s *Service) notifySystems(ctx context.Context, systemIDs []string, m Message, skip []string) ([]Notification, error) {
	var groups []string
	for _, id := range slices.Compact(slices.Sorted(slices.Values(systemIDs))) {
		groups = append(groups, SystemGroupID(id))
		if s.opts.SystemGroups == nil {
			continue
		}
		ids, err := s.opts.SystemGroups(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue // deleted meanwhile: its own group is gone too
		}
		if err != nil {
			return nil, fmt.Errorf("notification: groups of system %s: %w", id, err)
		}
		for _, g := range ids {
			groups = append(groups, CatalogGroupID(g))
		}
	}
	known, err := s.st.existingGroups(ctx, groups) // in order: a user's notification names the first group they follow
	if err != nil {
		return nil, err
	}
	if len(known) == 0 {
		return []Notification{}, nil
	}
	return s.notifyGroups(ctx, known, m, skip)
}

// Suppressor reports whether a system's own notifications are held back
// now: an incident or a maintenance window may ask for that.
type Suppressor func(ctx context.Context, systemID string) (bool, error)

// SuppressWhile registers fn: while it reports a system held, NotifySystem
// sends nothing for it. A suppressor that fails is logged and ignored: a
// notification too many beats one lost.
func (s *Service) SuppressWhile(fn Suppressor) {
	s.mu.Lock()
	s.suppressors = append(s.suppressors, fn)
	s.mu.Unlock()
}

func (s *Service) suppressed(ctx context.Context, systemID string) bool {
	s.mu.Lock()
	fns := slices.Clone(s.suppressors)
	s.mu.Unlock()
	for _, fn := range fns {
		held, err := fn(ctx, systemID)
		if err != nil {
			s.log.WarnContext(ctx, "cannot tell whether a system's notifications are suppressed; sending", "system", systemID, "err", err)
			continue
		}
		if held {
			return true
		}
	}
	return false
}

// notify writes one notification per user (via names the group each came
// through) with its deliveries, invalidates each user's entries, signals
// each user, and wakes the delivery workers.
func (s *Service) notify(ctx context.Context, name string, users []string, via map[string]string, m Message) ([]Notification, error) {
	m = m.normalized()
	if len(users) == 0 {
		return []Notification{}, nil
	}
	now := s.now()
	ns := make([]Notification, len(users))
	for i, u := range users {
		ns[i] = Notification{ID: newID(), UserID: u, Title: m.Title, Body: m.Body, Action: m.Action,
			Importance: m.Importance, GroupID: via[u], CreatedAt: now}
	}
	err := mutate.Do(ctx, s.log, name,
		func(ctx context.Context) error {
			ds, err := s.deliveriesFor(ctx, ns, now)
			if err != nil {
				return err
			}
			return s.st.insert(ctx, ns, ds)
		},
		func(ctx context.Context) error { return s.invalidateUsers(ctx, users) },
		func(ctx context.Context) {
			byUser := make(map[string]Notification, len(ns))
			for _, n := range ns {
				byUser[n.UserID] = n
			}
			s.signalCounts(ctx, SignalReceived, users, func(u string) countPayload {
				return countPayload{NotificationID: byUser[u].ID, Importance: byUser[u].Importance}
			})
			s.deliverer.wake()
		})
	if errors.Is(err, ErrUnknownUser) {
		return nil, s.unknownUser(ctx, users)
	}
	if err != nil {
		return nil, err
	}
	return ns, nil
}

// unknownUser names the first of users that does not exist.
func (s *Service) unknownUser(ctx context.Context, users []string) error {
	for _, u := range users {
		if _, err := s.users(ctx, u); errors.Is(err, ErrNotFound) {
			return &missingError{"user", u, ErrUnknownUser}
		}
	}
	return ErrUnknownUser
}

func (m Message) normalized() Message {
	if m.Importance == "" {
		m.Importance = Info
	}
	return m
}

// Groups as other domains manage them.

// EnsureGroup creates a group, or renames it when it exists; its
// subscribers' cached subscriptions (which show its name) are dropped.
func (s *Service) EnsureGroup(ctx context.Context, g Group) error {
	if g.CreatedAt.IsZero() {
		g.CreatedAt = s.now()
	}
	var users []string
	return mutate.Do(ctx, s.log, "ensureGroup",
		func(ctx context.Context) (err error) {
			users, err = s.st.ensureGroup(ctx, g)
			return err
		},
		func(ctx context.Context) error { return s.invalidateSubs(ctx, users) }, nil)
}

// invalidateSubs drops the cached subscriptions of each user.
func (s *Service) invalidateSubs(ctx context.Context, userIDs []string) error {
	var errs []error
	for _, u := range userIDs {
		errs = append(errs, s.cache.Invalidate(ctx, keySubs(u)))
	}
	return errors.Join(errs...)
}

// RemoveGroup removes a group with its subscriptions and drops its former
// subscribers' cached subscriptions. Removing a missing group is fine.
func (s *Service) RemoveGroup(ctx context.Context, id string) error {
	var users []string
	return mutate.Do(ctx, s.log, "removeGroup",
		func(ctx context.Context) (err error) {
			users, err = s.st.removeGroup(ctx, id)
			return err
		},
		func(ctx context.Context) error { return s.invalidateSubs(ctx, users) }, nil)
}

// SyncGroups makes owner's groups those want returns: it creates or
// renames each, and removes the owner's others. The server calls it at
// start, so that groups follow entities created or deleted while no server
// ran the hooks. The groups present are read before want is called, so a
// group another instance creates meanwhile (with its entity) is never
// taken for a stale one.
func (s *Service) SyncGroups(ctx context.Context, owner string, want func(context.Context) ([]Group, error)) error {
	have, err := s.st.groupIDsOf(ctx, owner)
	if err != nil {
		return err
	}
	gs, err := want(ctx)
	if err != nil {
		return err
	}
	keep := make(map[string]bool, len(gs))
	for _, g := range gs {
		g.Owner = owner
		keep[g.ID] = true
		if err := s.EnsureGroup(ctx, g); err != nil {
			return err
		}
	}
	for _, id := range have {
		if !keep[id] {
			if err := s.RemoveGroup(ctx, id); err != nil {
				return err
			}
		}
	}
	return nil
}

// UserDeleted is the auth domain's userDeleted hook: the user's
// notifications, subscriptions, preferences and deliveries went with the
// user's row (ON DELETE CASCADE); drop what the cache holds of them.
func (s *Service) UserDeleted(ctx context.Context, userID string) {
	err := errors.Join(s.invalidateUsers(ctx, []string{userID}), s.cache.Invalidate(ctx, keySubs(userID)))
	if err != nil {
		s.log.WarnContext(ctx, "cache invalidation failed", "user", userID, "err", err)
	}
}

// Purge deletes read notifications older than the retention and drops the
// cached entries of the users who had some.
func (s *Service) Purge(ctx context.Context) error {
	cutoff := s.now().Add(-s.opts.Retention)
	var users []string
	var deleted int64
	err := mutate.Do(ctx, s.log, "purgeNotifications",
		func(ctx context.Context) (err error) {
			users, deleted, err = s.st.purge(ctx, cutoff)
			return err
		},
		func(ctx context.Context) error { return s.invalidateUsers(ctx, users) }, nil)
	if err != nil {
		return err
	}
	logs, err := s.st.purgeDeliveries(ctx, cutoff)
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "retention applied", "notifications_deleted", deleted, "deliveries_deleted", logs)
	return nil
}
