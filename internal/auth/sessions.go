package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/checkstack/checkstack/internal/rpc"
	"github.com/checkstack/checkstack/internal/store"
)

// login checks email and password under the rate limits and, if they match,
// starts a session and returns its user and token. Wrong credentials are
// rpc.Unauthorized and too many failures rpc.TooManyRequests, both safe to
// show. addr is the client's address; calls without one share one count.
func (s *Service) login(ctx context.Context, email, password, addr string) (User, string, time.Time, error) {
	email = normalizeEmail(email)
	at := s.now()
	if !s.limiter.begin(email, addr, at) {
		s.logger.WarnContext(ctx, "login rate limited", "email", email, "address", addr)
		return User{}, "", time.Time{}, rpc.TooManyRequests("too many failed sign-in attempts; try again later")
	}
	u, hash, err := s.userWithHash(ctx, email)
	ok := false
	switch {
	case errors.Is(err, ErrNotFound):
		// Spend the time a real check takes, so that the answer's timing
		// does not reveal whether the email exists.
		err = s.hasher.spend(ctx, password)
	case err == nil:
		ok, err = s.hasher.verify(ctx, hash, password)
	}
	if err != nil {
		s.limiter.abandon(email, addr, at)
		return User{}, "", time.Time{}, fmt.Errorf("auth: login: %w", err)
	}
	if !ok {
		s.logger.InfoContext(ctx, "login failed", "email", email, "address", addr)
		return User{}, "", time.Time{}, rpc.Unauthorized("invalid email or password")
	}
	s.limiter.succeeded(email, addr, at)

	token, expires, err := s.createSession(ctx, u.ID)
	if err != nil {
		return User{}, "", time.Time{}, err
	}
	s.logger.InfoContext(ctx, "login", "user_id", u.ID, "address", addr)
	return u, token, expires, nil
}

// createSession stores a new session for userID, dropping the user's
// expired ones, and returns its token and expiry.
func (s *Service) createSession(ctx context.Context, userID string) (string, time.Time, error) {
	token := newToken()
	now := s.now()
	expires := now.Add(s.opts.SessionTTL)
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.ExecContext(ctx,
			`DELETE FROM auth_sessions WHERE user_id = ? AND expires_at <= ?`, userID, store.Micros(now)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO auth_sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
			secretHash(token), userID, store.Micros(now), store.Micros(expires))
		return err
	})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("auth: create session: %w", err)
	}
	return token, expires, nil
}

// sessionUser returns the user of an unexpired session token, or
// ErrNotFound. A warm credential cache answers without a query.
func (s *Service) sessionUser(ctx context.Context, token string) (User, error) {
	c, err := s.cachedSession(ctx, secretHash(token))
	if err != nil {
		return User{}, err
	}
	if !s.now().Before(c.ExpiresAt) {
		return User{}, ErrNotFound
	}
	return s.cachedUser(ctx, c.UserID)
}

// deleteSession ends the session of token, if there is one, on every
// instance (invariant 5).
func (s *Service) deleteSession(ctx context.Context, token string) error {
	hash := secretHash(token)
	if _, err := s.db.ExecContext(ctx, `DELETE FROM auth_sessions WHERE token_hash = ?`, hash); err != nil {
		return fmt.Errorf("auth: delete session: %w", err)
	}
	return s.forget(ctx, sessionEntry(hash))
}

// sessionCookie carries token until expires; an empty token clears the
// cookie.
func (s *Service) sessionCookie(token string, expires time.Time) *http.Cookie {
	c := &http.Cookie{
		Name:     s.opts.CookieName,
		Value:    token,
		Path:     "/",
		HttpOnly: true,
		Secure:   s.opts.SecureCookie,
		SameSite: http.SameSiteLaxMode,
	}
	if token == "" {
		c.MaxAge = -1 // sent as Max-Age=0: delete now
		return c
	}
	c.Expires = expires
	c.MaxAge = int(s.opts.SessionTTL.Seconds())
	return c
}

// cookieToken returns the session token r carries, or "".
func (s *Service) cookieToken(r *http.Request) string {
	if r == nil {
		return ""
	}
	c, err := r.Cookie(s.opts.CookieName)
	if err != nil {
		return ""
	}
	return c.Value
}
