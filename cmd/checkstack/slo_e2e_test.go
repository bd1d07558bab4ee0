package main

import (
	"encoding/json"
	"strings"
	"testing"
)

type objectiveStatus struct {
	Objective struct {
		ID       string `json:"id"`
		SystemID string `json:"systemId"`
		Name     string `json:"name"`
	} `json:"objective"`
	Status struct {
		Availability float64 `json:"availability"`
		IsDegraded   bool    `json:"isDegraded"`
		IsBreaching  bool    `json:"isBreaching"`
		ErrorBudget  struct {
			ConsumedMinutes  float64 `json:"consumedMinutes"`
			RemainingPercent float64 `json:"remainingPercent"`
		} `json:"errorBudget"`
	} `json:"status"`
}

type downtimeEvent struct {
	ID          string  `json:"id"`
	Attribution string  `json:"attribution"`
	EndedAt     *string `json:"endedAt"`
}

// awaitSLO waits for the SLO_STATUS_CHANGED signal of objectiveID.
func awaitSLO(t *testing.T, events <-chan sseEvent, objectiveID string) {
	t.Helper()
	for {
		e := awaitSignal(t, events, "SLO_STATUS_CHANGED")
		var p struct{ ObjectiveID string }
		json.Unmarshal(e.Payload, &p)
		if p.ObjectiveID == objectiveID {
			return
		}
	}
}

// awaitNotification waits for a NOTIFICATION_RECEIVED signal and returns
// the unread count it carries.
func awaitNotification(t *testing.T, events <-chan sseEvent) int {
	t.Helper()
	e := awaitSignal(t, events, "NOTIFICATION_RECEIVED")
	var p struct {
		UnreadCount int `json:"unreadCount"`
	}
	if err := json.Unmarshal(e.Payload, &p); err != nil {
		t.Fatal(err)
	}
	return p.UnreadCount
}

// TestAFailingCheckMovesTheSLOAtOnce runs a real HTTP check against a
// local server, stops the server, and reads every SLO procedure right
// after the signal: each must show the downtime although its entry was
// cached just before (15 s TTL). The system's subscribers are notified.
func TestAFailingCheckMovesTheSLOAtOnce(t *testing.T) {
	eachDatabase(t, func(t *testing.T, database string) {
		admin := newUser(t, database, "admin@example.com", true)
		alice := newUser(t, database, "alice@example.com", false)
		in := start(t, database)
		adminEvents := subscribe(t, in, admin)
		aliceEvents := subscribe(t, in, alice)
		target := &switchable{addr: "127.0.0.1:0"}
		target.start(t)
		defer target.stop()

		var sys system
		in.ok(t, admin, "catalog/createSystem", `{"name":"checkout"}`, &sys)
		var conf struct{ ID string }
		in.ok(t, admin, "healthcheck/createConfiguration", map[string]any{
			"name": "homepage", "strategy": "http", "config": map[string]any{"url": "http://" + target.addr + "/"},
			"intervalSeconds": 60, "timeoutSeconds": 2}, &conf)
		in.ok(t, admin, "healthcheck/associateSystem", map[string]any{"systemId": sys.ID, "configurationId": conf.ID,
			"thresholds": map[string]any{"degradedAfter": 1, "unhealthyAfter": 1}}, nil)
		in.ok(t, admin, "healthcheck/runNow", map[string]string{"configurationId": conf.ID}, nil)
		awaitStatus(t, adminEvents, sys.ID) // unknown → healthy

		var obj objectiveStatus
		in.ok(t, admin, "slo/createObjective", map[string]any{"systemId": sys.ID, "name": "checkout is up",
			"target": 99.9, "windowDays": 30}, &obj)
		awaitSLO(t, adminEvents, obj.Objective.ID) // created
		in.ok(t, alice, "notification/subscribe", map[string]string{"groupId": "catalog.system." + sys.ID}, nil)

		// Every read the dashboard makes, cached before the outage.
		reads := func() (forSystem, bulk, list []objectiveStatus, one objectiveStatus, events []downtimeEvent) {
			var fs struct{ Objectives []objectiveStatus }
			in.ok(t, alice, "slo/getObjectivesForSystem", map[string]string{"systemId": sys.ID}, &fs)
			var b struct{ Systems map[string][]objectiveStatus }
			in.ok(t, alice, "slo/getBulkObjectivesForSystems", map[string][]string{"systemIds": {sys.ID, "no-such-system"}}, &b)
			var l struct{ Objectives []objectiveStatus }
			in.ok(t, alice, "slo/listObjectives", "{}", &l)
			in.ok(t, alice, "slo/getObjective", map[string]string{"id": obj.Objective.ID}, &one)
			var ev struct{ Events []downtimeEvent }
			in.ok(t, alice, "slo/getDowntimeEvents", map[string]string{"objectiveId": obj.Objective.ID}, &ev)
			if len(b.Systems["no-such-system"]) != 0 {
				t.Fatalf("objectives for an unknown system: %+v", b.Systems)
			}
			return fs.Objectives, b.Systems[sys.ID], l.Objectives, one, ev.Events
		}
		fs, bulk, list, one, events := reads()
		if len(fs) != 1 || len(bulk) != 1 || len(list) != 1 || fs[0].Status.IsDegraded || one.Status.Availability != 100 || len(events) != 0 {
			t.Fatalf("before the outage: %+v %+v %+v %+v %+v", fs, bulk, list, one, events)
		}
		var unread struct{ Count int }
		in.ok(t, alice, "notification/getUnreadCount", "{}", &unread)

		// The check fails for real: the SLO moves, and every read shows it
		// at once, however recently it was cached.
		target.stop()
		in.ok(t, admin, "healthcheck/runNow", map[string]string{"configurationId": conf.ID}, nil)
		awaitSLO(t, adminEvents, obj.Objective.ID)
		fs, bulk, list, one, events = reads()
		for name, got := range map[string]objectiveStatus{"getObjectivesForSystem": fs[0], "getBulkObjectivesForSystems": bulk[0], "listObjectives": list[0], "getObjective": one} {
			if !got.Status.IsDegraded {
				t.Fatalf("%s right after the signal: not degraded: %+v", name, got.Status)
			}
		}
		if len(events) != 1 || events[0].Attribution != "self" || events[0].EndedAt != nil {
			t.Fatalf("downtime events during the outage: %+v, want one open self event", events)
		}

		// Alice follows the system: the bell's signal carries the count,
		// and the read right after agrees.
		if n := awaitNotification(t, aliceEvents); n != unread.Count+1 {
			t.Fatalf("NOTIFICATION_RECEIVED carries unreadCount %d, want %d", n, unread.Count+1)
		}
		in.ok(t, alice, "notification/getUnreadCount", "{}", &unread)
		var page struct {
			Notifications []struct{ Title, Importance string }
		}
		in.ok(t, alice, "notification/getNotifications", "{}", &page)
		if unread.Count != 1 || len(page.Notifications) != 1 || !strings.Contains(page.Notifications[0].Title, "critical") ||
			page.Notifications[0].Importance != "critical" {
			t.Fatalf("alice's inbox after the outage: count %d, %+v", unread.Count, page.Notifications)
		}

		// Recovery closes the event, again visible at once.
		target.start(t)
		in.ok(t, admin, "healthcheck/runNow", map[string]string{"configurationId": conf.ID}, nil)
		awaitSLO(t, adminEvents, obj.Objective.ID)
		fs, _, _, one, events = reads()
		if fs[0].Status.IsDegraded || one.Status.IsDegraded {
			t.Fatalf("still degraded after recovery: %+v", fs[0].Status)
		}
		if len(events) != 1 || events[0].EndedAt == nil {
			t.Fatalf("downtime events after recovery: %+v, want the one event, closed", events)
		}
		if n := awaitNotification(t, aliceEvents); n != 2 {
			t.Fatalf("the recovery notice carries unreadCount %d, want 2", n)
		}
	})
}

func TestSLODependenciesThroughTheAPI(t *testing.T) {
	eachDatabase(t, func(t *testing.T, database string) {
		admin := newUser(t, database, "admin@example.com", true)
		in := start(t, database)
		var a, b, c system
		in.ok(t, admin, "catalog/createSystem", `{"name":"web"}`, &a)
		in.ok(t, admin, "catalog/createSystem", `{"name":"api"}`, &b)
		in.ok(t, admin, "catalog/createSystem", `{"name":"db"}`, &c)
		in.ok(t, admin, "slo/addDependency", map[string]string{"systemId": a.ID, "upstreamId": b.ID}, nil)
		in.ok(t, admin, "slo/addDependency", map[string]string{"systemId": b.ID, "upstreamId": c.ID}, nil)
		r := in.call(t, admin, "slo/addDependency", map[string]string{"systemId": c.ID, "upstreamId": a.ID})
		if r.Status != 400 || !strings.Contains(string(r.Body), "upstreamId: would make a dependency cycle") {
			t.Fatalf("a cycle: %d %s", r.Status, r.Body)
		}
		var deps struct {
			Upstream   []struct{ UpstreamID string }
			Downstream []struct{ SystemID string }
		}
		in.ok(t, admin, "slo/getDependencies", map[string]string{"systemId": b.ID}, &deps)
		if len(deps.Upstream) != 1 || deps.Upstream[0].UpstreamID != c.ID || len(deps.Downstream) != 1 || deps.Downstream[0].SystemID != a.ID {
			t.Fatalf("dependencies of the middle system: %+v", deps)
		}
		in.ok(t, admin, "slo/removeDependency", map[string]string{"systemId": b.ID, "upstreamId": c.ID}, nil)
		in.ok(t, admin, "slo/addDependency", map[string]string{"systemId": c.ID, "upstreamId": a.ID}, nil) // no cycle any more
		if r := in.call(t, admin, "slo/removeDependency", map[string]string{"systemId": b.ID, "upstreamId": c.ID}); r.Status != 404 {
			t.Fatalf("removing a removed link: %d %s", r.Status, r.Body)
		}
	})
}
