package web

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/checkstack/checkstack/internal/rpc"
)

// The pages' own rules, without the services: what every response
// carries, which forms are refused, what the public pages keep. The pages
// with the real services, in a browser, are tested in cmd/checkstack.

type counter struct{ n atomic.Uint64 }

func (c *counter) PublicSeq() uint64 { return c.n.Load() }

// testHandler is a Handler over a stand-in auth/logout that counts its
// calls; every caller is signed in as ada when signedIn.
func testHandler(t *testing.T, signedIn bool, public bool) (*Handler, *atomic.Int64) {
	t.Helper()
	var logouts atomic.Int64
	procs := []rpc.Procedure{
		rpc.Mutate("auth", "logout", rpc.Public, func(context.Context, *rpc.Request, rpc.Empty) (rpc.Empty, error) {
			logouts.Add(1)
			return rpc.Empty{}, nil
		}),
	}
	h := New(Options{Procedures: procs, PublicStatus: public, Authenticate: func(*http.Request) (rpc.Principal, error) {
		if signedIn {
			return rpc.Principal{UserID: "ada", Name: "Ada", Role: rpc.RoleUser}, nil
		}
		return rpc.Principal{}, nil
	}})
	return h, &logouts
}

func TestEveryResponseCarriesTheSecurityHeaders(t *testing.T) {
	h, _ := testHandler(t, false, false)
	for _, tc := range []struct{ method, path string }{
		{"GET", "/login"}, {"GET", "/no/such/page"}, {"GET", "/static/app.css"}, {"GET", "/static/app.js"},
		{"GET", "/status"}, {"GET", "/badge/x/status.svg"}, {"POST", "/logout"}, {"GET", "/admin/checks"},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, nil))
		hdr := w.Header()
		csp := hdr.Get("Content-Security-Policy")
		scripts := regexp.MustCompile(`script-src [^;]*`).FindString(csp)
		if scripts == "" || strings.Contains(scripts, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s %s: CSP %q", tc.method, tc.path, csp)
		}
		if hdr.Get("X-Content-Type-Options") != "nosniff" || hdr.Get("Referrer-Policy") == "" {
			t.Errorf("%s %s: headers %v", tc.method, tc.path, hdr)
		}
	}
}

// The CSP forbids inline scripts and styles: the templates must have none
// for the pages to work under it.
func TestTheTemplatesHaveNoInlineScriptOrStyle(t *testing.T) {
	inline := regexp.MustCompile(`(?i)<script(\s[^>]*)?>\s*[^<\s]|<script(?:\s(?:[^s>]|s[^r])*)?>|\sstyle=|\son[a-z]+=|<style|javascript:`)
	err := fs.WalkDir(templateFiles, "templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(templateFiles, path)
		if err != nil {
			return err
		}
		for _, m := range inline.FindAllString(string(b), -1) {
			if !strings.Contains(m, `src=`) {
				t.Errorf("%s: inline %q", path, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestFormsSentFromAnotherSiteAreRefused(t *testing.T) {
	h, logouts := testHandler(t, true, false)
	for _, tc := range []struct {
		name, origin, referer string
		want                  int
	}{
		{"another site", "https://evil.example", "", http.StatusForbidden},
		{"no origin or referer", "", "", http.StatusForbidden},
		{"null origin", "null", "", http.StatusForbidden},
		{"a referer on another site", "", "https://evil.example/page", http.StatusForbidden},
		{"a look-alike host", "http://example.com.evil.example", "", http.StatusForbidden},
		{"this site", "http://example.com", "", http.StatusSeeOther},
		{"this site, by referer", "", "http://example.com/notifications", http.StatusSeeOther},
	} {
		before := logouts.Load()
		r := httptest.NewRequest("POST", "http://example.com/logout", nil)
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		if tc.referer != "" {
			r.Header.Set("Referer", tc.referer)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, w.Code, tc.want)
		}
		called := logouts.Load() - before
		if (tc.want == http.StatusForbidden) != (called == 0) {
			t.Errorf("%s: the procedure ran %d times", tc.name, called)
		}
	}
}

func TestSignInSendsOnlyToThisSite(t *testing.T) {
	for next, want := range map[string]string{
		"/systems/a?range=7d": "/systems/a?range=7d", "": "/", "https://evil.example/": "/", "//evil.example/x": "/",
		"/\\evil.example": "/", "/%5Cevil.example/": "/%5Cevil.example/", "/a\\b": "/", "/\tx": "/",
		"javascript:alert(1)": "/", "systems": "/", "/notifications?offset=25": "/notifications?offset=25",
	} {
		if got := safeNext(next); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", next, got, want)
		}
	}
}

func TestThePublicPagesAreNotFoundWithoutTheFlag(t *testing.T) {
	h, _ := testHandler(t, false, false)
	for _, path := range []string{"/status", "/status/feed.atom", "/status/feed.rss", "/badge/a/status.svg", "/badge/a/uptime.svg"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if w.Code != http.StatusNotFound {
			t.Errorf("%s = %d, want 404", path, w.Code)
		}
	}
}

// A kept page is served only while no public signal has been counted
// since its render began, and never past its time.
func TestAKeptPageIsStaleFromTheNextPublicSignal(t *testing.T) {
	var seq counter
	c := pageCache{signals: &seq}
	now := time.Unix(1000, 0)
	page := func(body string, seq uint64) cachedPage {
		return cachedPage{body: []byte(body), seq: seq, until: now.Add(pageTTL)}
	}
	c.put("/status", page("v1", c.count()))
	if e, ok := c.get("/status", now); !ok || string(e.body) != "v1" {
		t.Fatalf("a fresh page is not served: %v %q", ok, e.body)
	}
	if _, ok := c.get("/status", now.Add(pageTTL)); ok {
		t.Error("a page is served past its time")
	}

	seq.n.Add(1) // a signal
	if _, ok := c.get("/status", now); ok {
		t.Fatal("a page rendered before a public signal is served after it")
	}

	// A render that began before a signal and ends after it is not kept
	// over one that began after it.
	began := c.count()
	seq.n.Add(1)
	c.put("/status", page("v3", c.count()))
	c.put("/status", page("v2, stale", began))
	if e, ok := c.get("/status", now); !ok || string(e.body) != "v3" {
		t.Fatalf("got %v %q, want the render after the signal", ok, e.body)
	}
	c.put("/status/feed.atom", page("stale feed", began))
	if _, ok := c.get("/status/feed.atom", now); ok {
		t.Error("a render begun before the last signal is served")
	}
}

// What a visitor sends beyond a badge's days makes no new entry: the
// cache's keys are bounded by the pages there are.
func TestAPublicPageIsKeptUnderItsPathAndDaysOnly(t *testing.T) {
	key := func(target string, partial bool) string {
		r := httptest.NewRequest("GET", target, nil)
		if partial {
			r.Header.Set("X-Checkstack-Partial", "main")
		}
		return publicKey(r)
	}
	same := [][]string{
		{"/status", "/status?x=1", "/status?cache=busted&y=2"},
		{"/badge/a/uptime.svg", "/badge/a/uptime.svg?days=30", "/badge/a/uptime.svg?days=abc", "/badge/a/uptime.svg?days=9999&x=1"},
		{"/badge/a/status.svg", "/badge/a/status.svg?days=7"},
	}
	for _, group := range same {
		for _, target := range group[1:] {
			if key(target, false) != key(group[0], false) {
				t.Errorf("%s is kept apart from %s", target, group[0])
			}
		}
	}
	if key("/badge/a/uptime.svg?days=7", false) == key("/badge/a/uptime.svg?days=30", false) {
		t.Error("7 and 30 days share a badge")
	}
	if key("/status", true) == key("/status", false) {
		t.Error("the page's main content and the whole page share an entry")
	}
}

func TestABadgeIsValidSVGWhateverTheName(t *testing.T) {
	for _, name := range []string{"api", `<script>alert("x")</script> & co`, "ünïcode ✓"} {
		b := badge(name, "Healthy", statusColours["healthy"])
		var root struct {
			XMLName xml.Name
			Title   string `xml:"title"`
		}
		if err := xml.Unmarshal(b, &root); err != nil || root.XMLName.Local != "svg" {
			t.Fatalf("badge for %q is not SVG (%v): %s", name, err, b)
		}
		if root.Title != name+": Healthy" {
			t.Errorf("badge title %q, want %q", root.Title, name+": Healthy")
		}
		if strings.Contains(string(b), "<script") {
			t.Errorf("badge for %q carries markup: %s", name, b)
		}
	}
}

func TestAnAPIErrorIsShownAtTheFieldItNames(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want map[string]string
	}{
		{rpc.Invalid("config.url", "must be absolute"), map[string]string{"config.url": "must be absolute"}},
		{rpc.Invalid("systemIds[0]", `no system "x"`), map[string]string{"systemIds[0]": `no system "x"`}},
		{&rpc.Error{Status: 409, Code: "CONFLICT", Message: "a system with that name exists"}, map[string]string{"": "a system with that name exists"}},
		{io.ErrUnexpectedEOF, map[string]string{"": serverFault}},
	} {
		got := fieldErrors(tc.err)
		if len(got) != len(tc.want) {
			t.Errorf("%v: %v, want %v", tc.err, got, tc.want)
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%v: %v, want %v", tc.err, got, tc.want)
			}
		}
	}
	if got := prefixField(rpc.Invalid("config.url", "bad"), "config.", "http."); fieldErrors(got)["http.url"] != "bad" {
		t.Errorf("prefixField: %v", got)
	}
}

func TestDaysWithoutDataAreOneBar(t *testing.T) {
	up := func(f float64) *float64 { return &f }
	days := []day{{Date: "d1"}, {Date: "d2"}, {Date: "d3"}, {Date: "d4", Uptime: up(100)}, {Date: "d5", Uptime: up(98)}, {Date: "d6"}}
	svg := string(uptimeBar(days))
	if n := strings.Count(svg, "<rect"); n != 4 {
		t.Errorf("%d bars for 3 empty days, 2 days, 1 empty day; want 4:\n%s", n, svg)
	}
	for _, want := range []string{"d1 – d3: no data", "d4: 100.00%", `class="bad"`, "d6: no data"} {
		if !strings.Contains(svg, want) {
			t.Errorf("the bar lacks %q:\n%s", want, svg)
		}
	}
	var v struct{ XMLName xml.Name }
	if err := xml.Unmarshal([]byte(svg), &v); err != nil {
		t.Errorf("the bar is not SVG: %v", err)
	}
}

// Every page renders with nothing in it yet: a new installation's.
func TestEveryPageRendersEmpty(t *testing.T) {
	h, _ := testHandler(t, true, true)
	v := viewer{rpc.Principal{UserID: "ada", Name: "Ada", Role: rpc.RoleAdmin}}
	data := map[string]any{
		"overview": overviewData{}, "system": systemData{}, "timeline": timelineData{}, "notifications": notificationsData{},
		"keys": keysData{}, "login": loginForm{}, "error": "gone", "status": statusView{},
	}
	for _, s := range h.sections() {
		data["admin:"+s.name] = adminData{Section: s.name, Data: map[string]any{}}
	}
	if len(h.views) != 9 {
		t.Errorf("%d pages, want 9: %v", len(h.views), h.views)
	}
	for name, d := range data {
		view, _, _ := strings.Cut(name, ":")
		t.Run(name, func(t *testing.T) {
			if err := h.views[view].Execute(io.Discard, page{Title: "t", Viewer: v, Data: d}); err != nil {
				t.Fatal(err)
			}
			if err := h.tmpl.Lookup(view+":main").Execute(io.Discard, page{Title: "t", Viewer: v, Data: d}); err != nil {
				t.Fatalf("main only: %v", err)
			}
		})
	}
}

// The overview reads each kind once, in bulk, whatever the number of
// systems: its calls are the same for 3 systems as for 300 (and one a
// thousand systems past the bulk procedures' limit).
func TestTheOverviewReadsEachKindOnceWhateverTheSystems(t *testing.T) {
	calls := func(systems int) map[string]int {
		counts := map[string]int{}
		var mu sync.Mutex
		answer := func(name string, out func() any) rpc.Procedure {
			domain, proc, _ := strings.Cut(name, "/")
			return rpc.Query(domain, proc, rpc.User, func(context.Context, *rpc.Request, map[string]any) (any, error) {
				mu.Lock()
				counts[name]++
				mu.Unlock()
				return out(), nil
			})
		}
		empty := func() any { return map[string]any{} }
		ents := func() any {
			var ss []map[string]string
			for i := range systems {
				ss = append(ss, map[string]string{"id": fmt.Sprint("s", i), "name": fmt.Sprint("system ", i)})
			}
			return map[string]any{"systems": ss, "groups": []any{}}
		}
		var procs []rpc.Procedure
		for _, name := range []string{"catalog/getViews", "notification/getUnreadCount", "announcement/getActiveAnnouncements",
			"healthcheck/getBulkSystemHealthStatus", "healthcheck/getBulkUptime", "slo/getBulkObjectivesForSystems",
			"incident/getBulkIncidentsForSystems", "maintenance/getBulkMaintenancesForSystems", "anomaly/getBulkAnomaliesForSystems"} {
			procs = append(procs, answer(name, empty))
		}
		procs = append(procs, answer("catalog/getEntities", ents))
		h := New(Options{Procedures: procs, Authenticate: func(*http.Request) (rpc.Principal, error) {
			return rpc.Principal{UserID: "ada", Role: rpc.RoleUser}, nil
		}})
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		if w.Code != 200 || !strings.Contains(w.Body.String(), fmt.Sprint("system ", systems-1)) {
			t.Fatalf("overview of %d systems = %d:\n%s", systems, w.Code, w.Body)
		}
		return counts
	}
	few, many, more := calls(3), calls(300), calls(2500)
	if len(few) != 10 {
		t.Errorf("the overview calls %d procedures, want 10: %v", len(few), few)
	}
	for name, n := range many {
		if n != 1 || few[name] != 1 {
			t.Errorf("%s: called %d times for 3 systems, %d for 300; want once", name, few[name], n)
		}
		// Past a bulk call's 1,000 systems, one call a thousand.
		if want := map[bool]int{true: 3, false: 1}[strings.Contains(name, "Bulk")]; more[name] != want {
			t.Errorf("%s: called %d times for 2,500 systems, want %d", name, more[name], want)
		}
	}
}

func TestAnAPIFieldIsShownAtItsFormControl(t *testing.T) {
	for field, want := range map[string]string{
		"name": "name", "config.url": "url", "recurrence.timezone": "timezone", "thresholds.degradedAfter": "degradedAfter",
		"http.expectedStatus[0]": "http.expectedStatus", "systemIds[2]": "systemIds", "": "",
	} {
		if got := formField(field); got != want {
			t.Errorf("formField(%q) = %q, want %q", field, got, want)
		}
	}
}

// The status page's line: an open incident says there is a problem while
// the checks are green; maintenance is never an outage.
func TestTheStatusLineWeighsIncidentsAndMaintenance(t *testing.T) {
	open := func(severity string) []incident { return []incident{{Severity: severity}} }
	for _, tc := range []struct {
		counts    map[string]int
		systems   int
		incidents []incident
		want      string
	}{
		{map[string]int{"healthy": 3}, 3, nil, "All systems operational"},
		{map[string]int{"healthy": 3}, 3, open("major"), "Partial outage"},
		{map[string]int{"healthy": 3}, 3, open("critical"), "Major outage"},
		{map[string]int{"healthy": 3}, 3, open("minor"), "Degraded performance"},
		{map[string]int{"healthy": 2, "maintenance": 1}, 3, open("critical"), "Major outage"},
		{map[string]int{"healthy": 2, "maintenance": 1}, 3, nil, "Under maintenance"},
		{map[string]int{"unhealthy": 2, "maintenance": 1}, 3, nil, "Major outage"},
		{map[string]int{"unhealthy": 1, "healthy": 2}, 3, nil, "Partial outage"},
		{map[string]int{"unknown": 2}, 2, nil, "No status yet"},
		{map[string]int{"unknown": 1, "healthy": 1}, 2, nil, "All systems operational"},
	} {
		if got, _ := overall(tc.counts, tc.systems, tc.incidents); got != tc.want {
			t.Errorf("%v with %v: %q, want %q", tc.counts, tc.incidents, got, tc.want)
		}
	}
}

// A maintenance window's times are read in the time zone the form names,
// as its rule is: 02:00 in Berlin is 01:00 UTC in winter, 00:00 in summer.
func TestAWindowsTimesAreReadInItsTimeZone(t *testing.T) {
	form := func(values string) *http.Request {
		r := httptest.NewRequest("POST", "/admin/maintenance/create", strings.NewReader(values))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if err := r.ParseForm(); err != nil {
			t.Fatal(err)
		}
		return r
	}
	in, err := windowInput(form("title=t&startAt=2026-01-10T02:00&endAt=2026-07-11T02:00&timezone=Europe/Berlin&rule=freq=weekly%3Bbyday=sa"))
	if err != nil {
		t.Fatal(err)
	}
	m := in.(map[string]any)
	if m["startAt"] != "2026-01-10T01:00:00Z" || m["endAt"] != "2026-07-11T00:00:00Z" {
		t.Errorf("times %v to %v", m["startAt"], m["endAt"])
	}
	if rec := m["recurrence"].(map[string]string); rec["rule"] != "FREQ=WEEKLY;BYDAY=SA" || rec["timezone"] != "Europe/Berlin" {
		t.Errorf("recurrence %v", rec)
	}
	for _, zone := range []string{"Mars/Olympus", "Local"} {
		if _, err := windowInput(form("title=t&timezone=" + zone)); fieldErrors(err)["timezone"] == "" {
			t.Errorf("time zone %q: %v, want an error at the field", zone, err)
		}
	}
}

// The visitors a signal sends back at once share one render of a public
// page: whoever comes while it is under way waits for its bytes.
func TestAPublicPageIsRenderedOnceForAllWhoAskTogether(t *testing.T) {
	h, _ := testHandler(t, false, true)
	var renders atomic.Int64
	entered, release := make(chan struct{}, 1), make(chan struct{})
	serve := h.publicPage("text/plain", func(*http.Request) ([]byte, error) {
		if renders.Add(1) == 1 {
			entered <- struct{}{}
		}
		<-release
		return []byte("the page"), nil
	})
	const visitors = 50
	var wg sync.WaitGroup
	bodies := make([]string, visitors)
	for i := range visitors {
		wg.Go(func() {
			w := httptest.NewRecorder()
			serve(w, httptest.NewRequest("GET", "/status", nil))
			bodies[i] = w.Body.String()
		})
	}
	<-entered
	time.Sleep(50 * time.Millisecond) // the others arrive while it renders
	close(release)
	wg.Wait()
	if n := renders.Load(); n != 1 {
		t.Errorf("%d renders for %d visitors at once, want 1", n, visitors)
	}
	for i, b := range bodies {
		if b != "the page" {
			t.Fatalf("visitor %d got %q", i, b)
		}
	}
}
