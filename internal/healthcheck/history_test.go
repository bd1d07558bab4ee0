package healthcheck

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

func TestHistory(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		s, _ := newService(t, db)
		c := httpConfig(t, s, "http://127.0.0.1:1")
		t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		// Two hours of runs, one a minute: latency i ms, every 10th unhealthy, every 7th degraded.
		for i := range 120 {
			st := Healthy
			switch {
			case i%10 == 0:
				st = Unhealthy
			case i%7 == 0:
				st = Degraded
			}
			r := Run{ID: fmt.Sprintf("r%03d", i), ConfigurationID: c.ID, Status: st, LatencyMs: float64(i + 1),
				Details: json.RawMessage(`{}`), Source: "local", StartedAt: t0.Add(time.Duration(i) * time.Minute)}
			if err := s.Process(ctx, r); err != nil {
				t.Fatal(err)
			}
		}

		t.Run("pages newest first and the cursor continues without overlap", func(t *testing.T) {
			var seen []string
			cursor := ""
			for {
				p, err := s.History(ctx, c.ID, t0, t0.Add(2*time.Hour), 50, cursor)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range p.Runs {
					seen = append(seen, r.ID)
				}
				if cursor = p.NextCursor; cursor == "" {
					break
				}
			}
			if len(seen) != 120 || seen[0] != "r119" || seen[119] != "r000" {
				t.Fatalf("paged %d runs, first %s last %s", len(seen), seen[0], seen[len(seen)-1])
			}
		})

		t.Run("the range bounds the runs", func(t *testing.T) {
			p, _ := s.History(ctx, c.ID, t0.Add(30*time.Minute), t0.Add(40*time.Minute), 500, "")
			if len(p.Runs) != 10 || p.Runs[0].ID != "r039" || p.NextCursor != "" {
				t.Fatalf("[30m, 40m): %d runs, first %s", len(p.Runs), p.Runs[0].ID)
			}
		})

		t.Run("hourly aggregates count, rate and latency", func(t *testing.T) {
			bs, err := s.AggregatedHistory(ctx, c.ID, t0, t0.Add(2*time.Hour), 48)
			if err != nil || len(bs) != 2 {
				t.Fatalf("buckets %+v, %v", bs, err)
			}
			b := bs[0] // 10:00–11:00: latencies 1..60 ms
			if b.Runs != 60 || b.Failures != 6 || b.Degraded != 8 || b.MaxLatencyMs != 60 {
				t.Fatalf("first hour %+v", b)
			}
			if b.AvgLatencyMs != 30.5 || b.P50LatencyMs != 50 || b.P95LatencyMs != 60 {
				t.Fatalf("first hour latency avg %v p50 %v p95 %v; want 30.5, 50 (bucket ≤50), 60 (capped at max)", b.AvgLatencyMs, b.P50LatencyMs, b.P95LatencyMs)
			}
			if want := float64(60-6-8) / 60 * 100; b.SuccessRate != want {
				t.Fatalf("success rate %v, want %v", b.SuccessRate, want)
			}
			one, _ := s.AggregatedHistory(ctx, c.ID, t0, t0.Add(2*time.Hour), 1)
			if len(one) != 1 || one[0].Runs != 120 || one[0].End.Sub(one[0].Start) != 2*time.Hour {
				t.Fatalf("one point over two hours: %+v", one)
			}
		})

		t.Run("retention purges old runs and aggregates", func(t *testing.T) {
			s.opts.Now = func() time.Time { return t0.Add(8 * 24 * time.Hour) }
			if err := s.Purge(ctx); err != nil {
				t.Fatal(err)
			}
			p, _ := s.History(ctx, c.ID, t0, t0.Add(2*time.Hour), 500, "")
			bs, _ := s.AggregatedHistory(ctx, c.ID, t0, t0.Add(2*time.Hour), 48)
			if len(p.Runs) != 0 || len(bs) != 2 {
				t.Fatalf("after 8 days: %d runs (want 0), %d hourly buckets (want 2, kept a year)", len(p.Runs), len(bs))
			}
			s.opts.Now = func() time.Time { return t0.Add(366 * 24 * time.Hour) }
			s.Purge(ctx)
			if bs, _ := s.AggregatedHistory(ctx, c.ID, t0, t0.Add(2*time.Hour), 48); len(bs) != 0 {
				t.Fatalf("after a year: %d hourly buckets", len(bs))
			}
		})
	})
}

func TestPercentile(t *testing.T) {
	counts := make([]int64, len(latencyBounds)+1)
	counts[bucketOf(3)] = 90  // ≤5 ms
	counts[bucketOf(400)] = 9 // ≤500 ms
	counts[bucketOf(90000)] = 1
	if p := percentile(counts, 0.5, 90000); p != 5 {
		t.Errorf("p50 %v", p)
	}
	if p := percentile(counts, 0.95, 90000); p != 500 {
		t.Errorf("p95 %v", p)
	}
	if p := percentile(counts, 1, 90000); p != 90000 {
		t.Errorf("p100 %v, want the max for the open bucket", p)
	}
}
