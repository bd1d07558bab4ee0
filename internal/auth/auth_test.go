package auth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/checkstack/checkstack/internal/rpc"
	"github.com/checkstack/checkstack/internal/store"
	"github.com/checkstack/checkstack/internal/store/storetest"
)

func TestAuthenticate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, clk := newService(t, db, Options{SessionTTL: time.Hour})
		u := mustCreateUser(t, s, "Ada@Example.com", "Ada", rpc.RoleAdmin)
		want := rpc.Principal{UserID: u.ID, Email: "ada@example.com", Name: "Ada", Role: rpc.RoleAdmin}

		secret, key, err := s.CreateKey(ctx, u.ID, "ci")
		if err != nil {
			t.Fatal(err)
		}
		revokedSecret, revokedKey, err := s.CreateKey(ctx, u.ID, "old")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeKey(ctx, revokedKey.ID, u.Principal()); err != nil {
			t.Fatal(err)
		}
		lr := request(rpc.Principal{}, "192.0.2.1")
		if _, err := call[UserOutput](t, s, "login", lr, `{"email":"ada@example.com","password":"correct horse"}`); err != nil {
			t.Fatal(err)
		}
		cookie := sessionCookieFrom(t, s, lr)

		tests := []struct {
			name    string
			r       *http.Request
			want    rpc.Principal
			wantErr error
		}{
			{"a bearer key is its user", httpRequest(nil, "Bearer "+secret), want, nil},
			{"the bearer scheme is case-insensitive", httpRequest(nil, "bearer "+secret), want, nil},
			{"a bearer key wins over a cookie", httpRequest(&http.Cookie{Name: "checkstack_session", Value: "junk"}, "Bearer "+secret), want, nil},
			{"a revoked key is refused", httpRequest(nil, "Bearer "+revokedSecret), rpc.Principal{}, ErrInvalidCredentials},
			{"an unknown key is refused", httpRequest(nil, "Bearer cs_"+strings.Repeat("A", 43)), rpc.Principal{}, ErrInvalidCredentials},
			{"a bearer token that is not a key is refused", httpRequest(nil, "Bearer something"), rpc.Principal{}, ErrInvalidCredentials},
			{"an empty bearer token is refused", httpRequest(nil, "Bearer "), rpc.Principal{}, ErrInvalidCredentials},
			{"the session cookie is its user", httpRequest(cookie, ""), want, nil},
			{"an unknown cookie is anonymous", httpRequest(&http.Cookie{Name: "checkstack_session", Value: "junk"}, ""), rpc.Principal{}, nil},
			{"another Authorization scheme is ignored", httpRequest(cookie, "Basic YWRhOnB3"), want, nil},
			{"no credentials is anonymous", httpRequest(nil, ""), rpc.Principal{}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.Authenticate(tt.r)
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Authenticate = %v, want %v", err, tt.wantErr)
				}
				if got != tt.want {
					t.Errorf("Authenticate = %+v, want %+v", got, tt.want)
				}
			})
		}

		t.Run("an invalid key maps to 401 on its own", func(t *testing.T) {
			_, err := s.Authenticate(httpRequest(nil, "Bearer "+revokedSecret))
			if status(err) != http.StatusUnauthorized {
				t.Errorf("status = %d, want 401", status(err))
			}
		})

		t.Run("an expired session is anonymous", func(t *testing.T) {
			clk.Advance(time.Hour)
			got, err := s.Authenticate(httpRequest(cookie, ""))
			if err != nil || got.SignedIn() {
				t.Errorf("Authenticate = %+v, %v; want anonymous, nil", got, err)
			}
			// Keys do not expire.
			if got, err := s.Authenticate(httpRequest(nil, "Bearer "+secret)); err != nil || got != want {
				t.Errorf("key after an hour: %+v, %v", got, err)
			}
		})

		t.Run("the key's secret is not stored", func(t *testing.T) {
			if n := countRows(t, db, `SELECT COUNT(*) FROM auth_api_keys WHERE key_hash = ? OR prefix = ?`, secret, secret); n != 0 {
				t.Error("the secret is in the table")
			}
			if !strings.HasPrefix(secret, "cs_") || len(secret) != 3+43 || key.Prefix != secret[:8] {
				t.Errorf("secret %q, prefix %q: want cs_ + 43 base64url characters, prefix its first 8", secret, key.Prefix)
			}
		})
	})
}

// TestKeyLastUsed locks in invariant 2 of the package doc.
func TestKeyLastUsed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, clk := newService(t, db, Options{})
		// A second instance on the same database, on the same clock.
		other := New(db, nil, Options{Now: clk.Now})
		u := mustCreateUser(t, s, "ada@example.com", "Ada", rpc.RoleUser)
		secret, _, err := s.CreateKey(ctx, u.ID, "ci")
		if err != nil {
			t.Fatal(err)
		}
		lastUsed := func() *time.Time {
			t.Helper()
			keys, err := s.ListKeys(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			return keys[0].LastUsedAt
		}
		// use authenticates with the key on s and waits for the use to be
		// recorded (which happens off the request path); it returns the
		// queries the whole took.
		use := func(s *Service) uint64 {
			t.Helper()
			before := db.QueryCount("auth")
			if _, err := s.Authenticate(httpRequest(nil, "Bearer "+secret)); err != nil {
				t.Fatal(err)
			}
			s.Close()
			return db.QueryCount("auth") - before
		}
		const lookups = 2 // the key and its user: neither instance caches here

		if lastUsed() != nil {
			t.Fatal("a new key has been used")
		}
		first := clk.Now()
		if n := use(s); n != lookups+1 {
			t.Errorf("first use: %d queries, want the lookups and one write", n)
		}
		if got := lastUsed(); got == nil || !got.Equal(first) {
			t.Fatalf("after first use: lastUsedAt = %v, want %v", got, first)
		}

		clk.Advance(30 * time.Second)
		if n := use(s); n != lookups {
			t.Errorf("30s later on the instance that wrote: %d queries, want the lookups only", n)
		}
		// The other instance tries once (the write's condition refuses
		// it) and learns when the key was last used...
		use(other)
		if got := lastUsed(); !got.Equal(first) {
			t.Errorf("30s later: lastUsedAt = %v, want still %v", got, first)
		}
		// ...so that it does not try again within the minute.
		clk.Advance(15 * time.Second)
		if n := use(other); n != lookups {
			t.Errorf("45s later on the other instance: %d queries, want the lookups only", n)
		}

		clk.Advance(16 * time.Second)
		use(other)
		if got := lastUsed(); got == nil || !got.Equal(clk.Now()) {
			t.Errorf("61s later: lastUsedAt = %v, want %v", got, clk.Now())
		}
	})
}

func TestJSON(t *testing.T) {
	at := time.Date(2025, 3, 4, 12, 0, 0, 0, time.UTC)
	b, err := json.Marshal(User{ID: "u1", Email: "a@x", Name: "A", Role: rpc.RoleUser, CreatedAt: at})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"id":"u1","email":"a@x","name":"A","role":"user","createdAt":"2025-03-04T12:00:00Z"}`; string(b) != want {
		t.Errorf("User JSON = %s, want %s", b, want)
	}
	b, err = json.Marshal(Key{ID: "k1", UserID: "u1", Name: "ci", Prefix: "cs_abcde", CreatedAt: at, LastUsedAt: &at})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"id":"k1","userId":"u1","name":"ci","prefix":"cs_abcde","createdAt":"2025-03-04T12:00:00Z","lastUsedAt":"2025-03-04T12:00:00Z","revokedAt":null}`; string(b) != want {
		t.Errorf("Key JSON = %s, want %s", b, want)
	}
}

func TestOptionsDefaults(t *testing.T) {
	o := Options{}.withDefaults()
	if o.SessionTTL != 7*24*time.Hour || o.CookieName != "checkstack_session" || o.Now == nil ||
		o.MaxFailuresPerAccount != 5 || o.MaxFailuresPerAddress != 20 || o.FailureWindow != 15*time.Minute {
		t.Errorf("defaults = %+v", o)
	}
}
