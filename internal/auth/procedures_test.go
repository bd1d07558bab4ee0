package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/checkstack/checkstack/internal/rpc"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

func TestProcedureDeclarations(t *testing.T) {
	s := &Service{}
	want := map[string]struct {
		kind   rpc.Kind
		access rpc.Access
	}{
		"login":       {rpc.Mutation, rpc.Public},
		"logout":      {rpc.Mutation, rpc.Public},
		"me":          {rpc.Read, rpc.User},
		"listKeys":    {rpc.Read, rpc.User},
		"createKey":   {rpc.Mutation, rpc.User},
		"revokeKey":   {rpc.Mutation, rpc.User},
		"listUsers":   {rpc.Read, rpc.Admin},
		"createUser":  {rpc.Mutation, rpc.Admin},
		"deleteUser":  {rpc.Mutation, rpc.Admin},
		"setUserRole": {rpc.Mutation, rpc.Admin},
	}
	procs := s.Procedures()
	if len(procs) != len(want) {
		t.Errorf("%d procedures, want %d", len(procs), len(want))
	}
	for _, p := range procs {
		w, ok := want[p.Name]
		if !ok {
			t.Errorf("unexpected procedure %s", p.Name)
			continue
		}
		if p.Domain != "auth" || p.Kind != w.kind || p.Access != w.access {
			t.Errorf("%s: domain %s, %s, %s; want auth, %s, %s", p.Name, p.Domain, p.Kind, p.Access, w.kind, w.access)
		}
	}
}

func TestLoginLogout(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, _ := newService(t, db, Options{SecureCookie: true, SessionTTL: 2 * time.Hour})
		u := mustCreateUser(t, s, "ada@example.com", "Ada", rpc.RoleUser)

		login := request(rpc.Principal{}, "192.0.2.1")
		out, err := call[UserOutput](t, s, "login", login, `{"email":"  ADA@example.com ","password":"correct horse"}`)
		if err != nil {
			t.Fatal(err)
		}
		if out.User.ID != u.ID || out.User.Email != "ada@example.com" {
			t.Errorf("login returned %+v, want %+v", out.User, u)
		}
		cookie := sessionCookieFrom(t, s, login)
		if !cookie.HttpOnly || !cookie.Secure || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/" ||
			cookie.MaxAge != 7200 || cookie.Value == "" {
			t.Errorf("session cookie = %+v; want HttpOnly, Secure, SameSite=Lax, Path=/, Max-Age=7200", cookie)
		}
		if n := countRows(t, db, `SELECT COUNT(*) FROM auth_sessions WHERE token_hash = ?`, cookie.Value); n != 0 {
			t.Error("the session token is stored as it is")
		}

		p, err := s.Authenticate(httpRequest(cookie, ""))
		if err != nil || p.UserID != u.ID {
			t.Fatalf("Authenticate(login cookie) = %+v, %v; want %s", p, err, u.ID)
		}

		me, err := call[User](t, s, "me", request(p, "192.0.2.1"), `{}`)
		if err != nil || me != u {
			t.Errorf("me = %+v, %v; want %+v", me, err, u)
		}

		logout := request(p, "192.0.2.1")
		logout.HTTP = httpRequest(cookie, "")
		if _, err := call[struct{}](t, s, "logout", logout, `{}`); err != nil {
			t.Fatal(err)
		}
		if cleared := sessionCookieFrom(t, s, logout); cleared.MaxAge >= 0 || cleared.Value != "" {
			t.Errorf("logout cookie = %+v, want an empty one with Max-Age=0", cleared)
		}
		if p, err := s.Authenticate(httpRequest(cookie, "")); err != nil || p.SignedIn() {
			t.Errorf("Authenticate after logout = %+v, %v; want anonymous", p, err)
		}

		t.Run("logout without a session just clears the cookie", func(t *testing.T) {
			r := request(rpc.Principal{}, "192.0.2.1")
			if _, err := call[struct{}](t, s, "logout", r, `{}`); err != nil {
				t.Fatal(err)
			}
			sessionCookieFrom(t, s, r)
		})

		t.Run("wrong credentials are 401 and set no cookie", func(t *testing.T) {
			for _, body := range []string{
				`{"email":"ada@example.com","password":"wrong horse"}`,
				`{"email":"nobody@example.com","password":"correct horse"}`,
			} {
				r := request(rpc.Principal{}, "192.0.2.2")
				_, err := call[UserOutput](t, s, "login", r, body)
				var e *rpc.Error
				if !errors.As(err, &e) || e.Status != http.StatusUnauthorized || e.Message != "invalid email or password" {
					t.Errorf("login %s = %v, want 401 invalid email or password", body, err)
				}
				if len(r.Header.Values("Set-Cookie")) != 0 {
					t.Errorf("login %s set a cookie", body)
				}
			}
			if s.hasher.dummy == "" {
				t.Error("a login for an unknown email did not hash")
			}
		})

		t.Run("login names a missing field", func(t *testing.T) {
			for body, field := range map[string]string{
				`{"password":"x"}`:          "email",
				`{"email":"a@example.com"}`: "password",
			} {
				_, err := call[UserOutput](t, s, "login", request(rpc.Principal{}, "192.0.2.3"), body)
				if status(err) != http.StatusBadRequest || !strings.HasPrefix(err.Error(), field+":") {
					t.Errorf("login %s = %v, want 400 naming %s", body, err, field)
				}
			}
		})
	})
}

func TestLoginRateLimit(t *testing.T) {
	const (
		right = `{"email":"ada@example.com","password":"correct horse"}`
		wrong = `{"email":"ada@example.com","password":"wrong horse"}`
	)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Run("per account", func(t *testing.T) {
			s, clk := newService(t, db, Options{MaxFailuresPerAccount: 3, FailureWindow: 10 * time.Minute})
			mustCreateUser(t, s, "ada@example.com", "Ada", rpc.RoleUser)
			for i := range 3 {
				// From a different address each time: the account's own limit.
				_, err := call[UserOutput](t, s, "login", request(rpc.Principal{}, fmt.Sprintf("192.0.2.%d", i)), wrong)
				if status(err) != http.StatusUnauthorized {
					t.Fatalf("failure %d: %v, want 401", i, err)
				}
			}
			_, err := call[UserOutput](t, s, "login", request(rpc.Principal{}, "192.0.2.99"), right)
			if status(err) != http.StatusTooManyRequests {
				t.Fatalf("over the limit, the right password: %v, want 429", err)
			}
			_, err = call[UserOutput](t, s, "login", request(rpc.Principal{}, "192.0.2.99"), strings.Replace(right, "ada@", "ADA@", 1))
			if status(err) != http.StatusTooManyRequests {
				t.Fatalf("over the limit, the email in capitals: %v, want 429", err)
			}

			clk.Advance(10*time.Minute + time.Second)
			if _, err := call[UserOutput](t, s, "login", request(rpc.Principal{}, "192.0.2.99"), right); err != nil {
				t.Fatalf("after the window: %v", err)
			}

			// That success cleared the account: three more failures are
			// checked (401), the fourth attempt is not.
			for i := range 3 {
				if _, err := call[UserOutput](t, s, "login", request(rpc.Principal{}, "192.0.2.50"), wrong); status(err) != http.StatusUnauthorized {
					t.Fatalf("failure %d after a success: %v, want 401", i, err)
				}
			}
			if _, err := call[UserOutput](t, s, "login", request(rpc.Principal{}, "192.0.2.50"), wrong); status(err) != http.StatusTooManyRequests {
				t.Fatalf("fourth failure after a success: %v, want 429", err)
			}
		})

		t.Run("per address", func(t *testing.T) {
			s, clk := newService(t, db, Options{MaxFailuresPerAddress: 3, FailureWindow: 10 * time.Minute})
			for i := range 3 {
				body := fmt.Sprintf(`{"email":"user%d@example.com","password":"guess"}`, i)
				if _, err := call[UserOutput](t, s, "login", request(rpc.Principal{}, "198.51.100.7"), body); status(err) != http.StatusUnauthorized {
					t.Fatalf("failure %d: %v, want 401", i, err)
				}
			}
			_, err := call[UserOutput](t, s, "login", request(rpc.Principal{}, "198.51.100.7"), right)
			if status(err) != http.StatusTooManyRequests {
				t.Fatalf("over the address limit: %v, want 429", err)
			}
			if _, err := call[UserOutput](t, s, "login", request(rpc.Principal{}, "198.51.100.8"), wrong); status(err) != http.StatusUnauthorized {
				t.Fatalf("another address: %v, want 401", err)
			}
			clk.Advance(10*time.Minute + time.Second)
			if _, err := call[UserOutput](t, s, "login", request(rpc.Principal{}, "198.51.100.7"), right); err != nil {
				t.Fatalf("after the window: %v", err)
			}
		})

		// Invariant 1 of the package doc: concurrent attempts cannot get
		// more password checks than the limit.
		t.Run("concurrent attempts get at most the limit of checks", func(t *testing.T) {
			s, _ := newService(t, db, Options{MaxFailuresPerAccount: 5})
			const attempts = 20
			var wg sync.WaitGroup
			statuses := make(chan int, attempts)
			for i := range attempts {
				wg.Go(func() {
					_, err := call[UserOutput](t, s, "login", request(rpc.Principal{}, fmt.Sprintf("203.0.113.%d", i)), wrong)
					statuses <- status(err)
				})
			}
			wg.Wait()
			close(statuses)
			counts := map[int]int{}
			for st := range statuses {
				counts[st]++
			}
			if counts[http.StatusUnauthorized] != 5 || counts[http.StatusTooManyRequests] != attempts-5 {
				t.Errorf("statuses %v, want 5×401 and %d×429", counts, attempts-5)
			}
		})
	})
}

func TestKeyProcedures(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, _ := newService(t, db, Options{})
		admin := mustCreateUser(t, s, "root@example.com", "Root", rpc.RoleAdmin).Principal()
		ada := mustCreateUser(t, s, "ada@example.com", "Ada", rpc.RoleUser).Principal()
		bob := mustCreateUser(t, s, "bob@example.com", "Bob", rpc.RoleUser).Principal()
		addr := "192.0.2.1"

		created, err := call[CreateKeyOutput](t, s, "createKey", request(ada, addr), `{"name":"  deploy bot "}`)
		if err != nil {
			t.Fatal(err)
		}
		if created.Key.Name != "deploy bot" || created.Key.UserID != ada.UserID || !strings.HasPrefix(created.Secret, "cs_") ||
			created.Key.Prefix != created.Secret[:8] || created.Key.RevokedAt != nil || created.Key.LastUsedAt != nil {
			t.Errorf("createKey = %+v", created)
		}
		if p, err := s.Authenticate(httpRequest(nil, "Bearer "+created.Secret)); err != nil || p != ada {
			t.Errorf("the new key authenticates as %+v, %v; want %+v", p, err, ada)
		}

		listed, err := call[KeysOutput](t, s, "listKeys", request(ada, addr), `{}`)
		if err != nil || len(listed.Keys) != 1 || listed.Keys[0].ID != created.Key.ID {
			t.Fatalf("listKeys = %+v, %v; want the one key", listed, err)
		}
		if bobs, err := call[KeysOutput](t, s, "listKeys", request(bob, addr), `{}`); err != nil || bobs.Keys == nil || len(bobs.Keys) != 0 {
			t.Errorf("another user's listKeys = %+v, %v; want an empty list", bobs, err)
		}

		t.Run("createKey names a missing name", func(t *testing.T) {
			_, err := call[CreateKeyOutput](t, s, "createKey", request(ada, addr), `{"name":"  "}`)
			if status(err) != http.StatusBadRequest || err.Error() != "name: required" {
				t.Errorf("createKey without a name = %v, want 400 name: required", err)
			}
		})

		t.Run("another user's key is not found", func(t *testing.T) {
			_, err := call[struct{}](t, s, "revokeKey", request(bob, addr), fmt.Sprintf(`{"id":%q}`, created.Key.ID))
			if status(err) != http.StatusNotFound {
				t.Fatalf("revokeKey by another user = %v, want 404", err)
			}
			if _, err := s.Authenticate(httpRequest(nil, "Bearer "+created.Secret)); err != nil {
				t.Errorf("the key stopped working: %v", err)
			}
			_, err = call[struct{}](t, s, "revokeKey", request(bob, addr), `{"id":"nope"}`)
			if status(err) != http.StatusNotFound {
				t.Errorf("revokeKey of an unknown key = %v, want 404", err)
			}
		})

		t.Run("the owner revokes their key", func(t *testing.T) {
			if _, err := call[struct{}](t, s, "revokeKey", request(ada, addr), fmt.Sprintf(`{"id":%q}`, created.Key.ID)); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Authenticate(httpRequest(nil, "Bearer "+created.Secret)); !errors.Is(err, ErrInvalidCredentials) {
				t.Errorf("a revoked key authenticates: %v", err)
			}
			listed, _ := call[KeysOutput](t, s, "listKeys", request(ada, addr), `{}`)
			if len(listed.Keys) != 1 || listed.Keys[0].RevokedAt == nil {
				t.Errorf("listKeys after revoke = %+v, want the key with revokedAt", listed)
			}
			// Again: nothing changes, no error.
			if _, err := call[struct{}](t, s, "revokeKey", request(ada, addr), fmt.Sprintf(`{"id":%q}`, created.Key.ID)); err != nil {
				t.Errorf("revoking twice: %v", err)
			}
		})

		t.Run("an admin revokes anyone's key", func(t *testing.T) {
			bobs, err := call[CreateKeyOutput](t, s, "createKey", request(bob, addr), `{"name":"laptop"}`)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := call[struct{}](t, s, "revokeKey", request(admin, addr), fmt.Sprintf(`{"id":%q}`, bobs.Key.ID)); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Authenticate(httpRequest(nil, "Bearer "+bobs.Secret)); !errors.Is(err, ErrInvalidCredentials) {
				t.Errorf("the revoked key authenticates: %v", err)
			}
		})

		t.Run("a key for an unknown user is not found", func(t *testing.T) {
			if _, _, err := s.CreateKey(context.Background(), "nobody", "x"); !errors.Is(err, ErrNotFound) {
				t.Errorf("CreateKey(unknown user) = %v, want ErrNotFound", err)
			}
		})
	})
}

func TestUserProcedures(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, clk := newService(t, db, Options{})
		admin := mustCreateUser(t, s, "root@example.com", "Root", rpc.RoleAdmin).Principal()
		addr := "192.0.2.1"

		clk.Advance(time.Second)
		created, err := call[UserOutput](t, s, "createUser", request(admin, addr),
			`{"email":"Ada@Example.com","name":" Ada ","password":"correct horse"}`)
		if err != nil {
			t.Fatal(err)
		}
		ada := created.User
		if ada.Email != "ada@example.com" || ada.Name != "Ada" || ada.Role != rpc.RoleUser || ada.ID == "" || ada.CreatedAt.IsZero() {
			t.Errorf("createUser = %+v", ada)
		}
		if got, err := s.UserByEmail(ctx, "ADA@example.com"); err != nil || got != ada {
			t.Errorf("UserByEmail = %+v, %v; want %+v", got, err, ada)
		}
		if got, err := s.GetUser(ctx, ada.ID); err != nil || got != ada {
			t.Errorf("GetUser = %+v, %v; want %+v", got, err, ada)
		}
		if _, err := s.GetUser(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetUser(unknown) = %v, want ErrNotFound", err)
		}
		if _, err := s.UserByEmail(ctx, "nobody@example.com"); !errors.Is(err, ErrNotFound) {
			t.Errorf("UserByEmail(unknown) = %v, want ErrNotFound", err)
		}

		t.Run("an admin may be created", func(t *testing.T) {
			clk.Advance(time.Second)
			out, err := call[UserOutput](t, s, "createUser", request(admin, addr),
				`{"email":"grace@example.com","name":"Grace","password":"correct horse","role":"admin"}`)
			if err != nil || out.User.Role != rpc.RoleAdmin {
				t.Errorf("createUser(admin) = %+v, %v", out, err)
			}
		})

		t.Run("a duplicate email is a conflict", func(t *testing.T) {
			_, err := call[UserOutput](t, s, "createUser", request(admin, addr),
				`{"email":"ADA@example.com","name":"Another","password":"correct horse"}`)
			if status(err) != http.StatusConflict {
				t.Errorf("createUser(duplicate) = %v, want 409", err)
			}
			if _, err := s.CreateUser(ctx, "ada@example.com", "X", "correct horse", ""); !errors.Is(err, ErrEmailTaken) {
				t.Errorf("CreateUser(duplicate) = %v, want ErrEmailTaken", err)
			}
		})

		t.Run("validation errors name the field", func(t *testing.T) {
			tests := []struct{ body, field string }{
				{`{"email":"ada.example.com","name":"A","password":"correct horse"}`, "email"},
				{`{"email":"@example.com","name":"A","password":"correct horse"}`, "email"},
				{`{"email":"a b@example.com","name":"A","password":"correct horse"}`, "email"},
				{`{"name":"A","password":"correct horse"}`, "email"},
				{`{"email":"x@example.com","name":"  ","password":"correct horse"}`, "name"},
				{`{"email":"x@example.com","name":"A","password":"short"}`, "password"},
				{`{"email":"x@example.com","name":"A","password":"correct horse","role":"root"}`, "role"},
				{`{"email":"x@example.com","name":"A","password":"correct horse","admin":true}`, "admin"},
			}
			for _, tt := range tests {
				_, err := call[UserOutput](t, s, "createUser", request(admin, addr), tt.body)
				if status(err) != http.StatusBadRequest || !strings.HasPrefix(err.Error(), tt.field+": ") {
					t.Errorf("createUser %s = %v, want 400 naming %s", tt.body, err, tt.field)
				}
			}
			// The service checks the same when called directly.
			if _, err := s.CreateUser(ctx, "x@example.com", "A", "short", rpc.RoleUser); status(err) != http.StatusBadRequest ||
				!strings.HasPrefix(err.Error(), "password: ") {
				t.Errorf("CreateUser(short password) = %v, want 400 naming password", err)
			}
			if n, _ := s.CountUsers(ctx); n != 3 {
				t.Errorf("%d users after failed creations, want 3", n)
			}
		})

		t.Run("listUsers lists everyone, oldest first", func(t *testing.T) {
			out, err := call[UsersOutput](t, s, "listUsers", request(admin, addr), `{}`)
			if err != nil {
				t.Fatal(err)
			}
			var emails []string
			for _, u := range out.Users {
				emails = append(emails, u.Email)
			}
			if got := strings.Join(emails, ","); got != "root@example.com,ada@example.com,grace@example.com" {
				t.Errorf("listUsers = %s", got)
			}
		})

		t.Run("an admin cannot delete themself", func(t *testing.T) {
			_, err := call[struct{}](t, s, "deleteUser", request(admin, addr), fmt.Sprintf(`{"id":%q}`, admin.UserID))
			if status(err) != http.StatusConflict {
				t.Errorf("deleteUser(self) = %v, want 409", err)
			}
			if _, err := s.GetUser(ctx, admin.UserID); err != nil {
				t.Errorf("the admin is gone: %v", err)
			}
		})

		t.Run("deleting an unknown user is not found", func(t *testing.T) {
			_, err := call[struct{}](t, s, "deleteUser", request(admin, addr), `{"id":"nope"}`)
			if status(err) != http.StatusNotFound {
				t.Errorf("deleteUser(unknown) = %v, want 404", err)
			}
		})

		t.Run("deleteUser cascades and runs the hooks in order", func(t *testing.T) {
			var calls []string
			s.OnUserDeleted(func(ctx context.Context, id string) {
				// Invariant 4: the row is gone when hooks run.
				if _, err := s.GetUser(ctx, id); !errors.Is(err, ErrNotFound) {
					t.Errorf("hook ran while the user exists: %v", err)
				}
				calls = append(calls, "first:"+id)
			})
			s.OnUserDeleted(func(_ context.Context, id string) { calls = append(calls, "second:"+id) })

			secret, _, err := s.CreateKey(ctx, ada.ID, "ci")
			if err != nil {
				t.Fatal(err)
			}
			login := request(rpc.Principal{}, addr)
			if _, err := call[UserOutput](t, s, "login", login, `{"email":"ada@example.com","password":"correct horse"}`); err != nil {
				t.Fatal(err)
			}
			cookie := sessionCookieFrom(t, s, login)

			if _, err := call[struct{}](t, s, "deleteUser", request(admin, addr), fmt.Sprintf(`{"id":%q}`, ada.ID)); err != nil {
				t.Fatal(err)
			}
			if want := "first:" + ada.ID + ",second:" + ada.ID; strings.Join(calls, ",") != want {
				t.Errorf("hooks ran as %v, want %s", calls, want)
			}
			if n := countRows(t, db, `SELECT COUNT(*) FROM auth_sessions WHERE user_id = ?`, ada.ID); n != 0 {
				t.Errorf("%d sessions left", n)
			}
			if n := countRows(t, db, `SELECT COUNT(*) FROM auth_api_keys WHERE user_id = ?`, ada.ID); n != 0 {
				t.Errorf("%d keys left", n)
			}
			if _, err := s.Authenticate(httpRequest(nil, "Bearer "+secret)); !errors.Is(err, ErrInvalidCredentials) {
				t.Errorf("the deleted user's key: %v, want ErrInvalidCredentials", err)
			}
			if p, err := s.Authenticate(httpRequest(cookie, "")); err != nil || p.SignedIn() {
				t.Errorf("the deleted user's session: %+v, %v; want anonymous", p, err)
			}
			// A deleted user's principal, still in flight, is not signed in for me.
			if _, err := call[User](t, s, "me", request(ada.Principal(), addr), `{}`); status(err) != http.StatusUnauthorized {
				t.Errorf("me for a deleted user = %v, want 401", err)
			}
		})
	})
}
