// Package slo keeps service level objectives and their error budgets.
//
// An objective says "over the last WindowDays, system S is up Target% of
// the time". The engine records S's downtime as events, driven by health
// (the healthcheck systemStatusChanged and check-status hooks); the status
// of an objective (availability, budget, burn rates, alerts) is computed
// from those events and live health by ComputeStatus, a pure function.
//
//	svc := slo.New(db, provider, bus, health, logger, slo.Options{})
//	health.OnStatusChange(svc.SystemStatusChanged)
//	health.OnCheckStatusChange(svc.CheckStatusChanged)
//	svc.Start(ctx) // the sweep: repairs and clock-driven alerts
//
// # Blame
//
// Systems depend on upstream systems (AddDependency; the graph has no
// cycles). While a system is down, its downtime is blamed on the first
// (by id) of its direct upstreams that is down too and that the objective
// does not exclude, else on the system itself. A self-only objective
// spends its budget on its own downtime only; a strict one on all. When
// blame moves (an upstream goes down or recovers while the system stays
// down), the open event is closed and a new one opens at the same
// instant: events are never edited but to close them.
//
// # Reads and the cache
//
// Reads go through the cache (scope "slo"; see keys.go): listObjectives,
// getObjective, and a per-system entry shared by getObjectivesForSystem
// and getBulkObjectivesForSystems. Every change of objectives or events
// drops the list, the objectives and the systems it touched before its
// SLO_STATUS_CHANGED signal, so a client refetching on the signal sees
// it: an objective moved to another system drops both systems, a deleted
// one drops its system, and the engine drops what it moved before it
// signals, instead of waiting for the TTL.
//
// # Invariants
//
// These must never happen; each has a test that fails when it breaks:
//
//  1. An objective has two open events. Within an instance,
//     reconciliation holds the system's lock; across instances (or if the
//     lock is bypassed) the database's unique index on open events refuses
//     the second, and the loser reconciles again from what is stored.
//  2. Events of one objective overlap, or a gap opens when blame moves:
//     the open event is closed at the instant its successor starts, in one
//     transaction.
//  3. After a reconciliation that moved events returns, a read starts from
//     a cache entry computed before it: invalidation is awaited before the
//     signal, and the cache refuses to store a load that began before it.
//  4. The events disagree with live health after the last change: each
//     reconciliation reads health and the stored events afresh rather than
//     trusting the order hooks ran in, and within an instance the
//     reconciliations of one system run one at a time, so the last to run
//     read the latest health. Across instances one working from an older
//     health read can commit last; the sweep (every minute) repairs that,
//     and what a missed hook left.
//  5. A dependency cycle: adding a link checks the graph and inserts in one
//     transaction that holds off other dependency writers.
//  6. An alert announced twice across instances: the announced state moves
//     by a conditional update, and only the instance whose update took
//     place announces.
//  7. A lost edit, or two edits valid alone stored together when they are
//     not: updateObjective sets only the fields given, reading, checking
//     and writing the objective in one transaction that holds its row
//     (PostgreSQL: FOR UPDATE; SQLite: the write lock), so the second of
//     two updates starts from what the first wrote. Whether a named check
//     is one of the system's is read from live health before the
//     transaction; the transaction writes only if the system and check it
//     arrives at are the ones checked, and the update starts again when a
//     move came in between.
package slo
