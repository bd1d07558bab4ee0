package slo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/healthcheck"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

type benchBus struct{}

func (benchBus) Broadcast(context.Context, string, any) error          { return nil }
func (benchBus) SendToUser(context.Context, string, string, any) error { return nil }

// benchSystems makes n systems on SQLite, each with one check that has
// run and one objective, and a day of past outages (three closed events)
// on every tenth.
func benchSystems(b *testing.B, p cache.Provider, n int) (*Service, *store.DB, []string) {
	b.Helper()
	ctx := context.Background()
	db := storetest.SQLite(b)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	health := healthcheck.New(db, cache.NewMemory(cache.MemoryOptions{}), benchBus{}, log, healthcheck.Options{})
	svc := New(db, p, benchBus{}, health, log, Options{})
	ids := make([]string, n)
	err := db.For("test").InTx(ctx, func(tx *store.Tx) error {
		for i := range ids {
			ids[i] = fmt.Sprintf("sys%04d", i)
			if _, err := tx.ExecContext(ctx, `INSERT INTO catalog_systems (id, name, created_at, updated_at) VALUES (?, ?, 0, 0)`, ids[i], ids[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	c, err := health.CreateConfiguration(ctx, healthcheck.ConfigurationInput{Name: ptr("home"), Strategy: ptr("http"),
		Config: json.RawMessage(`{"url":"http://127.0.0.1:1/"}`), IntervalSeconds: ptr(60), TimeoutSeconds: ptr(5)})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	for i, id := range ids {
		if _, err := health.Associate(ctx, id, c.ID, true, healthcheck.Thresholds{}); err != nil {
			b.Fatal(err)
		}
		o, err := svc.CreateObjective(ctx, ObjectiveInput{SystemID: &ids[i], Name: ptr("up"), Target: ptr(99.9), WindowDays: ptr(30)})
		if err != nil {
			b.Fatal(err)
		}
		if i%10 != 0 {
			continue
		}
		for k := range 3 {
			start := now.Add(-time.Duration(k+1) * 6 * time.Hour)
			if _, err := db.For("test").ExecContext(ctx, `INSERT INTO slo_downtime_events (id, objective_id, system_id, started_at, ended_at, attribution)
				VALUES (?, ?, ?, ?, ?, 'self')`, fmt.Sprintf("%s-%d", id, k), o.Objective.ID, id, store.Micros(start), store.Micros(start.Add(10*time.Minute))); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := health.Process(ctx, healthcheck.Run{ID: "r", ConfigurationID: c.ID, Status: healthcheck.Healthy, Source: "local", StartedAt: now}); err != nil {
		b.Fatal(err)
	}
	return svc, db, ids
}

// BenchmarkBulkObjectives200 is getBulkObjectivesForSystems for 200
// systems as the procedure serves it (SystemsJSON): warm (every system
// cached), cold (the scope emptied before each read, outside the timer:
// each read loads and caches all 200), and uncached (the Null provider).
func BenchmarkBulkObjectives200(b *testing.B) {
	for _, mode := range []string{"warm", "cold", "uncached"} {
		b.Run(mode, func(b *testing.B) {
			var p cache.Provider = cache.NewMemory(cache.MemoryOptions{})
			if mode == "uncached" {
				p = cache.NewNull()
			}
			svc, db, ids := benchSystems(b, p, 200)
			ctx := context.Background()
			if _, err := svc.SystemsJSON(ctx, ids); err != nil {
				b.Fatal(err)
			}
			queries := db.QueryCount("slo")
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if mode == "cold" {
					b.StopTimer()
					if _, err := svc.cache.InvalidatePrefix(ctx, ""); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				if _, err := svc.SystemsJSON(ctx, ids); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(db.QueryCount("slo")-queries)/float64(b.N), "queries/op")
		})
	}
}
