package catalog

import (
	"context"
	"fmt"
	"testing"

	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

// editRounds is how many times each concurrent-edit test starts its edits
// together: enough that on some rounds they really overlap.
const editRounds = 20

func TestTwoEditsOfASystemAtOnceAreBothKept(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, _ := newTestService(t, db)
		for round := range editRounds {
			sys, err := s.CreateSystem(t.Context(), SystemInput{Name: ptr("api"), Description: ptr("old")})
			if err != nil {
				t.Fatal(err)
			}
			name, desc := fmt.Sprintf("name %d", round), fmt.Sprintf("desc %d", round)
			storetest.Together(
				func() {
					if _, err := s.UpdateSystem(context.Background(), sys.ID, SystemInput{Name: &name}); err != nil {
						t.Error(err)
					}
				},
				func() {
					if _, err := s.UpdateSystem(context.Background(), sys.ID, SystemInput{Description: &desc}); err != nil {
						t.Error(err)
					}
				})
			got, err := s.st.system(t.Context(), sys.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != name || got.Description != desc {
				t.Fatalf("round %d: after two edits at once: name %q, description %q; want %q and %q", round, got.Name, got.Description, name, desc)
			}
		}
	})
}

func TestTwoEditsOfAGroupAtOnceAreBothKept(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, _ := newTestService(t, db)
		for round := range editRounds {
			g, err := s.CreateGroup(t.Context(), GroupInput{Name: ptr("core"), Description: ptr("old")})
			if err != nil {
				t.Fatal(err)
			}
			name, desc := fmt.Sprintf("name %d", round), fmt.Sprintf("desc %d", round)
			storetest.Together(
				func() {
					if _, err := s.UpdateGroup(context.Background(), g.ID, GroupInput{Name: &name}); err != nil {
						t.Error(err)
					}
				},
				func() {
					if _, err := s.UpdateGroup(context.Background(), g.ID, GroupInput{Description: &desc}); err != nil {
						t.Error(err)
					}
				})
			got, err := readGroup(t.Context(), s.st.db, g.ID, "")
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != name || got.Description != desc {
				t.Fatalf("round %d: after two edits at once: name %q, description %q; want %q and %q", round, got.Name, got.Description, name, desc)
			}
		}
	})
}

func TestTwoEditsOfAViewAtOnceAreBothKept(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, _ := newTestService(t, db)
		addUser(t, db, "u1", "Ada", "ada@example.com")
		for round := range editRounds {
			v, err := s.CreateView(t.Context(), "u1", ViewInput{Name: ptr("mine"), Description: ptr("old")})
			if err != nil {
				t.Fatal(err)
			}
			name, desc := fmt.Sprintf("name %d", round), fmt.Sprintf("desc %d", round)
			storetest.Together(
				func() {
					if _, err := s.UpdateView(context.Background(), "u1", v.ID, ViewInput{Name: &name}); err != nil {
						t.Error(err)
					}
				},
				func() {
					if _, err := s.UpdateView(context.Background(), "u1", v.ID, ViewInput{Description: &desc}); err != nil {
						t.Error(err)
					}
				})
			got, err := readView(t.Context(), s.st.db, "u1", v.ID, "")
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != name || got.Description != desc {
				t.Fatalf("round %d: after two edits at once: name %q, description %q; want %q and %q", round, got.Name, got.Description, name, desc)
			}
		}
	})
}
