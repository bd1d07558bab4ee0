package store

import (
	"iter"
	"strings"
)

// isRead reports whether query only reads, and so may run on SQLite's
// reader pool: its first word is SELECT or WITH, and none of its words is
// INSERT, UPDATE, DELETE, REPLACE or RETURNING. Words inside string
// literals, quoted identifiers and comments do not count; so WITH … INSERT
// and INSERT … RETURNING are writes, and so is anything that is neither
// (PRAGMA, say). The test errs on the writer's side: a SELECT that calls
// replace() runs on the writer, where it only waits its turn, while a write
// sent to the readers would fail.
func isRead(query string) bool {
	first := true
	for w := range words(query) {
		if first {
			if !strings.EqualFold(w, "SELECT") && !strings.EqualFold(w, "WITH") {
				return false
			}
			first = false
			continue
		}
		if isWriteWord(w) {
			return false
		}
	}
	return !first
}

func isWriteWord(w string) bool {
	switch len(w) {
	case 6:
		return strings.EqualFold(w, "INSERT") || strings.EqualFold(w, "UPDATE") || strings.EqualFold(w, "DELETE")
	case 7:
		return strings.EqualFold(w, "REPLACE")
	case 9:
		return strings.EqualFold(w, "RETURNING")
	}
	return false
}

// words yields the words of query, runs of ASCII letters, digits and _
// that do not begin with a digit, outside string literals, quoted
// identifiers ("x", `x`, [x]) and comments. It stops at an unterminated
// literal or comment.
func words(query string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for i := 0; i < len(query); {
			c := query[i]
			switch {
			case c == '\'' || c == '"' || c == '`' || c == '[':
				end := c
				if c == '[' {
					end = ']'
				}
				j := strings.IndexByte(query[i+1:], end)
				if j < 0 {
					return
				}
				i += j + 2
			case c == '-' && i+1 < len(query) && query[i+1] == '-':
				j := strings.IndexByte(query[i:], '\n')
				if j < 0 {
					return
				}
				i += j + 1
			case c == '/' && i+1 < len(query) && query[i+1] == '*':
				j := strings.Index(query[i+2:], "*/")
				if j < 0 {
					return
				}
				i += j + 4
			case isWordByte(c):
				j := i + 1
				for j < len(query) && isWordByte(query[j]) {
					j++
				}
				if (c < '0' || c > '9') && !yield(query[i:j]) {
					return
				}
				i = j
			default:
				i++
			}
		}
	}
}

func isWordByte(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}
