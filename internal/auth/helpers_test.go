package auth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/checkstack/checkstack/internal/clocktest"
	"github.com/checkstack/checkstack/internal/rpc"
	"github.com/checkstack/checkstack/internal/store"
)

// testParams make hashing cheap: the tests check behaviour, not cost.
var testParams = argonParams{time: 1, memory: 64, threads: 1, saltLen: 16, keyLen: 32}

// newClock is a clock the tests move by hand.
func newClock() *clocktest.Clock { return clocktest.New(time.Date(2025, 3, 4, 12, 0, 0, 0, time.UTC)) }

// newService returns a Service on db with cheap hashing and, unless opts
// has a clock, a driven one.
func newService(t *testing.T, db *store.DB, opts Options) (*Service, *clocktest.Clock) {
	t.Helper()
	clk := newClock()
	if opts.Now == nil {
		opts.Now = clk.Now
	}
	s := New(db, nil, opts)
	s.hasher = newHasher(testParams)
	return s, clk
}

func mustCreateUser(t *testing.T, s *Service, email, name string, role rpc.Role) User {
	t.Helper()
	u, err := s.CreateUser(context.Background(), email, name, "correct horse", role)
	if err != nil {
		t.Fatalf("create user %s: %v", email, err)
	}
	return u
}

// request is a call from p at addr, carrying no cookie.
func request(p rpc.Principal, addr string) *rpc.Request {
	return &rpc.Request{Principal: p, RemoteAddr: addr, Header: http.Header{}}
}

// call runs the procedure name with body as r, and decodes its result into
// a T.
func call[T any](t *testing.T, s *Service, name string, r *rpc.Request, body string) (T, error) {
	t.Helper()
	var out T
	for _, p := range s.Procedures() {
		if p.Name != name {
			continue
		}
		raw, err := p.Call(context.Background(), r, []byte(body))
		if err != nil {
			return out, err
		}
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s: decode %s: %v", name, raw, err)
		}
		return out, nil
	}
	t.Fatalf("no procedure %q", name)
	return out, nil
}

// status is the HTTP status err maps to: its *rpc.Error's, 0 for nil, 500
// for any other error.
func status(err error) int {
	if err == nil {
		return 0
	}
	var e *rpc.Error
	if errors.As(err, &e) {
		return e.Status
	}
	return http.StatusInternalServerError
}

// sessionCookieFrom returns the session cookie set on r's response.
func sessionCookieFrom(t *testing.T, s *Service, r *rpc.Request) *http.Cookie {
	t.Helper()
	for _, line := range r.Header.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			t.Fatalf("parse Set-Cookie %q: %v", line, err)
		}
		if c.Name == s.opts.CookieName {
			return c
		}
	}
	t.Fatalf("no %s cookie set; header: %v", s.opts.CookieName, r.Header)
	return nil
}

// httpRequest is an incoming request carrying the given cookie and
// Authorization header (either may be empty).
func httpRequest(cookie *http.Cookie, authorization string) *http.Request {
	r, _ := http.NewRequest(http.MethodPost, "http://checkstack.test/api/auth/me", nil) // a constant URL always parses
	if cookie != nil {
		r.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	}
	if authorization != "" {
		r.Header.Set("Authorization", authorization)
	}
	return r
}

func countRows(t *testing.T, db *store.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.For("test").QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}
