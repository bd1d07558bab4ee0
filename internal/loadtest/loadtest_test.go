package loadtest

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/checkstack/checkstack/internal/announcement"
	"github.com/checkstack/checkstack/internal/anomaly"
	"github.com/checkstack/checkstack/internal/catalog"
	"github.com/checkstack/checkstack/internal/healthcheck"
	"github.com/checkstack/checkstack/internal/incident"
	"github.com/checkstack/checkstack/internal/maintenance"
	"github.com/checkstack/checkstack/internal/notification"
	"github.com/checkstack/checkstack/internal/slo"
)

// fake is a server that answers the dashboard's reads with little, and
// tells the test of every call in the order it got them.
type fake struct {
	url    string
	calls  chan string // each procedure called; "signals" for a stream opened
	frames chan string // written to the open stream, as they are
	seen   map[string]int

	hang    string   // a procedure that answers only once its client has gone
	drop    string   // a procedure that closes the connection instead of answering
	fail    string   // a procedure that answers 503
	systems int      // how many systems getSystems lists
	pages   []string // /metrics, one page per scrape; none: 404

	mu      sync.Mutex
	scrapes int
}

const key = "cs_test-key"

func newFake(t *testing.T, f *fake) *fake {
	t.Helper()
	f.calls = make(chan string, 10000)
	f.frames = make(chan string, 100)
	f.seen = map[string]int{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/{domain}/{procedure}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("domain") + "/" + r.PathValue("procedure")
		if r.Header.Get("Authorization") != "Bearer "+key || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, `{"error":{"code":"UNAUTHORIZED","message":"invalid credentials"}}`, http.StatusUnauthorized)
			return
		}
		f.calls <- name
		// Read the body to its end, as servers do: only then does
		// net/http see a client that goes away.
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return
		}
		switch name {
		case f.hang:
			<-r.Context().Done()
		case f.drop:
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		case f.fail:
			http.Error(w, `{"error":{"code":"UNAVAILABLE","message":"try again"}}`, http.StatusServiceUnavailable)
		case "catalog/getSystems":
			var s []string
			for i := range f.systems {
				s = append(s, fmt.Sprintf(`{"id":"s%d"}`, i))
			}
			fmt.Fprintf(w, `{"systems":[%s]}`, strings.Join(s, ","))
		default:
			fmt.Fprint(w, "{}")
		}
	})
	mux.HandleFunc("GET /api/signals", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "retry: 3000\n: connected\n\n")
		w.(http.Flusher).Flush()
		f.calls <- "signals"
		for {
			select {
			case <-r.Context().Done():
				return
			case frame := <-f.frames:
				fmt.Fprint(w, frame)
				w.(http.Flusher).Flush()
			}
		}
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		n := f.scrapes
		f.scrapes++
		f.mu.Unlock()
		if n >= len(f.pages) {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, f.pages[n])
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

// await reads calls until procedure has been called n times in all.
func (f *fake) await(t *testing.T, procedure string, n int) {
	t.Helper()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for f.seen[procedure] < n {
		select {
		case c := <-f.calls:
			f.seen[c]++
		case <-deadline.C:
			t.Fatalf("%s called %d times, want %d (calls: %v)", procedure, f.seen[procedure], n, f.seen)
		}
	}
}

// start runs Run until the returned stop is called, which returns the
// report.
func start(t *testing.T, o Options) (stop func() *Report) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	type result struct {
		rep *Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := Run(ctx, o)
		done <- result{rep, err}
	}()
	t.Cleanup(cancel)
	return func() *Report {
		t.Helper()
		cancel()
		r := <-done
		if r.err != nil {
			t.Fatalf("Run: %v", r.err)
		}
		return r.rep
	}
}

func TestLoadtestDoesNotCountARequestTheEndOfTheRunCutOff(t *testing.T) {
	f := newFake(t, &fake{systems: 2, hang: "notification/getUnreadCount"})
	stop := start(t, Options{Server: f.url, Keys: []string{key}, Users: 1, Duration: time.Hour, Poll: time.Hour})
	f.await(t, "notification/getUnreadCount", 1)
	rep := stop()

	// getSystems and the four bulk reads were answered; the unread count
	// was under way when the run ended.
	if rep.Requests != 5 || rep.ErrorCount() != 0 {
		t.Fatalf("requests %d, errors %v; want 5 and none", rep.Requests, rep.Errors)
	}
	if rep.Latency.P99 <= 0 || rep.Latency.Max < rep.Latency.P99 || rep.Latency.P50 > rep.Latency.P99 {
		t.Fatalf("latency %+v, want 0 < p50 ≤ p99 ≤ max", rep.Latency)
	}
	if rep.Users != 1 || rep.Systems != 2 || rep.Created != 0 {
		t.Fatalf("users %d, systems %d, created %d; want 1, 2, 0", rep.Users, rep.Systems, rep.Created)
	}
	if rep.Server != nil || rep.ServerErr == nil || !strings.Contains(rep.String(), "no figures: GET /metrics: HTTP 404") {
		t.Fatalf("without /metrics the report says:\n%s", rep)
	}
}

func TestLoadtestCountsAnErrorAnswerAsARequestAndNoAnswerAsAnErrorOnly(t *testing.T) {
	f := newFake(t, &fake{systems: 2, fail: "healthcheck/getBulkSystemHealthStatus",
		drop: "slo/getBulkObjectivesForSystems", hang: "announcement/getActiveAnnouncements"})
	stop := start(t, Options{Server: f.url, Keys: []string{key}, Users: 1, Duration: time.Hour, Poll: time.Hour})
	f.await(t, "announcement/getActiveAnnouncements", 1)
	rep := stop()

	// Answered: getSystems, health (503), incidents, maintenance, the
	// unread count. Not answered: SLOs.
	want := map[string]int64{"HTTP 503": 1, "connection closed": 1}
	if rep.Requests != 5 || !maps.Equal(rep.Errors, want) {
		t.Fatalf("requests %d, errors %v; want 5 and %v", rep.Requests, rep.Errors, want)
	}
	if !strings.Contains(rep.String(), "errors     2 (HTTP 503: 1, connection closed: 1)") {
		t.Fatalf("the report does not list the errors by kind:\n%s", rep)
	}
}

func TestLoadtestRefetchesWhatEachSignalConcerns(t *testing.T) {
	f := newFake(t, &fake{systems: 3})
	stop := start(t, Options{Server: f.url, Keys: []string{key}, Users: 1, Duration: time.Hour, Poll: time.Hour})
	f.await(t, "signals", 1)
	f.await(t, "announcement/getActiveAnnouncements", 1) // the first load is done
	frame := func(name string) string {
		return fmt.Sprintf("event: %s\ndata: {\"signal\":%q,\"payload\":{}}\n\n", name, name)
	}

	// A burst, with a heartbeat in it, then a signal of its own whose
	// refetch comes last: once it is seen, the stream has been read.
	var burst strings.Builder
	for range 20 {
		burst.WriteString(frame("SYSTEM_STATUS_CHANGED"))
	}
	burst.WriteString(": ping\n\n" + frame("NOTIFICATION_READ") + frame("ANNOUNCEMENT_UPDATED"))
	f.frames <- burst.String()
	f.await(t, "announcement/getActiveAnnouncements", 2)
	if f.seen["healthcheck/getBulkSystemHealthStatus"] < 2 || f.seen["notification/getUnreadCount"] < 2 {
		t.Fatalf("after the burst: %v; want health and the unread count read again", f.seen)
	}
	if f.seen["catalog/getSystems"] != 2 || f.seen["slo/getBulkObjectivesForSystems"] != 1 {
		t.Fatalf("after the burst: %v; want the catalog and SLOs left alone", f.seen)
	}

	// What it does not know, it reads all over again.
	f.frames <- frame("SOMETHING_NEW")
	f.await(t, "catalog/getSystems", 3)
	f.await(t, "slo/getBulkObjectivesForSystems", 2)

	rep := stop()
	if rep.Signals != 23 || rep.Streams != 1 || rep.ErrorCount() != 0 {
		t.Fatalf("signals %d on %d streams, errors %v; want 23 on 1, none", rep.Signals, rep.Streams, rep.Errors)
	}
}

func TestLoadtestServesABurstOfSignalsWithOneRefetch(t *testing.T) {
	f := newFake(t, &fake{systems: 1})
	o, err := Options{Server: f.url, Keys: []string{key}, Poll: time.Hour}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	u := newUser(o, key, newRecorder())
	defer u.close()
	for range 50 {
		u.want(readHealth) // before run looks: one wake-up, one bit
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { u.run(ctx); close(done) }()
	f.await(t, "healthcheck/getBulkSystemHealthStatus", 2) // the first load's, and the burst's
	u.want(readAnnouncements)
	f.await(t, "announcement/getActiveAnnouncements", 2)
	cancel()
	<-done
	if n := f.seen["healthcheck/getBulkSystemHealthStatus"]; n != 2 {
		t.Fatalf("50 signals before a look cost %d health reads, want 2 (the first load's and one)", n-1)
	}
}

func TestLoadtestReportsTheServersCounters(t *testing.T) {
	page := func(requests, queries, hits, misses int) string {
		return fmt.Sprintf("checkstack_http_requests_total{procedure=\"a/b\",status=\"200\"} %d\n"+
			"checkstack_db_queries_total{domain=\"a\"} %d\n"+
			"checkstack_cache_events_total{scope=\"a\",event=\"hit\"} %d\n"+
			"checkstack_cache_events_total{scope=\"a\",event=\"miss\"} %d\n", requests, queries, hits, misses)
	}
	f := newFake(t, &fake{systems: 1, pages: []string{page(10, 100, 50, 50), page(30, 110, 140, 60)}})
	stop := start(t, Options{Server: f.url, Keys: []string{key}, Users: 2, Duration: time.Hour, Poll: time.Hour})
	f.await(t, "announcement/getActiveAnnouncements", 2)
	rep := stop()
	if rep.Server == nil {
		t.Fatalf("no server figures: %v", rep.ServerErr)
	}
	if want := (ServerStats{Requests: 20, Queries: 10, CacheHits: 90, CacheMisses: 10}); *rep.Server != want {
		t.Fatalf("server %+v, want %+v", *rep.Server, want)
	}
	s := rep.String()
	for _, line := range []string{"queries    0.500 per API request", "cache      hit ratio 0.900 (90 hits, 10 misses)"} {
		if !strings.Contains(s, line) {
			t.Errorf("report has no %q:\n%s", line, s)
		}
	}
}

func TestLoadtestSeedsTheMissingSystems(t *testing.T) {
	f := newFake(t, &fake{systems: 2})
	stop := start(t, Options{Server: f.url, Keys: []string{key}, Users: 1, Systems: 5, Seed: true, Duration: time.Hour, Poll: time.Hour})
	f.await(t, "announcement/getActiveAnnouncements", 1)
	rep := stop()
	if n := f.seen["catalog/createSystem"]; n != 3 || rep.Created != 3 || rep.Systems != 5 {
		t.Fatalf("created %d (report: %d, systems %d), want 3 of 5", n, rep.Created, rep.Systems)
	}
}

func TestLoadtestRefusesToStart(t *testing.T) {
	f := newFake(t, &fake{})
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"without a server", Options{Keys: []string{key}}, "Server must be"},
		{"with a server that is not a URL", Options{Server: "localhost:8080", Keys: []string{key}}, "Server must be"},
		{"without a key", Options{Server: f.url}, "no API key"},
		{"with a blank key", Options{Server: f.url, Keys: []string{key, " "}}, "key 2"},
		{"with fewer than no users", Options{Server: f.url, Keys: []string{key}, Users: -1}, "negative"},
		{"with more systems than a bulk read takes", Options{Server: f.url, Keys: []string{key}, Systems: 1001}, "at most 1000"},
		{"with a key the server refuses", Options{Server: f.url, Keys: []string{"cs_wrong"}}, "catalog/getSystems: HTTP 401 UNAUTHORIZED: invalid credentials"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Run(t.Context(), tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run = %v, %v; want an error with %q", rep, err, tc.want)
			}
		})
	}
}

func TestLoadtestKnowsEverySignalTheServerSends(t *testing.T) {
	names := []string{
		catalog.SignalChanged, catalog.SignalViewsChanged, catalog.SignalContactsChanged,
		healthcheck.SignalRunCompleted, healthcheck.SignalSystemStatusChanged, healthcheck.SignalConfigurationChanged,
		slo.SignalStatusChanged, slo.SignalDependenciesChanged,
		incident.SignalUpdated, maintenance.SignalUpdated, announcement.SignalUpdated, anomaly.SignalStateChanged,
		notification.SignalReceived, notification.SignalRead, notification.SignalDeleted, notification.SignalSubscriptionsChanged,
	}
	for _, n := range names {
		if _, ok := signalReads[n]; !ok {
			t.Errorf("%s is not mapped: it would reload everything", n)
		}
	}
	if len(signalReads) != len(names) {
		t.Errorf("signalReads maps %d names, the domains send %d: one is stale", len(signalReads), len(names))
	}
	for _, n := range []string{"RESYNC", "dropped", "SOMETHING_NEW"} {
		if readsFor(n) != readAll {
			t.Errorf("%s refetches %b, want everything", n, readsFor(n))
		}
	}
}
