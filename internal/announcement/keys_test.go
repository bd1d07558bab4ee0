package announcement

import (
	"strings"
	"testing"
)

func TestNoUsersPrefixCoversAnotherUsersOrTheAnonymousEntries(t *testing.T) {
	// Ids as a request could bring them: prefixes of each other, the
	// separator, its escape, and the words the keys are made of.
	users := []string{"a", "ab", "a:b", "a%3Ab", "a:", "a%", "anon", "user", "d0", "a:d0", ":", "%", "list", "active"}
	type entry struct {
		user             string // "": anonymous
		includeDismissed bool
	}
	seen := map[string]entry{}
	for _, u := range append([]string{""}, users...) {
		for _, d := range []bool{false, true} {
			en, k := entry{u, d}, keyActive(u, d)
			if other, ok := seen[k]; ok {
				t.Fatalf("%+v and %+v both make the key %q", other, en, k)
			}
			if k == keyList || !strings.HasPrefix(k, activeFam) {
				t.Fatalf("%+v makes %q, outside the family %q", en, k, activeFam)
			}
			seen[k] = en
		}
	}
	for _, u := range users {
		prefix := prefixUser(u)
		for k, en := range seen {
			if covers, own := strings.HasPrefix(k, prefix), en.user == u; covers != own {
				t.Errorf("user %q's prefix %q covers %q: %v, want %v", u, prefix, k, covers, own)
			}
		}
	}
}
