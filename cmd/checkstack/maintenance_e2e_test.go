package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/checkstack/checkstack/internal/clocktest"
)

type maintenanceSignal struct {
	MaintenanceID string   `json:"maintenanceId"`
	SystemIDs     []string `json:"systemIds"`
	Action        string   `json:"action"`
}

// awaitMaintenance waits for the MAINTENANCE_UPDATED signal with action.
func awaitMaintenance(t *testing.T, events <-chan sseEvent, action string) maintenanceSignal {
	t.Helper()
	for {
		e := awaitSignal(t, events, "MAINTENANCE_UPDATED")
		var p maintenanceSignal
		json.Unmarshal(e.Payload, &p)
		if p.Action == action {
			return p
		}
	}
}

type windowView struct {
	ID      string    `json:"id"`
	Status  string    `json:"status"`
	StartAt time.Time `json:"startAt"`
	EndAt   time.Time `json:"endAt"`
}

// inbox is the titles of a user's notifications, newest first.
func (in *instance) inbox(t *testing.T, key string) []string {
	t.Helper()
	var page struct {
		Notifications []struct{ Title string } `json:"notifications"`
	}
	in.ok(t, key, "notification/getNotifications", `{"limit":100}`, &page)
	var out []string
	for _, n := range page.Notifications {
		out = append(out, n.Title)
	}
	return out
}

func TestAMaintenanceWindowStartsAndEndsOnTimeAndHoldsHealthNotifications(t *testing.T) {
	eachDatabase(t, func(t *testing.T, database string) {
		admin := newUser(t, database, "admin@example.com", true)
		t0 := time.Now().UTC().Truncate(time.Second)
		clk := clocktest.New(t0)
		in := startWith(t, runtime{Clock: clk}, database)
		events := subscribe(t, in, admin)
		target := &switchable{addr: "127.0.0.1:0"}
		target.start(t)
		defer target.stop()

		var sys system
		in.ok(t, admin, "catalog/createSystem", `{"name":"database"}`, &sys)
		in.ok(t, admin, "notification/subscribe", map[string]string{"groupId": "catalog.system." + sys.ID}, nil)
		var conf struct{ ID string }
		in.ok(t, admin, "healthcheck/createConfiguration", map[string]any{"name": "db", "strategy": "http",
			"config": map[string]any{"url": "http://" + target.addr + "/"}, "intervalSeconds": 3600, "timeoutSeconds": 2}, &conf)
		in.ok(t, admin, "healthcheck/associateSystem", map[string]any{"systemId": sys.ID, "configurationId": conf.ID,
			"thresholds": map[string]any{"degradedAfter": 1, "unhealthyAfter": 1}}, nil)
		in.ok(t, admin, "healthcheck/runNow", map[string]string{"configurationId": conf.ID}, nil)
		if c := awaitStatus(t, events, sys.ID); c.NewStatus != "healthy" {
			t.Fatalf("the first run: %+v", c)
		}
		var objective struct {
			Objective struct{ ID string }
		}
		in.ok(t, admin, "slo/createObjective", map[string]any{"systemId": sys.ID, "name": "db up", "target": 99.9, "windowDays": 30}, &objective)

		start, end := t0.Add(time.Hour), t0.Add(2*time.Hour)
		var w windowView
		in.ok(t, admin, "maintenance/createMaintenance", map[string]any{"title": "Upgrade", "systemIds": []string{sys.ID},
			"startAt": start, "endAt": end, "suppressNotifications": true}, &w)
		awaitMaintenance(t, events, "created")
		awaitSignal(t, events, "NOTIFICATION_RECEIVED") // "Maintenance scheduled"

		health := func() (status string, under bool) {
			t.Helper()
			var st struct {
				Status      string
				Maintenance bool
			}
			in.ok(t, admin, "healthcheck/getSystemHealthStatus", map[string]string{"systemId": sys.ID}, &st)
			var bulk struct {
				Statuses map[string]struct{ Maintenance bool }
			}
			in.ok(t, admin, "healthcheck/getBulkSystemHealthStatus", map[string][]string{"systemIds": {sys.ID}}, &bulk)
			if bulk.Statuses[sys.ID].Maintenance != st.Maintenance {
				t.Fatalf("the single and bulk health reads disagree on maintenance: %v, %v", st.Maintenance, bulk.Statuses[sys.ID].Maintenance)
			}
			return st.Status, st.Maintenance
		}
		forSystem := func() []windowView {
			var out struct{ Maintenances []windowView }
			in.ok(t, admin, "maintenance/getMaintenancesForSystem", map[string]string{"systemId": sys.ID}, &out)
			return out.Maintenances
		}
		if _, under := health(); under {
			t.Fatal("under maintenance before the window starts")
		}

		clk.Set(start)
		awaitMaintenance(t, events, "started")
		if _, under := health(); !under {
			t.Fatal("the health read the moment the window started does not say under maintenance")
		}
		if ws := forSystem(); len(ws) != 1 || ws[0].Status != "in_progress" {
			t.Fatalf("the system's windows the moment it started: %+v", ws)
		}
		awaitSignal(t, events, "NOTIFICATION_RECEIVED") // "Maintenance started"

		// Down during the window: the change is signalled, not notified.
		clk.Set(start.Add(5 * time.Minute))
		target.stop()
		in.ok(t, admin, "healthcheck/runNow", map[string]string{"configurationId": conf.ID}, nil)
		if c := awaitStatus(t, events, sys.ID); c.NewStatus != "unhealthy" {
			t.Fatalf("the failing run: %+v", c)
		}
		awaitSignal(t, events, "SLO_STATUS_CHANGED") // the downtime event opened

		clk.Set(end)
		awaitMaintenance(t, events, "completed")
		if status, under := health(); under || status != "unhealthy" {
			t.Fatalf("the health read the moment the window ended: %s, under maintenance %v", status, under)
		}
		if ws := forSystem(); len(ws) != 0 {
			t.Fatalf("the system's open windows after the end: %+v", ws)
		}
		// The 55 minutes down inside the window spend nothing.
		var slo struct {
			Objectives []struct {
				Status struct {
					ErrorBudget struct{ ConsumedMinutes float64 }
					Downtime    struct{ TotalMinutes, MaintenanceMinutes float64 }
				}
			}
		}
		in.ok(t, admin, "slo/getObjectivesForSystem", map[string]string{"systemId": sys.ID}, &slo)
		if got := slo.Objectives[0].Status; got.ErrorBudget.ConsumedMinutes != 0 || got.Downtime.TotalMinutes != 55 || got.Downtime.MaintenanceMinutes != 55 {
			t.Fatalf("the objective the moment the window ended: %+v", got)
		}
		target.start(t) // at the window's end: no downtime outside it, no burn alert
		in.ok(t, admin, "healthcheck/runNow", map[string]string{"configurationId": conf.ID}, nil)
		if c := awaitStatus(t, events, sys.ID); c.NewStatus != "healthy" {
			t.Fatalf("the recovery: %+v", c)
		}
		awaitSignal(t, events, "NOTIFICATION_RECEIVED") // "System health restored": no window holds it
		want := []string{"System health restored: database", "Maintenance completed: Upgrade", "Maintenance started: Upgrade", "Maintenance scheduled: Upgrade"}
		if got := in.inbox(t, admin); !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
			t.Fatalf("the subscriber's inbox: %q, want %q (the critical health change held)", got, want)
		}
		var d struct {
			windowView
			Updates []struct{ StatusChange, CreatedByName string }
		}
		in.ok(t, admin, "maintenance/getMaintenance", map[string]string{"id": w.ID}, &d)
		if d.Status != "completed" || len(d.Updates) != 3 || d.Updates[0].StatusChange != "completed" || d.Updates[1].StatusChange != "in_progress" {
			t.Fatalf("the window after it ended: %+v", d)
		}
	})
}

func TestARecurringWindowShowsItsNextOccurrenceAndADeletedSystemLeavesWindows(t *testing.T) {
	eachDatabase(t, func(t *testing.T, database string) {
		admin := newUser(t, database, "admin@example.com", true)
		t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC) // a Friday
		clk := clocktest.New(t0)
		in := startWith(t, runtime{Clock: clk}, database)
		events := subscribe(t, in, admin)
		var a, b system
		in.ok(t, admin, "catalog/createSystem", `{"name":"a"}`, &a)
		in.ok(t, admin, "catalog/createSystem", `{"name":"b"}`, &b)

		// Saturdays 02:00–04:00 in Berlin (01:00–03:00 UTC in winter).
		var w windowView
		in.ok(t, admin, "maintenance/createMaintenance", map[string]any{"title": "Backups", "systemIds": []string{a.ID, b.ID},
			"startAt": "2026-12-05T02:00:00+01:00", "endAt": "2026-12-05T04:00:00+01:00",
			"recurrence": map[string]string{"rule": "FREQ=WEEKLY;BYDAY=SA", "timezone": "Europe/Berlin"}}, &w)
		first := time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC)
		if !w.StartAt.Equal(first) || !w.EndAt.Equal(first.Add(2*time.Hour)) {
			t.Fatalf("the first occurrence: %+v", w)
		}
		clk.Set(first)
		awaitMaintenance(t, events, "started")
		clk.Set(first.Add(2 * time.Hour))
		awaitMaintenance(t, events, "completed")
		var bulk struct {
			Maintenances map[string][]windowView
		}
		in.ok(t, admin, "maintenance/getBulkMaintenancesForSystems", map[string]any{"systemIds": []string{a.ID, b.ID, "unknown"}}, &bulk)
		next := first.Add(7 * 24 * time.Hour)
		for _, id := range []string{a.ID, b.ID} {
			if ws := bulk.Maintenances[id]; len(ws) != 1 || ws[0].Status != "scheduled" || !ws[0].StartAt.Equal(next) {
				t.Fatalf("system %s after the first occurrence: %+v, want the next on %v", id, ws, next)
			}
		}
		if ws, ok := bulk.Maintenances["unknown"]; !ok || len(ws) != 0 {
			t.Fatalf("an unknown system in the bulk read: %v, %v", ws, ok)
		}

		in.ok(t, admin, "catalog/deleteSystem", map[string]string{"id": a.ID}, nil)
		p := awaitMaintenance(t, events, "system_removed")
		if !slices.Contains(p.SystemIDs, a.ID) {
			t.Errorf("the signal of the system's removal names %v", p.SystemIDs)
		}
		var d struct{ SystemIDs []string }
		in.ok(t, admin, "maintenance/getMaintenance", map[string]string{"id": w.ID}, &d)
		if !slices.Equal(d.SystemIDs, []string{b.ID}) {
			t.Fatalf("the window after deleting one of its systems: %v", d.SystemIDs)
		}
		in.ok(t, admin, "catalog/deleteSystem", map[string]string{"id": b.ID}, nil)
		awaitMaintenance(t, events, "deleted")
		if r := in.call(t, admin, "maintenance/getMaintenance", map[string]string{"id": w.ID}); r.Status != 404 || !strings.Contains(string(r.Body), "not found") {
			t.Fatalf("the window left with no system = %d %s, want 404", r.Status, r.Body)
		}
	})
}

// maintenanceReads are every cached maintenance read a dashboard makes,
// with the health reads that carry the maintenance flag.
func (in *instance) maintenanceReads(t *testing.T, key, windowID string, systems []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, shape := range []string{`{}`, `{"status":"scheduled"}`, `{"status":"in_progress"}`, `{"status":"completed"}`,
		`{"systemId":"` + systems[0] + `"}`, `{"systemId":"` + systems[1] + `"}`} {
		out["listMaintenances "+shape] = string(in.call(t, key, "maintenance/listMaintenances", shape).Body)
	}
	for i, sys := range systems {
		out["getMaintenancesForSystem "+sys[:4]] = string(in.call(t, key, "maintenance/getMaintenancesForSystem", map[string]string{"systemId": sys}).Body)
		var st struct{ Maintenance bool }
		in.ok(t, key, "healthcheck/getSystemHealthStatus", map[string]string{"systemId": sys}, &st)
		out["getSystemHealthStatus maintenance "+string(rune('0'+i))] = map[bool]string{true: "true", false: "false"}[st.Maintenance]
	}
	out["getBulkMaintenancesForSystems"] = string(in.call(t, key, "maintenance/getBulkMaintenancesForSystems", map[string]any{"systemIds": systems}).Body)
	if windowID != "" {
		out["getMaintenance"] = string(in.call(t, key, "maintenance/getMaintenance", map[string]string{"id": windowID}).Body)
	}
	return out
}

func TestEveryMaintenanceChangeIsReadFreshTheMomentItsSignalArrives(t *testing.T) {
	eachDatabase(t, func(t *testing.T, database string) {
		admin := newUser(t, database, "admin@example.com", true)
		t0 := time.Now().UTC().Truncate(time.Second)
		clk := clocktest.New(t0)
		in := startWith(t, runtime{Clock: clk}, database)
		// The truth's clock stays put, so that only the server under test
		// moves the window (two servers without Redis share no signals).
		truth := startWith(t, runtime{Clock: clocktest.New(t0)}, database, "--cache", "off")
		var a, b system
		in.ok(t, admin, "catalog/createSystem", `{"name":"api"}`, &a)
		in.ok(t, admin, "catalog/createSystem", `{"name":"db"}`, &b)
		systems := []string{a.ID, b.ID}
		events := subscribe(t, in, admin)

		var w windowView
		var updateID string
		steps := []struct {
			name   string
			act    func() reply
			action string
		}{
			{"schedule on a", func() reply {
				return in.call(t, admin, "maintenance/createMaintenance", map[string]any{"title": "Upgrade", "systemIds": []string{a.ID},
					"startAt": t0.Add(time.Hour), "endAt": t0.Add(2 * time.Hour)})
			}, "created"},
			{"move from a to b", func() reply {
				return in.call(t, admin, "maintenance/updateMaintenance", map[string]any{"id": w.ID, "systemIds": []string{b.ID}})
			}, "updated"},
			{"later, on both", func() reply {
				return in.call(t, admin, "maintenance/updateMaintenance", map[string]any{"id": w.ID, "systemIds": systems,
					"startAt": t0.Add(90 * time.Minute), "description": "a new version"})
			}, "updated"},
			{"post an update", func() reply {
				return in.call(t, admin, "maintenance/addUpdate", map[string]any{"maintenanceId": w.ID, "message": "Getting ready"})
			}, "update_added"},
			{"fix its typo", func() reply {
				return in.call(t, admin, "maintenance/editUpdate", map[string]any{"id": updateID, "message": "Getting ready!"})
			}, "update_edited"},
			{"the clock starts it", func() reply { clk.Set(t0.Add(90 * time.Minute)); return reply{Status: 200} }, "started"},
			{"close it early", func() reply { return in.call(t, admin, "maintenance/closeMaintenance", map[string]any{"id": w.ID}) }, "completed"},
			{"delete it", func() reply { return in.call(t, admin, "maintenance/deleteMaintenance", map[string]any{"id": w.ID}) }, "deleted"},
		}
		for _, st := range steps {
			in.maintenanceReads(t, admin, w.ID, systems) // warm every read
			r := st.act()
			if r.Status != 200 {
				t.Fatalf("%s = %d %s", st.name, r.Status, r.Body)
			}
			p := awaitMaintenance(t, events, st.action)
			if w.ID == "" {
				r.decode(t, &w)
			}
			if p.MaintenanceID != w.ID {
				t.Fatalf("%s: the signal names %s, want %s", st.name, p.MaintenanceID, w.ID)
			}
			if updateID == "" && st.action == "update_added" {
				var u struct{ ID string }
				r.decode(t, &u)
				updateID = u.ID
			}
			got, want := in.maintenanceReads(t, admin, w.ID, systems), truth.maintenanceReads(t, admin, w.ID, systems)
			for name := range want {
				if got[name] != want[name] {
					t.Errorf("%s: %s the moment the signal arrived:\n got %s\nwant %s", st.name, name, got[name], want[name])
				}
			}
		}
	})
}
