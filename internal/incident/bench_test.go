package incident

import (
	"context"
	"fmt"
	"testing"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/rpc"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

// benchIncidents makes n systems on SQLite with an unresolved incident on
// every pair of them (each system in one), a resolved one on every tenth,
// and a timeline of two updates each.
func benchIncidents(b *testing.B, p cache.Provider, n int) (*Service, *store.DB, []string) {
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
	svc := New(db, p, &recordingBus{}, quiet, Options{})
	for i := 0; i+1 < n; i += 2 {
		d, err := svc.Create(ctx, admin, CreateInput{Title: fmt.Sprint("incident ", i), Description: ptr("what happened"),
			SystemIDs: ids[i : i+2], InitialMessage: ptr("Investigating")})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := svc.AddUpdate(ctx, admin, d.ID, "Identified", ptr(Identified)); err != nil {
			b.Fatal(err)
		}
		if i%10 == 0 {
			old, err := svc.Create(ctx, admin, CreateInput{Title: "old", SystemIDs: ids[i : i+1]})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := svc.Resolve(ctx, admin, old.ID, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	return svc, db, ids
}

// BenchmarkBulkIncidents200 is getBulkIncidentsForSystems for 200 systems
// as the procedure serves it (SystemsJSON, stitched): warm (every system
// cached), cold (the scope emptied before each read, outside the timer)
// and uncached (the Null provider, as with --cache off).
func BenchmarkBulkIncidents200(b *testing.B) {
	for _, mode := range []string{"warm", "cold", "uncached"} {
		b.Run(mode, func(b *testing.B) {
			var p cache.Provider = cache.NewMemory(cache.MemoryOptions{})
			if mode == "uncached" {
				p = cache.NewNull()
			}
			svc, db, ids := benchIncidents(b, p, 200)
			ctx := context.Background()
			if _, err := svc.SystemsJSON(ctx, ids); err != nil {
				b.Fatal(err)
			}
			queries := db.QueryCount("incident")
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
				if _, _, err := svc.getBulkIncidentsForSystems(ctx, &rpc.Request{Principal: rpc.Principal{UserID: "reader"}}, bulkInput{SystemIDs: ids}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(db.QueryCount("incident")-queries)/float64(b.N), "queries/op")
		})
	}
}
