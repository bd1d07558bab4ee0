package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/checkstack/checkstack/internal/rpc"
)

type echoIn struct {
	Name  string   `json:"name"`
	Count int      `json:"count"`
	Tags  []string `json:"tags"`
}

func (in echoIn) Validate() error {
	if in.Name == "" {
		return rpc.Invalid("name", "required")
	}
	return nil
}

func newTestServer(t *testing.T, ready func(context.Context) error) (*httptest.Server, *strings.Builder) {
	t.Helper()
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	procs := []rpc.Procedure{
		rpc.Query("test", "echo", rpc.Public, func(ctx context.Context, r *rpc.Request, in echoIn) (echoIn, error) { return in, nil }),
		rpc.Query("test", "whoami", rpc.User, func(ctx context.Context, r *rpc.Request, _ rpc.Empty) (string, error) {
			return r.Principal.UserID, nil
		}),
		rpc.Mutate("test", "adminOnly", rpc.Admin, func(ctx context.Context, r *rpc.Request, _ rpc.Empty) (bool, error) { return true, nil }),
		rpc.Query("test", "panics", rpc.Public, func(ctx context.Context, r *rpc.Request, _ rpc.Empty) (int, error) {
			panic("secret-db-password in a panic")
		}),
		rpc.Query("test", "fails", rpc.Public, func(ctx context.Context, r *rpc.Request, _ rpc.Empty) (int, error) {
			return 0, errors.New("pq: relation secret_table does not exist")
		}),
		rpc.Query("test", "notFound", rpc.Public, func(ctx context.Context, r *rpc.Request, _ rpc.Empty) (int, error) {
			return 0, rpc.NotFound("system", "x")
		}),
	}
	s := New(Options{
		Logger: log,
		Authenticate: func(r *http.Request) (rpc.Principal, error) {
			switch r.Header.Get("Authorization") {
			case "":
				return rpc.Principal{}, nil
			case "Bearer user":
				return rpc.Principal{UserID: "u1", Role: rpc.RoleUser}, nil
			case "Bearer admin":
				return rpc.Principal{UserID: "a1", Role: rpc.RoleAdmin}, nil
			case "Bearer unchecked":
				return rpc.Principal{}, errors.New("database down")
			default:
				return rpc.Principal{}, rpc.Unauthorized("invalid credentials")
			}
		},
		Procedures: procs,
		Ready:      ready,
	})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv, &logs
}

type response struct {
	status int
	body   string
	header http.Header
}

func do(t *testing.T, srv *httptest.Server, method, path, contentType, auth, body string) response {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{res.StatusCode, string(b), res.Header}
}

func TestProcedureConventions(t *testing.T) {
	srv, logs := newTestServer(t, nil)
	const js = "application/json"
	for _, tc := range []struct {
		name, method, path, ctype, auth, body string
		status                                int
		contains                              string
	}{
		{"a valid call returns the result", "POST", "/api/test/echo", js, "", `{"name":"a","count":2}`, 200, `"name":"a"`},
		{"a charset parameter is accepted", "POST", "/api/test/echo", js + "; charset=utf-8", "", `{"name":"a"}`, 200, `"name":"a"`},
		{"malformed JSON is a 400", "POST", "/api/test/echo", js, "", `{"name":`, 400, "malformed JSON"},
		{"a body that is not an object is a 400", "POST", "/api/test/echo", js, "", `["a"]`, 400, "must be a JSON object"},
		{"an unknown field is a 400 naming it", "POST", "/api/test/echo", js, "", `{"name":"a","nmae":"b"}`, 400, "nmae: unknown field"},
		{"trailing data is a 400", "POST", "/api/test/echo", js, "", `{"name":"a"} {}`, 400, "after the JSON object"},
		{"a wrong type is a 400 naming the field", "POST", "/api/test/echo", js, "", `{"name":"a","count":"2"}`, 400, "count: must be an integer"},
		{"a failed validation is a 400 naming the field", "POST", "/api/test/echo", js, "", `{}`, 400, "name: required"},
		{"a wrong content type is a 415", "POST", "/api/test/echo", "text/plain", "", `{"name":"a"}`, 415, "application/json"},
		{"an oversize body is a 413", "POST", "/api/test/echo", js, "", `{"name":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, 413, "PAYLOAD_TOO_LARGE"},
		{"an unknown procedure is a 404", "POST", "/api/test/nope", js, "", `{}`, 404, "no such procedure"},
		{"an unknown path is a 404", "GET", "/nowhere", "", "", "", 404, "NOT_FOUND"},
		{"GET on a procedure is a 405", "GET", "/api/test/echo", "", "", "", 405, "METHOD_NOT_ALLOWED"},
		{"a user procedure without credentials is a 401", "POST", "/api/test/whoami", js, "", `{}`, 401, "sign in required"},
		{"wrong credentials are a 401", "POST", "/api/test/whoami", js, "Bearer wrong", `{}`, 401, "invalid credentials"},
		{"credentials that cannot be checked are a 503", "POST", "/api/test/whoami", js, "Bearer unchecked", `{}`, 503, "try again"},
		{"a user procedure with a user is a 200", "POST", "/api/test/whoami", js, "Bearer user", `{}`, 200, `"u1"`},
		{"an empty body counts as {}", "POST", "/api/test/whoami", "", "Bearer user", ``, 200, `"u1"`},
		{"an admin procedure for a user is a 403", "POST", "/api/test/adminOnly", js, "Bearer user", `{}`, 403, "FORBIDDEN"},
		{"an admin procedure for an admin is a 200", "POST", "/api/test/adminOnly", js, "Bearer admin", `{}`, 200, "true"},
		{"a domain error keeps its status", "POST", "/api/test/notFound", js, "", `{}`, 404, `system \"x\" not found`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := do(t, srv, tc.method, tc.path, tc.ctype, tc.auth, tc.body)
			if res.status != tc.status || !strings.Contains(res.body, tc.contains) {
				t.Fatalf("%s %s = %d %s; want %d containing %q", tc.method, tc.path, res.status, res.body, tc.status, tc.contains)
			}
			if res.status >= 400 {
				var e struct {
					Error struct{ Code, Message string }
				}
				if json.Unmarshal([]byte(res.body), &e) != nil || e.Error.Code == "" || e.Error.Message == "" {
					t.Fatalf("error body %s is not {\"error\":{\"code\",\"message\"}}", res.body)
				}
			}
			if tc.status == 405 && res.header.Get("Allow") != "POST" {
				t.Fatalf("405 without Allow: POST")
			}
			if tc.status == 503 && res.header.Get("Retry-After") == "" {
				t.Fatalf("503 without Retry-After")
			}
		})
	}

	t.Run("a panic is a 500 that leaks nothing, and is logged", func(t *testing.T) {
		res := do(t, srv, "POST", "/api/test/panics", js, "", `{}`)
		if res.status != 500 || strings.Contains(res.body, "secret") {
			t.Fatalf("panic answered %d %s", res.status, res.body)
		}
		if !strings.Contains(logs.String(), "secret-db-password") {
			t.Fatal("the panic was not logged")
		}
	})
	t.Run("an internal error is a 500 that leaks nothing", func(t *testing.T) {
		res := do(t, srv, "POST", "/api/test/fails", js, "", `{}`)
		if res.status != 500 || strings.Contains(res.body, "secret_table") || !strings.Contains(res.body, "internal error") {
			t.Fatalf("error answered %d %s", res.status, res.body)
		}
	})
}

func TestOperationalEndpoints(t *testing.T) {
	down := errors.New("db down")
	var readyErr error
	srv, _ := newTestServer(t, func(context.Context) error { return readyErr })

	res := do(t, srv, "GET", "/api/", "", "", "")
	if res.status != 200 || !strings.Contains(res.body, `{"path":"/api/test/adminOnly","domain":"test","name":"adminOnly","kind":"mutation","access":"admin"}`) {
		t.Fatalf("GET /api/ = %d %s", res.status, res.body)
	}
	if res := do(t, srv, "GET", "/healthz", "", "", ""); res.status != 200 {
		t.Fatalf("healthz = %d", res.status)
	}
	if res := do(t, srv, "GET", "/readyz", "", "", ""); res.status != 200 {
		t.Fatalf("readyz = %d", res.status)
	}
	readyErr = down
	if res := do(t, srv, "GET", "/readyz", "", "", ""); res.status != 503 {
		t.Fatalf("readyz with the database down = %d", res.status)
	}
	do(t, srv, "POST", "/api/test/echo", "application/json", "", `{"name":"a"}`)
	res = do(t, srv, "GET", "/metrics", "", "", "")
	if !strings.Contains(res.body, `checkstack_http_requests_total{procedure="test/echo",status="200"} 1`) ||
		!strings.Contains(res.body, `checkstack_http_request_duration_seconds_bucket{procedure="test/echo"`) {
		t.Fatalf("metrics missing request counts or latency:\n%s", res.body)
	}
}
