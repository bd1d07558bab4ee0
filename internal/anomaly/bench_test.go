package anomaly

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/clocktest"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

// BenchmarkBulkAnomalies200 is getBulkAnomaliesForSystems for 200 systems,
// one open anomaly on every fifth: warm, cold (the scope emptied before
// each read, outside the timer) and uncached (the Null provider).
func BenchmarkBulkAnomalies200(b *testing.B) {
	for _, mode := range []string{"warm", "cold", "uncached"} {
		b.Run(mode, func(b *testing.B) {
			ctx := context.Background()
			db := storetest.SQLite(b)
			var p cache.Provider = cache.NewMemory(cache.MemoryOptions{})
			if mode == "uncached" {
				p = cache.NewNull()
			}
			clk := clocktest.New(t0)
			svc := New(db, p, &recordingBus{}, quiet, Options{Clock: clk})
			ids := make([]string, 200)
			err := db.For("test").InTx(ctx, func(tx *store.Tx) error {
				if _, err := tx.ExecContext(ctx, `INSERT INTO healthcheck_configurations (id, name, strategy, config, interval_seconds,
					timeout_seconds, enabled, created_at, updated_at) VALUES ('c', 'c', 'http', '{}', 60, 5, TRUE, 0, 0)`); err != nil {
					return err
				}
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
			for i := 0; i < len(ids); i += 5 {
				if err := svc.observe(ctx, ids[i], "c", []observation{{field: FieldLatency, kind: Spike, value: 400,
					verdict: Verdict{Anomalous: true, Deviation: 20}, at: t0.Add(time.Second), confirm: 3, recover: 1}}); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := svc.SystemsJSON(ctx, ids); err != nil {
				b.Fatal(err)
			}
			queries := db.QueryCount("anomaly")
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
				if _, _, err := svc.getBulkAnomaliesForSystems(ctx, nil, bulkInput{SystemIDs: ids}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(db.QueryCount("anomaly")-queries)/float64(b.N), "queries/op")
		})
	}
}
