package rpc

import (
	"encoding/json"
	"hash/maphash"
	"slices"
	"sync"
)

// MapJSON writes {"<field>":{"<keys[0]>":<raws[0]>,…}} from per-entity
// cached JSON, without decoding it: the answer of a bulk read, stitched.
// A key named twice is written once, with its first value.
func MapJSON(field string, keys []string, raws []json.RawMessage) []byte {
	return appendMap(nil, field, keys, raws)
}

func appendMap(b []byte, field string, keys []string, raws []json.RawMessage) []byte {
	n := len(field) + 8
	for i, k := range keys {
		n += len(k) + len(raws[i]) + 4
	}
	b = slices.Grow(b, n)
	b = append(b, '{')
	b = appendString(b, field)
	b = append(b, ":{"...)
	first := firstOccurrences(keys)
	defer first.done()
	wrote := false
	for i, k := range keys {
		if !first.is(i) {
			continue
		}
		if wrote {
			b = append(b, ',')
		}
		wrote = true
		b = appendString(b, k)
		b = append(b, ':')
		b = append(b, raws[i]...)
	}
	return append(b, "}}"...)
}

// firstOccurrences finds, among keys, the index of each key's first
// occurrence: an open-addressing set of indexes (pooled, so a bulk read
// of 1,000 ids allocates nothing for it), keyed by the keys' hashes and
// checked against the keys themselves.
func firstOccurrences(keys []string) *keySet {
	ks := keySets.Get().(*keySet)
	size := 8
	for size < 2*len(keys) {
		size <<= 1
	}
	ks.slots = slices.Grow(ks.slots[:0], size)[:size]
	clear(ks.slots)
	ks.dup = slices.Grow(ks.dup[:0], len(keys))[:len(keys)]
	mask := uint64(size - 1)
	for i, k := range keys {
		ks.dup[i] = false
		for h := maphash.String(keySeed, k) & mask; ; h = (h + 1) & mask {
			j := ks.slots[h]
			if j == 0 {
				ks.slots[h] = int32(i + 1)
				break
			}
			if keys[j-1] == k {
				ks.dup[i] = true
				break
			}
		}
	}
	return ks
}

type keySet struct {
	slots []int32 // index+1 of a key; 0: empty
	dup   []bool  // dup[i]: keys[i] appeared before i
}

func (ks *keySet) is(i int) bool { return !ks.dup[i] }
func (ks *keySet) done()         { keySets.Put(ks) }

var (
	keySeed = maphash.MakeSeed()
	keySets = sync.Pool{New: func() any { return new(keySet) }}
	buffers = sync.Pool{New: func() any { return new([]byte) }}
)

// maxPooledBuffer bounds the response buffers kept for reuse: a rare huge
// answer is not held forever.
const maxPooledBuffer = 1 << 20

func getBuffer() *[]byte { return buffers.Get().(*[]byte) }

func putBuffer(b *[]byte) {
	if cap(*b) <= maxPooledBuffer {
		buffers.Put(b)
	}
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
