package rpc

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxID is the longest id an input may carry.
const MaxID = 128

// CheckID requires a non-empty id of at most MaxID bytes.
func CheckID(field, id string) error {
	switch {
	case id == "":
		return Invalid(field, "required")
	case len(id) > MaxID:
		return Invalid(field, "too long")
	}
	return nil
}

// CheckIDs requires between 1 and max ids, each valid; the error names
// the element, as in "userIds[2]: required".
func CheckIDs(field string, ids []string, max int) error {
	switch {
	case len(ids) == 0:
		return Invalid(field, "required")
	case len(ids) > max:
		return Invalid(field, "too many (at most "+strconv.Itoa(max)+")")
	}
	for i, id := range ids {
		if id == "" || len(id) > MaxID { // the element's name is built only for its error
			return CheckID(field+"["+strconv.Itoa(i)+"]", id)
		}
	}
	return nil
}

// CheckName validates a name of at most max characters; nil is allowed
// unless required (an update that leaves it alone), blank never is.
func CheckName(field string, name *string, required bool, max int) error {
	if name == nil {
		if required {
			return Invalid(field, "required")
		}
		return nil
	}
	if strings.TrimSpace(*name) == "" {
		return Invalid(field, "required")
	}
	return CheckText(field, name, max)
}

// CheckText allows nil, or valid UTF-8 of at most max characters.
func CheckText(field string, s *string, max int) error {
	if s == nil {
		return nil
	}
	if !utf8.ValidString(*s) {
		return Invalid(field, "must be valid UTF-8")
	}
	if utf8.RuneCountInString(*s) > max {
		return Invalid(field, "too long (at most "+strconv.Itoa(max)+" characters)")
	}
	return nil
}

// FirstErr returns the first non-nil error.
func FirstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// ByID is the input of a procedure that names one entity by its id.
type ByID struct {
	ID string `json:"id"`
}

func (in ByID) Validate() error { return CheckID("id", in.ID) }

// BySystem is the input of a procedure that names one system.
type BySystem struct {
	SystemID string `json:"systemId"`
}

func (in BySystem) Validate() error { return CheckID("systemId", in.SystemID) }
