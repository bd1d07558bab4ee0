package announcement

import "github.com/checkstack/checkstack/cache"

// The announcement cache: scope "announcement", 45 s TTL, and never past
// the next boundary (see "Time" in the package doc).
//
//	active:anon:d<0|1>           getActiveAnnouncements of anonymous callers,
//	                             without (d0) or with (d1) includeDismissed
//	active:user:<userId>:d<0|1>  getActiveAnnouncements of one signed-in user
//	list                         listAllAnnouncements
//
// The user id is escaped (cache.Part), so "active:user:<userId>:" is a
// prefix of that user's two entries only: never of user <userId>+"x", of
// a user whose id holds a ':', or of the anonymous entries. A dismissal
// and the userDeleted hook drop one user's prefix; every other change
// drops "active:" (every caller) and the list; the clock drops "active:"
// as a boundary passes.
const (
	scopeName = "announcement"
	activeFam = "active:"
	keyList   = "list"
)

func keyActive(userID string, includeDismissed bool) string {
	d := "d0"
	if includeDismissed {
		d = "d1"
	}
	if userID == "" {
		return cache.Key("active", "anon", d)
	}
	return prefixUser(userID) + d
}

// prefixUser is the prefix of every entry of one signed-in user.
func prefixUser(userID string) string { return cache.Key("active", "user", userID) + ":" }
