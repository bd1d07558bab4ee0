package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkHotPath is the dashboard's hot reads over HTTP, warm, against
// a handler that writes the very same bytes with the same headers from
// memory, and against --cache off: how close a cached read comes to
// static bytes. Both servers are the real binary's (SQLite), seeded with
// 200 systems; 16 client goroutines on keep-alive connections share the
// two vCPUs with the servers. queries/op counts every domain's, auth
// included.
//
//	go test -run '^$' -bench HotPath -benchtime 2s ./cmd/checkstack/
func BenchmarkHotPath(b *testing.B) {
	servers := map[string]*instance{}
	keys := map[string]string{}
	var ids string
	for _, mode := range benchModes {
		database := filepath.Join(b.TempDir(), mode.name+".db")
		admin := newUser(b, database, "admin@example.com", true)
		alice := newUser(b, database, "alice@example.com", false)
		in := start(b, database, mode.extra...)
		ids = dashboard(b, in, admin, alice, 200)
		servers[mode.name], keys[mode.name] = in, alice
	}
	for _, proc := range []struct{ name, body string }{
		{"catalog/getSystems", "{}"},
		{"healthcheck/getBulkSystemHealthStatus", ids},
		{"notification/getUnreadCount", "{}"},
	} {
		// The static handler serves what the cached server answers.
		in := servers["cache"]
		res := post(b, in.url, keys["cache"], proc.name, proc.body)
		header, body := res.Header.Clone(), res.body
		static := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			for k, v := range header {
				if k != "Date" && k != "Content-Length" {
					w.Header()[k] = v
				}
			}
			w.Write(body)
		}))
		b.Cleanup(static.Close)
		for _, target := range []struct {
			name string
			url  string
			in   *instance
			key  string
		}{
			{"cache", in.url, in, keys["cache"]},
			{"static", static.URL, nil, keys["cache"]},
			{"nocache", servers["nocache"].url, servers["nocache"], keys["nocache"]},
		} {
			b.Run(proc.name+"/"+target.name, func(b *testing.B) {
				client := &http.Client{Timeout: 30 * time.Second,
					Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}
				post(b, target.url, target.key, proc.name, proc.body) // warm
				queries := func() int {
					if target.in == nil {
						return 0
					}
					return target.in.dataQueries(b) + target.in.authQueries(b)
				}
				before := queries()
				b.SetParallelism(8)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						req, _ := http.NewRequest("POST", target.url+"/api/"+proc.name, bytes.NewReader([]byte(proc.body)))
						req.Header.Set("Content-Type", "application/json")
						req.Header.Set("Authorization", "Bearer "+target.key)
						res, err := client.Do(req)
						if err != nil {
							b.Error(err)
							return
						}
						n, _ := io.Copy(io.Discard, res.Body)
						res.Body.Close()
						if res.StatusCode != 200 || n == 0 {
							b.Errorf("%s = %d", proc.name, res.StatusCode)
							return
						}
					}
				})
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
				b.ReportMetric(float64(queries()-before)/float64(b.N), "queries/op")
				b.ReportMetric(float64(len(body)), "bytes")
			})
		}
	}
}

type postReply struct {
	*http.Response
	body []byte
}

// post sends one request and fails the benchmark unless it is a 200.
func post(b *testing.B, url, key, procedure, body string) postReply {
	b.Helper()
	req, _ := http.NewRequest("POST", url+"/api/"+procedure, bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		b.Fatalf("%s = %d %s", procedure, res.StatusCode, out)
	}
	return postReply{res, out}
}
