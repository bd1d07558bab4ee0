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
