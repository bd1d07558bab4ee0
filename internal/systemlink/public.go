package systemlink

import (
	"context"
	"encoding/json"
)

// Shown is the set of systems the public status page shows (the catalog
// answers it). A nil Shown shows none.
type Shown func(ctx context.Context) (map[string]bool, error)

// Set reads the set; a nil Shown gives an empty one.
func (s Shown) Set(ctx context.Context) (map[string]bool, error) {
	if s == nil {
		return map[string]bool{}, nil
	}
	return s(ctx)
}

// Keep is the ids of ids that shown holds, in their order.
func Keep(ids []string, shown map[string]bool) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if shown[id] {
			out = append(out, id)
		}
	}
	return out
}

// Public is what a visitor of the public status page sees of entities
// linked to systems: those on a shown system, each naming only shown
// systems. systems gives an entity's ids, for Public to narrow.
func Public[T any](xs []T, shown map[string]bool, systems func(*T) *[]string) []T {
	out := []T{}
	for _, x := range xs {
		ids := systems(&x)
		if kept := Keep(*ids, shown); len(kept) > 0 {
			*ids = kept
			out = append(out, x)
		}
	}
	return out
}

// PublicBulk is a bulk read by system for a visitor of the public status
// page: of ids, the shown systems, and for each its entities (read with
// forSystems) as Public leaves them, as JSON, for rpc.QueryMap.
func PublicBulk[T any](ctx context.Context, ids []string, shown Shown, forSystems func(context.Context, []string) ([][]T, error),
	systems func(*T) *[]string) ([]string, []json.RawMessage, error) {
	set, err := shown.Set(ctx)
	if err != nil {
		return nil, nil, err
	}
	kept := Keep(ids, set)
	if len(kept) == 0 {
		return nil, nil, nil
	}
	lists, err := forSystems(ctx, kept)
	if err != nil {
		return nil, nil, err
	}
	raws := make([]json.RawMessage, len(kept))
	for i, l := range lists {
		if raws[i], err = json.Marshal(Public(l, set, systems)); err != nil {
			return nil, nil, err
		}
	}
	return kept, raws, nil
}
