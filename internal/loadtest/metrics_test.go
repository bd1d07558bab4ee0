package loadtest

import (
	"errors"
	"strings"
	"testing"
)

// scrapeText is /metrics as the server writes it, trimmed.
const scrapeText = `# HELP checkstack_cache_events_total Cache events by scope: hit, miss, load, shared_wait, stale_write_dropped, load_error, panic.
# TYPE checkstack_cache_events_total counter
checkstack_cache_events_total{event="hit",scope="catalog"} 120
checkstack_cache_events_total{event="hit",scope="health"} 30
checkstack_cache_events_total{event="load",scope="catalog"} 7
checkstack_cache_events_total{event="miss",scope="catalog"} 7
checkstack_cache_events_total{event="miss",scope="health"} 3
checkstack_cache_events_total{event="shared_wait",scope="catalog"} 2
# HELP checkstack_db_queries_total Database queries by domain.
# TYPE checkstack_db_queries_total counter
checkstack_db_queries_total{domain="auth"} 4
checkstack_db_queries_total{domain="catalog"} 9
checkstack_db_queries_total{domain="healthcheck"} 2.5e+01
# HELP checkstack_http_request_duration_seconds API request latency by procedure.
# TYPE checkstack_http_request_duration_seconds histogram
checkstack_http_request_duration_seconds_bucket{procedure="catalog/getSystems",le="0.001"} 40
checkstack_http_request_duration_seconds_bucket{procedure="catalog/getSystems",le="+Inf"} 41
checkstack_http_request_duration_seconds_sum{procedure="catalog/getSystems"} 0.05
checkstack_http_request_duration_seconds_count{procedure="catalog/getSystems"} 41
# HELP checkstack_http_requests_total API requests by procedure and status code.
# TYPE checkstack_http_requests_total counter
checkstack_http_requests_total{procedure="catalog/getSystems",status="200"} 40
checkstack_http_requests_total{procedure="catalog/getSystems",status="401"} 1
checkstack_http_requests_total{procedure="healthcheck/getBulkSystemHealthStatus",status="200"} 59
# HELP checkstack_signal_streams Signal streams (GET /api/signals) this instance serves now.
# TYPE checkstack_signal_streams gauge
checkstack_signal_streams 4
# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 42
`

func TestLoadtestParsesEverySeriesOfEachCounter(t *testing.T) {
	c, err := parseCounters(strings.NewReader(scrapeText))
	if err != nil {
		t.Fatal(err)
	}
	want := counters{ServerStats: ServerStats{Requests: 100, Queries: 38, CacheHits: 150, CacheMisses: 10}, served: true}
	if c != want {
		t.Fatalf("parseCounters = %+v, want %+v", c, want)
	}
}

func TestLoadtestParseCounters(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       counters
		err        bool
	}{
		{
			name: "counters a fresh server has not created yet count as zero",
			text: "# TYPE checkstack_http_requests_total counter\ncheckstack_http_requests_total{procedure=\"a/b\",status=\"200\"} 1\n",
			want: counters{ServerStats: ServerStats{Requests: 1}, served: true},
		},
		{
			name: "a page without the request counter is not a checkstack server's",
			text: "# TYPE go_goroutines gauge\ngo_goroutines 3\n",
			want: counters{},
		},
		{
			name: "untyped samples are read too",
			text: "checkstack_db_queries_total{domain=\"slo\"} 2\ncheckstack_db_queries_total{domain=\"auth\"} 3\n",
			want: counters{ServerStats: ServerStats{Queries: 5}},
		},
		{
			name: "cache events other than hit and miss are left out",
			text: "checkstack_cache_events_total{scope=\"a\",event=\"load\"} 9\ncheckstack_cache_events_total{scope=\"a\",event=\"hit\"} 1\n",
			want: counters{ServerStats: ServerStats{CacheHits: 1}},
		},
		{
			name: "an empty page has no counters",
			text: "",
			want: counters{},
		},
		{
			name: "a page that is not the text format is an error",
			text: "<html><body>sign in</body></html>\n",
			err:  true,
		},
		{
			name: "a sample that is not a number is an error",
			text: "checkstack_db_queries_total{domain=\"slo\"} many\n",
			err:  true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseCounters(strings.NewReader(tc.text))
			if tc.err {
				if err == nil {
					t.Fatalf("parseCounters = %+v, want an error", c)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c != tc.want {
				t.Fatalf("parseCounters = %+v, want %+v", c, tc.want)
			}
		})
	}
}

func TestLoadtestCountersSince(t *testing.T) {
	before := counters{ServerStats: ServerStats{Requests: 10, Queries: 20, CacheHits: 30, CacheMisses: 5}, served: true}

	t.Run("the change is each counter's growth", func(t *testing.T) {
		after := counters{ServerStats: ServerStats{Requests: 110, Queries: 25, CacheHits: 330, CacheMisses: 5}, served: true}
		got, err := after.since(before)
		if err != nil {
			t.Fatal(err)
		}
		if want := (ServerStats{Requests: 100, Queries: 5, CacheHits: 300}); *got != want {
			t.Fatalf("since = %+v, want %+v", *got, want)
		}
		if q, ok := got.QueriesPerRequest(); !ok || q != 0.05 {
			t.Fatalf("QueriesPerRequest = %v, %v; want 0.05", q, ok)
		}
		if h, ok := got.HitRatio(); !ok || h != 1 {
			t.Fatalf("HitRatio = %v, %v; want 1", h, ok)
		}
	})
	t.Run("a counter that went down means the server restarted", func(t *testing.T) {
		after := counters{ServerStats: ServerStats{Requests: 3, Queries: 25, CacheHits: 330, CacheMisses: 5}, served: true}
		if got, err := after.since(before); !errors.Is(err, errRestarted) {
			t.Fatalf("since = %v, %v; want errRestarted", got, err)
		}
	})
	t.Run("a page without the request counter is an error", func(t *testing.T) {
		if got, err := (counters{}).since(counters{}); err == nil || !strings.Contains(err.Error(), metricRequests) {
			t.Fatalf("since = %v, %v; want an error naming %s", got, err, metricRequests)
		}
	})
	t.Run("no request and no lookup have no ratios", func(t *testing.T) {
		var s ServerStats
		if _, ok := s.QueriesPerRequest(); ok {
			t.Fatal("QueriesPerRequest ok without requests")
		}
		if _, ok := s.HitRatio(); ok {
			t.Fatal("HitRatio ok without lookups")
		}
	})
}
