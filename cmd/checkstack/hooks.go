package main

import (
	"context"
	"errors"

	"github.com/checkstack/checkstack/internal/catalog"
	"github.com/checkstack/checkstack/internal/healthcheck"
	"github.com/checkstack/checkstack/internal/notification"
)

// wireHooks registers every hook: how an event in one domain reaches the
// others. This is the one place they are wired; each line reads "when X
// happens in A, B does Y".
func (a *app) wireHooks() {
	// A user deleted: their views, contacts, inbox, dismissals and mutes go.
	a.auth.OnUserDeleted(a.catalog.UserDeleted)
	a.auth.OnUserDeleted(a.notifications.UserDeleted)
	a.auth.OnUserDeleted(a.announcements.UserDeleted)
	a.auth.OnUserDeleted(a.anomalies.UserDeleted)

	// A system deleted: every domain drops its rows and cache entries.
	a.catalog.OnSystemDeleted(a.health.SystemDeleted)
	a.catalog.OnSystemDeleted(a.slos.SystemDeleted)
	a.catalog.OnSystemDeleted(a.incidents.SystemDeleted)
	a.catalog.OnSystemDeleted(a.maintenance.SystemDeleted)
	a.catalog.OnSystemDeleted(a.anomalies.SystemDeleted)

	// Every run is judged against its baseline; a check removed closes
	// its anomalies.
	a.health.OnRunRecorded(a.anomalies.RunRecorded)
	a.health.OnRemoved(a.anomalies.ChecksRemoved)

	// A maintenance window starts or ends: health reads say "under
	// maintenance", and budgets that exclude maintenance move.
	a.maintenance.OnLiveChange(a.health.MaintenanceChanged)
	a.maintenance.OnLiveChange(a.slos.MaintenanceChanged)

	// A system's own notifications (health, SLO) are held while an
	// incident or a maintenance window says so.
	a.notifications.SuppressWhile(a.incidents.SuppressesNotifications)
	a.notifications.SuppressWhile(a.maintenance.SuppressesNotifications)

	// Each catalog system and group has a notification group that follows it.
	a.catalog.OnSystemSaved(func(ctx context.Context, sys catalog.System) { a.ensureGroup(ctx, systemGroup(sys)) })
	a.catalog.OnSystemDeleted(func(ctx context.Context, id string) { a.removeGroup(ctx, notification.SystemGroupID(id)) })
	a.catalog.OnGroupSaved(func(ctx context.Context, g catalog.Group) { a.ensureGroup(ctx, catalogGroup(g)) })
	a.catalog.OnGroupDeleted(func(ctx context.Context, id string) { a.removeGroup(ctx, notification.CatalogGroupID(id)) })

	// Health moves: subscribers hear of it, and the SLO engine records it.
	a.health.OnStatusChange(a.notifyHealthChange)
	a.health.OnStatusChange(a.slos.SystemStatusChanged)
	a.health.OnCheckStatusChange(a.slos.CheckStatusChanged)
}

// notifyHealthChange tells a system's subscribers that its health moved.
func (a *app) notifyHealthChange(ctx context.Context, ch healthcheck.StatusChange) {
	if title, body, importance, ok := ch.Notification(a.systemName(ctx, ch.SystemID)); ok {
		a.notifySystem(ctx, ch.SystemID, notification.Message{Title: title, Body: body, Importance: notification.Importance(importance)})
	}
}

// systemExists tells whether a system exists, for the domains that name
// an unknown one in their errors.
func (a *app) systemExists(ctx context.Context, id string) (bool, error) {
	_, err := a.catalog.System(ctx, id)
	if errors.Is(err, catalog.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// checkName is a check's name for messages, or its id.
func (a *app) checkName(ctx context.Context, id string) string {
	c, err := a.health.Configuration(ctx, id)
	if err != nil {
		return id
	}
	return c.Name
}

// repairDeletedSystems finishes the clean-up of systems deleted while
// their hooks could not run (the process stopped in between): at start,
// then every repairEvery.
func (a *app) repairDeletedSystems(ctx context.Context) {
	a.incidents.SystemDeleted(ctx, "")
	a.maintenance.SystemDeleted(ctx, "")
}

// systemName is a system's name for messages, or its id when it cannot be
// read.
func (a *app) systemName(ctx context.Context, id string) string {
	sys, err := a.catalog.System(ctx, id)
	if err != nil {
		return id
	}
	return sys.Name
}

func (a *app) notifySystem(ctx context.Context, systemID string, m notification.Message) {
	if _, err := a.notifications.NotifySystem(ctx, systemID, m); err != nil {
		a.log.ErrorContext(ctx, "cannot notify a system's subscribers", "system", systemID, "err", err)
	}
}

// Each catalog system and group has a notification group
// (catalog.system.<id>, catalog.group.<id>) that follows it.
const catalogOwner = "catalog"

func systemGroup(sys catalog.System) notification.Group {
	return notification.Group{ID: notification.SystemGroupID(sys.ID), Name: sys.Name, Description: "Health, incidents, maintenance and SLOs of system " + sys.Name, Owner: catalogOwner}
}

func catalogGroup(g catalog.Group) notification.Group {
	return notification.Group{ID: notification.CatalogGroupID(g.ID), Name: g.Name, Description: "Every system of group " + g.Name, Owner: catalogOwner}
}

func (a *app) ensureGroup(ctx context.Context, g notification.Group) {
	if err := a.notifications.EnsureGroup(ctx, g); err != nil {
		a.log.ErrorContext(ctx, "cannot save a notification group", "group", g.ID, "err", err)
	}
}

func (a *app) removeGroup(ctx context.Context, id string) {
	if err := a.notifications.RemoveGroup(ctx, id); err != nil {
		a.log.ErrorContext(ctx, "cannot remove a notification group", "group", id, "err", err)
	}
}

// syncNotificationGroups makes the catalog's notification groups match the
// catalog at start, covering changes made while no server ran hooks.
func (a *app) syncNotificationGroups(ctx context.Context) error {
	return a.notifications.SyncGroups(ctx, catalogOwner, func(ctx context.Context) ([]notification.Group, error) {
		ents, err := a.catalog.Entities(ctx)
		if err != nil {
			return nil, err
		}
		want := make([]notification.Group, 0, len(ents.Systems)+len(ents.Groups))
		for _, sys := range ents.Systems {
			want = append(want, systemGroup(sys))
		}
		for _, g := range ents.Groups {
			want = append(want, catalogGroup(g))
		}
		return want, nil
	})
}
