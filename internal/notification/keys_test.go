package notification

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// entry is one cached read: its family, its user and (for notifs) its
// filter.
type entry struct {
	family string // unread, notifs or subs
	user   string
	f      Filter
}

func (en entry) key() string {
	switch en.family {
	case "unread":
		return keyUnread(en.user)
	case "subs":
		return keySubs(en.user)
	default:
		return keyNotifs(en.user, en.f)
	}
}

// entriesOf lists every entry of each user: unread, subs and notifs with
// every filter.
func entriesOf(users []string, filters []Filter) []entry {
	var out []entry
	for _, u := range users {
		out = append(out, entry{family: "unread", user: u}, entry{family: "subs", user: u})
		for _, f := range filters {
			out = append(out, entry{family: "notifs", user: u, f: f})
		}
	}
	return out
}

// checkKeys fails the test if two different entries make the same key, or
// if one user's notifs prefix covers a key that is not one of that user's
// notifs entries, or misses one that is.
func checkKeys(t *testing.T, entries []entry) {
	t.Helper()
	seen := make(map[string]entry, len(entries))
	for _, en := range entries {
		k := en.key()
		if other, ok := seen[k]; ok && other != en {
			t.Fatalf("%+v and %+v both make the key %q", other, en, k)
		}
		seen[k] = en
	}
	users := map[string]bool{}
	for _, en := range entries {
		users[en.user] = true
	}
	for u := range users {
		prefix := prefixNotifs(u)
		for k, en := range seen {
			own := en.family == "notifs" && en.user == u
			if covers := strings.HasPrefix(k, prefix); covers != own {
				if covers {
					t.Fatalf("user %q's prefix %q covers %+v's key %q", u, prefix, en, k)
				}
				t.Fatalf("user %q's prefix %q does not cover the user's own key %q", u, prefix, k)
			}
		}
	}
}

func TestTheSameFilterAlwaysMakesTheSameKey(t *testing.T) {
	tests := []struct {
		name string
		a, b Filter
	}{
		{"the defaults", defaultFilter, Filter{Limit: 20, Offset: 0, UnreadOnly: false}},
		{"a page", Filter{Limit: 5, Offset: 10}, Filter{Offset: 10, Limit: 5}},
		{"unread only", Filter{UnreadOnly: true, Limit: 100}, Filter{Limit: 100, UnreadOnly: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, u := range []string{"u1", "a:b", "50%"} {
				if ka, kb := keyNotifs(u, tt.a), keyNotifs(u, tt.b); ka != kb {
					t.Errorf("keyNotifs(%q, %+v) = %q but keyNotifs(%q, %+v) = %q", u, tt.a, ka, u, tt.b, kb)
				}
				if keyUnread(u) != keyUnread(u) || keySubs(u) != keySubs(u) {
					t.Errorf("the unread or subs key of %q is not stable", u)
				}
			}
		})
	}
}

func TestNoUsersPrefixCoversAnotherUsersKeys(t *testing.T) {
	tests := []struct {
		name string
		a, b string
	}{
		{"an id and the same id with a colon suffix", "u", "u:1"},
		{"an id and a longer id it starts", "a", "ab"},
		{"a numbered id and a longer number", "u1", "u10"},
		{"an id with a colon and its first part", "a:b", "a"},
		{"an id that spells the escape of a colon", "%3A", ":"},
		{"an id that spells the escape of a percent", "%25", "%"},
		{"an id ending in a colon and one with a filter-like suffix", "u:", "u:l20.o0.u0"},
		{"the empty id and another", "", "x"},
		{"an id that looks like a whole notifs key", "u:l20.o0.u0", "u"},
	}
	filters := []Filter{defaultFilter, {Limit: 5}, {Limit: 20, Offset: 1}, {Limit: 20, UnreadOnly: true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkKeys(t, entriesOf([]string{tt.a, tt.b}, filters))
		})
	}
}

func TestKeysHoldEscapedIDsOnly(t *testing.T) {
	tests := []struct {
		user, unread, prefix string
	}{
		{"u1", "unread:u1", "notifs:u1:"},
		{"a:b", "unread:a%3Ab", "notifs:a%3Ab:"},
		{"50%", "unread:50%25", "notifs:50%25:"},
	}
	for _, tt := range tests {
		if got := keyUnread(tt.user); got != tt.unread {
			t.Errorf("keyUnread(%q) = %q, want %q", tt.user, got, tt.unread)
		}
		if got := prefixNotifs(tt.user); got != tt.prefix {
			t.Errorf("prefixNotifs(%q) = %q, want %q", tt.user, got, tt.prefix)
		}
		if got := keyNotifs(tt.user, Filter{Limit: 5, Offset: 2, UnreadOnly: true}); got != tt.prefix+"l5.o2.u1" {
			t.Errorf("keyNotifs(%q, ...) = %q, want %q", tt.user, got, tt.prefix+"l5.o2.u1")
		}
	}
}

// randomID makes an id from characters that matter to the key layout.
func randomID(r *rand.Rand) string {
	const alphabet = "ab:%3A25.lou0-"
	b := make([]byte, r.IntN(7))
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

func TestKeysOverManyGeneratedIDsAndFilters(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	seen := map[string]bool{}
	var users []string
	for len(users) < 400 {
		if u := randomID(r); !seen[u] {
			seen[u] = true
			users = append(users, u)
		}
	}
	var filters []Filter
	for _, l := range []int{1, 2, 10, 12, 20, 100, 101} {
		for _, o := range []int{0, 1, 10, 100, 1_000_000} {
			filters = append(filters, Filter{Limit: l, Offset: o}, Filter{Limit: l, Offset: o, UnreadOnly: true})
		}
	}
	checkKeys(t, entriesOf(users, filters))
}

func FuzzKeysAreInjective(f *testing.F) {
	seeds := []struct {
		a, b string
	}{
		{"u", "u:1"}, {"a", "ab"}, {"a:b", "a"}, {"%3A", ":"}, {"%", "%25"}, {"", "x"}, {"u:l1.o2.u1", "u"},
	}
	for _, s := range seeds {
		f.Add(s.a, 20, 0, false, s.b, 20, 0, false)
		f.Add(s.a, 1, 10, true, s.b, 11, 0, true)
	}
	f.Add("u", 1, 10, false, "u", 11, 0, false)
	f.Add("u", 20, 0, false, "u", 20, 0, true)
	f.Fuzz(func(t *testing.T, a string, la, oa int, ua bool, b string, lb, ob int, ub bool) {
		ea := entry{family: "notifs", user: a, f: Filter{Limit: la, Offset: oa, UnreadOnly: ua}}
		eb := entry{family: "notifs", user: b, f: Filter{Limit: lb, Offset: ob, UnreadOnly: ub}}
		if (ea.key() == eb.key()) != (ea == eb) {
			t.Fatalf("%+v makes %q and %+v makes %q", ea, ea.key(), eb, eb.key())
		}
		checkKeys(t, []entry{
			ea, eb,
			{family: "unread", user: a}, {family: "subs", user: a},
			{family: "unread", user: b}, {family: "subs", user: b},
		})
	})
}
