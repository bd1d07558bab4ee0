package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

type jsonSystem struct {
	ID   string   `json:"id"`
	Name string   `json:"name"`
	Tags []string `json:"tags"`
}

// WrapJSON and Wrap read one entry: a value loaded through either is a
// hit for the other, and WrapJSON answers with the entry's bytes, which
// are the value's JSON.
func TestWrapJSONSharesTheTypedEntry(t *testing.T) {
	ctx := context.Background()
	for _, p := range []struct {
		name string
		p    Provider
	}{{"memory", NewMemory(MemoryOptions{})}, {"generic", &hookProvider{p: NewMemory(MemoryOptions{})}}} {
		t.Run(p.name, func(t *testing.T) {
			s := newTestScope(t, p.p)
			loads := 0
			load := func(context.Context) (jsonSystem, error) {
				loads++
				return jsonSystem{ID: "a", Name: "API", Tags: []string{"x"}}, nil
			}
			raw, err := WrapJSON(ctx, s, "system:a", load)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := json.Marshal(jsonSystem{ID: "a", Name: "API", Tags: []string{"x"}})
			if string(raw) != string(want) {
				t.Fatalf("miss = %s, want %s", raw, want)
			}
			v, err := Wrap(ctx, s, "system:a", load)
			if err != nil || v.Name != "API" {
				t.Fatalf("typed read after WrapJSON = %+v, %v", v, err)
			}
			raw, err = WrapJSON(ctx, s, "system:a", load)
			if err != nil || string(raw) != string(want) {
				t.Fatalf("hit = %s, %v; want %s", raw, err, want)
			}
			if loads != 1 {
				t.Errorf("%d loads for one entry read three times, want 1", loads)
			}
		})
	}
}

// A warm WrapJSON read, and a warm bulk read of JSON entries, neither
// decodes nor copies: they allocate nothing per entry.
func TestJSONHitsDoNotDecode(t *testing.T) {
	ctx := context.Background()
	s := newTestScope(t, NewMemory(MemoryOptions{}))
	load := func(context.Context) (jsonSystem, error) { return jsonSystem{ID: "a", Name: "API"}, nil }
	if _, err := WrapJSON(ctx, s, "system:a", load); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = WrapJSON(ctx, s, "system:a", load) }); n != 0 {
		t.Errorf("warm WrapJSON: %.0f allocs, want 0", n)
	}

	ids := make([]string, 100)
	for i := range ids {
		ids[i] = string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	keyFor := func(id string) string { return "bulk:" + id }
	bulk := func(ctx context.Context, batch []string) (map[string]jsonSystem, error) {
		out := make(map[string]jsonSystem, len(batch))
		for _, id := range batch {
			out[id] = jsonSystem{ID: id, Name: "system " + id, Tags: []string{"a", "b"}}
		}
		return out, nil
	}
	if _, err := WrapManyJSON(ctx, s, ids, keyFor, bulk); err != nil {
		t.Fatal(err)
	}
	// Building the keys (keyFor's string and the scope's prefix) costs two
	// allocations per id; decoding would add at least one more.
	n := testing.AllocsPerRun(20, func() { _, _ = WrapManyJSON(ctx, s, ids, keyFor, bulk) })
	if n > float64(2*len(ids))+5 {
		t.Errorf("warm bulk read of %d JSON entries: %.0f allocs, want two per key (building it)", len(ids), n)
	}
}

// WrapFoundJSON caches an absence as WrapFound does, in the same entry.
func TestWrapFoundJSONSharesWrapFoundsEntry(t *testing.T) {
	ctx := context.Background()
	s := newTestScope(t, NewMemory(MemoryOptions{}))
	loads := 0
	found := false
	load := func(context.Context) (jsonSystem, error) {
		loads++
		if !found {
			return jsonSystem{}, errMissing
		}
		return jsonSystem{ID: "a"}, nil
	}
	if _, err := WrapFoundJSON(ctx, s, "system:a", errMissing, load); !errors.Is(err, errMissing) {
		t.Fatalf("absent: err = %v", err)
	}
	if _, err := WrapFound(ctx, s, "system:a", errMissing, load); !errors.Is(err, errMissing) || loads != 1 {
		t.Fatalf("typed read of the cached absence: err = %v, %d loads", err, loads)
	}
	found = true
	if err := s.Invalidate(ctx, "system:a"); err != nil {
		t.Fatal(err)
	}
	raw, err := WrapFoundJSON(ctx, s, "system:a", errMissing, load)
	if err != nil || string(raw) != `{"id":"a","name":"","tags":null}` {
		t.Fatalf("present: %s, %v", raw, err)
	}
}

// A family's bulk read finds the entries its keys name (fam.Key) without
// building them: it shares them with WrapManyJSON on fam.Key, ids that
// need escaping included, and a warm read allocates nothing per id.
func TestWrapManyJSONFamilySharesItsKeysEntries(t *testing.T) {
	ctx := context.Background()
	for _, p := range []struct {
		name string
		p    Provider
	}{{"memory", NewMemory(MemoryOptions{})}, {"generic", &hookProvider{p: NewMemory(MemoryOptions{})}}} {
		t.Run(p.name, func(t *testing.T) {
			s := newTestScope(t, p.p)
			fam := Family("status")
			ids := []string{"a", "b:1", "c%", "d", "a"}
			loads := 0
			load := func(ctx context.Context, batch []string) (map[string]jsonSystem, error) {
				loads += len(batch)
				out := map[string]jsonSystem{}
				for _, id := range batch {
					out[id] = jsonSystem{ID: id}
				}
				return out, nil
			}
			if _, err := WrapManyJSON(ctx, s, ids[:2], fam.Key, load); err != nil {
				t.Fatal(err)
			}
			raws, err := WrapManyJSONFamily(ctx, s, ids, fam, load)
			if err != nil {
				t.Fatal(err)
			}
			for i, id := range ids {
				if want := `{"id":"` + id + `","name":"","tags":null}`; string(raws[i]) != want {
					t.Errorf("%s: %s, want %s", id, raws[i], want)
				}
			}
			if loads != 4 {
				t.Errorf("%d ids loaded, want 4: each once, whichever read loaded it", loads)
			}
			if _, err := WrapManyJSON(ctx, s, ids, fam.Key, load); err != nil || loads != 4 {
				t.Errorf("WrapManyJSON after the family's read: %d loads, %v", loads, err)
			}
		})
	}
	s := newTestScope(t, NewMemory(MemoryOptions{}))
	ids := make([]string, 200)
	for i := range ids {
		ids[i] = fmt.Sprintf("system-%03d", i)
	}
	load := func(ctx context.Context, batch []string) (map[string]int, error) { return map[string]int{}, nil }
	if _, err := WrapManyJSONFamily(ctx, s, ids, "status", load); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(20, func() { _, _ = WrapManyJSONFamily(ctx, s, ids, "status", load) }); n > 5 {
		t.Errorf("a warm read of %d ids: %.0f allocs, want a few, none per id", len(ids), n)
	}
}
