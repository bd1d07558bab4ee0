package rpc

import "encoding/json"

// Nullable is an input field that may be absent, null or a value, for
// partial updates that tell "leave it alone" (absent) from "clear it"
// (null):
//
//	Description rpc.Nullable[string] `json:"description"`
//
// Set is false when the field was absent; Null is true when it was null.
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
	return json.Unmarshal(b, &n.Value)
}
