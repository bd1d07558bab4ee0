package main

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// slowable is an HTTP server on loopback whose answers the test slows
// down and speeds up.
type slowable struct {
	addr  string
	delay atomic.Int64 // nanoseconds
}

func (s *slowable) start(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Duration(s.delay.Load())) // the slowness under test
		w.Write([]byte("ok"))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

type anomalySignal struct {
	SystemID  string `json:"systemId"`
	AnomalyID string `json:"anomalyId"`
	State     string `json:"state"`
}

type anomalyView struct {
	ID    string `json:"id"`
	State string `json:"state"`
	Field string `json:"field"`
}

func TestACheckThatSlowsDownBecomesAnAnomalyAndRecovers(t *testing.T) {
	eachDatabase(t, func(t *testing.T, database string) {
		admin := newUser(t, database, "admin@example.com", true)
		alice := newUser(t, database, "alice@example.com", false)
		in := start(t, database)
		events := subscribe(t, in, admin)
		target := &slowable{}
		target.start(t)

		var sys system
		in.ok(t, admin, "catalog/createSystem", `{"name":"api"}`, &sys)
		for _, key := range []string{admin, alice} {
			in.ok(t, key, "notification/subscribe", map[string]string{"groupId": "catalog.system." + sys.ID}, nil)
		}
		in.ok(t, alice, "anomaly/muteAnomalies", map[string]string{"systemId": sys.ID}, nil)
		var conf struct{ ID string }
		in.ok(t, admin, "healthcheck/createConfiguration", map[string]any{"name": "home", "strategy": "http",
			"config": map[string]any{"url": "http://" + target.addr + "/"}, "intervalSeconds": 3600, "timeoutSeconds": 5}, &conf)
		in.ok(t, admin, "healthcheck/associateSystem", map[string]string{"systemId": sys.ID, "configurationId": conf.ID}, nil)
		runOnce := func() {
			t.Helper()
			in.ok(t, admin, "healthcheck/runNow", map[string]string{"configurationId": conf.ID}, nil)
			awaitSignal(t, events, "HEALTH_CHECK_RUN_COMPLETED")
		}

		// Fast runs until the baseline is learnt (after 24 of them).
		learnt := false
		for range 40 {
			runOnce()
			var bs struct {
				Baselines []struct {
					Field   string
					Samples int
				}
			}
			in.ok(t, admin, "anomaly/getAnomalyBaselines", map[string]string{"systemId": sys.ID, "configurationId": conf.ID}, &bs)
			if len(bs.Baselines) > 0 && bs.Baselines[0].Samples >= 24 {
				learnt = true
				break
			}
		}
		if !learnt {
			t.Fatal("no baseline after 40 runs")
		}

		// reads are the anomaly reads a dashboard makes, right after a
		// signal: the bulk badge and the list.
		reads := func(p anomalySignal) {
			t.Helper()
			var bulk struct{ Anomalies map[string][]anomalyView }
			in.ok(t, admin, "anomaly/getBulkAnomaliesForSystems", map[string][]string{"systemIds": {sys.ID}}, &bulk)
			var list struct{ Anomalies []anomalyView }
			in.ok(t, admin, "anomaly/getAnomalies", map[string]any{"systemId": sys.ID, "suppression": "all"}, &list)
			open := p.State == "suspicious" || p.State == "anomaly"
			badge := bulk.Anomalies[sys.ID]
			if open && (len(badge) != 1 || badge[0].ID != p.AnomalyID || badge[0].State != p.State) {
				t.Fatalf("the badge the moment %s arrived: %+v", p.State, badge)
			}
			if !open && len(badge) != 0 {
				t.Fatalf("the badge the moment %s arrived still shows %+v", p.State, badge)
			}
			if len(list.Anomalies) == 0 || list.Anomalies[0].ID != p.AnomalyID || list.Anomalies[0].State != p.State {
				t.Fatalf("getAnomalies the moment %s arrived: %+v", p.State, list.Anomalies)
			}
		}
		await := func(state string) anomalySignal {
			t.Helper()
			var p anomalySignal
			json.Unmarshal(awaitSignal(t, events, "ANOMALY_STATE_CHANGED").Payload, &p)
			if p.State != state || p.SystemID != sys.ID {
				t.Fatalf("anomaly signal %+v, want %s on the system", p, state)
			}
			reads(p)
			return p
		}

		target.delay.Store(int64(300 * time.Millisecond))
		in.ok(t, admin, "healthcheck/runNow", map[string]string{"configurationId": conf.ID}, nil)
		first := await("suspicious")
		for range 2 {
			runOnce()
		}
		if p := await("anomaly"); p.AnomalyID != first.AnomalyID {
			t.Fatalf("the confirmed anomaly %s is not the suspicious one %s", p.AnomalyID, first.AnomalyID)
		}
		awaitSignal(t, events, "NOTIFICATION_RECEIVED")

		target.delay.Store(0)
		in.ok(t, admin, "healthcheck/runNow", map[string]string{"configurationId": conf.ID}, nil)
		await("recovered")
		awaitSignal(t, events, "NOTIFICATION_RECEIVED")

		titles := in.inbox(t, admin)
		if len(titles) != 2 || !strings.HasPrefix(titles[0], "Anomaly recovered: latencyMs of home on api") || !strings.HasPrefix(titles[1], "Anomaly: latencyMs of home on api") {
			t.Fatalf("the admin's inbox: %q", titles)
		}
		if got := in.inbox(t, alice); len(got) != 0 {
			t.Fatalf("alice muted the system and got %q", got)
		}
	})
}

func TestBadAnomalyInputIsRefusedByFieldAndChangesNothing(t *testing.T) {
	eachDatabase(t, func(t *testing.T, database string) {
		admin := newUser(t, database, "admin@example.com", true)
		user := newUser(t, database, "user@example.com", false)
		in := start(t, database)
		var sys system
		in.ok(t, admin, "catalog/createSystem", `{"name":"api"}`, &sys)
		var conf struct{ ID string }
		in.ok(t, admin, "healthcheck/createConfiguration", map[string]any{"name": "home", "strategy": "http",
			"config": map[string]any{"url": "http://127.0.0.1:1/"}, "intervalSeconds": 3600, "timeoutSeconds": 5, "enabled": false}, &conf)
		in.ok(t, admin, "anomaly/updateAnomalyConfig", map[string]any{"configurationId": conf.ID, "config": map[string]any{"sensitivity": 2}}, nil)
		snapshot := func() string {
			return string(in.call(t, admin, "anomaly/getAnomalyConfig", map[string]string{"configurationId": conf.ID}).Body) +
				string(in.call(t, admin, "anomaly/getAnomalyAssignmentConfig", map[string]string{"systemId": sys.ID, "configurationId": conf.ID}).Body) +
				string(in.call(t, user, "anomaly/listAnomalyMutes", `{}`).Body)
		}
		before := snapshot()
		c, s := conf.ID, sys.ID
		for _, tc := range []struct {
			name, procedure, body, key string
			status                     int
			message                    string
		}{
			{"an unknown state", "anomaly/getAnomalies", `{"state":"weird"}`, user, 400, "state: must be"},
			{"an unknown kind", "anomaly/getAnomalies", `{"kind":"dip"}`, user, 400, "kind: must be"},
			{"a limit too large", "anomaly/getAnomalies", `{"limit":501}`, user, 400, "limit: must be between 1 and 500"},
			{"an unknown suppression", "anomaly/getAnomalies", `{"suppression":"some"}`, user, 400, "suppression: must be"},
			{"no system ids", "anomaly/getBulkAnomaliesForSystems", `{"systemIds":[]}`, user, 400, "systemIds: required"},
			{"a sensitivity out of range", "anomaly/updateAnomalyConfig", `{"configurationId":"` + c + `","config":{"sensitivity":50}}`, admin, 400, "config.sensitivity: must be between 0.1 and 10"},
			{"a sensitivity of the wrong type", "anomaly/updateAnomalyConfig", `{"configurationId":"` + c + `","config":{"sensitivity":"high"}}`, admin, 400, "config.sensitivity: must be a number"},
			{"an unknown setting", "anomaly/updateAnomalyConfig", `{"configurationId":"` + c + `","config":{"loudness":1}}`, admin, 400, "loudness: unknown field"},
			{"an unknown field override", "anomaly/updateAnomalyConfig", `{"configurationId":"` + c + `","config":{"fields":{"temperature":{}}}}`, admin, 400, "config.fields.temperature: unknown field"},
			{"a window per field", "anomaly/updateAnomalyAssignmentConfig", `{"systemId":"` + s + `","configurationId":"` + c + `","config":{"fields":{"latencyMs":{"baselineWindowDays":3}}}}`, admin, 400, "config.fields.latencyMs.baselineWindowDays"},
			{"an unknown direction", "anomaly/updateAnomalyAssignmentConfig", `{"systemId":"` + s + `","configurationId":"` + c + `","config":{"direction":"up"}}`, admin, 400, "config.direction"},
			{"an unknown check", "anomaly/updateAnomalyConfig", `{"configurationId":"nope","config":{}}`, admin, 404, "not found"},
			{"an unknown pair", "anomaly/updateAnomalyAssignmentConfig", `{"systemId":"nope","configurationId":"` + c + `","config":{}}`, admin, 404, "not found"},
			{"an unknown anomaly", "anomaly/suppressAnomaly", `{"anomalyId":"nope"}`, admin, 404, "not found"},
			{"an unknown field to mute", "anomaly/muteAnomalies", `{"systemId":"` + s + `","fieldPath":"temperature"}`, user, 400, "fieldPath: must be"},
			{"muting an unknown system", "anomaly/muteAnomalies", `{"systemId":"nope"}`, user, 404, "not found"},
			{"a user tuning detection", "anomaly/updateAnomalyConfig", `{"configurationId":"` + c + `","config":{}}`, user, 403, ""},
			{"a user suppressing", "anomaly/suppressAnomaly", `{"anomalyId":"x"}`, user, 403, ""},
			{"an anonymous read", "anomaly/getAnomalies", `{}`, "", 401, ""},
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
	})
}
