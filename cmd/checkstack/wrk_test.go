package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestServeWrkTargets serves what docs/wrk/run.sh measures with wrk: a
// server with the cache on and one with --cache off (SQLite, seeded with
// the 200-system dashboard of the benchmarks), and for each hot read a
// handler that writes the cached server's very bytes with its headers.
// It runs only when CHECKSTACK_WRK_DIR names a folder: it writes there one
// file per target (its URL, the key, the body to post) and serves until
// the file "stop" appears there, or for at most an hour.
func TestServeWrkTargets(t *testing.T) {
	dir := os.Getenv("CHECKSTACK_WRK_DIR")
	if dir == "" {
		t.Skip("set CHECKSTACK_WRK_DIR to serve wrk's targets (docs/wrk/run.sh does)")
	}
	servers := map[string]*instance{}
	keys := map[string]string{}
	var ids string
	for _, mode := range benchModes {
		database := filepath.Join(t.TempDir(), mode.name+".db")
		admin := newUser(t, database, "admin@example.com", true)
		alice := newUser(t, database, "alice@example.com", false)
		in := start(t, database, mode.extra...)
		ids = dashboard(t, in, admin, alice, 200)
		servers[mode.name], keys[mode.name] = in, alice
	}
	write := func(name, url, key, procedure, body string) {
		t.Helper()
		content := url + "/api/" + procedure + "\n" + key + "\n" + body + "\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for short, proc := range map[string]struct{ name, body string }{
		"systems": {"catalog/getSystems", "{}"},
		"bulk":    {"healthcheck/getBulkSystemHealthStatus", ids},
		"unread":  {"notification/getUnreadCount", "{}"},
	} {
		r := servers["cache"].call(t, keys["cache"], proc.name, proc.body)
		if r.Status != 200 {
			t.Fatalf("%s = %d", proc.name, r.Status)
		}
		res := r
		static := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			io.Copy(io.Discard, req.Body)
			w.Header().Set("Content-Type", "application/json")
			w.Write(res.Body)
		}))
		t.Cleanup(static.Close)
		write(short+".cache", servers["cache"].url, keys["cache"], proc.name, proc.body)
		write(short+".nocache", servers["nocache"].url, keys["nocache"], proc.name, proc.body)
		write(short+".static", static.URL, keys["cache"], proc.name, proc.body)
	}
	if err := os.WriteFile(filepath.Join(dir, "ready"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Hour); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(dir, "stop")); err == nil {
			return
		}
	}
}
