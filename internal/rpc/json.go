package rpc

import (
	"encoding/json"
	"sync"
)

// seenPool holds MapJSON's sets of keys written, emptied: a bulk read's
// set of 200 ids is reused rather than built anew for each request.
var seenPool = sync.Pool{New: func() any { return map[string]struct{}{} }}

// MapJSON writes {"<field>":{"<keys[0]>":<raws[0]>,…}} from per-entity
// cached JSON, without decoding it: the answer of a bulk read, stitched.
// A key named twice is written once, with its first value.
func MapJSON(field string, keys []string, raws []json.RawMessage) []byte {
	name, _ := json.Marshal(field) // a string always encodes
	n := len(name) + 6
	for i, k := range keys {
		n += len(k) + len(raws[i]) + 8
	}
	b := make([]byte, 0, n)
	b = append(b, '{')
	b = append(b, name...)
	b = append(b, ":{"...)
	seen := seenPool.Get().(map[string]struct{})
	defer func() { clear(seen); seenPool.Put(seen) }()
	for i, k := range keys {
		if _, dup := seen[k]; dup {
			continue
		}
		seen[k] = struct{}{}
		if len(seen) > 1 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = append(b, raws[i]...)
	}
	return append(b, "}}"...)
}

// appendString appends s as a JSON string: as it is, quoted, when it has
// nothing to escape (an id always), else as encoding/json writes it.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
