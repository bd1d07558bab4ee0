package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

type statusChange struct {
	SystemID       string `json:"systemId"`
	PreviousStatus string `json:"previousStatus"`
	NewStatus      string `json:"newStatus"`
}

// awaitStatus waits for the SYSTEM_STATUS_CHANGED signal of systemID.
func awaitStatus(t *testing.T, events <-chan sseEvent, systemID string) statusChange {
	t.Helper()
	for {
		e := awaitSignal(t, events, "SYSTEM_STATUS_CHANGED")
		var c statusChange
		json.Unmarshal(e.Payload, &c)
		if c.SystemID == systemID {
			return c
		}
	}
}

// switchable is an HTTP server on a fixed loopback port that the test can
// stop and start again.
type switchable struct {
	addr string
	srv  *http.Server
}

func (s *switchable) start(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	go s.srv.Serve(ln)
}

func (s *switchable) stop() { s.srv.Close() }

func TestANewcomerSeesASystemGoDownAndComeBack(t *testing.T) {
	eachDatabase(t, func(t *testing.T, database string) {
		key := newUser(t, database, "admin@example.com", true)
		in := start(t, database)
		events := subscribe(t, in, key)
		target := &switchable{addr: "127.0.0.1:0"}
		target.start(t)
		defer target.stop()

		var sys system
		in.ok(t, key, "catalog/createSystem", `{"name":"website"}`, &sys)
		var conf struct{ ID string }
		in.ok(t, key, "healthcheck/createConfiguration", map[string]any{
			"name": "homepage", "strategy": "http", "config": map[string]any{"url": "http://" + target.addr + "/"},
			"intervalSeconds": 60, "timeoutSeconds": 2}, &conf)
		in.ok(t, key, "healthcheck/associateSystem", map[string]any{"systemId": sys.ID, "configurationId": conf.ID,
			"thresholds": map[string]any{"degradedAfter": 1, "unhealthyAfter": 1}}, nil)
		health := func() string {
			var st struct{ Status string }
			in.ok(t, key, "healthcheck/getSystemHealthStatus", map[string]string{"systemId": sys.ID}, &st)
			return st.Status
		}
		if got := health(); got != "unknown" {
			t.Fatalf("before any run: %s", got)
		}

		for _, step := range []struct {
			act  func()
			want statusChange
		}{
			{func() {}, statusChange{sys.ID, "unknown", "healthy"}},
			{target.stop, statusChange{sys.ID, "healthy", "unhealthy"}},
			{func() { target.start(t) }, statusChange{sys.ID, "unhealthy", "healthy"}},
		} {
			step.act()
			in.ok(t, key, "healthcheck/runNow", map[string]string{"configurationId": conf.ID}, nil)
			if got := awaitStatus(t, events, sys.ID); got != step.want {
				t.Fatalf("signal %+v, want %+v", got, step.want)
			}
			if got := health(); got != step.want.NewStatus {
				t.Fatalf("getSystemHealthStatus right after the signal: %s, want %s", got, step.want.NewStatus)
			}
			var bulk struct {
				Statuses map[string]struct{ Status string }
			}
			in.ok(t, key, "healthcheck/getBulkSystemHealthStatus", map[string][]string{"systemIds": {sys.ID}}, &bulk)
			if bulk.Statuses[sys.ID].Status != step.want.NewStatus {
				t.Fatalf("bulk status %+v", bulk)
			}
		}

		var page struct {
			Runs []struct{ Status, Message string }
		}
		in.ok(t, key, "healthcheck/getHistory", map[string]any{"configurationId": conf.ID}, &page)
		if len(page.Runs) != 3 || page.Runs[1].Status != "unhealthy" || page.Runs[1].Message == "" {
			t.Fatalf("history %+v", page.Runs)
		}
	})
}

func TestBadCheckConfigurationsAreRejectedByField(t *testing.T) {
	database := t.TempDir() + "/c.db"
	key := newUser(t, database, "admin@example.com", true)
	in := start(t, database)
	for _, tc := range []struct{ body, want string }{
		{`{"name":"x","strategy":"http","config":{}}`, "config.url"},
		{`{"name":"x","strategy":"http","config":{"url":"ftp://x"}}`, "config.url"},
		{`{"name":"x","strategy":"tcp","config":{"host":"127.0.0.1","port":70000}}`, "config.port"},
		{`{"name":"x","strategy":"dns","config":{"name":"example.com","recordType":"SRV"}}`, "config.recordType"},
		{`{"name":"x","strategy":"tls","config":{"host":"example.com","warnDays":3,"failDays":5}}`, "config.failDays"},
		{`{"name":"x","strategy":"http","config":{"url":"http://127.0.0.1/","nope":1}}`, "config.nope"},
		{`{"name":"x","strategy":"ping","config":{}}`, "strategy: must be one of"},
		{`{"name":"x","strategy":"http","config":{"url":"http://127.0.0.1/"},"intervalSeconds":1}`, "intervalSeconds"},
	} {
		r := in.call(t, key, "healthcheck/createConfiguration", tc.body)
		if r.Status != 400 || !strings.Contains(string(r.Body), tc.want) {
			t.Errorf("%s = %d %s; want 400 naming %s", tc.body, r.Status, r.Body, tc.want)
		}
	}
	var list struct{ Configurations []any }
	in.ok(t, key, "healthcheck/getConfigurations", "{}", &list)
	if len(list.Configurations) != 0 {
		t.Fatalf("a rejected configuration was stored: %+v", list)
	}
}

func TestAFloodOfHungChecksDoesNotBlockTheAPI(t *testing.T) {
	database := t.TempDir() + "/c.db"
	key := newUser(t, database, "admin@example.com", true)
	in := start(t, database)
	hang := make(chan struct{})
	defer close(hang)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer ln.Close()
	for i := range 40 {
		var conf struct{ ID string }
		in.ok(t, key, "healthcheck/createConfiguration", map[string]any{"name": fmt.Sprint("slow ", i), "strategy": "http",
			"config": map[string]any{"url": "http://" + ln.Addr().String()}, "intervalSeconds": 5, "timeoutSeconds": 5}, &conf)
		in.ok(t, key, "healthcheck/runNow", map[string]string{"configurationId": conf.ID}, nil)
	}
	// Every worker is now waiting on a hung check; the API still answers.
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Second)
	defer cancel()
	for range 20 {
		req, _ := http.NewRequestWithContext(ctx, "POST", in.url+"/api/catalog/getSystems", strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("the API did not answer while checks hung: %v", err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("getSystems = %d", res.StatusCode)
		}
	}
}

func TestASatelliteRunsItsChecksThroughTheBinary(t *testing.T) {
	database := t.TempDir() + "/c.db"
	key := newUser(t, database, "admin@example.com", true)
	in := start(t, database)
	target := &switchable{addr: "127.0.0.1:0"}
	target.start(t)
	defer target.stop()

	var reg struct {
		Satellite struct{ ID string }
		Key       string
	}
	in.ok(t, key, "satellite/registerSatellite", `{"name":"edge-1"}`, &reg)
	var sys system
	in.ok(t, key, "catalog/createSystem", `{"name":"intranet"}`, &sys)
	var conf struct{ ID string }
	in.ok(t, key, "healthcheck/createConfiguration", map[string]any{"name": "intranet", "strategy": "http",
		"config": map[string]any{"url": "http://" + target.addr + "/"}, "intervalSeconds": 5, "timeoutSeconds": 2,
		"satelliteId": reg.Satellite.ID}, &conf)
	in.ok(t, key, "healthcheck/associateSystem", map[string]string{"systemId": sys.ID, "configurationId": conf.ID}, nil)

	if r := in.call(t, reg.Key, "catalog/getSystems", "{}"); r.Status != 403 {
		t.Fatalf("a satellite key on a user procedure = %d, want 403", r.Status)
	}
	if r := in.call(t, key, "satellite/getAssignments", "{}"); r.Status != 403 {
		t.Fatalf("a user key on a satellite procedure = %d, want 403", r.Status)
	}

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"satellite", "--server", in.url, "--key", reg.Key, "--log-level", "warn"}, noEnv, nil, io.Discard, io.Discard)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var st struct{ Status string }
		in.ok(t, key, "healthcheck/getSystemHealthStatus", map[string]string{"systemId": sys.ID}, &st)
		if st.Status == "healthy" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the satellite's run never arrived (status %s)", st.Status)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, with a deadline
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
