package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// ServerStats is how much the server's counters on GET /metrics grew
// during the run. They are the whole server's: other clients and
// background work count too.
type ServerStats struct {
	Requests    float64 // checkstack_http_requests_total, every procedure and status
	Queries     float64 // checkstack_db_queries_total, every domain
	CacheHits   float64 // checkstack_cache_events_total{event="hit"}, every scope
	CacheMisses float64 // checkstack_cache_events_total{event="miss"}, every scope
}

// QueriesPerRequest is Queries / Requests; ok is false when there was no
// request.
func (s ServerStats) QueriesPerRequest() (q float64, ok bool) {
	if s.Requests <= 0 {
		return 0, false
	}
	return s.Queries / s.Requests, true
}

// HitRatio is the share of cache lookups that hit, from 0 to 1; ok is
// false when there was no lookup.
func (s ServerStats) HitRatio() (ratio float64, ok bool) {
	if s.CacheHits+s.CacheMisses <= 0 {
		return 0, false
	}
	return s.CacheHits / (s.CacheHits + s.CacheMisses), true
}

// Metric names and labels read from /metrics.
const (
	metricRequests = "checkstack_http_requests_total"
	metricQueries  = "checkstack_db_queries_total"
	metricCache    = "checkstack_cache_events_total"
	labelEvent     = "event"
)

// counters are the server's counters at one scrape.
type counters struct {
	ServerStats
	served bool // the scrape had checkstack_http_requests_total
}

// scrape reads the server's counters from GET /metrics.
func scrape(ctx context.Context, c *client) (counters, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.server+"/metrics", nil)
	if err != nil {
		return counters{}, fmt.Errorf("GET /metrics: %w", err)
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	req.Header.Set("Authorization", "Bearer "+c.key)
	res, err := c.http.Do(req)
	if err != nil {
		return counters{}, fmt.Errorf("GET /metrics: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return counters{}, fmt.Errorf("GET /metrics: HTTP %d", res.StatusCode)
	}
	n, err := parseCounters(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return counters{}, fmt.Errorf("GET /metrics: %w", err)
	}
	return n, nil
}

// parseCounters reads the counters a report needs from Prometheus's text
// format, summing every series of each. A counter that is absent is 0.
func parseCounters(r io.Reader) (counters, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(r)
	if err != nil {
		return counters{}, fmt.Errorf("parse: %w", err)
	}
	var c counters
	if f, ok := families[metricRequests]; ok {
		c.served = true
		c.Requests = sum(f, nil)
	}
	if f, ok := families[metricQueries]; ok {
		c.Queries = sum(f, nil)
	}
	if f, ok := families[metricCache]; ok {
		c.CacheHits = sum(f, func(m *dto.Metric) bool { return label(m, labelEvent) == "hit" })
		c.CacheMisses = sum(f, func(m *dto.Metric) bool { return label(m, labelEvent) == "miss" })
	}
	return c, nil
}

// sum adds the values of f's series that keep accepts (all with nil).
func sum(f *dto.MetricFamily, keep func(*dto.Metric) bool) float64 {
	var total float64
	for _, m := range f.GetMetric() {
		if keep != nil && !keep(m) {
			continue
		}
		switch {
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Untyped != nil:
			total += m.GetUntyped().GetValue()
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		}
	}
	return total
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// errRestarted: a counter went down between the scrapes.
var errRestarted = errors.New("the server's counters went down between the scrapes (did it restart, or answer from another instance?)")

// since returns how much the counters grew from before to c.
func (c counters) since(before counters) (*ServerStats, error) {
	if !c.served {
		return nil, fmt.Errorf("GET /metrics has no %s: is this a checkstack server?", metricRequests)
	}
	d := ServerStats{
		Requests:    c.Requests - before.Requests,
		Queries:     c.Queries - before.Queries,
		CacheHits:   c.CacheHits - before.CacheHits,
		CacheMisses: c.CacheMisses - before.CacheMisses,
	}
	if d.Requests < 0 || d.Queries < 0 || d.CacheHits < 0 || d.CacheMisses < 0 {
		return nil, errRestarted
	}
	return &d, nil
}
