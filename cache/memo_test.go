package cache

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
)

// countingCodec is JSON that counts decodes.
type countingCodec struct{ decodes atomic.Int64 }

func (c *countingCodec) Marshal(v any) ([]byte, error) { return json.Marshal(v) }
func (c *countingCodec) Unmarshal(b []byte, v any) error {
	c.decodes.Add(1)
	return json.Unmarshal(b, v)
}

func TestTypedHitsOnTheMemoryProviderDecodeOnce(t *testing.T) {
	ctx := context.Background()
	codec := &countingCodec{}
	s := NewScope(NewMemory(MemoryOptions{}), ScopeOptions{Name: "t", Codec: codec})
	type status struct {
		State  string `json:"state"`
		Checks []int  `json:"checks"`
	}
	load := func(context.Context) (status, error) { return status{"up", []int{1, 2}}, nil }
	Wrap(ctx, s, "k", load)
	for range 100 {
		v, err := Wrap(ctx, s, "k", load)
		if err != nil || v.State != "up" || len(v.Checks) != 2 {
			t.Fatalf("hit = %+v, %v", v, err)
		}
	}
	vs, err := WrapManyBatched(ctx, s, []string{"k", "k"}, func(k string) string { return k },
		func(context.Context, []string) ([]status, error) { t.Fatal("loaded on a warm read"); return nil, nil })
	if err != nil || vs[1].State != "up" {
		t.Fatalf("bulk hit = %+v, %v", vs, err)
	}
	if n := codec.decodes.Load(); n != 1 {
		t.Fatalf("%d decodes for 102 hits on one entry, want 1", n)
	}

	t.Run("another type on the same key gets its own decode", func(t *testing.T) {
		other, err := Wrap(ctx, s, "k", func(context.Context) (map[string]any, error) { return nil, nil })
		if err != nil || other["state"] != "up" {
			t.Fatalf("map read = %v, %v", other, err)
		}
		again, _ := Wrap(ctx, s, "k", load)
		if again.State != "up" {
			t.Fatalf("struct read after the map read = %+v", again)
		}
	})

	t.Run("a new entry after invalidation is decoded afresh", func(t *testing.T) {
		s.Invalidate(ctx, "k")
		v, _ := Wrap(ctx, s, "k", func(context.Context) (status, error) { return status{State: "down"}, nil })
		hit, _ := Wrap(ctx, s, "k", load)
		if v.State != "down" || hit.State != "down" {
			t.Fatalf("after invalidation: load %+v, hit %+v", v, hit)
		}
	})
}
