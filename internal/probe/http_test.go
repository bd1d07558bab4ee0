package probe_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/checkstack/checkstack/internal/probe"
)

// healthJSON is what the test server's /health.json answers.
const healthJSON = `{"status":"up","version":2,"checks":{"db":{"state":"ok"}},"items":[{"name":"first"},{"name":"second"}],"maintenance":null}`

// newHTTPTarget starts a server with a route for each kind of response the
// tests judge.
func newHTTPTarget(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "all systems go") // a failed write shows up in the test's result
	})
	mux.HandleFunc("/unavailable", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/missing", http.NotFound)
	mux.HandleFunc("/health.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, healthJSON) // as above
	})
	mux.HandleFunc("/old", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ok", http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		// Latency is what this route is for, not ordering: it answers
		// late so the run is slower than its degradedLatencyMs.
		time.Sleep(60 * time.Millisecond)
		_, _ = io.WriteString(w, "eventually") // as above
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestHTTPJudgesTheResponse(t *testing.T) {
	srv := newHTTPTarget(t)
	tests := []struct {
		name   string
		config map[string]any
		status probe.Status
		parts  []string
	}{
		{
			name:   "a 200 is healthy",
			config: map[string]any{"url": srv.URL + "/ok"},
			status: probe.Healthy,
			parts:  []string{"GET " + srv.URL + "/ok: status 200 in "},
		},
		{
			name:   "a 503 is unhealthy when any 2xx is expected",
			config: map[string]any{"url": srv.URL + "/unavailable"},
			status: probe.Unhealthy,
			parts:  []string{"status 503, want 2xx"},
		},
		{
			name:   "a 404 is healthy when expectedStatus lists it",
			config: map[string]any{"url": srv.URL + "/missing", "expectedStatus": []int{404, 410}},
			status: probe.Healthy,
		},
		{
			name:   "a 200 is unhealthy when expectedStatus does not list it",
			config: map[string]any{"url": srv.URL + "/ok", "expectedStatus": []int{201, 204}},
			status: probe.Unhealthy,
			parts:  []string{"status 200, want 201 or 204"},
		},
		{
			name:   "a body containing bodyContains is healthy",
			config: map[string]any{"url": srv.URL + "/ok", "bodyContains": "systems go"},
			status: probe.Healthy,
		},
		{
			name:   "a body missing bodyContains is unhealthy and shows how the body begins",
			config: map[string]any{"url": srv.URL + "/ok", "bodyContains": "systems down"},
			status: probe.Unhealthy,
			parts:  []string{`does not contain "systems down"`, `"all systems go"`},
		},
		{
			name:   "a top-level jsonPath equal to jsonEquals is healthy",
			config: map[string]any{"url": srv.URL + "/health.json", "jsonPath": "status", "jsonEquals": "up"},
			status: probe.Healthy,
		},
		{
			name:   "a nested jsonPath equal to jsonEquals is healthy",
			config: map[string]any{"url": srv.URL + "/health.json", "jsonPath": "checks.db.state", "jsonEquals": "ok"},
			status: probe.Healthy,
		},
		{
			name:   "a jsonPath through an array index is healthy",
			config: map[string]any{"url": srv.URL + "/health.json", "jsonPath": "items.1.name", "jsonEquals": "second"},
			status: probe.Healthy,
		},
		{
			name:   "a number compares by value",
			config: map[string]any{"url": srv.URL + "/health.json", "jsonPath": "version", "jsonEquals": 2.0},
			status: probe.Healthy,
		},
		{
			name:   "a null jsonEquals matches a null value",
			config: map[string]any{"url": srv.URL + "/health.json", "jsonPath": "maintenance", "jsonEquals": nil},
			status: probe.Healthy,
		},
		{
			name:   "an object jsonEquals matches an object value",
			config: map[string]any{"url": srv.URL + "/health.json", "jsonPath": "checks.db", "jsonEquals": map[string]any{"state": "ok"}},
			status: probe.Healthy,
		},
		{
			name:   "a jsonPath that exists is healthy without jsonEquals",
			config: map[string]any{"url": srv.URL + "/health.json", "jsonPath": "checks.db"},
			status: probe.Healthy,
		},
		{
			name:   "a jsonPath value other than jsonEquals is unhealthy and says both",
			config: map[string]any{"url": srv.URL + "/health.json", "jsonPath": "status", "jsonEquals": "down"},
			status: probe.Unhealthy,
			parts:  []string{`jsonPath "status" is "up", want "down"`},
		},
		{
			name:   "a missing key is unhealthy and says where the path stopped",
			config: map[string]any{"url": srv.URL + "/health.json", "jsonPath": "checks.cache.state"},
			status: probe.Unhealthy,
			parts:  []string{`jsonPath "checks.cache.state" not found: "checks" has no key "cache"`},
		},
		{
			name:   "an index past the end of an array is unhealthy",
			config: map[string]any{"url": srv.URL + "/health.json", "jsonPath": "items.5.name"},
			status: probe.Unhealthy,
			parts:  []string{`"items" has 2 elements, so no index 5`},
		},
		{
			name:   "a body that is not JSON is unhealthy when jsonPath is set",
			config: map[string]any{"url": srv.URL + "/ok", "jsonPath": "status"},
			status: probe.Unhealthy,
			parts:  []string{"the body is not JSON"},
		},
		{
			name:   "a redirect is followed by default",
			config: map[string]any{"url": srv.URL + "/old"},
			status: probe.Healthy,
			parts:  []string{"status 200 from " + srv.URL + "/ok"},
		},
		{
			name:   "a redirect is the final response when followRedirects is false",
			config: map[string]any{"url": srv.URL + "/old", "followRedirects": false},
			status: probe.Unhealthy,
			parts:  []string{"status 302, want 2xx"},
		},
		{
			name:   "a redirect not followed is healthy when expectedStatus lists it",
			config: map[string]any{"url": srv.URL + "/old", "followRedirects": false, "expectedStatus": []int{302}},
			status: probe.Healthy,
		},
		{
			name:   "a redirect loop is unhealthy",
			config: map[string]any{"url": srv.URL + "/loop"},
			status: probe.Unhealthy,
			parts:  []string{"stopped after 10 redirects"},
		},
		{
			name:   "a HEAD request is healthy on a 200",
			config: map[string]any{"url": srv.URL + "/ok", "method": "HEAD"},
			status: probe.Healthy,
			parts:  []string{"HEAD " + srv.URL + "/ok: status 200"},
		},
		{
			name:   "a response slower than degradedLatencyMs is degraded",
			config: map[string]any{"url": srv.URL + "/slow", "degradedLatencyMs": 20},
			status: probe.Degraded,
			parts:  []string{"status 200 in ", "slower than 20ms"},
		},
		{
			name:   "a response faster than degradedLatencyMs is healthy",
			config: map[string]any{"url": srv.URL + "/ok", "degradedLatencyMs": 10000},
			status: probe.Healthy,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := check(t, probe.HTTP{}, tt.config, 10*time.Second)
			wantResult(t, res, tt.status, tt.parts...)
			if res.Latency <= 0 {
				t.Errorf("latency = %v, want it measured", res.Latency)
			}
			if _, ok := res.Details["statusCode"]; !ok {
				t.Errorf("details %v lack statusCode", res.Details)
			}
		})
	}
}

func TestHTTPRecordsDetails(t *testing.T) {
	srv := newHTTPTarget(t)
	res := check(t, probe.HTTP{}, map[string]any{"url": srv.URL + "/old"}, 10*time.Second)
	wantResult(t, res, probe.Healthy)
	want := map[string]any{"statusCode": 200, "url": srv.URL + "/ok", "responseBytes": len("all systems go")}
	for k, v := range want {
		if res.Details[k] != v {
			t.Errorf("details[%q] = %v, want %v", k, res.Details[k], v)
		}
	}
	if _, ok := res.Details["tlsDaysLeft"]; ok {
		t.Errorf("details %v have tlsDaysLeft for plain http", res.Details)
	}
}

func TestHTTPSendsTheConfiguredRequest(t *testing.T) {
	type seen struct {
		method, path, contentType, token, host, body string
	}
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got <- seen{r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("X-Token"), r.Host, string(body)}
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(srv.Close)

	res := check(t, probe.HTTP{}, map[string]any{
		"method":         "post",
		"url":            srv.URL + "/hooks",
		"headers":        map[string]string{"Content-Type": "application/json", "X-Token": "secret", "Host": "api.example.test"},
		"body":           `{"ping":true}`,
		"expectedStatus": []int{201},
	}, 10*time.Second)
	wantResult(t, res, probe.Healthy, "POST "+srv.URL+"/hooks: status 201")

	want := seen{"POST", "/hooks", "application/json", "secret", "api.example.test", `{"ping":true}`}
	if s := <-got; s != want {
		t.Errorf("server saw %+v, want %+v", s, want)
	}
}

func TestHTTPOverTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "secure") // a failed write shows up in the test's result
	}))
	// Rejected handshakes are what some cases are about; the server need
	// not log them.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	trusted := probe.HTTPTrusting(certPool(srv.Certificate()))

	tests := []struct {
		name     string
		strategy probe.HTTP
		config   map[string]any
		status   probe.Status
		parts    []string
	}{
		{
			name:     "an untrusted certificate is unhealthy when tlsVerify is on",
			strategy: probe.HTTP{},
			config:   map[string]any{"url": srv.URL},
			status:   probe.Unhealthy,
			parts:    []string{"TLS certificate not trusted", "certificate"},
		},
		{
			name:     "an untrusted certificate is healthy when tlsVerify is off",
			strategy: probe.HTTP{},
			config:   map[string]any{"url": srv.URL, "tlsVerify": false},
			status:   probe.Healthy,
		},
		{
			name:     "a trusted certificate is healthy when tlsVerify is on",
			strategy: trusted,
			config:   map[string]any{"url": srv.URL},
			status:   probe.Healthy,
		},
		{
			name:     "a certificate for another host is unhealthy when tlsVerify is on",
			strategy: trusted,
			config:   map[string]any{"url": strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)},
			status:   probe.Unhealthy,
			parts:    []string{"TLS certificate does not match the host"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := check(t, tt.strategy, tt.config, 10*time.Second)
			wantResult(t, res, tt.status, tt.parts...)
			if tt.status != probe.Healthy {
				return
			}
			leaf := srv.Certificate()
			if got, want := res.Details["tlsExpiresAt"], leaf.NotAfter.UTC().Format(time.RFC3339); got != want {
				t.Errorf("tlsExpiresAt = %v, want %v", got, want)
			}
			days, ok := res.Details["tlsDaysLeft"].(int)
			if want := int(time.Until(leaf.NotAfter).Hours() / 24); !ok || days < want-1 || days > want {
				t.Errorf("tlsDaysLeft = %v, want about %d", res.Details["tlsDaysLeft"], want)
			}
		})
	}
}

func TestHTTPReportsConnectionFailures(t *testing.T) {
	plain := newHTTPTarget(t)
	tests := []struct {
		name  string
		url   string
		parts []string
	}{
		{
			name:  "a refused connection says so",
			url:   fmt.Sprintf("http://%s/", refusedAddr(t)),
			parts: []string{"connection refused"},
		},
		{
			name:  "https to a plain http server says the server answered in plain http",
			url:   strings.Replace(plain.URL, "http:", "https:", 1) + "/ok",
			parts: []string{"server gave HTTP response to HTTPS client"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := check(t, probe.HTTP{}, map[string]any{"url": tt.url}, 10*time.Second)
			wantResult(t, res, probe.Unhealthy, append([]string{"GET " + tt.url + ": "}, tt.parts...)...)
		})
	}
}

func TestHTTPCutsOffAHungServerAtTheDeadline(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	// Cleanups run last first: release the handler, then close the server.
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })

	res := check(t, probe.HTTP{}, map[string]any{"url": srv.URL}, hangTimeout)
	wantTimedOut(t, res)
}

func TestHTTPCutsOffAHungBodyAtTheDeadline(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "partial") // as in newHTTPTarget
		w.(http.Flusher).Flush()
		<-release
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })

	res := check(t, probe.HTTP{}, map[string]any{"url": srv.URL}, hangTimeout)
	wantTimedOut(t, res)
	wantResult(t, res, probe.Unhealthy, "status 200, then timed out after 200ms reading the body")
}

func TestHTTPReadsAtMostOneMiBOfBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := strings.Repeat("x", 64<<10)
		for range 32 { // 2 MiB
			if _, err := io.WriteString(w, chunk); err != nil {
				return // the probe stopped reading
			}
		}
		_, _ = io.WriteString(w, "needle") // as above
	}))
	t.Cleanup(srv.Close)

	res := check(t, probe.HTTP{}, map[string]any{"url": srv.URL, "bodyContains": "needle"}, 10*time.Second)
	wantResult(t, res, probe.Unhealthy, `does not contain "needle"`, "first MiB read")
	if got := res.Details["responseBytes"]; got != 1<<20 {
		t.Errorf("responseBytes = %v, want %d", got, 1<<20)
	}
}
