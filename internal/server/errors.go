package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/checkstack/checkstack/internal/rpc"
)

// This file is the one place errors become HTTP statuses.

var internalError = &rpc.Error{Status: http.StatusInternalServerError, Code: "INTERNAL", Message: "internal error"}

// fail answers a procedure's error. An *rpc.Error is shown as it is; a
// caller that went away gets 499 (nobody reads it); anything else is a 500
// logged once with its cause and shown as "internal error".
func (s *Server) fail(w http.ResponseWriter, r *http.Request, p rpc.Procedure, err error) int {
	var e *rpc.Error
	switch {
	case errors.As(err, &e):
		return writeError(w, e)
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		return writeError(w, &rpc.Error{Status: 499, Code: "CLIENT_CLOSED", Message: "request cancelled"})
	default:
		s.log.ErrorContext(r.Context(), "procedure failed", "procedure", p.Domain+"/"+p.Name, "err", err)
		return writeError(w, internalError)
	}
}

func writeError(w http.ResponseWriter, e *rpc.Error) int {
	writeJSON(w, e.Status, map[string]any{"error": map[string]string{"code": e.Code, "message": e.Message}})
	return e.Status
}
