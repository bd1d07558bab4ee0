// Package incident keeps incidents: what went wrong, on which systems, how
// bad it is, where it stands (investigating, identified, fixing,
// monitoring, resolved), and the public timeline of updates posted on it.
//
//	svc := incident.New(db, provider, bus, logger, incident.Options{Notifier: notifications})
//	catalog.OnSystemDeleted(svc.SystemDeleted)
//	notifications.SuppressWhile(svc.SuppressesNotifications)
//
// Creating an incident, moving its status (an update with a status change,
// resolving), and reopening it tell the subscribers of every system it
// affects, each user once. An unresolved incident with
// SuppressNotifications holds those systems' health notifications.
//
// # Reads and the cache
//
// Reads go through the cache (scope "incident"; see keys.go): one entry
// per incident with its timeline, one per system (its unresolved
// incidents, as JSON, shared by the single and the bulk read and stitched
// into the bulk answer without decoding), one per list filter.
//
// # Invariants
//
// These must never happen; each has a test that fails when it breaks:
//
//  1. A read that starts after a mutation returned sees the mutation. Every
//     mutation drops the incident, every system it had before and after
//     the change (an incident moved from A to B drops both), and every
//     list, and only then signals INCIDENT_UPDATED; the cache refuses to
//     store a load that began before an invalidation.
//  2. Of two edits of one incident at once, one is lost. Each mutation
//     reads the incident and writes only the fields its input names, in
//     one transaction that holds the incident's row (PostgreSQL: FOR
//     UPDATE; SQLite: the write lock taken when the transaction begins),
//     so the second reads what the first wrote.
//  3. A status change announced twice, or to the wrong audience: the
//     notice is decided from the status read inside the transaction that
//     changes it, so of two updates moving an incident to resolved at
//     once only the first says "resolved".
//  4. An incident left pointing at a deleted system, or left with none:
//     deleting a system sets its links to NULL; the systemDeleted hook
//     locks each incident that has such a link, then takes its links (each
//     once, across instances: they are deleted as they are taken), and
//     deletes an incident left with no system, deciding from what it read
//     under the lock. A periodic repair finishes a deletion whose hook
//     never ran.
package incident
