package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkStatusPage is the public status page of 50 systems (with their
// incidents and maintenance) over HTTP, served from its kept bytes, next
// to a handler that serves the same bytes, with the same headers, from
// memory: how close the page read most during an outage comes to static
// bytes. For scale, "overview" is the signed-in overview of the same 50
// systems, rendered for each request (its reads come from the cache).
//
//	go test -run '^$' -bench StatusPage -benchtime 3s ./cmd/checkstack/
func BenchmarkStatusPage(b *testing.B) {
	database := filepath.Join(b.TempDir(), "checkstack.db")
	admin := newUser(b, database, "admin@example.com", true)
	alice := newUser(b, database, "alice@example.com", false)
	in := start(b, database, "--public-status", "true")
	dashboard(b, in, admin, alice, 50)

	res, err := http.Get(in.url + "/status")
	if err != nil {
		b.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || len(page) < 10_000 {
		b.Fatalf("/status = %d, %d bytes", res.StatusCode, len(page))
	}
	header := res.Header.Clone()
	static := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range header {
			if k != "Date" && k != "Content-Length" {
				w.Header()[k] = v
			}
		}
		w.Write(page)
	}))
	defer static.Close()

	jar, _ := cookiejar.New(nil)
	login := &http.Client{Jar: jar}
	res, err = login.Post(in.url+"/api/auth/login", "application/json",
		strings.NewReader(`{"email":"alice@example.com","password":"correct horse battery"}`))
	if err != nil || res.StatusCode != 200 {
		b.Fatalf("login: %v %v", err, res)
	}
	res.Body.Close()

	for _, target := range []struct {
		name, url string
		jar       http.CookieJar
	}{{"status", in.url + "/status", nil}, {"static", static.URL + "/status", nil}, {"overview", in.url + "/", jar}} {
		b.Run(target.name, func(b *testing.B) {
			client := &http.Client{Timeout: 30 * time.Second, Jar: target.jar,
				Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					res, err := client.Get(target.url)
					if err != nil {
						b.Error(err)
						return
					}
					n, _ := io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != 200 || n < 10_000 || res.Request.URL.Path != target.url[len(target.url)-len(res.Request.URL.Path):] {
						b.Errorf("%s = %d, %d bytes", target.url, res.StatusCode, n)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}
