package catalog

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/hook"
	"github.com/checkstack/checkstack/internal/mutate"
	"github.com/checkstack/checkstack/internal/signal"
	"github.com/checkstack/checkstack/internal/store"
)

// Signals the catalog sends after its mutations. They say what to refetch.
const (
	SignalChanged         = "CATALOG_CHANGED"          // broadcast: {entity, action, id, systemId?, groupId?}
	SignalViewsChanged    = "CATALOG_VIEWS_CHANGED"    // to the view's owner: {action, id}
	SignalContactsChanged = "CATALOG_CONTACTS_CHANGED" // broadcast: {systemId}
)

// ChangedPayload is the payload of SignalChanged.
type ChangedPayload struct {
	Entity   string `json:"entity"` // system, group or membership
	Action   string `json:"action"` // created, updated, deleted, added, removed
	ID       string `json:"id,omitempty"`
	SystemID string `json:"systemId,omitempty"`
	GroupID  string `json:"groupId,omitempty"`
}

// UserLookup resolves a user's name and email for user contacts. It
// returns ErrNotFound for an unknown user.
type UserLookup func(ctx context.Context, id string) (name, email string, err error)

// Service is the catalog's rules: reads through the cache, mutations as
// write → invalidate → signal. Safe for concurrent use.
type Service struct {
	st    sqlStore
	cache *cache.Scope
	bus   signal.Bus
	users UserLookup
	log   *slog.Logger
	now   func() time.Time

	systemSaved   hook.List[System]
	systemDeleted hook.List[string]
	groupSaved    hook.List[Group]
	groupDeleted  hook.List[string]
}

// New returns the catalog service on db, caching through provider.
func New(db *store.DB, provider cache.Provider, bus signal.Bus, users UserLookup, log *slog.Logger) *Service {
	log = log.With("component", "catalog")
	return &Service{
		st: sqlStore{db: db.For("catalog")},
		cache: cache.NewScope(provider, cache.ScopeOptions{
			Name:       scopeName,
			DefaultTTL: entityTTL * time.Second,
			OnError: func(op string, err error) {
				log.Warn("cache provider error", "op", op, "err", err)
			},
		}),
		bus:   bus,
		users: users,
		log:   log,
		now:   func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }, // the precision stored
	}
}

// Scope is the catalog's cache scope, for metrics.
func (s *Service) Scope() *cache.Scope { return s.cache }

func newID() string { return rand.Text() }

// Reads.

func (s *Service) Entities(ctx context.Context) (Entities, error) {
	return cache.Wrap(ctx, s.cache, keyEntity, s.st.entities)
}

// PublicEntities is what the public status page shows of the catalog:
// the systems and groups not hidden from it, each group listing its
// shown systems only.
func (s *Service) PublicEntities(ctx context.Context) (Entities, error) {
	return cache.Wrap(ctx, s.cache, keyPublic, s.loadPublic)
}

func (s *Service) loadPublic(ctx context.Context) (Entities, error) {
	all, err := s.Entities(ctx)
	if err != nil {
		return Entities{}, err
	}
	return all.public(), nil
}

// PublicSystems is the set of systems the public status page shows.
func (s *Service) PublicSystems(ctx context.Context) (map[string]bool, error) {
	e, err := s.PublicEntities(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(e.Systems))
	for _, sys := range e.Systems {
		out[sys.ID] = true
	}
	return out, nil
}

func (e Entities) public() Entities {
	out := Entities{Systems: []System{}, Groups: []Group{}}
	shown := map[string]bool{}
	for _, sys := range e.Systems {
		if !sys.HiddenFromStatus {
			sys.Owner, sys.Metadata = "", json.RawMessage("{}") // for signed-in readers
			out.Systems = append(out.Systems, sys)
			shown[sys.ID] = true
		}
	}
	for _, g := range e.Groups {
		if g.HiddenFromStatus {
			continue
		}
		ids := []string{}
		for _, id := range g.SystemIDs {
			if shown[id] {
				ids = append(ids, id)
			}
		}
		g.SystemIDs, g.Metadata = ids, json.RawMessage("{}")
		out.Groups = append(out.Groups, g)
	}
	return out
}

func (s *Service) Systems(ctx context.Context) ([]System, error) {
	return cache.Wrap(ctx, s.cache, keySystems, s.st.systems)
}

func (s *Service) System(ctx context.Context, id string) (System, error) {
	// An unknown id is cached too, so that its lookups do not each reach
	// the database.
	return cache.WrapFound(ctx, s.cache, keySystem(id), ErrNotFound, s.loadSystem(id))
}

func (s *Service) loadSystem(id string) func(ctx context.Context) (System, error) {
	return func(ctx context.Context) (System, error) { return s.st.system(ctx, id) }
}

func (s *Service) Groups(ctx context.Context) ([]Group, error) {
	return cache.Wrap(ctx, s.cache, keyGroups, s.st.groups)
}

// SystemGroupIDs lists the groups systemID belongs to (ErrNotFound for an
// unknown system).
func (s *Service) SystemGroupIDs(ctx context.Context, systemID string) ([]string, error) {
	if _, err := s.System(ctx, systemID); err != nil {
		return nil, err
	}
	return cache.Wrap(ctx, s.cache, keySystemGroups(systemID), func(ctx context.Context) ([]string, error) {
		return s.st.systemGroupIDs(ctx, systemID)
	})
}

func (s *Service) Views(ctx context.Context, userID string) ([]View, error) {
	return cache.Wrap(ctx, s.cache, keyViews(userID), func(ctx context.Context) ([]View, error) {
		return s.st.views(ctx, userID)
	})
}

// Contacts lists a system's contacts, user contacts with their current
// name and email.
func (s *Service) Contacts(ctx context.Context, systemID string) ([]Contact, error) {
	if _, err := s.System(ctx, systemID); err != nil {
		return nil, err
	}
	return cache.Wrap(ctx, s.cache, keyContacts(systemID), func(ctx context.Context) ([]Contact, error) {
		cs, err := s.st.contacts(ctx, systemID)
		if err != nil {
			return nil, err
		}
		for i := range cs {
			if cs[i].Type != ContactUser {
				continue
			}
			name, email, err := s.users(ctx, cs[i].UserID)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return nil, err
			}
			cs[i].Name, cs[i].Email = name, email
		}
		return cs, nil
	})
}

// Invalidations.

func (s *Service) invalidateTopology(ctx context.Context) error {
	_, err := s.cache.InvalidatePrefix(ctx, entityFam)
	return err
}

func (s *Service) broadcast(ctx context.Context, p ChangedPayload) {
	if err := s.bus.Broadcast(ctx, SignalChanged, p); err != nil {
		s.log.WarnContext(ctx, "signal failed", "signal", SignalChanged, "err", err)
	}
}

// Mutations: systems.

// SystemInput is what may be set on a system; nil fields are left alone
// by UpdateSystem.
type SystemInput struct {
	Name             *string
	Description      *string
	Owner            *string
	Metadata         json.RawMessage
	HiddenFromStatus *bool
}

func (s *Service) CreateSystem(ctx context.Context, in SystemInput) (System, error) {
	now := s.now()
	sys := System{ID: newID(), Metadata: json.RawMessage("{}"), CreatedAt: now, UpdatedAt: now}
	apply(&sys.Name, in.Name)
	apply(&sys.Description, in.Description)
	apply(&sys.Owner, in.Owner)
	apply(&sys.HiddenFromStatus, in.HiddenFromStatus)
	if in.Metadata != nil {
		sys.Metadata = in.Metadata
	}
	err := mutate.Do(ctx, s.log, "createSystem",
		func(ctx context.Context) error { return s.st.createSystem(ctx, sys) },
		s.invalidateTopology,
		func(ctx context.Context) {
			s.systemSaved.Run(ctx, sys)
			s.broadcast(ctx, ChangedPayload{Entity: "system", Action: "created", ID: sys.ID})
		})
	return sys, err
}

// UpdateSystem sets the fields in gives and leaves the others as stored:
// the system is read, changed and written in one transaction that holds
// its row, so two updates at once both keep their fields.
func (s *Service) UpdateSystem(ctx context.Context, id string, in SystemInput) (System, error) {
	var sys System
	err := mutate.Do(ctx, s.log, "updateSystem",
		func(ctx context.Context) (err error) {
			sys, err = s.st.updateSystem(ctx, id, func(row *System) {
				apply(&row.Name, in.Name)
				apply(&row.Description, in.Description)
				apply(&row.Owner, in.Owner)
				apply(&row.HiddenFromStatus, in.HiddenFromStatus)
				if in.Metadata != nil {
					row.Metadata = in.Metadata
				}
				row.UpdatedAt = s.now()
			})
			return err
		},
		s.invalidateTopology,
		func(ctx context.Context) {
			s.systemSaved.Run(ctx, sys)
			s.broadcast(ctx, ChangedPayload{Entity: "system", Action: "updated", ID: id})
		})
	if err != nil {
		return System{}, err
	}
	return sys, nil
}

// DeleteSystem deletes a system with its memberships and contacts, then
// runs the systemDeleted hooks.
func (s *Service) DeleteSystem(ctx context.Context, id string) error {
	return mutate.Do(ctx, s.log, "deleteSystem",
		func(ctx context.Context) error { return s.st.deleteSystem(ctx, id) },
		func(ctx context.Context) error {
			err := s.invalidateTopology(ctx)
			return errors.Join(err, s.cache.Invalidate(ctx, keyContacts(id)))
		},
		func(ctx context.Context) {
			s.systemDeleted.Run(ctx, id)
			s.broadcast(ctx, ChangedPayload{Entity: "system", Action: "deleted", ID: id})
		})
}

// Mutations: groups and memberships.

// GroupInput is what may be set on a group; nil fields are left alone by
// UpdateGroup.
type GroupInput struct {
	Name             *string
	Description      *string
	Metadata         json.RawMessage
	HiddenFromStatus *bool
}

func (s *Service) CreateGroup(ctx context.Context, in GroupInput) (Group, error) {
	now := s.now()
	g := Group{ID: newID(), Metadata: json.RawMessage("{}"), SystemIDs: []string{}, CreatedAt: now, UpdatedAt: now}
	apply(&g.Name, in.Name)
	apply(&g.Description, in.Description)
	apply(&g.HiddenFromStatus, in.HiddenFromStatus)
	if in.Metadata != nil {
		g.Metadata = in.Metadata
	}
	err := mutate.Do(ctx, s.log, "createGroup",
		func(ctx context.Context) error { return s.st.createGroup(ctx, g) },
		s.invalidateTopology,
		func(ctx context.Context) {
			s.groupSaved.Run(ctx, g)
			s.broadcast(ctx, ChangedPayload{Entity: "group", Action: "created", ID: g.ID})
		})
	return g, err
}

// UpdateGroup sets the fields in gives and leaves the others as stored,
// as UpdateSystem does.
func (s *Service) UpdateGroup(ctx context.Context, id string, in GroupInput) (Group, error) {
	var g Group
	err := mutate.Do(ctx, s.log, "updateGroup",
		func(ctx context.Context) (err error) {
			g, err = s.st.updateGroup(ctx, id, func(row *Group) {
				apply(&row.Name, in.Name)
				apply(&row.Description, in.Description)
				apply(&row.HiddenFromStatus, in.HiddenFromStatus)
				if in.Metadata != nil {
					row.Metadata = in.Metadata
				}
				row.UpdatedAt = s.now()
			})
			return err
		},
		s.invalidateTopology,
		func(ctx context.Context) {
			s.groupSaved.Run(ctx, g)
			s.broadcast(ctx, ChangedPayload{Entity: "group", Action: "updated", ID: id})
		})
	if err != nil {
		return Group{}, err
	}
	g.SystemIDs, err = s.st.systemIDsOf(ctx, id)
	return g, err
}

func (s *Service) DeleteGroup(ctx context.Context, id string) error {
	return mutate.Do(ctx, s.log, "deleteGroup",
		func(ctx context.Context) error { return s.st.deleteGroup(ctx, id) },
		s.invalidateTopology,
		func(ctx context.Context) {
			s.groupDeleted.Run(ctx, id)
			s.broadcast(ctx, ChangedPayload{Entity: "group", Action: "deleted", ID: id})
		})
}

func (s *Service) AddSystemToGroup(ctx context.Context, systemID, groupID string) error {
	return mutate.Do(ctx, s.log, "addSystemToGroup",
		func(ctx context.Context) error { return s.st.addMembership(ctx, systemID, groupID, s.now()) },
		s.invalidateTopology,
		func(ctx context.Context) {
			s.broadcast(ctx, ChangedPayload{Entity: "membership", Action: "added", SystemID: systemID, GroupID: groupID})
		})
}

func (s *Service) RemoveSystemFromGroup(ctx context.Context, systemID, groupID string) error {
	return mutate.Do(ctx, s.log, "removeSystemFromGroup",
		func(ctx context.Context) error { return s.st.removeMembership(ctx, systemID, groupID) },
		s.invalidateTopology,
		func(ctx context.Context) {
			s.broadcast(ctx, ChangedPayload{Entity: "membership", Action: "removed", SystemID: systemID, GroupID: groupID})
		})
}

// Mutations: views (each user's own).

// ViewInput is what may be set on a view; nil fields are left alone by
// UpdateView.
type ViewInput struct {
	Name          *string
	Description   *string
	Configuration json.RawMessage
}

func (s *Service) viewChanged(userID, action, id string) (func(context.Context) error, func(context.Context)) {
	return func(ctx context.Context) error { return s.cache.Invalidate(ctx, keyViews(userID)) },
		func(ctx context.Context) {
			if err := s.bus.SendToUser(ctx, SignalViewsChanged, userID, map[string]string{"action": action, "id": id}); err != nil {
				s.log.WarnContext(ctx, "signal failed", "signal", SignalViewsChanged, "err", err)
			}
		}
}

func (s *Service) CreateView(ctx context.Context, userID string, in ViewInput) (View, error) {
	now := s.now()
	v := View{ID: newID(), UserID: userID, Configuration: json.RawMessage("{}"), CreatedAt: now, UpdatedAt: now}
	apply(&v.Name, in.Name)
	apply(&v.Description, in.Description)
	if in.Configuration != nil {
		v.Configuration = in.Configuration
	}
	inv, sig := s.viewChanged(userID, "created", v.ID)
	err := mutate.Do(ctx, s.log, "createView", func(ctx context.Context) error { return s.st.createView(ctx, v) }, inv, sig)
	return v, err
}

// UpdateView sets the fields in gives on userID's view and leaves the
// others as stored, as UpdateSystem does.
func (s *Service) UpdateView(ctx context.Context, userID, id string, in ViewInput) (View, error) {
	var v View
	inv, sig := s.viewChanged(userID, "updated", id)
	err := mutate.Do(ctx, s.log, "updateView",
		func(ctx context.Context) (err error) {
			v, err = s.st.updateView(ctx, userID, id, func(row *View) {
				apply(&row.Name, in.Name)
				apply(&row.Description, in.Description)
				if in.Configuration != nil {
					row.Configuration = in.Configuration
				}
				row.UpdatedAt = s.now()
			})
			return err
		}, inv, sig)
	if err != nil {
		return View{}, err
	}
	return v, nil
}

func (s *Service) DeleteView(ctx context.Context, userID, id string) error {
	inv, sig := s.viewChanged(userID, "deleted", id)
	return mutate.Do(ctx, s.log, "deleteView", func(ctx context.Context) error { return s.st.deleteView(ctx, userID, id) }, inv, sig)
}

// Mutations: contacts.

// contactsChanged returns the invalidation and the signal of a contact
// mutation on the system *systemID names, read when they run (a removal
// learns its system from its write).
func (s *Service) contactsChanged(systemID *string) (func(context.Context) error, func(context.Context)) {
	return func(ctx context.Context) error { return s.cache.Invalidate(ctx, keyContacts(*systemID)) },
		func(ctx context.Context) {
			if err := s.bus.Broadcast(ctx, SignalContactsChanged, map[string]string{"systemId": *systemID}); err != nil {
				s.log.WarnContext(ctx, "signal failed", "signal", SignalContactsChanged, "err", err)
			}
		}
}

// AddContact adds a contact to a system. A user contact must name an
// existing user; ErrNotFound covers an unknown system or user.
func (s *Service) AddContact(ctx context.Context, c Contact) (Contact, error) {
	c.ID, c.CreatedAt = newID(), s.now()
	var name, email string
	if c.Type == ContactUser {
		var err error
		if name, email, err = s.users(ctx, c.UserID); err != nil {
			return Contact{}, err
		}
		c.Email = "" // stored empty: resolved from the user when read
	}
	inv, sig := s.contactsChanged(&c.SystemID)
	err := mutate.Do(ctx, s.log, "addSystemContact", func(ctx context.Context) error { return s.st.addContact(ctx, c) }, inv, sig)
	if err != nil {
		return Contact{}, err
	}
	if c.Type == ContactUser {
		c.Name, c.Email = name, email
	}
	return c, nil
}

func (s *Service) RemoveContact(ctx context.Context, id string) error {
	var systemID string
	inv, sig := s.contactsChanged(&systemID)
	return mutate.Do(ctx, s.log, "removeSystemContact",
		func(ctx context.Context) (err error) {
			systemID, err = s.st.removeContact(ctx, id)
			return err
		}, inv, sig)
}

// UserDeleted is the auth domain's userDeleted hook: the user's views and
// user contacts are gone with the user's row (ON DELETE CASCADE); drop
// what the cache holds of them.
func (s *Service) UserDeleted(ctx context.Context, userID string) {
	if err := s.cache.Invalidate(ctx, keyViews(userID)); err != nil {
		s.log.WarnContext(ctx, "cache invalidation failed", "err", err)
	}
	if _, err := s.cache.InvalidatePrefix(ctx, contactFam); err != nil {
		s.log.WarnContext(ctx, "cache invalidation failed", "err", err)
	}
}

func apply[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}
