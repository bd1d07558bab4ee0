// Package announcement keeps announcements: the messages an admin puts
// in the banner of every page or on the dashboard, for everyone
// (anonymous visitors of the status page too) or for signed-in users
// only, between an optional start and expiry. Each user may dismiss one,
// which hides it from them alone.
//
//	svc := announcement.New(db, provider, bus, logger, announcement.Options{})
//	procedures = append(procedures, svc.Procedures()...)
//	auth.OnUserDeleted(svc.UserDeleted) // drops the user's cache entries
//	svc.Start(ctx)                      // the clock; svc.Stop(ctx) at shutdown
//
// An announcement is live at t when it is active, its startsAt is unset
// or not after t, and its expiresAt is unset or after t. Reads return the
// live ones in sortOrder (then id); new ones go last, and
// reorderAnnouncements renumbers them all.
//
// # Reads and the cache
//
// Reads go through the cache (scope "announcement"; see keys.go): one
// entry per caller (anonymous, or one user) and includeDismissed, one for
// the admin list, served as bytes. Every change drops what it may change
// before its signal: a dismissal that user's entries, anything else every
// caller's entries and the list.
//
// # Time
//
// An announcement appears at its startsAt and goes at its expiresAt at
// the instant, not up to a TTL later. Two mechanisms do it:
//
//   - The horizon. The service keeps in memory the next boundary: the
//     earliest startsAt or expiresAt after now among active
//     announcements. Every entry of getActiveAnnouncements gets a TTL of
//     at most horizon − now. Every create, update, delete and reorder
//     reads the horizon again from the database before it invalidates,
//     so does every pass of the clock, and a read that finds it passed
//     reads it again before it loads. It only moves earlier, unless it
//     has passed: a reading that began before a change committed may
//     land after the change's own, and must not hide it.
//   - The clock: an Alarm (package loop) that waits for the next
//     boundary, then drops every caller's entries and announces what
//     passed. Every change pokes it; it also reads the next boundary
//     again at least every Fallback (30 s), for changes other instances
//     made.
//
// In one process this guarantees that no entry is served past the first
// boundary after it was loaded, but for two slivers: an entry whose load
// was under way as the boundary passed lives on for at most that load's
// duration, and a provider may round TTLs up (Redis: to the
// millisecond). A read that capped its TTL at the horizon from before a
// concurrent change, and stored its entry after the change invalidated,
// drops the entry as it returns (see capped in service.go). With the
// clock running, its invalidation as the boundary passes cuts even the
// slivers short.
//
// Across instances sharing one cache (Redis, the set-up for several
// instances), an instance learns of a boundary another one set at its
// clock's next pass, within Fallback; until then it may store entries
// that outlive the boundary. The instance that made the change knows it
// at once, and its clock drops the shared entries at the instant, so the
// guarantee holds across the fleet as long as that instance's clock runs
// (else within Fallback, through the others' clocks). Instances with
// caches of their own each drop theirs at every boundary their own clock
// knows of: for one another instance set, at most Fallback after it
// passed.
//
// The clock announces each boundary with ANNOUNCEMENT_UPDATED "started" or
// "expired" (one signal per announcement and pass: "expired" when both
// passed) once per fleet: instances claim the instants that passed
// through the one row of announcement_clock (invariant 3). A boundary
// that passed while no server ran is announced at the next start. One
// that a change wrote after it had passed (an announcement created with
// a startsAt already past, say) is not: that change's own signal said
// so.
//
// # Invariants
//
// These must never happen; each has a test that fails when it breaks:
//
//  1. A read that starts after a change returned misses it: create,
//     update, delete and reorder drop every caller's entries and the
//     list, a dismissal drops that user's entries, and only then signal;
//     the cache refuses to store a load that began before an
//     invalidation.
//  2. An announcement shown after its expiry, or hidden after its start,
//     in one process, beyond the bounds of "Time" above: every TTL is
//     capped at the horizon, which every change refreshes before it
//     invalidates; a read that raced one drops its entry; the clock waits
//     for the instant itself and drops every caller's entries then.
//  3. A boundary announced twice, by one instance or by several: each
//     pass reads the fleet's mark holding its row (PostgreSQL: FOR
//     UPDATE; SQLite: the write lock), moves it on with a conditional
//     UPDATE, and announces only the boundaries between the mark it read
//     and its own time, and only if its UPDATE changed the row. The claim
//     commits before the signal, so an instance that dies in between
//     loses that signal (the reads are right all the same).
//  4. A lost edit: an update reads, validates and writes in one
//     transaction that holds the row, and writes only the fields given,
//     so of two partial updates at once the second reads what the first
//     wrote.
//  5. A caller shown another's view: each user's entries are under a
//     prefix no other user's covers (ids escaped), an anonymous caller
//     sees visibility "all" only, and a dismissal hides the announcement
//     from its user only.
//  6. A refused input changes something: every field is checked before
//     the write (the same message on both engines), and a reorder that
//     is not a permutation of every id is refused inside its transaction
//     before it writes.
package announcement
