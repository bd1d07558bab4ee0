package server

import (
	"github.com/checkstack/checkstack/cache"
	"github.com/prometheus/client_golang/prometheus"
)

// CacheCollector exports each scope's cache.Stats as Prometheus counters
// labelled by scope. It reads the counters at scrape time.
func CacheCollector(scopes ...*cache.Scope) prometheus.Collector {
	return cacheCollector(scopes)
}

type cacheCollector []*cache.Scope

var (
	cacheEvents = prometheus.NewDesc("checkstack_cache_events_total",
		"Cache events by scope: hit, miss, load, shared_wait, stale_write_dropped, load_error, panic.",
		[]string{"scope", "event"}, nil)
	cacheErrors = prometheus.NewDesc("checkstack_cache_provider_errors_total",
		"Cache provider errors by scope and operation.",
		[]string{"scope", "op"}, nil)
)

func (c cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- cacheEvents
	ch <- cacheErrors
}

func (c cacheCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c {
		st := s.Stats()
		for _, e := range []struct {
			name string
			n    uint64
		}{
			{"hit", st.Hits}, {"miss", st.Misses}, {"load", st.Loads}, {"shared_wait", st.SharedWaits},
			{"stale_write_dropped", st.StaleWritesDropped}, {"load_error", st.LoadErrors}, {"panic", st.Panics},
		} {
			ch <- prometheus.MustNewConstMetric(cacheEvents, prometheus.CounterValue, float64(e.n), s.Name(), e.name)
		}
		for _, e := range []struct {
			op string
			n  uint64
		}{
			{"get", st.GetErrors}, {"set", st.SetErrors}, {"delete", st.DeleteErrors}, {"deleteByPrefix", st.DeleteByPrefixErrors},
		} {
			ch <- prometheus.MustNewConstMetric(cacheErrors, prometheus.CounterValue, float64(e.n), s.Name(), e.op)
		}
	}
}
