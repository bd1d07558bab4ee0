package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/checkstack/checkstack/internal/store/storetest"
)

// instance is a server started through run, as main starts it.
type instance struct {
	url      string
	database string
	stop     func() // cancels and waits for run to return
}

// eachDatabase runs fn against a fresh SQLite file and a fresh PostgreSQL
// schema.
func eachDatabase(t *testing.T, fn func(t *testing.T, database string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, filepath.Join(t.TempDir(), "data", "checkstack.db")) })
	t.Run("postgres", func(t *testing.T) { fn(t, storetest.PostgresURL(t)) })
}

func noEnv(string) string { return "" }

// cli runs one subcommand and returns its stdout.
func cli(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := run(t.Context(), args, noEnv, strings.NewReader(stdin), &out, &errOut); err != nil {
		t.Fatalf("checkstack %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

// newUser creates a user and an API key for it, returning the key.
func newUser(t testing.TB, database, email string, admin bool) string {
	t.Helper()
	args := []string{"users", "create", "--database", database, "--email", email, "--name", "User " + email, "--log-level", "warn"}
	if admin {
		args = append(args, "--admin")
	}
	cli(t, "correct horse battery\n", args...)
	out := cli(t, "", "keys", "create", "--database", database, "--email", email, "--name", "test", "--log-level", "warn")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[len(lines)-1]
}

var listening = regexp.MustCompile(`listening on (http://\S+)`)

func start(t testing.TB, database string, extra ...string) *instance {
	t.Helper()
	return startWith(t, runtime{}, database, extra...)
}

// startWith is start on the clock rt gives: serve's own path, with a
// clock the test drives.
func startWith(t testing.TB, rt runtime, database string, extra ...string) *instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		args := append([]string{"--listen", "127.0.0.1:0", "--database", database, "--log-level", "warn"}, extra...)
		if rt.Clock == nil {
			done <- run(ctx, append([]string{"serve"}, args...), noEnv, strings.NewReader(""), pw, io.Discard)
		} else {
			done <- serveWith(ctx, rt, args, noEnv, pw, io.Discard)
		}
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var url string
	for sc.Scan() {
		if m := listening.FindStringSubmatch(sc.Text()); m != nil {
			url = m[1]
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if url == "" {
		cancel()
		t.Fatalf("server did not start: %v", <-done)
	}
	var once sync.Once
	in := &instance{url: url, database: database}
	in.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run returned %v on shutdown", err)
			}
		})
	}
	t.Cleanup(in.stop)
	return in
}

type reply struct {
	Status int
	Body   []byte
}

func (r reply) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

func (in *instance) call(t testing.TB, key, procedure string, body any) reply {
	t.Helper()
	var b []byte
	switch v := body.(type) {
	case string:
		b = []byte(v)
	default:
		b, _ = json.Marshal(v)
	}
	req, _ := http.NewRequest("POST", in.url+"/api/"+procedure, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return reply{res.StatusCode, out}
}

// ok calls and fails the test unless the answer is 200, decoding into out.
func (in *instance) ok(t testing.TB, key, procedure string, body, out any) {
	t.Helper()
	r := in.call(t, key, procedure, body)
	if r.Status != 200 {
		t.Fatalf("%s = %d %s", procedure, r.Status, r.Body)
	}
	if out != nil {
		r.decode(t, out)
	}
}

// metrics reads /metrics.
func (in *instance) metrics(t testing.TB) []byte {
	t.Helper()
	res, err := http.Get(in.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return b
}

func (in *instance) queries(t testing.TB, domain string) int {
	t.Helper()
	b := in.metrics(t)
	m := regexp.MustCompile(`checkstack_db_queries_total\{domain="` + domain + `"\} (\d+)`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// gauge reads one unlabelled metric.
func (in *instance) gauge(t testing.TB, name string) float64 {
	t.Helper()
	b := in.metrics(t)
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no metric %s", name)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

type system struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Metadata    json.RawMessage `json:"metadata"`
}

type systems struct {
	Systems []system `json:"systems"`
}

func TestNewcomerCreatesAndReadsASystem(t *testing.T) {
	eachDatabase(t, func(t *testing.T, database string) {
		key := newUser(t, database, "admin@example.com", true)
		in := start(t, database)

		var created system
		in.ok(t, key, "catalog/createSystem", map[string]any{"name": "API", "description": "public API", "metadata": map[string]string{"tier": "1"}}, &created)
		var got system
		in.ok(t, key, "catalog/getSystem", map[string]string{"id": created.ID}, &got)
		if got.Name != "API" || string(got.Metadata) != `{"tier":"1"}` {
			t.Fatalf("getSystem = %+v", got)
		}
		var me struct{ Email, Role string }
		in.ok(t, key, "auth/me", "{}", &me)
		if me.Email != "admin@example.com" || me.Role != "admin" {
			t.Fatalf("auth/me = %+v", me)
		}
	})
}

func TestWarmReadsRunNoQueryAndWritesAreSeenAtOnce(t *testing.T) {
	eachDatabase(t, func(t *testing.T, database string) {
		key := newUser(t, database, "admin@example.com", true)
		in := start(t, database)
		in.ok(t, key, "catalog/createSystem", map[string]string{"name": "one"}, nil)

		var list systems
		in.ok(t, key, "catalog/getSystems", "{}", &list) // fills the cache
		in.ok(t, key, "catalog/getEntities", "{}", nil)
		before := in.queries(t, "catalog")
		if before == 0 {
			t.Fatal("the query counter did not count the cold reads")
		}
		for range 20 {
			in.ok(t, key, "catalog/getSystems", "{}", &list)
			in.ok(t, key, "catalog/getEntities", "{}", nil)
		}
		if after := in.queries(t, "catalog"); after != before {
			t.Fatalf("40 warm reads ran %d catalog queries, want none", after-before)
		}

		var created system
		in.ok(t, key, "catalog/createSystem", map[string]string{"name": "two"}, &created)
		in.ok(t, key, "catalog/getSystems", "{}", &list)
		if len(list.Systems) != 2 || list.Systems[1].ID != created.ID {
			t.Fatalf("getSystems after createSystem = %+v, want both systems", list.Systems)
		}
	})
}

func TestBadInputGetsAClearErrorAndChangesNothing(t *testing.T) {
	eachDatabase(t, func(t *testing.T, database string) {
		key := newUser(t, database, "admin@example.com", true)
		in := start(t, database)
		var sys system
		in.ok(t, key, "catalog/createSystem", map[string]string{"name": "kept"}, &sys)
		var before json.RawMessage
		in.ok(t, key, "catalog/getEntities", "{}", &before)

		for _, tc := range []struct {
			name, procedure, body string
			status                int
			message               string
		}{
			{"malformed JSON", "catalog/createSystem", `{"name":`, 400, "malformed JSON"},
			{"an unknown field", "catalog/createSystem", `{"name":"x","colour":"red"}`, 400, "colour: unknown field"},
			{"a missing field", "catalog/createSystem", `{"description":"no name"}`, 400, "name: required"},
			{"a blank name", "catalog/createSystem", `{"name":"   "}`, 400, "name: required"},
			{"a wrong type", "catalog/createSystem", `{"name":42}`, 400, "name: must be a string"},
			{"metadata that is not an object", "catalog/createSystem", `{"name":"x","metadata":[1]}`, 400, "metadata: must be a JSON object"},
			{"an oversize body", "catalog/createSystem", `{"name":"` + strings.Repeat("x", 2<<20) + `"}`, 413, "body over"},
			{"an unknown system id", "catalog/updateSystem", `{"id":"nope","name":"x"}`, 404, `system \"nope\" not found`},
			{"an unknown id on delete", "catalog/deleteSystem", `{"id":"nope"}`, 404, "not found"},
			{"a membership of unknown ids", "catalog/addSystemToGroup", `{"systemId":"` + sys.ID + `","groupId":"nope"}`, 404, "not found"},
			{"a contact with a bad email", "catalog/addSystemContact", `{"systemId":"` + sys.ID + `","type":"mailbox","email":"not-an-email"}`, 400, "email: must be an email address"},
			{"a contact of an unknown type", "catalog/addSystemContact", `{"systemId":"` + sys.ID + `","type":"pager"}`, 400, "type: must be"},
			{"a contact naming an unknown user", "catalog/addSystemContact", `{"systemId":"` + sys.ID + `","type":"user","userId":"ghost"}`, 404, "not found"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := in.call(t, key, tc.procedure, tc.body)
				if r.Status != tc.status || !strings.Contains(string(r.Body), tc.message) {
					t.Fatalf("%s %s = %d %s; want %d with %q", tc.procedure, tc.body[:min(len(tc.body), 60)], r.Status, r.Body, tc.status, tc.message)
				}
			})
		}
		var after json.RawMessage
		in.ok(t, key, "catalog/getEntities", "{}", &after)
		if !bytes.Equal(before, after) {
			t.Fatalf("bad input changed the catalog:\nbefore %s\nafter  %s", before, after)
		}
	})
}

func TestWhoMayDoWhat(t *testing.T) {
	eachDatabase(t, func(t *testing.T, database string) {
		admin := newUser(t, database, "admin@example.com", true)
		alice := newUser(t, database, "alice@example.com", false)
		bob := newUser(t, database, "bob@example.com", false)
		in := start(t, database)

		if r := in.call(t, "", "catalog/getSystems", "{}"); r.Status != 401 {
			t.Fatalf("anonymous getSystems = %d, want 401", r.Status)
		}
		if r := in.call(t, "cs_not-a-key", "catalog/getSystems", "{}"); r.Status != 401 {
			t.Fatalf("getSystems with a wrong key = %d, want 401", r.Status)
		}
		if r := in.call(t, alice, "catalog/createSystem", `{"name":"x"}`); r.Status != 403 {
			t.Fatalf("a user's createSystem = %d, want 403", r.Status)
		}
		in.ok(t, admin, "catalog/createSystem", `{"name":"x"}`, nil)
		in.ok(t, alice, "catalog/getSystems", "{}", nil)

		var view struct{ ID string }
		in.ok(t, alice, "catalog/createView", `{"name":"mine","configuration":{"groups":[]}}`, &view)
		var views struct{ Views []struct{ ID string } }
		in.ok(t, bob, "catalog/getViews", "{}", &views)
		if len(views.Views) != 0 {
			t.Fatalf("bob sees alice's views: %+v", views)
		}
		for _, p := range []string{"catalog/updateView", "catalog/deleteView"} {
			body := fmt.Sprintf(`{"id":%q}`, view.ID)
			if p == "catalog/updateView" {
				body = fmt.Sprintf(`{"id":%q,"name":"taken"}`, view.ID)
			}
			if r := in.call(t, bob, p, body); r.Status != 404 {
				t.Fatalf("bob's %s of alice's view = %d, want 404", p, r.Status)
			}
		}
		in.ok(t, alice, "catalog/getViews", "{}", &views)
		if len(views.Views) != 1 {
			t.Fatalf("alice's views after bob's attempts: %+v", views)
		}
	})
}
