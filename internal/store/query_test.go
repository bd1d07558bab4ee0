package store_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

func TestInListsOfAnySize(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		h := db.For("test")
		if _, err := h.ExecContext(ctx, `CREATE TABLE items (id TEXT PRIMARY KEY)`); err != nil {
			t.Fatal(err)
		}
		var ids []string
		err := h.InTx(ctx, func(tx *store.Tx) error {
			for i := range 1234 {
				id := fmt.Sprintf("i%04d", i)
				ids = append(ids, id)
				if _, err := tx.ExecContext(ctx, `INSERT INTO items (id) VALUES (?)`, id); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		chunks := 0
		err = store.InChunks(ids, func(chunk []string) error {
			chunks++
			if len(chunk) > store.ChunkSize {
				t.Fatalf("a chunk of %d ids", len(chunk))
			}
			part, err := store.Strings(ctx, h, `SELECT id FROM items WHERE id IN (`+store.Placeholders(len(chunk))+`) ORDER BY id`, store.Args(chunk)...)
			got = append(got, part...)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if chunks != 3 || !slices.Equal(got, ids) {
			t.Fatalf("%d chunks read %d ids, want 3 chunks reading all %d in order", chunks, len(got), len(ids))
		}
		if err := store.InChunks(ids, func([]string) error { return fmt.Errorf("stop") }); err == nil || err.Error() != "stop" {
			t.Fatalf("InChunks did not return fn's error: %v", err)
		}
	})
}

func TestAllReadsEveryRowOrTheFirstError(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := t.Context()
	h := db.For("test")
	if _, err := h.ExecContext(ctx, `CREATE TABLE nums (n BIGINT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	scan := func(row store.Scanner) (int, error) {
		var n int
		err := row.Scan(&n)
		return n, err
	}
	rows, err := h.QueryContext(ctx, `SELECT n FROM nums`)
	got, err := store.All(rows, err, scan)
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("no rows: %v, %v; want an empty, non-nil list", got, err)
	}
	for _, n := range []int{3, 1, 2} {
		if _, err := h.ExecContext(ctx, `INSERT INTO nums (n) VALUES (?)`, n); err != nil {
			t.Fatal(err)
		}
	}
	rows, err = h.QueryContext(ctx, `SELECT n FROM nums ORDER BY n`)
	if got, err = store.All(rows, err, scan); err != nil || !slices.Equal(got, []int{1, 2, 3}) {
		t.Fatalf("rows: %v, %v", got, err)
	}
	rows, err = h.QueryContext(ctx, `SELECT n FROM no_such_table`)
	if _, err = store.All(rows, err, scan); err == nil {
		t.Fatal("a failed query gave no error")
	}
	rows, err = h.QueryContext(ctx, `SELECT 'x' FROM nums`)
	if _, err = store.All(rows, err, scan); err == nil {
		t.Fatal("a failed scan gave no error")
	}
}
