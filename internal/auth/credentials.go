package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/checkstack/checkstack/cache"
	"github.com/checkstack/checkstack/internal/store"
)

// The credential cache (invariant 5 of the package doc). A request's
// credential is two entries of the scope "auth": the credential itself,
// under the SHA-256 of its secret (never the secret), naming its user;
// and the user, under their id. Revoking a key drops its entry, signing
// out drops the session's, deleting a user or changing their role drops
// the user's, each before the call returns: the scope's invalidation is
// fleet-wide on Redis (its guard), so no instance accepts the credential
// after that. An unknown secret is not cached: it costs a query, as it
// always did.

const (
	scopeName = "auth"
	// credentialTTL bounds how long an entry lives without being read
	// again from the database; invalidation, not expiry, is what makes a
	// change visible.
	credentialTTL = 5 * time.Minute
)

// keyCredential is an API key as authentication needs it.
type keyCredential struct {
	KeyID   string `json:"keyId"`
	UserID  string `json:"userId"`
	Revoked bool   `json:"revoked,omitempty"`
}

// sessionCredential is a session as authentication needs it.
type sessionCredential struct {
	UserID    string    `json:"userId"`
	ExpiresAt time.Time `json:"expiresAt"`
}

func keyEntry(hash string) string     { return cache.Key("key", hash) }
func sessionEntry(hash string) string { return cache.Key("session", hash) }
func userEntry(id string) string      { return cache.Key("user", id) }

func newScope(p cache.Provider, s *Service) *cache.Scope {
	if p == nil {
		p = cache.NewNull()
	}
	return cache.NewScope(p, cache.ScopeOptions{
		Name:       scopeName,
		DefaultTTL: credentialTTL,
		OnError: func(op string, err error) {
			s.logger.Warn("cache provider error", "op", op, "err", err)
		},
	})
}

// Scope is the credential cache's scope, for metrics.
func (s *Service) Scope() *cache.Scope { return s.cache }

// cachedKey is the key whose secret hashes to hash; an unknown one is
// ErrInvalidCredentials.
func (s *Service) cachedKey(ctx context.Context, hash string) (keyCredential, error) {
	return cache.Wrap(ctx, s.cache, keyEntry(hash), func(ctx context.Context) (keyCredential, error) {
		var (
			c       keyCredential
			revoked *int64
		)
		err := s.db.QueryRowContext(ctx, `SELECT id, user_id, revoked_at FROM auth_api_keys WHERE key_hash = ?`, hash).
			Scan(&c.KeyID, &c.UserID, &revoked)
		if errors.Is(err, sql.ErrNoRows) {
			return c, ErrInvalidCredentials // an error: not cached
		}
		if err != nil {
			return c, fmt.Errorf("auth: authenticate key: %w", err)
		}
		c.Revoked = revoked != nil
		return c, nil
	})
}

// cachedSession is the session whose token hashes to hash, expired or
// not; an unknown one is ErrNotFound.
func (s *Service) cachedSession(ctx context.Context, hash string) (sessionCredential, error) {
	return cache.Wrap(ctx, s.cache, sessionEntry(hash), func(ctx context.Context) (sessionCredential, error) {
		var (
			c       sessionCredential
			expires int64
		)
		err := s.db.QueryRowContext(ctx, `SELECT user_id, expires_at FROM auth_sessions WHERE token_hash = ?`, hash).
			Scan(&c.UserID, &expires)
		if errors.Is(err, sql.ErrNoRows) {
			return c, ErrNotFound
		}
		if err != nil {
			return c, fmt.Errorf("auth: session: %w", err)
		}
		c.ExpiresAt = store.FromMicros(expires)
		return c, nil
	})
}

// cachedUser is the user with id, or ErrNotFound (an absence cached too:
// a deleted user's credentials keep being refused without a query).
func (s *Service) cachedUser(ctx context.Context, id string) (User, error) {
	return cache.WrapFound(ctx, s.cache, userEntry(id), ErrNotFound, func(ctx context.Context) (User, error) {
		return s.GetUser(ctx, id)
	})
}

// forget drops cache entries after the change that makes them wrong has
// committed. An error means some instance may still accept what changed
// (this one does not: the scope bypasses the entry), so the caller
// reports it rather than claim success.
func (s *Service) forget(ctx context.Context, entries ...string) error {
	var errs []error
	for _, e := range entries {
		if err := s.cache.Invalidate(ctx, e); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("auth: drop cached credentials: %w", err)
	}
	return nil
}

// useRecorder writes keys' last_used_at off the request path, at most once
// a minute per key (invariant 2): it remembers, per key, the last value it
// knows the database holds, and writes only when that is a minute old.
type useRecorder struct {
	mu    sync.Mutex
	known map[string]time.Time // key id → last_used_at as last written or read
	wg    sync.WaitGroup
}

// maxKnownUses bounds useRecorder.known; beyond it, entries older than the
// interval (which would write anyway) are dropped.
const maxKnownUses = 10000

// recordUse notes that keyID was used now, writing it in the background if
// the database's value is a minute old.
func (s *Service) recordUse(keyID string) {
	now := s.now()
	r := &s.uses
	r.mu.Lock()
	if t, ok := r.known[keyID]; ok && now.Sub(t) < lastUsedInterval {
		r.mu.Unlock()
		return
	}
	if len(r.known) >= maxKnownUses {
		for id, t := range r.known {
			if now.Sub(t) >= lastUsedInterval {
				delete(r.known, id)
			}
		}
	}
	r.known[keyID] = now // claims the write: concurrent uses do not repeat it
	r.mu.Unlock()
	r.wg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stored, err := s.writeUse(ctx, keyID, now)
		r.mu.Lock()
		defer r.mu.Unlock()
		switch {
		case err != nil:
			// The key is valid; failing to record its use must not refuse
			// it. The claim stands: the next attempt is a minute later,
			// not one per request while the database is down.
			s.logger.Warn("record api key use", "key_id", keyID, "err", err)
		case !stored.IsZero():
			r.known[keyID] = stored
		}
	})
}

// writeUse sets keyID's last_used_at to now unless it is less than a minute
// old, and returns the value the database holds afterwards (zero if the
// key is gone).
func (s *Service) writeUse(ctx context.Context, keyID string, now time.Time) (time.Time, error) {
	stale := now.Add(-lastUsedInterval)
	// The condition makes the write once a minute across instances too.
	res, err := s.db.ExecContext(ctx,
		`UPDATE auth_api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)`,
		store.Micros(now), keyID, store.Micros(stale))
	if err != nil {
		return time.Time{}, err
	}
	if n, err := res.RowsAffected(); err == nil && n == 1 {
		return now, nil
	}
	// Another instance wrote it within the minute: learn when, so that
	// this one waits out the same minute.
	var at *int64
	err = s.db.QueryRowContext(ctx, `SELECT last_used_at FROM auth_api_keys WHERE id = ?`, keyID).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && at == nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	return store.FromMicros(*at), nil
}

// Close waits for the key uses being recorded: call it before closing the
// database.
func (s *Service) Close() { s.uses.wg.Wait() }
