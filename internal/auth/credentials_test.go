package auth

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/rpc"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

// signedIn is a user of a cached Service with an API key and a session.
type signedIn struct {
	user   User
	key    string
	cookie *http.Cookie
}

func signIn(t *testing.T, s *Service, email string, role rpc.Role) signedIn {
	t.Helper()
	u := mustCreateUser(t, s, email, "User "+email, role)
	key, _, err := s.CreateKey(context.Background(), u.ID, "ci")
	if err != nil {
		t.Fatal(err)
	}
	login := request(rpc.Principal{}, "192.0.2.1")
	if _, err := call[UserOutput](t, s, "login", login, `{"email":"`+email+`","password":"correct horse"}`); err != nil {
		t.Fatal(err)
	}
	return signedIn{user: u, key: key, cookie: sessionCookieFrom(t, s, login)}
}

// byKey and byCookie authenticate as the user would, each way.
func (u signedIn) byKey(s *Service) (rpc.Principal, error) {
	return s.Authenticate(httpRequest(nil, "Bearer "+u.key))
}

func (u signedIn) byCookie(s *Service) (rpc.Principal, error) {
	return s.Authenticate(httpRequest(u.cookie, ""))
}

// A warm credential cache authenticates keys and sessions without a
// query (invariant 5 of the package doc).
func TestWarmCredentialsRunNoQuery(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, _ := newService(t, db, Options{Cache: cache.NewMemory(cache.MemoryOptions{})})
		ada := signIn(t, s, "ada@example.com", rpc.RoleUser)
		for _, way := range []func(*Service) (rpc.Principal, error){ada.byKey, ada.byCookie} {
			if _, err := way(s); err != nil { // the miss, and the key's use recorded
				t.Fatal(err)
			}
			s.Close()
			before := db.QueryCount("auth")
			for range 10 {
				p, err := way(s)
				if err != nil || p.UserID != ada.user.ID {
					t.Fatalf("warm: %+v, %v", p, err)
				}
			}
			s.Close()
			if n := db.QueryCount("auth") - before; n != 0 {
				t.Errorf("10 warm authentications ran %d queries, want 0", n)
			}
		}
	})
}

// With the credential cache warm, every change to a credential counts on
// the very next request (invariant 5 of the package doc).
func TestCachedCredentialsFollowEveryChange(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, clk := newService(t, db, Options{Cache: cache.NewMemory(cache.MemoryOptions{}), SessionTTL: time.Hour})
		admin := signIn(t, s, "admin@example.com", rpc.RoleAdmin)
		ada := signIn(t, s, "ada@example.com", rpc.RoleUser)
		bob := signIn(t, s, "bob@example.com", rpc.RoleUser)
		cy := signIn(t, s, "cy@example.com", rpc.RoleUser)
		warm := func(u signedIn) {
			t.Helper()
			for _, way := range []func(*Service) (rpc.Principal, error){u.byKey, u.byCookie} {
				if p, err := way(s); err != nil || p.UserID != u.user.ID {
					t.Fatalf("%s before the change: %+v, %v", u.user.Email, p, err)
				}
			}
		}
		for _, u := range []signedIn{admin, ada, bob, cy} {
			warm(u)
		}

		// A revoked key is refused; the session goes on.
		keys, err := s.ListKeys(ctx, ada.user.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeKey(ctx, keys[0].ID, ada.user.Principal()); err != nil {
			t.Fatal(err)
		}
		if _, err := ada.byKey(s); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("revoked key: err = %v, want ErrInvalidCredentials", err)
		}
		if p, err := ada.byCookie(s); err != nil || p.UserID != ada.user.ID {
			t.Errorf("ada's session after her key's revocation: %+v, %v", p, err)
		}

		// A signed-out session is anonymous.
		logout := request(ada.user.Principal(), "192.0.2.1")
		logout.HTTP = httpRequest(ada.cookie, "")
		if _, err := call[struct{}](t, s, "logout", logout, `{}`); err != nil {
			t.Fatal(err)
		}
		if p, err := ada.byCookie(s); err != nil || p.SignedIn() {
			t.Errorf("signed-out session: %+v, %v; want anonymous", p, err)
		}

		// A deleted user's key is refused and their session anonymous.
		if err := s.DeleteUser(ctx, bob.user.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := bob.byKey(s); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("deleted user's key: err = %v, want ErrInvalidCredentials", err)
		}
		if p, err := bob.byCookie(s); err != nil || p.SignedIn() {
			t.Errorf("deleted user's session: %+v, %v; want anonymous", p, err)
		}

		// A new role counts at once, both ways.
		if err := s.SetRole(ctx, cy.user.ID, rpc.RoleAdmin); err != nil {
			t.Fatal(err)
		}
		for _, way := range []func(*Service) (rpc.Principal, error){cy.byKey, cy.byCookie} {
			if p, err := way(s); err != nil || !p.IsAdmin() {
				t.Errorf("promoted user: %+v, %v; want an admin", p, err)
			}
		}

		// A session that expires while cached is anonymous.
		clk.Advance(time.Hour)
		if p, err := admin.byCookie(s); err != nil || p.SignedIn() {
			t.Errorf("expired session: %+v, %v; want anonymous", p, err)
		}
	})
}

// The last admin cannot become a user; the role of an unknown user is
// not found; a role the user has already changes nothing.
func TestSetRole(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, _ := newService(t, db, Options{})
		admin := mustCreateUser(t, s, "admin@example.com", "Admin", rpc.RoleAdmin)
		ada := mustCreateUser(t, s, "ada@example.com", "Ada", rpc.RoleUser)
		if err := s.SetRole(ctx, admin.ID, rpc.RoleUser); !errors.Is(err, ErrLastAdmin) {
			t.Errorf("demoting the only admin: err = %v, want ErrLastAdmin", err)
		}
		if err := s.SetRole(ctx, "nobody", rpc.RoleAdmin); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown user: err = %v, want ErrNotFound", err)
		}
		if err := s.SetRole(ctx, ada.ID, rpc.RoleUser); err != nil {
			t.Errorf("the role ada has: %v", err)
		}
		out, err := call[UserOutput](t, s, "setUserRole", request(admin.Principal(), ""), `{"id":"`+ada.ID+`","role":"admin"}`)
		if err != nil || out.User.Role != rpc.RoleAdmin {
			t.Fatalf("setUserRole: %+v, %v", out, err)
		}
		if err := s.SetRole(ctx, admin.ID, rpc.RoleUser); err != nil {
			t.Errorf("demoting one of two admins: %v", err)
		}
		var rerr *rpc.Error
		if _, err := call[UserOutput](t, s, "setUserRole", request(admin.Principal(), ""), `{"id":"`+ada.ID+`","role":"owner"}`); !errors.As(err, &rerr) || rerr.Status != 400 {
			t.Errorf("role owner: err = %v, want a 400 naming role", err)
		}
	})
}

// Many requests with one key at once record its use once: the first claims
// the write, the others see the claim (invariant 2 of the package doc).
func TestConcurrentUsesOfAKeyWriteItsUseOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, _ := newService(t, db, Options{Cache: cache.NewMemory(cache.MemoryOptions{})})
		ada := signIn(t, s, "ada@example.com", rpc.RoleUser)
		before := db.QueryCount("auth")
		fns := make([]func(), 20)
		for i := range fns {
			fns[i] = func() {
				if _, err := ada.byKey(s); err != nil {
					t.Error(err)
				}
			}
		}
		storetest.Together(fns...)
		s.Close()
		// The key's lookup and its user's, each one load however many
		// requests share it, and the one write.
		if n := db.QueryCount("auth") - before; n != 3 {
			t.Errorf("20 concurrent uses of a new key ran %d queries, want 3 (two lookups, one write)", n)
		}
	})
}
