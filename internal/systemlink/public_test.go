package systemlink

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
)

type thing struct {
	Name    string   `json:"name"`
	Systems []string `json:"systemIds"`
}

func systemsOf(t *thing) *[]string { return &t.Systems }

func TestAVisitorSeesOnlyEntitiesOnShownSystemsNamingOnlyThose(t *testing.T) {
	shown := map[string]bool{"a": true, "c": true}
	in := []thing{{"on a and b", []string{"a", "b"}}, {"on b", []string{"b"}}, {"on c", []string{"c"}}, {"on none", nil}}
	got := Public(in, shown, systemsOf)
	want := []thing{{"on a and b", []string{"a"}}, {"on c", []string{"c"}}}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Name != want[i].Name || !slices.Equal(got[i].Systems, want[i].Systems) {
			t.Errorf("got %+v, want %+v", got[i], want[i])
		}
	}
	if !slices.Equal(in[0].Systems, []string{"a", "b"}) {
		t.Errorf("Public changed its input: %+v", in[0])
	}

	forSystems := func(_ context.Context, ids []string) ([][]thing, error) {
		out := make([][]thing, len(ids))
		for i, id := range ids {
			for _, x := range in {
				if slices.Contains(x.Systems, id) {
					out[i] = append(out[i], x)
				}
			}
		}
		return out, nil
	}
	ids, raws, err := PublicBulk(context.Background(), []string{"b", "a", "x"}, func(context.Context) (map[string]bool, error) { return shown, nil },
		forSystems, systemsOf)
	if err != nil || !slices.Equal(ids, []string{"a"}) || len(raws) != 1 {
		t.Fatalf("PublicBulk = %v %s %v", ids, raws, err)
	}
	var l []thing
	if err := json.Unmarshal(raws[0], &l); err != nil || len(l) != 1 || !slices.Equal(l[0].Systems, []string{"a"}) {
		t.Errorf("system a's list %s (%v)", raws[0], err)
	}
	if ids, _, err := PublicBulk(context.Background(), []string{"a"}, nil, forSystems, systemsOf); err != nil || len(ids) != 0 {
		t.Errorf("without a status page a visitor sees %v (%v)", ids, err)
	}
}
