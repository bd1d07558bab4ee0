package loadtest

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Report is what a Run did and how the server answered.
type Report struct {
	Users   int // simulated users
	Systems int // systems the bulk reads asked for (at most Options.Systems)
	Created int // systems Options.Seed created before the run

	Elapsed time.Duration // from the users' start to the last one's end
	// Requests is how many requests got an answer, whatever its status;
	// requests that got none are errors only, and requests cut off by
	// the end of the run are not counted.
	Requests int64
	Latency  Latency
	// Errors counts failures by kind: "HTTP 500" (any answer but 2xx),
	// "timeout", "connection refused", "connection reset",
	// "connection closed", "transport error", "bad response" (a 2xx
	// answer that could not be decoded), and for the signal streams the
	// same kinds prefixed "stream ", and "stream ended" for a stream the
	// server ended during the run. Nil when there were none.
	Errors map[string]int64

	Signals int64 // signal events received, on all streams
	Streams int64 // signal streams opened, reconnections included

	// Server is what the server's counters say about the run; nil when
	// they could not be read, and then ServerErr says why.
	Server    *ServerStats
	ServerErr error
}

// Latency is the distribution of the requests' latencies, from sending a
// request to reading its answer to the end; zero without requests.
type Latency struct {
	P50, P95, P99, Max time.Duration
}

// Throughput is requests per second over the run.
func (r *Report) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// ErrorCount is the number of errors of every kind.
func (r *Report) ErrorCount() int64 {
	var n int64
	for _, v := range r.Errors {
		n += v
	}
	return n
}

// String is the report as people read it, one line per subject:
//
//	users      10, asking about 50 systems (50 created)
//	elapsed    30.002s
//	requests   6120 (204.0 req/s)
//	latency    p50 1.21ms, p95 4.87ms, p99 9.98ms, max 31.2ms
//	errors     2 (HTTP 503: 1, timeout: 1)
//	signals    40 received on 10 streams
//	queries    0.012 per API request (75 database queries, 6132 API requests)
//	cache      hit ratio 0.994 (24090 hits, 145 misses)
func (r *Report) String() string {
	var b strings.Builder
	line := func(subject, format string, args ...any) {
		fmt.Fprintf(&b, "%-10s %s\n", subject, fmt.Sprintf(format, args...))
	}
	created := ""
	if r.Created > 0 {
		created = fmt.Sprintf(" (%d created)", r.Created)
	}
	line("users", "%d, asking about %d systems%s", r.Users, r.Systems, created)
	line("elapsed", "%s", round(r.Elapsed))
	line("requests", "%d (%.1f req/s)", r.Requests, r.Throughput())
	line("latency", "p50 %s, p95 %s, p99 %s, max %s", round(r.Latency.P50), round(r.Latency.P95), round(r.Latency.P99), round(r.Latency.Max))
	if n := r.ErrorCount(); n == 0 {
		line("errors", "0")
	} else {
		var kinds []string
		for _, k := range slices.Sorted(maps.Keys(r.Errors)) {
			kinds = append(kinds, fmt.Sprintf("%s: %d", k, r.Errors[k]))
		}
		line("errors", "%d (%s)", n, strings.Join(kinds, ", "))
	}
	line("signals", "%d received on %d streams", r.Signals, r.Streams)
	if r.Server == nil {
		line("server", "no figures: %v", r.ServerErr)
		return b.String()
	}
	s := r.Server
	if q, ok := s.QueriesPerRequest(); ok {
		line("queries", "%.3f per API request (%.0f database queries, %.0f API requests)", q, s.Queries, s.Requests)
	} else {
		line("queries", "none counted: the server counted no API request (%.0f database queries)", s.Queries)
	}
	if h, ok := s.HitRatio(); ok {
		line("cache", "hit ratio %.3f (%.0f hits, %.0f misses)", h, s.CacheHits, s.CacheMisses)
	} else {
		line("cache", "no lookups")
	}
	return b.String()
}

// round keeps a duration's three or four significant digits.
func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}

// Latencies are recorded in microseconds, from 1µs to a minute, to three
// significant digits.
const (
	lowest  = 1
	highest = int64(time.Minute / time.Microsecond)
)

// recorder collects a run's figures; its methods are safe for concurrent
// use.
type recorder struct {
	mu       sync.Mutex
	total    *hdrhistogram.Histogram // the whole run
	window   *hdrhistogram.Histogram // since the last progress line
	requests int64
	errors   map[string]int64

	signals, streams atomic.Int64
}

func newRecorder() *recorder {
	return &recorder{
		total:  hdrhistogram.New(lowest, highest, 3),
		window: hdrhistogram.New(lowest, highest, 3),
		errors: map[string]int64{},
	}
}

// record counts a request that took d, and its error kind unless "".
func (r *recorder) record(d time.Duration, kind string) {
	v := min(max(d.Microseconds(), lowest), highest)
	r.mu.Lock()
	defer r.mu.Unlock()
	// Cannot fail: v is within the histograms' range.
	_ = r.total.RecordValue(v)
	_ = r.window.RecordValue(v)
	r.requests++
	if kind != "" {
		r.errors[kind]++
	}
}

// fail counts an error that is not a request's answer.
func (r *recorder) fail(kind string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors[kind]++
}

func (r *recorder) signal() { r.signals.Add(1) }
func (r *recorder) opened() { r.streams.Add(1) }

// report returns the figures so far.
func (r *recorder) report(elapsed time.Duration) *Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := &Report{
		Elapsed:  elapsed,
		Requests: r.requests,
		Signals:  r.signals.Load(),
		Streams:  r.streams.Load(),
	}
	if len(r.errors) > 0 {
		rep.Errors = maps.Clone(r.errors)
	}
	if r.total.TotalCount() > 0 {
		rep.Latency = Latency{
			P50: micros(r.total.ValueAtPercentile(50)),
			P95: micros(r.total.ValueAtPercentile(95)),
			P99: micros(r.total.ValueAtPercentile(99)),
			Max: micros(r.total.Max()),
		}
	}
	return rep
}

func micros(v int64) time.Duration { return time.Duration(v) * time.Microsecond }

// progress writes a progress line every second, in place (overwrite), or
// every 5 seconds on a line of its own, until ctx ends. Its rate and p99
// are those since the line before.
func (r *recorder) progress(ctx context.Context, w io.Writer, overwrite bool, start time.Time) {
	every := 5 * time.Second
	if overwrite {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	last, width := start, 0
	for {
		select {
		case <-ctx.Done():
			if overwrite && width > 0 {
				_, _ = io.WriteString(w, "\n") // progress is best effort
			}
			return
		case now := <-t.C:
			r.mu.Lock()
			requests, errs := r.requests, int64(0)
			for _, n := range r.errors {
				errs += n
			}
			n, p99 := r.window.TotalCount(), micros(r.window.ValueAtPercentile(99))
			r.window.Reset()
			r.mu.Unlock()
			p := "-"
			if n > 0 {
				p = round(p99).String()
			}
			line := fmt.Sprintf("%s: %d requests, %.1f req/s, %d errors, p99 %s",
				now.Sub(start).Truncate(time.Second), requests, float64(n)/now.Sub(last).Seconds(), errs, p)
			last = now
			if overwrite {
				// Pad over what is left of a longer line before.
				_, _ = fmt.Fprintf(w, "\r%-*s", width, line) // progress is best effort
				width = max(width, len(line))
			} else {
				_, _ = fmt.Fprintln(w, line) // progress is best effort
			}
		}
	}
}
