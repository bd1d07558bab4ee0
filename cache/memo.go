package cache

import (
	"reflect"
	"sync/atomic"
)

// memo holds, beside an in-process entry's bytes, the value a scope decoded
// them into, so that later typed hits skip decoding: a warm typed read
// costs a lookup, not a JSON decode. The bytes of an entry never change,
// so neither does the value; it is kept with its type, so readers of one
// key with different types never mix. Like every value the cache returns,
// a memoised value is shared and must be treated as read-only.
type memo struct {
	p atomic.Pointer[memoValue]
}

type memoValue struct {
	typ reflect.Type
	v   any
}

func memoGet[T any](m *memo) (T, bool) {
	if mv := m.p.Load(); mv != nil && mv.typ == reflect.TypeFor[T]() {
		return mv.v.(T), true
	}
	var zero T
	return zero, false
}

func memoPut[T any](m *memo, v T) {
	m.p.Store(&memoValue{typ: reflect.TypeFor[T](), v: v})
}

// hitMemo answers a typed read from an in-process entry: its memoised
// value, or its bytes decoded (and memoised). ok is false on a decode
// error, which the caller treats as a miss.
func hitMemo[T any](s *Scope, c valueCodec[T], raw []byte, m *memo) (T, bool) {
	if c.rawJSON {
		v, _ := c.decode(raw) // the bytes themselves: nothing to memoise
		return v, true
	}
	if v, ok := memoGet[T](m); ok {
		return v, true
	}
	v, err := c.decode(raw)
	if err != nil {
		s.report(opGet, err)
		return v, false
	}
	memoPut(m, v)
	return v, true
}
