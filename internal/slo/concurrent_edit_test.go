package slo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/checkstack/checkstack/internal/rpc"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

// editRounds is how many times each concurrent-edit test starts its edits
// together: enough that on some rounds they really overlap.
const editRounds = 20

func TestTwoEditsOfAnObjectiveAtOnceAreBothKept(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newUnhookedEnv(t, db)
		e.addSystems("a")
		for round := range editRounds {
			o := e.addObjective(inputFor("a", "up", 99.9, 30, Strict))
			name, desc := fmt.Sprintf("name %d", round), fmt.Sprintf("desc %d", round)
			errs := atOnce(2, func(i int) error {
				in := ObjectiveInput{Name: &name}
				if i == 1 {
					in = ObjectiveInput{Description: &desc}
				}
				_, err := e.svc.UpdateObjective(context.Background(), o.ID, in)
				return err
			})
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			got, err := e.svc.st.objective(t.Context(), o.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != name || got.Description != desc {
				t.Fatalf("round %d: after two edits at once: name %q, description %q; want %q and %q", round, got.Name, got.Description, name, desc)
			}
		}
	})
}

// Each edit is valid against the stored objective (on a, excluding
// nothing), but together they are not: an objective on b that excludes
// b. The second to write must see the first's value and be refused.
func TestTwoObjectiveEditsValidAloneButNotTogetherKeepOne(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newUnhookedEnv(t, db)
		e.addSystems("a", "b")
		for round := range editRounds {
			o := e.addObjective(inputFor("a", "up", 99.9, 30, Strict))
			errs := atOnce(2, func(i int) error {
				in := ObjectiveInput{ExcludedUpstreamIDs: []string{"b"}}
				if i == 1 {
					in = ObjectiveInput{SystemID: ptr("b")}
				}
				_, err := e.svc.UpdateObjective(context.Background(), o.ID, in)
				return err
			})
			got, err := e.svc.st.objective(t.Context(), o.ID)
			if err != nil {
				t.Fatal(err)
			}
			var refused *rpc.Error
			switch {
			case errs[0] == nil && errs[1] == nil:
				t.Fatalf("round %d: both edits accepted; stored on %s excluding %v", round, got.SystemID, got.ExcludedUpstreamIDs)
			case errs[0] == nil && errors.As(errs[1], &refused):
				if got.SystemID != "a" || !slices.Equal(got.ExcludedUpstreamIDs, []string{"b"}) {
					t.Fatalf("round %d: the exclusion won, but stored on %s excluding %v", round, got.SystemID, got.ExcludedUpstreamIDs)
				}
			case errs[1] == nil && errors.As(errs[0], &refused):
				if got.SystemID != "b" || len(got.ExcludedUpstreamIDs) != 0 {
					t.Fatalf("round %d: the move won, but stored on %s excluding %v", round, got.SystemID, got.ExcludedUpstreamIDs)
				}
			default:
				t.Fatalf("round %d: exclusion edit: %v; move: %v; want exactly one refused as invalid", round, errs[0], errs[1])
			}
		}
	})
}
