// Package rpc is how a domain declares its HTTP procedures: a name, whether
// it reads or mutates, who may call it, and a typed function. The server
// (internal/server) routes POST /api/<domain>/<name> to it, decodes the body
// strictly into the input type, checks the caller against Access, validates
// the input, and encodes the result; domains never touch HTTP.
//
//	rpc.Query("catalog", "getSystem", rpc.User,
//		func(ctx context.Context, r *rpc.Request, in GetSystemInput) (System, error) { ... })
//
// An input type may implement Validator; its error, built with Invalid,
// names the field. A read's input is shared between the calls that send
// the same body (see inputMemo): a read must not modify its input. Errors
// of type *Error carry their status and a message safe to show; any other
// error is a 500 whose details are logged, never sent.
package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
)

// Access says who may call a procedure.
type Access int

const (
	Public    Access = iota // anyone, signed in or not
	User                    // any signed-in user
	Admin                   // signed-in admins only
	Satellite               // a registered satellite agent (never a user)
	// Viewer is any signed-in user, and anonymous visitors of the public
	// status page when the server shows one: the procedure answers them
	// only what the status page shows (see Principal.Public).
	Viewer
)

func (a Access) String() string {
	switch a {
	case Public:
		return "public"
	case User:
		return "user"
	case Satellite:
		return "satellite"
	case Viewer:
		return "viewer"
	default:
		return "admin"
	}
}

// Kind says whether a procedure reads or changes state.
type Kind int

const (
	Read Kind = iota
	Mutation
)

func (k Kind) String() string {
	if k == Read {
		return "read"
	}
	return "mutation"
}

// Role is a user's role.
type Role string

const (
	RoleAdmin Role = "admin"
	RoleUser  Role = "user"
)

// Principal is who is calling: a user, a satellite, or (the zero value)
// an anonymous caller.
type Principal struct {
	UserID string
	Email  string
	Name   string
	Role   Role
	// SatelliteID is set, and the user fields empty, when a satellite
	// agent calls with its key.
	SatelliteID string
	// Public is set on an anonymous caller when the server shows a public
	// status page: it may call Viewer procedures, which answer it only
	// what the status page shows.
	Public bool
}

// SignedIn reports whether the caller is a user.
func (p Principal) SignedIn() bool { return p.UserID != "" }

// IsAdmin reports whether the caller is an admin.
func (p Principal) IsAdmin() bool { return p.SignedIn() && p.Role == RoleAdmin }

// Allows reports whether p may call a procedure with access a.
func (p Principal) Allows(a Access) bool {
	switch a {
	case Public:
		return true
	case User:
		return p.SignedIn()
	case Satellite:
		return p.SatelliteID != ""
	case Viewer:
		return p.SignedIn() || (p.Public && p.SatelliteID == "")
	default:
		return p.IsAdmin()
	}
}

// Authorize says whether p may call the procedure: nil, a 401 for a
// caller who should sign in, or a 403 for one signed in without the
// right.
func (proc Procedure) Authorize(p Principal) error {
	if p.Allows(proc.Access) {
		return nil
	}
	if !p.SignedIn() && p.SatelliteID == "" {
		return Unauthorized("sign in required")
	}
	return Forbidden(map[Access]string{User: "users only", Admin: "admins only", Satellite: "satellites only", Viewer: "users only"}[proc.Access])
}

// Request is one call: the caller, and the little of HTTP a procedure may
// need (its address for rate limits, cookies for sessions).
type Request struct {
	Principal  Principal
	RemoteAddr string // the client's IP address, without port
	HTTP       *http.Request
	// Header is the response's header; a procedure may set cookies on it.
	Header http.Header
}

// SetCookie adds a Set-Cookie header to the response.
func (r *Request) SetCookie(c *http.Cookie) {
	if v := c.String(); v != "" {
		r.Header.Add("Set-Cookie", v)
	}
}

// Validator is implemented by inputs that check themselves after decoding.
type Validator interface {
	Validate() error
}

// Procedure is one callable procedure. Build it with Query, Mutate or
// QueryJSON.
type Procedure struct {
	Domain string
	Name   string
	Kind   Kind
	Access Access

	answer func(ctx context.Context, r *Request, body []byte) (Result, error)
}

// Call decodes body into the procedure's input, validates it, runs the
// procedure and returns its JSON result. The caller has checked Access.
func (p Procedure) Call(ctx context.Context, r *Request, body []byte) (json.RawMessage, error) {
	out, err := p.Answer(ctx, r, body)
	if err != nil {
		return nil, err
	}
	defer out.Release()
	if out.head == nil && out.release == nil {
		return out.body, nil
	}
	return slices.Concat(out.head, out.body, out.tail), nil
}

// Answer is Call for a caller that writes the result: its pieces, in
// order, not joined (a cached entry is written as it is, never copied).
func (p Procedure) Answer(ctx context.Context, r *Request, body []byte) (Result, error) {
	return p.answer(ctx, r, body)
}

// Result is a procedure's JSON result, in pieces to write in order. Call
// Release once it is written: its bytes may be a pooled buffer's.
type Result struct {
	head, body, tail []byte
	release          func()
}

// Release gives the result's buffer back, if it has one; the result must
// not be used after.
func (r Result) Release() {
	if r.release != nil {
		r.release()
	}
}

// Len is the result's length in bytes.
func (r Result) Len() int { return len(r.head) + len(r.body) + len(r.tail) }

// WriteTo writes the result to w.
func (r Result) WriteTo(w io.Writer) (int64, error) {
	var n int64
	for _, b := range [][]byte{r.head, r.body, r.tail} {
		if len(b) == 0 {
			continue
		}
		m, err := w.Write(b)
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Query declares a read.
func Query[In, Out any](domain, name string, access Access, fn func(ctx context.Context, r *Request, in In) (Out, error)) Procedure {
	return typed(domain, name, Read, access, fn)
}

// Mutate declares a mutation.
func Mutate[In, Out any](domain, name string, access Access, fn func(ctx context.Context, r *Request, in In) (Out, error)) Procedure {
	return typed(domain, name, Mutation, access, fn)
}

// QueryJSON declares a read whose function returns its JSON result already
// encoded (for example a body served from the cache as it is).
func QueryJSON[In any](domain, name string, access Access, fn func(ctx context.Context, r *Request, in In) ([]byte, error)) Procedure {
	return queryObject(domain, name, access, nil, nil, fn)
}

// QueryObject declares a read that answers {"<field>": <fn's JSON>}, fn's
// bytes written as they are (a cached entry, say):
//
//	rpc.QueryObject("catalog", "getSystems", rpc.User, "systems",
//		func(ctx context.Context, _ *rpc.Request, _ rpc.Empty) ([]byte, error) { return cache.WrapJSON(…) })
func QueryObject[In any](domain, name string, access Access, field string, fn func(ctx context.Context, r *Request, in In) ([]byte, error)) Procedure {
	key, _ := json.Marshal(field) // a string always encodes
	return queryObject(domain, name, access, append(append([]byte{'{'}, key...), ':'), []byte{'}'}, fn)
}

// queryObject is a read answering fn's bytes between head and tail.
func queryObject[In any](domain, name string, access Access, head, tail []byte, fn func(ctx context.Context, r *Request, in In) ([]byte, error)) Procedure {
	inputs := newInputMemo[In]()
	return Procedure{Domain: domain, Name: name, Kind: Read, Access: access,
		answer: func(ctx context.Context, r *Request, body []byte) (Result, error) {
			in, err := inputs.decode(body)
			if err != nil {
				return Result{}, err
			}
			out, err := fn(ctx, r, in)
			if err != nil {
				return Result{}, err
			}
			return Result{head: head, body: out, tail: tail}, nil
		}}
}

// QueryMap declares a bulk read that answers {"<field>": {"<keys[i]>":
// <raws[i]>, …}}: fn returns per-entity JSON (cached entries, say), which
// is stitched into the response without being decoded (see MapJSON), in
// a buffer reused from one response to the next.
func QueryMap[In any](domain, name string, access Access, field string, fn func(ctx context.Context, r *Request, in In) ([]string, []json.RawMessage, error)) Procedure {
	inputs := newInputMemo[In]()
	return Procedure{Domain: domain, Name: name, Kind: Read, Access: access,
		answer: func(ctx context.Context, r *Request, body []byte) (Result, error) {
			in, err := inputs.decode(body)
			if err != nil {
				return Result{}, err
			}
			keys, raws, err := fn(ctx, r, in)
			if err != nil {
				return Result{}, err
			}
			buf := getBuffer()
			*buf = appendMap((*buf)[:0], field, keys, raws)
			return Result{body: *buf, release: func() { putBuffer(buf) }}, nil
		}}
}

func typed[In, Out any](domain, name string, kind Kind, access Access, fn func(ctx context.Context, r *Request, in In) (Out, error)) Procedure {
	decode := Decode[In]
	if kind == Read {
		decode = newInputMemo[In]().decode
	}
	return Procedure{Domain: domain, Name: name, Kind: kind, Access: access,
		answer: func(ctx context.Context, r *Request, body []byte) (Result, error) {
			in, err := decode(body)
			if err != nil {
				return Result{}, err
			}
			out, err := fn(ctx, r, in)
			if err != nil {
				return Result{}, err
			}
			b, err := json.Marshal(out)
			if err != nil {
				return Result{}, fmt.Errorf("rpc: encode %s/%s result: %w", domain, name, err)
			}
			return Result{body: b}, nil
		}}
}

// Empty is the input of a procedure that takes none: the body must be {}
// (or empty).
type Empty struct{}

// Decode parses body strictly into an In: a JSON object (an empty body
// counts as {}), no unknown fields, no trailing data, then Validate if In
// has it. Its errors are *Error with status 400, naming the field where
// there is one.
func Decode[In any](body []byte) (In, error) {
	in, err := DecodeStrict[In](body)
	if err != nil {
		return in, err
	}
	if v, ok := any(&in).(Validator); ok {
		if err := v.Validate(); err != nil {
			return in, err
		}
	}
	return in, nil
}

// DecodeStrict is Decode without Validate, for a caller that completes
// the value before validating it.
func DecodeStrict[In any](body []byte) (In, error) {
	var in In
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if b := bytes.TrimSpace(body); b[0] != '{' {
		return in, BadRequest("body: must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return in, decodeError(err, reflect.TypeFor[In]())
	}
	if _, err := dec.Token(); err != io.EOF {
		return in, BadRequest("body: unexpected data after the JSON object")
	}
	return in, nil
}

// decodeError is err, from decoding a t, as an error naming the field.
func decodeError(err error, t reflect.Type) *Error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return BadRequest("body: malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		field := jsonPath(t, typ.Field)
		if field == "" {
			field = "body"
		}
		if typ.Type == timeType {
			return Invalid(field, `must be a time in RFC 3339 form, such as "2026-12-05T02:00:00Z"`)
		}
		return Invalid(field, "must be "+jsonType(typ.Type.Kind().String()))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return BadRequest("body: malformed JSON (unexpected end)")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return Invalid(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "unknown field")
	default:
		return BadRequest("body: %v", err)
	}
}

// jsonPath is a decoding error's field path as the client wrote it: the
// path encoding/json reports names an embedded struct by its Go name
// ("objectiveFields.target"), which is not in the JSON.
func jsonPath(t reflect.Type, path string) string {
	if path == "" {
		return ""
	}
	var out []string
	for _, seg := range strings.Split(path, ".") {
		for t != nil && (t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map) {
			t = t.Elem()
		}
		if t == nil || t.Kind() != reflect.Struct {
			out, t = append(out, seg), nil
			continue
		}
		if f, ok := t.FieldByName(seg); ok && f.Anonymous && !strings.EqualFold(f.Tag.Get("json"), seg) {
			t = f.Type // an embedded struct: not part of the JSON path
			continue
		}
		out = append(out, seg)
		t = fieldByJSONName(t, seg)
	}
	return strings.Join(out, ".")
}

// fieldByJSONName is the type of t's field that JSON calls name, or nil.
func fieldByJSONName(t reflect.Type, name string) reflect.Type {
	var found reflect.Type
	for _, f := range reflect.VisibleFields(t) {
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == name || (tag == "" && strings.EqualFold(f.Name, name)) {
			found = f.Type
		}
	}
	return found
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	default:
		return "of another type"
	}
}
