package rpc

import (
	"encoding/json"
	"testing"
)

func TestMapJSONStitchesValidJSONOnceAKey(t *testing.T) {
	raws := []json.RawMessage{[]byte(`[1]`), []byte(`[]`), []byte(`[9]`)}
	got := MapJSON("incidents", []string{"a", `b"\`, "a"}, raws)
	want := `{"incidents":{"a":[1],"b\"\\":[]}}`
	if string(got) != want {
		t.Fatalf("MapJSON = %s, want %s", got, want)
	}
	if !json.Valid(got) {
		t.Fatal("MapJSON wrote invalid JSON")
	}
	if got := MapJSON("x", nil, nil); string(got) != `{"x":{}}` {
		t.Fatalf("MapJSON of nothing = %s", got)
	}
}

func TestObjectJSON(t *testing.T) {
	if got := ObjectJSON("objectives", []byte(`[{"id":"o"}]`)); string(got) != `{"objectives":[{"id":"o"}]}` {
		t.Fatalf("ObjectJSON = %s", got)
	}
}

func TestNullableTellsAbsentFromNullFromAValue(t *testing.T) {
	type in struct {
		D Nullable[string] `json:"description"`
	}
	for body, want := range map[string]Nullable[string]{
		`{}`:                    {},
		`{"description":null}`:  {Set: true, Null: true},
		`{"description":"new"}`: {Set: true, Value: "new"},
	} {
		got, err := Decode[in]([]byte(body))
		if err != nil || got.D != want {
			t.Errorf("Decode(%s) = %+v, %v; want %+v", body, got.D, err, want)
		}
	}
	if _, err := Decode[in]([]byte(`{"description":5}`)); err == nil || err.Error() != "description: must be a string" {
		t.Errorf("a number for a Nullable[string]: %v", err)
	}
}
