package loadtest

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// reads is a set of the dashboard's reads, one bit each.
type reads uint32

const (
	readSystems reads = 1 << iota
	readHealth
	readObjectives
	readIncidents
	readMaintenance
	readUnread
	readAnnouncements

	readAll  = readSystems | readHealth | readObjectives | readIncidents | readMaintenance | readUnread | readAnnouncements
	readPoll = readHealth | readUnread
)

// signalReads is what each signal makes a dashboard refetch. A signal
// mapped to no reads concerns nothing the dashboard shows; one not listed
// (RESYNC and "dropped" included) makes it refetch everything. The names
// are the domains' Signal* constants, spelled out so that this client
// depends on the API only; a test checks them against the constants.
var signalReads = map[string]reads{
	"CATALOG_CHANGED":                    readSystems,
	"CATALOG_VIEWS_CHANGED":              0, // views, contacts and subscriptions are not on the dashboard
	"CATALOG_CONTACTS_CHANGED":           0,
	"SYSTEM_STATUS_CHANGED":              readHealth,
	"HEALTH_CHECK_RUN_COMPLETED":         readHealth,
	"HEALTH_CHECK_CONFIGURATION_CHANGED": readHealth,
	"SLO_STATUS_CHANGED":                 readObjectives,
	"SLO_DEPENDENCIES_CHANGED":           readObjectives,
	"INCIDENT_UPDATED":                   readIncidents,
	"MAINTENANCE_UPDATED":                readMaintenance,
	"ANNOUNCEMENT_UPDATED":               readAnnouncements,
	"ANOMALY_STATE_CHANGED":              0, // the replayed dashboard does not read anomalies
	"NOTIFICATION_RECEIVED":              readUnread,
	"NOTIFICATION_READ":                  readUnread,
	"NOTIFICATION_DELETED":               readUnread,
	"NOTIFICATION_SUBSCRIPTIONS_CHANGED": 0,
}

// readsFor returns what a signal makes a dashboard refetch.
func readsFor(name string) reads {
	if r, ok := signalReads[name]; ok {
		return r
	}
	return readAll
}

// coalesce is how long a user waits after a signal for others before it
// refetches, as the web pages do.
const coalesce = 100 * time.Millisecond

// user is one open dashboard: run is its request loop, listen its signal
// stream. Only run requests (invariant 3); listen hands it work through
// wanted and wake.
type user struct {
	o      Options
	c      *client
	stream *http.Client // c's transport, without the overall timeout
	rec    *recorder

	ids []string // the systems the bulk reads ask for; run's only

	wanted atomic.Uint32 // reads signals asked for since run last looked
	wake   chan struct{} // one pending wake-up at most
}

func newUser(o Options, key string, rec *recorder) *user {
	tr := newTransport()
	return &user{
		o:      o,
		c:      &client{server: o.Server, key: key, http: &http.Client{Transport: tr, Timeout: requestTimeout}},
		stream: &http.Client{Transport: tr},
		rec:    rec,
		wake:   make(chan struct{}, 1),
	}
}

// close lets go of the user's idle connections.
func (u *user) close() { u.c.http.CloseIdleConnections() }

// want marks r as wanted and wakes run.
func (u *user) want(r reads) {
	if r == 0 {
		return
	}
	u.wanted.Or(uint32(r))
	select {
	case u.wake <- struct{}{}:
	default: // a wake-up is pending: run will see r with it
	}
}

// run does the first load, then polls and refetches what signals ask for
// until ctx ends.
func (u *user) run(ctx context.Context) {
	u.fetch(ctx, readAll)
	poll := time.NewTimer(u.o.Poll/2 + rand.N(u.o.Poll)) // first: somewhere in [P/2, 3P/2)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
			u.fetch(ctx, readPoll)
			poll.Reset(u.o.Poll*9/10 + rand.N(u.o.Poll/5+1)) // next: P ± 10%
		case <-u.wake:
			t := time.NewTimer(coalesce)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			u.fetch(ctx, reads(u.wanted.Swap(0)))
		}
	}
}

// fetch does the reads in r, each once, as a dashboard would: getSystems
// first, since the others ask about the systems it lists.
func (u *user) fetch(ctx context.Context, r reads) {
	if r&readSystems != 0 {
		if b, ok := u.call(ctx, "catalog/getSystems", "{}"); ok {
			ids, err := decodeSystemIDs(b)
			if err != nil {
				u.rec.fail(kind(err))
			} else {
				u.ids = ids[:min(len(ids), u.o.Systems)]
			}
		}
	}
	if len(u.ids) > 0 {
		bulk, err := json.Marshal(map[string][]string{"systemIds": u.ids})
		if err != nil {
			panic(err) // cannot happen: strings only
		}
		for _, p := range []struct {
			r         reads
			procedure string
		}{
			{readHealth, "healthcheck/getBulkSystemHealthStatus"},
			{readObjectives, "slo/getBulkObjectivesForSystems"},
			{readIncidents, "incident/getBulkIncidentsForSystems"},
			{readMaintenance, "maintenance/getBulkMaintenancesForSystems"},
		} {
			if r&p.r != 0 {
				u.call(ctx, p.procedure, string(bulk))
			}
		}
	}
	if r&readUnread != 0 {
		u.call(ctx, "notification/getUnreadCount", "{}")
	}
	if r&readAnnouncements != 0 {
		u.call(ctx, "announcement/getActiveAnnouncements", "{}")
	}
}

// call makes one request and records it (invariant 2): ok reports a 2xx
// answer, whose body it returns.
func (u *user) call(ctx context.Context, procedure, body string) ([]byte, bool) {
	if ctx.Err() != nil {
		return nil, false
	}
	start := time.Now()
	b, err := u.c.do(ctx, procedure, body)
	var answer *apiError
	switch {
	case err != nil && ctx.Err() != nil:
		// Cut off by the end of the run.
	case err == nil || errors.As(err, &answer):
		u.rec.record(time.Since(start), kind(err))
	default: // no answer: an error, not a request
		u.rec.fail(kind(err))
	}
	return b, err == nil
}

// Stream reconnection waits: after a stream that ended, as the server's
// "retry: 3000" asks; after a refused one, longer each time.
const (
	reconnect     = 3 * time.Second
	refusedFirst  = 5 * time.Second
	refusedLatest = time.Minute
)

// listen keeps the user's signal stream open until ctx ends, handing run
// what each signal asks to refetch, and everything after a reconnect.
func (u *user) listen(ctx context.Context) {
	opened := false
	refused := refusedFirst
	for ctx.Err() == nil {
		wait := reconnect
		err := u.readStream(ctx, func() {
			if opened {
				u.want(readAll) // it may have missed signals meanwhile
			}
			opened = true
			refused = refusedFirst
		})
		if ctx.Err() != nil {
			return // the run ended
		}
		var api *apiError
		if errors.As(err, &api) {
			wait, refused = refused, min(refused*2, refusedLatest)
		}
		u.rec.fail("stream " + orEnded(kind(err)))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func orEnded(k string) string {
	if k == "" {
		return "ended"
	}
	return k
}

// readStream opens one stream, calls onOpen once it is open, and reads it
// to its end: nil when the server ended it, else the error that did.
func (u *user) readStream(ctx context.Context, onOpen func()) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.o.Server+"/api/signals", nil)
	if err != nil {
		return fmt.Errorf("signals: %w", err)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+u.c.key)
	res, err := u.stream.Do(req)
	if err != nil {
		return fmt.Errorf("signals: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return &apiError{procedure: "signals", status: res.StatusCode}
	}
	u.rec.opened()
	onOpen()

	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	var event string
	var data bool
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "": // the end of an event, or of a comment
			if event != "" || data {
				u.rec.signal()
				u.want(readsFor(cmp.Or(event, "message"))) // SSE's default name
			}
			event, data = "", false
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			// It repeats the name in its JSON and says which entity; the
			// dashboard refetches its bulk reads whole, so it needs no more.
			data = true
		}
		// Comments (": ping") and retry: need nothing.
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("signals: %w", err)
	}
	return nil
}
