package main

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/feeds"
)

// The pages, driven in a real browser: Debian's chromium, headless. Without
// it these tests skip, unless CHECKSTACK_REQUIRE_SERVICES=1 says every
// service must be there. With CHECKSTACK_SCREENSHOTS=<dir> they also save
// the screenshots the README shows (TestScreenshots).

// wait is how long a page may take to show what a test waits for: long,
// because CI's machine is busy; a test that passes never waits it out.
const wait = 60 * time.Second

// chromiumPath finds the browser, or skips (or fails) t.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHECKSTACK_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CHECKSTACK_REQUIRE_SERVICES") == "1" {
		t.Fatal("chromium is not installed, and CHECKSTACK_REQUIRE_SERVICES=1 requires it (apt-get install chromium)")
	}
	t.Skip("chromium is not installed: the browser tests skip (apt-get install chromium)")
	return ""
}

// tab is a browser tab, with the page's uncaught exceptions and CSP
// violations collected for tab.clean.
type tab struct {
	ctx      context.Context
	mu       sync.Mutex
	problems []string
}

// newBrowser starts a headless browser for t and returns its first tab.
func newBrowser(t *testing.T) *tab {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromiumPath(t)), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(cancelTab)
	return watch(t, ctx)
}

// incognito opens a tab with its own cookies: an anonymous visitor.
func (b *tab) incognito(t *testing.T) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	return watch(t, ctx)
}

func watch(t *testing.T, ctx context.Context) *tab {
	t.Helper()
	if err := chromedp.Do(ctx); err != nil { // starts the browser, or opens the tab
		t.Fatalf("start chromium: %v", err)
	}
	tb := &tab{ctx: ctx}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.IsException() || strings.Contains(m.Text, "Content Security Policy") {
				tb.mu.Lock()
				tb.problems = append(tb.problems, fmt.Sprintf("%s:%d %s", m.URL, m.Line+1, m.Text))
				tb.mu.Unlock()
			}
		}
	}()
	return tb
}

// clean fails t if a page threw or broke its CSP.
func (b *tab) clean(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		t.Errorf("page problem: %s", p)
	}
}

func (b *tab) do(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, wait)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// until waits for a JavaScript expression to be true, across the
// navigations it may be waiting for: it polls in short attempts, each on
// whatever page is there.
func (b *tab) until(t *testing.T, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 3*time.Second)
		_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(time.Second),
			chromedp.WithPollingInterval(50*time.Millisecond)))
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) || b.ctx.Err() != nil {
			t.Fatalf("waiting for %s (%s): %v\npage: %s", what, expr, err, b.text(t, "main"))
		}
	}
}

func eval[T any](t *testing.T, b *tab, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, wait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func (b *tab) text(t *testing.T, css string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q) || {}).innerText || ""`, css)))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return s
}

// submit clicks a form's button and waits for the page it leads to.
func (b *tab) submit(t *testing.T, form string) {
	t.Helper()
	b.do(t, chromedp.Evaluate[chromedp.Void](`window.__before = true`))
	b.do(t, chromedp.Click(chromedp.CSS(form+` button[type=submit]`)))
	b.until(t, "the page after "+form, `window.__before === undefined && document.readyState === "complete"`)
}

// screenshot saves the page when CHECKSTACK_SCREENSHOTS names a directory.
func (b *tab) screenshot(t *testing.T, name string) {
	t.Helper()
	dir := os.Getenv("CHECKSTACK_SCREENSHOTS")
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, wait)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// browse starts a server with the public status page and an admin
// (admin@example.com, whose API key it returns), and a browser. The
// browser closes first, so that no connection of its (a speculative one
// not yet sent a request) holds the server's shutdown.
func browse(t *testing.T) (*instance, string, *tab) {
	t.Helper()
	database := filepath.Join(t.TempDir(), "data", "checkstack.db")
	key := newUser(t, database, "admin@example.com", true)
	in := start(t, database, "--public-status", "true")
	return in, key, newBrowser(t)
}

// unlabelled lists the page's controls that no label names.
const unlabelled = `[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]` +
	`.filter(e => e.labels.length === 0 && !e.getAttribute('aria-label')).map(e => e.name || e.id)`

// narrow reports whether the page fits 360 px without scrolling sideways.
const narrow = `document.documentElement.scrollWidth <= 360`

// A new admin signs in with the keyboard alone, creates a system and an
// HTTP check through the admin forms (a refused one shows the API's
// message at its field and creates nothing), and watches the overview:
// the tile turns red without a reload when the server it checks stops, and
// the bell counts a notification as it arrives. An incident opened in the
// admin form shows on the public status page, updates it live, and is in
// the Atom feed; the badges are SVG that a browser draws.
func TestTheDashboardAndTheStatusPageInABrowser(t *testing.T) {
	in, key, b := browse(t)
	target := &switchable{addr: "127.0.0.1:0"}
	target.start(t)
	defer target.stop()

	// Keyboard only: the email field has the focus, Tab moves to the
	// password, Enter sends.
	b.do(t, chromedp.Navigate(in.url+"/login"))
	b.until(t, "the focus in the email field", `document.activeElement && document.activeElement.id === "email"`)
	b.do(t, chromedp.KeyEvent("admin@example.com"), chromedp.KeyEvent("\t"), chromedp.KeyEvent("correct horse battery"))
	b.until(t, "the focus in the password field", `document.activeElement.id === "password"`)
	b.do(t, chromedp.KeyEvent("\r"))
	b.until(t, "the overview", `location.pathname === "/" && document.querySelector("h1") && document.querySelector("h1").innerText === "Overview"`)

	// A system, through its form.
	b.do(t, chromedp.Navigate(in.url+"/admin/systems"))
	if got := eval[[]string](t, b, unlabelled); len(got) > 0 {
		t.Errorf("unlabelled controls on /admin/systems: %v", got)
	}
	b.do(t, chromedp.SendKeys(chromedp.ID("create-name"), "Website"), chromedp.SendKeys(chromedp.ID("create-description"), "The public site"))
	b.submit(t, `form[action="/admin/systems/create"]`)
	var ents struct{ Systems []system }
	in.ok(t, key, "catalog/getEntities", "{}", &ents)
	if len(ents.Systems) != 1 || ents.Systems[0].Name != "Website" {
		t.Fatalf("after the form: systems %+v", ents.Systems)
	}
	sys := ents.Systems[0].ID

	// A check: refused first, by field, creating nothing.
	b.do(t, chromedp.Navigate(in.url+"/admin/checks"))
	if got := eval[[]string](t, b, unlabelled); len(got) > 0 {
		t.Errorf("unlabelled controls on /admin/checks: %v", got)
	}
	b.do(t,
		chromedp.SendKeys(chromedp.ID("create-name"), "homepage"),
		chromedp.SendKeys(chromedp.ID("create-http-url"), "not a url"),
		chromedp.SetValue(chromedp.ID("create-systemid"), sys),
		chromedp.SetValue(chromedp.ID("create-degradedafter"), "1"),
		chromedp.SetValue(chromedp.ID("create-unhealthyafter"), "1"),
	)
	b.submit(t, `#check-form`)
	if msg := b.text(t, "#create-http-url-error"); !strings.Contains(msg, "absolute") {
		t.Fatalf("the refused URL's field says %q, want the API's reason", msg)
	}
	if inv := eval[string](t, b, `document.getElementById("create-http-url").getAttribute("aria-invalid") || ""`); inv != "true" {
		t.Errorf("the refused field is not marked invalid: %q", inv)
	}
	var confs struct{ Configurations []struct{ ID string } }
	in.ok(t, key, "healthcheck/getConfigurations", "{}", &confs)
	if len(confs.Configurations) != 0 {
		t.Fatalf("a refused form created %+v", confs.Configurations)
	}
	if got := eval[string](t, b, `document.getElementById("create-name").value`); got != "homepage" {
		t.Errorf("the refused form lost what was typed: name %q", got)
	}
	b.do(t, chromedp.SetValue(chromedp.ID("create-http-url"), "http://"+target.addr+"/"))
	b.submit(t, `#check-form`)
	in.ok(t, key, "healthcheck/getConfigurations", "{}", &confs)
	if len(confs.Configurations) != 1 {
		t.Fatalf("after the form: checks %+v (page: %s)", confs.Configurations, b.text(t, "main"))
	}
	check := confs.Configurations[0].ID

	// The overview: healthy, then red without a reload.
	tile := fmt.Sprintf(`document.getElementById("tile-%s")`, sys)
	b.do(t, chromedp.Navigate(in.url+"/"))
	b.until(t, "a healthy tile", tile+` && `+tile+`.dataset.status === "healthy"`)
	b.until(t, "the signal stream open", `document.body.dataset.live === "open"`)
	b.do(t, chromedp.Evaluate[chromedp.Void](`window.__stay = true`))
	target.stop()
	in.ok(t, key, "healthcheck/runNow", map[string]string{"configurationId": check}, nil)
	b.until(t, "the tile turned red", tile+`.dataset.status === "unhealthy"`)
	if !eval[bool](t, b, `window.__stay === true`) {
		t.Fatal("the overview reloaded to show the change")
	}
	if got := eval[string](t, b, tile+`.innerText`); !strings.Contains(got, "Unhealthy") {
		t.Errorf("an unhealthy tile says %q: its state must be in words, not only colour", got)
	}

	// The bell, live.
	var me struct{ ID string }
	in.ok(t, key, "auth/me", "{}", &me)
	before := eval[string](t, b, `document.getElementById("bell-count").innerText`)
	in.ok(t, key, "notification/notifyUsers", map[string]any{"userIds": []string{me.ID},
		"notification": map[string]any{"title": "Disk almost full", "body": "on **db-1**", "importance": "warning"}}, nil)
	b.until(t, "the bell counting it", fmt.Sprintf(`document.getElementById("bell-count").innerText !== %q`, before))
	if !eval[bool](t, b, `window.__stay === true`) {
		t.Fatal("the page reloaded to count a notification")
	}

	// The system page: its check with the failure, a chart, a range.
	b.do(t, chromedp.Navigate(in.url+"/systems/"+sys+"?range=7d"))
	b.until(t, "the system page", `document.querySelector("svg.chart") !== null`)
	if got := b.text(t, "main"); !strings.Contains(got, "homepage") || !strings.Contains(got, "Unhealthy") {
		t.Errorf("the system page shows %q", got)
	}
	if got := eval[string](t, b, `document.querySelector('.ranges a[aria-current]').innerText`); got != "7d" {
		t.Errorf("the chosen range is %q, want 7d", got)
	}

	// The bell's list: mark it read.
	// Every page opened its stream; the pages left behind closed theirs
	// (a browser keeps few connections to a site: streams of pages no one
	// sees would take them all).
	streamsAtMost(t, in, 1)

	b.do(t, chromedp.Navigate(in.url+"/notifications"))
	if got := b.text(t, "main"); !strings.Contains(got, "Disk almost full") {
		t.Fatalf("the notifications page shows %q", got)
	}
	b.submit(t, `.note.unread form[action="/notifications/read"]`)
	b.until(t, "the bell back to zero", `document.getElementById("bell-count").innerText === "0"`)

	// An API key: shown once, listed, revoked.
	b.do(t, chromedp.Navigate(in.url+"/keys"))
	b.do(t, chromedp.SendKeys(chromedp.ID("key-name"), "deploy bot"))
	b.submit(t, `form[action="/keys"]`)
	secret := b.text(t, "#new-key")
	if len(secret) < 20 {
		t.Fatalf("the new key shows as %q", secret)
	}
	if r := in.call(t, secret, "auth/me", "{}"); r.Status != 200 {
		t.Fatalf("the key shown does not sign in: %d", r.Status)
	}
	if got := b.text(t, "table"); !strings.Contains(got, "deploy bot") || !strings.Contains(got, "Revoke") {
		t.Fatalf("the keys table shows %q", got)
	}
	b.do(t, chromedp.Navigate(in.url+"/keys"))
	if strings.Contains(b.text(t, "main"), secret) {
		t.Fatal("the key is shown again")
	}
	b.do(t, chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll("tr")].find(tr => tr.innerText.includes("deploy bot"))`+
		`.querySelector("form").id = "revoke-bot"`))
	b.submit(t, `#revoke-bot`)
	if got := b.text(t, "table"); !regexp.MustCompile(`deploy bot.*Revoked`).MatchString(got) {
		t.Errorf("after revoking, the keys table shows %q", got)
	}
	if r := in.call(t, secret, "auth/me", "{}"); r.Status != http.StatusUnauthorized {
		t.Errorf("a revoked key still signs in: %d", r.Status)
	}

	// An incident, through its form: without a system first, refused at
	// the systems' boxes.
	b.do(t, chromedp.Navigate(in.url+"/admin/incidents"))
	if got := eval[[]string](t, b, unlabelled); len(got) > 0 {
		t.Errorf("unlabelled controls on /admin/incidents: %v", got)
	}
	b.do(t, chromedp.SendKeys(chromedp.ID("create-title"), "The website is down"))
	b.submit(t, `form[action="/admin/incidents/create"]`)
	if got := b.text(t, "#create-systemids-error"); got == "" {
		t.Fatalf("an incident without systems: no error at the systems (page: %s)", b.text(t, "main"))
	}
	b.do(t,
		chromedp.Click(chromedp.ID("create-systemids-"+strings.ToLower(sys))),
		chromedp.SendKeys(chromedp.ID("create-message"), "We are looking into it."),
	)
	b.submit(t, `form[action="/admin/incidents/create"]`)
	var incs struct{ Incidents []struct{ ID, Title string } }
	in.ok(t, key, "incident/listIncidents", "{}", &incs)
	if len(incs.Incidents) != 1 {
		t.Fatalf("after the form: incidents %+v (page: %s)", incs.Incidents, b.text(t, "main"))
	}
	inc := incs.Incidents[0].ID

	// The public page, as an anonymous visitor: the incident, then its
	// update, live.
	visitor := b.incognito(t)
	visitor.do(t, chromedp.Navigate(in.url+"/status"))
	visitor.until(t, "the incident on the status page", `document.body.innerText.includes("The website is down")`)
	if got := visitor.text(t, "#overall"); !strings.Contains(got, "outage") {
		t.Errorf("the status page's line says %q, want an outage", got)
	}
	visitor.until(t, "the visitor's signal stream open", `document.body.dataset.live === "open"`)
	visitor.do(t, chromedp.Evaluate[chromedp.Void](`window.__stay = true`))
	in.ok(t, key, "incident/addUpdate", map[string]any{"incidentId": inc, "message": "The disk filled up; freeing space.",
		"statusChange": "identified"}, nil)
	visitor.until(t, "the update, live", `document.body.innerText.includes("The disk filled up")`)
	if !eval[bool](t, visitor, `window.__stay === true`) {
		t.Fatal("the status page reloaded to show the update")
	}
	if strings.Contains(visitor.text(t, "body"), "admin@example.com") {
		t.Error("the public page shows who posted")
	}

	// Readable at 360 px.
	visitor.do(t, chromedp.EmulateViewport(360, 800))
	visitor.do(t, chromedp.Navigate(in.url+"/status"))
	visitor.until(t, "the narrow status page", `document.readyState === "complete"`)
	if !eval[bool](t, visitor, narrow) {
		t.Errorf("the status page is %d px wide at 360", eval[int](t, visitor, `document.documentElement.scrollWidth`))
	}
	b.do(t, chromedp.EmulateViewport(360, 800))
	for _, path := range []string{"/", "/systems/" + sys, "/admin/checks", "/admin/incidents"} {
		b.do(t, chromedp.Navigate(in.url+path))
		b.until(t, "the narrow "+path, `document.readyState === "complete"`)
		if !eval[bool](t, b, narrow) {
			t.Errorf("%s is %d px wide at 360", path, eval[int](t, b, `document.documentElement.scrollWidth`))
		}
	}

	// The feed, read by a feed library.
	res, err := http.Get(in.url + "/status/feed.atom")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var feed feeds.AtomFeed
	if err := xml.Unmarshal(body, &feed); err != nil {
		t.Fatalf("the Atom feed does not parse: %v\n%s", err, body)
	}
	var titles []string
	for _, e := range feed.Entries {
		titles = append(titles, e.Title)
	}
	if n := strings.Count(strings.Join(titles, "\n"), "The website is down"); n != 2 {
		t.Errorf("the feed has %d entries of the incident (want one per update, 2): %q", n, titles)
	}

	// Badges: SVG, cached, drawn by the browser.
	for _, path := range []string{"/badge/" + sys + "/status.svg", "/badge/" + sys + "/uptime.svg?days=30"} {
		res, err := http.Get(in.url + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(res.Header.Get("Cache-Control"), "max-age") {
			t.Errorf("%s: %d %q %q", path, res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Cache-Control"))
		}
		var root struct{ XMLName xml.Name }
		if err := xml.Unmarshal(body, &root); err != nil || root.XMLName.Local != "svg" {
			t.Errorf("%s is not SVG (%v): %s", path, err, body)
		}
		width := eval[int](t, visitor, fmt.Sprintf(`new Promise(done => { const i = new Image(); i.onload = () => done(i.naturalWidth); `+
			`i.onerror = () => done(-1); i.src = %q; })`, path))
		if width <= 0 {
			t.Errorf("the browser cannot draw %s (width %d)", path, width)
		}
	}
	// Signing out ends the session: the dashboard sends to the public page.
	b.do(t, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(in.url+"/"))
	b.submit(t, `form[action="/logout"]`)
	b.until(t, "the sign-in page", `location.pathname === "/login"`)
	b.do(t, chromedp.Navigate(in.url+"/admin/systems"))
	b.until(t, "sent to sign in", `location.pathname === "/login" && document.getElementById("email") !== null`)
	b.clean(t)
	visitor.clean(t)
}

// streamsAtMost waits until the server holds at most n signal streams. A
// closed stream ends on the server at once; a browser that keeps the
// streams of pages left behind holds them for a minute or more, so 15
// seconds tells the two apart on a busy machine.
func streamsAtMost(t *testing.T, in *instance, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := in.gauge(t, "checkstack_signal_streams")
		if got <= float64(n) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v signal streams open, want at most %d", got, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestScreenshots makes the README's screenshots, of a small installation
// with a few systems in groups, checks that ran, an outage with its
// incident, maintenance in progress and an announcement. It runs only
// with CHECKSTACK_SCREENSHOTS=<dir>:
//
//	CHECKSTACK_SCREENSHOTS=docs/screenshots go test -run TestScreenshots ./cmd/checkstack/
func TestScreenshots(t *testing.T) {
	if os.Getenv("CHECKSTACK_SCREENSHOTS") == "" {
		t.Skip("CHECKSTACK_SCREENSHOTS is not set")
	}
	in, key, b := browse(t)
	up := &switchable{addr: "127.0.0.1:0"}
	up.start(t)
	defer up.stop()
	down := &switchable{addr: "127.0.0.1:0"}
	down.start(t)

	groups := map[string][]string{"Customer facing": {"Website", "API", "Checkout"}, "Internal": {"Database", "Job queue"}}
	ids := map[string]string{}
	checks := map[string]string{}
	for _, g := range []string{"Customer facing", "Internal"} {
		var grp struct{ ID string }
		in.ok(t, key, "catalog/createGroup", map[string]string{"name": g}, &grp)
		for _, name := range groups[g] {
			var sys system
			in.ok(t, key, "catalog/createSystem", map[string]string{"name": name, "description": name + " of the shop"}, &sys)
			ids[name] = sys.ID
			in.ok(t, key, "catalog/addSystemToGroup", map[string]string{"groupId": grp.ID, "systemId": sys.ID}, nil)
			target := up
			if name == "Checkout" {
				target = down
			}
			var conf struct{ ID string }
			in.ok(t, key, "healthcheck/createConfiguration", map[string]any{"name": strings.ToLower(name) + " http", "strategy": "http",
				"config": map[string]any{"url": "http://" + target.addr + "/"}, "intervalSeconds": 3600, "timeoutSeconds": 2}, &conf)
			checks[name] = conf.ID
			in.ok(t, key, "healthcheck/associateSystem", map[string]any{"systemId": sys.ID, "configurationId": conf.ID,
				"thresholds": map[string]any{"degradedAfter": 1, "unhealthyAfter": 2}}, nil)
			in.ok(t, key, "slo/createObjective", map[string]any{"systemId": sys.ID, "name": "Availability", "target": 99.5, "windowDays": 30}, nil)
		}
	}
	for range 6 {
		for _, c := range checks {
			in.ok(t, key, "healthcheck/runNow", map[string]string{"configurationId": c}, nil)
		}
		time.Sleep(150 * time.Millisecond)
	}
	down.stop()
	for range 3 {
		in.ok(t, key, "healthcheck/runNow", map[string]string{"configurationId": checks["Checkout"]}, nil)
		time.Sleep(200 * time.Millisecond)
	}
	var inc struct{ ID string }
	in.ok(t, key, "incident/createIncident", map[string]any{"title": "Checkout is failing", "severity": "major",
		"systemIds": []string{ids["Checkout"]}, "initialMessage": "Payments time out; we are looking into it."}, &inc)
	in.ok(t, key, "incident/addUpdate", map[string]any{"incidentId": inc.ID, "statusChange": "identified",
		"message": "The payment provider's API is down; orders are kept and will be charged once it is back."}, nil)
	in.ok(t, key, "maintenance/createMaintenance", map[string]any{"title": "Database upgrade to 17", "systemIds": []string{ids["Database"]},
		"description": "Reads stay up; writes pause for a few minutes.", "startAt": time.Now().Add(2 * time.Second), "endAt": time.Now().Add(2 * time.Hour)}, nil)
	in.ok(t, key, "maintenance/createMaintenance", map[string]any{"title": "Job queue restart", "systemIds": []string{ids["Job queue"]},
		"startAt": time.Now().Add(26 * time.Hour), "endAt": time.Now().Add(27 * time.Hour)}, nil)
	in.ok(t, key, "announcement/createAnnouncement", map[string]any{"title": "New region", "message": "We now serve from **Frankfurt** too.",
		"severity": "info", "visibility": "all", "displayMode": "banner"}, nil)
	time.Sleep(3 * time.Second) // the upgrade starts

	b.do(t, chromedp.Navigate(in.url+"/login"))
	b.do(t, chromedp.SendKeys(chromedp.ID("email"), "admin@example.com"), chromedp.SendKeys(chromedp.ID("password"), "correct horse battery\r"))
	b.until(t, "the overview", `location.pathname === "/" && document.getElementById("tile-`+ids["Checkout"]+`") !== null`)
	b.screenshot(t, "overview.png")
	b.do(t, chromedp.Navigate(in.url+"/systems/"+ids["Checkout"]))
	b.until(t, "the system page", `document.querySelector("svg.chart") !== null`)
	b.screenshot(t, "system.png")
	visitor := b.incognito(t)
	visitor.do(t, chromedp.Navigate(in.url+"/status"))
	visitor.until(t, "the status page", `document.body.innerText.includes("Checkout is failing")`)
	visitor.screenshot(t, "status.png")
	visitor.do(t, chromedp.EmulateViewport(360, 800))
	visitor.do(t, chromedp.Navigate(in.url+"/status"))
	visitor.until(t, "the narrow status page", `document.readyState === "complete"`)
	visitor.screenshot(t, "status-360.png")
	b.clean(t)
	visitor.clean(t)
}
