package cache

import "strings"

// Part escapes one component of a key so that it contains no ':' and two
// different components never escape to the same text. Use it for every id
// or filter value that comes from a request:
//
//	"notifs:" + cache.Part(userID) + ":"
//
// is then a prefix of that user's keys only, never of user userID+"x".
func Part(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '%':
			b.WriteString("%25")
		case ':':
			b.WriteString("%3A")
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// Key joins escaped parts with ':'. Key("system", id) is "system:" +
// Part(id) when "system" holds no ':' or '%'.
func Key(parts ...string) string {
	var b strings.Builder
	n := len(parts)
	for _, p := range parts {
		n += len(p)
	}
	b.Grow(n) // one allocation unless a part needs escaping
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(Part(p))
	}
	return b.String()
}

// needsEscape reports whether s holds a '%' or a ':' (a byte loop: ids
// are short, and strings.ContainsAny builds a set on every call).
func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '%' || s[i] == ':' {
			return true
		}
	}
	return false
}

// Family is the keys Key(name, id) of a name's string ids, as a bulk read
// can find them without building them: WrapManyJSONFamily looks a warm
// id up from the family's name and the id, allocating nothing for it.
type Family string

// Key is the family's key for id: Key(string(f), id).
func (f Family) Key(id string) string { return Key(string(f), id) }
