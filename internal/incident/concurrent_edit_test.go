package incident

import (
	"context"
	"fmt"
	"testing"

	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

// messageOf is the message of update id in d's timeline.
func messageOf(d Detail, id string) string {
	for _, u := range d.Updates {
		if u.ID == id {
			return u.Message
		}
	}
	return "(no such update)"
}

// Editing an update writes its incident's row too (updatedAt): two
// updates edited while the incident's title changes must keep all three.
func TestEditsOfUpdatesAndOfTheirIncidentAtOnceAreAllKept(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		sys := e.systems(t, "a")
		for round := range 20 {
			d := e.create(t, "x", sys...)
			first := d.Updates[0].ID
			second, err := e.s.AddUpdate(t.Context(), admin, d.ID, "second", nil)
			if err != nil {
				t.Fatal(err)
			}
			title, m1, m2 := fmt.Sprintf("title %d", round), fmt.Sprintf("first %d", round), fmt.Sprintf("second %d", round)
			storetest.Together(
				func() {
					if _, err := e.s.Update(context.Background(), d.ID, UpdateInput{Title: &title}); err != nil {
						t.Error(err)
					}
				},
				func() {
					if _, err := e.s.EditUpdate(context.Background(), first, m1); err != nil {
						t.Error(err)
					}
				},
				func() {
					if _, err := e.s.EditUpdate(context.Background(), second.ID, m2); err != nil {
						t.Error(err)
					}
				})
			got, err := e.truth.Get(t.Context(), d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Title != title || messageOf(got, first) != m1 || messageOf(got, second.ID) != m2 {
				t.Fatalf("round %d: after three edits at once: title %q, messages %q and %q; want %q, %q and %q",
					round, got.Title, messageOf(got, first), messageOf(got, second.ID), title, m1, m2)
			}
		}
	})
}
