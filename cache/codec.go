package cache

import (
	"encoding/json"
	"runtime/debug"
)

// jsonCodec is the default Codec.
type jsonCodec struct{}

func (jsonCodec) Marshal(v any) ([]byte, error)      { return json.Marshal(v) }
func (jsonCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// valueCodec turns a T into stored bytes and back: through the scope's
// Codec, or as the bytes themselves for WrapBytes.
type valueCodec[T any] struct {
	codec Codec // nil: T is []byte, stored as is
}

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
	var v T
	if c.codec == nil {
		return any(data).(T), nil
	}
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
