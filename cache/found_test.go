package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

var errMissing = errors.New("missing")

// An absence is cached like a value, until the key is invalidated; an
// error is not cached at all.
func TestWrapFoundCachesAnAbsenceButNoError(t *testing.T) {
	ctx := context.Background()
	s := newTestScope(t, NewMemory(MemoryOptions{}))
	loads := 0
	answer := func() (objective, error) { return objective{}, fmt.Errorf("no such objective: %w", errMissing) }
	load := func(context.Context) (objective, error) { loads++; return answer() }
	for range 3 {
		if _, err := WrapFound(ctx, s, "objective:x", errMissing, load); err != errMissing {
			t.Fatalf("err = %v, want the missing sentinel", err)
		}
	}
	if loads != 1 {
		t.Errorf("%d loads for three reads of an absent key, want 1", loads)
	}

	if err := s.Invalidate(ctx, "objective:x"); err != nil {
		t.Fatal(err)
	}
	answer = func() (objective, error) { return objective{ID: "x", Target: 99.9}, nil }
	got, err := WrapFound(ctx, s, "objective:x", errMissing, load)
	if err != nil || got.ID != "x" || loads != 2 {
		t.Fatalf("after invalidation: %+v %v (%d loads)", got, err, loads)
	}

	boom := errors.New("database down")
	answer = func() (objective, error) { return objective{}, boom }
	for range 2 {
		if _, err := WrapFound(ctx, s, "objective:y", errMissing, load); !errors.Is(err, boom) {
			t.Fatalf("err = %v, want the load's", err)
		}
	}
	if loads != 4 {
		t.Errorf("%d loads, want an error never cached (4)", loads)
	}
}

func TestDecodeJSONDecodesEachEntryInOrder(t *testing.T) {
	got, err := DecodeJSON[[]objective]([]json.RawMessage{[]byte(`[{"id":"a"}]`), []byte(`[]`), []byte(`null`)})
	if err != nil || len(got) != 3 || got[0][0].ID != "a" || len(got[1]) != 0 || got[2] != nil {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := DecodeJSON[[]objective]([]json.RawMessage{[]byte(`[]`), []byte(`{`)}); err == nil {
		t.Fatal("a broken entry decoded")
	}
}
