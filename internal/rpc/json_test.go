package rpc

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
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

// A QueryObject answers {"field": fn's bytes}: joined for Call, in pieces
// around the very bytes fn returned for Answer.
func TestQueryObjectWritesItsBytesAsTheyAre(t *testing.T) {
	raw := []byte(`[{"id":"o"}]`)
	p := QueryObject("slo", "listObjectives", User, "objectives", func(context.Context, *Request, Empty) ([]byte, error) { return raw, nil })
	got, err := p.Call(context.Background(), &Request{}, nil)
	if err != nil || string(got) != `{"objectives":[{"id":"o"}]}` {
		t.Fatalf("Call = %s, %v", got, err)
	}
	out, err := p.Answer(context.Background(), &Request{}, nil)
	if err != nil || &out.body[0] != &raw[0] || out.Len() != len(got) {
		t.Fatalf("Answer = %+v, %v; want fn's bytes, not a copy", out, err)
	}
	var b strings.Builder
	if n, err := out.WriteTo(&b); err != nil || n != int64(len(got)) || b.String() != string(got) {
		t.Fatalf("WriteTo wrote %q (%d), %v", b.String(), n, err)
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

func TestATimeThatIsNotOneNamesItsField(t *testing.T) {
	type in struct {
		StartAt *Time `json:"startAt"`
	}
	got, err := Decode[in]([]byte(`{"startAt":"2026-12-05T02:00:00+01:00"}`))
	if err != nil || got.StartAt.UTC().Hour() != 1 {
		t.Fatalf("a good time: %+v, %v", got, err)
	}
	for _, body := range []string{`{"startAt":"tomorrow"}`, `{"startAt":5}`} {
		if _, err := Decode[in]([]byte(body)); err == nil || !strings.HasPrefix(err.Error(), "startAt: must be a time in RFC 3339 form") {
			t.Errorf("Decode(%s) = %v, want an error naming startAt", body, err)
		}
	}
	type nested struct {
		R Nullable[struct {
			Rule string `json:"rule"`
		}] `json:"recurrence"`
	}
	if _, err := Decode[nested]([]byte(`{"recurrence":{"rul":"x"}}`)); err == nil || !strings.Contains(err.Error(), "unknown field") {
		t.Errorf("an unknown field inside a Nullable object: %v", err)
	}
}

func TestAFieldOfAnEmbeddedStructIsNamedAsTheClientWroteIt(t *testing.T) {
	type fields struct {
		Target *float64 `json:"target"`
		Rec    Nullable[struct {
			Rule int `json:"rule"`
		}] `json:"recurrence"`
		StartAt *Time `json:"startAt"`
	}
	type in struct {
		ID string `json:"id"`
		fields
	}
	for body, want := range map[string]string{
		`{"target":"x"}`:              "target: must be a number",
		`{"startAt":"soon"}`:          "startAt: must be a time",
		`{"recurrence":{"rule":"x"}}`: "recurrence.rule: must be an integer",
		`{"id":5}`:                    "id: must be a string",
	} {
		if _, err := Decode[in]([]byte(body)); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Decode(%s) = %v, want %q", body, err, want)
		}
	}
}

// A key is written as encoding/json writes it, whatever it holds.
func TestMapJSONKeysAreWhatEncodingJSONWrites(t *testing.T) {
	for _, k := range []string{"sys_01", "", "a\"b", `back\slash`, "tab\t", "<script>", "a&b", "é", "\u2028", "\x7f", string([]byte{0xff})} {
		got := MapJSON("m", []string{k}, []json.RawMessage{[]byte("1")})
		want, _ := json.Marshal(map[string]map[string]int{"m": {k: 1}})
		if string(got) != string(want) {
			t.Errorf("key %q: %s, want %s", k, got, want)
		}
	}
}

// Among any keys, each is written once, with the value of its first
// occurrence, in the order of first occurrences: as a map would keep them.
func TestMapJSONKeepsEachKeysFirstValue(t *testing.T) {
	for n := range 300 {
		keys := make([]string, n)
		raws := make([]json.RawMessage, n)
		for i := range keys {
			keys[i] = "k" + strconv.Itoa((i*7919)%(n/2+1)) // about half repeat
			raws[i] = json.RawMessage(strconv.Itoa(i))
		}
		var got map[string]map[string]int
		if err := json.Unmarshal(MapJSON("m", keys, raws), &got); err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		want := map[string]int{}
		for i, k := range keys {
			if _, ok := want[k]; !ok {
				want[k] = i
			}
		}
		if len(got["m"]) != len(want) {
			t.Fatalf("n=%d: %d keys, want %d", n, len(got["m"]), len(want))
		}
		for k, v := range want {
			if got["m"][k] != v {
				t.Fatalf("n=%d: %s = %d, want its first value %d", n, k, got["m"][k], v)
			}
		}
	}
}

// A QueryMap stitches fn's entries into a reused buffer: Call gets a copy
// it may keep, and a warm answer allocates little whatever its size.
func TestQueryMapStitchesIntoAReusedBuffer(t *testing.T) {
	keys := []string{"a", "b", "a"}
	raws := []json.RawMessage{[]byte(`[1]`), []byte(`[]`), []byte(`[9]`)}
	p := QueryMap("incident", "getBulk", User, "incidents", func(context.Context, *Request, Empty) ([]string, []json.RawMessage, error) {
		return keys, raws, nil
	})
	first, err := p.Call(context.Background(), &Request{}, nil)
	if err != nil || string(first) != `{"incidents":{"a":[1],"b":[]}}` {
		t.Fatalf("Call = %s, %v", first, err)
	}
	again, _ := p.Call(context.Background(), &Request{}, nil)
	if string(first) != string(again) {
		t.Fatalf("a second Call changed the first one's bytes: %s", first)
	}
	answer := func() {
		out, err := p.Answer(context.Background(), &Request{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		out.Release()
	}
	answer()
	if n := testing.AllocsPerRun(100, answer); n > 3 {
		t.Errorf("a warm answer: %.0f allocs, want at most 3 (no buffer, no key set)", n)
	}
}
