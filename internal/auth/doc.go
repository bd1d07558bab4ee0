// Package auth holds users, their roles, their sessions and their API keys,
// and tells the server who is calling.
//
// # Who is calling
//
// The server asks Authenticate for the principal of every request:
//
//	svc := auth.New(db, logger, auth.Options{SecureCookie: true})
//	p, err := svc.Authenticate(r)
//	// err == ErrInvalidCredentials: a bearer key that is unknown or revoked (401)
//	// p.SignedIn() == false: an anonymous caller
//
// A request carrying "Authorization: Bearer <key>" is that key's user, or
// ErrInvalidCredentials when the key is unknown or revoked: a caller that
// presents a key must get an answer about it. Otherwise the session cookie
// names the user; an unknown or expired cookie is anonymous, not an error,
// so a browser with a stale cookie can still read public pages and sign in
// again. Without either, the caller is anonymous. An Authorization header
// with another scheme is ignored.
//
// # Secrets
//
// Passwords are hashed with argon2id and stored as PHC strings
// ($argon2id$v=19$m=…,t=…,p=…$salt$hash), so the parameters can change
// without invalidating old hashes. Signing in with an unknown email still
// runs one hash, so that response times do not reveal which emails exist.
//
// API keys are "cs_" followed by 32 random bytes in base64url; session
// tokens are 32 random bytes in base64url. Both are stored only as their
// SHA-256 (a table leak yields no usable credential), and both are looked up
// by that hash. The first 8 characters of a key are kept to show it in
// lists; the full key is shown once, when it is created.
//
// # Procedures
//
// Procedures returns the "auth" RPC procedures: login, logout and me;
// listKeys, createKey and revokeKey for a user's own keys; listUsers,
// createUser, deleteUser and setUserRole for admins. Other domains learn
// that a user was deleted through OnUserDeleted hooks.
//
// # Concurrency
//
// A Service is safe for concurrent use. These hold, each locked in by a
// test:
//
//  1. Per instance, at most MaxFailuresPerAccount failed logins are checked
//     per account, and at most MaxFailuresPerAddress per address, in any
//     FailureWindow, however many attempts arrive at once: an attempt is
//     counted before its password is checked, and uncounted only if it
//     succeeds. Beyond the limit the password is not checked at all. The
//     counts live in memory: several instances each allow the limit (the
//     window is per instance), and a restart forgets them. The memory is
//     bounded (see maxTrackedKeys).
//  2. A key's last_used_at is written at most once a minute, across
//     instances, and never on the request path: the request notes the
//     use and a background write records it (Close waits for those). The
//     UPDATE itself requires the stored value to be older than a minute;
//     an instance whose write that refuses reads the stored time and does
//     not try again until it is a minute old. (TestKeyLastUsed)
//  3. At most GOMAXPROCS password hashes run at once; the others wait (or
//     give up with their context). Each argon2id hash holds 64 MiB while it
//     runs, so this bounds the memory a burst of logins can take.
//  4. OnUserDeleted hooks run after the user's row (and, by cascade, its
//     sessions and keys) is deleted, in the order they were added, on the
//     goroutine that deleted the user.
//  5. Credentials are cached (Options.Cache, scope "auth"), and a change
//     counts on the very next request on every instance. A credential's
//     entry is keyed by the SHA-256 of its secret, never the secret, and
//     names its user; the user is an entry of its own. RevokeKey, logout,
//     DeleteUser and SetRole drop the entry they make wrong before they
//     return, and the scope's invalidation is fleet-wide (on Redis, its
//     guard). A session's expiry is checked on every read, cached or not.
//     If an entry cannot be dropped, the call returns the error (the
//     change itself is made; a retry drops the entry) rather than claim
//     that every instance sees it. A warm authentication runs no query.
//     (TestWarmCredentialsRunNoQuery, TestCachedCredentialsFollowEveryChange,
//     and across two instances TestCredentialChangesReachEveryInstance)
package auth
