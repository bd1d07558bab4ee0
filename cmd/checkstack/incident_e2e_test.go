package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// reads are every cached incident read a dashboard makes, by name, as the
// server answers them.
func (in *instance) incidentReads(t *testing.T, key, incidentID string, systems []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, shape := range []string{`{}`, `{"includeResolved":true}`, `{"status":"resolved"}`, `{"status":"identified"}`,
		fmt.Sprintf(`{"systemId":%q}`, systems[0]), fmt.Sprintf(`{"systemId":%q,"includeResolved":true}`, systems[1])} {
		out["listIncidents "+shape] = string(in.call(t, key, "incident/listIncidents", shape).Body)
	}
	for i, sys := range systems {
		out[fmt.Sprintf("getIncidentsForSystem %d", i)] = string(in.call(t, key, "incident/getIncidentsForSystem", map[string]string{"systemId": sys}).Body)
	}
	out["getBulkIncidentsForSystems"] = string(in.call(t, key, "incident/getBulkIncidentsForSystems", map[string]any{"systemIds": systems}).Body)
	if incidentID != "" {
		out["getIncident"] = string(in.call(t, key, "incident/getIncident", map[string]string{"id": incidentID}).Body)
	}
	return out
}

type incidentView struct {
	ID        string   `json:"id"`
	Status    string   `json:"status"`
	SystemIDs []string `json:"systemIds"`
	Updates   []struct {
		ID string `json:"id"`
	} `json:"updates"`
}

func TestEveryIncidentChangeIsReadFreshTheMomentItsSignalArrives(t *testing.T) {
	eachDatabase(t, func(t *testing.T, database string) {
		admin := newUser(t, database, "admin@example.com", true)
		// A second server on the same database with the cache off is the
		// truth the cached answers are compared with.
		in := start(t, database)
		truth := start(t, database, "--cache", "off")
		var a, b system
		in.ok(t, admin, "catalog/createSystem", `{"name":"api"}`, &a)
		in.ok(t, admin, "catalog/createSystem", `{"name":"db"}`, &b)
		systems := []string{a.ID, b.ID}
		in.ok(t, admin, "notification/subscribe", map[string]string{"groupId": "catalog.system." + a.ID}, nil)
		events := subscribe(t, in, admin)

		var inc incidentView
		var updateID string
		steps := []struct {
			name, procedure string
			body            func() any
			action          string
			notified        bool
		}{
			{"create on a", "incident/createIncident", func() any {
				return map[string]any{"title": "Checkout fails", "severity": "critical", "systemIds": []string{a.ID}, "initialMessage": "Looking into it"}
			}, "created", true},
			{"move from a to b", "incident/updateIncident", func() any { return map[string]any{"id": inc.ID, "systemIds": []string{b.ID}} }, "updated", false},
			{"back on both", "incident/updateIncident", func() any {
				return map[string]any{"id": inc.ID, "systemIds": []string{a.ID, b.ID}, "description": "card payments"}
			}, "updated", true}, // a's subscribers hear of it again
			{"identified", "incident/addUpdate", func() any {
				return map[string]any{"incidentId": inc.ID, "message": "A bad deploy", "statusChange": "identified"}
			}, "update_added", true},
			{"fix a typo", "incident/editUpdate", func() any { return map[string]any{"id": updateID, "message": "A bad deploy, rolled back"} }, "update_edited", false},
			{"clear the description", "incident/updateIncident", func() any { return map[string]any{"id": inc.ID, "description": nil} }, "updated", false},
			{"resolve", "incident/resolveIncident", func() any { return map[string]any{"id": inc.ID} }, "resolved", true},
			{"reopen", "incident/addUpdate", func() any {
				return map[string]any{"incidentId": inc.ID, "message": "It is back", "statusChange": "fixing"}
			}, "reopened", true},
			{"delete the update", "incident/deleteUpdate", func() any { return map[string]any{"id": updateID} }, "update_deleted", false},
			{"delete", "incident/deleteIncident", func() any { return map[string]any{"id": inc.ID} }, "deleted", false},
		}
		for _, st := range steps {
			in.incidentReads(t, admin, inc.ID, systems) // warm every read
			r := in.call(t, admin, st.procedure, st.body())
			if r.Status != 200 {
				t.Fatalf("%s: %s = %d %s", st.name, st.procedure, r.Status, r.Body)
			}
			e := awaitSignal(t, events, "INCIDENT_UPDATED")
			var p struct {
				IncidentID string   `json:"incidentId"`
				SystemIDs  []string `json:"systemIds"`
				Action     string   `json:"action"`
			}
			json.Unmarshal(e.Payload, &p)
			if inc.ID == "" {
				r.decode(t, &inc)
			}
			if p.Action != st.action || p.IncidentID != inc.ID {
				t.Fatalf("%s: signal %s, want action %s on %s", st.name, e.Payload, st.action, inc.ID)
			}
			if st.name == "move from a to b" && !slices.Equal(p.SystemIDs, sorted(a.ID, b.ID)) {
				t.Errorf("the move's signal names %v, want both systems", p.SystemIDs)
			}
			got, want := in.incidentReads(t, admin, inc.ID, systems), truth.incidentReads(t, admin, inc.ID, systems)
			for name := range want {
				if got[name] != want[name] {
					t.Errorf("%s: %s the moment the signal arrived:\n got %s\nwant %s", st.name, name, got[name], want[name])
				}
			}
			if st.procedure == "incident/addUpdate" && updateID == "" {
				var u struct{ ID string }
				r.decode(t, &u)
				updateID = u.ID
			}
			if st.notified {
				awaitSignal(t, events, "NOTIFICATION_RECEIVED")
			}
		}
		var inbox struct {
			Notifications []struct{ Title, Importance string } `json:"notifications"`
		}
		in.ok(t, admin, "notification/getNotifications", `{"limit":10}`, &inbox)
		var titles []string
		for _, n := range inbox.Notifications {
			titles = append(titles, n.Title+" ("+n.Importance+")")
		}
		want := []string{"Incident reopened: Checkout fails (critical)", "Incident resolved: Checkout fails (info)",
			"Incident updated: Checkout fails (critical)", "Incident reported: Checkout fails (critical)", "Incident reported: Checkout fails (critical)"}
		if !slices.Equal(titles, want) {
			t.Errorf("the subscriber's inbox: %q, want %q", titles, want)
		}
	})
}

func sorted(ids ...string) []string { return slices.Sorted(slices.Values(ids)) }

func TestBadIncidentsAndWindowsAreRefusedByFieldAndChangeNothing(t *testing.T) {
	eachDatabase(t, func(t *testing.T, database string) {
		admin := newUser(t, database, "admin@example.com", true)
		user := newUser(t, database, "user@example.com", false)
		in := start(t, database)
		var sys system
		in.ok(t, admin, "catalog/createSystem", `{"name":"api"}`, &sys)
		var inc incidentView
		in.ok(t, admin, "incident/createIncident", map[string]any{"title": "kept", "systemIds": []string{sys.ID}}, &inc)
		var win struct{ ID string }
		in.ok(t, admin, "maintenance/createMaintenance", map[string]any{"title": "kept", "systemIds": []string{sys.ID},
			"startAt": "2099-01-01T00:00:00Z", "endAt": "2099-01-01T02:00:00Z"}, &win)
		snapshot := func() string {
			var b bytes.Buffer
			for _, c := range []struct{ p, body string }{
				{"incident/listIncidents", `{"includeResolved":true}`}, {"incident/getIncident", `{"id":"` + inc.ID + `"}`},
				{"maintenance/listMaintenances", `{}`}, {"maintenance/getMaintenance", `{"id":"` + win.ID + `"}`},
			} {
				b.Write(in.call(t, admin, c.p, c.body).Body)
			}
			return b.String()
		}
		before := snapshot()
		s := sys.ID
		for _, tc := range []struct {
			name, procedure, body string
			key                   string
			status                int
			message               string
		}{
			{"no systems", "incident/createIncident", `{"title":"x","systemIds":[]}`, admin, 400, "systemIds: required"},
			{"an unknown system", "incident/createIncident", `{"title":"x","systemIds":["` + s + `","ghost"]}`, admin, 404, `systemIds[1]: no system \"ghost\"`},
			{"no title", "incident/createIncident", `{"systemIds":["` + s + `"]}`, admin, 400, "title: required"},
			{"an unknown severity", "incident/createIncident", `{"title":"x","severity":"apocalyptic","systemIds":["` + s + `"]}`, admin, 400, "severity: must be one of"},
			{"an unknown status change", "incident/addUpdate", `{"incidentId":"` + inc.ID + `","message":"m","statusChange":"panicking"}`, admin, 400, "statusChange: must be one of"},
			{"an empty message", "incident/addUpdate", `{"incidentId":"` + inc.ID + `","message":" "}`, admin, 400, "message: required"},
			{"an unknown list status", "incident/listIncidents", `{"status":"gone"}`, admin, 400, "status: must be one of"},
			{"an unknown incident", "incident/updateIncident", `{"id":"nope","title":"x"}`, admin, 404, "not found"},
			{"a user creating", "incident/createIncident", `{"title":"x","systemIds":["` + s + `"]}`, user, 403, ""},
			{"too many ids", "incident/getBulkIncidentsForSystems", `{"systemIds":[` + strings.Repeat(`"x",`, 1000) + `"x"]}`, admin, 400, "too many"},
			{"an end before the start", "maintenance/createMaintenance", `{"title":"x","systemIds":["` + s + `"],"startAt":"2099-01-02T00:00:00Z","endAt":"2099-01-01T00:00:00Z"}`, admin, 400, "endAt: must be after startAt"},
			{"an end equal to the start", "maintenance/createMaintenance", `{"title":"x","systemIds":["` + s + `"],"startAt":"2099-01-01T00:00:00Z","endAt":"2099-01-01T00:00:00Z"}`, admin, 400, "endAt: must be after startAt"},
			{"a time that is not one", "maintenance/createMaintenance", `{"title":"x","systemIds":["` + s + `"],"startAt":"tomorrow","endAt":"2099-01-01T00:00:00Z"}`, admin, 400, `"startAt: must be a time`},
			{"a window with no systems", "maintenance/createMaintenance", `{"title":"x","systemIds":[],"startAt":"2099-01-01T00:00:00Z","endAt":"2099-01-01T01:00:00Z"}`, admin, 400, "systemIds: required"},
			{"a window on an unknown system", "maintenance/createMaintenance", `{"title":"x","systemIds":["ghost"],"startAt":"2099-01-01T00:00:00Z","endAt":"2099-01-01T01:00:00Z"}`, admin, 404, `systemIds[0]: no system`},
			{"a bad rule", "maintenance/createMaintenance", `{"title":"x","systemIds":["` + s + `"],"startAt":"2099-01-01T00:00:00Z","endAt":"2099-01-01T01:00:00Z","recurrence":{"rule":"FREQ=SECONDLY","timezone":"UTC"}}`, admin, 400, "recurrence.rule: FREQ must be"},
			{"a bad time zone", "maintenance/createMaintenance", `{"title":"x","systemIds":["` + s + `"],"startAt":"2099-01-01T00:00:00Z","endAt":"2099-01-01T01:00:00Z","recurrence":{"rule":"FREQ=DAILY","timezone":"Mars/Base"}}`, admin, 400, "recurrence.timezone: unknown time zone"},
			{"an unknown recurrence field", "maintenance/createMaintenance", `{"title":"x","systemIds":["` + s + `"],"startAt":"2099-01-01T00:00:00Z","endAt":"2099-01-01T01:00:00Z","recurrence":{"rule":"FREQ=DAILY","tz":"UTC"}}`, admin, 400, "unknown field"},
			{"an unknown window status change", "maintenance/addUpdate", `{"maintenanceId":"` + win.ID + `","message":"m","statusChange":"paused"}`, admin, 400, "statusChange: must be one of"},
			{"closing a window not started", "maintenance/closeMaintenance", `{"id":"` + win.ID + `"}`, admin, 409, "cancel it instead"},
			{"an unknown window", "maintenance/getMaintenance", `{"id":"nope"}`, admin, 404, "not found"},
			{"a user scheduling", "maintenance/createMaintenance", `{"title":"x","systemIds":["` + s + `"],"startAt":"2099-01-01T00:00:00Z","endAt":"2099-01-01T01:00:00Z"}`, user, 403, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := in.call(t, tc.key, tc.procedure, tc.body)
				if r.Status != tc.status || !strings.Contains(string(r.Body), tc.message) {
					t.Fatalf("%s = %d %s; want %d with %q", tc.procedure, r.Status, r.Body, tc.status, tc.message)
				}
			})
		}
		if after := snapshot(); after != before {
			t.Fatalf("refused input changed something:\nbefore %s\nafter  %s", before, after)
		}
		if r := in.call(t, "", "incident/listIncidents", `{}`); r.Status != 401 {
			t.Fatalf("an anonymous list = %d, want 401", r.Status)
		}
	})
}

func TestWarmBulkIncidentMaintenanceAndAnomalyReadsOf200SystemsRunNoQuery(t *testing.T) {
	eachDatabase(t, func(t *testing.T, database string) {
		admin := newUser(t, database, "admin@example.com", true)
		in := start(t, database)
		ids := make([]string, 200)
		for i := range ids {
			var sys system
			in.ok(t, admin, "catalog/createSystem", map[string]string{"name": fmt.Sprint("s", i)}, &sys)
			ids[i] = sys.ID
		}
		for i := 0; i < len(ids); i += 20 {
			in.ok(t, admin, "incident/createIncident", map[string]any{"title": "x", "systemIds": ids[i : i+2]}, nil)
			in.ok(t, admin, "maintenance/createMaintenance", map[string]any{"title": "x", "systemIds": ids[i : i+2],
				"startAt": "2099-01-01T00:00:00Z", "endAt": "2099-01-01T01:00:00Z"}, nil)
		}
		body := map[string]any{"systemIds": ids}
		for _, p := range []string{"incident/getBulkIncidentsForSystems", "maintenance/getBulkMaintenancesForSystems", "anomaly/getBulkAnomaliesForSystems"} {
			var cold map[string]map[string][]incidentView
			in.ok(t, admin, p, body, &cold) // fills the cache
			for _, m := range cold {
				if p == "anomaly/getBulkAnomaliesForSystems" {
					if len(m) != 200 {
						t.Fatalf("%s answered %d systems", p, len(m))
					}
					continue
				}
				if len(m) != 200 || len(m[ids[0]]) != 1 || len(m[ids[2]]) != 0 {
					t.Fatalf("%s answered %d systems (first %d, third %d)", p, len(m), len(m[ids[0]]), len(m[ids[2]]))
				}
			}
			domain := strings.Split(p, "/")[0]
			before := in.queries(t, domain)
			for range 10 {
				in.ok(t, admin, p, body, nil)
			}
			if n := in.queries(t, domain) - before; n != 0 {
				t.Fatalf("10 warm %s of 200 systems ran %d %s queries, want none", p, n, domain)
			}
		}
	})
}
