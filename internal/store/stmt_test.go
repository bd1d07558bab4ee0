package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

// TestStatementsArePreparedOncePerText locks in invariant 5 of the package
// doc.
func TestStatementsArePreparedOncePerText(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		// Preparing on the pool inside a transaction would wait, on
		// SQLite, for the transaction's own connection: the deadline turns
		// that into a failure.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		h := db.For("test")
		createTables(t, h)
		const runs = 20
		// grows checks that running do adds want statements.
		grows := func(t *testing.T, want int, do func() error) {
			t.Helper()
			before := db.PreparedStatements()
			if err := do(); err != nil {
				t.Fatal(err)
			}
			if got := db.PreparedStatements() - before; got != want {
				t.Errorf("%d statements prepared, want %d", got, want)
			}
		}

		t.Run("a write run many times is prepared once", func(t *testing.T) {
			grows(t, 1, func() error {
				for i := range runs {
					id := fmt.Sprint("p", i)
					if _, err := h.ExecContext(ctx, `INSERT INTO test_parents (id, name) VALUES (?, ?)`, id, id); err != nil {
						return err
					}
				}
				return nil
			})
		})

		t.Run("a read run many times is prepared once", func(t *testing.T) {
			grows(t, 1, func() error {
				for i := range runs {
					var name string
					if err := h.QueryRowContext(ctx, `SELECT name FROM test_parents WHERE id = ?`, fmt.Sprint("p", i)).Scan(&name); err != nil {
						return err
					}
					rows, err := h.QueryContext(ctx, `SELECT name FROM test_parents WHERE id = ?`, fmt.Sprint("p", i))
					if err != nil {
						return err
					}
					if err := rows.Close(); err != nil {
						return err
					}
				}
				return nil
			})
		})

		t.Run("a text first run in a transaction is prepared once it ends, then reused", func(t *testing.T) {
			bump := func() error {
				return h.InTx(ctx, func(tx *store.Tx) error {
					held := db.PreparedStatements()
					for i := range runs {
						if _, err := tx.ExecContext(ctx, `UPDATE test_parents SET n = n + 1 WHERE id = ?`, fmt.Sprint("p", i)); err != nil {
							return err
						}
					}
					if got := db.PreparedStatements(); got != held {
						return fmt.Errorf("%d statements prepared during the transaction, want none", got-held)
					}
					return nil
				})
			}
			grows(t, 1, bump)
			grows(t, 0, bump)
			var n int
			if err := h.QueryRowContext(ctx, `SELECT n FROM test_parents WHERE id = ?`, "p0").Scan(&n); err != nil || n != 2 {
				t.Errorf("n = %d (%v), want 2", n, err)
			}
		})

		t.Run("a read in a transaction uses the writer's statement", func(t *testing.T) {
			// On SQLite the read so far ran on the reader pool, whose
			// statements a transaction cannot use; on PostgreSQL there is
			// one pool.
			want := 1
			if db.Dialect() == store.Postgres {
				want = 0
			}
			read := func() error {
				return h.InTx(ctx, func(tx *store.Tx) error {
					var name string
					return tx.QueryRowContext(ctx, `SELECT name FROM test_parents WHERE id = ?`, "p1").Scan(&name)
				})
			}
			grows(t, want, read)
			grows(t, 0, read)
		})

		t.Run("concurrent first runs of a text leave one statement", func(t *testing.T) {
			grows(t, 1, func() error {
				var wg sync.WaitGroup
				errs := make([]error, 8)
				for g := range errs {
					wg.Go(func() {
						var n int
						errs[g] = h.QueryRowContext(ctx, `SELECT COUNT(*) FROM test_parents WHERE n >= ?`, g).Scan(&n)
					})
				}
				wg.Wait()
				return errors.Join(errs...)
			})
		})

		t.Run("a query with many arguments runs unprepared", func(t *testing.T) {
			ids := make([]string, 40)
			for i := range ids {
				ids[i] = fmt.Sprint("p", i)
			}
			grows(t, 0, func() error {
				got, err := store.Strings(ctx, h, `SELECT id FROM test_parents WHERE id IN (`+store.Placeholders(len(ids))+`) ORDER BY id`, store.Args(ids)...)
				if err == nil && len(got) != runs {
					err = fmt.Errorf("read %d rows, want %d", len(got), runs)
				}
				return err
			})
		})

		t.Run("a text that does not prepare gives the query's error and is not kept", func(t *testing.T) {
			grows(t, 0, func() error {
				var n int
				err := h.QueryRowContext(ctx, `SELECT n FROM no_such_table WHERE id = ?`, "x").Scan(&n)
				if err == nil || !strings.Contains(err.Error(), "no_such_table") {
					return fmt.Errorf("QueryRowContext: %v, want an error naming the table", err)
				}
				if _, err := h.ExecContext(ctx, `UPDATE no_such_table SET n = ?`, 1); err == nil {
					return fmt.Errorf("ExecContext on a missing table succeeded")
				}
				if _, err := h.QueryContext(ctx, `SELEC n FROM test_parents`); err == nil {
					return fmt.Errorf("QueryContext of bad SQL succeeded")
				}
				return nil
			})
		})
	})
}

// TestSQLiteReadsDoNotWaitForTheWriter locks in invariant 4 of the package
// doc: a read outside a transaction runs while a write transaction holds
// the only writer connection. Were reads sent to the writer, the read
// below would wait for the transaction, which waits for the read: the
// deadline would end it.
func TestSQLiteReadsDoNotWaitForTheWriter(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := context.Background()
	h := db.For("test")
	createTables(t, h)
	if _, err := h.ExecContext(ctx, `INSERT INTO test_parents (id, name) VALUES (?, ?)`, "p1", "one"); err != nil {
		t.Fatal(err)
	}

	commit := holdWrite(t, h)

	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	var n int
	rowErr := h.QueryRowContext(rctx, `SELECT COUNT(*) FROM test_parents`).Scan(&n)
	names, rowsErr := store.Strings(rctx, h, `SELECT name FROM test_parents ORDER BY name`)
	cancel()
	commit()

	if rowErr != nil || rowsErr != nil {
		t.Fatalf("reads beside an open write transaction failed: %v; %v", rowErr, rowsErr)
	}
	if n != 1 || !slices.Equal(names, []string{"one"}) {
		t.Errorf("read %d rows %v while the transaction was open, want only the committed one", n, names)
	}
	if n := countRows(t, h, "test_parents"); n != 2 {
		t.Errorf("%d rows after the commit, want 2", n)
	}
}

// TestWritesThatReturnRowsRunOnTheWriter: a data-changing statement run
// through QueryRowContext or QueryContext (… RETURNING, WITH … INSERT) is a
// write, which on SQLite goes to the writer, not the read-only readers.
func TestWritesThatReturnRowsRunOnTheWriter(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		h := db.For("test")
		createTables(t, h)

		var id string
		if err := h.QueryRowContext(ctx, `INSERT INTO test_parents (id, name) VALUES (?, ?) RETURNING id`, "p1", "one").Scan(&id); err != nil || id != "p1" {
			t.Fatalf("INSERT … RETURNING: %q, %v", id, err)
		}
		var n int
		if err := h.QueryRowContext(ctx, `UPDATE test_parents SET n = n + 1 WHERE id = ? RETURNING n`, "p1").Scan(&n); err != nil || n != 1 {
			t.Fatalf("UPDATE … RETURNING: %d, %v", n, err)
		}
		err := h.QueryRowContext(ctx, `WITH v (id, name) AS (SELECT CAST(? AS TEXT), CAST(? AS TEXT))
			INSERT INTO test_parents (id, name) SELECT id, name FROM v RETURNING id`, "p2", "two").Scan(&id)
		if err != nil || id != "p2" {
			t.Fatalf("WITH … INSERT … RETURNING: %q, %v", id, err)
		}
		ids, err := store.Strings(ctx, h, `DELETE FROM test_parents WHERE id IN (?, ?) RETURNING id`, "p1", "p2")
		slices.Sort(ids)
		if err != nil || !slices.Equal(ids, []string{"p1", "p2"}) {
			t.Fatalf("DELETE … RETURNING: %v, %v", ids, err)
		}
		if n := countRows(t, h, "test_parents"); n != 0 {
			t.Errorf("%d rows left, want 0", n)
		}
	})
}

// A read transaction sees one snapshot, does not wait for a write
// transaction held open meanwhile (SQLite: it runs on the reader pool),
// and refuses writes, on both engines.
func TestReadTransactions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		h := db.For("test")
		createTables(t, h)
		if _, err := h.ExecContext(ctx, `INSERT INTO test_parents (id, name) VALUES (?, ?)`, "p1", "one"); err != nil {
			t.Fatal(err)
		}
		commit := holdWrite(t, h)
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		var first, second int
		err := h.InReadTx(rctx, func(tx *store.Tx) error {
			if err := tx.QueryRowContext(rctx, `SELECT COUNT(*) FROM test_parents`).Scan(&first); err != nil {
				return err
			}
			return tx.QueryRowContext(rctx, `SELECT COUNT(*) FROM test_parents`).Scan(&second)
		})
		cancel()
		commit()
		if err != nil || first != 1 || second != 1 {
			t.Fatalf("a read transaction beside an open write one: %d, %d, %v; want the committed row, twice", first, second, err)
		}
		err = h.InReadTx(ctx, func(tx *store.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO test_parents (id, name) VALUES (?, ?)`, "p3", "three")
			return err
		})
		if err == nil {
			t.Fatal("a write in a read transaction succeeded")
		}
		if n := countRows(t, h, "test_parents"); n != 2 {
			t.Errorf("%d rows, want 2", n)
		}
	})
}

// holdWrite begins a write transaction on h that inserts the row p2 and
// holds it open; commit lets it commit, and fails the test if it did not.
func holdWrite(t *testing.T, h *store.Handle) (commit func()) {
	t.Helper()
	ctx := context.Background()
	holding, release := make(chan struct{}), make(chan struct{})
	txDone := make(chan error, 1)
	go func() {
		txDone <- h.InTx(ctx, func(tx *store.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO test_parents (id, name) VALUES (?, ?)`, "p2", "two"); err != nil {
				return err
			}
			close(holding)
			<-release
			return nil
		})
	}()
	select {
	case <-holding:
	case err := <-txDone:
		t.Fatalf("the write transaction ended before it was held: %v", err)
	}
	return func() {
		t.Helper()
		close(release)
		if err := <-txDone; err != nil {
			t.Fatalf("the write transaction failed: %v", err)
		}
	}
}
