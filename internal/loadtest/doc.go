// Package loadtest replays what dashboards do to a checkstack server and
// reports how it held up.
//
//	rep, err := loadtest.Run(ctx, loadtest.Options{
//		Server: "http://localhost:8080",
//		Keys:   []string{key},
//		Users:  50,
//	})
//	if err != nil {
//		return err // the run could not start: a bad option, a refused key
//	}
//	fmt.Print(rep) // requests, req/s, latency percentiles, errors, server stats
//
// Each simulated user is what one open dashboard costs the server:
//
//   - a first load: catalog/getSystems, then, for the first
//     Options.Systems systems it lists, the bulk reads of health, SLOs,
//     incidents and maintenance, and the user's unread count and active
//     announcements;
//   - a poll every Options.Poll (bulk health and the unread count), the
//     first one from half a period to one and a half after the first load,
//     at random, and each next one a period ±10% later, so that users do
//     not poll in lockstep;
//   - one GET /api/signals stream, on which each signal makes it refetch
//     the read the signal concerns (SYSTEM_STATUS_CHANGED: bulk health,
//     CATALOG_CHANGED: getSystems, NOTIFICATION_READ: the unread count, …),
//     and RESYNC, a dropped or reconnected stream, or a signal it does not
//     know, everything. Signals that arrive within 100 ms of each other are
//     served by one refetch of each read they name, as the web pages do.
//
// Every user has its own HTTP transport, so its requests and its stream
// use connections of their own, as a browser's would.
//
// Before the users start, Run reads the catalog (with Options.Seed it
// first creates the systems missing to make Options.Systems) and scrapes
// the server's GET /metrics; it scrapes again after they stop, and reports
// the change in the server's counters: database queries per API request
// and the cache hit ratio. Those counters are the whole server's, so they
// include other clients and background work (health checks, sweeps), and
// with several instances behind a load balancer they are the one instance's
// that answered the scrape.
//
// # Concurrency invariants
//
// Run's goroutines are its users (each a request loop and a stream
// reader) and a progress writer, all started and stopped together with one
// loop.Loop. These hold:
//
//  1. The users stop at Options.Duration or when ctx ends, whichever
//     comes first; Run returns only after every goroutine it started has
//     returned, with the report of what happened until then.
//  2. A request cut off by the end of the run (its context ended) is not
//     counted at all: not as a request, not in the latencies, not as an
//     error. Every other request that got an answer, whatever its status,
//     is counted once as a request, its latency measured from sending it
//     to reading its body to the end, and as an error too unless it is a
//     2xx; one that got none (a refused connection, a timeout) is counted
//     once, as an error of its kind only.
//  3. A user does one request at a time; its stream reader never requests
//     anything, it only marks reads as wanted and wakes the user. So a
//     burst of signals costs at most one refetch of each read per wake,
//     whatever its size.
package loadtest
