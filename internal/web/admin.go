package web

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/checkstack/checkstack/internal/rpc"
)

// The admin pages: each section lists what it manages, with a form to
// create one and a button per row to change or remove it. Every form
// posts back to its section; a refusal shows the API's message next to
// the field it names, with what was typed kept.

func (h *Handler) adminRoutes() {
	m := h.mux
	m.HandleFunc("GET /admin", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/admin/systems", http.StatusSeeOther)
	})
	for _, s := range h.sections() {
		m.HandleFunc("GET /admin/"+s.name, func(w http.ResponseWriter, r *http.Request) { h.adminPage(w, r, s, form{}) })
		for action, do := range s.actions {
			m.HandleFunc("POST /admin/"+s.name+"/"+action, func(w http.ResponseWriter, r *http.Request) { h.adminAction(w, r, s, do) })
		}
	}
}

// form is what a refused form shows again: the values typed and the
// errors by field ("" for one that names none).
type form struct {
	Action string
	Values url.Values
	Errors map[string]string
}

// For is the form when it is the one of action (and, for a form of a
// row, of the row with that id), else an empty one: a refusal shows only
// in the form that was sent.
func (f form) For(action, row string) form {
	if f.Action != action || f.Values.Get("id") != row {
		return form{}
	}
	return f
}

// Val is the typed value of a field.
func (f form) Val(name string) string { return f.Values.Get(name) }

// Err is the error of a field of the form of action ("" for one that
// names no field of the form).
func (f form) Err(action, name string) string {
	if f.Action != action {
		return ""
	}
	return f.Errors[name]
}

// adminSection is one admin page.
type adminSection struct {
	name, title string
	// load reads what the page lists.
	load func(r *http.Request, v viewer, d map[string]any) error
	// actions are the page's forms: each calls the API from the form's
	// values.
	actions map[string]action
}

// action does what a form asks, returning a message to show once (a key
// made), or an error to show next to its field.
type action func(r *http.Request, v viewer) (flash string, err error)

type adminData struct {
	Section  string
	Sections [][2]string
	Form     form
	Data     map[string]any
	Me       string // the admin's user id
}

func (h *Handler) adminPage(w http.ResponseWriter, r *http.Request, s adminSection, f form) {
	h.showAdmin(w, r, s, f, "", http.StatusOK)
}

func (h *Handler) showAdmin(w http.ResponseWriter, r *http.Request, s adminSection, f form, flash string, status int) {
	v, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	if !v.IsAdmin() {
		h.render(w, r, http.StatusForbidden, "error", page{Title: "Admins only", Viewer: v, Data: "These pages are for admins."})
		return
	}
	d := adminData{Section: s.name, Form: f, Data: map[string]any{}, Me: v.UserID}
	for _, o := range h.sections() {
		d.Sections = append(d.Sections, [2]string{o.name, o.title})
	}
	p := page{Title: s.title, Viewer: v, Flash: flash}
	if err := calls(func() error { return s.load(r, v, d.Data) }, func() error { return h.chrome(r, v, &p) }); err != nil {
		h.fail(w, r, v, err)
		return
	}
	p.Data = d
	h.render(w, r, status, "admin", p)
}

func (h *Handler) adminAction(w http.ResponseWriter, r *http.Request, s adminSection, do action) {
	v, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil {
		h.showAdmin(w, r, s, form{Errors: map[string]string{"": "The form could not be read."}}, "", http.StatusBadRequest)
		return
	}
	flash, err := do(r, v)
	if err != nil {
		action := strings.TrimPrefix(r.URL.Path, "/admin/"+s.name+"/")
		errs := map[string]string{}
		for field, reason := range fieldErrors(err) {
			control := formField(field)
			if _, shown := r.PostForm[control]; shown || control == "systemIds" {
				errs[control] = reason
			} else if field != "" {
				errs[""] = field + ": " + reason // no control of the form holds it: say it above the form
			} else {
				errs[""] = reason
			}
		}
		h.showAdmin(w, r, s, form{Action: action, Values: r.PostForm, Errors: errs}, "", h.refused(r, err))
		return
	}
	if flash != "" {
		h.showAdmin(w, r, s, form{}, flash, http.StatusOK)
		return
	}
	http.Redirect(w, r, "/admin/"+s.name, http.StatusSeeOther)
}

// formField is the form control an API error's field names: the
// configuration's, the recurrence's and the thresholds' fields are the
// form's own, and an item of a list is the list's control
// ("recurrence.timezone" → "timezone", "http.expectedStatus[0]" →
// "http.expectedStatus", "systemIds[2]" → "systemIds").
func formField(field string) string {
	for _, prefix := range []string{"config.", "recurrence.", "thresholds."} {
		field = strings.TrimPrefix(field, prefix)
	}
	if i := strings.IndexByte(field, '['); i > 0 {
		field = field[:i]
	}
	return field
}

// Form values as the API wants them.

func str(r *http.Request, name string) string { return strings.TrimSpace(r.PostFormValue(name)) }

func optional(r *http.Request, name string) *string {
	if v := str(r, name); v != "" {
		return &v
	}
	return nil
}

func checked(r *http.Request, name string) bool { return r.PostFormValue(name) != "" }

func atoi(s string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(s))
	return n
}

// number is a form field as a JSON number, or its text (so that the API
// names the field if it is not one), or nil when empty.
func number(r *http.Request, name string) any {
	v := str(r, name)
	if v == "" {
		return nil
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		return f
	}
	return v
}

// localTime is a datetime-local field (in UTC, as the form says) as RFC
// 3339, or its text for the API to refuse by name.
func localTime(r *http.Request, name string) any { return localTimeIn(r, name, time.UTC) }

// localTimeIn is localTime in loc.
func localTimeIn(r *http.Request, name string, loc *time.Location) any {
	v := str(r, name)
	if v == "" {
		return nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339} {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t.UTC().Format(time.RFC3339)
		}
	}
	return v
}

func (h *Handler) sections() []adminSection {
	return []adminSection{
		{name: "systems", title: "Systems and groups", load: h.loadCatalog, actions: map[string]action{
			"create":       h.do("catalog/createSystem", systemInput),
			"update":       h.do("catalog/updateSystem", func(r *http.Request) any { in := systemInput(r).(map[string]any); in["id"] = str(r, "id"); return in }),
			"delete":       h.do("catalog/deleteSystem", byID),
			"create-group": h.do("catalog/createGroup", groupInput),
			"delete-group": h.do("catalog/deleteGroup", byID),
			"add-member": h.do("catalog/addSystemToGroup", func(r *http.Request) any {
				return map[string]string{"systemId": str(r, "systemId"), "groupId": str(r, "groupId")}
			}),
			"remove-member": h.do("catalog/removeSystemFromGroup", func(r *http.Request) any {
				return map[string]string{"systemId": str(r, "systemId"), "groupId": str(r, "groupId")}
			}),
		}},
		{name: "checks", title: "Health checks", load: h.loadChecks, actions: map[string]action{
			"create":    h.createCheck,
			"delete":    h.do("healthcheck/deleteConfiguration", byID),
			"associate": h.associate,
			"run":       h.do("healthcheck/runNow", func(r *http.Request) any { return map[string]string{"configurationId": str(r, "id")} }),
		}},
		{name: "objectives", title: "Objectives", load: h.loadObjectives, actions: map[string]action{
			"create": h.do("slo/createObjective", func(r *http.Request) any {
				return map[string]any{"systemId": str(r, "systemId"), "name": str(r, "name"), "target": number(r, "target"),
					"windowDays": number(r, "windowDays"), "dependencyMode": str(r, "dependencyMode"), "maintenance": str(r, "maintenance")}
			}),
			"delete": h.do("slo/deleteObjective", byID),
		}},
		{name: "incidents", title: "Incidents", load: h.loadIncidents, actions: map[string]action{
			"create": h.do("incident/createIncident", func(r *http.Request) any {
				return map[string]any{"title": str(r, "title"), "description": optional(r, "description"), "severity": str(r, "severity"),
					"systemIds": r.PostForm["systemIds"], "initialMessage": optional(r, "message"), "suppressNotifications": checked(r, "suppress")}
			}),
			"update": h.do("incident/addUpdate", func(r *http.Request) any {
				return map[string]any{"incidentId": str(r, "id"), "message": str(r, "message"), "statusChange": optional(r, "statusChange")}
			}),
			"resolve": h.do("incident/resolveIncident", func(r *http.Request) any {
				return map[string]any{"id": str(r, "id"), "message": optional(r, "message")}
			}),
			"delete": h.do("incident/deleteIncident", byID),
		}},
		{name: "maintenance", title: "Maintenance", load: h.loadWindows, actions: map[string]action{
			"create": func(r *http.Request, v viewer) (string, error) {
				in, err := windowInput(r)
				if err != nil {
					return "", err
				}
				return "", h.call(r, nil, v, "maintenance/createMaintenance", dropNil(in), nil)
			},
			"cancel": h.do("maintenance/cancelMaintenance", byID),
			"close":  h.do("maintenance/closeMaintenance", byID),
			"delete": h.do("maintenance/deleteMaintenance", byID),
		}},
		{name: "announcements", title: "Announcements", load: h.loadAnnouncements, actions: map[string]action{
			"create": h.do("announcement/createAnnouncement", func(r *http.Request) any {
				return map[string]any{"title": str(r, "title"), "message": str(r, "message"), "severity": str(r, "severity"),
					"visibility": str(r, "visibility"), "displayMode": str(r, "displayMode"),
					"startsAt": localTime(r, "startsAt"), "expiresAt": localTime(r, "expiresAt")}
			}),
			"delete": h.do("announcement/deleteAnnouncement", byID),
		}},
		{name: "channels", title: "Notification channels", load: h.loadChannels, actions: map[string]action{
			"webhook": h.do("notification/configureChannel", func(r *http.Request) any {
				return map[string]any{"channel": "webhook", "enabled": checked(r, "enabled"),
					"config": dropNil(map[string]any{"url": str(r, "url"), "secret": optional(r, "secret")})}
			}),
			"email": h.do("notification/configureChannel", func(r *http.Request) any {
				return map[string]any{"channel": "email", "enabled": checked(r, "enabled"), "config": dropNil(map[string]any{
					"host": str(r, "host"), "port": number(r, "port"), "username": optional(r, "username"),
					"password": optional(r, "password"), "from": str(r, "from"), "security": optional(r, "security")})}
			}),
		}},
		{name: "users", title: "Users", load: h.loadUsers, actions: map[string]action{
			"create": h.do("auth/createUser", func(r *http.Request) any {
				return map[string]string{"email": str(r, "email"), "name": str(r, "name"), "password": r.PostFormValue("password"), "role": str(r, "role")}
			}),
			"delete": h.do("auth/deleteUser", byID),
		}},
	}
}

// do is an action that calls one procedure with the input build makes of
// the form.
func (h *Handler) do(name string, build func(r *http.Request) any) action {
	return func(r *http.Request, v viewer) (string, error) {
		return "", h.call(r, nil, v, name, dropNil(build(r)), nil)
	}
}

// dropNil leaves out of a map input the fields the form left empty, so
// that the API applies its defaults.
func dropNil(in any) any {
	m, ok := in.(map[string]any)
	if !ok {
		return in
	}
	for k, v := range m {
		switch x := v.(type) {
		case nil:
			delete(m, k)
		case *string:
			if x == nil {
				delete(m, k)
			}
		case string:
			if x == "" && k != "message" && k != "title" && k != "name" && k != "description" { // "" clears a description
				delete(m, k)
			}
		}
	}
	return m
}

func byID(r *http.Request) any { return map[string]string{"id": str(r, "id")} }

func systemInput(r *http.Request) any {
	return map[string]any{"name": str(r, "name"), "description": str(r, "description"), "hiddenFromStatus": checked(r, "hidden")}
}

func groupInput(r *http.Request) any {
	return map[string]any{"name": str(r, "name"), "description": str(r, "description"), "hiddenFromStatus": checked(r, "hidden")}
}

// windowInput reads the window's times in the form's time zone (the
// rule's too), so that "02:00 Europe/Berlin" is 02:00 there, summer and
// winter.
func windowInput(r *http.Request) (any, error) {
	zone := cmp.Or(str(r, "timezone"), "UTC")
	loc, err := time.LoadLocation(zone)
	if err != nil || zone == "Local" {
		return nil, rpc.Invalid("timezone", fmt.Sprintf("%q is not a time zone: use an IANA name such as Europe/Berlin", zone))
	}
	in := map[string]any{"title": str(r, "title"), "description": str(r, "description"), "startAt": localTimeIn(r, "startAt", loc),
		"endAt": localTimeIn(r, "endAt", loc), "systemIds": r.PostForm["systemIds"], "suppressNotifications": checked(r, "suppress")}
	if rule := strings.ToUpper(str(r, "rule")); rule != "" {
		in["recurrence"] = map[string]string{"rule": strings.TrimPrefix(rule, "RRULE:"), "timezone": zone}
	}
	return in, nil
}

// createCheck makes a configuration from the fields of its strategy, then
// assigns it to the system chosen, if any. The API's field errors
// ("config.url") are shown next to the strategy's own field ("http.url").
func (h *Handler) createCheck(r *http.Request, v viewer) (string, error) {
	strategy := str(r, "strategy")
	config := map[string]any{}
	field := func(name string) string { return str(r, strategy+"."+name) }
	switch strategy {
	case "http":
		config["url"] = field("url")
		if m := field("method"); m != "" {
			config["method"] = m
		}
		if c := field("bodyContains"); c != "" {
			config["bodyContains"] = c
		}
		if s := field("expectedStatus"); s != "" {
			var codes []any
			for _, c := range strings.Split(s, ",") {
				codes = append(codes, numberText(c))
			}
			config["expectedStatus"] = codes
		}
		if d := field("degradedLatencyMs"); d != "" {
			config["degradedLatencyMs"] = numberText(d)
		}
	case "tcp":
		config["host"], config["port"] = field("host"), numberText(field("port"))
	case "dns":
		config["name"] = field("name")
		if t := field("recordType"); t != "" {
			config["recordType"] = t
		}
		if s := field("server"); s != "" {
			config["server"] = s
		}
	case "tls":
		config["host"] = field("host")
		if p := field("port"); p != "" {
			config["port"] = numberText(p)
		}
		if d := field("warnDays"); d != "" {
			config["warnDays"] = numberText(d)
		}
	}
	raw, _ := json.Marshal(config) // maps of strings and numbers always encode
	var made struct {
		ID string `json:"id"`
	}
	err := h.call(r, nil, v, "healthcheck/createConfiguration", dropNil(map[string]any{"name": str(r, "name"), "strategy": strategy,
		"config": json.RawMessage(raw), "intervalSeconds": number(r, "intervalSeconds"), "timeoutSeconds": number(r, "timeoutSeconds")}), &made)
	if err != nil {
		return "", prefixField(err, "config.", strategy+".")
	}
	if sys := str(r, "systemId"); sys != "" {
		in := map[string]any{"systemId": sys, "configurationId": made.ID,
			"thresholds": dropNil(map[string]any{"mode": "consecutive", "degradedAfter": number(r, "degradedAfter"), "unhealthyAfter": number(r, "unhealthyAfter")})}
		if err := h.call(r, nil, v, "healthcheck/associateSystem", in, nil); err != nil {
			// Refused: the form changes nothing, so the check goes too.
			if derr := h.call(r, nil, v, "healthcheck/deleteConfiguration", map[string]string{"id": made.ID}, nil); derr != nil {
				h.log.ErrorContext(r.Context(), "cannot remove a check whose assignment was refused", "id", made.ID, "err", derr)
			}
			return "", prefixField(err, "thresholds.", "")
		}
		if err := h.call(r, nil, v, "healthcheck/runNow", map[string]string{"configurationId": made.ID}, nil); err != nil {
			// Made and assigned: it runs at its interval anyway.
			h.log.WarnContext(r.Context(), "cannot run a new check at once", "id", made.ID, "err", err)
		}
	}
	return "", nil
}

// associate assigns a check to one more system. A system it checks
// already is refused: assigning again would reset that assignment's
// thresholds.
func (h *Handler) associate(r *http.Request, v viewer) (string, error) {
	sys, conf := str(r, "systemId"), str(r, "id")
	var on struct {
		Configurations []struct {
			ID string `json:"id"`
		} `json:"configurations"`
	}
	if err := h.call(r, nil, v, "healthcheck/getSystemConfigurations", map[string]string{"systemId": sys}, &on); err != nil {
		return "", err
	}
	for _, c := range on.Configurations {
		if c.ID == conf {
			return "", &rpc.Error{Status: http.StatusConflict, Code: "CONFLICT", Message: "that check already checks that system"}
		}
	}
	return "", h.call(r, nil, v, "healthcheck/associateSystem", map[string]string{"systemId": sys, "configurationId": conf}, nil)
}

// prefixField moves the field an API error names from one prefix to
// another ("config.url" → "http.url"), for the form field that holds it.
func prefixField(err error, from, to string) error {
	var e *rpc.Error
	if errors.As(err, &e) && strings.HasPrefix(e.Message, from) {
		return &rpc.Error{Status: e.Status, Code: e.Code, Message: to + strings.TrimPrefix(e.Message, from)}
	}
	return err
}

func numberText(s string) any {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return s
}

// Loaders of the admin pages.

func (h *Handler) loadCatalog(r *http.Request, v viewer, d map[string]any) error {
	var e entities
	err := h.call(r, nil, v, "catalog/getEntities", nil, &e)
	d["Systems"], d["Groups"] = e.Systems, e.Groups
	return err
}

func (h *Handler) loadChecks(r *http.Request, v viewer, d map[string]any) error {
	var cs struct {
		Configurations []configuration `json:"configurations"`
	}
	var e entities
	err := calls(
		func() error { return h.call(r, nil, v, "healthcheck/getConfigurations", nil, &cs) },
		func() error { return h.call(r, nil, v, "catalog/getEntities", nil, &e) },
	)
	d["Configurations"], d["Systems"] = cs.Configurations, e.Systems
	return err
}

func (h *Handler) loadObjectives(r *http.Request, v viewer, d map[string]any) error {
	var os struct {
		Objectives []objective `json:"objectives"`
	}
	var e entities
	err := calls(
		func() error { return h.call(r, nil, v, "slo/listObjectives", nil, &os) },
		func() error { return h.call(r, nil, v, "catalog/getEntities", nil, &e) },
	)
	d["Objectives"], d["Systems"] = os.Objectives, e.Systems
	return err
}

func (h *Handler) loadIncidents(r *http.Request, v viewer, d map[string]any) error {
	var is struct {
		Incidents []incident `json:"incidents"`
	}
	var e entities
	err := calls(
		func() error {
			return h.call(r, nil, v, "incident/listIncidents", map[string]bool{"includeResolved": true}, &is)
		},
		func() error { return h.call(r, nil, v, "catalog/getEntities", nil, &e) },
	)
	d["Incidents"], d["Systems"] = limit(is.Incidents, 50), e.Systems
	return err
}

func (h *Handler) loadWindows(r *http.Request, v viewer, d map[string]any) error {
	var ws struct {
		Maintenances []window `json:"maintenances"`
	}
	var e entities
	err := calls(
		func() error { return h.call(r, nil, v, "maintenance/listMaintenances", nil, &ws) },
		func() error { return h.call(r, nil, v, "catalog/getEntities", nil, &e) },
	)
	d["Windows"], d["Systems"] = limit(ws.Maintenances, 50), e.Systems
	return err
}

func (h *Handler) loadAnnouncements(r *http.Request, v viewer, d map[string]any) error {
	var as struct {
		Announcements []announcement `json:"announcements"`
	}
	err := h.call(r, nil, v, "announcement/listAllAnnouncements", nil, &as)
	d["Announcements"] = as.Announcements
	return err
}

func (h *Handler) loadChannels(r *http.Request, v viewer, d map[string]any) error {
	var cs struct {
		Channels []channel `json:"channels"`
	}
	err := h.call(r, nil, v, "notification/getChannels", nil, &cs)
	d["Channels"] = cs.Channels
	return err
}

func (h *Handler) loadUsers(r *http.Request, v viewer, d map[string]any) error {
	var us struct {
		Users []user `json:"users"`
	}
	err := h.call(r, nil, v, "auth/listUsers", nil, &us)
	d["Users"] = us.Users
	return err
}

// channelValue is a channel's stored setting, for its form: what is not
// secret.
func channelValue(cs []channel, name, field string) any {
	for _, c := range cs {
		if c.Channel != name {
			continue
		}
		switch {
		case field == "enabled":
			return c.Enabled
		case c.Webhook != nil && field == "url":
			return c.Webhook.URL
		case c.Email != nil:
			switch field {
			case "host":
				return c.Email.Host
			case "port":
				return strconv.Itoa(c.Email.Port)
			case "username":
				return c.Email.Username
			case "from":
				return c.Email.From
			case "security":
				return c.Email.Security
			}
		}
	}
	if field == "security" {
		return "starttls"
	}
	return ""
}
