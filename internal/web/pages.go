package web

import (
	"cmp"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/checkstack/checkstack/internal/rpc"
)

func (h *Handler) routes() {
	m := h.mux
	m.Handle("GET /static/", h.staticFiles())
	m.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, h.assets["favicon.svg"], http.StatusMovedPermanently)
	})
	m.HandleFunc("GET /login", h.loginPage)
	m.HandleFunc("POST /login", h.login)
	m.HandleFunc("POST /logout", h.logout)
	m.HandleFunc("GET /{$}", h.overview)
	m.HandleFunc("GET /systems/{id}", h.systemPage)
	m.HandleFunc("GET /incidents/{id}", h.incidentPage)
	m.HandleFunc("GET /maintenance/{id}", h.windowPage)
	m.HandleFunc("GET /notifications", h.notificationsPage)
	m.HandleFunc("POST /notifications/read", h.act("notification/markAsRead", markRead, to("/notifications")))
	m.HandleFunc("POST /notifications/delete", h.act("notification/deleteNotification",
		func(r *http.Request) any { return map[string]string{"notificationId": r.FormValue("id")} }, to("/notifications")))
	m.HandleFunc("POST /notifications/channel", h.act("notification/setChannelPreference",
		func(r *http.Request) any {
			return map[string]any{"channel": r.FormValue("channel"), "enabled": r.FormValue("enabled") == "on"}
		},
		to("/notifications#settings")))
	m.HandleFunc("POST /notifications/subscribe", h.act("notification/subscribe", groupOf, back))
	m.HandleFunc("POST /notifications/unsubscribe", h.act("notification/unsubscribe", groupOf, back))
	m.HandleFunc("POST /announcements/{id}/dismiss", h.act("announcement/dismissAnnouncement",
		func(r *http.Request) any { return map[string]string{"announcementId": r.PathValue("id")} },
		func(r *http.Request) string { return safeNext(r.FormValue("next")) }))
	m.HandleFunc("GET /keys", h.keysPage)
	m.HandleFunc("POST /keys", h.createKey)
	m.HandleFunc("POST /keys/{id}/revoke", h.act("auth/revokeKey",
		func(r *http.Request) any { return map[string]string{"id": r.PathValue("id")} }, to("/keys")))
	h.adminRoutes()
	h.statusRoutes()
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.render(w, r, http.StatusNotFound, "error", page{Title: "Not found", Viewer: h.viewer(r), Data: "There is no page at " + r.URL.Path + "."})
	})
}

// staticFiles serves the embedded assets; they change only with the
// binary, and their links carry its version.
func (h *Handler) staticFiles() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.static.ServeHTTP(w, r)
	})
}

// Signing in and out.

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	v := h.viewer(r)
	if v.SignedIn() {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, "login", page{Title: "Sign in", Viewer: v, Data: loginForm{Next: r.URL.Query().Get("next")}})
}

type loginForm struct {
	Email, Next string
	Error       string
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	f := loginForm{Email: r.FormValue("email"), Next: r.FormValue("next")}
	err := h.call(r, w.Header(), h.viewer(r), "auth/login", map[string]string{"email": f.Email, "password": r.FormValue("password")}, nil)
	if err != nil {
		var e *rpc.Error
		status := http.StatusUnauthorized
		f.Error = "The email or the password is wrong."
		switch {
		case errors.As(err, &e) && e.Status == http.StatusTooManyRequests:
			status, f.Error = e.Status, label(e.Message)+"."
		case errorStatus(err) >= 500:
			h.log.ErrorContext(r.Context(), "sign-in failed", "err", err)
			status, f.Error = http.StatusInternalServerError, serverFault
		}
		h.render(w, r, status, "login", page{Title: "Sign in", Viewer: viewer{}, Data: f})
		return
	}
	http.Redirect(w, r, safeNext(f.Next), http.StatusSeeOther)
}

// safeNext keeps a redirect after sign-in on this site: a path of it,
// never "//host" or "/\host" (which browsers read as another site), nor
// anything with a control character.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.IsAbs() || u.Host != "" || !strings.HasPrefix(next, "/") || len(next) > 1 && (next[1] == '/' || next[1] == '\\') ||
		strings.ContainsFunc(next, func(r rune) bool { return r == '\\' || r < 0x20 || r == 0x7f }) {
		return "/"
	}
	return next
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	v := h.viewer(r)
	if err := h.call(r, w.Header(), v, "auth/logout", nil, nil); err != nil {
		h.fail(w, r, v, err) // still signed in: say so, rather than seem to sign out
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// signedIn returns the viewer, or sends them to sign in.
func (h *Handler) signedIn(w http.ResponseWriter, r *http.Request) (viewer, bool) {
	v := h.viewer(r)
	if !v.SignedIn() {
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return v, false
	}
	return v, true
}

// chrome reads what every signed-in page shows around its content: the
// bell's count and the banner.
func (h *Handler) chrome(r *http.Request, v viewer, p *page) error {
	var unread struct {
		Count int `json:"count"`
	}
	var banner struct {
		Announcements []announcement `json:"announcements"`
	}
	err := calls(
		func() error { return h.call(r, nil, v, "notification/getUnreadCount", nil, &unread) },
		func() error { return h.call(r, nil, v, "announcement/getActiveAnnouncements", nil, &banner) },
	)
	p.Unread, p.active = unread.Count, banner.Announcements
	for _, a := range banner.Announcements {
		if a.DisplayMode != "dashboard" {
			p.Banner = append(p.Banner, a)
		}
	}
	return err
}

// The overview.

// tile is one system on the overview.
type tile struct {
	System      system
	Health      health
	Uptime      []day
	Budget      *float64 // the lowest budget remaining of its objectives, percent
	Breaching   bool
	Incidents   []incident
	Maintenance *window // in progress, else the next
	Anomalies   int
	Again       bool // shown already, in an earlier group: no id of its own
}

type section struct {
	ID    string // for its heading's id: the group's
	Name  string
	Tiles []tile
}

type overviewData struct {
	Sections []section
	Views    []struct{ ID, Name string }
	View     string
	Dash     []announcement // announcements shown on the dashboard
	Counts   map[string]int // systems by status
}

// overviewSignals are what the overview refreshes on.
const overviewSignals = "SYSTEM_STATUS_CHANGED CATALOG_CHANGED SLO_STATUS_CHANGED INCIDENT_UPDATED MAINTENANCE_UPDATED " +
	"ANOMALY_STATE_CHANGED ANNOUNCEMENT_UPDATED HEALTH_CHECK_CONFIGURATION_CHANGED"

func (h *Handler) overview(w http.ResponseWriter, r *http.Request) {
	if h.public && !h.viewer(r).SignedIn() {
		http.Redirect(w, r, "/status", http.StatusSeeOther) // a visitor: the public page
		return
	}
	v, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	var ents entities
	var views struct {
		Views []struct {
			ID            string          `json:"id"`
			Name          string          `json:"name"`
			Configuration json.RawMessage `json:"configuration"`
		} `json:"views"`
	}
	p := page{Title: "Overview", Viewer: v, Refresh: overviewSignals}
	err := calls(
		func() error { return h.call(r, nil, v, "catalog/getEntities", nil, &ents) },
		func() error { return h.call(r, nil, v, "catalog/getViews", nil, &views) },
		func() error { return h.chrome(r, v, &p) },
	)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	data := overviewData{View: r.URL.Query().Get("view"), Counts: map[string]int{}}
	groups := ents.Groups
	found := false
	for _, vw := range views.Views {
		// A view is any JSON object its owner saved; the overview reads
		// its "groups" list, and skips a view without one.
		var conf struct {
			Groups []string `json:"groups"`
		}
		if json.Unmarshal(vw.Configuration, &conf) != nil || conf.Groups == nil {
			continue
		}
		data.Views = append(data.Views, struct{ ID, Name string }{vw.ID, vw.Name})
		if vw.ID == data.View {
			found = true
			groups = slices.DeleteFunc(slices.Clone(groups), func(g group) bool { return !slices.Contains(conf.Groups, g.ID) })
		}
	}
	if !found {
		data.View = ""
	}
	ids := make([]string, len(ents.Systems))
	for i, s := range ents.Systems {
		ids[i] = s.ID
	}
	tiles, err := h.tiles(r, v, ents.Systems, ids, 90)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	byID := map[string]tile{}
	for _, t := range tiles {
		byID[t.System.ID] = t
	}
	grouped := map[string]bool{}
	for _, g := range groups {
		sec := section{ID: g.ID, Name: g.Name}
		for _, id := range g.SystemIDs {
			if t, ok := byID[id]; ok {
				t.Again = grouped[id]
				sec.Tiles = append(sec.Tiles, t)
				if data.View != "" && !grouped[id] {
					data.Counts[displayStatus(t.Health)]++ // a view counts its own systems
				}
				grouped[id] = true
			}
		}
		data.Sections = append(data.Sections, sec)
	}
	if data.View == "" {
		for _, t := range tiles {
			data.Counts[displayStatus(t.Health)]++
		}
		rest := section{ID: "other", Name: "Other systems"}
		if len(groups) == 0 {
			rest.Name = "Systems"
		}
		for _, t := range tiles {
			if !grouped[t.System.ID] {
				rest.Tiles = append(rest.Tiles, t)
			}
		}
		if len(rest.Tiles) > 0 {
			data.Sections = append(data.Sections, rest)
		}
	}
	for _, a := range p.active {
		if a.DisplayMode == "dashboard" { // "both" is in the banner already
			data.Dash = append(data.Dash, a)
		}
	}
	p.Data = data
	h.render(w, r, http.StatusOK, "overview", p)
}

// tiles reads, with one bulk call a kind, what the overview shows of each
// system.
func (h *Handler) tiles(r *http.Request, v viewer, systems []system, ids []string, days int) ([]tile, error) {
	out := make([]tile, len(systems))
	if len(ids) == 0 {
		return out, nil
	}
	var statuses struct {
		Statuses map[string]health `json:"statuses"`
	}
	var uptime struct {
		Uptime map[string][]day `json:"uptime"`
	}
	var slos struct {
		Systems map[string][]objective `json:"systems"`
	}
	var incidents struct {
		Incidents map[string][]incident `json:"incidents"`
	}
	var windows struct {
		Maintenances map[string][]window `json:"maintenances"`
	}
	var anomalies struct {
		Anomalies map[string][]anomaly `json:"anomalies"`
	}
	// bulk reads a kind for every system, in as few calls as the bulk
	// procedures' limit allows: each answer's map adds to out's.
	bulk := func(name string, extra map[string]any, out any) func() error {
		return func() error {
			for chunk := range slices.Chunk(ids, maxBulk) {
				in := map[string]any{"systemIds": chunk}
				maps.Copy(in, extra)
				if err := h.call(r, nil, v, name, in, out); err != nil {
					return err
				}
			}
			return nil
		}
	}
	none := func() error { return nil }
	sloRead, anomalyRead := none, none
	if v.SignedIn() {
		sloRead = bulk("slo/getBulkObjectivesForSystems", nil, &slos)
		anomalyRead = bulk("anomaly/getBulkAnomaliesForSystems", nil, &anomalies)
	}
	err := calls(
		bulk("healthcheck/getBulkSystemHealthStatus", nil, &statuses),
		bulk("healthcheck/getBulkUptime", map[string]any{"days": days}, &uptime),
		sloRead,
		bulk("incident/getBulkIncidentsForSystems", nil, &incidents),
		bulk("maintenance/getBulkMaintenancesForSystems", nil, &windows),
		anomalyRead,
	)
	if err != nil {
		return nil, err
	}
	for i, s := range systems {
		t := tile{System: s, Health: statuses.Statuses[s.ID], Uptime: uptime.Uptime[s.ID], Incidents: incidents.Incidents[s.ID],
			Anomalies: len(anomalies.Anomalies[s.ID])}
		if t.Health.Status == "" {
			t.Health.Status = "unknown"
		}
		for _, o := range slos.Systems[s.ID] {
			rem := o.Status.ErrorBudget.RemainingPercent
			if t.Budget == nil || rem < *t.Budget {
				t.Budget = &rem
			}
			t.Breaching = t.Breaching || o.Status.IsBreaching
		}
		for _, w := range windows.Maintenances[s.ID] {
			if t.Maintenance == nil || w.Status == "in_progress" {
				t.Maintenance = &w
			}
		}
		out[i] = t
	}
	return out, nil
}

// maxBulk is the most systems a bulk procedure reads in one call.
const maxBulk = 1000

// displayStatus is how a system's state reads: under maintenance wins
// over red.
func displayStatus(hl health) string {
	if hl.Maintenance {
		return "maintenance"
	}
	return cmp.Or(hl.Status, "unknown")
}

// The system page.

type systemData struct {
	Tile       tile
	Checks     []checkView
	Objectives []objectiveView
	Incidents  []incident
	Windows    []window
	Contacts   []contact
	Following  bool   // the viewer follows the system's notifications
	Group      string // the system's notification group
	Range      string
	Ranges     []string
}

type checkView struct {
	Check    check
	Buckets  []bucket
	From, To time.Time // the chart's range
}

type objectiveView struct {
	Objective objective
	Events    []downtimeEvent
}

// chartRanges are the chart's ranges and their lengths.
var chartRanges = map[string]time.Duration{"24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour, "90d": 90 * 24 * time.Hour}

func (h *Handler) systemPage(w http.ResponseWriter, r *http.Request) {
	v, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	var sys system
	p := page{Viewer: v, Refresh: overviewSignals + " HEALTH_CHECK_RUN_COMPLETED NOTIFICATION_SUBSCRIPTIONS_CHANGED"}
	if err := calls(
		func() error { return h.call(r, nil, v, "catalog/getSystem", map[string]string{"id": id}, &sys) },
		func() error { return h.chrome(r, v, &p) },
	); err != nil {
		h.fail(w, r, v, err)
		return
	}
	data := systemData{Range: r.URL.Query().Get("range"), Ranges: []string{"24h", "7d", "30d", "90d"}}
	if _, ok := chartRanges[data.Range]; !ok {
		data.Range = "24h"
	}
	tiles, err := h.tiles(r, v, []system{sys}, []string{id}, 90)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	data.Tile = tiles[0]
	var slos struct {
		Objectives []objective `json:"objectives"`
	}
	var incs struct {
		Incidents []incident `json:"incidents"`
	}
	var wins struct {
		Maintenances []window `json:"maintenances"`
	}
	var contacts struct {
		Contacts []contact `json:"contacts"`
	}
	var subs struct {
		Subscriptions []struct {
			GroupID string `json:"groupId"`
		} `json:"subscriptions"`
	}
	if err := calls(
		func() error {
			return h.call(r, nil, v, "slo/getObjectivesForSystem", map[string]string{"systemId": id}, &slos)
		},
		func() error {
			return h.call(r, nil, v, "incident/listIncidents", map[string]any{"systemId": id, "includeResolved": true}, &incs)
		},
		func() error {
			return h.call(r, nil, v, "maintenance/listMaintenances", map[string]any{"systemId": id}, &wins)
		},
		func() error {
			return h.call(r, nil, v, "catalog/getSystemContacts", map[string]string{"systemId": id}, &contacts)
		},
		func() error { return h.call(r, nil, v, "notification/getSubscriptions", nil, &subs) },
	); err != nil {
		h.fail(w, r, v, err)
		return
	}
	data.Incidents, data.Windows, data.Contacts = limit(incs.Incidents, 20), limit(wins.Maintenances, 20), contacts.Contacts
	data.Group = "catalog.system." + id // the catalog's group of the system (notification.SystemGroupID)
	for _, sub := range subs.Subscriptions {
		data.Following = data.Following || sub.GroupID == data.Group
	}
	to := h.now().UTC()
	from := to.Add(-chartRanges[data.Range])
	data.Checks = make([]checkView, len(data.Tile.Health.Checks))
	data.Objectives = make([]objectiveView, len(slos.Objectives))
	var fns []func() error
	for i, c := range data.Tile.Health.Checks {
		data.Checks[i] = checkView{Check: c, From: from, To: to}
		fns = append(fns, func() error {
			var out struct {
				Buckets []bucket `json:"buckets"`
			}
			err := h.call(r, nil, v, "healthcheck/getAggregatedHistory",
				map[string]any{"configurationId": c.ConfigurationID, "from": from, "to": to, "targetPoints": 60}, &out)
			data.Checks[i].Buckets = out.Buckets
			return err
		})
	}
	for i, o := range slos.Objectives {
		data.Objectives[i].Objective = o
		fns = append(fns, func() error {
			var out struct {
				Events []downtimeEvent `json:"events"`
			}
			err := h.call(r, nil, v, "slo/getDowntimeEvents", map[string]any{"objectiveId": o.Objective.ID, "limit": 10}, &out)
			data.Objectives[i].Events = out.Events
			return err
		})
	}
	if err := calls(fns...); err != nil {
		h.fail(w, r, v, err)
		return
	}
	p.Title, p.Data, p.System = sys.Name, data, sys.ID
	h.render(w, r, http.StatusOK, "system", p)
}

func limit[T any](xs []T, n int) []T {
	if len(xs) > n {
		return xs[:n]
	}
	return xs
}

// An incident's and a window's pages (where notifications link).

type timelineData struct {
	Incident *incident
	Window   *window
	Names    map[string]string // system names
}

func (h *Handler) incidentPage(w http.ResponseWriter, r *http.Request) {
	var inc incident
	h.timelinePage(w, r, "incident/getIncident", "INCIDENT_UPDATED", &inc, func(d *timelineData) string {
		d.Incident = &inc
		return inc.Title
	})
}

func (h *Handler) windowPage(w http.ResponseWriter, r *http.Request) {
	var win window
	h.timelinePage(w, r, "maintenance/getMaintenance", "MAINTENANCE_UPDATED", &win, func(d *timelineData) string {
		d.Window = &win
		return win.Title
	})
}

// timelinePage reads one incident or window into out with proc, and
// shows it with fill's title.
func (h *Handler) timelinePage(w http.ResponseWriter, r *http.Request, proc, refresh string, out any, fill func(*timelineData) string) {
	v, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	p := page{Viewer: v, Refresh: refresh}
	var names map[string]string
	if err := calls(
		func() error { return h.call(r, nil, v, proc, map[string]string{"id": r.PathValue("id")}, out) },
		func() (err error) { names, err = h.names(r, v); return err },
		func() error { return h.chrome(r, v, &p) },
	); err != nil {
		h.fail(w, r, v, err)
		return
	}
	d := timelineData{Names: names}
	p.Title = fill(&d)
	p.Data = d
	h.render(w, r, http.StatusOK, "timeline", p)
}

// names are the systems' names, by id.
func (h *Handler) names(r *http.Request, v viewer) (map[string]string, error) {
	var ents entities
	if err := h.call(r, nil, v, "catalog/getEntities", nil, &ents); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(ents.Systems))
	for _, s := range ents.Systems {
		out[s.ID] = s.Name
	}
	return out, nil
}

// The bell.

type notificationsData struct {
	Notifications []notification
	Total         int
	Offset, Next  int
	Preferences   []struct {
		Channel   string `json:"channel"`
		Available bool   `json:"available"`
		Enabled   bool   `json:"enabled"`
	}
	Groups     []notificationGroup
	Subscribed map[string]bool
}

type notificationGroup struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

func (h *Handler) notificationsPage(w http.ResponseWriter, r *http.Request) {
	v, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	offset := atoi(r.URL.Query().Get("offset"))
	var inbox struct {
		Notifications []notification `json:"notifications"`
		Total         int            `json:"total"`
	}
	var d notificationsData
	var groups struct {
		Groups []notificationGroup `json:"groups"`
	}
	var subs struct {
		Subscriptions []struct {
			GroupID string `json:"groupId"`
		} `json:"subscriptions"`
	}
	p := page{Title: "Notifications", Viewer: v,
		Refresh: "NOTIFICATION_RECEIVED NOTIFICATION_READ NOTIFICATION_DELETED NOTIFICATION_SUBSCRIPTIONS_CHANGED CATALOG_CHANGED"}
	if err := calls(
		func() error {
			return h.call(r, nil, v, "notification/getNotifications", map[string]int{"limit": 25, "offset": offset}, &inbox)
		},
		func() error { return h.call(r, nil, v, "notification/getChannelPreferences", nil, &d) },
		func() error { return h.call(r, nil, v, "notification/getGroups", nil, &groups) },
		func() error { return h.call(r, nil, v, "notification/getSubscriptions", nil, &subs) },
		func() error { return h.chrome(r, v, &p) },
	); err != nil {
		h.fail(w, r, v, err)
		return
	}
	d.Notifications, d.Total, d.Offset, d.Groups = inbox.Notifications, inbox.Total, offset, groups.Groups
	d.Subscribed = map[string]bool{}
	for _, s := range subs.Subscriptions {
		d.Subscribed[s.GroupID] = true
	}
	if offset+25 < inbox.Total {
		d.Next = offset + 25
	}
	p.Data = d
	h.render(w, r, http.StatusOK, "notifications", p)
}

// API keys, each user their own.

type keysData struct {
	Keys   []apiKey
	Secret string // a key just made, shown once
	Errors map[string]string
}

func (h *Handler) keysPage(w http.ResponseWriter, r *http.Request) {
	h.showKeys(w, r, http.StatusOK, keysData{})
}

func (h *Handler) showKeys(w http.ResponseWriter, r *http.Request, status int, d keysData) {
	v, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	var keys struct {
		Keys []apiKey `json:"keys"`
	}
	p := page{Title: "API keys", Viewer: v}
	if err := calls(
		func() error { return h.call(r, nil, v, "auth/listKeys", nil, &keys) },
		func() error { return h.chrome(r, v, &p) },
	); err != nil {
		h.fail(w, r, v, err)
		return
	}
	d.Keys = keys.Keys
	p.Data = d
	h.render(w, r, status, "keys", p)
}

func (h *Handler) createKey(w http.ResponseWriter, r *http.Request) {
	v, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	var out struct {
		Secret string `json:"secret"`
	}
	if err := h.call(r, nil, v, "auth/createKey", map[string]string{"name": r.FormValue("name")}, &out); err != nil {
		h.showKeys(w, r, h.refused(r, err), keysData{Errors: fieldErrors(err)})
		return
	}
	h.showKeys(w, r, http.StatusOK, keysData{Secret: out.Secret})
}

// act is a button's handler: it calls one procedure, with the input in
// makes of the request, and sends the viewer on to the page next names.
func (h *Handler) act(name string, in func(r *http.Request) any, next func(r *http.Request) string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, ok := h.signedIn(w, r)
		if !ok {
			return
		}
		if err := h.call(r, nil, v, name, in(r), nil); err != nil {
			h.fail(w, r, v, err)
			return
		}
		http.Redirect(w, r, next(r), http.StatusSeeOther)
	}
}

// markRead marks one notification read, or all without an id.
func markRead(r *http.Request) any {
	if id := r.FormValue("id"); id != "" {
		return map[string]string{"notificationId": id}
	}
	return map[string]string{}
}

func groupOf(r *http.Request) any { return map[string]string{"groupId": r.FormValue("groupId")} }

// back is the page a form names in its next field, else the settings.
func back(r *http.Request) string {
	if next := r.FormValue("next"); next != "" {
		return safeNext(next)
	}
	return "/notifications#settings"
}

func to(path string) func(*http.Request) string { return func(*http.Request) string { return path } }
