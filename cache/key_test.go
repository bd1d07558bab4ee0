package cache

import (
	"strings"
	"testing"
)

func TestKey(t *testing.T) {
	for _, tc := range []struct {
		parts []string
		want  string
	}{
		{[]string{"system", "abc"}, "system:abc"},
		{[]string{"notifs", "u:1", ""}, "notifs:u%3A1:"},
		{[]string{"list", "50%"}, "list:50%25"},
		{[]string{"x"}, "x"},
	} {
		if got := Key(tc.parts...); got != tc.want {
			t.Errorf("Key(%q) = %q, want %q", tc.parts, got, tc.want)
		}
	}
}

func TestPartKeepsOneUsersPrefixOffAnother(t *testing.T) {
	// The original's trap: "notifs:<id>:" must not cover user <id>x, and an
	// id containing ':' must not reach into another user's keys.
	for _, tc := range []struct{ owner, other string }{
		{"u1", "u10"},
		{"u1", "u1:x"},
		{"a:b", "a"},
		{"a", "a:b"},
	} {
		prefix := Key("notifs", tc.owner) + ":"
		other := Key("notifs", tc.other, "limit=20")
		if strings.HasPrefix(other, prefix) {
			t.Errorf("user %q's prefix %q covers user %q's key %q", tc.owner, prefix, tc.other, other)
		}
	}
}

func FuzzPart(f *testing.F) {
	for _, s := range []string{"", "a", ":", "%", "%3A", "a:b", "%25"} {
		f.Add(s, s+"x")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		pa, pb := Part(a), Part(b)
		if strings.Contains(pa, ":") {
			t.Fatalf("Part(%q) = %q contains ':'", a, pa)
		}
		if a != b && pa == pb {
			t.Fatalf("Part(%q) == Part(%q) == %q", a, b, pa)
		}
		if a != b && strings.HasPrefix(Key("n", b, "x"), Key("n", a)+":") {
			t.Fatalf("prefix of %q covers a key of %q", a, b)
		}
	})
}
