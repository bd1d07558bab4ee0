package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

// BenchmarkQueryRow is the shape of an authenticated request's lookup: one
// row by primary key on SQLite, through a handle, as auth reads a session
// (SELECT user_id, expires_at FROM auth_sessions WHERE token_hash = ?).
// "serial" is one goroutine; "parallel" is GOMAXPROCS goroutines at once.
func BenchmarkQueryRow(b *testing.B) {
	const rows = 1000
	db := storetest.SQLite(b)
	ctx := context.Background()
	h := db.For("bench")
	if _, err := h.ExecContext(ctx, `CREATE TABLE bench_sessions (token_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, expires_at BIGINT NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	keys := make([]string, rows)
	err := h.InTx(ctx, func(tx *store.Tx) error {
		for i := range keys {
			keys[i] = fmt.Sprintf("token-%04d", i)
			if _, err := tx.ExecContext(ctx, `INSERT INTO bench_sessions (token_hash, user_id, expires_at) VALUES (?, ?, ?)`,
				keys[i], fmt.Sprintf("user-%d", i), int64(i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	lookup := func(i int) error {
		var user string
		var expires int64
		return h.QueryRowContext(ctx, `SELECT user_id, expires_at FROM bench_sessions WHERE token_hash = ?`, keys[i%rows]).
			Scan(&user, &expires)
	}

	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := lookup(i); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if err := lookup(i); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}
