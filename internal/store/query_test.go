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
