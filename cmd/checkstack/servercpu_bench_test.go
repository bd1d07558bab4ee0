package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkWarmReadServerCPU is the server's own cost of a warm read: the
// binary's handler (SQLite, cache on) called in process, one request at a
// time, without a network or a client, so ns/op is server CPU per
// request. The bulk health read runs for 200 and 1,000 systems, each with
// a check.
//
//	go test -run '^$' -bench WarmReadServerCPU -benchtime 2s ./cmd/checkstack/
func BenchmarkWarmReadServerCPU(b *testing.B) {
	database := filepath.Join(b.TempDir(), "checkstack.db")
	admin := newUser(b, database, "admin@example.com", true)
	a := buildApp(b, database)
	ts := httptest.NewServer(a.handler)
	defer ts.Close()
	in := &instance{url: ts.URL, database: database}
	var conf struct{ ID string }
	in.ok(b, admin, "healthcheck/createConfiguration", map[string]any{
		"name": "home", "strategy": "http", "config": map[string]any{"url": "http://127.0.0.1:1/"},
		"intervalSeconds": 3600, "timeoutSeconds": 1, "enabled": false}, &conf)
	ids := make([]string, 1000)
	for i := range ids {
		var sys system
		in.ok(b, admin, "catalog/createSystem", map[string]string{"name": fmt.Sprintf("system %04d", i)}, &sys)
		in.ok(b, admin, "healthcheck/associateSystem", map[string]any{"systemId": sys.ID, "configurationId": conf.ID}, nil)
		ids[i] = fmt.Sprintf("%q", sys.ID)
	}
	for _, read := range []struct{ name, procedure, body string }{
		{"getSystems", "catalog/getSystems", "{}"},
		{"getUnreadCount", "notification/getUnreadCount", "{}"},
		{"bulkHealth200", "healthcheck/getBulkSystemHealthStatus", `{"systemIds":[` + strings.Join(ids[:200], ",") + `]}`},
		{"bulkHealth1000", "healthcheck/getBulkSystemHealthStatus", `{"systemIds":[` + strings.Join(ids, ",") + `]}`},
	} {
		b.Run(read.name, func(b *testing.B) {
			body := []byte(read.body)
			serve := func() *discard {
				req, _ := http.NewRequest("POST", "/api/"+read.procedure, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+admin)
				w := &discard{header: http.Header{}}
				a.handler.ServeHTTP(w, req)
				return w
			}
			if w := serve(); w.status != 200 { // warm
				b.Fatalf("%s = %d", read.procedure, w.status)
			}
			queries := func() int { return in.dataQueries(b) + in.authQueries(b) }
			before := queries()
			b.ReportAllocs()
			for b.Loop() {
				if w := serve(); w.status != 200 {
					b.Fatalf("%s = %d", read.procedure, w.status)
				}
			}
			b.ReportMetric(float64(queries()-before)/float64(b.N), "queries/op")
		})
	}
}

// discard is a ResponseWriter that keeps the status only.
type discard struct {
	header http.Header
	status int
}

func (d *discard) Header() http.Header { return d.header }
func (d *discard) WriteHeader(s int) {
	if d.status == 0 {
		d.status = s
	}
}
func (d *discard) Write(p []byte) (int, error) {
	d.WriteHeader(200)
	return len(p), nil
}
