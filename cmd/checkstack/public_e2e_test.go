package main

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/feeds"
)

// get fetches a page anonymously.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// Without --public-status an anonymous caller reads nothing: no topology,
// no page, no signal stream.
func TestWithoutThePublicStatusPageAnonymousCallersReadNothing(t *testing.T) {
	database := t.TempDir() + "/p.db"
	key := newUser(t, database, "admin@example.com", true)
	in := start(t, database)
	in.ok(t, key, "catalog/createSystem", `{"name":"api"}`, nil)
	for _, proc := range []string{"catalog/getEntities", "healthcheck/getBulkSystemHealthStatus", "incident/listIncidents",
		"maintenance/listMaintenances", "healthcheck/getBulkUptime"} {
		if r := in.call(t, "", proc, `{"systemIds":["x"]}`); r.Status != http.StatusUnauthorized {
			t.Errorf("anonymous %s = %d %s, want 401", proc, r.Status, r.Body)
		}
	}
	for _, path := range []string{"/status", "/status/feed.atom", "/badge/x/status.svg"} {
		if code, _ := get(t, in.url+path); code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, code)
		}
	}
	if code, _ := get(t, in.url+"/api/signals"); code != http.StatusUnauthorized {
		t.Errorf("anonymous GET /api/signals = %d, want 401", code)
	}
}

// With --public-status an anonymous visitor reads what the status page
// shows and nothing else: the systems and groups not hidden from it, their
// health without the checks' details, incidents and maintenance only on
// shown systems and naming only those, no author; it changes nothing and
// reads nothing else; its signal stream carries the page's signals
// without payload, and nobody's notifications.
func TestThePublicStatusPageShowsOnlyWhatIsNotHidden(t *testing.T) {
	eachDatabase(t, func(t *testing.T, database string) {
		key := newUser(t, database, "admin@example.com", true)
		in := start(t, database, "--public-status", "true")
		var shown, hidden system
		in.ok(t, key, "catalog/createSystem", `{"name":"Public API","description":"for customers"}`, &shown)
		in.ok(t, key, "catalog/createSystem", `{"name":"Billing internals","hiddenFromStatus":true}`, &hidden)
		var open, secret struct{ ID string }
		in.ok(t, key, "catalog/createGroup", `{"name":"Customer facing"}`, &open)
		in.ok(t, key, "catalog/createGroup", `{"name":"Back office","hiddenFromStatus":true}`, &secret)
		for _, g := range []string{open.ID, secret.ID} {
			for _, s := range []string{shown.ID, hidden.ID} {
				in.ok(t, key, "catalog/addSystemToGroup", map[string]string{"groupId": g, "systemId": s}, nil)
			}
		}
		visitor := subscribe(t, in, "")
		var inc struct{ ID string }
		in.ok(t, key, "incident/createIncident", map[string]any{"title": "Payments failing", "severity": "major",
			"systemIds": []string{shown.ID, hidden.ID}, "initialMessage": "Looking"}, &inc)
		in.ok(t, key, "incident/createIncident", map[string]any{"title": "Ledger drift", "severity": "minor",
			"systemIds": []string{hidden.ID}}, nil)

		// What the signed-in admin reads is untouched.
		var all entities
		in.ok(t, key, "catalog/getEntities", "{}", &all)
		if len(all.Systems) != 2 {
			t.Fatalf("the admin reads %d systems", len(all.Systems))
		}

		var pub struct {
			Systems []map[string]any
			Groups  []struct {
				Name      string
				SystemIDs []string `json:"systemIds"`
			}
		}
		in.ok(t, "", "catalog/getEntities", "{}", &pub)
		if len(pub.Systems) != 1 || pub.Systems[0]["id"] != shown.ID {
			t.Fatalf("a visitor reads systems %v, want only %s", pub.Systems, shown.ID)
		}
		if pub.Systems[0]["owner"] != "" && pub.Systems[0]["owner"] != nil {
			t.Errorf("a visitor reads the owner: %v", pub.Systems[0])
		}
		if len(pub.Groups) != 1 || pub.Groups[0].Name != "Customer facing" || !slices.Equal(pub.Groups[0].SystemIDs, []string{shown.ID}) {
			t.Errorf("a visitor reads groups %+v", pub.Groups)
		}

		var health struct {
			Statuses map[string]struct {
				Checks []any `json:"checks"`
			}
		}
		in.ok(t, "", "healthcheck/getBulkSystemHealthStatus", map[string][]string{"systemIds": {shown.ID, hidden.ID}}, &health)
		if _, ok := health.Statuses[hidden.ID]; ok || len(health.Statuses) != 1 {
			t.Errorf("a visitor reads the health of %v", health.Statuses)
		}
		var uptime struct{ Uptime map[string]any }
		in.ok(t, "", "healthcheck/getBulkUptime", map[string]any{"systemIds": []string{shown.ID, hidden.ID}, "days": 7}, &uptime)
		if _, ok := uptime.Uptime[hidden.ID]; ok {
			t.Errorf("a visitor reads the uptime of a hidden system")
		}

		var incs struct {
			Incidents []struct {
				ID        string
				Title     string
				SystemIDs []string `json:"systemIds"`
			}
		}
		in.ok(t, "", "incident/listIncidents", "{}", &incs)
		if len(incs.Incidents) != 1 || incs.Incidents[0].Title != "Payments failing" || !slices.Equal(incs.Incidents[0].SystemIDs, []string{shown.ID}) {
			t.Errorf("a visitor reads incidents %+v", incs.Incidents)
		}
		r := in.call(t, "", "incident/getIncident", map[string]string{"id": inc.ID})
		if r.Status != 200 || strings.Contains(string(r.Body), "admin@example.com") || strings.Contains(string(r.Body), "User admin") {
			t.Errorf("a visitor's getIncident = %d %s (no author wanted)", r.Status, r.Body)
		}

		for _, proc := range []string{"catalog/createSystem", "catalog/getSystem", "incident/createIncident",
			"notification/getNotifications", "slo/listObjectives", "anomaly/getAnomalies", "healthcheck/getConfigurations"} {
			if r := in.call(t, "", proc, `{"id":"x","name":"x","title":"x"}`); r.Status != http.StatusUnauthorized {
				t.Errorf("anonymous %s = %d, want 401", proc, r.Status)
			}
		}

		// The pages the same way.
		code, body := get(t, in.url+"/status")
		if code != 200 || !strings.Contains(body, "Public API") || !strings.Contains(body, "Payments failing") {
			t.Errorf("/status = %d without the shown system or its incident", code)
		}
		for _, leak := range []string{"Billing internals", "Back office", "Ledger drift", hidden.ID} {
			if strings.Contains(body, leak) {
				t.Errorf("/status shows %q", leak)
			}
		}
		if code, _ := get(t, in.url+"/badge/"+hidden.ID+"/status.svg"); code != http.StatusNotFound {
			t.Errorf("a hidden system's badge = %d, want 404", code)
		}
		if _, feed := get(t, in.url+"/status/feed.atom"); strings.Contains(feed, "Ledger drift") || !strings.Contains(feed, "Payments failing") {
			t.Errorf("the feed shows hidden incidents or misses shown ones:\n%s", feed)
		}
		_, rss := get(t, in.url+"/status/feed.rss")
		var channel feeds.RssFeedXml
		if err := xml.Unmarshal([]byte(rss), &channel); err != nil || channel.Channel == nil || len(channel.Channel.Items) != 1 ||
			!strings.Contains(channel.Channel.Items[0].Title, "Payments failing") {
			t.Errorf("the RSS feed (%v): %s", err, rss)
		}

		// The visitor's stream: the page's signals, no payload, nobody's
		// notifications.
		in.ok(t, key, "notification/notifyUsers", map[string]any{"userIds": []string{in.me(t, key)},
			"notification": map[string]any{"title": "private", "body": "x"}}, nil)
		in.ok(t, key, "catalog/updateSystem", map[string]any{"id": shown.ID, "name": "Public API v2"}, nil)
		deadline := time.After(10 * time.Second)
		for seen := false; !seen; {
			select {
			case e, ok := <-visitor:
				if !ok {
					t.Fatal("the visitor's stream ended")
				}
				if strings.HasPrefix(e.Signal, "NOTIFICATION") {
					t.Fatalf("a visitor got %s", e.Signal)
				}
				var payload map[string]any
				if err := json.Unmarshal(e.Payload, &payload); err != nil || len(payload) != 0 {
					t.Fatalf("a visitor got %s with payload %s", e.Signal, e.Payload)
				}
				seen = e.Signal == "CATALOG_CHANGED"
			case <-deadline:
				t.Fatal("the visitor never got CATALOG_CHANGED")
			}
		}
		if _, body := get(t, in.url+"/status"); !strings.Contains(body, "Public API v2") {
			t.Error("/status after CATALOG_CHANGED still shows the old name")
		}
	})
}
