package cache

import "encoding/json"

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

func (c valueCodec[T]) funcs() codecFuncs {
	return codecFuncs{
		encode: c.encode,
		decode: func(data []byte) (any, error) { return c.decode(data) },
	}
}
