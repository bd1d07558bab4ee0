package incident

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/mutate"
	"github.com/checkstack/checkstack/internal/notification"
	"github.com/checkstack/checkstack/internal/rpc"
	"github.com/checkstack/checkstack/internal/signal"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/systemlink"
	"github.com/checkstack/checkstack/internal/timeline"
)

// SignalUpdated is broadcast after every change of an incident:
// {incidentId, systemIds, action}. systemIds holds the systems before and
// after the change, so a dashboard refetches every system it moved from or
// to.
const SignalUpdated = "INCIDENT_UPDATED"

// Actions of SignalUpdated.
const (
	ActionCreated       = "created"
	ActionUpdated       = "updated"        // its fields or systems
	ActionUpdateAdded   = "update_added"   // a timeline update (with or without a status change)
	ActionUpdateEdited  = "update_edited"  // an update's message
	ActionUpdateDeleted = "update_deleted" // an update removed
	ActionResolved      = "resolved"
	ActionReopened      = "reopened"
	ActionDeleted       = "deleted"
	ActionSystemRemoved = "system_removed" // a system it affected was deleted
)

// Payload is the payload of SignalUpdated.
type Payload struct {
	IncidentID string   `json:"incidentId"`
	SystemIDs  []string `json:"systemIds"`
	Action     string   `json:"action"`
}

// Notifier tells the subscribers of systems; *notification.Service is
// one.
type Notifier interface {
	NotifySystems(ctx context.Context, systemIDs []string, m notification.Message) ([]notification.Notification, error)
}

// Options configure a Service. Zero values are the defaults shown.
type Options struct {
	// TTL is how long reads stay cached; 15s. Every change invalidates
	// what it touched at once; the TTL only bounds memory.
	TTL time.Duration
	// SystemExists tells whether a system exists, so that an unknown one
	// in systemIds is named in the error; nil: the database refuses it
	// without saying which.
	SystemExists systemlink.Exists
	// SystemName names systems in notifications; nil: their ids.
	SystemName func(ctx context.Context, id string) string
	// Notifier tells subscribers of incidents; nil: nobody is told.
	Notifier Notifier
	// PublicSystems is the set of systems the public status page shows:
	// its visitors see the incidents on them; nil: none.
	PublicSystems systemlink.Shown
	// Now is the clock; time.Now.
	Now func() time.Time
}

// Service is the incident domain. Safe for concurrent use.
type Service struct {
	st    sqlStore
	cache *cache.Scope
	bus   signal.Bus
	log   *slog.Logger
	opts  Options
}

// New returns the incident service on db, caching through provider.
func New(db *store.DB, provider cache.Provider, bus signal.Bus, log *slog.Logger, opts Options) *Service {
	if opts.TTL <= 0 {
		opts.TTL = 15 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log = log.With("component", "incident")
	return &Service{
		st: newStore(db.For("incident")),
		cache: cache.NewScope(provider, cache.ScopeOptions{
			Name:       scopeName,
			DefaultTTL: opts.TTL,
			OnError:    func(op string, err error) { log.Warn("cache provider error", "op", op, "err", err) },
		}),
		bus:  bus,
		log:  log,
		opts: opts,
	}
}

// Scope is the service's cache scope, for metrics.
func (s *Service) Scope() *cache.Scope { return s.cache }

func (s *Service) now() time.Time { return s.opts.Now().UTC().Truncate(time.Microsecond) }

func newID() string { return rand.Text() }

// Reads.

// Filter selects incidents for List. A Status selects exactly the
// incidents in it; without one, resolved incidents are left out unless
// IncludeResolved. SystemID, when set, keeps those affecting that system.
type Filter struct {
	Status          Status
	SystemID        string
	IncludeResolved bool
}

func (f Filter) normalized() Filter {
	if f.Status != "" {
		f.IncludeResolved = f.Status == Resolved
	}
	return f
}

// ListJSON returns the incidents matching f, newest first, as a JSON
// array: the form the API serves, cached per filter.
func (s *Service) ListJSON(ctx context.Context, f Filter) ([]byte, error) {
	f = f.normalized()
	return cache.WrapBytes(ctx, s.cache, keyList(f), func(ctx context.Context) ([]byte, error) {
		ins, err := s.st.list(ctx, f)
		if err != nil {
			return nil, err
		}
		return json.Marshal(ins)
	})
}

// List is ListJSON, decoded.
func (s *Service) List(ctx context.Context, f Filter) ([]Incident, error) {
	raw, err := s.ListJSON(ctx, f)
	if err != nil {
		return nil, err
	}
	var out []Incident
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("incident: decode list: %w", err)
	}
	return out, nil
}

// Get returns an incident with its timeline.
func (s *Service) Get(ctx context.Context, id string) (Detail, error) {
	return cache.WrapFound(ctx, s.cache, keyIncident(id), ErrNotFound, func(ctx context.Context) (Detail, error) {
		return s.st.detail(ctx, id)
	})
}

// SystemsJSON returns, for each system in order, its unresolved incidents
// (newest first) as a JSON array. Entries (system:<id>) are shared by
// every read of a system, single or bulk; the misses load together, in
// two queries a chunk.
func (s *Service) SystemsJSON(ctx context.Context, systemIDs []string) ([]json.RawMessage, error) {
	return cache.WrapManyJSONFamily(ctx, s.cache, systemIDs, famSystem, s.st.unresolvedOf)
}

// forSystems is SystemsJSON, decoded.
func (s *Service) forSystems(ctx context.Context, systemIDs []string) ([][]Incident, error) {
	raws, err := s.SystemsJSON(ctx, systemIDs)
	if err != nil {
		return nil, err
	}
	return cache.DecodeJSON[[]Incident](raws)
}

// ForSystem returns a system's unresolved incidents, newest first.
func (s *Service) ForSystem(ctx context.Context, systemID string) ([]Incident, error) {
	raws, err := s.SystemsJSON(ctx, []string{systemID})
	if err != nil {
		return nil, err
	}
	var out []Incident
	if err := json.Unmarshal(raws[0], &out); err != nil {
		return nil, fmt.Errorf("incident: decode incidents of %s: %w", systemID, err)
	}
	return out, nil
}

// SuppressesNotifications reports whether an unresolved incident asks
// for the system's health notifications to be held: a notification
// suppressor (see notification.Service.SuppressWhile).
func (s *Service) SuppressesNotifications(ctx context.Context, systemID string) (bool, error) {
	ins, err := s.ForSystem(ctx, systemID)
	if err != nil {
		return false, err
	}
	for _, in := range ins {
		if in.SuppressNotifications && in.Status != Resolved {
			return true, nil
		}
	}
	return false, nil
}

// Mutations. Each runs in one transaction that reads the incident (held
// against other writers until it commits) and writes only what the input
// names, so two edits at once are both kept; then it drops the incident,
// every system it had before and after, and every list from the cache,
// then signals, then notifies.

// CreateInput is a new incident.
type CreateInput struct {
	Title                 string
	Description           *string
	Severity              Severity // "": major
	SuppressNotifications bool
	SystemIDs             []string
	InitialMessage        *string // the first update's message; "Incident reported" when nil or empty
}

// Create opens an incident, investigating.
func (s *Service) Create(ctx context.Context, by timeline.Author, in CreateInput) (Detail, error) {
	systems := systemlink.Normalize(in.SystemIDs)
	if err := s.opts.SystemExists.Check(ctx, in.SystemIDs); err != nil {
		return Detail{}, err
	}
	now := s.now()
	inc := Incident{ID: newID(), Title: in.Title, Description: in.Description, Status: Investigating, Severity: in.Severity,
		SuppressNotifications: in.SuppressNotifications, SystemIDs: systems, CreatedAt: now, UpdatedAt: now}
	if inc.Severity == "" {
		inc.Severity = Major
	}
	message := "Incident reported"
	if in.InitialMessage != nil && *in.InitialMessage != "" {
		message = *in.InitialMessage
	}
	err := s.apply(ctx, "createIncident", func(ctx context.Context, tx *store.Tx) (change, error) {
		if err := s.st.insert(ctx, tx, inc); err != nil {
			return change{}, err
		}
		if _, err := s.st.updates.Insert(ctx, tx, inc.ID, timeline.New(message, string(Investigating), by, now)); err != nil {
			return change{}, err
		}
		return change{action: ActionCreated, incident: inc, systems: systems, notice: noticeCreated, message: message}, nil
	})
	if err != nil {
		return Detail{}, s.opts.SystemExists.Explain(ctx, err, errUnknownSystem, in.SystemIDs)
	}
	return s.Get(ctx, inc.ID)
}

// UpdateInput is what updateIncident may change; nil fields are left
// alone.
type UpdateInput struct {
	Title *string
	// Description: nil leaves it; a pointer to nil clears it.
	Description           **string
	Severity              *Severity
	SuppressNotifications *bool
	SystemIDs             []string // nil: unchanged
}

// Update changes an incident's fields and systems. The subscribers of a
// system an unresolved incident newly affects are told of it, as if it
// were reported there.
func (s *Service) Update(ctx context.Context, id string, in UpdateInput) (Detail, error) {
	var systems []string
	if in.SystemIDs != nil {
		systems = systemlink.Normalize(in.SystemIDs)
		if err := s.opts.SystemExists.Check(ctx, in.SystemIDs); err != nil {
			return Detail{}, err
		}
	}
	err := s.apply(ctx, "updateIncident", func(ctx context.Context, tx *store.Tx) (change, error) {
		inc, err := s.st.get(ctx, tx, id, true)
		if err != nil {
			return change{}, err
		}
		before := inc.SystemIDs
		set(&inc.Title, in.Title)
		set(&inc.Description, in.Description)
		set(&inc.Severity, in.Severity)
		set(&inc.SuppressNotifications, in.SuppressNotifications)
		inc.UpdatedAt = s.later(inc.UpdatedAt)
		if err := s.st.save(ctx, tx, inc); err != nil {
			return change{}, err
		}
		if systems != nil {
			if err := s.st.setSystems(ctx, tx, id, systems, nil); err != nil {
				return change{}, err
			}
			inc.SystemIDs = systems
		}
		ch := change{action: ActionUpdated, incident: inc, systems: systemlink.Union(before, inc.SystemIDs)}
		if added := systemlink.Without(inc.SystemIDs, before); len(added) > 0 && inc.Status != Resolved {
			ch.notice, ch.audience = noticeCreated, added
		}
		return ch, nil
	})
	if err != nil {
		return Detail{}, s.opts.SystemExists.Explain(ctx, err, errUnknownSystem, in.SystemIDs)
	}
	return s.Get(ctx, id)
}

func set[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// later is now, or just after prev if the clock has not moved past it:
// updatedAt only grows.
func (s *Service) later(prev time.Time) time.Time {
	now := s.now()
	if !now.After(prev) {
		now = prev.Add(time.Microsecond)
	}
	return now
}

// AddUpdate posts an update on an incident's timeline. A statusChange
// moves the incident to that status: to resolved resolves it, away from
// resolved reopens it.
func (s *Service) AddUpdate(ctx context.Context, by timeline.Author, incidentID, message string, statusChange *Status) (Update, error) {
	var out Update
	err := s.apply(ctx, "addIncidentUpdate", func(ctx context.Context, tx *store.Tx) (change, error) {
		inc, err := s.st.get(ctx, tx, incidentID, true)
		if err != nil {
			return change{}, err
		}
		ch := change{action: ActionUpdateAdded, systems: inc.SystemIDs, message: message, from: inc.Status}
		var to string // what the timeline records: a status that really changed
		if statusChange != nil {
			if ch.notice = s.move(&inc, *statusChange); ch.notice != noticeNone {
				to = string(*statusChange)
			}
			switch ch.notice {
			case noticeResolved:
				ch.action = ActionResolved
			case noticeReopened:
				ch.action = ActionReopened
			}
		}
		inc.UpdatedAt = s.later(inc.UpdatedAt)
		if err := s.st.save(ctx, tx, inc); err != nil {
			return change{}, err
		}
		e := timeline.New(message, to, by, inc.UpdatedAt)
		e, err = s.st.updates.Insert(ctx, tx, incidentID, e)
		if err != nil {
			return change{}, err
		}
		out = Update{IncidentID: incidentID, Entry: e}
		ch.incident = inc
		return ch, nil
	})
	return out, err
}

// move sets inc's status to to and says how the change reads to
// subscribers: noticeNone when the status stays, else updated, resolved
// or reopened.
func (s *Service) move(inc *Incident, to Status) notice {
	from := inc.Status
	if to == from {
		return noticeNone
	}
	inc.Status = to
	switch {
	case to == Resolved:
		t := s.later(inc.UpdatedAt)
		inc.ResolvedAt = &t
		return noticeResolved
	case from == Resolved:
		inc.ResolvedAt = nil
		return noticeReopened
	default:
		return noticeUpdated
	}
}

// Resolve resolves an incident with an update (message, or "Incident
// resolved"). Resolving a resolved incident is a conflict.
func (s *Service) Resolve(ctx context.Context, by timeline.Author, id string, message *string) (Detail, error) {
	m := "Incident resolved"
	if message != nil && *message != "" {
		m = *message
	}
	err := s.apply(ctx, "resolveIncident", func(ctx context.Context, tx *store.Tx) (change, error) {
		inc, err := s.st.get(ctx, tx, id, true)
		if err != nil {
			return change{}, err
		}
		if inc.Status == Resolved {
			return change{}, rpc.Conflict("incident is already resolved")
		}
		from := inc.Status
		s.move(&inc, Resolved)
		inc.UpdatedAt = *inc.ResolvedAt
		if err := s.st.save(ctx, tx, inc); err != nil {
			return change{}, err
		}
		if _, err := s.st.updates.Insert(ctx, tx, id, timeline.New(m, string(Resolved), by, inc.UpdatedAt)); err != nil {
			return change{}, err
		}
		return change{action: ActionResolved, incident: inc, systems: inc.SystemIDs, notice: noticeResolved, from: from, message: m}, nil
	})
	if err != nil {
		return Detail{}, err
	}
	return s.Get(ctx, id)
}

// EditUpdate replaces an update's message: a typo in a public timeline
// must be fixable. The status it moved the incident to stays.
func (s *Service) EditUpdate(ctx context.Context, updateID, message string) (Update, error) {
	var out Update
	err := s.apply(ctx, "editIncidentUpdate", func(ctx context.Context, tx *store.Tx) (change, error) {
		inc, err := s.lockParent(ctx, tx, updateID)
		if err != nil {
			return change{}, err
		}
		inc.UpdatedAt = s.later(inc.UpdatedAt)
		_, e, err := s.st.updates.Edit(ctx, tx, updateID, message, inc.UpdatedAt)
		if err != nil {
			return change{}, err
		}
		if err := s.st.save(ctx, tx, inc); err != nil {
			return change{}, err
		}
		out = Update{IncidentID: inc.ID, Entry: e}
		return change{action: ActionUpdateEdited, incident: inc, systems: inc.SystemIDs}, nil
	})
	return out, err
}

// DeleteUpdate removes an update from the timeline. The status it moved
// the incident to stays.
func (s *Service) DeleteUpdate(ctx context.Context, updateID string) error {
	return s.apply(ctx, "deleteIncidentUpdate", func(ctx context.Context, tx *store.Tx) (change, error) {
		inc, err := s.lockParent(ctx, tx, updateID)
		if err != nil {
			return change{}, err
		}
		if _, err := s.st.updates.Delete(ctx, tx, updateID); err != nil {
			return change{}, err
		}
		inc.UpdatedAt = s.later(inc.UpdatedAt)
		if err := s.st.save(ctx, tx, inc); err != nil {
			return change{}, err
		}
		return change{action: ActionUpdateDeleted, incident: inc, systems: inc.SystemIDs}, nil
	})
}

// lockParent reads and holds the incident an update belongs to.
func (s *Service) lockParent(ctx context.Context, tx *store.Tx, updateID string) (Incident, error) {
	parent, err := s.st.updates.ParentOf(ctx, tx, updateID)
	if err != nil {
		return Incident{}, err
	}
	return s.st.get(ctx, tx, parent, true)
}

// Delete deletes an incident with its timeline.
func (s *Service) Delete(ctx context.Context, id string) error {
	return s.apply(ctx, "deleteIncident", func(ctx context.Context, tx *store.Tx) (change, error) {
		inc, err := s.st.get(ctx, tx, id, true)
		if err != nil {
			return change{}, err
		}
		if err := s.st.delete(ctx, tx, id); err != nil {
			return change{}, err
		}
		return change{action: ActionDeleted, incident: inc, systems: inc.SystemIDs}, nil
	})
}

// SystemDeleted is the catalog's systemDeleted hook: the system leaves
// every incident, and an incident left with no system is deleted. It also
// repairs what an earlier deletion left when its hook never ran; start-up
// calls it with "" for that.
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
					// Lock the incident, then take its orphaned links:
					// the order every writer takes them in.
					inc, err := s.st.get(ctx, tx, id, true)
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
					ch := change{action: ActionSystemRemoved, incident: inc, systems: systemlink.Union(inc.SystemIDs, nonEmpty(systemID))}
					if len(inc.SystemIDs) == 0 {
						ch.action = ActionDeleted
						err = s.st.delete(ctx, tx, id)
					} else {
						inc.UpdatedAt = s.later(inc.UpdatedAt)
						ch.incident = inc
						err = s.st.save(ctx, tx, inc)
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
			errs := []error{}
			if systemID != "" {
				errs = append(errs, s.cache.Invalidate(ctx, keySystem(systemID)))
			}
			for _, ch := range changes {
				errs = append(errs, s.invalidate(ctx, ch))
			}
			if len(changes) == 0 && systemID != "" {
				_, err := s.cache.InvalidatePrefix(ctx, listFam) // lists filtered on the deleted system
				errs = append(errs, err)
			}
			return errors.Join(errs...)
		},
		func(ctx context.Context) {
			for _, ch := range changes {
				s.signal(ctx, ch)
			}
		})
	if err != nil {
		s.log.ErrorContext(ctx, "cannot remove a deleted system from incidents", "system", systemID, "err", err)
	}
}

func nonEmpty(id string) []string {
	if id == "" {
		return nil
	}
	return []string{id}
}

// The mutation path.

// notice is how a change reads to subscribers.
type notice int

const (
	noticeNone notice = iota
	noticeCreated
	noticeUpdated // the status changed
	noticeResolved
	noticeReopened
)

// change is what a mutation did: what to drop from the cache, signal and
// tell subscribers.
type change struct {
	action   string
	incident Incident // after the change (as it was, for a deletion)
	systems  []string // before and after
	notice   notice
	from     Status // the status before, for noticeUpdated
	message  string // the update posted with the change
	// audience are the systems whose subscribers are told; nil: the
	// incident's.
	audience []string
}

// apply runs write in a transaction, then invalidates, signals and
// notifies what it changed.
func (s *Service) apply(ctx context.Context, name string, write func(ctx context.Context, tx *store.Tx) (change, error)) error {
	var ch change
	err := mutate.Do(ctx, s.log, name,
		func(ctx context.Context) error {
			return s.st.db.InTx(ctx, func(tx *store.Tx) (err error) {
				ch, err = write(ctx, tx)
				return err
			})
		},
		func(ctx context.Context) error { return s.invalidate(ctx, ch) },
		func(ctx context.Context) {
			s.signal(ctx, ch)
			s.notify(ctx, ch)
		})
	if errors.Is(err, timeline.ErrNotFound) {
		return ErrNotFound
	}
	return err
}

// invalidate drops the incident, each of its systems (before and after)
// and every list.
func (s *Service) invalidate(ctx context.Context, ch change) error {
	errs := []error{s.cache.Invalidate(ctx, keyIncident(ch.incident.ID))}
	for _, id := range ch.systems {
		errs = append(errs, s.cache.Invalidate(ctx, keySystem(id)))
	}
	_, err := s.cache.InvalidatePrefix(ctx, listFam)
	return errors.Join(append(errs, err)...)
}

func (s *Service) signal(ctx context.Context, ch change) {
	p := Payload{IncidentID: ch.incident.ID, SystemIDs: ch.systems, Action: ch.action}
	if p.SystemIDs == nil {
		p.SystemIDs = []string{}
	}
	if err := s.bus.Broadcast(ctx, SignalUpdated, p); err != nil {
		s.log.WarnContext(ctx, "signal failed", "signal", SignalUpdated, "err", err)
	}
}

// notify tells the subscribers of the incident's systems, each user once.
func (s *Service) notify(ctx context.Context, ch change) {
	if ch.notice == noticeNone || s.opts.Notifier == nil {
		return
	}
	audience := ch.audience
	if audience == nil {
		audience = ch.incident.SystemIDs
	}
	if _, err := s.opts.Notifier.NotifySystems(ctx, audience, s.message(ctx, ch)); err != nil {
		s.log.ErrorContext(ctx, "cannot notify an incident's subscribers", "incident", ch.incident.ID, "err", err)
	}
}

// message is a change as a notification: which systems, the status and
// the message posted, with a link to the incident.
func (s *Service) message(ctx context.Context, ch change) notification.Message {
	inc := ch.incident
	var title string
	switch ch.notice {
	case noticeCreated:
		title = "Incident reported: "
	case noticeResolved:
		title = "Incident resolved: "
	case noticeReopened:
		title = "Incident reopened: "
	default:
		title = "Incident updated: "
	}
	names := make([]string, len(inc.SystemIDs))
	for i, id := range inc.SystemIDs {
		names[i] = id
		if s.opts.SystemName != nil {
			names[i] = s.opts.SystemName(ctx, id)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "**Systems:** %s  \n**Status:** %s", strings.Join(names, ", "), inc.Status)
	if ch.notice == noticeUpdated || ch.notice == noticeReopened {
		fmt.Fprintf(&b, " (was %s)", ch.from)
	}
	fmt.Fprintf(&b, "  \n**Severity:** %s", inc.Severity)
	if ch.message != "" {
		b.WriteString("\n\n" + ch.message)
	}
	return notification.Message{Title: title + inc.Title, Body: b.String(), Importance: importance(inc),
		Action: &notification.Action{Label: "View incident", URL: "/incidents/" + inc.ID}}
}

// importance is resolved → info, else critical → critical, major →
// warning, minor → info.
func importance(inc Incident) notification.Importance {
	switch {
	case inc.Status == Resolved:
		return notification.Info
	case inc.Severity == Critical:
		return notification.Critical
	case inc.Severity == Major:
		return notification.Warning
	default:
		return notification.Info
	}
}
