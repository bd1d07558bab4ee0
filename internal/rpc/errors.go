package rpc

import (
	"fmt"
	"net/http"
)

// Error is an error whose message is safe to show the caller, with the HTTP
// status and code it maps to.
type Error struct {
	Status  int    // HTTP status
	Code    string // e.g. "BAD_REQUEST"
	Message string // shown to the caller
}

func (e *Error) Error() string { return e.Message }

// BadRequest is a 400 for input that cannot be understood.
func BadRequest(format string, args ...any) *Error {
	return &Error{http.StatusBadRequest, "BAD_REQUEST", fmt.Sprintf(format, args...)}
}

// Invalid is a 400 naming the field that failed validation:
// Invalid("systemIds", "required") reads "systemIds: required".
func Invalid(field, reason string) *Error {
	return &Error{http.StatusBadRequest, "BAD_REQUEST", field + ": " + reason}
}

// Unauthorized is a 401: the caller is not signed in, or its credentials
// are wrong.
func Unauthorized(msg string) *Error {
	return &Error{http.StatusUnauthorized, "UNAUTHORIZED", msg}
}

// Forbidden is a 403: signed in, but not allowed.
func Forbidden(msg string) *Error {
	return &Error{http.StatusForbidden, "FORBIDDEN", msg}
}

// NotFound is a 404 for an entity the input names: NotFound("system", id).
func NotFound(what, id string) *Error {
	return &Error{http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("%s %q not found", what, id)}
}

// Conflict is a 409.
func Conflict(msg string) *Error {
	return &Error{http.StatusConflict, "CONFLICT", msg}
}

// Unavailable is a 503: a dependency (the database, say) failed; the
// caller should try again.
func Unavailable(msg string) *Error {
	return &Error{http.StatusServiceUnavailable, "UNAVAILABLE", msg}
}

// TooManyRequests is a 429.
func TooManyRequests(msg string) *Error {
	return &Error{http.StatusTooManyRequests, "TOO_MANY_REQUESTS", msg}
}

// NotFoundField is a 404 for an id in a field of the input that names
// nothing: NotFoundField("systemIds[1]", `no system "x"`) reads
// `systemIds[1]: no system "x"`.
func NotFoundField(field, reason string) *Error {
	return &Error{http.StatusNotFound, "NOT_FOUND", field + ": " + reason}
}
