// Package maintenance keeps maintenance windows: planned work on systems,
// one-off or recurring (an RRULE in a time zone), that the clock moves
// from scheduled to in progress at its start and to completed at its end.
//
//	svc := maintenance.New(db, provider, bus, logger, maintenance.Options{Notifier: notifications})
//	svc.OnLiveChange(health.MaintenanceChanged) // "under maintenance" in health reads
//	svc.OnLiveChange(slos.MaintenanceChanged)   // budgets that exclude maintenance
//	notifications.SuppressWhile(svc.SuppressesNotifications)
//	svc.Start(ctx)                              // the clock
//
// Scheduling a window, its start, its completion and its cancellation tell
// the subscribers of every system it covers. While a window with
// SuppressNotifications covers a system, the system's health
// notifications are held.
//
// # The clock
//
// A transition happens at its instant, not at the next poll: an Alarm
// (package loop) waits for the earliest start of a scheduled window or end
// of one in progress, applies what is due, and waits again. Every change
// re-arms it at once; the instant is also read again at least every
// Fallback (30 s), for windows another instance scheduled. At start-up
// it catches up on what was missed while no server ran: a window whose
// end passed completes (its whole span recorded as a maintenance period),
// and a recurring one moves on to its first occurrence still to end.
//
// Each transition goes through the same path as an admin's change: one
// transaction that writes the window and its timeline, then the cache
// invalidation, the OnLiveChange hooks, the signal and the notifications.
// Each stretch a window is really in progress is kept as a Period, which
// error budgets that exclude maintenance clip downtime with.
//
// # Reads and the cache
//
// Reads go through the cache (scope "maintenance"; see keys.go): one
// entry per window with its timeline, one per system (its scheduled and
// in-progress windows as JSON, shared by the single and bulk reads,
// stitched into the bulk answer, and read by UnderMaintenance), one per
// list filter.
//
// # Invariants
//
// These must never happen; each has a test that fails when it breaks:
//
//  1. A transition applied twice (two "started" signals or notifications
//     for one start), within an instance or across several: the clock
//     reads the window inside the transaction that moves it, holding its
//     row (PostgreSQL: FOR UPDATE; SQLite: the write lock), and writes
//     its status only if it is still the one read.
//  2. A transition late by more than the time to apply it: the alarm
//     waits for the instant itself, and every change that may bring the
//     next instant closer pokes it.
//  3. A read that starts after a mutation or transition returned misses
//     it: the window, every system it had before and after, every list,
//     and (through OnLiveChange) the health and SLO entries that depend on
//     it are dropped before the signal.
//  4. A lost edit: every mutation reads and writes inside one
//     transaction that holds the row, and writes only the fields given.
//  5. Two open periods for one window: at most one may be open, by a
//     unique index, and a period opens only with the transition to in
//     progress that the row lock makes unique.
//  6. A window scheduled after the fact erasing downtime already spent: no
//     period starts before the window's current times were set.
//
// What it does not promise: periods belong to a window, not to its
// systems at the time, so changing the systems of a window that ran moves
// its past periods with it (error budgets are recomputed from the current
// links). Transitions due at the same instant are applied one after
// another, notifications included. Across instances, a window scheduled
// on an instance that then stops starts on another within Fallback.
package maintenance
