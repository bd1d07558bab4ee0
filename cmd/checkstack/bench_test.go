package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// The server's hot reads, measured over HTTP against the real binary's
// server (SQLite, started through run), with the cache on and with
// --cache off: the same handlers, every read going to the database.
//
//	go test -run '^$' -bench . -benchtime 2s ./cmd/checkstack/

var benchModes = []struct {
	name  string
	extra []string
}{
	{"cache", nil},
	{"nocache", []string{"--cache", "off"}},
}

// poster sends requests with a client whose pool keeps a connection per
// goroutine alive, as a browser or a load balancer would.
type poster struct {
	client *http.Client
	url    string
	key    string
}

func newPoster(in *instance, key string) *poster {
	return &poster{client: &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}, url: in.url, key: key}
}

func (p *poster) post(procedure, body string) error {
	req, err := http.NewRequest("POST", p.url+"/api/"+procedure, bytes.NewReader([]byte(body)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+p.key)
	res, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		return err
	}
	if res.StatusCode != 200 {
		return fmt.Errorf("%s = %d", procedure, res.StatusCode)
	}
	return nil
}

// dataQueries sums the queries of the domains a dashboard reads so far;
// authQueries are those of authenticating the requests (one per request
// with an API key, cache or not).
func (in *instance) dataQueries(t testing.TB) int {
	n := 0
	for _, d := range []string{"catalog", "healthcheck", "slo", "notification", "incident", "maintenance"} {
		n += in.queries(t, d)
	}
	return n
}

func (in *instance) authQueries(t testing.TB) int { return in.queries(t, "auth") }

// BenchmarkUnreadCount is the notification bell every page polls: many
// clients at once (32 goroutines), each on its own connection, reading
// one user's unread count among 50 notifications.
func BenchmarkUnreadCount(b *testing.B) {
	for _, mode := range benchModes {
		b.Run(mode.name, func(b *testing.B) {
			database := filepath.Join(b.TempDir(), "checkstack.db")
			admin := newUser(b, database, "admin@example.com", true)
			alice := newUser(b, database, "alice@example.com", false)
			in := start(b, database, mode.extra...)
			aliceID := in.me(b, alice)
			for i := range 50 {
				in.notify(b, admin, fmt.Sprintf("n%d", i), aliceID)
			}
			p := newPoster(in, alice)
			if err := p.post("notification/getUnreadCount", "{}"); err != nil { // warm
				b.Fatal(err)
			}
			before := in.queries(b, "notification")
			b.SetParallelism(16)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := p.post("notification/getUnreadCount", "{}"); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
			b.ReportMetric(float64(in.queries(b, "notification")-before)/float64(b.N), "queries/op")
		})
	}
}

// dashboard seeds systems, each with a check and an objective, an
// incident and a scheduled maintenance window on every tenth pair, and a
// user with notifications, and returns the system ids as a JSON list.
func dashboard(b testing.TB, in *instance, admin, user string, systems int) string {
	var conf struct{ ID string }
	in.ok(b, admin, "healthcheck/createConfiguration", map[string]any{
		"name": "home", "strategy": "http", "config": map[string]any{"url": "http://127.0.0.1:1/"},
		"intervalSeconds": 3600, "timeoutSeconds": 1, "enabled": false}, &conf)
	ids := make([]string, systems)
	for i := range ids {
		var sys system
		in.ok(b, admin, "catalog/createSystem", map[string]string{"name": fmt.Sprintf("system %03d", i)}, &sys)
		ids[i] = sys.ID
		in.ok(b, admin, "healthcheck/associateSystem", map[string]any{"systemId": sys.ID, "configurationId": conf.ID}, nil)
		in.ok(b, admin, "slo/createObjective", map[string]any{"systemId": sys.ID, "name": "up", "target": 99.9, "windowDays": 30}, nil)
	}
	for i := 0; i+1 < len(ids); i += 10 {
		in.ok(b, admin, "incident/createIncident", map[string]any{"title": fmt.Sprint("incident ", i), "systemIds": ids[i : i+2],
			"initialMessage": "Investigating"}, nil)
		in.ok(b, admin, "maintenance/createMaintenance", map[string]any{"title": fmt.Sprint("window ", i), "systemIds": ids[i : i+2],
			"startAt": time.Now().Add(24 * time.Hour), "endAt": time.Now().Add(26 * time.Hour)}, nil)
	}
	uid := in.me(b, user)
	for i := range 30 {
		in.notify(b, admin, fmt.Sprintf("n%d", i), uid)
	}
	var buf bytes.Buffer
	buf.WriteString(`{"systemIds":[`)
	for i, id := range ids {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, "%q", id)
	}
	buf.WriteString(`]}`)
	return buf.String()
}

// dashboardServer starts a server (with extra flags) seeded with a
// dashboard of 200 systems, and returns it, a user's poster, and the
// systems as a {"systemIds":[…]} body.
func dashboardServer(b *testing.B, extra []string) (*instance, *poster, string) {
	database := filepath.Join(b.TempDir(), "checkstack.db")
	admin := newUser(b, database, "admin@example.com", true)
	alice := newUser(b, database, "alice@example.com", false)
	in := start(b, database, extra...)
	body := dashboard(b, in, admin, alice, 200)
	return in, newPoster(in, alice), body
}

// BenchmarkBulkObjectives200 is getBulkObjectivesForSystems for 200
// systems, each with one objective: served from the cache (warm), and
// with --cache off (every read loads objectives, events and health and
// computes each status).
func BenchmarkBulkObjectives200(b *testing.B) {
	for _, mode := range benchModes {
		b.Run(mode.name, func(b *testing.B) {
			in, p, body := dashboardServer(b, mode.extra)
			if err := p.post("slo/getBulkObjectivesForSystems", body); err != nil {
				b.Fatal(err)
			}
			before := in.dataQueries(b)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := p.post("slo/getBulkObjectivesForSystems", body); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(in.dataQueries(b)-before)/float64(b.N), "queries/op")
		})
	}
}

// BenchmarkBulkIncidents200 and BenchmarkBulkMaintenances200 are the
// bulk reads of 200 systems' incidents and maintenance windows, warm from
// the cache and with --cache off.
func BenchmarkBulkIncidents200(b *testing.B) { benchBulk(b, "incident/getBulkIncidentsForSystems") }
func BenchmarkBulkMaintenances200(b *testing.B) {
	benchBulk(b, "maintenance/getBulkMaintenancesForSystems")
}

func benchBulk(b *testing.B, procedure string) {
	for _, mode := range benchModes {
		b.Run(mode.name, func(b *testing.B) {
			in, p, body := dashboardServer(b, mode.extra)
			if err := p.post(procedure, body); err != nil {
				b.Fatal(err)
			}
			before := in.dataQueries(b)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := p.post(procedure, body); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(in.dataQueries(b)-before)/float64(b.N), "queries/op")
		})
	}
}

// BenchmarkDashboardPoll is one poll of a dashboard of 200 systems: the
// topology, their health, objectives, incidents and maintenance windows,
// the open incidents and windows, and the user's bell and inbox. It
// reports the database queries per 1,000 polls.
func BenchmarkDashboardPoll(b *testing.B) {
	for _, mode := range benchModes {
		b.Run(mode.name, func(b *testing.B) {
			in, p, ids := dashboardServer(b, mode.extra)
			poll := func() error {
				for _, r := range []struct{ proc, body string }{
					{"catalog/getEntities", "{}"},
					{"healthcheck/getBulkSystemHealthStatus", ids},
					{"slo/getBulkObjectivesForSystems", ids},
					{"incident/getBulkIncidentsForSystems", ids},
					{"maintenance/getBulkMaintenancesForSystems", ids},
					{"incident/listIncidents", "{}"},
					{"maintenance/listMaintenances", `{"status":"scheduled"}`},
					{"notification/getUnreadCount", "{}"},
					{"notification/getNotifications", `{"limit":10}`},
				} {
					if err := p.post(r.proc, r.body); err != nil {
						return err
					}
				}
				return nil
			}
			before, beforeAuth := in.dataQueries(b), in.authQueries(b)
			b.ResetTimer()
			for range b.N {
				if err := poll(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(in.dataQueries(b)-before)/float64(b.N)*1000, "queries/1000polls")
			b.ReportMetric(float64(in.authQueries(b)-beforeAuth)/float64(b.N)*1000, "auth-queries/1000polls")
		})
	}
}
