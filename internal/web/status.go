package web

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/feeds"
)

// The public status page, its feeds and the badges: what anonymous
// visitors see when the server runs with --public-status. Each is read
// through the Viewer procedures as a public viewer (so it shows only the
// systems not hidden from it), and kept rendered, as bytes, until the
// next signal that may change it (see pageCache).

func (h *Handler) statusRoutes() {
	m := h.mux
	m.HandleFunc("GET /status", h.publicPage("text/html; charset=utf-8", h.statusPage))
	m.HandleFunc("GET /status/feed.atom", h.publicPage("application/atom+xml; charset=utf-8", h.feed(true)))
	m.HandleFunc("GET /status/feed.rss", h.publicPage("application/rss+xml; charset=utf-8", h.feed(false)))
	m.HandleFunc("GET /badge/{id}/status.svg", h.publicPage("image/svg+xml", h.statusBadge))
	m.HandleFunc("GET /badge/{id}/uptime.svg", h.publicPage("image/svg+xml", h.uptimeBadge))
}

// publicPage serves a public page from its rendered bytes, rendering them
// (as a public viewer) when they are not kept. Without --public-status it
// is not found.
func (h *Handler) publicPage(contentType string, render func(r *http.Request) ([]byte, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !h.public {
			h.render(w, r, http.StatusNotFound, "error", page{Title: "Not found", Viewer: h.viewer(r),
				Data: "This server has no public status page (start it with --public-status)."})
			return
		}
		key := publicKey(r)
		now := h.now()
		e, ok := h.pages.get(key, now)
		if !ok {
			// One render a key and count: the visitors a signal sends at
			// once wait for it rather than each rendering.
			seq := h.pages.count()
			v, err, _ := h.renders.Do(fmt.Sprint(key, "@", seq), func() (any, error) {
				if e, ok := h.pages.get(key, now); ok {
					return e, nil
				}
				body, err := render(r.WithContext(context.WithoutCancel(r.Context()))) // for all who wait, whoever leaves
				if err != nil {
					return nil, err
				}
				e := cachedPage{body: body, contentType: contentType, seq: seq, until: now.Add(pageTTL)}
				h.pages.put(key, e)
				return e, nil
			})
			if err != nil {
				h.publicError(w, r, err)
				return
			}
			e = v.(cachedPage)
		}
		hdr := w.Header()
		hdr.Set("Content-Type", e.contentType)
		hdr.Set("Vary", "X-Checkstack-Partial")
		if strings.HasPrefix(r.URL.Path, "/badge/") {
			hdr.Set("Cache-Control", "public, max-age=60")
		} else {
			hdr.Set("Cache-Control", "public, max-age=5")
		}
		w.Write(e.body)
	}
}

// publicKey is what a public page is kept under: its path, the one query
// parameter that changes it (a badge's days, as it will be read), and
// whether only its main content was asked for. Nothing else a visitor
// sends makes a new entry.
func publicKey(r *http.Request) string {
	key := r.URL.Path
	if strings.HasSuffix(key, "/uptime.svg") {
		key += "?days=" + strconv.Itoa(badgeDays(r))
	}
	if strings.HasPrefix(key, "/status/feed.") {
		key = r.Host + key // its links name the host it was asked for
	}
	if r.Header.Get("X-Checkstack-Partial") == "main" {
		key += "#main"
	}
	return key
}

func (h *Handler) publicError(w http.ResponseWriter, r *http.Request, err error) {
	if errorStatus(err) == http.StatusNotFound {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	h.log.ErrorContext(r.Context(), "public page failed", "path", r.URL.Path, "err", err)
	http.Error(w, "the page could not be made", http.StatusInternalServerError)
}

// statusView is the status page.
type statusView struct {
	Overall   string // the one line
	Level     string // operational, degraded, outage, maintenance
	Sections  []section
	Incidents []incident
	Windows   []window
	Banner    []announcement
	Names     map[string]string
	Updated   time.Time
}

// statusSignals are what the status page refreshes on (what public
// streams carry).
const statusSignals = "SYSTEM_STATUS_CHANGED CATALOG_CHANGED INCIDENT_UPDATED MAINTENANCE_UPDATED ANNOUNCEMENT_UPDATED"

func (h *Handler) statusPage(r *http.Request) ([]byte, error) {
	v := h.publicViewer()
	var ents entities
	var incs struct {
		Incidents []incident `json:"incidents"`
	}
	var wins struct {
		Maintenances []window `json:"maintenances"`
	}
	var banner struct {
		Announcements []announcement `json:"announcements"`
	}
	if err := calls(
		func() error { return h.call(r, nil, v, "catalog/getEntities", nil, &ents) },
		func() error { return h.call(r, nil, v, "incident/listIncidents", nil, &incs) },
		func() error { return h.call(r, nil, v, "maintenance/listMaintenances", nil, &wins) },
		func() error { return h.call(r, nil, v, "announcement/getActiveAnnouncements", nil, &banner) },
	); err != nil {
		return nil, err
	}
	ids := make([]string, len(ents.Systems))
	names := map[string]string{}
	for i, s := range ents.Systems {
		ids[i], names[s.ID] = s.ID, s.Name
	}
	tiles, err := h.tiles(r, v, ents.Systems, ids, 90)
	if err != nil {
		return nil, err
	}
	sv := statusView{Names: names, Updated: h.now().UTC()}
	for _, a := range banner.Announcements {
		if a.DisplayMode != "dashboard" { // "the overview only" is not for the public page
			sv.Banner = append(sv.Banner, a)
		}
	}
	byID := map[string]tile{}
	counts := map[string]int{}
	for _, t := range tiles {
		byID[t.System.ID] = t
		counts[displayStatus(t.Health)]++
	}
	grouped := map[string]bool{}
	for _, g := range ents.Groups {
		sec := section{ID: g.ID, Name: g.Name}
		for _, id := range g.SystemIDs {
			if t, ok := byID[id]; ok {
				t.Again = grouped[id]
				sec.Tiles = append(sec.Tiles, t)
				grouped[id] = true
			}
		}
		if len(sec.Tiles) > 0 {
			sv.Sections = append(sv.Sections, sec)
		}
	}
	rest := section{ID: "other", Name: "Systems"}
	for _, t := range tiles {
		if !grouped[t.System.ID] {
			rest.Tiles = append(rest.Tiles, t)
		}
	}
	if len(rest.Tiles) > 0 {
		if len(sv.Sections) > 0 {
			rest.Name = "Other systems"
		}
		sv.Sections = append(sv.Sections, rest)
	}
	sv.Overall, sv.Level = overall(counts, len(tiles), incs.Incidents)
	// Each open incident with its timeline.
	var fns []func() error
	sv.Incidents = make([]incident, len(incs.Incidents))
	for i, in := range incs.Incidents {
		fns = append(fns, func() error {
			return h.call(r, nil, v, "incident/getIncident", map[string]string{"id": in.ID}, &sv.Incidents[i])
		})
	}
	if err := calls(fns...); err != nil {
		return nil, err
	}
	for _, w := range wins.Maintenances {
		if w.Status == "scheduled" || w.Status == "in_progress" {
			sv.Windows = append(sv.Windows, w)
		}
	}
	sort.Slice(sv.Windows, func(i, j int) bool { return sv.Windows[i].StartAt.Before(sv.Windows[j].StartAt) })
	var b bytes.Buffer
	err = h.execute(&b, "status", r, page{Title: "Status", Viewer: v, Path: "/status", Refresh: statusSignals, Data: sv})
	return b.Bytes(), err
}

// overall is the status page's one line, from the systems' states (by
// count) and the open incidents: an incident says there is a problem
// even while the checks are green, and maintenance is never an outage.
func overall(counts map[string]int, systems int, open []incident) (line, level string) {
	worst := ""
	for _, in := range open {
		switch {
		case in.Severity == "critical":
			worst = "critical"
		case in.Severity == "major" && worst != "critical":
			worst = "major"
		case worst == "":
			worst = "minor"
		}
	}
	down := counts["unhealthy"]
	switch {
	case down > 0 && down == systems-counts["maintenance"] || worst == "critical":
		return "Major outage", "outage"
	case down > 0 || worst == "major":
		return "Partial outage", "outage"
	case counts["degraded"] > 0 || worst == "minor":
		return "Degraded performance", "degraded"
	case counts["maintenance"] > 0:
		return "Under maintenance", "maintenance"
	case systems > 0 && counts["unknown"] == systems:
		return "No status yet", "unknown"
	}
	return "All systems operational", "operational"
}

// publicViewer is who the public pages read as.
func (h *Handler) publicViewer() viewer {
	var v viewer
	v.Public = true
	return v
}

// feed is the status page's Atom (or RSS) feed: each update of every
// incident and maintenance window the page shows, newest first.
func (h *Handler) feed(atom bool) func(r *http.Request) ([]byte, error) {
	return func(r *http.Request) ([]byte, error) {
		v := h.publicViewer()
		var incs struct {
			Incidents []incident `json:"incidents"`
		}
		var wins struct {
			Maintenances []window `json:"maintenances"`
		}
		if err := calls(
			func() error {
				return h.call(r, nil, v, "incident/listIncidents", map[string]bool{"includeResolved": true}, &incs)
			},
			func() error { return h.call(r, nil, v, "maintenance/listMaintenances", nil, &wins) },
		); err != nil {
			return nil, err
		}
		incidents := make([]incident, len(limit(incs.Incidents, 30)))
		windows := make([]window, len(limit(wins.Maintenances, 30)))
		var fns []func() error
		for i := range incidents {
			fns = append(fns, func() error {
				return h.call(r, nil, v, "incident/getIncident", map[string]string{"id": incs.Incidents[i].ID}, &incidents[i])
			})
		}
		for i := range windows {
			fns = append(fns, func() error {
				return h.call(r, nil, v, "maintenance/getMaintenance", map[string]string{"id": wins.Maintenances[i].ID}, &windows[i])
			})
		}
		if err := calls(fns...); err != nil {
			return nil, err
		}
		active := map[string]bool{}
		for _, in := range incidents {
			active[in.ID] = in.Status != "resolved"
		}
		for _, w := range windows {
			active[w.ID] = w.Status == "scheduled" || w.Status == "in_progress"
		}
		base := "http://" + r.Host
		if r.TLS != nil {
			base = "https://" + r.Host
		}
		f := &feeds.Feed{Title: "Status", Link: &feeds.Link{Href: base + "/status"}, Description: "Incidents and maintenance",
			Id: base + "/status", Updated: h.now().UTC()}
		for _, in := range incidents {
			for _, u := range in.Updates {
				f.Items = append(f.Items, &feeds.Item{Id: base + "/status#update-" + u.ID, Title: in.Title + ": " + label(cmp.Or(u.StatusChange, in.Status)),
					Link: &feeds.Link{Href: anchor(base, "incident", in.ID, active[in.ID])}, Description: string(markdownHTML(u.Message)),
					Created: u.CreatedAt, Updated: u.CreatedAt})
			}
		}
		for _, w := range windows {
			for _, u := range w.Updates {
				f.Items = append(f.Items, &feeds.Item{Id: base + "/status#update-" + u.ID, Title: "Maintenance: " + w.Title + ": " + label(cmp.Or(u.StatusChange, w.Status)),
					Link:        &feeds.Link{Href: anchor(base, "maintenance", w.ID, active[w.ID])},
					Description: string(markdownHTML(u.Message + "\n\n" + w.StartAt.UTC().Format(time.RFC1123) + " to " + w.EndAt.UTC().Format(time.RFC1123))),
					Created:     u.CreatedAt, Updated: u.CreatedAt})
			}
		}
		slices.SortFunc(f.Items, func(a, b *feeds.Item) int { return b.Created.Compare(a.Created) })
		f.Items = limit(f.Items, 100)
		var out string
		var err error
		if atom {
			out, err = f.ToAtom()
		} else {
			out, err = f.ToRss()
		}
		return []byte(out), err
	}
}

// anchor links a feed entry to its place on the status page, which shows
// only what is open or coming; the rest links to the page.
func anchor(base, kind, id string, shown bool) string {
	if !shown {
		return base + "/status"
	}
	return base + "/status#" + kind + "-" + id
}

// Badges.

// badge is a two-part SVG badge: a grey label and a coloured value.
func badge(labelText, value, colour string) []byte {
	lw, vw := 6*len(labelText)+12, 6*len(value)+12
	var b bytes.Buffer
	esc := template.HTMLEscapeString
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="20" role="img" aria-label="%s: %s">`, lw+vw, esc(labelText), esc(value))
	fmt.Fprintf(&b, `<title>%s: %s</title>`, esc(labelText), esc(value))
	fmt.Fprintf(&b, `<rect width="%d" height="20" rx="3" fill="#555"/><rect x="%d" width="%d" height="20" rx="3" fill="%s"/>`, lw+vw, lw, vw, colour)
	fmt.Fprintf(&b, `<rect x="%d" width="4" height="20" fill="%s"/>`, lw, colour)
	fmt.Fprintf(&b, `<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">`)
	fmt.Fprintf(&b, `<text x="6" y="14">%s</text><text x="%d" y="14">%s</text></g></svg>`, esc(labelText), lw+6, esc(value))
	return b.Bytes()
}

var statusColours = map[string]string{"healthy": "#2e7d32", "degraded": "#b26a00", "unhealthy": "#c62828", "maintenance": "#1565c0", "unknown": "#757575"}

func (h *Handler) statusBadge(r *http.Request) ([]byte, error) {
	t, err := h.badgeTile(r, 1)
	if err != nil {
		return nil, err
	}
	st := displayStatus(t.Health)
	return badge(t.System.Name, label(st), statusColours[st]), nil
}

func (h *Handler) uptimeBadge(r *http.Request) ([]byte, error) {
	days := badgeDays(r)
	t, err := h.badgeTile(r, days)
	if err != nil {
		return nil, err
	}
	var runs, failures int64
	for _, d := range t.Uptime {
		runs, failures = runs+d.Runs, failures+d.Failures
	}
	value, colour := "no data", statusColours["unknown"]
	if runs > 0 {
		up := float64(runs-failures) / float64(runs) * 100
		value = strconv.FormatFloat(up, 'f', 2, 64) + "%"
		switch {
		case up >= 99.9:
			colour = statusColours["healthy"]
		case up >= 99:
			colour = statusColours["degraded"]
		default:
			colour = statusColours["unhealthy"]
		}
	}
	return badge(fmt.Sprintf("uptime %dd", days), value, colour), nil
}

// badgeDays is an uptime badge's days: 1 to 90, 30 when not one of
// those.
func badgeDays(r *http.Request) int {
	days, err := strconv.Atoi(r.URL.Query().Get("days"))
	if err != nil || days < 1 || days > 90 {
		return 30
	}
	return days
}

// badgeTile reads one public system's tile: not found unless the status
// page shows it.
func (h *Handler) badgeTile(r *http.Request, days int) (tile, error) {
	v := h.publicViewer()
	var ents entities
	if err := h.call(r, nil, v, "catalog/getEntities", nil, &ents); err != nil {
		return tile{}, err
	}
	id := r.PathValue("id")
	i := slices.IndexFunc(ents.Systems, func(s system) bool { return s.ID == id })
	if i < 0 {
		return tile{}, notFoundErr
	}
	ts, err := h.tiles(r, v, ents.Systems[i:i+1], []string{id}, days)
	if err != nil {
		return tile{}, err
	}
	return ts[0], nil
}
