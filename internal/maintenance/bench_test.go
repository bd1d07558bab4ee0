package maintenance

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/clocktest"
	"github.com/checkstack/checkstack/internal/rpc"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

// benchWindows makes n systems on SQLite, a scheduled window on every
// pair of them, a weekly recurring one on every tenth, and a completed
// one on every fifth.
func benchWindows(b *testing.B, p cache.Provider, n int) (*Service, *store.DB, []string) {
	b.Helper()
	ctx := context.Background()
	db := storetest.SQLite(b)
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
	clk := clocktest.New(t0)
	svc := New(db, p, &recordingBus{}, quiet, Options{Clock: clk})
	for i := 0; i+1 < n; i += 2 {
		title, start, end := fmt.Sprint("window ", i), t0.Add(time.Duration(i)*time.Hour), t0.Add(time.Duration(i+1)*time.Hour)
		in := WindowInput{Title: &title, Description: ptr("planned"), StartAt: &start, EndAt: &end, SystemIDs: ids[i : i+2]}
		if i%10 == 0 {
			in.Recurrence = ptr(&Recurrence{Rule: "FREQ=WEEKLY;BYDAY=SA", Timezone: "Europe/Berlin"})
		}
		w, err := svc.Create(ctx, admin, in)
		if err != nil {
			b.Fatal(err)
		}
		if i%5 == 0 && in.Recurrence == nil {
			if _, err := svc.Cancel(ctx, admin, w.ID, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	return svc, db, ids
}

// BenchmarkBulkMaintenances200 is getBulkMaintenancesForSystems for 200
// systems as the procedure serves it: warm, cold and uncached, as
// BenchmarkBulkIncidents200.
func BenchmarkBulkMaintenances200(b *testing.B) {
	for _, mode := range []string{"warm", "cold", "uncached"} {
		b.Run(mode, func(b *testing.B) {
			var p cache.Provider = cache.NewMemory(cache.MemoryOptions{})
			if mode == "uncached" {
				p = cache.NewNull()
			}
			svc, db, ids := benchWindows(b, p, 200)
			ctx := context.Background()
			if _, err := svc.SystemsJSON(ctx, ids); err != nil {
				b.Fatal(err)
			}
			queries := db.QueryCount("maintenance")
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
				if _, _, err := svc.getBulkMaintenancesForSystems(ctx, &rpc.Request{Principal: rpc.Principal{UserID: "reader"}}, bulkInput{SystemIDs: ids}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(db.QueryCount("maintenance")-queries)/float64(b.N), "queries/op")
		})
	}
}
