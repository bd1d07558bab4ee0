package rpc

import (
	"strings"
	"testing"
)

func TestValidators(t *testing.T) {
	str := func(s string) *string { return &s }
	for _, tc := range []struct {
		name string
		err  error
		want string // "" = valid
	}{
		{"an id is valid", CheckID("id", "abc"), ""},
		{"an empty id is required", CheckID("id", ""), "id: required"},
		{"an id over 128 bytes is too long", CheckID("id", strings.Repeat("x", MaxID+1)), "id: too long"},
		{"a list of ids is valid", CheckIDs("ids", []string{"a", "b"}, 2), ""},
		{"an empty list is required", CheckIDs("ids", nil, 2), "ids: required"},
		{"a list over its bound is too many", CheckIDs("ids", []string{"a", "b", "c"}, 2), "ids: too many (at most 2)"},
		{"a bad element is named by index", CheckIDs("ids", []string{"a", ""}, 2), "ids[1]: required"},
		{"an absent optional name is valid", CheckName("name", nil, false, 10), ""},
		{"an absent required name is required", CheckName("name", nil, true, 10), "name: required"},
		{"a blank name is required", CheckName("name", str("  "), false, 10), "name: required"},
		{"a name over its bound is too long", CheckName("name", str("abcdefghijk"), true, 10), "name: too long (at most 10 characters)"},
		{"characters, not bytes, are counted", CheckText("t", str("ééééé"), 5), ""},
		{"invalid UTF-8 is refused", CheckText("t", str("\xff"), 5), "t: must be valid UTF-8"},
		{"the first error wins", FirstErr(nil, Invalid("a", "x"), Invalid("b", "y")), "a: x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want == "" {
				if tc.err != nil {
					t.Fatalf("err = %v, want none", tc.err)
				}
				return
			}
			e, ok := tc.err.(*Error)
			if !ok || e.Status != 400 || e.Message != tc.want {
				t.Fatalf("err = %#v, want a 400 %q", tc.err, tc.want)
			}
		})
	}
}
