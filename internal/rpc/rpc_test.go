package rpc

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
)

type in struct {
	Name  string   `json:"name"`
	Count int      `json:"count"`
	Tags  []string `json:"tags"`
}

func (i in) Validate() error {
	if i.Name == "" {
		return Invalid("name", "required")
	}
	return nil
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`{"name":"a","count":1,"tags":["x"]}`, ""},
		{`  {"name":"a"}  `, ""},
		{``, "name: required"}, // empty means {}
		{`{"name":"a"`, "malformed JSON"},
		{`{"name":"a",}`, "malformed JSON"},
		{`[1]`, "body: must be a JSON object"},
		{`"a"`, "body: must be a JSON object"},
		{`{"name":"a"}{"name":"b"}`, "after the JSON object"},
		{`{"name":"a","extra":1}`, "extra: unknown field"},
		{`{"name":1}`, "name: must be a string"},
		{`{"name":"a","count":1.5}`, "count: must be an integer"},
		{`{"name":"a","tags":"x"}`, "tags: must be an array"},
		{`{"name":"a","tags":[1]}`, "tags: must be a string"},
	} {
		_, err := Decode[in]([]byte(tc.body))
		var e *Error
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("Decode(%s) = %v, want success", tc.body, err)
		case tc.want != "" && (!errors.As(err, &e) || e.Status != 400 || !strings.Contains(e.Message, tc.want)):
			t.Errorf("Decode(%s) = %v, want a 400 containing %q", tc.body, err, tc.want)
		}
	}
}

func TestAccess(t *testing.T) {
	anon, user, admin := Principal{}, Principal{UserID: "u", Role: RoleUser}, Principal{UserID: "a", Role: RoleAdmin}
	for _, tc := range []struct {
		p      Principal
		access Access
		want   bool
	}{
		{anon, Public, true}, {anon, User, false}, {anon, Admin, false},
		{user, Public, true}, {user, User, true}, {user, Admin, false},
		{admin, Public, true}, {admin, User, true}, {admin, Admin, true},
		{Principal{Role: RoleAdmin}, Admin, false}, // a role without a user is nobody
		{Principal{SatelliteID: "s"}, Satellite, true},
		{Principal{SatelliteID: "s"}, User, false}, // a satellite is not a user
		{admin, Satellite, false},
	} {
		if got := tc.p.Allows(tc.access); got != tc.want {
			t.Errorf("%+v.Allows(%s) = %v, want %v", tc.p, tc.access, got, tc.want)
		}
	}
}

func TestProcedureEncodesTheResult(t *testing.T) {
	p := Mutate("d", "n", User, func(ctx context.Context, r *Request, i in) (map[string]int, error) {
		return map[string]int{i.Name: i.Count}, nil
	})
	out, err := p.Call(context.Background(), &Request{}, []byte(`{"name":"a","count":2}`))
	if err != nil || string(out) != `{"a":2}` || p.Kind != Mutation || p.Access != User {
		t.Fatalf("Call = %s, %v (kind %s, access %s)", out, err, p.Kind, p.Access)
	}
	raw := QueryJSON("d", "raw", Public, func(ctx context.Context, r *Request, _ Empty) ([]byte, error) {
		return []byte(`{"cached":true}`), nil
	})
	if out, _ := raw.Call(context.Background(), &Request{}, nil); string(out) != `{"cached":true}` {
		t.Fatalf("QueryJSON Call = %s", out)
	}
}

type memoInput struct {
	IDs []string `json:"ids"`
}

func (in memoInput) Validate() error { return CheckIDs("ids", in.IDs, 3) }

// A read decodes a body it has seen once: later calls with the same bytes
// get the kept input; other bodies, and invalid ones, are decoded (and
// refused) every time; the memo stays bounded.
func TestReadsDecodeARepeatedBodyOnce(t *testing.T) {
	m := newInputMemo[memoInput]()
	body := []byte(`{"ids":["a","b"]}`)
	first, err := m.decode(body)
	if err != nil {
		t.Fatal(err)
	}
	again, err := m.decode([]byte(`{"ids":["a","b"]}`))
	if err != nil || &again.IDs[0] != &first.IDs[0] {
		t.Fatalf("same body again: %v, %v; want the kept input", again, err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = m.decode(body) }); n != 0 {
		t.Errorf("a kept body: %.0f allocs, want 0 (no decoding)", n)
	}
	other, err := m.decode([]byte(`{"ids":["c"]}`))
	if err != nil || len(other.IDs) != 1 || other.IDs[0] != "c" {
		t.Fatalf("another body: %v, %v", other, err)
	}
	for range 2 {
		if _, err := m.decode([]byte(`{"ids":["a","b","c","d"]}`)); err == nil {
			t.Fatal("an invalid body was accepted")
		}
	}
	for i := range 100 {
		if _, err := m.decode([]byte(`{"ids":["` + strconv.Itoa(i) + `"]}`)); err != nil {
			t.Fatal(err)
		}
	}
	if len(m.m) > memoEntries {
		t.Errorf("%d bodies kept, want at most %d", len(m.m), memoEntries)
	}
}
