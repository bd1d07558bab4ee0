package notification

import (
	"strconv"

	"github.com/checkstack/checkstack/cache"
)

// The notification cache: scope "notification", 15 s TTL.
//
//	unread:<user>                     getUnreadCount
//	notifs:<user>:l<limit>.o<offset>.u<0|1>  getNotifications, one entry per filter shape
//	subs:<user>                       getSubscriptions
//
// The user id is escaped (cache.Part), so "notifs:<user>:" is a prefix of
// that user's entries only, never of user <user>+"x" or of a user whose id
// holds a ':'. The filter part is written from the decoded, defaulted
// filter in one fixed layout of integers, so the same filters always make
// the same key, whatever the order or spelling of the request's fields,
// and two different filters never make the same key.
const (
	scopeName = "notification"
)

func keyUnread(userID string) string { return cache.Key("unread", userID) }
func keySubs(userID string) string   { return cache.Key("subs", userID) }

// prefixNotifs is the prefix of every notifs entry of one user.
func prefixNotifs(userID string) string { return cache.Key("notifs", userID) + ":" }

func keyNotifs(userID string, f Filter) string {
	b := make([]byte, 0, 64)
	b = append(b, prefixNotifs(userID)...)
	b = append(b, 'l')
	b = strconv.AppendInt(b, int64(f.Limit), 10)
	b = append(b, ".o"...)
	b = strconv.AppendInt(b, int64(f.Offset), 10)
	b = append(b, ".u"...)
	if f.UnreadOnly {
		b = append(b, '1')
	} else {
		b = append(b, '0')
	}
	return string(b)
}
