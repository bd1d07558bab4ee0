package main

import (
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"

	"github.com/checkstack/checkstack/internal/store/storetest"
)

// sessionCookie signs email in on in and returns its session cookie.
func sessionCookie(t *testing.T, in *instance, email string) *http.Cookie {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	res, err := c.Post(in.url+"/api/auth/login", "application/json",
		strings.NewReader(`{"email":"`+email+`","password":"correct horse battery"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for _, ck := range res.Cookies() {
		if ck.Name == "checkstack_session" {
			return ck
		}
	}
	t.Fatalf("login of %s: %d, no session cookie", email, res.StatusCode)
	return nil
}

// callWith is call with a session cookie instead of a key.
func (in *instance) callWith(t *testing.T, ck *http.Cookie, procedure string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", in.url+"/api/"+procedure, strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", in.url)
	req.AddCookie(ck)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// Two instances on one PostgreSQL and one Redis, both with the credential
// cache warm: a revoked key, a signed-out session, a deleted user and a
// changed role count on the very next request on both.
func TestCredentialChangesReachEveryInstance(t *testing.T) {
	rurl := testRedis(t)
	database := storetest.PostgresURL(t)
	admin := newUser(t, database, "admin@example.com", true)
	ada := newUser(t, database, "ada@example.com", false)
	bob := newUser(t, database, "bob@example.com", false)
	a := start(t, database, "--redis", rurl)
	b := start(t, database, "--redis", rurl)
	adaCookie := sessionCookie(t, a, "ada@example.com")
	bobCookie := sessionCookie(t, b, "bob@example.com")

	const bell = "notification/getUnreadCount"
	warm := func() {
		t.Helper()
		for _, in := range []*instance{a, b} {
			for _, key := range []string{admin, ada, bob} {
				in.ok(t, key, bell, "{}", nil)
			}
			for _, ck := range []*http.Cookie{adaCookie, bobCookie} {
				if st := in.callWith(t, ck, bell); st != 200 {
					t.Fatalf("%s before the change: %d", bell, st)
				}
			}
		}
	}
	warm()

	// Warm requests run no authentication query: 50 of them on B, of
	// which at most the one background write of a key's use (an UPDATE
	// and a read) may land in the count.
	warm()
	before := b.authQueries(t)
	for range 25 {
		b.ok(t, ada, bell, "{}", nil)
		if st := b.callWith(t, adaCookie, bell); st != 200 {
			t.Fatalf("warm cookie: %d", st)
		}
	}
	if n := b.authQueries(t) - before; n > 2 {
		t.Errorf("50 warm requests ran %d authentication queries, want none", n)
	}

	refused := func(what string, want int, status func(in *instance) int) {
		t.Helper()
		for _, in := range []*instance{a, b} {
			if st := status(in); st != want {
				t.Errorf("%s, on %s: %d, want %d", what, in.url, st, want)
			}
		}
	}
	byKey := func(key, procedure string) func(*instance) int {
		return func(in *instance) int { return in.call(t, key, procedure, "{}").Status }
	}
	byCookie := func(ck *http.Cookie, procedure string) func(*instance) int {
		return func(in *instance) int { return in.callWith(t, ck, procedure) }
	}

	// Ada revokes her key through A, and signs out through B.
	var keys struct{ Keys []struct{ ID string } }
	a.ok(t, ada, "auth/listKeys", "{}", &keys)
	a.ok(t, ada, "auth/revokeKey", map[string]string{"id": keys.Keys[0].ID}, nil)
	refused("a revoked key", 401, byKey(ada, bell))
	if st := b.callWith(t, adaCookie, "auth/logout"); st != 200 {
		t.Fatalf("logout: %d", st)
	}
	refused("a signed-out session", 401, byCookie(adaCookie, bell))

	// Bob becomes an admin through A: both instances let him administer;
	// then a user again, through B.
	var me struct{ ID string }
	a.ok(t, bob, "auth/me", "{}", &me)
	refused("a user before promotion", 403, byKey(bob, "auth/listUsers"))
	a.ok(t, admin, "auth/setUserRole", map[string]string{"id": me.ID, "role": "admin"}, nil)
	refused("a promoted user", 200, byKey(bob, "auth/listUsers"))
	refused("a promoted user's session", 200, byCookie(bobCookie, "auth/listUsers"))
	b.ok(t, admin, "auth/setUserRole", map[string]string{"id": me.ID, "role": "user"}, nil)
	refused("a demoted user", 403, byKey(bob, "auth/listUsers"))

	// Bob is deleted through B: his key and his session are refused on
	// both.
	b.ok(t, admin, "auth/deleteUser", map[string]string{"id": me.ID}, nil)
	refused("a deleted user's key", 401, byKey(bob, bell))
	refused("a deleted user's session", 401, byCookie(bobCookie, bell))
}
