package main

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
)

// When the database stops answering, a credential that cannot be checked
// is a 503 with Retry-After (the caller keeps its credentials and tries
// again), never a 401; a credential the cache holds keeps working, and so
// do the reads the cache can answer.
func TestADatabaseOutageIsA503NeverA401(t *testing.T) {
	database := filepath.Join(t.TempDir(), "checkstack.db")
	warm := newUser(t, database, "warm@example.com", false)
	cold := newUser(t, database, "cold@example.com", false)
	a := buildApp(t, database)
	ts := httptest.NewServer(a.handler)
	defer ts.Close()
	in := &instance{url: ts.URL, database: database}
	in.ok(t, warm, "notification/getUnreadCount", "{}", nil)
	a.auth.Close() // the key's use is recorded

	if err := a.db.Close(); err != nil { // every query fails from here on
		t.Fatal(err)
	}
	if r := in.call(t, warm, "notification/getUnreadCount", "{}"); r.Status != 200 {
		t.Errorf("a cached credential and a cached read during the outage: %d %s", r.Status, r.Body)
	}
	req, _ := http.NewRequest("POST", ts.URL+"/api/notification/getUnreadCount", nil)
	req.Header.Set("Authorization", "Bearer "+cold)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 503 || res.Header.Get("Retry-After") == "" {
		t.Errorf("a credential that cannot be checked: %d (Retry-After %q), want 503 with Retry-After", res.StatusCode, res.Header.Get("Retry-After"))
	}
	req, _ = http.NewRequest("GET", ts.URL+"/api/signals", nil)
	req.Header.Set("Authorization", "Bearer "+cold)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 503 || res.Header.Get("Retry-After") == "" {
		t.Errorf("a signal stream whose credential cannot be checked: %d, want 503 with Retry-After", res.StatusCode)
	}
}
