package main

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/checkstack/checkstack/internal/store"
)

// BenchmarkStartup is serve's time to "listening" on an empty database
// and on one with 10,000 systems (SQLite): start-up must not grow with the
// catalog. Work that does (syncing the systems' notification groups) runs
// beside serving. ns/op is from run's start to the listening line; the
// shutdown after it is not timed.
//
//	go test -run '^$' -bench Startup -benchtime 10x ./cmd/checkstack/
func BenchmarkStartup(b *testing.B) {
	for _, systems := range []int{0, 10_000} {
		b.Run(fmt.Sprintf("systems=%d", systems), func(b *testing.B) {
			database := filepath.Join(b.TempDir(), "checkstack.db")
			cli(b, "", "migrate", "--database", database, "--log-level", "warn")
			seedSystems(b, database, systems)
			b.ResetTimer()
			for range b.N {
				in := start(b, database)
				b.StopTimer()
				in.stop()
				b.StartTimer()
			}
		})
	}
}

// seedSystems inserts n systems straight into the database, as if they
// had been created while no server ran the hooks.
func seedSystems(b *testing.B, database string, n int) {
	ctx := context.Background()
	db, err := store.Open(ctx, database, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	now := store.Micros(time.Now())
	err = db.For("seed").InTx(ctx, func(tx *store.Tx) error {
		for i := range n {
			if _, err := tx.ExecContext(ctx, `INSERT INTO catalog_systems (id, name, created_at, updated_at) VALUES (?, ?, ?, ?)`,
				fmt.Sprintf("sys%05d", i), fmt.Sprintf("system %05d", i), now, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}
