package rpc

import (
	"bytes"
	"encoding/json"
	"reflect"
	"time"
)

// Nullable is an input field that may be absent, null or a value, for
// partial updates that tell "leave it alone" (absent) from "clear it"
// (null):
//
//	Description rpc.Nullable[string] `json:"description"`
//
// Set is false when the field was absent; Null is true when it was null.
// An object value is decoded strictly, as the body is: an unknown field is
// an error.
type Nullable[T any] struct {
	Set   bool
	Null  bool
	Value T
}

// UnmarshalJSON records that the field was present, and whether it was
// null. A value of the wrong type is an error naming the field.
func (n *Nullable[T]) UnmarshalJSON(b []byte) error {
	n.Set = true
	if string(b) == "null" {
		n.Null = true
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(&n.Value)
}

// Time is a time input: an RFC 3339 string such as
// "2026-12-05T02:00:00Z". Unlike time.Time, a value that is not one is an
// error naming the field ("startAt: must be a time …").
type Time struct{ time.Time }

var timeType = reflect.TypeFor[Time]()

// UnmarshalJSON parses an RFC 3339 string.
func (t *Time) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return &json.UnmarshalTypeError{Value: "non-string", Type: timeType}
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return &json.UnmarshalTypeError{Value: "string", Type: timeType}
	}
	t.Time = v
	return nil
}

// Ptr is the time t holds, or nil for a nil t.
func (t *Time) Ptr() *time.Time {
	if t == nil {
		return nil
	}
	return &t.Time
}
