package healthcheck

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

// benchSystems creates n systems, each with one association of one
// configuration that has run once.
func benchSystems(b *testing.B, db *store.DB, s *Service, n int) []string {
	ctx := b.Context()
	ids := addSystems(b, db, "sys", n)
	c := httpConfig(b, s, "http://127.0.0.1:1")
	for _, id := range ids {
		if _, err := s.Associate(ctx, id, c.ID, true, Thresholds{}); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Process(ctx, Run{ID: "r", ConfigurationID: c.ID, Status: Healthy, LatencyMs: 1, Source: "local", StartedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	return ids
}

// BenchmarkBulkStatus1000 reads the health of 1,000 systems: warm (all
// cached), cold (the scope emptied before each read, outside the timer)
// and uncached (the Null provider: every read queries).
func BenchmarkBulkStatus1000(b *testing.B) {
	for _, mode := range []string{"warm", "cold", "uncached"} {
		b.Run(mode, func(b *testing.B) {
			db := storetest.SQLite(b)
			var p cache.Provider = cache.NewMemory(cache.MemoryOptions{})
			if mode == "uncached" {
				p = cache.NewNull()
			}
			s := New(db, p, &recordingBus{}, quiet, Options{})
			ids := benchSystems(b, db, s, 1000)
			ctx := context.Background()
			if _, err := s.BulkHealth(ctx, ids); err != nil {
				b.Fatal(err)
			}
			queries := db.QueryCount("healthcheck")
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if mode == "cold" {
					b.StopTimer()
					s.cache.InvalidatePrefix(ctx, "")
					b.StartTimer()
				}
				if _, err := s.BulkHealth(ctx, ids); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(db.QueryCount("healthcheck")-queries)/float64(b.N), "queries/op")
		})
	}
}

// countingBus counts completed runs.
type countingBus struct {
	recordingBus
	runs atomic.Int64
}

func (c *countingBus) Broadcast(ctx context.Context, name string, payload any) error {
	if name == SignalRunCompleted {
		c.runs.Add(1)
	}
	return nil
}

// BenchmarkCheckThroughput measures how many checks per second the worker
// pool runs and records: 50 HTTP configurations against a local server,
// each associated with a system, 16 workers, SQLite.
func BenchmarkCheckThroughput(b *testing.B) {
	db := storetest.SQLite(b)
	bus := &countingBus{}
	s := New(db, cache.NewMemory(cache.MemoryOptions{}), bus, quiet, Options{})
	target := newTarget(b)
	defer target.Close()
	ctx := b.Context()
	var configs []Configuration
	for i := range 50 {
		id := fmt.Sprintf("sys%02d", i)
		if _, err := db.For("test").ExecContext(ctx, `INSERT INTO catalog_systems (id, name, created_at, updated_at) VALUES (?, ?, 0, 0)`, id, id); err != nil {
			b.Fatal(err)
		}
		c := httpConfig(b, s, target.URL)
		s.Associate(ctx, id, c.ID, true, Thresholds{})
		configs = append(configs, c)
	}
	sched := NewScheduler(s, SchedulerOptions{Workers: 16, QueueSize: b.N + 100, Tick: time.Hour, FirstRunJitter: time.Hour})
	sched.Start(ctx)
	defer sched.Stop(context.Background())
	start := bus.runs.Load()
	b.ResetTimer()
	began := time.Now()
	for i := range b.N {
		if err := sched.queue.Enqueue(ctx, Job{Configuration: configs[i%len(configs)]}); err != nil {
			b.Fatal(err)
		}
	}
	for bus.runs.Load()-start < int64(b.N) {
		time.Sleep(100 * time.Microsecond) // waiting for the workers to finish
	}
	b.ReportMetric(float64(b.N)/time.Since(began).Seconds(), "runs/s")
}
