package cache

import (
	"encoding/json"
	"reflect"
	"runtime/debug"
	"unsafe"
)

// jsonCodec is the default Codec.
type jsonCodec struct{}

func (jsonCodec) Marshal(v any) ([]byte, error)      { return json.Marshal(v) }
func (jsonCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// valueCodec turns a T into stored bytes and back: through the scope's
// Codec, or as the bytes themselves for WrapBytes.
type valueCodec[T any] struct {
	codec Codec // nil: T is []byte, stored as is
	// rawJSON: T is json.RawMessage on a JSON scope, so an entry's bytes
	// are the value: a hit returns them without decoding or copying.
	rawJSON bool
}

// codecFor is the codec a scope's typed reads of T use.
func codecFor[T any](s *Scope) valueCodec[T] {
	_, isJSON := s.codec.(jsonCodec)
	return valueCodec[T]{codec: s.codec, rawJSON: isJSON && reflect.TypeFor[T]() == rawMessageType}
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

func (c valueCodec[T]) encode(v any) ([]byte, error) {
	if c.codec == nil {
		b := v.([]byte)
		if b == nil {
			b = []byte{} // nil marks "not encodable"; an empty body is a value
		}
		return b, nil
	}
	return c.codec.Marshal(v)
}

func (c valueCodec[T]) decode(data []byte) (T, error) {
	if c.codec == nil {
		return any(data).(T), nil
	}
	if c.rawJSON {
		// T is json.RawMessage, whose underlying type is data's: a
		// conversion through any would box the slice and allocate.
		return *(*T)(unsafe.Pointer(&data)), nil
	}
	var v T // escapes to the heap: declared only where it is needed
	err := c.codec.Unmarshal(data, &v)
	return v, err
}

// funcs returns c's methods for a flight's goroutine, where a panic in a
// codec (a value's MarshalJSON, say) would otherwise end the process: it
// becomes a *PanicError, and the flight treats it like any codec error.
func (c valueCodec[T]) funcs() codecFuncs {
	return codecFuncs{
		encode: func(v any) (b []byte, err error) {
			defer recoverInto(&err)
			return c.encode(v)
		},
		decode: func(data []byte) (v any, err error) {
			defer recoverInto(&err)
			return c.decode(data)
		},
	}
}

func recoverInto(err *error) {
	if r := recover(); r != nil {
		*err = &PanicError{Value: r, Stack: debug.Stack()}
	}
}
